"""Drift monitoring: reference profiles, chunk-accumulated current statistics, and the decision.

``stats`` holds the statistics as small pure functions over numpy arrays (tested against scipy);
``profile`` turns a model version's stored reference into per-feature summaries and accumulates the
current side batch by batch; ``monitor`` applies the tests, the multiple-testing correction, the
effect-size gates and the dataset-level rule.
"""
