"""Compiled models: a fitted scikit-learn pipeline as plain numpy arrays, scored without
scikit-learn, SciPy or pandas.

:mod:`churnctl.model.compiled.export` turns the pipeline that :func:`churnctl.model.estimators.build_pipeline`
fits into one ``model.npz`` (written with ``numpy.savez``, read with ``allow_pickle=False``) at
train time; :mod:`churnctl.model.compiled.scorer` loads it and computes the same probabilities as the
pipeline's ``predict_proba``, so that ``churnctl predict --json`` starts in a fraction of the time
that importing scikit-learn takes. This package module imports nothing, so that loading the scorer
never loads the exporter.
"""
