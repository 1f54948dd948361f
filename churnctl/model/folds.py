"""The cross-validation folds of the model search, of the same kind as the dataset's split: the
candidates, the calibration and the threshold are chosen on folds that leak no more than the test
split does.

* forward in time (a time column): the distinct periods are cut into ``folds + 1`` consecutive blocks;
  fold *i* learns on the blocks before block *i* and is scored on block *i* (an expanding window), so
  no fold learns from its own future;
* grouped (a group column, or exact duplicates in the training rows): scikit-learn's
  ``StratifiedGroupKFold``, every group in one fold;
* stratified otherwise (``StratifiedKFold``, as it always was).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from churnctl.errors import DataError

Indices = tuple[np.ndarray, np.ndarray]


@dataclass
class Folds:
    kind: str  # "stratified" | "grouped" | "forward in time"
    splits: list[Indices]

    def __len__(self) -> int:
        return len(self.splits)


def make_folds(
    y: np.ndarray, folds: int, seed: int, *, groups: np.ndarray | None = None, times: pd.Series | None = None
) -> Folds:
    """The folds of rows ``y`` (see the module's docstring)."""
    if times is not None:
        return _forward(y, folds, times)
    if groups is not None and len(np.unique(groups)) < len(groups):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return Folds("grouped", _usable(list(splitter.split(np.zeros(len(y)), y, groups)), y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return Folds("stratified", list(splitter.split(np.zeros(len(y)), y)))


def _forward(y: np.ndarray, folds: int, times: pd.Series) -> Folds:
    values = times.to_numpy()
    periods = np.unique(values)
    if len(periods) < 3:
        raise DataError(
            f"the training rows hold {len(periods)} distinct time(s); folds forward in time need at least 3",
            hint="use more periods of data, or fewer --test-size",
        )
    blocks = np.array_split(periods, min(folds + 1, len(periods)))
    splits = []
    for block in blocks[1:]:
        fit = np.flatnonzero(values < block[0])
        score = np.flatnonzero((values >= block[0]) & (values <= block[-1]))
        splits.append((fit, score))
    usable = _usable(splits, y)
    if len(usable) < 2:
        raise DataError(
            "fewer than 2 forward-in-time folds hold both churned and retained customers on both sides",
            hint="use more periods of data",
        )
    return Folds("forward in time", usable)


def _usable(splits: list[Indices], y: np.ndarray) -> list[Indices]:
    """The folds whose fitting and scored rows both hold both classes."""
    return [(fit, score) for fit, score in splits if len(np.unique(y[fit])) == 2 and len(np.unique(y[score])) == 2]
