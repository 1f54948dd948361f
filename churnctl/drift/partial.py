"""drift-check, one part of the input at a time, on any engine.

:func:`drift_part` summarises one part (:class:`churnctl.data.sources.Part`) into a :class:`DriftPartial`:
the per-feature counts against the reference, the missing counts, the unseen categories, and the
churn probabilities (with labels where known) of the part's rows in the scoring sample. Every
quantity is a count or a list in row order, so partials merge by adding counts and concatenating
lists, in part order (:func:`merge`), and the merged monitor decides exactly as one pass over the
whole input does: the same tests, p-values and verdict, whatever the parts and wherever they were
summarised. The scoring sample is the same too: each part's draws start where the previous parts'
rows end (``offset``, see :class:`churnctl.drift.profile.RowSample`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from churnctl.config import DriftSettings
from churnctl.contract.frames import check_header, merge_unseen
from churnctl.data.sources import Part
from churnctl.drift.monitor import DriftMonitor
from churnctl.drift.profile import ReferenceProfile
from churnctl.model.loading import LoadedModel
from churnctl.runtime.progress import Progress


@dataclass
class DriftJob:
    """What every part needs: sent once to each worker of a cluster."""

    model: LoadedModel
    profile: ReferenceProfile
    settings: DriftSettings
    expected_rows: int | None
    batch_rows: int = 100_000
    digest: bool = True  # also the part's SHA-256, for the event log
    progress: Progress | None = None  # rows done so far, batch by batch (this process only: not shipped)


@dataclass
class DriftPartial:
    """A part's counts (each accumulator's ``state()``: without the reference, which the client has)."""

    n_rows: int
    n_scored: int
    accumulators: dict[str, tuple]
    scores: tuple
    unseen: dict[str, dict[str, int]]
    scored: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    sha256: str | None = None


def monitor_for(job: DriftJob, offset: int = 0) -> DriftMonitor:
    return DriftMonitor(
        job.model,
        job.profile,
        job.settings,
        importance=job.model.manifest.get("feature_importance"),
        expected_rows=job.expected_rows,
        sample_offset=offset,
    )


def drift_part(part: Part, offset: int, job: DriftJob) -> DriftPartial:
    """Summarise one part whose first row is row ``offset`` of the whole input."""
    with part.fetched() as local:
        return _summarise(local, offset, job)


def _summarise(part: Part, offset: int, job: DriftJob) -> DriftPartial:
    schema = job.model.schema
    header = part.header()
    check_header(header, schema, part.name)
    columns = schema.feature_names + ([schema.target] if schema.target in header else [])
    monitor = monitor_for(job, offset)
    for batch in part.batches(columns, job.batch_rows, schema.numeric_names):
        monitor.update(batch, source=part.name)
        if job.progress is not None:
            job.progress("checking rows", offset + monitor.n_rows, None)
    return DriftPartial(
        n_rows=monitor.n_rows,
        n_scored=monitor.n_scored,
        accumulators={name: accumulator.state() for name, accumulator in monitor.accumulators.items()},
        scores=monitor.scores.state(),
        unseen=monitor.unseen,
        scored=monitor._scored,
        labels=monitor._labels,
        sha256=part.sha256() if job.digest else None,
    )


def merge(monitor: DriftMonitor, partial: DriftPartial) -> None:
    """Add a part's summary to ``monitor`` (parts in input order)."""
    for name, accumulator in monitor.accumulators.items():
        accumulator.merge(partial.accumulators[name])
    monitor.scores.merge(partial.scores)
    merge_unseen(monitor.unseen, partial.unseen)
    monitor._scored += partial.scored
    monitor._labels += partial.labels
    monitor.n_rows += partial.n_rows
    monitor.n_scored += partial.n_scored
