"""Compiling the logistic-regression pipeline (and what every exporter shares): the arrays of
:mod:`churnctl.model.compiled.scorer`'s ``logreg`` family, with the optional spline block."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from churnctl.contract.schema import Schema


class CompileError(Exception):
    """The pipeline has a step or an option the compiled scorer does not reproduce."""


def require(condition: bool, what: str) -> None:
    if not condition:
        raise CompileError(what)


def is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def categories(meta: dict[str, Any], arrays: dict[str, np.ndarray], codes: list[dict[str, float]]) -> None:
    meta["categories"] = [list(c) for c in codes]
    arrays["category_codes"] = np.array([v for c in codes for v in c.values()], dtype=np.float64)
    arrays["category_offsets"] = np.cumsum([0] + [len(c) for c in codes]).astype(np.int64)


def steps(pipeline: Any, names: tuple[str, str], kinds: tuple[type, type]) -> tuple[Any, Any]:
    require(
        isinstance(pipeline, Pipeline)
        and [n for n, _ in pipeline.steps] == list(names)
        and all(isinstance(s, k) for (_, s), k in zip(pipeline.steps, kinds, strict=True)),
        f"unexpected steps {pipeline!r}",
    )
    return pipeline.steps[0][1], pipeline.steps[1][1]


def _splines(features: ColumnTransformer, schema: Schema, meta: dict[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    """The spline block's arrays and width: imputation, then each feature's knots and boundary values."""
    impute, spline = steps(
        features.named_transformers_["splines"], ("impute", "spline"), (SimpleImputer, SplineTransformer)
    )
    require(
        is_nan(impute.missing_values)
        and impute.strategy == "median"
        and impute.keep_empty_features
        and not impute.add_indicator,
        "spline imputer options",
    )
    require(
        spline.extrapolation == "constant"
        and spline.include_bias
        and not spline.sparse_output
        and getattr(spline, "handle_missing", "error") == "error",
        "spline options",
    )
    degree = int(spline.degree)
    require(degree >= 1 and len(spline.bsplines_) == len(schema.numeric_names), "spline degree or width")
    knots, low, high = [], [], []
    for basis in spline.bsplines_:
        n = len(basis.t) - degree - 1
        require(basis.k == degree and np.array_equal(basis.c, np.eye(n)), "spline coefficients")
        knots.append(np.asarray(basis.t, dtype=np.float64))
        low.append(np.asarray(basis(basis.t[degree]), dtype=np.float64)[:degree])
        high.append(np.asarray(basis(basis.t[n]), dtype=np.float64)[-degree:])
    stats = np.asarray(impute.statistics_, dtype=np.float64)
    require(stats.shape == (len(knots),) and bool(np.isfinite(stats).all()), "spline imputer statistics")
    meta["spline_degree"] = degree
    arrays = {
        "spline_statistics": stats,
        "spline_knots": np.concatenate(knots),
        "spline_knot_offsets": np.cumsum([0] + [len(t) for t in knots]).astype(np.int64),
        "spline_low": np.stack(low),
        "spline_high": np.stack(high),
    }
    return arrays, sum(len(t) - degree - 1 for t in knots)


# long: one compiler of the linear pipeline, step by step as the pipeline runs
def linear(
    features: ColumnTransformer, model: LogisticRegression, schema: Schema, blocks: dict, meta: dict[str, Any]
) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    n_numeric = len(schema.numeric_names)
    coef = np.asarray(model.coef_, dtype=np.float64)
    require(coef.shape[0] == 1 and np.asarray(model.intercept_).shape == (1,), "not a binary model")
    stats, indicators, mean, scale = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), np.ones(0)
    if n_numeric:
        impute, scaler = steps(
            features.named_transformers_["numeric"], ("impute", "scale"), (SimpleImputer, StandardScaler)
        )
        require(is_nan(impute.missing_values) and impute.keep_empty_features, "numeric imputer options")
        stats = np.asarray(impute.statistics_, dtype=np.float64)
        require(stats.shape == (n_numeric,) and bool(np.isfinite(stats).all()), "numeric imputer statistics")
        if impute.add_indicator:
            require(is_nan(impute.indicator_.missing_values), "missing-value indicator options")
            indicators = np.asarray(impute.indicator_.features_, dtype=np.int64)
        require(scaler.with_mean and scaler.with_std, "scaler options")
        mean, scale = np.asarray(scaler.mean_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64)
        require(mean.shape == (n_numeric + len(indicators),), "scaler width")
    if "splines" in blocks:
        spline_arrays, spline_width = _splines(features, schema, meta)
        require(blocks["splines"][1] - blocks["splines"][0] == spline_width, "spline block width")
        arrays.update(spline_arrays)
    codes: list[dict[str, float]] = []
    offsets = [0]
    if schema.categorical_names:
        impute, onehot = steps(
            features.named_transformers_["categorical"], ("impute", "onehot"), (SimpleImputer, OneHotEncoder)
        )
        require(
            impute.strategy == "constant" and isinstance(impute.fill_value, str) and not impute.add_indicator,
            "categorical imputer options",
        )
        require(is_nan(impute.missing_values), "categorical imputer missing values")
        require(onehot.handle_unknown == "ignore" and onehot.drop_idx_ is None, "one-hot encoder options")
        require(not getattr(onehot, "_infrequent_enabled", False), "one-hot encoder groups rare categories")
        # Without keep_empty_features, the imputer drops columns that were all missing in training.
        kept = [impute.keep_empty_features or not is_nan(v) for v in impute.statistics_]
        require(len(kept) == len(schema.categorical_names), "categorical imputer width")
        require(len(onehot.categories_) == sum(kept), "one-hot encoder width")
        encoded = iter(onehot.categories_)
        for keep in kept:
            found = next(encoded) if keep else []
            require(all(isinstance(c, str) for c in found), "one-hot categories that are not text")
            codes.append({c: float(k) for k, c in enumerate(found)})
            offsets.append(offsets[-1] + len(found))
        meta["missing_category"] = impute.fill_value
    width = sum(stop - start for start, stop in blocks.values())
    require(coef.shape[1] == width, "coefficients do not match the features")
    require(blocks["numeric"][1] - blocks["numeric"][0] == n_numeric + len(indicators), "numeric block width")
    require(blocks["categorical"][1] - blocks["categorical"][0] == offsets[-1], "categorical block width")
    meta["onehot_offsets"] = offsets
    meta["layout"] = {"width": width, **{k: list(v) for k, v in blocks.items()}}
    categories(meta, arrays, codes)
    arrays.update(
        impute_statistics=stats,
        indicator_features=indicators,
        scale_mean=mean,
        scale_scale=scale,
        coef=coef,
        intercept=np.asarray(model.intercept_, dtype=np.float64),
    )
    return arrays
