import numpy as np
import pytest

from churnctl.errors import UsageError
from churnctl.synthetic import churn_logit, parse_drift, simulate_customers


@pytest.fixture(scope="module")
def population():
    return simulate_customers(40_000, seed=3)


def test_same_seed_same_data():
    a, b = simulate_customers(500, seed=9), simulate_customers(500, seed=9)
    assert a.equals(b)
    assert not a.equals(simulate_customers(500, seed=10))


def test_marginals_resemble_bank_data(population):
    f = population
    assert 0.18 < f["Exited"].mean() < 0.23
    assert f["CustomerId"].is_unique
    geo = f["Geography"].value_counts(normalize=True)
    assert geo["France"] == pytest.approx(0.5, abs=0.02) and geo["Germany"] == pytest.approx(0.25, abs=0.02)
    assert (f["Balance"] == 0).mean() == pytest.approx(0.36, abs=0.03)
    assert (f.loc[f["Geography"] == "Germany", "Balance"] > 0).all()
    assert 37 < f["Age"].mean() < 41 and f["Age"].min() >= 18
    assert 630 < f["CreditScore"].mean() < 670 and f["CreditScore"].between(350, 850).all()
    assert set(f["NumOfProducts"]) <= {1, 2, 3, 4}


def test_churn_relationships(population):
    f = population
    rate = f.groupby("Geography")["Exited"].mean()
    assert rate["Germany"] > 1.5 * rate["France"]
    assert f.groupby("IsActiveMember")["Exited"].mean()[0] > f.groupby("IsActiveMember")["Exited"].mean()[1]
    by_products = f.groupby("NumOfProducts")["Exited"].mean()
    assert by_products[2] < by_products[1] < by_products[3] < by_products[4]
    middle = f[f["Age"].between(45, 65)]["Exited"].mean()
    assert middle > 2 * f[f["Age"] < 35]["Exited"].mean()


def test_labels_follow_documented_mechanism(population):
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(population["Exited"], churn_logit(population))
    assert 0.84 < auc < 0.90  # the real data's best models reach about 0.86-0.87


def test_drift_options_do_what_they_say():
    ref = simulate_customers(20_000, seed=1)
    drift = parse_drift(
        shift=["Age=+5", "CreditScore=0.5sd"],
        mix=["Geography=Germany:0.5"],
        new_category=["Geography=Italy:0.05"],
        missing=["Balance=0.1"],
    )
    cur = simulate_customers(20_000, seed=2, drift=drift)
    assert cur["Age"].mean() - ref["Age"].mean() == pytest.approx(5, abs=0.3)
    assert cur["CreditScore"].mean() - ref["CreditScore"].mean() == pytest.approx(0.5 * 96, abs=5)
    shares = cur["Geography"].value_counts(normalize=True)
    assert shares["Germany"] == pytest.approx(0.5 * 0.95, abs=0.02)
    assert shares["Italy"] == pytest.approx(0.05, abs=0.01)
    assert cur["Balance"].isna().mean() == pytest.approx(0.1, abs=0.01)


def test_concept_drift_changes_the_mechanism():
    from sklearn.metrics import roc_auc_score

    cur = simulate_customers(20_000, seed=4, drift=parse_drift(concept=1.0))
    assert roc_auc_score(cur["Exited"], churn_logit(cur)) < 0.6  # the old mechanism no longer ranks
    assert roc_auc_score(cur["Exited"], churn_logit(cur, concept=1.0)) > 0.7


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"shift": ["Geography=1"]}, "not a numeric column"),
        ({"shift": ["Age"]}, "COLUMN=VALUE"),
        ({"mix": ["Geography=Italy:0.2"]}, "not a category"),
        ({"mix": ["Geography=Germany:1.5"]}, "between 0 and 1"),
        ({"missing": ["Nope=0.1"]}, "not a feature"),
        ({"concept": 2.0}, "between 0 and 1"),
        ({"shift": ["Age=inf"]}, "not a finite number"),
        ({"shift": ["Age=nan"]}, "not a finite number"),
        ({"shift": ["Age=1e308"]}, "overflow"),
        ({"mix": ["Geography=France:0.5,France:0.4"]}, "given twice"),
        ({"shift": ["Balance=-2e4sd"]}, "overflow"),
        ({"mix": ["Gender=Male:0,Female:0"]}, "must add up to 1"),
        ({"mix": ["Geography=France:0.1,Germany:0.2,Spain:0.3"]}, "must add up to 1"),
    ],
)
def test_bad_drift_specs(kwargs, message):
    with pytest.raises(UsageError, match=message):
        parse_drift(**kwargs)


# -- other profiles -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def telco():
    return simulate_customers(30_000, seed=3, profile_name="telco")


