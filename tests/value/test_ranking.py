"""The campaign list: exactly the best customers, in bounded memory, from one file or many parts."""

import pickle

import numpy as np
import pandas as pd
import pytest

from churnctl.config import value_options
from churnctl.lifecycle.predict_batch import Ranking, predict_file, predict_part
from churnctl.registry import Registry
from churnctl.value.campaign import Campaign
from churnctl.value.ranking import COST, ROW, VALUE, Shortlist, contact_list

VALUE_OPTIONS = ["customer_value=1000", "contact_cost=10", "incentive_cost=50"]


def batches(n: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(0, 50, n), 0)  # many ties
    for start in range(0, n, size):
        stop = min(n, start + size)
        yield pd.DataFrame({VALUE: values[start:stop], COST: 10.0, ROW: np.arange(start + 1, stop + 1)})


@pytest.mark.parametrize("k", [1, 7, 100])
def test_the_shortlist_keeps_exactly_the_best_k_in_bounded_memory(k):
    shortlist, everything, most = Shortlist(k), [], 0
    for batch in batches(5000, 97):
        shortlist.write(batch)
        everything.append(batch)
        most = max(most, sum(len(p) for p in shortlist.parts))
    full = pd.concat(everything).sort_values([VALUE, ROW], ascending=[False, True], kind="stable")
    assert shortlist.ranked()[ROW].tolist() == full[ROW].head(k).tolist()
    assert most <= 2 * k + 97  # never more than twice the list and one batch


def test_shortlists_of_parts_merge_into_the_shortlist_of_the_whole():
    parts = [Shortlist(50) for _ in range(4)]
    for i, batch in enumerate(batches(4000, 100, seed=3)):
        parts[i % 4].write(batch)
    whole = Shortlist(50)
    for part in parts:
        whole.merge(pickle.loads(pickle.dumps(part)))  # as a cluster sends it back
    single = Shortlist(50)
    for batch in batches(4000, 100, seed=3):
        single.write(batch)
    assert whole.ranked()[ROW].tolist() == single.ranked()[ROW].tolist() and whole.n_seen == 4000


def test_a_budget_stops_where_the_money_ends_or_where_contacting_stops_paying():
    rows = pd.DataFrame({VALUE: [50.0, 40.0, 30.0, -1.0, -2.0], COST: [20.0, 20.0, 20.0, 20.0, 20.0], ROW: range(1, 6)})
    shortlist = Shortlist(None)
    shortlist.write(rows)
    assert len(contact_list(shortlist, None, 45).customers) == 2  # 40 spent; a third would be 60
    rich = contact_list(shortlist, None, 10_000)
    assert len(rich.customers) == 3 and rich.stopped == "no gain"
    assert rich.customers["cumulative_cost"].tolist() == [20.0, 40.0, 60.0]
    assert rich.customers["cumulative_expected_saving"].tolist() == [50.0, 90.0, 120.0]


@pytest.fixture
def ranked_settings(artifacts):
    from churnctl.config import Settings

    return value_options(Settings(), VALUE_OPTIONS)


def test_top_k_from_a_file_of_many_batches_is_the_head_of_the_full_ranking(
    artifacts, sim_csv, tmp_path, ranked_settings
):
    registry = Registry(artifacts)
    campaign = Campaign.from_settings(ranked_settings.value)
    full = tmp_path / "full.csv"
    predict_file(registry, ranked_settings, str(sim_csv), output=str(full), ranking=Ranking(campaign), batch_rows=250)
    top = tmp_path / "top.csv"
    result = predict_file(
        registry, ranked_settings, str(sim_csv), output=str(top), ranking=Ranking(campaign, top=40), batch_rows=250
    )
    everyone, best = pd.read_csv(full), pd.read_csv(top)
    assert len(everyone) == 3000 and len(best) == 40 and result.contact["considered"] == 3000
    assert best["CustomerId"].tolist() == everyone["CustomerId"].head(40).tolist()
    assert best["expected_net_value"].is_monotonic_decreasing and best["rank"].tolist() == list(range(1, 41))
    # against the definition: p * (0.3 * (1000 - 50) - 10) - (1 - p) * 60, sorted
    p = everyone["churn_probability"]
    assert np.allclose(everyone["expected_net_value"], p * 275 - (1 - p) * 60, atol=0.01)
    assert everyone["expected_net_value"].is_monotonic_decreasing


def test_a_cluster_of_parts_gives_the_same_list(artifacts, sim_csv, tmp_path, ranked_settings):
    """Parts scored elsewhere (pickled jobs, each part's own shortlist sent back) give the same list as
    one file in this process."""
    frame = pd.read_csv(sim_csv)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, len(frame), 1000)):
        frame.iloc[start : start + 1000].to_csv(folder / f"part-{i}.csv", index=False)

    class Elsewhere:
        name, in_process = "elsewhere", False

        def map_parts(self, task, parts, job, *, offsets=False):
            results, offset = [], 0
            for part in parts:
                results.append(task(part, offset if offsets else 0, pickle.loads(pickle.dumps(job))))
                offset += results[-1].n_rows
            return results

    campaign = Campaign.from_settings(ranked_settings.value)
    registry = Registry(artifacts)
    here, there = tmp_path / "here.csv", tmp_path / "there.csv"
    predict_file(registry, ranked_settings, str(sim_csv), output=str(here), ranking=Ranking(campaign, top=25))
    predict_file(
        registry, ranked_settings, str(folder), output=str(there), ranking=Ranking(campaign, top=25), engine=Elsewhere()
    )
    a, b = pd.read_csv(here), pd.read_csv(there)
    assert a["CustomerId"].tolist() == b["CustomerId"].tolist() and a["row"].tolist() == b["row"].tolist()
    assert predict_part  # the task the engine ran


def test_predict_rank_through_the_cli(cli, artifacts, sim_csv, tmp_path):
    a = ["--artifacts", artifacts, "predict", "--input", sim_csv]
    values = [x for option in VALUE_OPTIONS for x in ("--value", option)]
    run = cli(*a, "--budget", "5000", *values, "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["contact"]["expected_cost"] <= 5000 and document["contact"]["stopped"] in ("budget", "no gain")
    assert len(document["customers"]) == document["contact"]["customers"]
    assert cli(*a, "--top", "3", *values).stdout.count("\n") == 4  # the header and three customers, as CSV
    parquet = tmp_path / "list.parquet"
    assert cli(*a, "--top", "10", *values, "--output", parquet).code == 0
    assert len(pd.read_parquet(parquet)) == 10
    no_money = cli(*a, "--top", "3")
    assert no_money.code == 2 and "no customer value is set" in no_money.stderr
    free = cli(*a, "--budget", "100", "--value", "customer_value=10")
    assert free.code == 2 and "needs a cost per contact" in free.stderr
    assert cli("--artifacts", artifacts, "predict", "--json", "-", "--top", "2", stdin="{}").code == 2
