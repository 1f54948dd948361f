"""Honest numbers on messy churn tables: leaked columns, identifiers without a telling name, duplicate
rows, customers repeated in monthly snapshots, and evaluation out of time. Each test builds the mess
a public churn table has, ingests it as a new user would, and checks what the numbers say."""

import json

import numpy as np
import pandas as pd
import pytest

from churnctl.data.datasets import load_dataset
from churnctl.registry import Registry
from churnctl.synthetic import simulate_customers

CONFIG = '[train]\nmodel = "logreg"\ncv_folds = 3\n'


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "churnctl.toml"
    path.write_text(CONFIG)
    return path


def run(cli, art, config, *args):
    result = cli("--artifacts", art, "--config", config, *args, "--format", "json")
    assert result.code == 0, result.stderr
    return result


def customers(rows=3000, seed=11) -> pd.DataFrame:
    return simulate_customers(rows, seed=seed)


def test_a_column_computed_from_the_label_is_excluded_and_the_model_is_honest(cli, tmp_path, config):
    frame = customers()
    rng = np.random.default_rng(1)
    frame["RiskIndex"] = frame["Exited"] * 0.8 + rng.normal(0, 0.1, len(frame))  # a score made from the label
    reasons = rng.choice(["price", "a competitor", "moved", "service"], len(frame))
    frame["Feedback"] = np.where(frame["Exited"] == 1, reasons, None)  # filled for churners only
    frame["Churn Reason"] = np.where(rng.random(len(frame)) < 0.5, "price", "service")  # named like the outcome
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    ingest = run(cli, tmp_path / "a", config, "ingest", path, "--target", "Exited")
    doc = ingest.json()
    excluded = {e["name"]: e for e in doc["excluded"]}
    assert excluded["RiskIndex"]["role"] == "leak" and excluded["RiskIndex"]["alone_auc"] >= 0.99
    assert "its values" in excluded["RiskIndex"]["reason"]
    assert excluded["Feedback"]["role"] == "leak" and "whether it is missing" in excluded["Feedback"]["reason"]
    assert excluded["Churn Reason"]["role"] == "leak" and "outcome" in excluded["Churn Reason"]["reason"]
    for name in ("RiskIndex", "Feedback", "Churn Reason"):
        assert f"column {name!r} is a suspected leak" in ingest.stderr and f"--keep-column {name}" in ingest.stderr
    leaky_auc = run(cli, tmp_path / "a", config, "train").json()["test_metrics"]["roc_auc"]

    honest = tmp_path / "honest.csv"
    frame.drop(columns=["RiskIndex", "Feedback", "Churn Reason"]).to_csv(honest, index=False)
    run(cli, tmp_path / "b", config, "ingest", honest, "--target", "Exited")
    honest_auc = run(cli, tmp_path / "b", config, "train").json()["test_metrics"]["roc_auc"]
    assert leaky_auc < 0.95 and abs(leaky_auc - honest_auc) < 0.01  # what the honest features give, not 1.0


def test_a_kept_leak_is_trained_on_with_warnings(cli, tmp_path, config):
    frame = customers(2000)
    frame["RiskIndex"] = frame["Exited"] + np.random.default_rng(2).normal(0, 0.05, len(frame))
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    ingest = run(cli, tmp_path / "a", config, "ingest", path, "--target", "Exited", "--keep-column", "RiskIndex")
    assert "RiskIndex" in [f["name"] for f in ingest.json()["features"]] and "is kept" in ingest.stderr
    train = run(cli, tmp_path / "a", config, "train")
    assert "too good to be true" in train.stderr and "'RiskIndex'" in train.stderr
    assert "feature 'RiskIndex' alone separates churners" in train.stderr


def test_a_unique_customer_number_without_a_telling_name_is_an_identifier(cli, tmp_path, config):
    frame = customers(2000)
    frame["Clientref"] = np.random.default_rng(3).choice(10**9, len(frame), replace=False) + 10**8
    frame["Salary2"] = frame["EstimatedSalary"] + 0.37  # a measurement with cents stays a feature
    path = tmp_path / "ids.csv"
    frame.drop(columns=["CustomerId"]).to_csv(path, index=False)
    doc = run(cli, tmp_path / "a", config, "ingest", path, "--target", "Exited").json()
    assert {"name": "Clientref", "role": "identifier", "reason": "unique integer per row", "alone_auc": None} in doc[
        "excluded"
    ]
    assert "Salary2" in [f["name"] for f in doc["features"]]


