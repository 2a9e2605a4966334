"""Journeys: contacts enter on a trigger and move through steps (sends, waits,
branches, splits, actions) until they finish, exit or reach the goal."""
