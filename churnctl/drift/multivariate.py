"""Multivariate drift: a domain classifier told to separate reference rows from current rows.

Per-column tests see each column alone; when columns keep their own distributions but change how they
relate (a column shuffled against one it used to follow), only a model of the rows as a whole notices.
A gradient-boosting classifier is cross-validated (3 folds) on a sample of reference rows against a
sample of current rows; its out-of-fold ROC-AUC is 0.5 when the two are alike and grows as they come
apart. The columns that separate them most are those whose shuffling costs the classifier the most
ROC-AUC on the held-out folds.

The alert bound comes from the reference period itself (as NannyML's thresholds do): the same test
between disjoint halves of the reference sample, a few times over, gives the ROC-AUC that chance
reaches; the bound is their mean plus 3 standard deviations, the spread scaled to the current
sample's size as the Mann–Whitney standard error of two like samples scales (small chunks vary more),
and never narrower than that standard error.

Cost is bounded by the sample: ``[drift] multivariate_rows`` rows a side (2,000 by default), whatever
the batch's size. The current sample is a mergeable bottom-k sample: each row gets a pseudo-random key
from its position in the input (and the seed), and the rows of the smallest keys are kept, so parts
summarised apart merge into exactly the sample of one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.schema import Schema

FOLDS = 3
REFERENCE_REPEATS = 5
TOP_COLUMNS = 3
MAX_CATEGORIES = 254  # the classifier takes at most 255 categories: the most frequent, and one for the rest


def row_keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random 64-bit key per row position (splitmix64 of position and seed)."""
    with np.errstate(over="ignore"):
        x = np.asarray(rows, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@dataclass
class JointSample:
    """The ``size`` rows (typed features) of the smallest keys seen: a sample that merges exactly."""

    size: int
    seed: int
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    frame: pd.DataFrame | None = None

    def update(self, X: pd.DataFrame, rows: np.ndarray) -> None:
        self._keep(row_keys(rows, self.seed), X.reset_index(drop=True))

    def merge(self, other: JointSample) -> None:
        if other.frame is not None:
            self._keep(other.keys, other.frame)

    def _keep(self, keys: np.ndarray, frame: pd.DataFrame) -> None:
        if self.frame is not None:
            keys = np.concatenate([self.keys, keys])
            frame = pd.concat([self.frame, frame], ignore_index=True)
        order = np.argsort(keys, kind="stable")[: self.size]
        self.keys, self.frame = keys[order], frame.iloc[order].reset_index(drop=True)


@dataclass
class MultivariateDrift:
    roc_auc: float | None  # the domain classifier's out-of-fold ROC-AUC (0.5: alike)
    bound: float | None  # the alert bound from the reference period
    n_reference: int
    n_current: int
    top_columns: list[dict]  # the columns that separate reference and current most: name, ROC-AUC lost
    drift: bool


def _encoded(frame: pd.DataFrame, schema: Schema, n_reference: int) -> tuple[np.ndarray, list[bool]]:
    """Numbers as they are; categories as codes: the reference sample's 253 most frequent, one code for
    its other categories and one for categories it never had (the classifier takes at most 255), so a
    flood of new values is seen even among thousands."""
    columns, categorical = [], []
    for spec in schema.features:
        values = frame[spec.name]
        if spec.dtype == "number":
            columns.append(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
            categorical.append(False)
        else:
            text = values.astype("string")
            seen = text.iloc[:n_reference]
            frequent = seen.value_counts().index[: MAX_CATEGORIES - 1]  # the reference's most frequent
            codes = pd.Index(frequent).get_indexer(text).astype(float)
            present = text.notna().to_numpy()
            rest = present & (codes < 0)
            unseen = rest & ~text.isin(set(seen.dropna())).to_numpy()
            codes = np.where(rest, MAX_CATEGORIES - 1, codes)  # other categories of the reference
            codes = np.where(unseen, MAX_CATEGORIES, codes)  # categories the reference never had
            columns.append(np.where(present, codes, np.nan))
            categorical.append(True)
    return np.column_stack(columns), categorical


@dataclass
class DomainFit:
    """The domain classifier cross-validated on reference (0) against current (1) rows: the encoded rows,
    their side, each fold's model and held-out rows, and the out-of-fold scores."""

    X: np.ndarray
    y: np.ndarray
    folds: list[tuple[object, np.ndarray]]
    oof: np.ndarray

    @classmethod
    def fit(cls, reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, seed: int) -> DomainFit:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import StratifiedKFold

        both = pd.concat([reference, current], ignore_index=True)
        X, categorical = _encoded(both, schema, len(reference))
        y = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(current), dtype=int)]
        oof, folds = np.zeros(len(y)), []
        for train, valid in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(X, y):
            model = HistGradientBoostingClassifier(
                max_iter=40, max_leaf_nodes=8, learning_rate=0.15, categorical_features=categorical, random_state=seed
            )
            model.fit(X[train], y[train])
            oof[valid] = model.predict_proba(X[valid])[:, 1]
            folds.append((model, valid))
        return cls(X, y, folds, oof)

    @property
    def auc(self) -> float:
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(self.y, self.oof))

    def top_columns(self, names: list[str], seed: int) -> list[dict]:
        """The ``TOP_COLUMNS`` columns whose shuffling lowers the held-out ROC-AUC most (summed over the
        folds, each fold's rows shuffled with one seeded stream in fold and column order)."""
        from sklearn.metrics import roc_auc_score

        rng = np.random.default_rng(seed)
        loss = np.zeros(self.X.shape[1])
        for model, valid in self.folds:
            base = roc_auc_score(self.y[valid], self.oof[valid])
            for j in range(self.X.shape[1]):
                shuffled = self.X[valid].copy()
                shuffled[:, j] = rng.permutation(shuffled[:, j])
                loss[j] += base - roc_auc_score(self.y[valid], model.predict_proba(shuffled)[:, 1])  # type: ignore[attr-defined]
        ranked = sorted(range(len(names)), key=lambda j: -loss[j])[:TOP_COLUMNS]
        return [{"column": names[j], "roc_auc_lost": float(loss[j] / FOLDS)} for j in ranked if loss[j] > 0]