def test_exact_duplicates_never_cross_the_split(cli, tmp_path, config):
    frame = customers(2000)
    twins = frame.sample(600, random_state=4)
    twins["CustomerId"] = twins["CustomerId"] + 10**7  # equal but for the id
    path = tmp_path / "dups.csv"
    pd.concat([frame, twins, twins.head(100)]).to_csv(path, index=False)
    doc = run(cli, tmp_path / "a", config, "ingest", path, "--target", "Exited").json()
    assert doc["duplicates"] == 700 and doc["split"]["kind"] == "grouped"
    run(cli, tmp_path / "a", config, "train")
    evaluated = run(cli, tmp_path / "a", config, "evaluate").json()
    assert evaluated["twins_in_training"] == 0 and evaluated["split"]["kind"] == "grouped"
    registry = Registry(tmp_path / "a")
    schema, train, test = load_dataset(registry, doc["dataset_id"])
    columns = [*schema.feature_names, schema.target]
    assert not set(map(tuple, test[columns].to_numpy())) & set(map(tuple, train[columns].to_numpy()))


def snapshots(customers_n: int, months: int, seed: int) -> pd.DataFrame:
    """Each customer in ``months`` monthly rows: features drift a little, churn is a customer's own
    (a hidden per-customer effect): a model that memorises customers looks better than it is."""
    rng = np.random.default_rng(seed)
    base = simulate_customers(customers_n, seed=seed)
    hidden = rng.normal(0, 2.0, customers_n)
    logit = -2.0 + 0.08 * (base["Age"].to_numpy() - 40) + hidden
    base["Exited"] = (rng.random(customers_n) < 1 / (1 + np.exp(-logit))).astype(int)
    rows = []
    for month in range(months):
        frame = base.copy()
        frame["Month"] = f"2026-{month + 1:02d}-01"
        frame["Balance"] = (frame["Balance"] * (1 + rng.normal(0, 0.01, customers_n))).round(2)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True).rename(columns={"CustomerId": "customer_id"})


def test_repeated_customers_stay_on_one_side_and_in_one_fold(cli, tmp_path, config):
    from churnctl.data.split import row_groups
    from churnctl.model.folds import make_folds

    path = tmp_path / "snapshots.csv"
    snapshots(1500, 6, seed=5).drop(columns="Month").to_csv(path, index=False)
    ingest = run(cli, tmp_path / "a", config, "ingest", path, "--target", "Exited")
    doc = ingest.json()
    assert "'customer_id'" in ingest.stderr and "used as the group" in ingest.stderr
    assert doc["split"]["kind"] == "grouped" and doc["split"]["n_groups"] == 1500
    schema, train, test = load_dataset(Registry(tmp_path / "a"), doc["dataset_id"])
    assert schema.group_column == "customer_id"
    assert not set(train["customer_id"]) & set(test["customer_id"])
    groups, _ = row_groups(train, [*schema.feature_names, schema.target], train["customer_id"])
    y = train[schema.target].to_numpy()
    folds = make_folds(y, 3, 42, groups=groups)
    assert folds.kind == "grouped"
    for fit, score in folds.splits:
        assert not set(train["customer_id"].iloc[fit]) & set(train["customer_id"].iloc[score])


@pytest.mark.slow
def test_a_grouped_evaluation_is_honest_and_a_random_one_is_not(cli, tmp_path):
    """The grouped split's test ROC-AUC is close to that on new customers; a random split of the same
    rows (no id to group by) reports more."""
    config = tmp_path / "c.toml"
    config.write_text("[train]\ncv_folds = 3\n")
    data = snapshots(2000, 6, seed=6)
    new_customers = snapshots(2000, 1, seed=7)
    grouped, leaky, fresh = tmp_path / "grouped.csv", tmp_path / "leaky.csv", tmp_path / "fresh.csv"
    data.drop(columns="Month").to_csv(grouped, index=False)
    data.drop(columns=["Month", "customer_id"]).to_csv(leaky, index=False)
    new_customers.drop(columns="Month").to_csv(fresh, index=False)
    aucs = {}
    for name, path in (("grouped", grouped), ("leaky", leaky)):
        run(cli, tmp_path / name, config, "ingest", path, "--target", "Exited")
        aucs[name] = run(cli, tmp_path / name, config, "train").json()["test_metrics"]["roc_auc"]
    aucs["fresh"] = run(cli, tmp_path / "grouped", config, "evaluate", "--data", fresh).json()["roc_auc"]
    assert abs(aucs["grouped"] - aucs["fresh"]) < 0.04, aucs
    assert aucs["leaky"] > aucs["grouped"] + 0.05, aucs


