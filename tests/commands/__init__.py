"""The commands end to end through the command line."""
