"""Sensors (landing-zone watchers) and schedules."""
