"""retrain's champion/challenger decision: both versions on the same holdout, gated on ROC-AUC or on
the campaign's expected profit (``[retrain] metric``), each with a one-sided paired bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnctl.config import RetrainSettings
from churnctl.errors import UsageError
from churnctl.model.compare import compare
from churnctl.model.scorer import Scorer
from churnctl.value.campaign import Campaign
from churnctl.value.profit import paired_profit_pvalue


@dataclass
class Decision:
    outcome: str  # promoted | rejected
    reason: str
    metrics: dict


def decide(
    champion: Scorer, challenger: Scorer, holdout: pd.DataFrame, cfg: RetrainSettings, campaign: Campaign | None = None
) -> Decision:
    """Both models on the same holdout: promote only if the challenger beats the champion on
    ``[retrain] metric`` — ROC-AUC by ``min_improvement``, or the campaign's expected profit at each
    model's own threshold by ``min_profit_gain`` per customer — the paired bootstrap says the gain is not
    chance, and it passes the floors."""
    y = holdout[champion.schema.target].to_numpy().astype(int)
    by_profit = cfg.metric == "expected_profit"
    paired = compare(
        champion, challenger, holdout, y, "holdout", bootstrap=0 if by_profit else cfg.bootstrap, seed=cfg.seed
    )
    champion_metrics, challenger_metrics = paired.metrics[champion.version], paired.metrics[challenger.version]
    gain = challenger_metrics["roc_auc"] - champion_metrics["roc_auc"]
    metrics = {
        "holdout_rows": len(y),
        "metric": cfg.metric,
        "champion": champion_metrics,
        "challenger": challenger_metrics,
        "roc_auc_gain": gain,
        "bootstrap_p_value": paired.p_value,
    }
    if by_profit:
        if campaign is None:
            raise UsageError("[retrain] metric = expected_profit needs [value] settings")
        failures, won = _profit_gate(
            champion, challenger, paired.scores, y, campaign.values(holdout, "holdout"), campaign, cfg, metrics
        )
    else:
        failures, won = (
            _roc_auc_gate(gain, paired.p_value, cfg),
            (
                f"challenger ROC-AUC {challenger_metrics['roc_auc']:.4f} beats the champion's "
                f"{champion_metrics['roc_auc']:.4f} by {gain:+.4f}"
                + (f" (bootstrap p = {paired.p_value:.3f})" if paired.p_value is not None else "")
            ),
        )
    if challenger_metrics["roc_auc"] < cfg.min_roc_auc:
        failures.append(f"ROC-AUC {challenger_metrics['roc_auc']:.4f} below the floor {cfg.min_roc_auc}")
    if challenger_metrics["pr_auc"] < cfg.min_pr_auc:
        failures.append(f"PR-AUC {challenger_metrics['pr_auc']:.4f} below the floor {cfg.min_pr_auc}")
    return Decision("rejected" if failures else "promoted", "; ".join(failures) or won, metrics)


def _roc_auc_gate(gain: float, p_value: float | None, cfg: RetrainSettings) -> list[str]:
    failures = []
    if gain < cfg.min_improvement:
        failures.append(f"ROC-AUC gain {gain:+.4f} is below the required {cfg.min_improvement:.4f}")
    if p_value is not None and p_value > cfg.max_p_value:
        failures.append(f"paired bootstrap p-value {p_value:.3f} > {cfg.max_p_value}")
    return failures


def _profit_gate(
    champion: Scorer,
    challenger: Scorer,
    scores: dict[str, np.ndarray],
    y: np.ndarray,
    values: np.ndarray,
    campaign: Campaign,
    cfg: RetrainSettings,
    metrics: dict,
) -> tuple[list[str], str]:
    """The expected profit of contacting the customers each model flags at its own threshold, per
    customer of the holdout, and the paired bootstrap of the difference (rows resampled together)."""
    outcome = campaign.outcome(y, values)
    rows = {m.version: np.where(scores[m.version] >= m.threshold, outcome, 0.0) for m in (champion, challenger)}
    profit = {role: float(rows[m.version].mean()) for role, m in (("champion", champion), ("challenger", challenger))}
    gain = profit["challenger"] - profit["champion"]
    p_value = paired_profit_pvalue(y, rows[champion.version], rows[challenger.version], cfg.bootstrap, cfg.seed)
    metrics.update(profit_per_customer=profit, profit_gain=gain, bootstrap_p_value=p_value, campaign=campaign.to_dict())
    failures = []
    if gain < cfg.min_profit_gain or gain <= 0:
        failures.append(
            f"expected profit gain {gain:+,.2f} per customer is not above the required {cfg.min_profit_gain:,.2f}"
        )
    if p_value is not None and p_value > cfg.max_p_value:
        failures.append(f"paired bootstrap p-value {p_value:.3f} > {cfg.max_p_value}")
    won = (
        f"challenger's expected profit {profit['challenger']:,.2f} per customer beats the champion's "
        f"{profit['champion']:,.2f} by {gain:+,.2f}"
        + (f" (bootstrap p = {p_value:.3f})" if p_value is not None else "")
    )
    return failures, won
