"""The floors of ``make bench``: the least work that does the same job, one process each.

Run by path as a separate process (it imports nothing from churnctl or the tests), with the same
thread settings as churnctl (one OpenMP/BLAS thread; pyarrow's CSV reader uses its own pool, as
churnctl's does)::

    floors.py drift  SPEC REFERENCE.csv CURRENT.csv     # pyarrow read of both + SciPy tests
    floors.py fit    SPEC TRAIN.csv [MODEL.pkl]          # pyarrow read + default HGB fit
    floors.py predict SPEC MODEL.pkl INPUT.csv OUTPUT.csv  # pyarrow read + predict_proba + write
    floors.py split  SPEC INPUT.csv FOLDER               # pyarrow read + stratified split + 2 Parquet files

SPEC is a JSON file: ``{"target", "numeric": [...], "categorical": [...], "categories": {column:
[values]}, "identifiers": [...]}``, taken from the schema that ``churnctl ingest`` inferred (binary
columns count as categorical, as in churnctl's drift tests).
"""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def read(path: str, columns: list[str]) -> pa.Table:
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=columns))


def drift(spec: dict, reference_path: str, current_path: str) -> None:
    from scipy.stats import chi2_contingency, ks_2samp

    columns = spec["numeric"] + spec["categorical"]
    reference, current = read(reference_path, columns), read(current_path, columns)
    results = {}
    for name in spec["numeric"]:
        a = reference[name].drop_null().to_numpy().astype(float)
        b = current[name].drop_null().to_numpy().astype(float)
        results[name] = float(ks_2samp(a, b, method="asymp").pvalue)
    for name in spec["categorical"]:
        counts = []
        for table in (reference, current):
            pairs = pc.value_counts(table[name].drop_null()).to_pylist()
            counts.append({str(p["values"]): p["counts"] for p in pairs})
        keys = sorted(set(counts[0]) | set(counts[1]))
        observed = np.array([[c.get(k, 0) for k in keys] for c in counts])
        results[name] = float(chi2_contingency(observed).pvalue)
    print(json.dumps(results))


def matrix(table: pa.Table, spec: dict) -> np.ndarray:
    """Features as one float matrix; string categories become their index in the training categories."""
    columns = []
    for name in spec["numeric"] + spec["categorical"]:
        column = table[name]
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.index_in(column, value_set=pa.array(spec["categories"][name]))
        columns.append(column.to_numpy(zero_copy_only=False).astype(float))
    return np.column_stack(columns)


def fit(spec: dict, train_path: str, model_path: str | None = None) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    table = read(train_path, [*spec["numeric"], *spec["categorical"], spec["target"]])
    model = HistGradientBoostingClassifier().fit(matrix(table, spec), table[spec["target"]].to_numpy())
    if model_path:
        with open(model_path, "wb") as handle:
            pickle.dump(model, handle)


def predict(spec: dict, model_path: str, input_path: str, output_path: str) -> None:
    with open(model_path, "rb") as handle:
        model = pickle.load(handle)
    table = read(input_path, [*spec["identifiers"], *spec["numeric"], *spec["categorical"]])
    proba = model.predict_proba(matrix(table, spec))[:, 1]
    scored = pa.table({**{n: table[n] for n in spec["identifiers"]}, "churn_probability": proba})
    pacsv.write_csv(scored, output_path)


def split(spec: dict, input_path: str, folder: str) -> None:
    """What ingest must do at least: read the file, split it stratified 80/20, write both sides."""
    import os

    import pyarrow.parquet as pq
    from sklearn.model_selection import train_test_split

    table = pacsv.read_csv(input_path)
    y = table[spec["target"]].to_numpy(zero_copy_only=False)
    train, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=42)
    os.makedirs(folder, exist_ok=True)
    pq.write_table(table.take(np.sort(train)), os.path.join(folder, "train.parquet"))
    pq.write_table(table.take(np.sort(test)), os.path.join(folder, "test.parquet"))


def main(argv: list[str]) -> None:
    job, spec_path, *paths = argv
    with open(spec_path) as handle:
        spec = json.load(handle)
    {"drift": drift, "fit": fit, "predict": predict, "split": split}[job](spec, *paths)


if __name__ == "__main__":
    main(sys.argv[1:])
