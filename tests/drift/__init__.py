"""Drift statistics against scipy and by simulation (false alarms, power, estimated performance)."""
