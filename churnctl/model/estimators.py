"""The candidate models and the pipeline each one is.

One function, :func:`build_pipeline`, turns a schema and a candidate (a family and its parameters)
into a fitted-to-be scikit-learn estimator that takes the typed frame that
:func:`churnctl.contract.frames.prepare_features` produces; the saved artifact is that whole estimator.

Families:

- ``logreg``: median imputation with missing-value indicators, standardised numbers, one-hot
  categories, logistic regression. With ``spline_knots``, each number also gets a cubic B-spline
  basis (knots at quantiles, constant beyond the training range), so the model can follow curved
  and U-shaped effects such as churn by age, while the straight term keeps extrapolating.
- ``hgb``: histogram gradient boosting with native categorical splits (categories are coded, the
  ``MAX_TREE_CATEGORIES`` most frequent kept, rarer ones sharing a code). Candidates differ in tree
  size and learning rate; on large data the final fit stops adding trees when a held-out tenth stops
  improving.
- ``blend``: the soft vote (mean probability) of the best candidate of each family, built by the
  search only when it ranks better in cross-validation than either alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, SplineTransformer, StandardScaler

from churnctl.contract.schema import Schema
from churnctl.errors import UsageError

FAMILIES = ("logreg", "hgb")  # what --model may force besides auto (and blend)
MODEL_CHOICES = ("auto", *FAMILIES, "blend")
# (family, params). Order matters: the time budget cuts from the end, and the first of each family
# always runs. The first hgb candidate is a slower-learning, regularised forest of small trees, each
# split choosing among half the features, which ranks churners better than the library defaults on
# the bank, telco and usage files alike; the defaults remain a candidate, as does plain logistic
# regression.
CANDIDATES: list[tuple[str, dict]] = [
    ("logreg", {"C": 1.0}),
    (
        "hgb",
        {
            "learning_rate": 0.03,
            "max_iter": 600,
            "max_leaf_nodes": 6,
            "min_samples_leaf": 30,
            "l2_regularization": 5.0,
            "max_features": 0.5,
        },
    ),
    ("logreg", {"C": 0.1, "spline_knots": 6}),
    (
        "hgb",
        {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20, "l2_regularization": 0.0},
    ),
    (
        "hgb",
        {"learning_rate": 0.05, "max_iter": 400, "max_leaf_nodes": 4, "min_samples_leaf": 40, "l2_regularization": 1.0},
    ),
    ("logreg", {"C": 1.0, "spline_knots": 6}),
]
MAX_TREE_CATEGORIES = 250  # HistGradientBoosting bins categories; rarer ones share one code
# Splines widen each number into n_knots + 2 columns: worth it for the few dozen numbers of a churn
# file, not for hundreds (the basis outgrows the rows and the time budget).
MAX_SPLINE_NUMBERS = 100
SPLINE_FIT_COST = 3.0  # a spline logreg fold against a plain one's (1.3-2.3x measured on churn files)


def runs_on(schema: Schema, params: dict[str, Any]) -> bool:
    """Whether a candidate is worth fitting on this schema: a spline candidate needs 1 to
    MAX_SPLINE_NUMBERS numeric features (without any, it is the plain logistic regression)."""
    return "spline_knots" not in params or 0 < len(schema.numeric_names) <= MAX_SPLINE_NUMBERS


def members(params: dict[str, Any]) -> list[tuple[str, dict]]:
    """The (family, params) of each model a blend averages."""
    return [(m["estimator"], m["params"]) for m in params["members"]]


def scoring_cost(family: str, params: dict[str, Any]) -> float:
    """Relative cost of scoring a row: trees times their depth for gradient boosting, ~0 for logreg."""
    if family == "blend":
        return sum(scoring_cost(f, p) for f, p in members(params))
    if family != "hgb":
        return 0.0
    return float(params.get("max_iter", 100)) * float(np.log2(params.get("max_leaf_nodes", 31)))


def fit_cost(family: str, params: dict[str, Any]) -> float:
    """Relative cost of fitting a candidate, to scale one timed fold to another candidate's."""
    if family == "blend":
        return sum(fit_cost(f, p) for f, p in members(params))
    if family == "hgb":
        return scoring_cost(family, params)
    return SPLINE_FIT_COST if params.get("spline_knots") else 1.0


def _linear_features(schema: Schema, spline_knots: int | None) -> ColumnTransformer:
    numeric, categorical = schema.numeric_names, schema.categorical_names
    blocks: list[tuple[str, Any, list[str]]] = [
        (
            "numeric",
            Pipeline(
                [
                    ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                    ("scale", StandardScaler()),
                ]
            ),
            numeric,
        )
    ]
    if spline_knots and numeric:
        spline = SplineTransformer(n_knots=spline_knots, degree=3, knots="quantile", extrapolation="constant")
        blocks.append(
            (
                "splines",
                Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)), ("spline", spline)]),
                numeric,
            )
        )
    blocks.append(
        (
            "categorical",
            Pipeline(
                [
                    ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                ]
            ),
            categorical,
        )
    )
    return ColumnTransformer(blocks)


def build_pipeline(schema: Schema, family: str, params: dict[str, Any], seed: int, early_stopping: bool = False) -> Any:
    """The preprocessing and estimator of one candidate; ``early_stopping`` lets gradient boosting stop
    adding trees when 10 % of the rows, held out, stop improving."""
    if family == "blend":
        voters = [
            (f"{family}{i}", _pipeline(schema, family, options, seed, early_stopping))
            for i, (family, options) in enumerate(members(params))
        ]
        return VotingClassifier(voters, voting="soft")
    return _pipeline(schema, family, params, seed, early_stopping)


def _pipeline(schema: Schema, family: str, params: dict[str, Any], seed: int, early_stopping: bool) -> Pipeline:
    numeric, categorical = schema.numeric_names, schema.categorical_names
    if family == "logreg":
        options = dict(params)
        features = _linear_features(schema, options.pop("spline_knots", None))
        model: Any = LogisticRegression(max_iter=5000, random_state=seed, **options)
    elif family == "hgb":
        features = ColumnTransformer(
            [
                ("numeric", "passthrough", numeric),
                (
                    "categorical",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        encoded_missing_value=np.nan,
                        max_categories=MAX_TREE_CATEGORIES,
                    ),
                    categorical,
                ),
            ]
        )
        mask = [False] * len(numeric) + [True] * len(categorical)
        model = HistGradientBoostingClassifier(
            categorical_features=mask if categorical else None,
            early_stopping=early_stopping,
            validation_fraction=0.1,
            n_iter_no_change=20,
            random_state=seed,
            **params,
        )
    else:
        raise UsageError(f"unknown model {family!r}", hint=f"choose one of {', '.join(MODEL_CHOICES)}")
    return Pipeline([("features", features), ("model", model)])
