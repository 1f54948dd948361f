"""Compiling a fitted pipeline of :func:`churnctl.estimators.build_pipeline` into ``model.npz`` (the
format is described in :mod:`churnctl.compiled.scorer`).

Only the pipelines that ``build_pipeline`` makes are compiled, and every option the arrays depend
on is checked; anything else raises :class:`CompileError`, and the version is then scored with
scikit-learn alone. Before the file is returned, the compiled model scores a sample of the training
rows and of altered rows (missing, unseen and extreme values) and must agree with the pipeline's
``predict_proba`` within :data:`TOLERANCE`.
"""

from __future__ import annotations

import io
import json
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from churnctl.compiled.scorer import FORMAT, CompiledFormatError, CompiledModel
from churnctl.contract import Schema

log = logging.getLogger("churnctl")
TOLERANCE = 1e-9
CHECK_ROWS = 2000  # training rows scored by both to check the compiled model
NODE_FIELDS = {
    "feature": ("feature_idx", np.int64),
    "threshold": ("num_threshold", np.float64),
    "missing_left": ("missing_go_to_left", bool),
    "leaf": ("is_leaf", bool),
    "value": ("value", np.float64),
    "categorical": ("is_categorical", bool),
}


class CompileError(Exception):
    """The pipeline has a step or an option the compiled scorer does not reproduce."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise CompileError(what)


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def compiled_model_bytes(pipeline: Any, schema: Schema, X: pd.DataFrame) -> bytes | None:
    """``model.npz`` of a fitted pipeline, or None (logged) when it cannot be compiled exactly.

    ``X`` holds prepared training rows (:func:`churnctl.features.prepare_features`) for the check.
    """
    try:
        return compile_pipeline(pipeline, schema, X)
    except CompileError as exc:
        reason = str(exc)
    except Exception as exc:  # a failure here must never fail the training run
        reason = f"unexpected {type(exc).__name__}: {exc}"
    log.info("no compiled scorer for this model (predict --json will use scikit-learn): %s", reason)
    return None


def compile_pipeline(pipeline: Any, schema: Schema, X: pd.DataFrame) -> bytes:
    """``model.npz`` bytes of ``pipeline``, checked against its ``predict_proba`` on rows like ``X``."""
    _require(isinstance(pipeline, Pipeline) and len(pipeline.steps) == 2, "not a two-step pipeline")
    (_, features), (_, model) = pipeline.steps
    _require(isinstance(features, ColumnTransformer), "the first step is not a ColumnTransformer")
    _require(list(getattr(model, "classes_", [])) == [0, 1], "the classes are not 0 and 1")
    blocks = _blocks(features, schema)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "numeric": schema.numeric_names,
        "categorical": schema.categorical_names,
        "scikit-learn": sklearn.__version__,
    }
    if isinstance(model, LogisticRegression):
        meta["family"] = "logreg"
        arrays = _linear(features, model, schema, blocks, meta)
    elif isinstance(model, HistGradientBoostingClassifier):
        meta["family"] = "hgb"
        arrays = _trees(features, model, schema, blocks, meta)
    else:
        raise CompileError(f"no compiled form for {type(model).__name__}")
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    data = buffer.getvalue()
    _check(pipeline, schema, data, X)
    return data


def _blocks(features: ColumnTransformer, schema: Schema) -> dict[str, tuple[int, int]]:
    """(start, stop) of the numeric and categorical blocks in the ColumnTransformer's output."""
    wanted = {"numeric": schema.numeric_names, "categorical": schema.categorical_names}
    blocks = {}
    for name, transformer, columns in features.transformers_:
        if name == "remainder":
            _require(transformer == "drop" or not len(columns), "columns outside the schema reach the model")
            continue
        _require(name in wanted and list(columns) == wanted[name], f"unexpected transformer {name!r}")
        span = features.output_indices_[name]
        blocks[name] = (span.start, span.stop)
    _require(set(blocks) == set(wanted), "the transformers do not match the schema")
    return blocks


