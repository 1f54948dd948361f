"""Compiling a fitted pipeline of :func:`churnctl.model.estimators.build_pipeline` (or a blend of two) into
``model.npz`` (the format is described in :mod:`churnctl.model.compiled.scorer`).

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
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from churnctl.contract.schema import Schema
from churnctl.model.compiled.linear import CompileError, categories, is_nan, linear, require
from churnctl.model.compiled.scorer import FORMAT, CompiledFormatError, CompiledModel

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


def compiled_model_bytes(pipeline: Any, schema: Schema, X: pd.DataFrame) -> bytes | None:
    """``model.npz`` of a fitted pipeline, or None (logged) when it cannot be compiled exactly.

    ``X`` holds prepared training rows (:func:`churnctl.contract.frames.prepare_features`) for the check.
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
    meta, arrays = _compile(pipeline, schema)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    data = buffer.getvalue()
    _check(pipeline, schema, data, X)
    return data


def _compile(pipeline: Any, schema: Schema) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta: dict[str, Any] = {
        "format": FORMAT,
        "numeric": schema.numeric_names,
        "categorical": schema.categorical_names,
        "scikit-learn": sklearn.__version__,
    }
    require(list(getattr(pipeline, "classes_", [])) == [0, 1], "the classes are not 0 and 1")
    if isinstance(pipeline, VotingClassifier):  # a blend: the mean of its members' probabilities
        require(pipeline.voting == "soft" and pipeline.weights is None, "blend options")
        arrays: dict[str, np.ndarray] = {}
        meta.update(family="blend", members=[])
        for i, member in enumerate(pipeline.estimators_):
            require(isinstance(member, Pipeline), "a blend member that is not a pipeline")
            member_meta, member_arrays = _compile(member, schema)
            meta["members"].append(member_meta)
            arrays.update({f"m{i}.{name}": values for name, values in member_arrays.items()})
        require(bool(meta["members"]), "an empty blend")
        return meta, arrays
    require(isinstance(pipeline, Pipeline) and len(pipeline.steps) == 2, "not a two-step pipeline")
    (_, features), (_, model) = pipeline.steps
    require(isinstance(features, ColumnTransformer), "the first step is not a ColumnTransformer")
    blocks = _blocks(features, schema)
    if isinstance(model, LogisticRegression):
        meta["family"] = "logreg"
        arrays = linear(features, model, schema, blocks, meta)
    elif isinstance(model, HistGradientBoostingClassifier):
        require("splines" not in blocks, "splines before trees")
        meta["family"] = "hgb"
        arrays = _trees(features, model, schema, blocks, meta)
    else:
        raise CompileError(f"no compiled form for {type(model).__name__}")
    return meta, arrays


def _blocks(features: ColumnTransformer, schema: Schema) -> dict[str, tuple[int, int]]:
    """(start, stop) of the numeric, categorical (and spline) blocks in the ColumnTransformer's output."""
    wanted = {"numeric": schema.numeric_names, "splines": schema.numeric_names, "categorical": schema.categorical_names}
    blocks = {}
    for name, transformer, columns in features.transformers_:
        if name == "remainder":
            require(transformer == "drop" or not len(columns), "columns outside the schema reach the model")
            continue
        require(name in wanted and list(columns) == wanted[name], f"unexpected transformer {name!r}")
        span = features.output_indices_[name]
        blocks[name] = (span.start, span.stop)
    require(set(blocks) | {"splines"} == set(wanted), "the transformers do not match the schema")
    return blocks


def _trees(
    features: ColumnTransformer,
    model: HistGradientBoostingClassifier,
    schema: Schema,
    blocks: dict,
    meta: dict[str, Any],
) -> dict[str, np.ndarray]:
    require(model.n_trees_per_iteration_ == 1, "not a binary model")
    numeric, categorical = schema.numeric_names, schema.categorical_names
    n_outer = sum(stop - start for start, stop in blocks.values())
    outer: list[tuple[str, str]] = [("", "")] * n_outer  # (kind, feature) of each column the model receives
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        start, stop = blocks[kind]
        require(stop - start == len(names), f"{kind} block width")
        for k, name in enumerate(names):
            outer[start + k] = (kind, name)
    if numeric:
        specified = {name: transformer for name, transformer, _ in features.transformers}
        require(isinstance(specified.get("numeric"), str) and specified["numeric"] == "passthrough", "numeric steps")
    # The model's own preprocessor reorders its input (categorical columns first) and re-encodes
    # the codes; the final code of each category is found by running both encoders on it.
    final = list(range(n_outer))
    if model._preprocessor is not None:
        final = [-1] * n_outer
        for name, transformer, mask in model._preprocessor.transformers_:
            if name == "remainder":
                require(transformer == "drop" or not np.any(mask), "model preprocessor remainder")
                continue
            span = model._preprocessor.output_indices_[name]
            indices = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=int)
            require(span.stop - span.start == len(indices), "model preprocessor width")
            for k, source in enumerate(indices):
                final[span.start + k] = int(source)
        require(sorted(final) == list(range(n_outer)), "model preprocessor columns")
    meta["columns"] = [list(outer[source]) for source in final]
    codes = _tree_codes(features, model, categorical, blocks, n_outer, final) if categorical else []
    arrays: dict[str, np.ndarray] = {}
    categories(meta, arrays, codes)
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
    require(isinstance(encoder, OrdinalEncoder), "categories are not ordinal-encoded")
    require(
        encoder.handle_unknown == "use_encoded_value"
        and is_nan(encoder.unknown_value)
        and is_nan(encoder.encoded_missing_value),
        "ordinal encoder options",
    )
    known = [[c for c in cats if not is_nan(c)] for cats in encoder.categories_]
    require(all(isinstance(c, str) for cats in known for c in cats), "categories that are not text")
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
        require(bool(np.all((values >= 0) & (values < 256) | np.isnan(values))), "category codes out of range")
        codes.append({c: float(v) for c, v in zip(cats, values, strict=True) if not math.isnan(v)})
    return codes


def _nodes(model: HistGradientBoostingClassifier) -> dict[str, np.ndarray]:
    """All trees' nodes as flat arrays, children and bitset rows offset to index them directly."""
    columns: dict[str, list[np.ndarray]] = {k: [] for k in (*NODE_FIELDS, "left", "right", "bitset")}
    roots, bitsets = [], []
    n_nodes = n_bitsets = 0
    for iteration in model._predictors:
        require(len(iteration) == 1, "more than one tree per iteration")
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
    require(bool(roots), "no trees")
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
