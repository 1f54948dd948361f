"""predict --input: score a CSV/Parquet batch (a file, folder, glob or URL of parts) with a model version,
in bounded memory, on any engine (JSON rows are :mod:`churnctl.lifecycle.predict`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churnctl.config import Settings
from churnctl.contract.frames import check_header, merge_unseen, prepare_features
from churnctl.contract.rows import unseen_warnings
from churnctl.data import outputs
from churnctl.data.sources import Part, resolve
from churnctl.errors import ClusterError, DataError, UsageError, preview
from churnctl.lifecycle.results import Result, warn
from churnctl.model.predictions import prediction_columns
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
from churnctl.runtime.engine import Engine, LocalEngine
from churnctl.runtime.progress import Progress, no_progress
from churnctl.value.campaign import Campaign
from churnctl.value.ranking import COST, ROW, VALUE, ContactList, Shortlist, contact_list, shortlist_limit

log = logging.getLogger(__name__)


def score(
    scorer: Scorer, frame: pd.DataFrame, *, source: str = "input", row_offset: int = 0
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Predictions for ``frame``: identifiers present in it, then the prediction columns."""
    X, unseen = prepare_features(frame, scorer.schema, source=source, row_offset=row_offset)
    proba = scorer.predict_proba(X)
    out = pd.DataFrame(index=frame.index)
    for name in scorer.schema.identifier_names:
        if name in frame.columns:
            out[name] = frame[name].to_numpy()
    for name, values in prediction_columns(proba, scorer.threshold, scorer.high).items():
        out[name] = values
    out["model_version"] = scorer.version
    return out, unseen


@dataclass
class PredictFileResult(Result):
    model_version: str
    input: str
    output: str | None
    n_rows: int
    n_churn: int
    risk_levels: dict
    mean_probability: float
    warnings: list[str] = field(default_factory=list)
    contact: dict | None = None  # with --rank, --top or --budget: the list's size, cost and saving
    customers: list[dict] | None = field(default=None, repr=False)  # the list, when it went to no file


@dataclass
class Ranking:
    """``--rank``, ``--top K``, ``--budget AMOUNT``: rank customers by the expected net value of
    contacting them, keeping the best ``top`` or those the budget pays for."""

    campaign: Campaign
    top: int | None = None
    budget: float | None = None

    @property
    def limit(self) -> int | None:
        return shortlist_limit(self.campaign, self.top, self.budget)


@dataclass
class PredictJob:
    """What every part of a batch needs (sent once to each worker of a cluster)."""

    model: Scorer
    batch_rows: int = 100_000
    identifiers: list[str] = field(default_factory=list)  # the first part's identifier columns: every part's
    folder: str | None = None  # an engine of other processes: where each part's predictions are written
    names: dict[str, str] = field(default_factory=dict)  # part -> its file name in ``folder``
    writer: outputs.TableWriter | Shortlist | None = None  # in this process: the one output, part after part
    progress: Progress = no_progress  # (in this process only)
    ranking: Ranking | None = None  # rank by expected net value (parts of a cluster return their shortlists)

    def __getstate__(self) -> dict:
        """Sent to workers without what only this process has (the open output, the progress display)."""
        return {**self.__dict__, "writer": None, "progress": no_progress}


@dataclass
class PredictPartial:
    n_rows: int = 0
    n_churn: int = 0
    total_p: float = 0.0
    levels: dict[str, int] = field(default_factory=lambda: {"low": 0, "medium": 0, "high": 0})
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)
    shortlist: Shortlist | None = None  # a part's best customers, scored on a cluster

    def add(self, other: PredictPartial) -> None:
        self.n_rows += other.n_rows
        self.n_churn += other.n_churn
        self.total_p += other.total_p
        for level, count in other.levels.items():
            self.levels[level] += count
        merge_unseen(self.unseen, other.unseen)


def score_part(
    part: Part,
    job: PredictJob,
    writer: outputs.TableWriter | Shortlist,
    first_row: int = 0,
    progress: Progress = no_progress,
) -> PredictPartial:
    """Score one part in batches into ``writer`` (``first_row``: rows written before it)."""
    with part.fetched() as local:
        return _score(local, job, writer, first_row, progress)