def _categories(meta: dict[str, Any], arrays: dict[str, np.ndarray], codes: list[dict[str, float]]) -> None:
    meta["categories"] = [list(c) for c in codes]
    arrays["category_codes"] = np.array([v for c in codes for v in c.values()], dtype=np.float64)
    arrays["category_offsets"] = np.cumsum([0] + [len(c) for c in codes]).astype(np.int64)


def _steps(pipeline: Any, names: tuple[str, str], kinds: tuple[type, type]) -> tuple[Any, Any]:
    _require(
        isinstance(pipeline, Pipeline)
        and [n for n, _ in pipeline.steps] == list(names)
        and all(isinstance(s, k) for (_, s), k in zip(pipeline.steps, kinds, strict=True)),
        f"unexpected steps {pipeline!r}",
    )
    return pipeline.steps[0][1], pipeline.steps[1][1]


def _linear(
    features: ColumnTransformer, model: LogisticRegression, schema: Schema, blocks: dict, meta: dict[str, Any]
) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    n_numeric = len(schema.numeric_names)
    coef = np.asarray(model.coef_, dtype=np.float64)
    _require(coef.shape[0] == 1 and np.asarray(model.intercept_).shape == (1,), "not a binary model")
    stats, indicators, mean, scale = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), np.ones(0)
    if n_numeric:
        impute, scaler = _steps(
            features.named_transformers_["numeric"], ("impute", "scale"), (SimpleImputer, StandardScaler)
        )
        _require(_is_nan(impute.missing_values) and impute.keep_empty_features, "numeric imputer options")
        stats = np.asarray(impute.statistics_, dtype=np.float64)
        _require(stats.shape == (n_numeric,) and bool(np.isfinite(stats).all()), "numeric imputer statistics")
        if impute.add_indicator:
            _require(_is_nan(impute.indicator_.missing_values), "missing-value indicator options")
            indicators = np.asarray(impute.indicator_.features_, dtype=np.int64)
        _require(scaler.with_mean and scaler.with_std, "scaler options")
        mean, scale = np.asarray(scaler.mean_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64)
        _require(mean.shape == (n_numeric + len(indicators),), "scaler width")
    codes: list[dict[str, float]] = []
    offsets = [0]
    if schema.categorical_names:
        impute, onehot = _steps(
            features.named_transformers_["categorical"], ("impute", "onehot"), (SimpleImputer, OneHotEncoder)
        )
        _require(
            impute.strategy == "constant" and isinstance(impute.fill_value, str) and not impute.add_indicator,
            "categorical imputer options",
        )
        _require(_is_nan(impute.missing_values), "categorical imputer missing values")
        _require(onehot.handle_unknown == "ignore" and onehot.drop_idx_ is None, "one-hot encoder options")
        _require(not getattr(onehot, "_infrequent_enabled", False), "one-hot encoder groups rare categories")
        # Without keep_empty_features, the imputer drops columns that were all missing in training.
        kept = [impute.keep_empty_features or not _is_nan(v) for v in impute.statistics_]
        _require(len(kept) == len(schema.categorical_names), "categorical imputer width")
        _require(len(onehot.categories_) == sum(kept), "one-hot encoder width")
        encoded = iter(onehot.categories_)
        for keep in kept:
            categories = next(encoded) if keep else []
            _require(all(isinstance(c, str) for c in categories), "one-hot categories that are not text")
            codes.append({c: float(k) for k, c in enumerate(categories)})
            offsets.append(offsets[-1] + len(categories))
        meta["missing_category"] = impute.fill_value
    width = sum(stop - start for start, stop in blocks.values())
    _require(coef.shape[1] == width, "coefficients do not match the features")
    _require(blocks["numeric"][1] - blocks["numeric"][0] == n_numeric + len(indicators), "numeric block width")
    _require(blocks["categorical"][1] - blocks["categorical"][0] == offsets[-1], "categorical block width")
    meta["onehot_offsets"] = offsets
    meta["layout"] = {"width": width, **{k: list(v) for k, v in blocks.items()}}
    _categories(meta, arrays, codes)
    arrays.update(
        impute_statistics=stats,
        indicator_features=indicators,
        scale_mean=mean,
        scale_scale=scale,
        coef=coef,
        intercept=np.asarray(model.intercept_, dtype=np.float64),
    )
    return arrays


