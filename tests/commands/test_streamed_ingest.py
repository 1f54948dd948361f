"""ingest beyond [data] memory_rows: passes over the parts, one batch in memory at a time. The same
dataset (id, schema, rows, split) from one file, from parts and on Dask; statistics exact over every
row although the contract is inferred on a sample; groups, twins and time respected row by row;
a bad part stores nothing; train fits a sample of the stored parts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from churnctl.config.settings import Settings
from churnctl.contract.frames import prepare_features
from churnctl.contract.tally import ColumnTally
from churnctl.data import part_tasks
from churnctl.data.datasets import load_dataset, sample_split
from churnctl.data.split import hash_unit, hashed_test_rows
from churnctl.lifecycle.ingest import ingest
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
from churnctl.synthetic import simulate_customers

STREAMED = "[data]\nmemory_rows = 500\n[train]\ncv_folds = 3\nselection_rows = 1000\nmodel = 'logreg'\n"


def streamed_settings(**data) -> Settings:
    settings = Settings()
    return dataclasses.replace(settings, data=dataclasses.replace(settings.data, memory_rows=500, **data))


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streamed")
    frame = simulate_customers(3000, seed=29)
    frame.to_csv(folder / "whole.csv", index=False)
    for kind in ("csv", "parquet"):
        (folder / kind).mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_csv(folder / "csv" / f"part-{i}.csv", index=False)
        frame.iloc[rows].to_parquet(folder / "parquet" / f"part-{i}.parquet", index=False)
    (folder / "churnctl.toml").write_text(STREAMED)
    return folder


def test_one_dataset_from_a_file_from_parts_and_on_dask(cli, cut, tmp_path):
    found = {}
    sources = {"file": [cut / "whole.csv"], "csv parts": [cut / "csv"], "parquet parts": [cut / "parquet"]}
    pytest.importorskip("distributed", reason="--engine dask needs the dask extra")
    sources["dask"] = [cut / "parquet", "--engine", "dask"]
    for name, args in sources.items():
        artifacts = tmp_path / name.replace(" ", "-")
        run = cli("--artifacts", artifacts, "--config", cut / "churnctl.toml", "ingest", *args, "--format", "json")
        assert run.code == 0, (name, run.stderr)
        doc = run.json()
        schema, train, test = load_dataset(Registry(artifacts), doc["dataset_id"])
        manifest = Registry(artifacts).dataset_manifest(doc["dataset_id"])
        assert manifest["streamed"]["rows_read"] == 3000 and manifest["parts"]["train"], name
        found[name] = (doc["dataset_id"], schema.to_dict(), sorted_rows(train), sorted_rows(test))
    first = found["file"]
    for name, (dataset, schema, train, test) in found.items():
        assert dataset == first[0] and schema == first[1], name
        pd.testing.assert_frame_equal(train, first[2], obj=name)
        pd.testing.assert_frame_equal(test, first[3], obj=name)
    whole = pd.read_csv(cut / "whole.csv")
    assert len(first[2]) + len(first[3]) == len(whole)
    for label in (0, 1):  # every class split about as asked (the hash knows no label)
        share = (first[3]["Exited"] == label).sum() / (whole["Exited"] == label).sum()
        assert abs(share - 0.2) < 0.05, (label, share)


def test_statistics_are_exact_although_the_contract_comes_from_a_sample(monkeypatch, tmp_path):
    monkeypatch.setattr(part_tasks, "SAMPLE_ROWS", 400)
    frame = simulate_customers(4000, seed=3)
    frame.loc[frame.index % 7 == 0, "Balance"] = np.nan
    frame.loc[[5, 2500], "Geography"] = "Luxembourg"  # two rows: most likely outside the sample
    frame.loc[frame.index % 50 == 1, "Exited"] = np.nan  # unlabelled rows are left out, and counted
    path = tmp_path / "customers.parquet"
    frame.to_parquet(path, index=False)
    result = ingest(Registry(tmp_path / "a"), str(path), streamed_settings(), target="Exited")
    labelled = frame[frame["Exited"].notna()]
    assert (result.n_rows, result.n_unlabelled) == (len(labelled), len(frame) - len(labelled))
    assert result.churn_rate == pytest.approx(labelled["Exited"].mean(), abs=1e-12)
    schema, _, _ = load_dataset(Registry(tmp_path / "a"), result.dataset_id)
    geography = schema.column("Geography")
    assert geography.categories == labelled["Geography"].value_counts().to_dict()
    balance, values = schema.column("Balance"), labelled["Balance"]
    assert balance.missing_rate == pytest.approx(values.isna().mean(), abs=1e-12)
    assert (balance.minimum, balance.maximum) == (values.min(), values.max())
    assert balance.mean == pytest.approx(values.mean(), rel=1e-12)
    assert balance.std == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert schema.column("Age").integer and schema.column("Age").n_unique == labelled["Age"].nunique()


def test_column_tally_merges_parts_as_one_pass_over_every_row():
    rng = np.random.default_rng(0)
    values = pd.Series(np.r_[rng.normal(1e6, 3.0, 5000), [np.nan] * 40])
    whole = ColumnTally(text=False)
    whole.update(values)
    merged = ColumnTally(text=False)
    for piece in np.array_split(values.sample(frac=1, random_state=1), 7):
        part = ColumnTally(text=False)
        part.update(pd.Series(piece))
        merged.merge(part)
    present = values.dropna().to_numpy()
    assert (merged.mean, merged.std) == (whole.mean, whole.std)  # to the last bit, whatever the cut
    for tally in (whole, merged):
        assert (tally.rows, tally.missing, tally.count) == (5040, 40, 5000)
        assert tally.mean == float(np.mean(present.astype(np.longdouble)))  # exact sums, rounded once
        assert tally.std == pytest.approx(present.std(ddof=1), rel=1e-9)
        assert (tally.minimum, tally.maximum) == (present.min(), present.max())


def test_row_hashes_are_uniform_and_split_each_class_as_asked():
    keys = np.arange(200_000, dtype=np.uint64)  # consecutive keys: the worst case for a weak mixer
    unit = hash_unit(keys, seed=7)
    assert stats.kstest(unit, "uniform").pvalue > 0.001
    assert not np.array_equal(unit, hash_unit(keys, seed=8))
    y = np.random.default_rng(1).random(len(keys)) < 0.2
    test = hashed_test_rows(keys, 7, 0.25)
    for label in (False, True):
        share = test[y == label].mean()
        n = (y == label).sum()
        assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n), (label, share)


def test_groups_twins_and_time_are_kept_row_by_row(monkeypatch, tmp_path):
    monkeypatch.setattr(part_tasks, "SAMPLE_ROWS", 300)
    customers = simulate_customers(700, seed=5)
    months = []
    for month in range(1, 5):  # four monthly snapshots: a customer id repeats on rows the sample misses
        snapshot = customers.copy()
        snapshot["month"] = f"2026-0{month}-01"
        snapshot["Age"] = snapshot["Age"] + month / 12
        months.append(snapshot)
    frame = pd.concat(months, ignore_index=True)
    twins = frame.iloc[:30].copy()
    twins["CustomerId"] = twins["CustomerId"] + 10_000_000  # the same features and label, another id
    frame = pd.concat([frame, twins], ignore_index=True)
    path = tmp_path / "snapshots.parquet"
    frame.to_parquet(path, index=False)
    registry = Registry(tmp_path / "grouped")
    result = ingest(registry, str(path), streamed_settings(), target="Exited")
    assert any("used as the group" in w and "CustomerId" in w for w in result.warnings), result.warnings
    assert result.duplicates == 30 and result.split["kind"] == "grouped"
    _, train, test = load_dataset(registry, result.dataset_id)
    assert not set(train["CustomerId"]) & set(test["CustomerId"])
    timed = ingest(Registry(tmp_path / "timed"), str(path), streamed_settings(), target="Exited", time="month")
    whole = ingest(
        Registry(tmp_path / "whole"), str(path), Settings(), target="Exited", time="month"
    )  # in memory: the same cut-off
    assert timed.split == whole.split and timed.split["test_from"] == "2026-04-01T00:00:00"
    assert (timed.n_train, timed.n_test) == (whole.n_train, whole.n_test)


def test_a_bad_part_stores_nothing(cli, cut, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    frame = pd.read_csv(cut / "whole.csv")
    frame.iloc[:1500].to_csv(folder / "a.csv", index=False)
    late = frame.iloc[1500:].astype({"Exited": object})
    late.loc[late.index[-3], "Exited"] = "maybe"  # a third label, far from the sample's rows
    late.to_csv(folder / "b.csv", index=False)
    artifacts = tmp_path / "artifacts"
    run = cli("--artifacts", artifacts, "--config", cut / "churnctl.toml", "ingest", folder, "--target", "Exited")
    assert run.code == 3 and "'maybe'" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not list((artifacts / "datasets").glob("ds-*")) if (artifacts / "datasets").exists() else True
    assert not list((artifacts / ".staging").glob("*/*")) if (artifacts / ".staging").exists() else True


def test_train_fits_a_sample_read_from_the_stored_parts(cli, cut, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(STREAMED + "max_rows = 1200\n")
    a = ["--artifacts", tmp_path / "artifacts", "--config", config]
    assert cli(*a, "ingest", cut / "parquet", "--target", "Exited").code == 0
    run = cli(*a, "train", "--format", "json")
    assert run.code == 0, run.stderr
    manifest = Registry(tmp_path / "artifacts").model_manifest("v0001")
    dataset = Registry(tmp_path / "artifacts").dataset_manifest(manifest["dataset_id"])
    assert (manifest["n_train"], manifest["n_train_seen"]) == (1200, dataset["n_train"])
    # evaluate scores the test split part by part; the metrics are those of the whole split at once
    assert len(dataset["parts"]["test"]) == 3
    run = cli(*a, "evaluate", "--format", "json")
    assert run.code == 0, run.stderr
    registry = Registry(tmp_path / "artifacts")
    scorer = Scorer.load(registry, Settings(), "v0001", eager=True)
    _, _, whole = load_dataset(registry, manifest["dataset_id"])
    X, _ = prepare_features(whole, scorer.schema)
    proba = scorer.predict_proba(X)
    assert run.json()["roc_auc"] == pytest.approx(roc_auc_score(whole["Exited"], proba), abs=1e-12)
    assert manifest["test_metrics"]["roc_auc"] == pytest.approx(run.json()["roc_auc"], abs=1e-12)
    assert run.json()["twins_in_training"] == 0 and run.json()["n_rows"] == len(whole)
    # the sample is stratified: each class keeps its share of the training split, exactly
    counts = dataset["class_counts"]["train"]
    assert sum(counts) == dataset["n_train"]
    sample = sample_split(registry, manifest["dataset_id"], "train", 1200, 3, None, "Exited")
    assert len(sample) == 1200 and int(sample["Exited"].sum()) == round(1200 * counts[1] / sum(counts))
    assert sample.equals(sample_split(registry, manifest["dataset_id"], "train", 1200, 3, None, "Exited"))
    assert not sample.equals(sample_split(registry, manifest["dataset_id"], "train", 1200, 4, None, "Exited"))
