"""Scoring a compiled model (``model.npz``) with numpy alone.

The file holds one entry ``meta`` (UTF-8 JSON as a uint8 array) and plain numeric arrays; nothing in
it is a pickle, and it is read with ``np.load(..., allow_pickle=False)``.

``meta``: ``format`` (:data:`FORMAT`), ``family`` (``logreg``, ``hgb`` or ``blend``), the feature names the
model takes (``numeric``, ``categorical``, in the schema's order), ``categories`` (per categorical
feature, the training categories as text) and the scikit-learn version that fitted the pipeline.
``category_codes`` (float64) and ``category_offsets`` (int64) give, for category ``k`` of feature
``j``, its code ``category_codes[category_offsets[j] + k]``: its one-hot column (logreg) or the
value the trees compare (hgb). A missing or unseen category has no code.

``logreg`` (imputation, scaling, one-hot encoding, logistic regression): ``impute_statistics``,
``indicator_features`` (numeric columns that get a missing-value indicator), ``scale_mean``,
``scale_scale``, ``coef``, ``intercept``; ``meta`` adds ``missing_category`` (the text a missing
category is imputed with), ``onehot_offsets`` and the place of the numeric and categorical blocks in
the model's input (``layout``). With a spline block (``layout`` has ``splines``): ``meta`` adds
``spline_degree`` and the arrays ``spline_statistics`` (median imputation), ``spline_knots`` and
``spline_knot_offsets`` (each numeric feature's knot vector), ``spline_low`` and ``spline_high`` (the
first and last ``degree`` basis values at the ends of the training range, used beyond them). The basis
is evaluated with de Boor's recursion as SciPy's ``BSpline`` does.

``blend``: ``meta`` adds ``members`` (each member's own ``meta``); member ``i``'s arrays are stored
with the prefix ``m{i}.``. The probability is the mean of the members' probabilities.

``hgb`` (histogram gradient boosting): the trees' nodes as flat arrays over all trees (``node_*``:
``feature``, ``threshold``, ``missing_left``, ``left``, ``right``, ``leaf``, ``value``,
``categorical``, ``bitset``; child and bitset indices already offset), ``roots`` (first node of each
tree, in boosting order), ``left_bitsets`` (categories that go left at each categorical split),
``known_bitsets`` and ``feature_map`` (categories seen in training per categorical column) and
``baseline``; ``meta`` adds ``columns``, the model's input columns as ``[kind, feature]``.
Prediction follows scikit-learn's ``_predict_one_from_raw_data`` node by node.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

FORMAT = 1
FILE_NAME = "model.npz"
CHUNK_CELLS = 1_000_000  # rows x trees walked at once (bounds memory for large inputs)


class CompiledFormatError(Exception):
    """A compiled model this scorer cannot read (another format, or damaged)."""


def _logistic(value: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-value))
    except OverflowError:  # exp(-value) is beyond the largest float: C's exp gives inf
        return 0.0


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function as SciPy computes it, 1 / (1 + exp(-x)), with the C library's exp
    (numpy's own exp differs from it in the last bit for about 2 % of values)."""
    return np.array([_logistic(v) for v in np.asarray(x, dtype=np.float64).tolist()], dtype=np.float64)


