"""Broadcasts: one message to an audience, once, at a time (or per contact local time
or best time), optionally an A/B test with a winner."""
