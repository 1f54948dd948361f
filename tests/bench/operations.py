"""What each operation is compared with, and the issue's targets for it.

Every group of commands below is measured with :func:`alternate`: ours, its anchor and the peer
take turns within each round.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bench.measure import Command, Series, alternate, succeeded
from tests.bench.report import MIB_PER_GB, Row, Target
from tests.bench.workspace import FLOORS, PEER_SCRIPT, Artifacts, BenchError, Peer, Workspace

OPERATIONS = (
    "help", "predict-json", "drift-check", "predict-input", "train", "train-wide", "serve", "dask", "ingest", "monitor",
    "lifecycle",
)  # fmt: skip
HELP_OP, JSON_OP, DRIFT_OP, PREDICT_OP, TRAIN_OP, WIDE_OP, SERVE_OP, DASK_OP, INGEST_OP, MONITOR_OP, LIFECYCLE_OP = (
    OPERATIONS
)
DEFAULT_OPERATIONS = OPERATIONS[:-1]  # the lifecycle at 20M rows takes a while: asked for by name
HELP, DRIFT_DEFAULT, DRIFT_LOGREG = "churnctl --help", "drift-check, default model", "drift-check, logreg"
PREDICT_INPUT, TRAIN = "predict --input, default model", "train (auto)"
FLAT_MEMORY = {PREDICT_INPUT}  # operations whose peak RSS must not grow with the rows


@dataclass
class Context:
    ws: Workspace
    repeats: int
    peer: Peer | None
    operations: set[str]
    notes: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def measure(self, commands: dict[str, Command], label: str) -> dict[str, Series]:
        return alternate(commands, self.repeats, self.ws.env, self.ws.work, label)


def python(code: str) -> Command:
    return Command([sys.executable, "-c", code])


def floor(job: str, *args: object) -> Command:
    return Command([sys.executable, str(FLOORS), job, *map(str, args)])


def ratio_target(label: str, ours: Series, anchor: Series, limit: float) -> Target:
    return Target(label, ours.median / anchor.median, limit)


def rss_target(series: Series, gigabytes: float) -> Target:
    return Target(f"RSS ≤ {gigabytes:g} GB", series.rss_mib, gigabytes * MIB_PER_GB)


def model_manifest(artifacts: Artifacts, version: str | None = None) -> dict:
    if version is None:
        version = json.loads((artifacts.root / "current.json").read_text())["current"]
    return json.loads((artifacts.root / "models" / version / "manifest.json").read_text())


def describe_model(manifest: dict) -> str:
    skipped = len(manifest.get("skipped_candidates") or [])
    cut = f", {skipped} candidate(s) cut by the time budget" if skipped else ""
    return f"{manifest['version']} = {manifest['estimator']} {manifest['params']}{cut}"


def startup(ctx: Context, reference: Path) -> list[Row]:
    """Cold processes: ``churnctl --help`` and one-row ``predict --json`` of each model family."""
    ws, commands = ctx.ws, {}
    if HELP_OP in ctx.operations:
        commands[HELP] = Command([*ws.churnctl, "--help"])
        commands["python -c pass"] = python("pass")
    families = ("logreg", "hgb") if JSON_OP in ctx.operations else ()
    if families:
        row = ws.row()
        for family in families:
            artifacts = ws.ingest(f"json-{family}", reference)
            ws.train(artifacts, "--model", family)
            commands[family] = Command(ws.cli(artifacts.root, "predict", "--json", str(row)))
        commands["import sklearn"] = python("import sklearn")
        ctx.notes.append(
            f"`predict --json`: one row ({row.name}), a new process each time, models trained with "
            f"`churnctl train --model logreg|hgb` on {reference.name} in separate artifacts directories."
        )
    if not commands:
        return []
    results = ctx.measure(commands, "startup")
    rows = []
    if HELP in results:
        help_ = results[HELP]
        rows.append(
            Row(HELP, 0, help_, results["python -c pass"], scales=False, targets=[Target("≤ 0.2 s", help_.median, 0.2)])
        )
    for family in families:
        ours, anchor = results[family], results["import sklearn"]
        targets = [Target("≤ 0.4 s", ours.median, 0.4), ratio_target("≤ 0.3× import sklearn", ours, anchor, 0.3)]
        rows.append(Row(f"predict --json ({family})", 1, ours, anchor, scales=False, targets=targets))
    return rows


def at_size(ctx: Context, rows: int) -> list[Row]:
    """drift-check, predict --input and train on ``rows`` rows (reference and current files)."""
    ws, ops, out = ctx.ws, ctx.operations, []
    reference = ws.reference(rows)
    if INGEST_OP in ops:
        out.append(ingest(ctx, reference, rows))
    artifacts = ws.ingest(f"artifacts-{rows}", reference)
    if TRAIN_OP in ops:
        out.append(train(ctx, artifacts, rows))
    else:
        ws.train(artifacts)  # the default model, untimed
    ctx.notes.append(f"Default model at {rows:,} rows: {describe_model(model_manifest(artifacts))}.")
    if DRIFT_OP in ops:
        out += drift_check(ctx, artifacts, rows, reference)
    if PREDICT_OP in ops:
        out.append(predict_input(ctx, artifacts, rows))
    if MONITOR_OP in ops and rows == min(ctx.sizes or [rows]):
        out.append(monitor(ctx, artifacts, rows))
    return out


def ingest(ctx: Context, reference: Path, rows: int) -> Row:
    """``churnctl ingest`` into a new artifacts directory each round (the contract, the guards, the split,
    the stored dataset) against pyarrow read + a stratified split + two Parquet files."""
    ws = ctx.ws
    spec = ws.ingest(f"ingest-spec-{rows}", reference).spec  # untimed: the floor's column roles
    target = ws.work / f"ingest-{rows}"
    script = f"rm -rf {target} && exec {' '.join(ws.cli(target, 'ingest', str(reference), '--target', 'Exited'))}"
    commands = {"ours": Command(["sh", "-c", script]), "floor": floor("split", spec, reference, ws.work / "split")}
    results = ctx.measure(commands, f"ingest {rows:,}")
    ours = results["ours"]
    return Row("ingest", rows, ours, results["floor"], targets=[rss_target(ours, 2)])


def monitor(ctx: Context, artifacts: Artifacts, rows: int) -> Row:
    """``churnctl monitor --report`` over 500 kept drift-checks (copies of one real check of the current
    file, a week apart), against drawing nothing: ``churnctl --help``."""
    ws = ctx.ws
    checked = subprocess.run(ws.cli(artifacts.root, "drift-check", "--current", str(ws.current(rows))),
                             capture_output=True, text=True, env=ws.env, cwd=ws.work, check=False)  # fmt: skip
    if checked.returncode not in (0, 1):
        raise BenchError(f"drift-check for the monitor failed (exit {checked.returncode}): {checked.stderr[-2000:]}")
    folder = artifacts.root / "history" / "drift"
    kept = sorted(folder.rglob("*.json"))[-1]
    document = json.loads(kept.read_text())
    start = datetime(2017, 1, 2, tzinfo=UTC)
    for week in range(499):
        when = start + timedelta(weeks=week)
        document["checked_at"] = when.isoformat()
        day = folder / when.strftime("%Y-%m-%d")
        day.mkdir(parents=True, exist_ok=True)
        (day / f"000000.000000-bench-{week:08x}.json").write_text(json.dumps(document, separators=(",", ":")))
    commands = {
        "ours": Command(ws.cli(artifacts.root, "monitor", "--report", str(ws.work / "history.html"))),
        "floor": Command([*ws.churnctl, "--help"]),
    }
    results = ctx.measure(commands, "monitor, 500 checks")
    ours = results["ours"]
    ctx.notes.append(f"`monitor`: 500 kept checks, one kept check is {kept.stat().st_size:,} bytes.")
    return Row("monitor --report, 500 checks", 500, ours, results["floor"], scales=False,
               targets=[Target("≤ 10 s", ours.median, 10)])  # fmt: skip


def train(ctx: Context, artifacts: Artifacts, rows: int) -> Row:
    """``churnctl train`` (auto; the first run's model becomes current) against one default
    HistGradientBoostingClassifier fit on the same training rows, CSV read included."""
    train_csv = ctx.ws.training_rows_csv(artifacts, rows)
    commands = {
        "ours": Command(ctx.ws.cli(artifacts.root, "train")),
        "floor": floor("fit", artifacts.spec, train_csv),
    }
    results = ctx.measure(commands, f"train {rows:,}")
    ours = results["ours"]
    targets = [ratio_target("≤ 20× HGB fit", ours, results["floor"], 20), rss_target(ours, 3)]
    return Row(TRAIN, rows, ours, results["floor"], targets=targets)


def drift_check(ctx: Context, artifacts: Artifacts, rows: int, reference: Path) -> list[Row]:
    ws = ctx.ws
    current = ws.current(rows)
    logreg = ws.train(artifacts, "--model", "logreg")
    check = ["drift-check", "--current", str(current), "--format", "json"]
    commands = {
        "default": Command(ws.cli(artifacts.root, *check), ok=(0, 1)),
        "logreg": Command(ws.cli(artifacts.root, *check, "--model", logreg), ok=(0, 1)),
        "floor": floor("drift", artifacts.spec, reference, current),
    }
    if ctx.peer is not None and ctx.peer.python is not None:
        commands["peer"] = Command(
            [str(ctx.peer.python), str(PEER_SCRIPT), str(artifacts.spec), str(reference), str(current)], optional=True
        )
    results = ctx.measure(commands, f"drift-check {rows:,}")
    peer = results.get("peer")
    peer_failed = peer is not None and not succeeded(peer, commands["peer"])
    if peer_failed and peer is not None:
        errors = "; ".join(sorted({s.error for s in peer.samples if s.error})) or "no message"
        ctx.notes.append(f"The peer failed at {rows:,} rows (exit {sorted(peer.returncodes)}: {errors}).")
    out = []
    for name, label, limit in (("default", DRIFT_DEFAULT, 1.5), ("logreg", DRIFT_LOGREG, 1.0)):
        ours = results[name]
        if ours.returncodes != {1}:
            ctx.notes.append(
                f"{label} at {rows:,} rows did not report drift on the drifted batch "
                f"(exit codes {sorted(ours.returncodes)})."
            )
        targets = [ratio_target(f"≤ {limit:g}× SciPy floor", ours, results["floor"], limit)]
        if peer is not None and not peer_failed:
            targets.append(Target("≥ 8× faster than peer", peer.median / ours.median, 8, at_least=True))
        targets.append(rss_target(ours, 1))
        out.append(Row(label, rows, ours, results["floor"], peer, peer_failed, targets=targets))
    return out


def predict_input(ctx: Context, artifacts: Artifacts, rows: int) -> Row:
    """``churnctl predict --input CSV --output CSV`` against pyarrow read + default HGB
    predict_proba + pyarrow write (the floor's model is fitted beforehand, untimed)."""
    ws = ctx.ws
    current = ws.current(rows)
    model = ws.floor_model(artifacts, rows)
    commands = {
        "ours": Command(
            ws.cli(artifacts.root, "predict", "--input", str(current), "--output", str(ws.work / "scored.csv"))
        ),
        "floor": floor("predict", artifacts.spec, model, current, ws.work / "floor-scored.csv"),
    }
    results = ctx.measure(commands, f"predict --input {rows:,}")
    ours = results["ours"]
    targets = [ratio_target("≤ 1.3× pyarrow+HGB floor", ours, results["floor"], 1.3), rss_target(ours, 1)]
    return Row(PREDICT_INPUT, rows, ours, results["floor"], targets=targets)


def train_wide(ctx: Context, rows: int, columns: int, budget: float) -> Row:
    """``churnctl train`` (auto) on a wide file with ``[train] time_budget = budget``, against one
    default HistGradientBoostingClassifier fit on the same training rows: the budget must hold."""
    ws = ctx.ws
    artifacts = ws.ingest(f"wide-{rows}x{columns}", ws.wide(rows, columns))
    config = ws.work / "wide.toml"
    config.write_text(f"[train]\ntime_budget = {budget}\n")
    commands = {
        "ours": Command(ws.cli(artifacts.root, "--config", str(config), "train")),
        "floor": floor("fit", artifacts.spec, ws.training_rows_csv(artifacts, rows)),
    }
    results = ctx.measure(commands, f"train, {rows:,} x {columns:,}")
    ours = results["ours"]
    ctx.notes.append(
        f"Wide file: {rows:,} rows x {columns:,} columns (20 categorical), `[train] time_budget = {budget:g}`; "
        f"chosen: {describe_model(model_manifest(artifacts))}."
    )
    targets = [Target(f"≤ budget + 10 % ({budget * 1.1:g} s)", ours.median, budget * 1.1), rss_target(ours, 3)]
    label = f"train (auto), {columns:,} columns, budget {budget:g} s"
    return Row(label, rows, ours, results["floor"], scales=False, targets=targets)
