"""The MLflow mirror (the ``mlflow`` extra): runs, registered models and the ``champion`` alias that
follow churnctl's own signed registry, which stays the source of truth. Nothing here is imported
unless ``[mlflow]`` settings (or ``MLFLOW_TRACKING_URI``) ask for a mirror, or a model is exported."""
