"""ingest of parts: a folder, a glob, Parquet or CSV or both — the same rows give the same dataset id,
schema, split and model as one file; parts that disagree are refused."""

import numpy as np
import pandas as pd
import pytest

from churnctl.registry import Registry
from churnctl.synthetic import simulate_customers


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    """3,000 simulated customers as one CSV file and cut into four parts, as CSV, as Parquet and mixed."""
    folder = tmp_path_factory.mktemp("parts")
    frame = simulate_customers(3000, seed=17)
    frame.to_csv(folder / "whole.csv", index=False)
    for kind in ("csv", "parquet", "mixed"):
        (folder / kind).mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 4)):
        part = frame.iloc[rows]
        part.to_csv(folder / "csv" / f"part-{i}.csv", index=False)
        part.to_parquet(folder / "parquet" / f"part-{i}.parquet", index=False)
        if i % 2:
            part.to_csv(folder / "mixed" / f"part-{i}.csv", index=False)
        else:
            part.to_parquet(folder / "mixed" / f"part-{i}.parquet", index=False)
    return folder


def test_the_same_rows_give_the_same_dataset_schema_split_and_model(cli, cut, tmp_path, fast_config):
    results = {}
    for name, source in {
        "file": cut / "whole.csv",
        "csv parts": cut / "csv",
        "parquet parts": cut / "parquet",
        "glob": str(cut / "csv" / "part-*.csv"),
        "mixed": cut / "mixed",
    }.items():
        artifacts = tmp_path / name.replace(" ", "-")
        a = ["--artifacts", artifacts, "--config", fast_config]
        ingested = cli(*a, "ingest", source, "--target", "Exited", "--format", "json")
        assert ingested.code == 0, (name, ingested.stderr)
        registry = Registry(artifacts)
        doc = ingested.json()
        results[name] = {
            "id": doc["dataset_id"],
            "features": doc["features"],
            "train": pd.read_parquet(registry.dataset_dir(doc["dataset_id"]) / "train.parquet"),
        }
        if name in ("file", "mixed"):  # and the model (the split and the schema decide it)
            trained = cli(*a, "train", "--model", "logreg", "--format", "json")
            assert trained.code == 0, (name, trained.stderr)
            results[name]["model"] = (trained.json()["cv_roc_auc"], trained.json()["test_metrics"])
    first = results["file"]
    for name, got in results.items():
        assert got["id"] == first["id"], name
        assert got["features"] == first["features"], name
        pd.testing.assert_frame_equal(got["train"], first["train"], obj=name)
    assert results["mixed"]["model"] == first["model"]


def test_parts_that_disagree_are_refused_and_nothing_is_stored(cli, cut, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    frame = pd.read_csv(cut / "csv" / "part-0.csv")
    frame.to_csv(folder / "a.csv", index=False)
    frame.drop(columns=["Balance"]).to_csv(folder / "b.csv", index=False)
    run = cli("--artifacts", tmp_path / "artifacts", "ingest", folder, "--target", "Exited")
    assert run.code == 3 and "other columns than the first part" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "artifacts" / "datasets").exists()
    empty = cli("--artifacts", tmp_path / "artifacts", "ingest", tmp_path / "nothing-*.csv")
    assert empty.code == 3 and "no CSV or Parquet file matches" in empty.stderr


def test_train_fits_a_stratified_sample_beyond_max_rows(cli, cut, tmp_path):
    config = tmp_path / "small.toml"
    config.write_text('[train]\ncv_folds = 3\nselection_rows = 1000\nmax_rows = 1500\nmodel = "logreg"\n')
    a = ["--artifacts", tmp_path / "artifacts", "--config", config]
    assert cli(*a, "ingest", cut / "whole.csv", "--target", "Exited").code == 0
    run = cli(*a, "train", "--format", "json")
    assert run.code == 0, run.stderr
    assert "fitting on a sample of 1500 of the 2400 training rows" in run.stderr
    manifest = Registry(tmp_path / "artifacts").model_manifest("v0001")
    assert (manifest["n_train"], manifest["n_train_seen"]) == (1500, 2400)
    whole = pd.read_csv(cut / "whole.csv")["Exited"].mean()
    assert abs(run.json()["test_metrics"]["churn_rate"] - whole) < 0.03  # the test split is never sampled
    # a group column with blanks: whole groups are sampled, the blank ones as one group
    grouped = pd.read_csv(cut / "whole.csv")
    grouped["household"] = (grouped.index // 3).astype(str)
    grouped.loc[grouped.index % 10 == 0, "household"] = None
    grouped.to_csv(tmp_path / "grouped.csv", index=False)
    g = ["--artifacts", tmp_path / "grouped", "--config", config]
    assert cli(*g, "ingest", tmp_path / "grouped.csv", "--target", "Exited", "--group-column", "household").code == 0
    run = cli(*g, "train")
    assert run.code == 0 and "fitting on a sample of" in run.stderr, run.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nmax_rows = 10\n")
    refused = cli("--artifacts", tmp_path / "artifacts", "--config", bad, "train")
    assert refused.code == 2 and "[train] max_rows" in refused.stderr


def test_times_from_parquet_and_csv_with_offsets_are_the_same_dataset(cli, tmp_path):
    frame = simulate_customers(1200, seed=8)
    days = pd.Timestamp("2026-01-01", tz="Europe/Paris") + pd.to_timedelta(frame.index % 300, unit="D")
    csv = frame.assign(signup=days.map(lambda t: t.isoformat()))  # +01:00 in winter, +02:00 in summer
    csv.to_csv(tmp_path / "t.csv", index=False)
    frame.assign(signup=days.tz_convert("UTC").tz_localize(None).astype("datetime64[us]")).to_parquet(
        tmp_path / "t.parquet"
    )
    ids = []
    for name in ("t.csv", "t.parquet"):
        a = ["--artifacts", tmp_path / f"a-{name}"]
        run = cli(*a, "ingest", tmp_path / name, "--target", "Exited", "--time-column", "signup", "--format", "json")
        assert run.code == 0, run.stderr
        ids.append((run.json()["dataset_id"], run.json()["split"]["test_from"]))
    assert ids[0] == ids[1]
