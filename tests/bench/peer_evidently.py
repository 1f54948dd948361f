"""The peer of drift-check in ``make bench``: Evidently's DataDriftPreset on the same two files.

Run by path with the interpreter of the peer's own venv (no churnctl there)::

    peer_evidently.py SPEC REFERENCE.csv CURRENT.csv

Reads both CSVs with pandas (the feature columns of SPEC, the floors' view of churnctl's schema),
declares the numeric and categorical columns as churnctl's schema has them, runs the preset and
prints how many columns drifted. Evidently >= 0.7 (``evidently.presets``) and the older API
(``evidently.metric_preset``) both work.
"""

from __future__ import annotations

import json
import sys

import pandas as pd


def main(spec_path: str, reference_path: str, current_path: str) -> None:
    with open(spec_path) as handle:
        spec = json.load(handle)
    numeric, categorical = spec["numeric"], spec["categorical"]
    reference = pd.read_csv(reference_path, usecols=numeric + categorical)
    current = pd.read_csv(current_path, usecols=numeric + categorical)
    try:
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        from evidently import ColumnMapping
        from evidently.metric_preset import DataDriftPreset
        from evidently.report import Report

        legacy = Report(metrics=[DataDriftPreset()])
        mapping = ColumnMapping(numerical_features=numeric, categorical_features=categorical)
        legacy.run(reference_data=reference, current_data=current, column_mapping=mapping)
        print(json.dumps(legacy.as_dict()["metrics"][0]["result"], default=str))
        return
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    print(json.dumps(snapshot.dict()["metrics"][0]["value"], default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
