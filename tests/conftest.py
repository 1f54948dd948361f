from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# One compute thread per process, as the churnctl command sets for itself: the suite and the
# benchmarks start churnctl processes beside their own work on a 2-core machine, and competing
# OpenMP thread pools slow everything down many times over.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Signing keys of the suite live in a private folder, never in the user's own configuration: the
# first writer creates the key file there, as on a user's machine; subprocesses inherit it.
os.environ.pop("CHURNCTL_SIGNING_KEY", None)
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="churnctl-test-config-")

# Output goes to a captured stream, laid out as for a file (120 columns); pytest-xdist's workers set
# COLUMNS=80, which churnctl would honour. Tests of other widths set COLUMNS themselves.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

ROOT = Path(__file__).resolve().parent.parent
# The real bank-churn file: $CHURNCTL_BANK_CSV, else beside the project checkout.
BANK_CSV = Path(
    os.environ.get("CHURNCTL_BANK_CSV") or ROOT.parent / "shared" / "data" / "bank_churn" / "Churn_Modelling.csv"
)
EXAMPLE_ROW = {
    "CreditScore": 650,
    "Geography": "France",
    "Gender": "Male",
    "Age": 35,
    "Tenure": 5,
    "Balance": 50000,
    "NumOfProducts": 2,
    "HasCrCard": 1,
    "IsActiveMember": 1,
    "EstimatedSalary": 60000,
}
# Small, fast settings for tests that do not measure model quality.
FAST_CONFIG = "[train]\ncv_folds = 3\n"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run churnctl in-process like the console script; returns exit code, stdout and stderr."""
    from churnctl.cli.app import main

    def run(*args: str, stdin: str | None = None) -> Run:
        if stdin is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


@pytest.fixture(scope="session")
def bank_csv() -> Path:
    if not BANK_CSV.exists():
        pytest.skip(
            f"real bank-churn data not found at {BANK_CSV} (beside the project checkout, or set CHURNCTL_BANK_CSV)"
        )
    return BANK_CSV


@dataclass
class BankModel:
    """The bank data ingested with one split seed and trained with the default model search."""

    artifacts: Path
    ingested: dict  # `ingest --format json`
    trained: dict  # `train --format json`

    def copy(self, target: Path) -> Path:
        """A private copy of the registry, for commands that write to it (drift-check records events)."""
        shutil.copytree(self.artifacts, target)
        return target


def _churnctl_json(*args) -> dict:
    """Run churnctl in-process outside a test (no capsys there); its JSON output, or fail."""
    import contextlib
    import io

    from churnctl.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            if exc.code not in (0, None):
                pytest.fail(f"churnctl {' '.join(map(str, args))} exited {exc.code}: {err.getvalue()}")
    return json.loads(out.getvalue())


@pytest.fixture(scope="session")
def bank_model(bank_csv, tmp_path_factory):
    """bank_model(seed) -> BankModel: the real data split with that seed and trained (model search,
    about 7 s) once per session, shared by every test; copy it before changing it."""
    trained: dict[int, BankModel] = {}

    def get(seed: int = 1) -> BankModel:
        if seed not in trained:
            artifacts = tmp_path_factory.mktemp(f"bank-seed{seed}") / "artifacts"
            ingested = _churnctl_json(
                "--artifacts", artifacts, "ingest", bank_csv, "--target", "Exited", "--seed", seed, "--format", "json"
            )
            model = _churnctl_json("--artifacts", artifacts, "train", "--format", "json")
            trained[seed] = BankModel(artifacts, ingested, model)
        return trained[seed]

    return get


@pytest.fixture(scope="session")
def sim_csv(tmp_path_factory) -> Path:
    from churnctl.synthetic import simulate_customers

    path = tmp_path_factory.mktemp("sim") / "customers.csv"
    simulate_customers(3000, seed=11).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained_artifacts(tmp_path_factory, sim_csv) -> Path:
    """A registry with one dataset and one current model, built once; copy it before changing it."""
    from churnctl.config import load_settings
    from churnctl.lifecycle.ingest import ingest
    from churnctl.lifecycle.train import train
    from churnctl.registry import Registry

    folder = tmp_path_factory.mktemp("trained")
    config = folder / "churnctl.toml"
    config.write_text(FAST_CONFIG)
    settings = load_settings(config)
    registry = Registry(folder / "artifacts")
    ingest(registry, str(sim_csv), settings, target="Exited", seed=42)
    train(registry, settings, model="hgb")
    return folder / "artifacts"


@pytest.fixture
def artifacts(tmp_path, trained_artifacts) -> Path:
    """A private copy of the trained registry."""
    target = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, target)
    return target


def copy_version(
    artifacts: Path,
    version: str,
    files: tuple[str, ...] = ("model.joblib", "reference.parquet", "reference_scores.parquet"),
) -> None:
    """Another signed version ``version`` made as train would, from v0001's ``files`` (by default all
    but the compiled model, as versions trained before it have)."""
    from churnctl.registry import Registry

    registry = Registry(artifacts)
    staged = registry.stage()
    source = artifacts / "models" / "v0001"
    for name in files:
        staged.write(name, (source / name).read_bytes())
    manifest = {
        k: v for k, v in json.loads((source / "manifest.json").read_text()).items() if k not in ("signature", "files")
    }
    manifest["version"] = version
    registry.publish_model(staged, version, manifest)
    registry.record("model_trained", version=version)


@pytest.fixture
def fast_config(tmp_path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST_CONFIG)
    return path


@pytest.fixture(scope="session")
def bank_hgb_monitors(tmp_path_factory):
    """Drift monitors against a gradient-boosting model of 10,000 simulated bank customers, trained once
    for the session (the CBPE and profit-estimate simulations share it)."""
    return simulated_monitors(tmp_path_factory.mktemp("bank-hgb"), "hgb")


def simulated_monitors(folder: Path, model: str, profile: str = "bank"):
    """Train ``model`` on 10,000 simulated customers of ``profile`` (seed 100, 3-fold search) in
    ``folder``; returns a function making drift monitors against that version's reference
    (``settings``, ``expected_rows``). Their ``update`` reads the labels of frames that carry the
    target, as drift-check reads a labelled batch."""
    from churnctl.config import DriftSettings, Settings, TrainSettings
    from churnctl.data.labelled import frame_labels
    from churnctl.drift.monitor import DriftMonitor
    from churnctl.lifecycle.drift_check import reference_profile
    from churnctl.lifecycle.ingest import ingest
    from churnctl.lifecycle.train import train
    from churnctl.model.scorer import Scorer
    from churnctl.registry import Registry
    from churnctl.synthetic import PROFILES, simulate_customers

    class LabelledMonitor(DriftMonitor):
        def update(self, frame, *, source="current data", labels=None, labelled=None):
            if labels is None:
                labels, labelled = frame_labels(frame, self.schema, source)
            super().update(frame, source=source, labels=labels, labelled=labelled)

    path = folder / "reference.csv"
    simulate_customers(10_000, seed=100, profile_name=profile).to_csv(path, index=False)
    settings = Settings(train=TrainSettings(cv_folds=3))
    registry = Registry(folder / "artifacts")
    ingest(registry, str(path), settings, target=PROFILES[profile].target)
    train(registry, settings, model=model)
    loaded = Scorer.load(registry, settings, eager=True)
    reference = reference_profile(registry, loaded)

    def monitor(settings: DriftSettings | None = None, expected_rows: int | None = None, campaign=None) -> DriftMonitor:
        return LabelledMonitor(
            loaded,
            reference,
            settings or DriftSettings(),
            importance=loaded.manifest["feature_importance"],
            expected_rows=expected_rows,
            campaign=campaign,
        )

    return monitor
