"""Modelling: candidate estimators, the model search, calibration, importance, explanations, metrics,
predictions, the compiled scorer, and loading a stored version to score with."""
