"""Campaigns' use cases: broadcasts (audience, delivery, send time) and journeys."""
