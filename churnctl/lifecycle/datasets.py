"""datasets: list and show the stored dataset versions (ingested files and retrain's combined ones)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from churnctl.data.datasets import describe_source
from churnctl.errors import UsageError, preview
from churnctl.lifecycle.results import Result
from churnctl.registry import Registry, ids


@dataclass
class DatasetSummary(Result):
    dataset_id: str
    created: str
    source: str
    n_rows: int
    n_train: int
    n_test: int
    churn_rate: float
    target: str
    models: list[str]  # versions trained on it
    latest: bool  # what `train` uses without --dataset: the latest ingested (never a retrain's)


def list_datasets(registry: Registry) -> list[DatasetSummary]:
    """Every dataset version, oldest first."""
    registry.require_exists()
    found = registry.dataset_ids()
    latest = registry.latest_dataset() if found else None
    trained: dict[str, list[str]] = {}
    for version in registry.versions():
        trained.setdefault(str(registry.model_manifest(version)["dataset_id"]), []).append(version)
    summaries = []
    for dataset in found:
        manifest = registry.dataset_manifest(dataset)
        summaries.append(
            DatasetSummary(
                dataset_id=dataset,
                created=manifest["created"],
                source=describe_source(manifest),
                n_rows=manifest["n_rows"],
                n_train=manifest["n_train"],
                n_test=manifest["n_test"],
                churn_rate=manifest["churn_rate"],
                target=manifest["target"],
                models=trained.get(dataset, []),
                latest=dataset == latest,
            )
        )
    return summaries


def show_dataset(registry: Registry, dataset: str | None = None) -> dict[str, Any]:
    """A dataset's signed manifest (default: the latest) and its schema."""
    latest = registry.latest_dataset()  # also the error when nothing was ingested
    dataset = ids.dataset_argument(dataset, "DATASET") if dataset is not None else latest
    known = registry.dataset_ids()
    if dataset not in known:
        raise UsageError(f"no dataset {dataset} in {registry.root}", hint=f"datasets here: {preview(known) or 'none'}")
    shown = dict(registry.dataset_manifest(dataset))
    shown["latest"] = dataset == latest
    shown["schema"] = json.loads(registry.dataset_bytes(dataset, "schema.json"))
    return shown
