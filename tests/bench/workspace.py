"""What the benchmark measures on: simulated files (cached per size), trained artifacts, floor
models, and the peer's own venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.measure import BenchError, log

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FLOORS = HERE / "floors.py"
PEER_SCRIPT = HERE / "peer_evidently.py"

# The drifted current batch of every size, as the issue states it.
CURRENT_DRIFT = ["--shift", "Age=+3", "--mix", "Geography=Germany:0.45"]
REFERENCE_SEED, CURRENT_SEED, ROW_SEED, WIDE_SEED = 11, 12, 13, 14
MARKER = ".churnctl-bench-run"


def churnctl_command() -> list[str]:
    """The installed console script (what a user starts), else ``python -m churnctl``."""
    script = Path(sys.executable).parent / "churnctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "churnctl"]


def run(argv: list[str], env: dict[str, str], cwd: Path, what: str) -> str:
    """An untimed preparation step; its stdout, or a BenchError with its stderr."""
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if out.returncode != 0:
        raise BenchError(f"{what} failed (exit {out.returncode}): {' '.join(argv)}\n{out.stderr[-3000:]}")
    return out.stdout


@dataclass
class Artifacts:
    """One artifacts directory with its ingested dataset."""

    root: Path
    dataset: Path  # datasets/ds-…/
    spec: Path  # the floors' JSON view of the schema


class Workspace:
    """Cached data under ``base/data``; artifacts, floor models and outputs of this run under ``base/run``."""

    def __init__(self, base: Path, env: dict[str, str]):
        self.base = base
        self.env = env
        self.data = base / "data"
        self.work = base / "run"
        self.data.mkdir(parents=True, exist_ok=True)
        if self.work.exists():  # the previous run's, never a folder this benchmark did not make
            if not (self.work / MARKER).exists():
                raise BenchError(f"{self.work} exists and was not made by make bench: choose another BENCH_DIR")
            shutil.rmtree(self.work)
        self.work.mkdir()
        (self.work / MARKER).touch()
        self.churnctl = churnctl_command()

    def cli(self, artifacts: Path | None, *args: str) -> list[str]:
        prefix = ["--artifacts", str(artifacts)] if artifacts else []
        return [*self.churnctl, "-q", *prefix, *args]

    def simulate(self, name: str, rows: int, seed: int, *drift: str) -> Path:
        """``churnctl simulate`` once; the file is kept for later runs with the same BENCH_DIR."""
        path = self.data / name
        if not path.exists():
            partial = path.with_name(f"partial-{path.name}")
            started = time.perf_counter()
            run(
                self.cli(None, "simulate", "--rows", str(rows), "--seed", str(seed), *drift, "-o", str(partial)),
                self.env,
                self.work,
                "simulate",
            )
            partial.replace(path)
            log(f"  simulated {path.name} ({rows:,} rows) in {time.perf_counter() - started:.1f} s")
        return path

    def reference(self, rows: int) -> Path:
        return self.simulate(f"reference-{rows}.csv", rows, REFERENCE_SEED)

    def current(self, rows: int) -> Path:
        return self.simulate(f"current-{rows}.csv", rows, CURRENT_SEED, *CURRENT_DRIFT)

    def row(self) -> Path:
        return self.simulate("row.json", 1, ROW_SEED)

    def wide(self, rows: int, columns: int) -> Path:
        """A wide file: ``columns`` features (all but 20 numeric, 20 categorical with 4 levels), churn
        driven by ten numeric features and one categorical one; kept like the simulated files."""
        import numpy as np
        import pandas as pd

        path = self.data / f"wide-{rows}x{columns}.csv"
        if not path.exists():
            rng = np.random.default_rng(WIDE_SEED)
            numeric = rng.normal(size=(rows, columns - 20)).round(4)
            levels = rng.choice(np.array(["a", "b", "c", "d"]), size=(rows, 20))
            logit = numeric[:, :10] @ rng.normal(0.0, 0.6, 10) + (levels[:, 0] == "a") - 1.5
            frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(columns - 20)])
            frame[[f"c{j}" for j in range(20)]] = levels
            frame["Exited"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
            partial = path.with_name(f"partial-{path.name}")
            frame.to_csv(partial, index=False)
            partial.replace(path)
        return path

    def ingest(self, name: str, source: Path) -> Artifacts:
        root = self.work / name
        run(self.cli(root, "ingest", str(source), "--target", "Exited"), self.env, self.work, "ingest")
        (dataset,) = (root / "datasets").iterdir()
        spec_path = self.work / f"{name}-spec.json"
        spec_path.write_text(json.dumps(floor_spec(json.loads((dataset / "schema.json").read_text()))))
        return Artifacts(root, dataset, spec_path)

    def train(self, artifacts: Artifacts, *args: str) -> str:
        """An untimed ``churnctl train``; the new version's id."""
        out = run(self.cli(artifacts.root, "train", "--format", "json", *args), self.env, self.work, "train")
        return str(json.loads(out)["version"])

    def training_rows_csv(self, artifacts: Artifacts, rows: int) -> Path:
        """The dataset's training split (the rows churnctl trains on) as CSV, for the floors."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        path = self.work / f"train-split-{rows}.csv"
        if not path.exists():
            manifest = json.loads((artifacts.dataset / "manifest.json").read_text())
            names = (manifest.get("parts") or {}).get("train") or ["train.parquet"]  # a streamed ingest's parts
            pacsv.write_csv(pa.concat_tables([pq.read_table(artifacts.dataset / n) for n in names]), path)
        return path

    def floor_model(self, artifacts: Artifacts, rows: int) -> Path:
        """A default HistGradientBoostingClassifier fitted (untimed) on the training split, pickled."""
        path = self.work / f"floor-hgb-{rows}.pkl"
        if not path.exists():
            train_csv = self.training_rows_csv(artifacts, rows)
            run(
                [sys.executable, str(FLOORS), "fit", str(artifacts.spec), str(train_csv), str(path)],
                self.env,
                self.work,
                "floor model fit",
            )
        return path


def floor_spec(schema: dict) -> dict:
    """The floors' view of churnctl's schema: numeric features, categorical ones (binary included,
    as churnctl's drift tests treat them), the training categories of text columns, identifiers."""
    columns = schema["columns"]
    features = [c for c in columns if c["role"] == "feature"]
    return {
        "target": schema["target"],
        "numeric": [c["name"] for c in features if c["kind"] == "numeric"],
        "categorical": [c["name"] for c in features if c["kind"] in ("categorical", "binary")],
        "categories": {c["name"]: sorted(c["categories"]) for c in features if c["dtype"] == "string"},
        "identifiers": [c["name"] for c in columns if c["role"] == "identifier"],
    }


@dataclass
class Peer:
    """The peer tool's interpreter (None when it did not install) and what to say about it."""

    python: Path | None
    version: str
    note: str


def ensure_peer(venv: Path, packages: list[str], timeout: float) -> Peer:
    """Evidently in its own venv: reused when it imports, else created with ``python -m venv`` and
    ``pip install``. A failure is a note and no peer column, never a failed benchmark."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import evidently; print(evidently.__version__)"]

    def version() -> str | None:
        if not python.exists():
            return None
        out = subprocess.run(probe, capture_output=True, text=True, check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    found = version()
    if found:
        return Peer(python, found, f"Evidently {found} from the existing venv {venv} (install not timed)")
    wanted = " ".join(packages)
    log(f"installing the peer ({wanted}) into {venv} ...")
    started = time.perf_counter()
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=timeout)
        out = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *packages],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        failure = f"pip exit {out.returncode}: {last_line(out.stderr)}" if out.returncode else ""
    except (subprocess.SubprocessError, OSError) as exc:
        failure = f"{type(exc).__name__}: {last_line(str(exc))}"
    seconds = time.perf_counter() - started
    found = None if failure else version()
    if not found:
        why = failure or "installed but `import evidently` failed"
        log(f"  the peer did not install ({why}); the peer column is skipped")
        return Peer(None, "", f"Evidently ({wanted}) did not install into {venv} ({why}): peer column skipped")
    log(f"  Evidently {found} installed in {seconds:.0f} s")
    return Peer(python, found, f"Evidently {found}, installed into {venv} by this run in {seconds:.0f} s")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def bench_env() -> dict[str, str]:
    """The environment of every measured process: one OpenMP/BLAS thread, as churnctl sets for
    itself; a signing key of this run only; no outside churnctl settings."""
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")
    for variable in ("CHURNCTL_CONFIG", "CHURNCTL_ARTIFACTS"):
        env.pop(variable, None)
    env["CHURNCTL_SIGNING_KEY"] = os.urandom(32).hex()
    return env
