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
    periods, counts = np.unique(values, return_counts=True)
    cutoff = time_cutoff(periods, counts, test_size, test_from, times, source)
    test = np.flatnonzero(values >= cutoff)
    train = np.flatnonzero(values < cutoff)
    return Split(train, test, "out of time", time_details(str(times.name), periods, counts, cutoff))


def time_cutoff(
    periods: np.ndarray, counts: np.ndarray, test_size: float, test_from: str | None, times: pd.Series, source: str
) -> Any:
    """The first time of the test rows: ``test_from``, or the newest periods (distinct ``periods`` in
    order, with their row ``counts``) that make up ``test_size`` of the rows. ``times``: a few of the
    values, for their type."""
    if test_from is not None:
        return _cutoff(test_from, times)
    from_end = np.cumsum(counts[::-1])
    index = int(np.searchsorted(from_end, test_size * counts.sum(), side="left"))
    cutoff = periods[::-1][min(index, len(periods) - 1)]
    if cutoff == periods[0]:
        raise DataError(
            f"{source} has {len(periods)} distinct time(s): too few to hold the newest out for testing",
            hint="give --test-from DATE, or more periods of data",
        )
    return cutoff


def time_details(column: str, periods: np.ndarray, counts: np.ndarray, cutoff: Any) -> dict[str, Any]:
    """The time ranges of the training and test rows, for the manifest."""
    train, test = periods[(periods < cutoff) & (counts > 0)], periods[(periods >= cutoff) & (counts > 0)]
    return {
        "time_column": column,
        "train_from": _text(train.min()) if len(train) else None,
        "train_to": _text(train.max()) if len(train) else None,
        "test_from": _text(test.min()) if len(test) else None,
        "test_to": _text(test.max()) if len(test) else None,
    }


def merge_counts(
    left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values with their counts, of two sets of rows (mergeable time counts of parts)."""
    values = np.concatenate([left[0], right[0]])
    counts = np.concatenate([left[1], right[1]])
    if not len(values):
        return values, counts
    periods, inverse = np.unique(values, return_inverse=True)
    return periods, np.bincount(inverse, weights=counts, minlength=len(periods)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Per-row sides, for tables split part by part

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def hash_unit(keys: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per 64-bit key, fixed by the key and the seed (SplitMix64's mixer):
    equal keys, equal numbers, whatever part of the table a row is in."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + _GOLDEN * np.uint64((seed + 1) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def text_keys(series: pd.Series) -> np.ndarray:
    """A 64-bit hash per value of a text column (a missing value is a value of its own, as in
    :func:`row_groups`)."""
    return pd.util.hash_array(series.fillna("\x00missing").astype(str).to_numpy(dtype=object))


def hashed_test_rows(keys: np.ndarray, seed: int, test_size: float) -> np.ndarray:
    """Mask of the test rows of a table split part by part: a row is a test row when its key's
    :func:`hash_unit` is below ``test_size`` — about ``test_size`` of the rows of each class, and
    every row of one key (a group, or identical twins) on one side."""
    return hash_unit(keys, seed) < test_size


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