@pytest.fixture(scope="module")
def usage():
    return simulate_customers(30_000, seed=3, profile_name="usage")


def test_every_profile_is_reproducible_and_documents_its_target():
    from churnctl.synthetic import PROFILES

    for name, profile in PROFILES.items():
        a = simulate_customers(300, seed=9, profile_name=name)
        assert a.equals(simulate_customers(300, seed=9, profile_name=name))
        assert not a.equals(simulate_customers(300, seed=10, profile_name=name))
        assert set(a[profile.target]) == set(profile.labels)
        assert set(profile.features) | {profile.target} <= set(a.columns)


def test_telco_profile_resembles_the_public_file(telco):
    f = telco
    churn = f["Churn"] == "Yes"
    assert 0.23 < churn.mean() < 0.30
    yes_no = [c for c in f.columns if set(f[c].unique()) <= {"Yes", "No"}]
    assert len(yes_no) >= 5  # Partner, Dependents, PhoneService, PaperlessBilling, Churn
    assert f["TotalCharges"].isna().equals(f["tenure"] == 0)  # blank for customers without a month billed
    long = f[f["tenure"] > 0]
    assert (long["TotalCharges"] / (long["MonthlyCharges"] * long["tenure"])).between(0.8, 1.2).all()
    by_contract = churn.groupby(f["Contract"]).mean()
    assert by_contract["Month-to-month"] > 2 * by_contract["One year"] > by_contract["Two year"]
    assert churn[f["tenure"] <= 6].mean() > 2 * churn[f["tenure"] >= 48].mean()  # falls steeply, then slowly
    assert f.groupby("Contract")["tenure"].mean().is_monotonic_increasing  # longer customers, longer contracts


def test_usage_profile_resembles_the_public_file(usage):
    f = usage
    churn = f["Churn"].astype(bool)
    assert 0.11 < churn.mean() < 0.18
    assert f["State"].nunique() == 51 and set(f["Area code"]) == {408, 415, 510}
    for period, rate in (("day", 0.17), ("eve", 0.085), ("night", 0.045), ("intl", 0.27)):
        np.testing.assert_allclose(f[f"Total {period} charge"], (f[f"Total {period} minutes"] * rate).round(2))
    assert churn[f["Customer service calls"] >= 4].mean() > 2 * churn[f["Customer service calls"] <= 1].mean()
    assert churn[f["International plan"] == "yes"].mean() > 2 * churn[f["International plan"] == "no"].mean()
    assert (f.loc[f["Voice mail plan"] == "no", "Number vmail messages"] == 0).all()


def test_drift_options_follow_the_profile():
    drift = parse_drift(shift=["Total day minutes=+40"], mix=["International plan=yes:0.3"], profile_name="usage")
    ref = simulate_customers(20_000, seed=1, profile_name="usage")
    cur = simulate_customers(20_000, seed=2, drift=drift, profile_name="usage")
    assert cur["Total day minutes"].mean() - ref["Total day minutes"].mean() == pytest.approx(40, abs=2)
    np.testing.assert_allclose(cur["Total day charge"], (cur["Total day minutes"] * 0.17).round(2))  # follows
    assert (cur["International plan"] == "yes").mean() == pytest.approx(0.3, abs=0.015)
    assert cur["Churn"].mean() > ref["Churn"].mean() + 0.03  # bigger bills, same mechanism: more churn
    with pytest.raises(UsageError, match="not a numeric column of the telco profile") as error:
        parse_drift(shift=["Age=+5"], profile_name="telco")
    assert "tenure" in error.value.hint
    with pytest.raises(UsageError, match="unknown profile"):
        parse_drift(profile_name="insurance")


def test_simulate_writes_a_profile_that_ingest_reads(cli, tmp_path):
    path = tmp_path / "usage.csv"
    run = cli("simulate", "--profile", "usage", "--rows", "800", "--seed", "4", "-o", path, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["profile"] == "usage" and run.json()["target"] == "Churn"
    ingested = cli("--artifacts", tmp_path / "a", "ingest", path, "--target", "Churn", "--format", "json")
    assert ingested.code == 0, ingested.stderr
    doc = ingested.json()
    kinds = {f["name"]: f["kind"] for f in doc["features"]}
    assert doc["positive_label"] == "True" and kinds["State"] == "categorical" and kinds["Voice mail plan"] == "binary"
    bad = cli("simulate", "--profile", "bank", "--shift", "tenure=+1", "-o", tmp_path / "x.csv")
    assert bad.code == 2 and "not a numeric column of the bank profile" in bad.stderr


def test_a_shift_in_standard_deviations_needs_two_rows():
    with pytest.raises(UsageError, match="at least 2 rows"):
        simulate_customers(1, seed=1, drift=parse_drift(["Age=1sd"]))
