"""Model selection: which candidate of :mod:`churnctl.model.estimators` to fit, and the decision threshold.

Selection is cross-validated ROC-AUC on the training split only (stratified K-fold, seeded; every
candidate sees the same folds). On large data the search runs on a stratified sample of
``selection_rows`` rows (the ranking of a few candidates is settled long before a million rows),
and the chosen candidate is then fitted on all rows, gradient boosting with early stopping so that
it grows no more trees than help. After the candidates, the blend of the best of each family is
scored from their out-of-fold predictions (no extra fit) and competes like any candidate.

A time budget bounds the whole of training: a candidate starts only when all its folds are expected
to end before the deadline with time left for the final fit, a fold only when it is (expectations
come from the folds already timed, scaled by the candidates' relative cost; the first fold of each
family always runs, as nothing tells its cost before), candidates are compared on the folds they all
completed, and permutation importance is sized to what is left. The best by cross-validated ROC-AUC
wins unless a candidate within ``TIE_MARGIN`` of it is cheaper to score, at most half as costly. The decision
threshold is chosen on the out-of-fold predictions of the selected candidate, never on the test split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from churnctl.contract.schema import Schema
from churnctl.errors import DataError, UsageError
from churnctl.model import estimators
from churnctl.model.estimators import CANDIDATES, MODEL_CHOICES, fit_cost, scoring_cost
from churnctl.model.folds import Folds, make_folds
from churnctl.runtime.progress import Progress, no_progress

log = logging.getLogger(__name__)

# Cross-validated ROC-AUC differences below this are noise at the sizes churn files have (the
# standard error of one fold's ROC-AUC on 20,000 rows is about 0.003).
TIE_MARGIN = 0.0015
CHEAPER = 0.5  # a near-tie goes to a candidate that costs at most this share of the best's to score
LINEAR_FIT_ROWS = 1_000_000  # the final fit of a logistic regression uses at most this many rows


@dataclass
class CandidateScore:
    family: str
    params: dict
    fold_auc: list[float]
    seconds: float

    @property
    def mean_auc(self) -> float:
        return float(np.mean(self.fold_auc))

    def to_dict(self) -> dict:
        return {
            "estimator": self.family,
            "params": self.params,
            "cv_roc_auc_mean": self.mean_auc,
            "cv_roc_auc_std": float(np.std(self.fold_auc)),
            "fold_roc_auc": self.fold_auc,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Selection:
    pipeline: Any
    chosen: CandidateScore
    candidates: list[CandidateScore]
    oof_proba: np.ndarray  # out-of-fold probabilities of the chosen candidate ...
    oof_y: np.ndarray  # ... and the labels of those rows (the selection sample) ...
    oof_rows: np.ndarray  # ... and their positions in the training split
    selection_rows: int  # rows the search ran on
    n_iter: int | None = None  # trees of the final gradient-boosting fit
    skipped: list[dict] = field(default_factory=list)  # candidates the time budget cut
    folds: str = "stratified"  # the kind of cross-validation folds (see churnctl.model.folds)


@dataclass
class Budget:
    """What the search may still start before ``deadline``, from the folds timed so far."""

    deadline: float
    final_scale: float  # rows of the final fit / rows of one fold's fit
    unit_seconds: dict[str, float] = field(default_factory=dict)  # per family: a fold's seconds per unit of fit_cost

    def fold_seconds(self, family: str, params: dict[str, Any]) -> float | None:
        if family == "blend":
            parts = [self.fold_seconds(f, p) for f, p in estimators.members(params)]
            return None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)
        unit = self.unit_seconds.get(family)
        return None if unit is None else unit * fit_cost(family, params)

    def record(self, family: str, params: dict[str, Any], seconds: float) -> None:
        self.unit_seconds[family] = seconds / fit_cost(family, params)

    def allows(self, family: str, params: dict[str, Any], folds: int, leader: CandidateScore | None) -> bool:
        """Whether ``folds`` folds of this candidate, then the final fit of it or of the leader, are
        expected to end before the deadline; always for a family not timed yet."""
        fold = self.fold_seconds(family, params)
        if fold is None:
            return True
        lead = (self.fold_seconds(leader.family, leader.params) or 0.0) if leader else 0.0
        return time.monotonic() + folds * fold + max(fold, lead) * self.final_scale <= self.deadline


def _cross_validate(
    schema: Schema,
    family: str,
    params: dict[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    may_go_on: Callable[[], bool],
    fold_done: Callable[[float], None],
) -> tuple[list[float], np.ndarray, np.ndarray]:
    """(ROC-AUC per fold, out-of-fold probabilities, mask of rows scored). The first fold always runs;
    each later one only if ``may_go_on()``. ``fold_done`` gets each fold's seconds."""
    oof = np.zeros(len(y))
    scored = np.zeros(len(y), dtype=bool)
    scores: list[float] = []
    for train_idx, valid_idx in splits:
        if scores and not may_go_on():
            break
        t0 = time.monotonic()
        pipeline = estimators.build_pipeline(schema, family, params, seed)
        pipeline.fit(X.iloc[train_idx], y[train_idx])
        oof[valid_idx] = pipeline.predict_proba(X.iloc[valid_idx])[:, 1]
        scored[valid_idx] = True
        scores.append(float(roc_auc_score(y[valid_idx], oof[valid_idx])))
        fold_done(time.monotonic() - t0)
    return scores, oof, scored


