"""Late labels: joined to the serve prediction log and to scored files, realised ROC-AUC per period equal
to scikit-learn's on the same rows, the same labels added twice changing nothing, duplicates refused,
unmatched ids counted."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnctl.config import Settings
from churnctl.data.predlog import PredictionLog
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
from churnctl.synthetic import simulate_customers


def serve_log(artifacts, monkeypatch, days: dict[str, pd.DataFrame]) -> None:
    """What churnctl serve --log-predictions writes when it answers these customers on these days."""
    scorer = Scorer.load(Registry(artifacts), Settings())
    log = PredictionLog(artifacts / "predictions")
    fields = [*scorer.schema.feature_names, "CustomerId"]
    for day, frame in days.items():
        stamp = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        monkeypatch.setattr("churnctl.data.predlog.time.time", lambda stamp=stamp: stamp)
        rows = frame.to_dict("records")
        answer = scorer.score_rows(rows, False, "request")
        log.write(scorer.version, rows, answer.predictions, fields)
    log.close()


def labels_of(frame: pd.DataFrame, path) -> pd.DataFrame:
    labels = frame[["CustomerId", "Exited"]]
    labels.to_csv(path, index=False)
    return labels


def test_labels_joined_to_the_serve_log_give_scikit_learns_roc_auc_per_period(cli, artifacts, tmp_path, monkeypatch):
    october = simulate_customers(400, seed=21)
    november = simulate_customers(500, seed=22)
    november["CustomerId"] += 10_000_000  # other customers
    serve_log(artifacts, monkeypatch, {"2026-10-07T10:00:00": october, "2026-11-12T09:30:00": november})
    labels = labels_of(pd.concat([october, november]), tmp_path / "labels.csv")

    run = cli("--artifacts", artifacts, "labels", "add", tmp_path / "labels.csv", "--id-column", "CustomerId",
              "--format", "json")  # fmt: skip
    assert run.code == 0, run.stderr
    result = run.json()
    assert (result["labels"], result["matched"], result["unmatched"], result["added"]) == (900, 900, 0, 900)
    months = {(p["period"], p["model_version"]): p for p in result["performance"]}
    assert set(months) == {("2026-10-01", "v0001"), ("2026-11-01", "v0001")}

    logged = [pd.read_json(p, lines=True) for p in sorted((artifacts / "predictions").rglob("*.jsonl"))]
    records = pd.concat(logged, ignore_index=True)
    for month, frame in (("2026-10-01", october), ("2026-11-01", november)):
        answered = records[records["time"].astype(str).str.startswith(month[:7])]
        y = frame["Exited"].to_numpy()
        proba = answered["output"].map(lambda o: o["churn_probability"]).to_numpy()
        ids = answered["input"].map(lambda i: i["CustomerId"]).to_numpy()
        assert (ids == frame["CustomerId"].to_numpy()).all()
        got = months[(month, "v0001")]
        assert got["n_rows"] == len(frame) and got["churners"] == int(y.sum())
        assert got["roc_auc"] == pytest.approx(roc_auc_score(y, proba), abs=1e-12)

    again = cli("--artifacts", artifacts, "labels", "add", tmp_path / "labels.csv", "--id-column", "CustomerId",
                "--format", "json")  # fmt: skip
    assert again.code == 0 and again.json()["already_added"] and "nothing changed" in again.stderr
    assert again.json()["performance"] == result["performance"]

    # the same labels in another file (a copy, reordered): joined again, nothing counted twice
    labels.sample(frac=1, random_state=3).to_csv(tmp_path / "copy.csv", index=False)
    copy = cli("--artifacts", artifacts, "labels", "add", tmp_path / "copy.csv", "--id-column", "CustomerId",
               "--format", "json").json()  # fmt: skip
    assert (copy["added"], copy["already_labelled"]) == (0, 900)
    assert copy["performance"] == result["performance"]
    shown = cli("--artifacts", artifacts, "labels", "show", "--format", "json").json()
    assert shown["performance"] == result["performance"] and shown["labelled_predictions"] == 900


def test_labels_joined_to_a_scored_file_per_version_with_unmatched_ids_counted(cli, artifacts, tmp_path):
    batch = simulate_customers(600, seed=31)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    scored = tmp_path / "scored.parquet"
    assert cli("--artifacts", artifacts, "predict", "--input", tmp_path / "batch.csv", "--output", scored).code == 0
    strangers = pd.DataFrame({"CustomerId": [1, 2, 3], "Exited": [1, 0, 1]})
    known = batch.iloc[:450]  # labels of three quarters of the customers so far
    pd.concat([known[["CustomerId", "Exited"]], strangers]).to_csv(tmp_path / "labels.csv", index=False)

    run = cli("--artifacts", artifacts, "labels", "add", tmp_path / "labels.csv", "--id-column", "CustomerId",
              "--predictions", scored, "--scored-at", "2026-09-15", "--period", "week", "--format", "json")  # fmt: skip
    assert run.code == 0, run.stderr
    result = run.json()
    assert (result["labels"], result["matched"], result["unmatched"]) == (453, 450, 3)
    assert sorted(result["unmatched_ids"]) == ["1", "2", "3"] and "3 of 453 labelled id(s) match no" in run.stderr
    [week] = result["performance"]
    assert week["period"] == "2026-09-14" and week["model_version"] == "v0001"  # the Monday of the week
    written = pd.read_parquet(scored).iloc[:450]
    assert week["roc_auc"] == pytest.approx(roc_auc_score(known["Exited"], written["churn_probability"]), abs=1e-12)
    flagged = written["churn_label"].to_numpy() == 1
    y = known["Exited"].to_numpy()
    assert week["precision"] == pytest.approx((flagged & (y == 1)).sum() / flagged.sum())
    monitored = cli("--artifacts", artifacts, "monitor", "--period", "week")  # no drift check kept yet
    assert monitored.code == 0 and "realised ROC-AUC per week (late labels): 2026-09-14 v0001" in monitored.stdout


def test_duplicate_ids_and_missing_columns_are_refused_and_nothing_is_stored(cli, artifacts, tmp_path):
    batch = simulate_customers(50, seed=41)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    scored = tmp_path / "scored.csv"
    assert cli("--artifacts", artifacts, "predict", "--input", tmp_path / "batch.csv", "--output", scored).code == 0
    twice = pd.concat([batch.iloc[:5], batch.iloc[:2].assign(Exited=1 - batch["Exited"].iloc[:2])])
    twice[["CustomerId", "Exited"]].to_csv(tmp_path / "twice.csv", index=False)
    run = cli("--artifacts", artifacts, "labels", "add", tmp_path / "twice.csv", "--id-column", "CustomerId",
              "--predictions", scored)  # fmt: skip
    assert run.code == 3 and "2 id(s) appear more than once" in run.stderr and "Traceback" not in run.stderr
    run = cli("--artifacts", artifacts, "labels", "add", tmp_path / "twice.csv", "--id-column", "customer",
              "--predictions", scored)  # fmt: skip
    assert run.code == 3 and "lacks the column(s) 'customer'" in run.stderr
    batch[["CustomerId", "Exited"]].to_csv(tmp_path / "once.csv", index=False)
    run = cli("--artifacts", artifacts, "labels", "add", tmp_path / "once.csv", "--id-column", "CustomerId")
    assert run.code == 2 and "no prediction log" in run.stderr  # and no scored file named
    assert not (artifacts / "labels").exists()
    empty = cli("--artifacts", artifacts, "labels", "show")
    assert empty.code == 0 and "no labels yet" in empty.stdout


def test_ids_match_however_the_files_typed_them():
    from churnctl.monitoring.labels import normalise_ids

    values = pd.Series([15000379, "15000379.0", " 15000379 ", np.nan, "AB-7"], dtype=object)
    assert normalise_ids(values).tolist()[:3] == ["15000379"] * 3
    assert pd.isna(normalise_ids(values)[3]) and normalise_ids(values)[4] == "AB-7"


def test_a_second_file_a_retry_after_no_match_and_a_copied_scored_file(cli, artifacts, tmp_path, monkeypatch):
    """Labels arrive in two files against the serve log; a file added before its predictions existed is
    taken when they do; a scored file copied and touched is the same predictions, not new ones."""
    first, second = simulate_customers(300, seed=51), simulate_customers(300, seed=52)
    second["CustomerId"] += 20_000_000
    serve_log(artifacts, monkeypatch, {"2026-10-07T10:00:00": first, "2026-10-21T10:00:00": second})
    a = ["--artifacts", artifacts, "labels", "add"]
    labels_of(first, tmp_path / "a.csv")
    labels_of(second, tmp_path / "b.csv")
    assert cli(*a, tmp_path / "a.csv", "--id-column", "CustomerId").code == 0
    run = cli(*a, tmp_path / "b.csv", "--id-column", "CustomerId", "--format", "json")
    assert run.code == 0, run.stderr
    [october] = run.json()["performance"]
    assert october["n_rows"] == 600

    batch = simulate_customers(200, seed=53)
    batch["CustomerId"] += 40_000_000
    batch.to_csv(tmp_path / "batch.csv", index=False)
    labels_of(batch, tmp_path / "c.csv")
    missing = ["--predictions", tmp_path / "nothing.csv"]
    early = cli(*a, tmp_path / "c.csv", "--id-column", "CustomerId", *missing)
    assert early.code == 3  # no such scored file yet
    assert cli("--artifacts", artifacts, "predict", "--input", tmp_path / "batch.csv", "--output",
               tmp_path / "scored.csv").code == 0  # fmt: skip
    unmatched = cli(*a, tmp_path / "c.csv", "--id-column", "CustomerId", "--format", "json").json()
    assert unmatched["added"] == 0 and unmatched["unmatched"] == 200  # the serve log does not have them
    taken = cli(*a, tmp_path / "c.csv", "--id-column", "CustomerId", "--predictions", tmp_path / "scored.csv",
                "--scored-at", "2026-11-03", "--format", "json").json()  # fmt: skip
    assert not taken["already_added"] and taken["added"] == 200
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "scored.csv").write_bytes((tmp_path / "scored.csv").read_bytes())
    labels_of(batch.iloc[::-1], tmp_path / "c2.csv")  # the same labels, another file
    again = cli(*a, tmp_path / "c2.csv", "--id-column", "CustomerId", "--predictions", tmp_path / "copy" / "scored.csv",
                "--format", "json").json()  # fmt: skip
    assert (again["added"], again["already_labelled"]) == (0, 200)
    assert sum(p["n_rows"] for p in again["performance"]) == 800


def test_a_label_store_without_its_columns_is_an_artifact_problem(tmp_path):
    from churnctl.data.labels import LabelStore
    from churnctl.errors import ArtifactError

    store = LabelStore(tmp_path)
    store.folder.mkdir()
    pd.DataFrame({"id": ["1"], "label": [1]}).to_parquet(store.joined_path)
    with pytest.raises(ArtifactError, match="lacks the column"):
        store.joined()
