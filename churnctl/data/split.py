"""How rows are split into training and test rows, honestly for real churn tables.

* **Out of time** (a time column): the test rows are the most recent ones — the newest periods that
  make up ``test_size`` of the rows (whole periods on one side), or every row from ``test_from`` on.
  This is the only evaluation that predicts production: train on older months, test on the newest.
* **Grouped** (a group column, such as a customer id in monthly snapshots, and exact duplicates): every
  row of one group stays on one side, groups are drawn stratified by whether they ever churned, so no
  customer (and no row's identical twin) is both learnt and tested.
* **Stratified random** otherwise, as scikit-learn's ``train_test_split`` draws it (the split of a file
  with no duplicates and no groups is what it always was).

:func:`row_groups` joins a group column and exact duplicates (rows equal in every feature and the
target, identifiers ignored) into connected groups; the model search's cross-validation folds use the
same groups (:mod:`churnctl.model.folds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import train_test_split

from churnctl.errors import DataError, UsageError


def duplicate_keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit hash per row of ``columns`` (equal rows, equal hashes)."""
    return pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()


def row_groups(frame: pd.DataFrame, columns: list[str], group: pd.Series | None) -> tuple[np.ndarray, int]:
    """(a group number per row, the number of rows that duplicate an earlier one): rows of one value of
    ``group`` and rows equal in ``columns`` are one group, joined transitively."""
    dup_codes, dup_uniques = pd.factorize(pd.Series(duplicate_keys(frame, columns)))
    duplicates = len(frame) - len(dup_uniques)
    if group is None:
        return dup_codes.astype(np.int64), duplicates
    group_codes, group_uniques = pd.factorize(group.fillna("\x00missing").astype(str))
    n_dup, n_group = len(dup_uniques), len(group_uniques)
    graph = coo_matrix(
        (np.ones(len(frame)), (dup_codes, n_dup + group_codes)), shape=(n_dup + n_group, n_dup + n_group)
    )
    _, labels = connected_components(graph, directed=False)
    return labels[dup_codes].astype(np.int64), duplicates


def twins(train: pd.DataFrame, rows: pd.DataFrame, columns: list[str]) -> int:
    """How many of ``rows`` have an identical twin (in ``columns``) among the training rows."""
    present = [c for c in columns if c in train.columns and c in rows.columns]
    return int(np.isin(duplicate_keys(rows, present), duplicate_keys(train, present)).sum())


@dataclass
class Split:
    train: np.ndarray  # row positions, in order
    test: np.ndarray
    kind: str  # "stratified random" | "grouped" | "out of time"
    details: dict[str, Any] = field(default_factory=dict)  # for the manifest: time ranges, groups


def split_rows(
    y: np.ndarray,
    test_size: float,
    seed: int,
    source: str,
    *,
    groups: np.ndarray | None = None,
    times: pd.Series | None = None,
    test_from: str | None = None,
) -> Split:
    """Training and test rows of labelled rows ``y`` (see the module's docstring)."""
    if times is not None:
        split = _out_of_time(times, test_size, test_from, source)
    elif groups is not None and len(np.unique(groups)) < len(groups):
        split = _grouped(y, groups, test_size, seed)
    else:
        split = _stratified(y, test_size, seed, source)
    for name, rows in (("training", split.train), ("test", split.test)):
        counts = np.bincount(y[rows], minlength=2)
        if counts.min() < 1 or len(rows) < 2:
            raise DataError(
                f"the {split.kind} split of {source} leaves {counts[1]} churned and {counts[0]} retained "
                f"customers in the {name} rows; both splits need both classes",
                hint="use more rows, another --test-size, or (out of time) another --test-from",
            )
    return split


def _stratified(y: np.ndarray, test_size: float, seed: int, source: str) -> Split:
    try:
        train, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    except ValueError as exc:
        raise DataError(
            f"cannot split {source} into train and test: {exc}", hint="use more labelled rows of both classes"
        ) from None
    return Split(np.sort(train), np.sort(test), "stratified random")


def _grouped(y: np.ndarray, groups: np.ndarray, test_size: float, seed: int) -> Split:
    """Whole groups to the test rows, in a seeded order within each stratum (groups that ever churned,
    groups that never did), until each stratum's share of test rows reaches ``test_size``."""
    frame = pd.DataFrame({"group": groups, "y": y})
    per_group = frame.groupby("group", sort=True)["y"].agg(["max", "size"])
    rng = np.random.default_rng(seed)
    test_groups: list[Any] = []
    for _, stratum in per_group.groupby("max"):
        order = stratum.iloc[rng.permutation(len(stratum))]
        wanted = test_size * order["size"].sum()
        taken = np.cumsum(order["size"].to_numpy())
        count = int(np.searchsorted(taken, wanted, side="left")) + 1
        test_groups += list(order.index[: min(count, len(order) - 1)])
    test = np.flatnonzero(frame["group"].isin(test_groups).to_numpy())
    train = np.setdiff1d(np.arange(len(y)), test)
    return Split(train, test, "grouped", {"n_groups": len(per_group), "n_test_groups": len(test_groups)})


def _out_of_time(times: pd.Series, test_size: float, test_from: str | None, source: str) -> Split:
    values = times.to_numpy()
    if test_from is not None:
        cutoff = _cutoff(test_from, times)
    else:
        periods, counts = np.unique(values, return_counts=True)
        from_end = np.cumsum(counts[::-1])
        index = int(np.searchsorted(from_end, test_size * len(values), side="left"))
        cutoff = periods[::-1][min(index, len(periods) - 1)]
        if cutoff == periods[0]:
            raise DataError(
                f"{source} has {len(periods)} distinct time(s): too few to hold the newest out for testing",
                hint="give --test-from DATE, or more periods of data",
            )
    test = np.flatnonzero(values >= cutoff)
    train = np.flatnonzero(values < cutoff)
    details = {
        "time_column": str(times.name),
        "train_from": _text(values[train].min()) if len(train) else None,
        "train_to": _text(values[train].max()) if len(train) else None,
        "test_from": _text(values[test].min()) if len(test) else None,
        "test_to": _text(values[test].max()) if len(test) else None,
    }
    return Split(train, test, "out of time", details)


def _cutoff(text: str, times: pd.Series) -> Any:
    try:
        if pd.api.types.is_numeric_dtype(times.dtype):
            return float(text)
        return pd.Timestamp(text).to_datetime64()
    except (ValueError, TypeError):
        kind = "a number" if pd.api.types.is_numeric_dtype(times.dtype) else "a date (2026-03-01)"
        raise UsageError(f"--test-from {text!r} is not {kind}, as the time column holds") from None


def _text(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value).isoformat())
    return str(value.item() if hasattr(value, "item") else value)