def _trees(
    features: ColumnTransformer,
    model: HistGradientBoostingClassifier,
    schema: Schema,
    blocks: dict,
    meta: dict[str, Any],
) -> dict[str, np.ndarray]:
    _require(model.n_trees_per_iteration_ == 1, "not a binary model")
    numeric, categorical = schema.numeric_names, schema.categorical_names
    n_outer = sum(stop - start for start, stop in blocks.values())
    outer: list[tuple[str, str]] = [("", "")] * n_outer  # (kind, feature) of each column the model receives
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        start, stop = blocks[kind]
        _require(stop - start == len(names), f"{kind} block width")
        for k, name in enumerate(names):
            outer[start + k] = (kind, name)
    if numeric:
        specified = {name: transformer for name, transformer, _ in features.transformers}
        _require(isinstance(specified.get("numeric"), str) and specified["numeric"] == "passthrough", "numeric steps")
    # The model's own preprocessor reorders its input (categorical columns first) and re-encodes
    # the codes; the final code of each category is found by running both encoders on it.
    final = list(range(n_outer))
    if model._preprocessor is not None:
        final = [-1] * n_outer
        for name, transformer, mask in model._preprocessor.transformers_:
            if name == "remainder":
                _require(transformer == "drop" or not np.any(mask), "model preprocessor remainder")
                continue
            span = model._preprocessor.output_indices_[name]
            indices = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=int)
            _require(span.stop - span.start == len(indices), "model preprocessor width")
            for k, source in enumerate(indices):
                final[span.start + k] = int(source)
        _require(sorted(final) == list(range(n_outer)), "model preprocessor columns")
    meta["columns"] = [list(outer[source]) for source in final]
    codes = _tree_codes(features, model, categorical, blocks, n_outer, final) if categorical else []
    arrays: dict[str, np.ndarray] = {}
    _categories(meta, arrays, codes)
    arrays.update(_nodes(model))
    known, feature_map = model._bin_mapper.make_known_categories_bitsets()
    arrays["known_bitsets"] = np.asarray(known, dtype=np.uint32).reshape(-1, 8)
    arrays["feature_map"] = np.asarray(feature_map, dtype=np.int64)
    arrays["baseline"] = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(1)
    return arrays


def _tree_codes(
    features: ColumnTransformer,
    model: HistGradientBoostingClassifier,
    categorical: list[str],
    blocks: dict,
    n_outer: int,
    final: list[int],
) -> list[dict[str, float]]:
    """Per categorical feature, {training category: the value the trees compare}."""
    encoder = features.named_transformers_["categorical"]
    _require(isinstance(encoder, OrdinalEncoder), "categories are not ordinal-encoded")
    _require(
        encoder.handle_unknown == "use_encoded_value"
        and _is_nan(encoder.unknown_value)
        and _is_nan(encoder.encoded_missing_value),
        "ordinal encoder options",
    )
    known = [[c for c in cats if not _is_nan(c)] for cats in encoder.categories_]
    _require(all(isinstance(c, str) for cats in known for c in cats), "categories that are not text")
    size = max([len(k) for k in known] + [1])
    frame = pd.DataFrame(
        {
            name: np.array(
                [cats[i] if i < len(cats) else (cats[0] if cats else np.nan) for i in range(size)], dtype=object
            )
            for name, cats in zip(categorical, known, strict=True)
        }
    )
    outer_codes = np.asarray(encoder.transform(frame), dtype=np.float64)
    matrix = np.zeros((size, n_outer))
    start, stop = blocks["categorical"]
    matrix[:, start:stop] = outer_codes
    inner = np.asarray(model._preprocessor.transform(matrix) if model._preprocessor is not None else matrix)
    codes = []
    for j, cats in enumerate(known):
        column = final.index(start + j)
        values = inner[: len(cats), column]
        _require(bool(np.all((values >= 0) & (values < 256) | np.isnan(values))), "category codes out of range")
        codes.append({c: float(v) for c, v in zip(cats, values, strict=True) if not math.isnan(v)})
    return codes