class CompiledModel:
    """A model version's pipeline as arrays; :meth:`predict_proba` gives churn probabilities."""

    def __init__(self, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]):
        self.meta = meta
        self.arrays = dict(arrays)
        self.family: str = meta["family"]
        self.numeric: list[str] = list(meta["numeric"])
        self.categorical: list[str] = list(meta["categorical"])
        self.members: list[CompiledModel] = []
        if self.family == "blend":
            members = meta["members"]
            if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
                raise ValueError("a blend's members are not a list of models")
            for i, member in enumerate(members):
                if member.get("family") not in ("logreg", "hgb"):
                    raise ValueError(f"blend member family {member.get('family')!r}")
                if member.get("numeric") != self.numeric or member.get("categorical") != self.categorical:
                    raise ValueError("a blend member takes other features than the blend")
                prefix = f"m{i}."
                part = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
                self.members.append(CompiledModel(member, part))
            return
        if "splines" in meta.get("layout", {}):
            degree, offsets = int(meta["spline_degree"]), self.arrays["spline_knot_offsets"]
            shape = (len(self.numeric), degree)
            if len(offsets) != len(self.numeric) + 1 or offsets[-1] != len(self.arrays["spline_knots"]):
                raise ValueError("spline knots do not match the numeric features")
            if self.arrays["spline_low"].shape != shape or self.arrays["spline_high"].shape != shape:
                raise ValueError("spline boundary values do not match the numeric features")
        codes, offsets = self.arrays["category_codes"], self.arrays["category_offsets"]
        self.codes: list[dict[str, float]] = [
            dict(zip(cats, codes[offsets[j] : offsets[j + 1]].tolist(), strict=True))
            for j, cats in enumerate(meta["categories"])
        ]

    @classmethod
    def from_bytes(cls, data: bytes) -> CompiledModel:
        """Load ``model.npz`` bytes (already checked against the signed manifest)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise CompiledFormatError(f"unreadable compiled model: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise CompiledFormatError(f"compiled model format {found!r}, this churnctl reads {FORMAT}")
        if meta.get("family") not in ("logreg", "hgb", "blend"):
            raise CompiledFormatError(f"unknown compiled model family {meta.get('family')!r}")
        try:
            return cls(meta, arrays)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CompiledFormatError(f"incomplete compiled model: {exc!r}") from None

    def predict_proba(
        self, numbers: Mapping[str, Sequence[float]], texts: Mapping[str, Sequence[str | None]]
    ) -> np.ndarray:
        """Churn probabilities of typed feature rows (see :func:`churnctl.contract.rows.type_rows`)."""
        if self.family == "blend":  # as scikit-learn's soft vote: the mean over members
            return np.asarray(np.mean(np.stack([m.predict_proba(numbers, texts) for m in self.members]), axis=0))
        if self.family == "logreg":
            return expit(self._linear(numbers, texts))
        return expit(self._trees(numbers, texts))

    def _numeric_matrix(self, numbers: Mapping[str, Sequence[float]], n: int) -> np.ndarray:
        X = np.empty((n, len(self.numeric)), dtype=np.float64)
        for i, name in enumerate(self.numeric):
            X[:, i] = numbers[name]
        return X

    def _linear(self, numbers: Mapping[str, Sequence[float]], texts: Mapping[str, Sequence[str | None]]) -> np.ndarray:
        a, meta = self.arrays, self.meta
        n = _n_rows(numbers, texts)
        X = self._numeric_matrix(numbers, n)
        missing = np.isnan(X)
        imputed = np.where(missing, a["impute_statistics"], X)
        scaled = np.hstack([imputed, missing[:, a["indicator_features"]].astype(np.float64)])
        scaled -= a["scale_mean"]
        scaled /= a["scale_scale"]
        offsets = meta["onehot_offsets"]
        onehot = np.zeros((n, offsets[-1]), dtype=np.float64)
        fill: str = meta.get("missing_category", "")  # a missing category is imputed with this text
        for j, name in enumerate(self.categorical):
            lookup = self.codes[j]
            for row, text in enumerate(texts[name]):
                column = lookup.get(fill if text is None else text)
                if column is not None:
                    onehot[row, offsets[j] + int(column)] = 1.0
        width = meta["layout"]["width"]
        Z = np.empty((n, width), dtype=np.float64)
        blocks = [("numeric", scaled), ("categorical", onehot)]
        if "splines" in meta["layout"]:
            blocks.append(("splines", self._splines(X)))
        for block, values in blocks:
            start, stop = meta["layout"][block]
            Z[:, start:stop] = values
        return np.asarray(Z @ a["coef"].T + a["intercept"]).reshape(-1)

    def _splines(self, X: np.ndarray) -> np.ndarray:
        """Each numeric feature's B-spline basis (SplineTransformer with constant extrapolation), side by
        side; features with knot vectors of one length are evaluated together."""
        a, k = self.arrays, int(self.meta["spline_degree"])
        imputed = np.where(np.isnan(X), a["spline_statistics"], X)
        offsets = a["spline_knot_offsets"]
        lengths = np.diff(offsets)
        widths = lengths - k - 1
        starts = np.concatenate([[0], np.cumsum(widths)])
        out = np.zeros((X.shape[0], int(starts[-1])), dtype=np.float64)
        for length in np.unique(lengths):
            group = np.flatnonzero(lengths == length)
            knots = np.stack([a["spline_knots"][offsets[j] : offsets[j + 1]] for j in group])
            values = _bspline_bases(imputed[:, group], knots, k, a["spline_low"][group], a["spline_high"][group])
            for g, j in enumerate(group):
                out[:, starts[j] : starts[j + 1]] = values[:, g]
        return out

    def _trees(self, numbers: Mapping[str, Sequence[float]], texts: Mapping[str, Sequence[str | None]]) -> np.ndarray:
        n = _n_rows(numbers, texts)
        columns = self.meta["columns"]
        X = np.empty((n, len(columns)), dtype=np.float64)
        categorical_index = {name: j for j, name in enumerate(self.categorical)}
        for c, (kind, name) in enumerate(columns):
            if kind == "numeric":
                X[:, c] = numbers[name]
            else:
                lookup = self.codes[categorical_index[name]]
                X[:, c] = [np.nan if t is None else lookup.get(t, np.nan) for t in texts[name]]
        n_trees = len(self.arrays["roots"])
        step = max(1, CHUNK_CELLS // max(n_trees, 1))
        return np.concatenate([self._walk(X[i : i + step]) for i in range(0, n, step)]) if n else np.empty(0)

    def _walk(self, X: np.ndarray) -> np.ndarray:
        """Raw predictions (baseline plus every tree's leaf, added in boosting order) of rows X."""
        a = self.arrays
        leaf, feature, missing_left = a["node_leaf"], a["node_feature"], a["node_missing_left"]
        n = X.shape[0]
        node = np.repeat(a["roots"][np.newaxis, :], n, axis=0)
        rows = np.repeat(np.arange(n)[:, np.newaxis], node.shape[1], axis=1)
        active = ~leaf[node]
        while active.any():
            at = node[active]
            f = feature[at]
            x = X[rows[active], f]
            nan = np.isnan(x)
            left = x <= a["node_threshold"][at]
            split = np.flatnonzero(a["node_categorical"][at] & ~nan)
            if split.size:
                left[split] = self._category_goes_left(x[split], at[split], f[split])
            left = np.where(nan, missing_left[at], left)
            node[active] = np.where(left, a["node_left"][at], a["node_right"][at])
            active = ~leaf[node]
        values = np.concatenate([np.full((n, 1), a["baseline"][0]), a["node_value"][node]], axis=1)
        return np.asarray(np.cumsum(values, axis=1)[:, -1])

    def _category_goes_left(self, x: np.ndarray, at: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Categorical splits: known categories in the split's set go left, other known ones right,
        negative or unknown codes follow the missing values."""
        a = self.arrays
        negative = x < 0
        code = np.where(negative, 0, x).astype(np.int64)
        word, bit = code >> 5, (code & 31).astype(np.uint32)
        in_left = (a["left_bitsets"][a["node_bitset"][at], word] >> bit) & 1
        known = (a["known_bitsets"][a["feature_map"][f], word] >> bit) & 1
        missing_left = a["node_missing_left"][at]
        goes = np.where(in_left == 1, True, np.where(known == 1, False, missing_left))
        return np.asarray(np.where(negative, missing_left, goes))


def _bspline_basis(x: np.ndarray, t: np.ndarray, k: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Values of the ``len(t) - k - 1`` B-splines of degree ``k`` on knots ``t`` at ``x`` (one feature):
    see :func:`_bspline_bases`."""
    return _bspline_bases(x[:, np.newaxis], t[np.newaxis, :], k, low[np.newaxis, :], high[np.newaxis, :])[:, 0]


def _bspline_bases(X: np.ndarray, T: np.ndarray, k: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """B-spline bases of several features at once: ``X`` (rows, features), knots ``T`` (features, m),
    ``low``/``high`` (features, k); returns (rows, features, m - k - 1). Within the base interval by de
    Boor's recursion on the knot span (as SciPy's ``_deBoor_D``); below it, the first ``k`` take ``low``
    and the rest 0; above it, the last ``k`` take ``high``."""
    rows, features = X.shape
    n = T.shape[1] - k - 1
    values = np.zeros((rows, features, n), dtype=np.float64)
    feature = np.broadcast_to(np.arange(features), (rows, features))
    inside = (T[:, k] <= X) & (T[:, n] >= X)
    xi, fi = X[inside], feature[inside]
    t = T[fi]  # each point's knot vector
    span = np.clip((t <= xi[:, np.newaxis]).sum(axis=1) - 1, k, n - 1)  # t[span] <= x < t[span + 1]
    h = np.zeros((len(xi), k + 1), dtype=np.float64)
    h[:, 0] = 1.0
    points = np.arange(len(xi))
    for j in range(1, k + 1):
        previous = h[:, :j].copy()
        h[:, 0] = 0.0
        for m in range(1, j + 1):
            right, left = t[points, span + m], t[points, span + m - j]
            same = right == left
            w = np.where(same, 0.0, previous[:, m - 1] / np.where(same, 1.0, right - left))
            h[:, m - 1] += np.where(same, 0.0, w * (right - xi))
            h[:, m] = np.where(same, 0.0, w * (xi - left))
    row, _ = np.nonzero(inside)
    for m in range(k + 1):
        values[row, fi, span - k + m] = h[:, m]
    below, above = T[:, k] > X, T[:, n] < X
    values[..., :k] = np.where(below[..., np.newaxis], low[np.newaxis], values[..., :k])
    values[..., n - k :] = np.where(above[..., np.newaxis], high[np.newaxis], values[..., n - k :])
    return values


def _n_rows(numbers: Mapping[str, Sequence[float]], texts: Mapping[str, Sequence[str | None]]) -> int:
    for values in (*numbers.values(), *texts.values()):
        return len(values)
    return 0