def _score(
    part: Part, job: PredictJob, writer: outputs.TableWriter | Shortlist, first_row: int, progress: Progress
) -> PredictPartial:
    schema = job.model.schema
    header = part.header()
    check_header(header, schema, part.name)
    absent = [n for n in job.identifiers if n not in header]
    if absent:
        raise DataError(
            f"{part.name} lacks the identifier column(s) {preview(absent)} of the input's first part",
            hint="give every part the same columns",
        )
    done = PredictPartial()
    campaign = job.ranking.campaign if job.ranking else None
    columns = schema.feature_names + job.identifiers
    columns += [c for c in (campaign.columns if campaign else ()) if c not in columns]
    for batch in part.batches(columns, job.batch_rows, schema.numeric_names):
        batch.index = pd.RangeIndex(first_row + done.n_rows, first_row + done.n_rows + len(batch))
        predictions, unseen = score(job.model, batch, source=part.name, row_offset=done.n_rows)
        if campaign is not None:
            p = predictions["churn_probability"].to_numpy()
            predictions[VALUE] = campaign.net_value(p, campaign.values(batch, part.name))
            predictions[COST] = campaign.expected_cost(p)
            predictions[ROW] = batch.index.to_numpy() + 1
        writer.write(predictions)
        merge_unseen(done.unseen, unseen)
        done.n_rows += len(batch)
        done.n_churn += int(predictions["churn_label"].sum())
        done.total_p += float(predictions["churn_probability"].sum())
        for level, count in predictions["risk_level"].value_counts().items():
            done.levels[str(level)] += int(count)
        progress("scoring rows", first_row + done.n_rows, None)
    return done


def predict_part(part: Part, offset: int, job: PredictJob) -> PredictPartial:
    """A part's predictions (``offset``: the input's rows before it): appended to the job's one output
    in this process, or written as one Parquet file in the job's folder by another (a part without
    rows then gets a file without rows, with the columns of the others)."""
    if job.writer is not None:
        return score_part(part, job, job.writer, offset, job.progress)
    if job.ranking is not None:  # on a cluster: the part's own shortlist comes back (rows from 1 within it)
        shortlist = Shortlist(job.ranking.limit)
        done = score_part(part, job, shortlist, offset)
        done.shortlist = shortlist
        return done
    assert job.folder is not None
    # The folder is the run's staging folder: never created here (gone means the run was stopped).
    with outputs.TableWriter(Path(job.folder) / job.names[part.location], make_parents=False) as writer:
        done = score_part(part, job, writer)
        if done.n_rows == 0:
            writer.write(_no_predictions(job.identifiers))
        return done


def _no_predictions(identifiers: list[str]) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {name: pd.Series([], dtype=object) for name in identifiers}
    columns.update(
        churn_probability=pd.Series([], dtype=float),
        churn_label=pd.Series([], dtype=int),
        risk_level=pd.Series([], dtype=object),
        confidence=pd.Series([], dtype=float),
        model_version=pd.Series([], dtype=object),
    )
    return pd.DataFrame(columns)


def predict_file(
    registry: Registry,
    settings: Settings,
    input_path: str,
    *,
    output: str | None = None,
    version: str | None = None,
    batch_rows: int = 100_000,
    progress: Progress = no_progress,
    engine: Engine | None = None,
    label: str | None = None,
    ranking: Ranking | None = None,
    return_list: bool = False,
) -> PredictFileResult:
    """Score a CSV/Parquet input (a file, folder, glob or URL of parts) in batches, with bounded memory:
    into one CSV/Parquet file (or CSV on stdout) in this process, or with a Dask ``engine`` into a
    folder of Parquet files, one per part, published when every part is done. ``label`` names a
    single input file in messages (``stdin``). With ``ranking``, the output is the campaign list
    instead (one file; with ``return_list`` and no ``output``, in the result)."""
    started = time.monotonic()
    model = Scorer.load(registry, settings, version, eager=True)
    job = PredictJob(model, batch_rows, ranking=ranking)
    source = resolve(input_path, label)
    named = label or str(input_path)
    header = source.read_header()
    check_header(header, model.schema, source.parts[0].name)  # fail early, before the work
    job.identifiers = [n for n in model.schema.identifier_names if n in header]
    engine = engine or LocalEngine()
    if ranking is not None:
        total, contact = _rank(job, source.parts, engine, progress)
    else:
        total, contact = _predict_parts(job, source.parts, engine, output, named, progress), None
    if total.n_rows == 0:
        raise DataError(f"{named} has a header but no data rows")
    customers = None
    if contact is not None:
        if output is None and return_list:
            customers = contact.customers.to_dict(orient="records")
        else:
            with outputs.TableWriter(output) as writer:
                writer.write(contact.customers)
    log.debug(
        "%d rows of %s scored by %s in %.1f s", total.n_rows, input_path, model.version, time.monotonic() - started
    )
    return PredictFileResult(
        model_version=model.version,
        input=named,
        output=output,
        n_rows=total.n_rows,
        n_churn=total.n_churn,
        risk_levels=total.levels,
        mean_probability=total.total_p / total.n_rows,
        warnings=warn(
            unseen_warnings(total.unseen, named) + (_list_warnings(contact, ranking) if contact and ranking else [])
        ),
        contact=_contact_summary(contact, ranking) if contact and ranking else None,
        customers=customers,
    )


