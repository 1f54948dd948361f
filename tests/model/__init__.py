"""Modelling: calibration, the compiled scorer, explanations, metrics, the search, model quality."""
