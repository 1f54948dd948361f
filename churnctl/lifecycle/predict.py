"""predict --json: score JSON rows with a model version, through the one scorer
(:class:`churnctl.model.scorer.Scorer`), which decides between the compiled model and the
scikit-learn pipeline. Nothing here imports pandas or scikit-learn: a cold ``predict --json`` stays
fast (batches are :mod:`churnctl.lifecycle.predict_batch`)."""

from __future__ import annotations

from churnctl.config import Settings
from churnctl.contract.rows import parse_json_rows, read_json_input
from churnctl.model.scorer import PredictRowsResult, Scorer
from churnctl.registry import Registry


def predict_rows(
    registry: Registry,
    settings: Settings,
    rows: list[dict],
    single: bool,
    name: str,
    *,
    version: str | None = None,
    explain: bool = False,
) -> PredictRowsResult:
    """Score parsed JSON rows (``single``: the input was one object; ``name`` names it in messages) with
    ``version`` (default: current); with ``explain``, each prediction gets its top ``reasons``."""
    return Scorer.load(registry, settings, version).score_rows(rows, single, name, explain=explain)


def predict_json(
    registry: Registry, settings: Settings, source: str, *, version: str | None = None, explain: bool = False
) -> PredictRowsResult:
    """Score the rows of a JSON file, or of standard input for ``-``: one object, an array of objects,
    or JSON Lines (the result says which, to answer in the same shape)."""
    text, name = read_json_input(source)
    rows, single = parse_json_rows(text, name)
    result = predict_rows(registry, settings, rows, single, name, version=version, explain=explain)
    result.lines = not single and text.lstrip("\ufeff \t\r\n").startswith("{")
    return result