def _predict_parts(
    job: PredictJob, parts: list[Part], engine: Engine, output: str | None, named: str, progress: Progress
) -> PredictPartial:
    """Every part's predictions into the one output (this process) or a folder of parts (a cluster)."""
    total = PredictPartial()
    if engine.in_process:
        with outputs.TableWriter(output) as writer:
            job.writer, job.progress = writer, progress
            for partial in engine.map_parts(predict_part, parts, job, offsets=True):
                total.add(partial)
            if total.n_rows == 0:  # raised inside: the writer is discarded, nothing published
                raise DataError(f"{named} has a header but no data rows")
        return total
    if output is None:
        raise UsageError(f"--engine {engine.name} writes its predictions to a folder", hint="add --output FOLDER")
    with outputs.staged_folder(output) as folder:
        job.folder, job.names = str(folder), {p.location: f"part-{i:05d}.parquet" for i, p in enumerate(parts)}
        for partial in engine.map_parts(predict_part, parts, job):
            total.add(partial)
        missing = [name for name in job.names.values() if not (folder / name).is_file()]
        if missing:
            raise ClusterError(f"the predictions of {len(missing)} part(s) did not arrive: {preview(missing)}")
        if total.n_rows == 0:
            raise DataError(f"{named} has a header but no data rows")
    return total


def _rank(job: PredictJob, parts: list[Part], engine: Engine, progress: Progress) -> tuple[PredictPartial, ContactList]:
    """The parts scored into one shortlist (a cluster's parts each return theirs, merged here)."""
    assert job.ranking is not None
    ranking, total = job.ranking, PredictPartial()
    shortlist = Shortlist(ranking.limit)
    if engine.in_process:
        job.writer, job.progress = shortlist, progress
        for partial in engine.map_parts(predict_part, parts, job, offsets=True):
            total.add(partial)
    else:
        if ranking.limit is None:
            raise UsageError("--rank on a cluster needs --top K or --budget AMOUNT", hint="or drop --engine dask")
        for partial in engine.map_parts(predict_part, parts, job, offsets=True):
            total.add(partial)
            if partial.shortlist is not None:
                shortlist.merge(partial.shortlist)
    return total, contact_list(shortlist, ranking.top, ranking.budget)


def _contact_summary(contact: ContactList, ranking: Ranking) -> dict:
    return {
        "customers": len(contact.customers),
        "considered": contact.considered,
        "expected_cost": contact.spent,
        "expected_saving": contact.saving,
        "top": ranking.top,
        "budget": ranking.budget,
        "stopped": contact.stopped,
        "campaign": ranking.campaign.to_dict(),
    }


def _list_warnings(contact: ContactList, ranking: Ranking) -> list[str]:
    losing = int((contact.customers[VALUE] <= 0).sum()) if len(contact.customers) else 0
    notes = []
    if losing and ranking.budget is None:
        notes.append(f"{losing} customer(s) of the list are expected to cost more than contacting them saves")
    if contact.stopped == "no gain":
        notes.append("the list stops before the budget is spent: contacting anyone further down loses money")
    return notes
