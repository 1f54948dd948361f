"""Where and how work runs: engines (this process or a Dask cluster), compute threads, progress,
optional extras, and files written safely on disk."""
