"""[value] settings and --value through the commands: checked like every setting, and what each
command does with them."""

import json

import numpy as np
import pytest

from churnctl.registry import Registry

VALUE = ["--value", "customer_value=1000", "--value", "contact_cost=10", "--value", "incentive_cost=50"]


@pytest.mark.parametrize(
    "config,message",
    [
        ("[value]\ncustomer_value = -5\n", "customer_value = -5 is not a positive number"),
        ("[value]\ncustomer_value = 100\ncustomer_value_column = 'x'\n", "both set"),
        ("[value]\ncontact_cost = -1\n", "contact_cost = -1 is not a number, 0 or more"),
        ("[value]\nacceptance_rate = 1.5\n", "acceptance_rate = 1.5 is not a share"),
        ("[value]\nacceptance_rate = { alpha = 6 }\n", "acceptance_rate"),
        ("[value]\nvalue_horizon = 0\n", "value_horizon = 0 is not a positive number"),
        ("[value]\ncustomer_valeu = 100\n", "unknown key(s) customer_valeu"),
        ('[train]\nthreshold = "top:2"\n', "threshold policy 'top:2'"),
        ('[train]\nthreshold = "budget"\n', "threshold policy 'budget'"),
    ],
)
def test_bad_value_settings_are_usage_errors(cli, tmp_path, config, message):
    path = tmp_path / "c.toml"
    path.write_text(config)
    run = cli("--config", path, "--artifacts", tmp_path / "a", "models", "list")
    assert run.code == 2 and message in run.stderr, run.stderr


@pytest.mark.parametrize(
    "option,message",
    [
        ("customer_value", "is not KEY=VALUE"),
        ("customer_value=abc", "is not a positive number"),
        ("acceptance_rate=beta:6", "acceptance_rate"),
        ("discount=0.1", "unknown key 'discount'"),
    ],
)
def test_bad_value_options_are_usage_errors(cli, artifacts, option, message):
    run = cli("--artifacts", artifacts, "evaluate", "--value", option)
    assert run.code == 2 and message in run.stderr, run.stderr


def test_without_value_settings_evaluate_reports_no_money(cli, artifacts):
    document = cli("--artifacts", artifacts, "evaluate", "--format", "json").json()
    assert document["value"] is None and len(document["deciles"]) == 10


def test_evaluate_reports_the_campaigns_profit(cli, artifacts):
    run = cli("--artifacts", artifacts, "evaluate", *VALUE, "--value", "acceptance_rate=beta:6,14", "--format", "json")
    assert run.code == 0, run.stderr
    value = run.json()["value"]
    assert value["best"]["profit"] >= value["at_threshold"]["profit"]
    assert value["best"]["profit"] >= max(p["profit_per_customer"] for p in value["curve"]) * value["n_rows"] - 1e-6
    assert value["perfect_model_profit"] >= value["best"]["profit"] and value["emp"]["share"] > 0
    text = cli("--artifacts", artifacts, "evaluate", *VALUE).stdout
    assert "Campaign profit" in text and "most profitable" in text and "Lift by decile" in text


def test_a_value_column_times_its_horizon(cli, artifacts, tmp_path):
    """Each customer's value from a column (1 % of EstimatedSalary as a margin); a column the data do
    not have is a data error naming it."""
    run = cli(
        "--artifacts",
        artifacts,
        "evaluate",
        "--value",
        "customer_value_column=EstimatedSalary",
        "--value",
        "value_horizon=0.01",
        "--value",
        "contact_cost=5",
        "--format",
        "json",
    )
    assert run.code == 0, run.stderr
    assert run.json()["value"]["campaign"]["customer_value_column"] == "EstimatedSalary"
    missing = cli("--artifacts", artifacts, "evaluate", "--value", "customer_value_column=Nope")
    assert missing.code == 3 and "no column 'Nope'" in missing.stderr


@pytest.mark.parametrize("policy", ["profit", "top:0.15", "budget:40000"])
def test_train_stores_the_policy_and_a_threshold_that_does_what_it_says(cli, artifacts, tmp_path, policy):
    config = tmp_path / "value.toml"
    config.write_text(
        f'[train]\ncv_folds = 3\nthreshold = "{policy}"\n'
        "[value]\ncustomer_value = 1000\ncontact_cost = 10\nincentive_cost = 50\n"
    )
    run = cli("--config", config, "--artifacts", artifacts, "train", "--model", "logreg", "--format", "json")
    assert run.code == 0, run.stderr
    trained = run.json()
    manifest = Registry(artifacts).model_manifest(trained["version"])
    figures = manifest["threshold_policy"]
    assert manifest["threshold"] == trained["threshold"] and figures["policy"] == policy
    if policy.startswith("top:"):
        assert figures["share_flagged"] == pytest.approx(0.15, abs=1 / figures["rows"])
    elif policy.startswith("budget:"):
        assert figures["expected_spend"] <= 40000 and figures["base_rows"] == 3000
    else:
        assert figures["profit_per_customer"] > 0
    # labels and risk levels follow the chosen threshold
    rows = [
        {
            "CreditScore": 600,
            "Geography": "France",
            "Gender": "Male",
            "Age": a,
            "Tenure": 3,
            "Balance": 0.0,
            "NumOfProducts": 1,
            "HasCrCard": 1,
            "IsActiveMember": 0,
            "EstimatedSalary": 50000.0,
        }
        for a in range(20, 80, 5)
    ]
    scored = cli(
        "--artifacts", artifacts, "predict", "--model", trained["version"], "--json", "-", stdin=json.dumps(rows)
    )
    for prediction in scored.json():
        assert prediction["churn_label"] == int(prediction["churn_probability"] >= manifest["threshold"])


def test_a_version_trained_before_policies_loads_and_scores_unchanged(cli, artifacts):
    """The shared test registry's v0001 has no threshold_policy key only if it predates them; a
    manifest without one (as every earlier version) still loads, and evaluate uses its threshold."""
    manifest = Registry(artifacts).model_manifest("v0001")
    document = cli("--artifacts", artifacts, "evaluate", *VALUE, "--format", "json").json()
    assert document["value"]["at_threshold"]["threshold"] == manifest["threshold"]
    assert np.isfinite(document["value"]["best"]["profit"])


def test_policies_that_need_money_say_so(cli, artifacts, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[train]\ncv_folds = 3\nthreshold = "profit"\n')
    run = cli("--config", config, "--artifacts", artifacts, "train", "--model", "logreg")
    assert run.code == 2 and "needs the value of a customer" in run.stderr
    assert len(Registry(artifacts).versions()) == 1  # nothing stored


def test_drift_check_estimates_the_campaigns_profit_and_exports_it(cli, artifacts, sim_csv, tmp_path):
    prom = tmp_path / "drift.prom"
    run = cli(
        "--artifacts",
        artifacts,
        "drift-check",
        "--current",
        sim_csv,
        *VALUE,
        "--metrics-file",
        prom,
        "--format",
        "json",
    )
    assert run.code in (0, 1), run.stderr
    estimate = run.json()["estimated_profit"]
    assert estimate["low"] <= estimate["profit_per_customer"] <= estimate["high"]
    assert estimate["n_labelled"] == estimate["n_rows"] and estimate["realised_per_customer"] is not None
    text = prom.read_text()
    assert 'churnctl_estimated_profit_per_customer{bound="estimate"}' in text
    assert "churnctl_realised_profit_per_customer " in text
    plain = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv, "--format", "json").json()
    assert plain["estimated_profit"] is None
