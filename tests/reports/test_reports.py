"""HTML reports: every plot present, nothing external, names escaped, written whole or not at all."""

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[str] = []
        self.titles: list[str] = []
        self.references: list[str] = []
        self._in_h3 = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_h3 = tag == "h3"
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value and not value.startswith(("#", "data:")):
                self.references.append(value)

    def handle_data(self, data):
        if self._in_h3:
            self.titles.append(data)
            self._in_h3 = False


def check_self_contained(text: str) -> Page:
    page = Page(text)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert not page.references, page.references  # no file, font, style or script from elsewhere
    assert "@import" not in text and not re.findall(r"url\((?!#)", text)  # only the SVG's own clip paths
    return page


def test_evaluate_report_has_every_plot_and_nothing_external(cli, artifacts, tmp_path):
    report = tmp_path / "evaluation.html"
    run = cli("--artifacts", artifacts, "evaluate", "--report", report)
    assert run.code == 0, run.stderr
    text = report.read_text()
    page = check_self_contained(text)
    assert page.tags.count("svg") == 7
    assert set(page.titles) == {
        "ROC curve",
        "Precision and recall",
        "Calibration",
        "Confusion matrix",
        "Cumulative gains and lift",
        "Scores by class",
        "Permutation importance",
    }
    assert "Model v0001: evaluation" in text and "ROC-AUC" in text


def test_names_from_the_data_are_escaped(cli, tmp_path, fast_config):
    rng = np.random.default_rng(4)
    n = 1500
    weird = "<b>cost</b> & $fee"
    x = rng.normal(size=n)
    churn = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    frame = pd.DataFrame({weird: x, "plan": rng.choice(["a", "b"], n), "churn": churn})
    data = tmp_path / "weird.csv"
    frame.to_csv(data, index=False)
    a = ["--artifacts", tmp_path / "art", "--config", fast_config]
    assert cli(*a, "ingest", data, "--target", "churn").code == 0
    assert cli(*a, "train", "--model", "logreg").code == 0
    report = tmp_path / "r.html"
    run = cli(*a, "evaluate", "--report", report)
    assert run.code == 0, run.stderr
    text = report.read_text()
    page = check_self_contained(text)
    assert "b" not in page.tags  # the column name never became markup
    assert "&lt;b&gt;cost&lt;/b&gt; &amp; $fee" in text  # it is there, as text


def test_a_report_that_cannot_be_written_leaves_nothing(cli, artifacts, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = cli("--artifacts", artifacts, "evaluate", "--report", blocker / "r.html")
    assert run.code != 0 and "Traceback" not in run.stderr
    assert not list(tmp_path.glob("**/*.html")) and not list(tmp_path.glob("**/*.tmp"))


def test_binned_distributions_agree_with_counting_the_rows():
    from churnctl.drift.distributions import categorical_distribution, numeric_distribution
    from churnctl.drift.profile import (
        CategoricalAccumulator,
        CategoricalReference,
        NumericAccumulator,
        NumericReference,
    )

    rng = np.random.default_rng(0)
    reference = rng.normal(size=5000)
    current = np.concatenate([rng.normal(0.5, 1.2, 3000), [-10.0, 10.0]])
    acc = NumericAccumulator(NumericReference.from_values(reference))
    for part in np.array_split(current, 3):  # batch by batch, as drift-check streams
        acc.update(part)
    d = numeric_distribution(acc)
    assert sum(d.reference) == pytest.approx(1) and sum(d.current) == pytest.approx(1)
    e = d.edges
    assert d.current[0] == pytest.approx((current < e[0]).mean()) and d.reference[0] == 0
    assert d.current[-1] == pytest.approx((current > e[-1]).mean())
    for i in range(len(e) - 1):
        assert d.current[2 + i] == pytest.approx(((current > e[i]) & (current <= e[i + 1])).mean())
        assert d.reference[2 + i] == pytest.approx(((reference > e[i]) & (reference <= e[i + 1])).mean())

    cats = CategoricalAccumulator(CategoricalReference({f"c{i}": 100 - i for i in range(15)}, 0))
    cats.update(np.array(["c0"] * 50 + ["c14"] * 30 + ["new"] * 20, dtype=object))
    c = categorical_distribution(cats)
    assert c.labels[:2] == ["c0", "c1"] and c.labels[-2:] == ["(other)", "(unseen)"]
    assert c.current[0] == 0.5 and c.current[-2] == 0.3 and c.current[-1] == 0.2


def test_drift_check_report_has_a_panel_per_feature_largest_effect_first(cli, artifacts, tmp_path):
    from churnctl.synthetic import Drift, simulate_customers

    current = tmp_path / "older.csv"
    simulate_customers(3000, seed=8, drift=Drift(shift={"Age": 8})).to_csv(current, index=False)
    report = tmp_path / "drift.html"
    run = cli("--artifacts", artifacts, "drift-check", "--current", current, "--report", report, "--format", "json")
    assert run.code == 1, run.stderr
    assert "distributions" not in run.json()  # the JSON document is unchanged
    text = report.read_text()
    page = check_self_contained(text)
    features = list(run.json()["features"])
    panels = [t for t in page.titles if t.split(" (")[0] in features]
    assert len(panels) == len(features) and panels[0].startswith("Age ")
    assert "Churn probability" in page.titles and "DRIFT DETECTED" in text
    assert page.tags.count("svg") == len(features) + 2  # the features, the probabilities, the estimate
    assert "Performance with labels" in text  # the batch carries labels


def test_bins_hold_about_equal_numbers_of_reference_rows_on_repeated_values():
    from churnctl.drift.distributions import BINS, numeric_distribution
    from churnctl.drift.profile import NumericAccumulator, NumericReference

    ages = np.round(np.random.default_rng(1).normal(40, 10, 5000))
    d = numeric_distribution(NumericAccumulator(NumericReference.from_values(ages)))
    inner = d.reference[1:-1]
    assert max(inner) <= 2.5 / BINS  # one age holds about 4 %: bins cannot split it, but none is crowded


def test_a_zero_effect_threshold_and_a_folder_as_report_path(cli, artifacts, tmp_path):
    current = tmp_path / "batch.csv"
    from churnctl.synthetic import simulate_customers

    simulate_customers(800, seed=2).to_csv(current, index=False)
    config = tmp_path / "zero.toml"
    config.write_text("[drift]\nnumeric_effect = 0\ncategorical_effect = 0\n")
    a = ["--artifacts", artifacts, "--config", config]
    run = cli(*a, "drift-check", "--current", current, "--report", tmp_path / "z.html")
    assert run.code in (0, 1), run.stderr
    assert (tmp_path / "z.html").exists()
    events = (artifacts / "events.jsonl").read_text()
    refused = cli("--artifacts", artifacts, "drift-check", "--current", current, "--report", tmp_path)
    assert refused.code == 2 and "--report" in refused.stderr
    assert (artifacts / "events.jsonl").read_text() == events  # refused before the check ran


def test_a_binary_flag_is_explained_against_its_most_frequent_value():
    from churnctl.contract.inference import infer_schema
    from churnctl.model.explain import typical_values

    frame = pd.DataFrame({"flag": [0, 1] * 50, "x": np.tile(np.arange(50.0), 2), "y": [0, 1, 1, 0] * 25})
    inferred = infer_schema(frame, "y", None)
    assert inferred.schema.column("flag").kind == "binary"
    typical = typical_values(inferred.frame, inferred.schema)
    assert typical["flag"] in (0, 1) and typical["x"] == 24.5
