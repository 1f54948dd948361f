"""HTML reports: every plot present, nothing external, names escaped, written whole or not at all."""

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd


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
    assert "Model v0001: evaluation" in text and "roc_auc" in text


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
