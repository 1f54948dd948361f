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
    ],
)
def test_bad_drift_specs(kwargs, message):
    with pytest.raises(UsageError, match=message):
        parse_drift(**kwargs)