def _nodes(model: HistGradientBoostingClassifier) -> dict[str, np.ndarray]:
    """All trees' nodes as flat arrays, children and bitset rows offset to index them directly."""
    columns: dict[str, list[np.ndarray]] = {k: [] for k in (*NODE_FIELDS, "left", "right", "bitset")}
    roots, bitsets = [], []
    n_nodes = n_bitsets = 0
    for iteration in model._predictors:
        _require(len(iteration) == 1, "more than one tree per iteration")
        predictor = iteration[0]
        nodes = predictor.nodes
        roots.append(n_nodes)
        for key, (field, dtype) in NODE_FIELDS.items():
            columns[key].append(nodes[field].astype(dtype))
        columns["left"].append(nodes["left"].astype(np.int64) + n_nodes)
        columns["right"].append(nodes["right"].astype(np.int64) + n_nodes)
        columns["bitset"].append(nodes["bitset_idx"].astype(np.int64) + n_bitsets)
        left_sets = np.asarray(predictor.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
        bitsets.append(left_sets)
        n_nodes += len(nodes)
        n_bitsets += len(left_sets)
    _require(bool(roots), "no trees")
    arrays = {f"node_{k}": np.concatenate(v) for k, v in columns.items()}
    arrays["roots"] = np.asarray(roots, dtype=np.int64)
    arrays["left_bitsets"] = np.concatenate(bitsets) if n_bitsets else np.zeros((1, 8), dtype=np.uint32)
    return arrays


def _probe_rows(X: pd.DataFrame, schema: Schema, seed: int = 0) -> pd.DataFrame:
    """Training rows, and the same rows with values made missing, unseen or extreme."""
    rng = np.random.default_rng(seed)
    sample = X.iloc[rng.permutation(len(X))[:CHECK_ROWS]].reset_index(drop=True)
    altered = sample.iloc[: min(len(sample), 500)].copy()
    for name in schema.numeric_names:
        column = altered[name].to_numpy(dtype=np.float64).copy()
        finite = column[np.isfinite(column)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        choices = np.array([np.nan, 1e300, -1e300, low - 1.0, high + 1.0, 0.0])
        pick = rng.random(len(column)) < 0.3
        column[pick] = rng.choice(choices, size=int(pick.sum()))
        altered[name] = column
    for name in schema.categorical_names:
        column = altered[name].to_numpy(dtype=object).copy()
        pick = rng.random(len(column)) < 0.3
        column[pick] = rng.choice(np.array([np.nan, "never seen in training"], dtype=object), size=int(pick.sum()))
        altered[name] = column
    return pd.concat([sample, altered], ignore_index=True)


def _check(pipeline: Any, schema: Schema, data: bytes, X: pd.DataFrame) -> None:
    """The compiled model must give the pipeline's probabilities on training and altered rows."""
    try:
        compiled = CompiledModel.from_bytes(data)
    except CompiledFormatError as exc:
        raise CompileError(str(exc)) from None
    rows = _probe_rows(X, schema)
    expected = np.asarray(pipeline.predict_proba(rows)[:, 1])
    numbers = {n: rows[n].to_numpy(dtype=np.float64) for n in schema.numeric_names}
    texts = {n: [v if isinstance(v, str) else None for v in rows[n]] for n in schema.categorical_names}
    try:
        got = compiled.predict_proba(numbers, texts)
    except (IndexError, KeyError, ValueError) as exc:
        raise CompileError(f"the compiled model fails on the training rows: {exc!r}") from None
    same = (np.abs(got - expected) <= TOLERANCE) | (np.isnan(got) & np.isnan(expected))
    if not same.all():
        worst = float(np.nanmax(np.abs(got - expected))) if not np.isnan(got - expected).all() else math.nan
        raise CompileError(f"the compiled model disagrees with the pipeline (by up to {worst:.3g})")