def domain_auc(
    reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, seed: int, columns: bool = False
) -> tuple[float, list[dict]]:
    """Out-of-fold ROC-AUC of a classifier separating ``reference`` from ``current`` rows; with
    ``columns``, the ``TOP_COLUMNS`` columns whose shuffling lowers it most on the held-out folds."""
    fitted = DomainFit.fit(reference, current, schema, seed)
    return fitted.auc, fitted.top_columns(schema.feature_names, seed) if columns else []


def chance_se(m: int, n: int) -> float:
    """The standard error of the ROC-AUC of two like samples of m and n rows (Mann–Whitney)."""
    return math.sqrt((m + n + 1) / (12 * m * n))


@dataclass
class MultivariateReference:
    """The reference sample the classifier compares with, and what chance reaches against it."""

    frame: pd.DataFrame
    repeats: list[float]  # the classifier between disjoint halves of the reference
    half: int  # their size

    @classmethod
    def build(
        cls, reference: pd.DataFrame, schema: Schema, rows: int, seed: int, recorded: dict | None = None
    ) -> MultivariateReference:
        """``rows`` reference rows (a seeded sample), and ``REFERENCE_REPEATS`` tests between two disjoint
        samples of the reference as large (when it has enough rows for two of at least 100). ``recorded``:
        what :meth:`record` kept of an earlier build on this reference (train signs it in the version's
        manifest); its repeats are reused when they were measured with the same ``rows`` and ``seed``."""
        rng = np.random.default_rng(seed)
        sample = reference.iloc[rng.permutation(len(reference))[:rows]].reset_index(drop=True)
        half = min(rows, len(reference) // 2)
        if recorded and (recorded.get("rows"), recorded.get("seed")) == (rows, seed):
            return cls(sample, [float(r) for r in recorded["repeats"]], half)
        repeats = []
        if half >= 100:
            for r in range(REFERENCE_REPEATS):
                shuffled = rng.permutation(len(reference))
                a, b = reference.iloc[shuffled[:half]], reference.iloc[shuffled[half : 2 * half]]
                repeats.append(domain_auc(a, b, schema, seed + r)[0])
        return cls(sample, repeats, half)

    def record(self, rows: int, seed: int) -> dict:
        """What a later :meth:`build` with the same ``rows`` and ``seed`` can reuse."""
        return {"rows": rows, "seed": seed, "repeats": self.repeats}

    def bound(self, n_current: int) -> float | None:
        """The alert bound for a current sample of ``n_current`` rows: the reference repeats' mean plus 3
        standard deviations, their spread scaled from the repeats' size to this one as the Mann–Whitney
        standard error scales (and never below it)."""
        if len(self.repeats) < 2 or n_current < 1:
            return None
        m = len(self.frame)
        spread = float(np.std(self.repeats, ddof=1)) / chance_se(self.half, self.half)
        return float(np.mean(self.repeats)) + 3 * max(1.0, spread) * chance_se(m, n_current)


def multivariate_drift(
    reference: MultivariateReference, current: JointSample, schema: Schema, seed: int
) -> MultivariateDrift:
    n_current = 0 if current.frame is None else len(current.frame)
    bound = reference.bound(n_current)
    if current.frame is None or n_current < 50 or len(reference.frame) < 50:
        return MultivariateDrift(None, bound, len(reference.frame), n_current, [], False)
    fitted = DomainFit.fit(reference.frame, current.frame, schema, seed)
    auc = fitted.auc
    drift = bound is not None and auc > bound
    top = fitted.top_columns(schema.feature_names, seed) if drift else []  # the same fits, no second pass
    return MultivariateDrift(auc, bound, len(reference.frame), n_current, top, drift)
