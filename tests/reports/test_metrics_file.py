"""--metrics-file: the Prometheus text format, parsed back with prometheus-client's own parser."""

import time
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from churnctl.reports.metrics_file import METRICS, write_metrics_file
from churnctl.synthetic import Drift, simulate_customers


def samples(path):
    """{metric name: {frozenset of label items: value}} of a metrics file."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.name in METRICS and family.type == "gauge" and family.documentation
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def one(found, name, **labels):
    return found[name][frozenset(labels.items())]


def test_drift_check_writes_the_verdict_per_feature_effects_and_the_estimate(cli, artifacts, tmp_path):
    current = tmp_path / "older.csv"
    simulate_customers(3000, seed=5, drift=Drift(shift={"Age": 8})).drop(columns="Exited").to_csv(current, index=False)
    prom = tmp_path / "churnctl.prom"
    started = time.time()
    run = cli("--artifacts", artifacts, "drift-check", "--current", current, "--metrics-file", prom, "--format", "json")
    assert run.code == 1, run.stderr  # drift: the file is written all the same
    report, found = run.json(), samples(prom)
    assert one(found, "churnctl_drift_detected") == 1.0
    assert one(found, "churnctl_share_features_drifted") == pytest.approx(report["share_drifted"])
    effects = {dict(k)["feature"]: v for k, v in found["churnctl_feature_drift_effect"].items()}
    assert set(effects) == set(report["features"]) and max(effects, key=effects.get) == "Age"
    assert one(found, "churnctl_feature_drifted", feature="Age") == 1.0
    assert one(found, "churnctl_estimated_roc_auc") == pytest.approx(report["estimated_performance"]["roc_auc"])
    assert one(found, "churnctl_current_model_info", version="v0001", command="drift-check") == 1.0
    assert started <= one(found, "churnctl_last_run_timestamp_seconds", command="drift-check") <= time.time()
    assert "churnctl_model_roc_auc" not in found  # no labels, no realised ROC-AUC


def test_evaluate_writes_the_metrics_it_prints(cli, artifacts, tmp_path):
    prom = tmp_path / "evaluate.prom"
    run = cli("--artifacts", artifacts, "evaluate", "--metrics-file", prom, "--format", "json")
    assert run.code == 0, run.stderr
    doc, found = run.json(), samples(prom)
    assert one(found, "churnctl_model_roc_auc", version="v0001", command="evaluate") == pytest.approx(doc["roc_auc"])
    for key in ("pr_auc", "brier", "ece"):
        assert one(found, f"churnctl_model_{key}", version="v0001") == pytest.approx(doc[key])
    assert one(found, "churnctl_evaluated_rows", version="v0001") == doc["n_rows"]


@pytest.mark.parametrize("where", ["missing-folder", "a-directory"])
def test_a_metrics_file_that_cannot_be_written_is_refused_before_the_work(cli, artifacts, tmp_path, where):
    prom = tmp_path / "no" / "such.prom" if where == "missing-folder" else tmp_path
    events = (artifacts / "events.jsonl").read_text()
    current = tmp_path / "batch.csv"
    simulate_customers(500, seed=1).to_csv(current, index=False)
    run = cli("--artifacts", artifacts, "drift-check", "--current", current, "--metrics-file", prom)
    assert run.code == 2 and "--metrics-file" in run.stderr and "hint:" in run.stderr
    assert (artifacts / "events.jsonl").read_text() == events  # no check was run or recorded


def test_names_with_quotes_backslashes_and_newlines_survive_and_the_old_file_stays_on_failure(tmp_path, monkeypatch):
    weird = 'plan "gold"\\n\nnext'
    feature = SimpleNamespace(effect_size=0.25, drift=True)
    report = SimpleNamespace(
        drift_detected=True,
        status="drift",
        share_drifted=1.0,
        n_current=10,
        features={weird: feature},
        prediction_drift=SimpleNamespace(effect_size=0.0),
        estimated_performance=None,
        estimated_profit=None,
        performance=None,
        model_version="v0001",
    )
    prom = tmp_path / "m.prom"
    write_metrics_file(prom, "drift-check", report, "v0001")
    assert one(samples(prom), "churnctl_feature_drift_effect", feature=weird) == 0.25
    before = prom.read_text()

    import os

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    monkeypatch.setattr(os, "rename", fail)
    from churnctl.errors import ArtifactError

    with pytest.raises(ArtifactError, match="No space left"):  # the machine failed, not the path: exit 4
        write_metrics_file(prom, "drift-check", report, "v0002")
    assert prom.read_text() == before  # written beside and renamed: never half a file
    assert [p.name for p in tmp_path.iterdir()] == ["m.prom"]  # and no temporary file left behind