def select_and_fit(
    schema: Schema,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    model: str = "auto",
    seed: int = 42,
    folds: int = 5,
    time_budget: float = 600.0,
    selection_rows: int = 100_000,
    progress: Progress = no_progress,
    groups: np.ndarray | None = None,
    times: pd.Series | None = None,
) -> Selection:
    """Cross-validate the candidates of ``model`` on (a stratified sample of) the rows within the time
    budget, choose one, and fit it on every row. With ``groups`` (rows of one customer, exact
    duplicates) or ``times``, the folds are of the same kind (:mod:`churnctl.model.folds`)."""
    if model not in MODEL_CHOICES:
        raise UsageError(f"unknown model {model!r}", hint=f"choose one of {', '.join(MODEL_CHOICES)}")
    search = _search_rows(X, y, folds, seed, selection_rows, groups, times)
    pool = [(f, p) for f, p in CANDIDATES if model in ("auto", "blend", f) and estimators.runs_on(schema, p)]
    n_folds = len(search.folds)
    budget = Budget(time.monotonic() + time_budget, final_scale=len(y) / (len(search.y) * (n_folds - 1) / n_folds))
    total = len(pool) * n_folds + 1
    progress("model selection", 0, total)
    scored, skipped = _score_candidates(schema, pool, search, seed, budget, progress, total)
    chosen, oof, mask = _choose(scored, skipped, model, search, seed, budget)
    pipeline = estimators.build_pipeline(schema, chosen.family, chosen.params, seed, early_stopping=search.sampled)
    X_fit, y_fit = _final_rows(X, y, chosen.family, seed)
    t0 = time.monotonic()
    pipeline.fit(X_fit, y_fit)
    log.debug("final fit of %s %s on %d rows: %.1f s", chosen.family, chosen.params, len(y_fit), time.monotonic() - t0)
    progress("model selection", total, total)
    return Selection(
        pipeline=pipeline,
        chosen=chosen,
        candidates=[s for s, _, _ in scored],
        oof_proba=oof[mask],
        oof_y=search.y[mask],
        oof_rows=search.rows[mask],
        selection_rows=len(search.y),
        n_iter=_trees_grown(pipeline),
        skipped=skipped,
        folds=search.folds.kind,
    )


@dataclass
class SearchRows:
    """The rows the candidates are cross-validated on, and their folds."""

    X: pd.DataFrame
    y: np.ndarray
    folds: Folds
    sampled: bool  # a stratified sample of a large training split (the final fit uses every row)
    rows: np.ndarray  # the positions of these rows in the training split