def test_out_of_time_every_test_row_is_newer_and_folds_go_forward(cli, tmp_path, config):
    from churnctl.model.folds import make_folds

    path = tmp_path / "monthly.csv"
    data = snapshots(600, 10, seed=8)
    data.to_csv(path, index=False)
    doc = run(cli, tmp_path / "a", config, "ingest", path, "--target", "Exited", "--time-column", "Month").json()
    split = doc["split"]
    assert split["kind"] == "out of time" and split["train_to"] < split["test_from"]
    schema, train, test = load_dataset(Registry(tmp_path / "a"), doc["dataset_id"])
    assert train["Month"].max() < test["Month"].min() and len(test) == 2 * 600  # the newest 20 %: two months
    assert "Month" not in schema.feature_names and schema.time_column == "Month"
    folds = make_folds(train[schema.target].to_numpy(), 3, 1, times=train["Month"])
    assert folds.kind == "forward in time" and len(folds) >= 2
    for fit, score in folds.splits:
        assert train["Month"].iloc[fit].max() < train["Month"].iloc[score].min()
    trained = run(cli, tmp_path / "a", config, "train").json()
    assert trained["cv_kind"] == "forward in time" and trained["split"]["kind"] == "out of time"
    manifest = Registry(tmp_path / "a").model_manifest(trained["version"])
    assert manifest["split"]["test_to"] == split["test_to"]
    later = run(
        cli,
        tmp_path / "b",
        config,
        "ingest",
        path,
        "--target",
        "Exited",
        "--time-column",
        "Month",
        "--test-from",
        "2026-09-01",
    ).json()
    assert later["n_test"] == 2 * 600 and later["split"]["test_from"].startswith("2026-09-01")


def test_bad_time_and_group_options_say_what_is_wrong(cli, tmp_path, config, sim_csv):
    art = tmp_path / "a"
    base = ["--artifacts", art, "--config", config, "ingest", sim_csv, "--target", "Exited"]
    assert cli(*base, "--time-column", "Nope").code == 2
    run_ = cli(*base, "--time-column", "Geography")
    assert run_.code == 3 and "not dates or numbers" in run_.stderr
    assert cli(*base, "--test-from", "2026-01-01").code == 2  # without a time column
    assert cli(*base, "--group-column", "Exited").code == 2  # the target


def test_clean_files_keep_their_features_and_ids(cli, tmp_path, config, sim_csv):
    doc = run(cli, tmp_path / "a", config, "ingest", sim_csv, "--target", "Exited", "--seed", "42").json()
    assert [f["name"] for f in doc["features"]] == [
        "CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
        "IsActiveMember", "EstimatedSalary",
    ]  # fmt: skip
    assert [e["name"] for e in doc["excluded"]] == ["CustomerId"] and doc["duplicates"] == 0
    assert doc["split"] == {"kind": "stratified random"}
    assert max(f["alone_auc"] for f in doc["features"]) < 0.8  # far below the leak threshold
    import pandas as pd

    from churnctl.contract.inference import infer_schema
    from churnctl.data.datasets import content_digest, dataset_id

    raw = pd.read_csv(sim_csv, dtype=str)
    typed = infer_schema(raw, "Exited", None).frame
    digest = content_digest(typed, list(raw.columns))
    assert doc["dataset_id"] == dataset_id(digest, "Exited", "1", 0.2, 42)  # from the rows' content


def test_the_real_bank_file_keeps_every_feature(bank_model):
    ingested = bank_model(1).ingested
    assert [f["name"] for f in ingested["features"]] == [
        "CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
        "IsActiveMember", "EstimatedSalary",
    ]  # fmt: skip
    assert not [e for e in ingested["excluded"] if e["role"] == "leak"]
    assert max(f["alone_auc"] for f in ingested["features"]) < 0.8


def test_leak_auc_is_validated(tmp_path):
    from churnctl.config import load_settings
    from churnctl.errors import UsageError

    path = tmp_path / "c.toml"
    for value in ("0.4", "1.5"):
        path.write_text(f"[data]\nleak_auc = {value}\n")
        with pytest.raises(UsageError, match="leak_auc"):
            load_settings(path)
    path.write_text('[data]\nkeep_columns = ["A", "B"]\ngroup_column = "customer"\n')
    settings = load_settings(path)
    assert settings.data.keep_columns == ("A", "B") and settings.data.group_column == "customer"
    json.dumps(settings.data.keep_columns)
