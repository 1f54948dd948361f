"""Ingest of tables larger than memory: the passes of :mod:`churnctl.data.part_tasks` put together.

:func:`plan_stream` runs the passes that decide (the survey, and whether an identifier repeats), infers
the contract on the sample and runs the leak guard on the sample's training rows; :func:`write_stream`
runs the pass that writes; :func:`exact_schema`, :func:`stream_fields` and :func:`stream_warnings`
turn the merged results into the schema, the manifest's fields and what to say. The caller (``ingest``)
holds the registry's lock around the writing pass, names the dataset and publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.inference import infer_schema
from churnctl.contract.labels import resolve_target_name
from churnctl.contract.leaks import Exclusion, leak_guard
from churnctl.contract.schema import Schema
from churnctl.data.part_tasks import (
    IdentifierJob,
    Merged,
    SplitRule,
    SurveyJob,
    WriteJob,
    check_sides,
    content_keys,
    identifier_part,
    merge_surveys,
    merge_written,
    repeating_identifiers,
    sample_rate,
    survey_part,
    write_part,
)
from churnctl.data.sources import Source
from churnctl.data.split import duplicate_keys, time_cutoff, time_details
from churnctl.errors import DataError
from churnctl.registry.files import Staged
from churnctl.runtime.engine import Engine


@dataclass
class StreamPlan:
    """What passes 1 and 2 decided: the contract (after the leak guard), the split rule, and what to say."""

    header: list[str]
    schema: Schema
    rule: SplitRule
    details: dict[str, Any]  # the split, for the manifest
    exclusions: list[Exclusion]
    warnings: list[str]
    checksum: str
    sample_rows: int
    times: tuple[np.ndarray, np.ndarray] | None


def plan_stream(source: Source, engine: Engine, n_rows: int, **options: Any) -> StreamPlan:
    """Passes 1 and 2, the contract inferred on the sample and the leak guard on its training rows.
    ``options``: target, positive, keep, group, time, test_size, test_from, seed, leak_auc."""
    o = options
    header = source.read_header()
    target = resolve_target_name(header, o["target"])
    job = SurveyJob(header, target, o["time"], sample_rate(n_rows), o["seed"])
    surveys = engine.map_parts(survey_part, source.parts, job)
    checksum = source.sha256([s.sha256 for s in surveys])
    sample, times = merge_surveys(surveys, header)
    del surveys
    if not len(sample):
        raise DataError(f"{source.spec} has a header but no data rows", hint="expected at least one customer row")
    inferred = infer_schema(sample, o["target"], o["positive"], keep=o["keep"], group=o["group"], time=o["time"])
    schema = inferred.schema
    warnings = [f"in the {len(sample):,}-row sample the contract was inferred on: {w}" for w in inferred.warnings]
    if schema.group_column is None and schema.identifier_names:  # a customer id repeating beyond the sample
        warnings += _group_by_repeating_identifier(source, engine, header, schema)
    rule = SplitRule(o["seed"], o["test_size"], schema.group_column, schema.time_column)
    rule.columns = [*schema.feature_names, schema.target]
    details: dict[str, Any] = {
        "rule": "a seeded hash of each row's " + ("group" if rule.group else "features and label")
    }
    if rule.time is not None and times is not None:
        periods, counts = times
        example = pd.Series(periods[:1], name=rule.time)
        rule.cutoff = time_cutoff(periods, counts, o["test_size"], o["test_from"], example, source.spec)
        details = time_details(rule.time, periods, counts, rule.cutoff)
    typed = inferred.frame  # in the order of its typed content (however a CSV or a Parquet file spells it)
    typed = typed.iloc[np.argsort(content_keys(typed), kind="stable")].reset_index(drop=True)
    train = typed.loc[~rule.test_rows(typed, duplicate_keys(typed, rule.columns))]
    y = train[schema.target].to_numpy()
    schema, exclusions, guard = leak_guard(schema, train, y, leak_auc=o["leak_auc"], keep=o["keep"], seed=o["seed"])
    if not schema.features:
        raise DataError(
            "every feature column is a suspected leak or excluded",
            hint="if a column is known before churn happens, keep it with --keep-column COL",
        )
    return StreamPlan(header, schema, rule, details, exclusions, warnings + guard, checksum, len(sample), times)


def _group_by_repeating_identifier(source: Source, engine: Engine, header: list[str], schema: Schema) -> list[str]:
    identifiers = schema.identifier_names
    found = engine.map_parts(identifier_part, source.parts, IdentifierJob(header, schema.target, identifiers))
    repeating = repeating_identifiers(found, identifiers)
    if not repeating:
        return []
    schema.group_column = repeating[0]
    return [
        f"rows repeat per {repeating[0]!r} ({schema.column(repeating[0]).reason}): it is used as the group, "
        "so every row of one value stays on one side of the split and in one cross-validation fold "
        "(--group-column to choose another)"
    ]


def write_stream(plan: StreamPlan, staged: Staged, engine: Engine, source: Source) -> Merged:
    """Pass 3 into ``staged``, merged and checked (both classes on both sides)."""
    leaked = [e.name for e in plan.exclusions]
    job = WriteJob(plan.header, plan.schema, plan.rule, staged, dropped=leaked)
    merged = merge_written(engine.map_parts(write_part, source.parts, job), plan.schema, plan.header)
    staged.files.update(merged.files)
    check_sides(merged.counts, plan.rule.describe(), source.spec)
    return merged


def exact_schema(plan: StreamPlan, merged: Merged) -> Schema:
    """The contract with what every row showed: the features' statistics, the labels' counts, the times."""
    schema = merged.tally.apply(plan.schema)
    totals = merged.counts["train"] + merged.counts["test"]
    schema.column(schema.target).categories = {
        schema.positive_label: int(totals[1]),
        schema.negative_label: int(totals[0]),
    }
    if plan.rule.time is not None and plan.times is not None:
        schema.column(plan.rule.time).n_unique = len(plan.times[0])
    return schema


def stream_fields(plan: StreamPlan, merged: Merged, rows_read: int, engine: str) -> dict[str, Any]:
    """The manifest's counts, split, duplicates, leaks and parts of a streamed dataset."""
    n = merged.n_labelled
    totals = merged.counts["train"] + merged.counts["test"]
    return {
        "n_rows": n,
        "n_train": int(merged.counts["train"].sum()),
        "n_test": int(merged.counts["test"].sum()),
        "class_counts": {side: [int(c) for c in merged.counts[side]] for side in ("train", "test")},
        "churn_rate": float(totals[1] / n),
        "n_unlabelled": merged.n_unlabelled,
        "split": {"kind": plan.rule.describe(), **plan.details},
        "duplicates": merged.duplicates,
        "duplicate_share": merged.duplicates / n,
        "group_column": plan.schema.group_column,
        "time_column": plan.schema.time_column,
        "leaks": [{"name": e.name, "alone_auc": e.auc, "why": e.why} for e in plan.exclusions],
        "parts": {"train": merged.train_parts, "test": merged.test_parts},
        "streamed": {"rows_read": rows_read, "sample_rows": plan.sample_rows, "engine": engine},
    }


def stream_warnings(merged: Merged, schema: Schema) -> list[str]:
    warnings = [
        f"column {name!r} is numeric but {count} cell(s) are not numbers and were read as missing"
        for name, count in merged.not_numbers.items()
    ]
    if merged.n_unlabelled:
        warnings.append(f"{merged.n_unlabelled} row(s) without a value in target {schema.target!r} were left out")
    if merged.duplicates:
        warnings.append(
            f"{merged.duplicates} row(s) ({merged.duplicates / merged.n_labelled:.1%}) repeat another row exactly "
            "(identifiers ignored): each set of twins stays on one side of the split"
        )
    return warnings
