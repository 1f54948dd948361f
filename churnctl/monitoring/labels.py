"""Late labels: whether a customer churned is known weeks after they were scored. Labels (an id and the
target) are joined to the predictions already made — the prediction log of ``churnctl serve`` and the
files of ``churnctl predict --output`` — and the model's realised performance is measured per period
of the predictions' time and per model version.

A labelled prediction is keyed by (id, model version, origin: the log record's time and request, or
the content of the scored file that holds it): adding the same labels again, or labels that overlap,
or a copy of a scored file, adds nothing twice, and a prediction keeps the first label it was given.
Within one period and version a customer counts once, with their latest prediction there (a customer
scored every day for a month is one customer of that month, not thirty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnctl.drift.chunks import PERIODS
from churnctl.errors import DataError, UsageError, preview

# A prediction is known by its id, version and origin: a log record's time and request, or the SHA-256
# of the scored file that holds it (not its path or modification time: a copy is the same prediction).
KEY = ["id", "model_version", "origin"]
PREDICTION = ["id", "predicted_at", "model_version", "churn_probability", "churn_label", "source", "origin"]
JOINED = [*PREDICTION, "label", "labels_sha256"]


def normalise_ids(values: pd.Series) -> pd.Series:
    """Ids as text that match however a file typed them: ``15000379``, ``15000379.0`` and ``"15000379 "``
    are one customer; missing ids stay missing."""
    text = values.astype("string").str.strip()
    return text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True).replace("", pd.NA)


def label_frame(ids: pd.Series, labels: np.ndarray, labelled: np.ndarray, where: str) -> tuple[pd.DataFrame, int]:
    """The labels of a file as (id, label), and how many rows carried no label yet (left out). An id
    that appears twice is refused: which of its labels is true?"""
    frame = pd.DataFrame({"id": normalise_ids(ids.reset_index(drop=True)), "label": labels.astype("int8")})
    missing = frame["id"].isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:5] + 1
        raise DataError(
            f"{where}: {int(missing.sum())} row(s) have no id (row {preview([int(r) for r in rows])})",
            hint="give every labelled row its customer's id",
        )
    frame = frame[labelled].reset_index(drop=True)
    repeated = frame["id"][frame["id"].duplicated()].unique()
    if len(repeated):
        raise DataError(
            f"{where}: {len(repeated)} id(s) appear more than once, e.g. {preview(list(repeated[:5]))}",
            hint="give each customer one label per file",
        )
    return frame, int((~labelled).sum())


@dataclass
class Joined:
    """What adding one labels file did."""

    new: pd.DataFrame  # labelled predictions not seen before (JOINED columns)
    labels: int  # ids with a label in the file
    matched: int  # of them, ids found among the predictions
    unmatched: list[str] = field(default_factory=list)  # ids not found (all of them)
    already: int = 0  # predictions labelled before (the same label): not counted again
    conflicting: int = 0  # predictions labelled before with another label: they keep the first


def join(labels: pd.DataFrame, predictions: pd.DataFrame, known: pd.DataFrame, sha256: str) -> Joined:
    """Join ``labels`` (id, label) to every prediction of those ids; drop what ``known`` (the labelled
    predictions stored so far) already holds."""
    predictions = predictions.assign(predicted_at=utc(predictions["predicted_at"]))
    merged = predictions.merge(labels, on="id", how="inner")
    matched = set(merged["id"])
    unmatched = [i for i in labels["id"] if i not in matched]
    merged["labels_sha256"] = sha256
    already = conflicting = 0
    if len(known) and len(merged):
        before = known[[*KEY, "label"]].rename(columns={"label": "known_label"})
        merged = merged.merge(before, on=KEY, how="left")
        seen = merged["known_label"].notna().to_numpy()
        already = int((seen & (merged["known_label"] == merged["label"])).sum())
        conflicting = int(seen.sum()) - already
        merged = merged[~seen].drop(columns="known_label")
    new = merged.drop_duplicates(KEY)[JOINED].reset_index(drop=True)
    return Joined(new, len(labels), len(matched), unmatched, already, conflicting)


def check_period(period: str) -> None:
    """A period monitoring groups by: day, week (from Monday) or month."""
    if period not in PERIODS:
        raise UsageError(f"unknown period {period!r}", hint=f"choose one of {', '.join(PERIODS)}")


def utc_time(text: str, option: str) -> pd.Timestamp:
    """A date or time typed for ``option``, in UTC (a time without a zone is UTC)."""
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise UsageError(f"{option} {text!r} is not a date or time", hint="give a date such as 2026-11-30")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def utc(times: pd.Series) -> pd.Series:
    """Times as one type, ``datetime64[ns, UTC]``, whatever resolution and time zone object they came in."""
    return pd.to_datetime(times, utc=True).astype("datetime64[ns, UTC]")


def period_start(times: pd.Series, period: str) -> pd.Series:
    """The first day (ISO date) of each time's day, week (from Monday) or month, in UTC."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None) if times.dt.tz is not None else times
    return naive.dt.to_period(PERIODS[period]).dt.start_time.dt.strftime("%Y-%m-%d")


def realised(joined: pd.DataFrame, period: str = "month", version: str | None = None) -> list[dict[str, Any]]:
    """Realised performance per period and model version (period order, then version), each customer
    once per period and version (their latest prediction there)."""
    if version is not None:
        joined = joined[joined["model_version"] == version]
    if joined.empty:
        return []
    frame = joined.assign(period=period_start(utc(joined["predicted_at"]), period))
    frame = frame.sort_values("predicted_at").drop_duplicates(["period", "model_version", "id"], keep="last")
    out = []
    for (start, model_version), group in frame.groupby(["period", "model_version"], sort=True):
        out.append({"period": start, "model_version": model_version, **metrics(group)})
    return out


def metrics(group: pd.DataFrame) -> dict[str, Any]:
    """ROC-AUC and PR-AUC of the probabilities (None with one class only), precision and recall of the
    labels the model gave, Brier score, and the churn rate against the mean probability."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = group["label"].to_numpy(dtype=int)
    proba = group["churn_probability"].to_numpy(dtype=float)
    flagged = group["churn_label"].to_numpy(dtype=int) == 1
    both = 0 < y.sum() < len(y)
    tp = int((flagged & (y == 1)).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else None
    recall = tp / int(y.sum()) if y.any() else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "n_rows": len(y),
        "churners": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, proba)) if both else None,
        "pr_auc": float(average_precision_score(y, proba)) if both else None,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "brier": float(brier_score_loss(y, proba, pos_label=1)),
        "churn_rate": float(y.mean()),
        "mean_probability": float(proba.mean()),
    }
