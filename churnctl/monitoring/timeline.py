"""The drift history as series over time: one point per chunk (or per check of an unchunked batch), the
model changes of the event log as marks, and the realised performance of late labels beside them.

A point's time is its chunk's first day, or for a whole batch the first time of its time column, else
when it was checked. Chunks of rows have no time of their own: a check chunked by rows gives one point,
its whole batch. When a check covers the same chunk of the same input with the same model again (a
year re-checked, a prediction log that has grown), the latest stands; another input, or another model
(a challenger checked beside the champion), is a point of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MARKED = ("model_promoted", "model_rolled_back")


def _point(result: dict[str, Any], chunk: dict[str, Any] | None, checked_at: str, current: str) -> dict[str, Any]:
    """One chunk (or the whole ``result`` when ``chunk`` is None) as a point of the timeline."""
    source = chunk or result
    whole = chunk is None
    e = source.get("estimated_performance") or {}
    prediction = source.get("prediction" if not whole else "prediction_drift") or {}
    performance = source.get("performance") or {}
    joint = source.get("multivariate") or {}
    profit = source.get("estimated_profit") or {}
    time_range = result.get("time_range") or {}
    if chunk is None:
        time, end = time_range.get("first") or checked_at, time_range.get("last")
    else:
        time, end = chunk["start"], chunk["end"]
    reference = (result.get("estimated_performance") or {}).get("reference_roc_auc")
    return {
        "time": time,
        "end": end,
        "checked_at": checked_at,
        "current": current,
        "model_version": result.get("model_version"),
        "n_rows": source.get("n_rows", source.get("n_current")),
        "status": source.get("status"),
        "drift_detected": bool(source.get("drift_detected")),
        "reasons": source.get("reasons") or [],
        "features": {
            name: {"effect_size": f.get("effect_size"), "threshold": f.get("effect_threshold"), "drift": f.get("drift")}
            for name, f in (source.get("features") or {}).items()
        },
        "prediction": {
            "effect_size": prediction.get("effect_size"),
            "threshold": prediction.get("effect_threshold"),
            "mean_probability": prediction.get("mean_probability", prediction.get("mean_probability_current")),
            "drift": prediction.get("drift"),
        },
        "estimated_roc_auc": None
        if e.get("roc_auc") is None
        else {
            "value": e["roc_auc"],
            "lower": e.get("roc_auc_lower"),
            "upper": e.get("roc_auc_upper"),
            "reference": reference,
        },
        "realised_roc_auc": performance.get("roc_auc"),
        "multivariate": None
        if joint.get("roc_auc") is None
        else {k: joint.get(k) for k in ("roc_auc", "bound", "drift")},
        "estimated_profit_per_customer": profit.get("profit_per_customer"),
    }


def points(documents: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The points of the kept checks (time order) and how many checks there were."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    checks = 0
    for document in documents:
        checks += 1
        result, checked_at = document["result"], document["checked_at"]
        chunking = result.get("chunking") or {}
        chunks = result.get("chunks") if chunking.get("by") not in (None, "rows") else None
        for chunk in chunks or [None]:
            point = _point(result, chunk, checked_at, document.get("current", ""))
            key = (
                point["time"],
                point["end"],
                chunking.get("by"),
                point["model_version"],
                document.get("current"),
            )
            if key not in found or found[key]["checked_at"] <= checked_at:
                found[key] = point
    return sorted(found.values(), key=lambda p: (p["time"], p["checked_at"])), checks


def marks(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Promotions and rollbacks of the event log, oldest first."""
    return [
        {
            "time": e.get("time"),
            "event": e.get("event"),
            "version": e.get("version"),
            "previous": e.get("previous"),
            "reason": e.get("reason"),
        }
        for e in events
        if e.get("event") in MARKED
    ]


def feature_order(found: list[dict[str, Any]]) -> list[str]:
    """Features, those that came closest to (or went furthest past) their threshold first."""
    worst: dict[str, float] = {}
    for point in found:
        for name, f in point["features"].items():
            effect, threshold = f.get("effect_size"), f.get("threshold")
            ratio = effect / threshold if effect is not None and threshold else 0.0
            worst[name] = max(worst.get(name, 0.0), ratio)
    return sorted(worst, key=lambda n: -worst[n])


def timeline(
    documents: Iterable[dict[str, Any]],
    events: Iterable[dict[str, Any]],
    realised: list[dict[str, Any]],
    period: str,
    since: str | None = None,
) -> dict[str, Any]:
    """Everything the history page draws, as one JSON document; with ``since`` (an ISO date), only
    what is from that day on."""
    found, checks = points(documents)
    changes = marks(events)
    if since is not None:
        found = [p for p in found if (p["end"] or p["time"])[:10] >= since]
        changes = [m for m in changes if str(m["time"])[:10] >= since]
        realised = [r for r in realised if r["period"] >= since]
    return {
        "checks": checks,
        "first": found[0]["time"] if found else None,
        "last": (found[-1]["end"] or found[-1]["time"]) if found else None,
        "features": feature_order(found),
        "points": found,
        "alerts": [
            {"time": p["time"], "end": p["end"], "model_version": p["model_version"], "reasons": p["reasons"]}
            for p in found
            if p["drift_detected"]
        ],
        "marks": changes,
        "period": period,
        "realised": realised,
    }
