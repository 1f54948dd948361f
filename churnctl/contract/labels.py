"""The target of an ingested file and its churn label: recognised by name and value when not given,
checked when given."""

from __future__ import annotations

from churnctl.contract.schema import canonical_label
from churnctl.contract.values import label_text
from churnctl.errors import DataError, UsageError, preview

# Target names recognised when --target is not given (compared case-insensitively).
TARGET_GUESSES = (
    "exited",
    "churn",
    "churned",
    "is_churn",
    "churn_flag",
    "attrition",
    "attrition_flag",
    "target",
    "label",
)
POSITIVE_LABELS = {
    "1",
    "yes",
    "y",
    "true",
    "t",
    "churn",
    "churned",
    "exited",
    "left",
    "lost",
    "attrited",
    "attrited customer",
    "cancelled",
    "canceled",
    "positive",
}
NEGATIVE_LABELS = {
    "0",
    "-1",
    "no",
    "n",
    "false",
    "f",
    "stayed",
    "retained",
    "existing",
    "existing customer",
    "active",
    "not churned",
    "negative",
}


def resolve_target_name(columns: list[str], target: str | None) -> str:
    if target:
        if target in columns:
            return target
        close = [c for c in columns if c.lower() == target.lower()]
        raise DataError(
            f"target column {target!r} is not in the data",
            hint=(
                f"did you mean {close[0]!r}?"
                if close
                else f"columns found: {preview(columns, 12)}; pass --target COLUMN"
            ),
        )
    guesses = [c for c in columns if c.lower() in TARGET_GUESSES]
    if len(guesses) == 1:
        return guesses[0]
    raise UsageError(
        "no target column given and none could be recognised"
        + (f" (several candidates: {preview(guesses)})" if guesses else ""),
        hint="pass --target COLUMN or set target in the [data] section of churnctl.toml",
    )


def resolve_positive(labels: list[str], positive: str | None, target: str) -> tuple[str, str]:
    """(positive, negative) among exactly two distinct label texts."""
    if len(labels) < 2:
        raise DataError(
            f"target column {target!r} has only one class ({preview(labels)})",
            hint="a churn model needs rows of both churned and retained customers",
        )
    if len(labels) > 2:
        raise DataError(
            f"target column {target!r} has {len(labels)} distinct values "
            f"({preview(labels)}); expected exactly two classes",
            hint="map the target to two values (churned / not churned) before ingesting",
        )
    if positive is not None:
        wanted = label_text(positive)
        wanted = canonical_label(wanted) if wanted is not None else None
        match = [v for v in labels if v == wanted] or [v for v in labels if wanted and v.lower() == wanted.lower()]
        if not match:
            raise DataError(
                f"--positive {positive!r} is not a value of target {target!r}",
                hint=f"the target's values are {preview(labels)}",
            )
        pos = match[0]
    else:
        pos_hits = [v for v in labels if v.lower() in POSITIVE_LABELS]
        neg_hits = [v for v in labels if v.lower() in NEGATIVE_LABELS]
        if len(pos_hits) == 1 and pos_hits[0] not in neg_hits:
            pos = pos_hits[0]
        elif len(neg_hits) == 1:
            pos = next(v for v in labels if v != neg_hits[0])
        else:
            raise DataError(
                f"cannot tell which value of target {target!r} means churn: {preview(labels)}",
                hint="pass --positive VALUE (the label of churned customers)",
            )
    neg = next(v for v in labels if v != pos)
    return pos, neg
