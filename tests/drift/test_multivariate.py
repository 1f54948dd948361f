"""Multivariate drift: a batch whose columns keep their own distributions but lose their relationship
is caught by the domain classifier and by no per-column test; batches like the reference are not; the
current sample merges exactly across parts."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from churnctl.config import DriftSettings, Settings
from churnctl.contract.inference import infer_schema
from churnctl.drift.multivariate import JointSample, chance_se, domain_auc
from churnctl.lifecycle.drift_check import drift_check
from churnctl.lifecycle.ingest import ingest
from churnctl.lifecycle.train import train
from churnctl.registry import Registry


def customers(n: int, seed: int, *, unlinked: bool = False) -> pd.DataFrame:
    """Monthly charges follow usage closely (r ≈ 0.95); churn follows usage and contract. With
    ``unlinked`` the charges are shuffled against the usage: every column keeps its own distribution,
    the two no longer go together."""
    rng = np.random.default_rng(seed)
    usage = rng.gamma(4.0, 25.0, n)
    charges = 20 + 0.5 * usage + rng.normal(0, 4, n)
    contract = rng.choice(["monthly", "yearly", "two-year"], n, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(1, 72, n)
    logit = -1.2 + 0.012 * (usage - 100) + np.where(contract == "monthly", 0.9, -0.6) - 0.02 * tenure
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    if unlinked:
        charges = rng.permutation(charges)
    return pd.DataFrame(
        {
            "usage_minutes": usage.round(1),
            "monthly_charges": charges.round(2),
            "contract": contract,
            "tenure": tenure,
            "churned": np.where(churn, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def linked_registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("linked")
    data = folder / "customers.csv"
    customers(4000, seed=1).to_csv(data, index=False)
    registry = Registry(folder / "artifacts")
    settings = replace(Settings(), train=replace(Settings().train, cv_folds=3))
    ingest(registry, str(data), settings, target="churned", positive="yes", seed=3)
    train(registry, settings, model="logreg")
    return registry


def check(registry: Registry, frame: pd.DataFrame, path) -> dict:
    frame.to_csv(path, index=False)
    settings = replace(Settings(), drift=DriftSettings(multivariate_rows=1500))
    return drift_check(registry, settings, str(path)).to_dict()


def test_a_lost_relationship_is_caught_by_the_domain_classifier_and_by_no_column(linked_registry, tmp_path):
    result = check(linked_registry, customers(3000, seed=7, unlinked=True), tmp_path / "unlinked.csv")
    assert not [name for name, f in result["features"].items() if f["drift"]], result["drifted_features"]
    joint = result["multivariate"]
    assert joint["drift"] and joint["roc_auc"] > joint["bound"] + 0.1, joint
    named = [c["column"] for c in joint["top_columns"][:2]]
    assert set(named) == {"usage_minutes", "monthly_charges"}, joint["top_columns"]
    assert result["drift_detected"] and any("joint distribution" in r for r in result["reasons"])


def test_a_batch_like_the_reference_stays_under_the_bound(linked_registry, tmp_path):
    result = check(linked_registry, customers(3000, seed=8), tmp_path / "like.csv")
    joint = result["multivariate"]
    assert not joint["drift"] and abs(joint["roc_auc"] - 0.5) < 0.05, joint
    assert joint["top_columns"] == [] and not result["drift_detected"], result["reasons"]
    assert joint["n_current"] == 1500 and joint["n_reference"] == 1500  # the sample bounds the cost


def test_the_bound_is_an_honest_chance_level():
    """Two samples of one distribution: the out-of-fold ROC-AUC stays within 3 Mann–Whitney standard
    errors of 0.5 in nearly every draw (the bound the reference period gives is built on this scale)."""
    outside = 0
    for seed in range(12):
        a, b = customers(600, seed=100 + seed), customers(600, seed=200 + seed)
        schema = infer_schema(a, "churned", "yes").schema
        auc, _ = domain_auc(a, b, schema, seed)
        outside += abs(auc - 0.5) > 3 * chance_se(600, 600)
    assert outside <= 1


def test_the_current_sample_merges_exactly_across_parts():
    frame = customers(5000, seed=4).drop(columns="churned")
    whole = JointSample(700, seed=9)
    whole.update(frame, np.arange(5000))
    parts = [JointSample(700, seed=9) for _ in range(3)]
    for part, (start, stop) in zip(parts, [(0, 1200), (1200, 3900), (3900, 5000)], strict=True):
        part.update(frame.iloc[start:stop], np.arange(start, stop))
    merged = parts[2]
    merged.merge(parts[0])
    merged.merge(parts[1])
    assert merged.frame is not None and whole.frame is not None
    pd.testing.assert_frame_equal(
        merged.frame.sort_values("usage_minutes").reset_index(drop=True),
        whole.frame.sort_values("usage_minutes").reset_index(drop=True),
    )
    assert sorted(merged.keys) == sorted(whole.keys)


def test_a_column_of_many_categories_is_coded_within_the_classifiers_limit():
    rng = np.random.default_rng(3)
    a = customers(600, seed=1).assign(city=[f"city {i}" for i in rng.integers(0, 400, 600)])
    b = customers(600, seed=2).assign(city=[f"town {i}" for i in rng.integers(0, 400, 600)])  # all new
    schema = infer_schema(a, "churned", "yes", keep=("city",)).schema
    assert "city" in schema.feature_names
    auc, _ = domain_auc(a, b, schema, seed=1)
    assert auc > 0.9  # every current row is in a city the reference never had


def test_train_stores_the_reference_chance_level_that_drift_check_would_compute(linked_registry, tmp_path, monkeypatch):
    """The reference repeats are measured once, at train, for the default [drift] settings, and signed
    with the version; a check with those settings reuses them, one with others measures its own."""
    from churnctl.drift.multivariate import MultivariateReference
    from churnctl.lifecycle.drift_check import reference_data
    from churnctl.model.scorer import Scorer

    manifest = linked_registry.model_manifest("v0001")
    stored = manifest["multivariate_reference"]
    defaults = DriftSettings()
    assert (stored["rows"], stored["seed"], len(stored["repeats"])) == (defaults.multivariate_rows, defaults.seed, 5)
    scorer = Scorer.load(linked_registry, Settings(), "v0001")
    reference, _ = reference_data(linked_registry, scorer)
    fresh = MultivariateReference.build(reference, scorer.schema, defaults.multivariate_rows, defaults.seed)
    assert fresh.repeats == stored["repeats"]  # exactly what a check would compute itself
    frame = customers(3000, seed=8)
    frame.to_csv(tmp_path / "like.csv", index=False)
    from churnctl.drift import multivariate

    calls = []
    real = multivariate.DomainFit.fit
    monkeypatch.setattr(multivariate.DomainFit, "fit", classmethod(lambda cls, *a: calls.append(1) or real(*a)))
    reused = drift_check(linked_registry, Settings(), str(tmp_path / "like.csv")).to_dict()["multivariate"]
    assert reused["bound"] == fresh.bound(reused["n_current"])
    assert len(calls) == 1  # the current sample only: the five reference repeats came from the manifest
    other = replace(Settings(), drift=DriftSettings(seed=7))
    drift_check(linked_registry, other, str(tmp_path / "like.csv"))
    assert len(calls) == 1 + 1 + 5  # other settings: measured again
