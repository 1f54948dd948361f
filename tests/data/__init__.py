"""Data in and out: tables, parts, outputs, the prediction log."""
