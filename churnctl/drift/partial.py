"""drift-check, one part of the input at a time, on any engine.

:func:`drift_part` summarises one part (:class:`churnctl.data.sources.Part`: a CSV/Parquet file, or one
file of a prediction log) into a :class:`DriftPartial`: its monitor's :meth:`~DriftMonitor.state` (the
per-feature counts against the reference, the missing counts, the unseen categories, and the churn
probabilities, with labels where known, of the part's rows in the scoring sample) and what reading
it found (a prediction log's skipped records). Every quantity is a count or a list in row order, so
partials merge by adding counts and concatenating lists, in part order, and the merged monitor
decides exactly as one pass over the whole input does: the same tests, p-values and verdict,
whatever the parts and wherever they were summarised. The scoring sample is the same too: each
part's draws start where the previous parts' rows end (``offset``, see
:class:`churnctl.drift.profile.RowSample`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from churnctl.config import DriftSettings
from churnctl.data.labelled import iter_labelled
from churnctl.data.sources import Part
from churnctl.drift.chunks import Chunked, ChunkedState, Chunking
from churnctl.drift.monitor import DriftMonitor
from churnctl.drift.multivariate import MultivariateReference
from churnctl.drift.profile import ReferenceProfile
from churnctl.model.scorer import Scorer
from churnctl.runtime.progress import Progress
from churnctl.value.campaign import Campaign


@dataclass
class DriftJob:
    """What every part needs: sent once to each worker of a cluster."""

    model: Scorer
    profile: ReferenceProfile
    settings: DriftSettings
    expected_rows: int | None
    batch_rows: int = 100_000
    digest: bool = True  # also the part's SHA-256, for the event log
    campaign: Campaign | None = None  # [value] settings: the scored rows' customer values are kept
    chunking: Chunking = field(default_factory=lambda: Chunking(None))  # chunks of time or rows (or none)
    multivariate: MultivariateReference | None = None  # the domain classifier's reference sample
    reference: Any = None  # the reference rows (this process only: bounds are computed here)

    def __getstate__(self) -> dict:
        """Sent to workers without what only this process uses (the reference rows, the progress display)."""
        return {**self.__dict__, "reference": None, "progress": None}

    progress: Progress | None = None  # rows done so far, batch by batch (this process only: not shipped)


@dataclass
class DriftPartial:
    """A part's summary: its monitor's state, its SHA-256, and what reading it found (None for files
    that are read whole or refused; a prediction log's counts of skipped records)."""

    state: ChunkedState
    sha256: str | None = None
    reading: Any = None

    @property
    def n_rows(self) -> int:
        return self.state.n_rows


def monitor_for(job: DriftJob, offset: int = 0) -> DriftMonitor:
    """A monitor for the batch (scoring its sample from ``offset``), or for one chunk (scoring every row)."""
    chunked = job.chunking.chunked
    return DriftMonitor(
        job.model,
        job.profile,
        job.settings,
        importance=job.model.manifest.get("feature_importance"),
        expected_rows=None if chunked else job.expected_rows,
        sample_offset=0 if chunked else offset,
        campaign=job.campaign,
        multivariate=job.multivariate,
    )


def chunked_for(job: DriftJob, offset: int = 0) -> Chunked:
    return Chunked(lambda: monitor_for(job, offset), job.chunking, offset)


def drift_part(part: Part, offset: int, job: DriftJob) -> DriftPartial:
    """Summarise one part whose first row is row ``offset`` of the whole input."""
    with part.fetched() as local:
        monitor = chunked_for(job, offset)
        extra = (
            *(job.campaign.columns if job.campaign else ()),
            *([job.chunking.column] if job.chunking.column else []),
        )
        for batch in iter_labelled(
            local, job.model.schema, batch_rows=job.batch_rows, require_target=False, extra=extra
        ):
            if len(batch.frame):
                monitor.update(batch.frame, source=part.name, labels=batch.y, labelled=batch.labelled)
            if job.progress is not None:
                job.progress("checking rows", offset + monitor.n_rows, None)
        return DriftPartial(
            state=monitor.state(), sha256=local.sha256() if job.digest else None, reading=local.reading()
        )
