"""Demo data for `make run` and the tests that need a lived-in workspace: contacts with
a year of events, their stage history, analytics, templates, broadcasts and journeys.
Above every app, so it may import them all; only tests import it."""
