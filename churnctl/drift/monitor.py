"""The drift decision.

Per feature, one test of the distribution — two-sample Kolmogorov–Smirnov for numeric features,
chi-square test of homogeneity for categorical and binary ones — and, where either side has missing
values, a chi-square test of the missing rate. Every p-value of the run (features, missing rates,
prediction drift, performance) is adjusted together for multiple testing, Benjamini–Hochberg by
default. A test counts only when its adjusted p-value is below ``alpha`` AND its effect size passes
a minimum: significance alone flags trivial shifts on millions of rows, effect size alone flags
noise on a few hundred.

Effect sizes and default minimums (``[drift]`` in churnctl.toml):

* numeric: Wasserstein-1 distance in reference standard deviations, ≥ 0.1 (a mean shift of a
  tenth of a standard deviation; PSI is reported too);
* categorical / binary: Jensen–Shannon distance (base 2), ≥ 0.05 (a 15-point move of one
  category's share is about 0.13; PSI is reported too);
* missing values: absolute change of the missing rate, ≥ 0.02;
* prediction drift: Wasserstein-1 distance of the churn probabilities in reference standard
  deviations, ≥ 0.1, against the model's probabilities on its held-out test split;
* performance (when the current data carry the target): ROC-AUC at least 0.05 below the model's
  test ROC-AUC, with a one-sided test using Hanley–McNeil standard errors.

Dataset-level drift: at least ``min_drifted_features`` (1) features drift, making at least
``min_drifted_share`` (0) of the features and ``min_drifted_importance`` (0) of the model's
permutation importance — or the predictions drift — or performance dropped. Batches with fewer
than ``min_rows`` (100) rows get status ``insufficient_data`` and no verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnctl.config import DriftSettings
from churnctl.contract.frames import merge_unseen, prepare_features
from churnctl.drift import stats
from churnctl.drift.bounds import Bounds
from churnctl.drift.multivariate import JointSample, MultivariateReference, multivariate_drift
from churnctl.drift.performance import estimate_performance, realised_performance
from churnctl.drift.profile import (
    CategoricalAccumulator,
    MonitorState,
    NumericAccumulator,
    NumericReference,
    ReferenceProfile,
    RowSample,
)
from churnctl.drift.result import (
    DriftReport,
    FeatureDrift,
    FeatureTests,
    PerformanceDrift,
    PKey,
    PredictionDrift,
    TestResult,
    TestRun,
)
from churnctl.drift.univariate import categorical_test, numeric_test
from churnctl.drift.wording import drift_reasons
from churnctl.model.scorer import Scorer
from churnctl.value.campaign import Campaign
from churnctl.value.estimate import estimate_scored

DISTRIBUTION, MISSING, PREDICTION, PERFORMANCE = "distribution", "missing", "prediction", "performance"


class DriftMonitor:
    """Accumulate current data batch by batch, then decide: run the tests, correct, decide."""

    def __init__(
        self,
        model: Scorer,
        profile: ReferenceProfile,
        settings: DriftSettings,
        importance: dict[str, float] | None = None,
        expected_rows: int | None = None,
        sample_offset: int = 0,
        campaign: Campaign | None = None,
        bounds: Bounds | None = None,
        multivariate: MultivariateReference | None = None,
    ):
        """Prediction and performance drift score a uniform sample of ``[drift] score_rows`` of the
        ``expected_rows`` (known or estimated rows of the current data; None: score every row).
        ``sample_offset``: the rows of the input before the part this monitor sees (see
        :mod:`churnctl.drift.partial`). With a ``campaign``, the scored rows' customer values are kept
        too, for the profit estimated without labels. ``bounds`` (from the reference period) tighten
        the effect minimums; with ``multivariate`` a sample of rows is kept for the domain classifier."""
        self.campaign, self.bounds, self.multivariate, self.offset = campaign, bounds, multivariate, sample_offset
        self.joint = JointSample(settings.multivariate_rows, settings.seed) if multivariate is not None else None
        self.model = model
        self.schema = model.schema
        self.profile = profile
        self.settings = settings
        names = self.schema.feature_names
        raw = importance or {}
        total = sum(max(raw.get(n, 0.0), 0.0) for n in names)
        self.importance = (
            {n: max(raw.get(n, 0.0), 0.0) / total for n in names} if total > 0 else {n: 1.0 / len(names) for n in names}
        )
        self.accumulators: dict[str, NumericAccumulator | CategoricalAccumulator] = {}
        for name, ref in profile.features.items():
            if isinstance(ref, NumericReference):
                self.accumulators[name] = NumericAccumulator(ref)
            else:
                self.accumulators[name] = CategoricalAccumulator(ref)
        self.scores = NumericAccumulator(profile.scores)
        self.unseen: dict[str, dict[str, int]] = {}
        # The scored sample, batch by batch: churn probabilities, and labels (-1: none) where known.
        self._scored: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self.n_rows = 0
        self.n_scored = 0
        self.sample = RowSample(settings.score_rows, expected_rows, settings.seed, skip=sample_offset)

    def update(
        self,
        frame: pd.DataFrame,
        *,
        source: str = "current data",
        labels: np.ndarray | None = None,
        labelled: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        """Add a batch, with its 0/1 ``labels`` where known (``labelled``: which rows carry one; default:
        every row when labels are given), as :func:`churnctl.data.labelled.iter_labelled` reads them;
        ``rows``: the rows' positions in the whole input (default: after the rows seen so far)."""
        X, unseen = prepare_features(frame, self.schema, source=source, row_offset=self.n_rows)
        if self.joint is not None:
            self.joint.update(X, rows if rows is not None else self.offset + self.n_rows + np.arange(len(X)))
        merge_unseen(self.unseen, unseen)
        for name, accumulator in self.accumulators.items():
            accumulator.update(X[name].to_numpy())
        take = self.sample.take(len(frame))
        scored = X if take is None else X[take]
        proba = self.model.predict_proba(scored) if len(scored) else np.empty(0)
        self.scores.update(proba)
        self._scored.append(proba.astype(np.float32))
        self.n_scored += len(scored)
        known = np.full(len(frame), -1, dtype=np.int8)
        if labels is not None:
            mask = np.ones(len(frame), dtype=bool) if labelled is None else labelled
            known[mask] = np.asarray(labels, dtype=np.int8)[mask]
        self._labels.append(known if take is None else known[take])
        if self.campaign is not None:
            self._values.append(self.campaign.values(frame if take is None else frame[take], source))
        self.n_rows += len(frame)

    # -- partial states: a part summarised elsewhere (another process, a worker) -------------------

    def state(self) -> MonitorState:
        """What this monitor has counted: each accumulator's counts (not the reference, which every
        monitor of the run has) and the scored sample, to be merged into another monitor."""
        return MonitorState(
            n_rows=self.n_rows,
            n_scored=self.n_scored,
            accumulators={name: accumulator.state() for name, accumulator in self.accumulators.items()},
            scores=self.scores.state(),
            unseen=self.unseen,
            scored=self._scored,
            labels=self._labels,
            values=self._values,
            joint=self.joint,
        )

    def merge(self, state: MonitorState) -> None:
        """Add another monitor's :meth:`state` (parts in input order)."""
        for name, accumulator in self.accumulators.items():
            accumulator.merge(state.accumulators[name])
        self.scores.merge(state.scores)
        merge_unseen(self.unseen, state.unseen)
        self._scored += state.scored
        self._labels += state.labels
        self._values += state.values
        if self.joint is not None and state.joint is not None:
            self.joint.merge(state.joint)
        self.n_rows += state.n_rows
        self.n_scored += state.n_scored

    def report(self) -> DriftReport:
        run = self._run_tests()
        adjusted = self._correct(run.pvalues)
        return self._decide(run, adjusted)

    # -- 1. the tests --------------------------------------------------------------------------

    def _performance(self) -> PerformanceDrift | None:
        y = np.concatenate(self._labels) if self._labels else np.empty(0, dtype=np.int8)
        labelled = y >= 0
        if not labelled.any():
            return None
        proba = np.concatenate(self._scored)[labelled].astype(float)
        return realised_performance(y[labelled], proba, self.model.threshold, self.model.manifest["test_metrics"])

    def _run_tests(self) -> TestRun:
        """Every test of the run, and the family of p-values to correct together."""
        pvalues: dict[PKey, float] = {}
        features = {}
        for name, accumulator in self.accumulators.items():
            spec = self.schema.column(name)
            if isinstance(accumulator, CategoricalAccumulator):
                result = categorical_test(accumulator)
            else:
                result = numeric_test(accumulator)
            ref = accumulator.reference
            ref_missing = ref.n_missing / ref.n_rows if ref.n_rows else 0.0
            cur_missing = accumulator.n_missing / accumulator.n_rows if accumulator.n_rows else 0.0
            missing_p = None
            if accumulator.n_rows and (ref.n_missing or accumulator.n_missing):
                _, missing_p = stats.chi2_homogeneity(
                    np.array([ref.n_missing, ref.n_rows - ref.n_missing], dtype=float),
                    np.array([accumulator.n_missing, accumulator.n_rows - accumulator.n_missing], dtype=float),
                )
                pvalues[(MISSING, name)] = missing_p
            if result.statistic is not None:
                pvalues[(DISTRIBUTION, name)] = result.p_value
            features[name] = FeatureTests(
                spec, isinstance(accumulator, CategoricalAccumulator), result, ref_missing, cur_missing, missing_p
            )
        prediction = numeric_test(self.scores)
        if prediction.statistic is not None:
            pvalues[(PREDICTION, "")] = prediction.p_value
        performance = self._performance()
        if performance is not None and performance.p_value is not None:
            pvalues[(PERFORMANCE, "")] = performance.p_value
        return TestRun(features, prediction, performance, pvalues)

    # -- 2. multiple testing -------------------------------------------------------------------

    def _correct(self, pvalues: dict[PKey, float]) -> dict[PKey, float]:
        keys = list(pvalues)
        return dict(zip(keys, stats.adjust_pvalues([pvalues[k] for k in keys], self.settings.correction), strict=True))

    # -- 3. the decision -----------------------------------------------------------------------

    def _feature_drift(
        self, name: str, tests: FeatureTests, adjusted: dict[PKey, float], insufficient: bool
    ) -> FeatureDrift:
        cfg = self.settings
        result = tests.distribution
        bound = self.bounds.upper(name) if self.bounds else None
        threshold = cfg.categorical_effect if tests.categorical else cfg.numeric_effect
        threshold = max(threshold, bound) if bound is not None else threshold
        p_adj = adjusted.get((DISTRIBUTION, name), 1.0)
        missing_adj = adjusted.get((MISSING, name))
        reasons = []
        if p_adj < cfg.alpha and result.effect_size >= threshold:
            reasons.append("distribution")
        if (
            missing_adj is not None
            and missing_adj < cfg.alpha
            and abs(tests.missing_rate_current - tests.missing_rate_reference) >= cfg.missing_effect
        ):
            reasons.append("missing values")
        unseen = self.unseen.get(name, {})
        n_cur = self.accumulators[name].n_rows or 1
        return FeatureDrift(
            kind=str(tests.spec.kind),
            test="chi2" if tests.categorical else "ks",
            statistic=result.statistic,
            p_value=result.p_value,
            p_value_adjusted=p_adj,
            effect_size=result.effect_size,
            effect_metric="jensen_shannon" if tests.categorical else "wasserstein_sd",
            effect_threshold=threshold,
            psi=result.psi,
            js_distance=result.js,
            missing_rate_reference=tests.missing_rate_reference,
            missing_rate_current=tests.missing_rate_current,
            missing_p_value=tests.missing_p_value,
            missing_p_value_adjusted=missing_adj,
            new_missing_values=tests.missing_rate_reference == 0 and tests.missing_rate_current > 0,
            unseen_categories=[
                {"value": v, "rows": c, "share": c / n_cur}
                for v, c in sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            importance=self.importance[name],
            drift=bool(reasons) and not insufficient,
            reasons=reasons,
            alert_bound=bound,
        )

    def _prediction_drift(self, result: TestResult, adjusted: dict[PKey, float], insufficient: bool) -> PredictionDrift:
        cfg = self.settings
        p_adj = adjusted.get((PREDICTION, ""), 1.0)
        bound = self.bounds.upper(None) if self.bounds else None
        threshold = max(cfg.prediction_effect, bound) if bound is not None else cfg.prediction_effect
        scores = self.scores
        reference = self.profile.scores
        return PredictionDrift(
            test="ks",
            statistic=result.statistic,
            p_value=result.p_value,
            p_value_adjusted=p_adj,
            effect_size=result.effect_size,
            effect_metric="wasserstein_sd",
            effect_threshold=threshold,
            psi=result.psi,
            n_scored=self.n_scored,
            sample_rate=self.sample.rate,
            mean_probability_reference=float(np.average(reference.points, weights=reference.counts)),
            mean_probability_current=(
                float((scores.between_sum.sum() + (scores.equal * reference.points).sum()) / scores.n_present)
                if scores.n_present
                else None
            ),
            drift=bool(not insufficient and p_adj < cfg.alpha and result.effect_size >= threshold),
            alert_bound=bound,
        )

    def _decide(self, run: TestRun, adjusted: dict[PKey, float]) -> DriftReport:
        cfg = self.settings
        insufficient = self.n_rows < cfg.min_rows
        features = {
            name: self._feature_drift(name, tests, adjusted, insufficient) for name, tests in run.features.items()
        }
        prediction = self._prediction_drift(run.prediction, adjusted, insufficient)
        estimated = estimate_performance(
            np.concatenate(self._scored) if self._scored else np.empty(0),
            self.model.threshold,
            (self.profile.scores.points, self.profile.scores.counts),
            cfg.estimated_auc_margin,
            enough=not insufficient,
        )
        performance = run.performance
        if performance is not None:
            performance.p_value_adjusted = adjusted.get((PERFORMANCE, ""))
            performance.drift = bool(
                not insufficient
                and performance.p_value_adjusted is not None
                and performance.p_value_adjusted < cfg.alpha
                and performance.roc_auc_drop is not None
                and performance.roc_auc_drop >= cfg.max_auc_drop
            )

        drifted = [n for n, f in features.items() if f.drift]
        share = len(drifted) / len(features) if features else 0.0
        importance = float(sum(self.importance[n] for n in drifted))
        joint = None
        if self.multivariate is not None and self.joint is not None:
            joint = multivariate_drift(self.multivariate, self.joint, self.schema, cfg.seed)
        reasons = drift_reasons(cfg, drifted, share, importance, prediction, performance, estimated, joint)
        detected = bool(reasons) and not insufficient
        return DriftReport(
            drift_detected=detected,
            status="insufficient_data" if insufficient else ("drift" if detected else "no_drift"),
            share_drifted=share,
            importance_drifted=importance,
            drifted_features=drifted,
            n_reference=self.profile.n_rows,
            n_current=self.n_rows,
            model_version=self.model.version,
            correction=cfg.correction,
            alpha=cfg.alpha,
            features=features,
            prediction_drift=prediction,
            performance=performance,
            estimated_performance=estimated,
            reasons=reasons,
            warnings=self._warnings(features, insufficient, performance),
            estimated_profit=estimate_scored(
                self.campaign, self._scored, self._values, self._labels, self.model.threshold
            ),
            multivariate=joint,
            bounds=self.bounds,
        )

    def _warnings(
        self, features: dict[str, FeatureDrift], insufficient: bool, performance: PerformanceDrift | None
    ) -> list[str]:
        warnings = []
        if insufficient:
            warnings.append(
                f"only {self.n_rows} row(s); at least {self.settings.min_rows} are needed for a verdict "
                "([drift] min_rows)"
            )
        sampled = " of the uniform sample scored" if self.sample.rate < 1.0 else ""
        if performance is not None and performance.roc_auc is None:
            warnings.append(
                f"the {performance.n_labelled} labelled row(s){sampled} hold one class only: ROC-AUC is undefined; "
                f"churn rate {performance.churn_rate:.1%} against {performance.churn_rate_reference:.1%} at training"
            )
        wanted = min(self.settings.score_rows, self.n_rows)
        if self.sample.rate < 1.0 and self.n_scored < wanted / 2:
            warnings.append(
                f"only {self.n_scored} of the {wanted} rows meant to be scored were: the file has fewer rows than "
                "its size suggested; [drift] score_rows = 0 scores every row"
            )
        for name, f in features.items():
            if f.unseen_categories:
                listed = ", ".join(f"{u['value']!r} ({u['share']:.1%})" for u in f.unseen_categories[:5])
                warnings.append(f"column {name!r}: categories never seen in training: {listed}")
            if f.new_missing_values:
                warnings.append(f"column {name!r}: {f.missing_rate_current:.1%} missing values; training had none")
        return warnings
