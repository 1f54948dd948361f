"""Other churn files: Yes/No and True/False targets, blank numeric cells, 20+ columns, Parquet."""

import numpy as np
import pandas as pd
import pytest


def telco_like(n=1500, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    monthly = np.round(rng.uniform(18, 120, n), 2)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.25, 0.2])
    logit = -0.5 - 0.05 * tenure + 0.02 * (monthly - 65) + np.where(contract == "Month-to-month", 1.2, -1.0)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customerID": [f"{i:04d}-{rng.integers(10**4):05d}X" for i in range(n)],
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": rng.integers(0, 2, n),
            "Partner": rng.choice(["Yes", "No"], n),
            "Dependents": rng.choice(["Yes", "No"], n),
            "tenure": tenure,
            "PhoneService": rng.choice(["Yes", "No"], n),
            "MultipleLines": rng.choice(["Yes", "No", "No phone service"], n),
            "InternetService": rng.choice(["DSL", "Fiber optic", "No"], n),
            "OnlineSecurity": rng.choice(["Yes", "No", "No internet service"], n),
            "OnlineBackup": rng.choice(["Yes", "No", "No internet service"], n),
            "DeviceProtection": rng.choice(["Yes", "No", "No internet service"], n),
            "TechSupport": rng.choice(["Yes", "No", "No internet service"], n),
            "StreamingTV": rng.choice(["Yes", "No", "No internet service"], n),
            "StreamingMovies": rng.choice(["Yes", "No", "No internet service"], n),
            "Contract": contract,
            "PaperlessBilling": rng.choice(["Yes", "No"], n),
            "PaymentMethod": rng.choice(
                ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"], n
            ),
            "MonthlyCharges": monthly,
            "TotalCharges": np.round(monthly * tenure, 2).astype(str),
            "Churn": np.where(churn, "Yes", "No"),
        }
    )
    frame.loc[tenure == 0, "TotalCharges"] = " "  # as in the public Telco file
    return frame


def test_telco_like_file_end_to_end(cli, tmp_path, fast_config):
    frame = telco_like()
    path = tmp_path / "telco.csv"
    frame.to_csv(path, index=False)
    a = ["--artifacts", tmp_path / "art", "--config", fast_config]
    ingested = cli(*a, "ingest", path, "--target", "Churn", "--format", "json")
    assert ingested.code == 0, ingested.stderr
    doc = ingested.json()
    assert doc["positive_label"] == "Yes" and len(doc["features"]) == 19
    kinds = {f["name"]: f["kind"] for f in doc["features"]}
    assert kinds["TotalCharges"] == "numeric" and kinds["Contract"] == "categorical"
    assert kinds["SeniorCitizen"] == "binary" and kinds["Partner"] == "binary"
    assert {e["name"] for e in doc["excluded"]} == {"customerID"}
    trained = cli(*a, "train", "--format", "json").json()
    assert trained["test_metrics"]["roc_auc"] > 0.75
    batch = tmp_path / "batch.csv"
    frame.drop(columns="Churn").head(20).to_csv(batch, index=False)
    scored = cli(*a, "predict", "--input", batch)
    assert scored.code == 0 and scored.stdout.splitlines()[0].startswith("customerID,churn_probability")
    labelled = tmp_path / "labelled.csv"
    frame.head(300).to_csv(labelled, index=False)
    evaluated = cli(*a, "evaluate", "--data", labelled, "--format", "json").json()
    assert evaluated["n_rows"] == 300


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_true_false_target_and_parquet(cli, tmp_path, fast_config, suffix):
    frame = telco_like(800, seed=1)
    frame["Churn"] = frame["Churn"] == "Yes"  # booleans: True/False in CSV, bool in Parquet
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"], errors="coerce")
    path = tmp_path / f"bool{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    a = ["--artifacts", tmp_path / "art", "--config", fast_config]
    doc = cli(*a, "ingest", path, "--target", "Churn", "--format", "json").json()
    assert doc["positive_label"] == "True"
    assert doc["churn_rate"] == pytest.approx(frame["Churn"].mean(), abs=1e-9)
    assert cli(*a, "train", "--model", "logreg").code == 0


def test_ambiguous_target_needs_positive(cli, tmp_path):
    frame = telco_like(300)
    frame["Churn"] = np.where(frame["Churn"] == "Yes", "gone", "here")
    path = tmp_path / "amb.csv"
    frame.to_csv(path, index=False)
    run = cli("--artifacts", tmp_path / "art", "ingest", path, "--target", "Churn")
    assert run.code == 3 and "--positive" in run.stderr
    ok = cli(
        "--artifacts", tmp_path / "art", "ingest", path, "--target", "Churn", "--positive", "gone", "--format", "json"
    )
    assert ok.code == 0 and ok.json()["positive_label"] == "gone"