def _search_rows(
    X: pd.DataFrame,
    y: np.ndarray,
    folds: int,
    seed: int,
    selection_rows: int,
    groups: np.ndarray | None,
    times: pd.Series | None,
) -> SearchRows:
    minority = int(min(y.sum(), len(y) - y.sum()))
    if minority < 2:
        raise DataError(
            f"the training split has {minority} row(s) of its rarer class; cannot cross-validate",
            hint="ingest more labelled rows of both classes",
        )
    # Sample only when the sample keeps enough of the rarer class for every fold (whole groups).
    large = len(y) > selection_rows and minority * selection_rows / len(y) >= 10 * folds
    keep = sample_rows(y, selection_rows, seed, groups) if large else np.arange(len(y))
    y_sel = y[keep]
    minority = int(min(y_sel.sum(), len(y_sel) - y_sel.sum()))
    made = make_folds(
        y_sel,
        max(2, min(folds, minority)),
        seed,
        groups=groups[keep] if groups is not None else None,
        times=times.iloc[keep] if times is not None else None,
    )
    return SearchRows(X.iloc[keep] if large else X, y_sel, made, large, keep)


Scored = tuple[CandidateScore, np.ndarray, np.ndarray]  # a candidate, its out-of-fold probabilities, their mask


def _score_candidates(
    schema: Schema,
    pool: list[tuple[str, dict[str, Any]]],
    search: SearchRows,
    seed: int,
    budget: Budget,
    progress: Progress,
    total: int,
) -> tuple[list[Scored], list[dict]]:
    """Each candidate cross-validated while the budget allows it (a leader's cost bounds the others)."""
    scored: list[Scored] = []
    skipped: list[dict] = []
    steps = [0]

    def leader() -> CandidateScore | None:
        return max((c for c, _, _ in scored), key=lambda c: c.mean_auc, default=None)

    for family, params in pool:
        if not budget.allows(family, params, len(search.folds), leader()):
            skipped.append({"estimator": family, "params": params})
            continue

        def may_go_on(family: str = family, params: dict = params) -> bool:
            return budget.allows(family, params, 1, leader())

        def fold_done(seconds: float, family: str = family, params: dict = params) -> None:
            budget.record(family, params, seconds)
            steps[0] += 1
            progress("model selection", steps[0], total)

        t0 = time.monotonic()
        fold_auc, oof, mask = _cross_validate(
            schema, family, params, search.X, search.y, search.folds.splits, seed, may_go_on, fold_done
        )
        scored.append((CandidateScore(family, params, fold_auc, time.monotonic() - t0), oof, mask))
        log.debug(
            "candidate %s %s: %d fold(s), ROC-AUC %.4f, %.1f s",
            family,
            params,
            len(fold_auc),
            np.mean(fold_auc),
            time.monotonic() - t0,
        )
    return scored, skipped


def _choose(
    scored: list[Scored], skipped: list[dict], model: str, search: SearchRows, seed: int, budget: Budget
) -> Scored:
    """The chosen candidate (the blend of the families too, when asked for or automatic)."""
    # Candidates are compared on the folds they all completed (the same folds: the splits are seeded).
    shared = min(len(c.fold_auc) for c, _, _ in scored)
    for c, _, _ in scored:
        if len(c.fold_auc) < len(search.folds):
            skipped.append({"estimator": c.family, "params": c.params, "folds_done": len(c.fold_auc)})
    blend = _blend(scored, search.y, search.folds.splits, shared) if model in ("auto", "blend") else None
    if blend is not None:
        scored.append(blend)
        log.debug("candidate blend: ROC-AUC %.4f", blend[0].mean_auc)
    if model == "blend":
        if blend is None:
            raise UsageError(
                "--model blend needs a scored candidate of each family",
                hint="raise [train] time_budget, or use --model auto",
            )
        scored[:] = [blend]
    # Only candidates whose final fit is expected to end within the budget are eligible (else the one
    # quickest to fit): the first fold of each family runs whatever its cost.
    final = [(budget.fold_seconds(c.family, c.params) or 0.0) * budget.final_scale for c, _, _ in scored]
    left = budget.deadline - time.monotonic()
    eligible = [i for i in range(len(scored)) if final[i] <= left] or [int(np.argmin(final))]
    compared = {i: float(np.mean(scored[i][0].fold_auc[:shared])) for i in eligible}
    return scored[_pick(compared, [scoring_cost(c.family, c.params) for c, _, _ in scored])]


