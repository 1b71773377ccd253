"""Scenario simulator: seeded ground truth and sensor feeds in the wire formats of real sensors."""
