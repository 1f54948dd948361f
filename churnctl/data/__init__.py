"""Data in and out: tabular files, inputs made of parts, atomic outputs, labelled rows, the prediction
log."""