def _final_rows(X: pd.DataFrame, y: np.ndarray, family: str, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of the final fit: every row, but for a logistic regression (alone or in a blend) at most
    :data:`LINEAR_FIT_ROWS`, a stratified sample. Its input is dense (one-hot and spline columns: about
    eight float64 columns per number), 3 GB and more at 5M rows, while a model of a few dozen
    coefficients is as well estimated from a million rows (their sampling error shrinks as 1/sqrt(n))."""
    if family not in ("logreg", "blend") or len(y) <= LINEAR_FIT_ROWS:
        return X, y
    log.debug("final fit of the %s on a stratified sample of %d of %d rows", family, LINEAR_FIT_ROWS, len(y))
    return _stratified(X, y, LINEAR_FIT_ROWS, seed)


def _stratified(X: pd.DataFrame, y: np.ndarray, rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A seeded stratified sample of ``rows`` rows, in their original order."""
    keep = sample_rows(y, rows, seed, None)
    return X.iloc[keep], y[keep]


def sample_rows(y: np.ndarray, rows: int, seed: int, groups: np.ndarray | None) -> np.ndarray:
    """Positions of a seeded sample of about ``rows`` rows, in order: stratified rows, or whole groups
    (in a seeded order) when rows of one group must stay together."""
    if groups is None or len(np.unique(groups)) == len(groups):
        keep, _ = train_test_split(np.arange(len(y)), train_size=rows, stratify=y, random_state=seed)
        return np.sort(keep)
    codes, uniques = pd.factorize(groups)
    sizes = np.bincount(codes)
    order = np.random.default_rng(seed).permutation(len(uniques))
    chosen = order[: int(np.searchsorted(np.cumsum(sizes[order]), rows, side="left")) + 1]
    return np.flatnonzero(np.isin(codes, chosen))


def _pick(compared: dict[int, float], cost: list[float]) -> int:
    """The best candidate by cross-validated ROC-AUC, unless one within TIE_MARGIN of it (a gap that small
    is noise) is cheaper to score, at most half as costly — the chosen model scores every batch
    afterwards — then the cheapest such one; ties by order."""
    best = max(compared, key=lambda i: (compared[i], -i))
    near = [i for i, auc in compared.items() if auc >= compared[best] - TIE_MARGIN]
    cheaper = [i for i in near if cost[i] <= cost[best] * CHEAPER and cost[i] < cost[best]]
    return min(cheaper, key=lambda i: (cost[i], i)) if cheaper else best


def _blend(
    scored: list[tuple[CandidateScore, np.ndarray, np.ndarray]],
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    shared: int,
) -> tuple[CandidateScore, np.ndarray, np.ndarray] | None:
    """The blend of the best scored candidate of each family, scored on the folds they share from their
    out-of-fold probabilities (the mean of the two is what the blend predicts); None without both."""
    best: dict[str, tuple[float, int]] = {}
    for i, (c, _, _) in enumerate(scored):
        if c.family in ("logreg", "hgb"):
            auc = float(np.mean(c.fold_auc[:shared]))
            if c.family not in best or auc > best[c.family][0]:
                best[c.family] = (auc, i)
    if len(best) < 2:
        return None
    picked = [scored[best[f][1]] for f in ("logreg", "hgb")]
    mask = picked[0][2] & picked[1][2]
    oof = np.where(mask, (picked[0][1] + picked[1][1]) / 2.0, 0.0)
    fold_auc = [float(roc_auc_score(y[valid], oof[valid])) for _, valid in splits[:shared]]
    params = {"members": [{"estimator": c.family, "params": c.params} for c, _, _ in picked]}
    return CandidateScore("blend", params, fold_auc, sum(c.seconds for c, _, _ in picked)), oof, mask


def _trees_grown(model: Any) -> int | None:
    """Trees of the final gradient-boosting fit (of a blend's gradient-boosting member)."""
    for member in getattr(model, "estimators_", None) or [model]:
        estimator = getattr(member, "named_steps", {}).get("model")
        if isinstance(estimator, HistGradientBoostingClassifier):
            return int(estimator.n_iter_)
    return None
