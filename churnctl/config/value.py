"""``[value]`` settings and ``--value KEY=VALUE`` options, and the threshold policies of ``[train]
threshold``: parsed and checked here, used by :mod:`churnctl.value`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from churnctl.config.settings import Settings, ValueSettings
from churnctl.errors import UsageError

POLICY_NAMES = ("f1", "youden", "profit")
POLICIES = "'f1', 'youden', 'profit', 'top:SHARE' (e.g. top:0.1), 'budget:AMOUNT' (e.g. budget:5000) or a probability"


@dataclass(frozen=True)
class Policy:
    kind: str  # f1 | youden | fixed | profit | top | budget
    amount: float | None = None  # the probability, share or budget

    @property
    def needs_value(self) -> bool:
        return self.kind in ("profit", "budget")

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.amount:g}"
        return f"{self.kind}:{self.amount:g}" if self.amount is not None else self.kind


def parse_policy(text: str | float) -> Policy:
    """A policy from ``[train] threshold``; a usage error (exit 2) names what is accepted."""
    raw = str(text).strip()
    if raw in POLICY_NAMES:
        return Policy(raw)
    kind, sep, amount = raw.partition(":")
    try:
        number = float(amount if sep else raw)
    except ValueError:
        number = math.nan
    if not sep and math.isfinite(number) and 0 < number < 1:
        return Policy("fixed", number)
    if kind == "top" and math.isfinite(number) and 0 < number <= 1:
        return Policy("top", number)
    if kind == "budget" and math.isfinite(number) and number > 0:
        return Policy("budget", number)
    raise UsageError(f"threshold policy {raw!r} is not one of {POLICIES}", hint="fix [train] threshold")


VALUE_KEYS = tuple(f.name for f in dataclasses.fields(ValueSettings))


def value_settings(raw: dict[str, Any], where: str, base: ValueSettings | None = None) -> ValueSettings:
    """``[value]`` settings from ``raw`` (over ``base``), each checked: ``where`` names the source in
    messages (the file's section, or the --value options)."""
    fields: dict[str, Any] = dataclasses.asdict(base or ValueSettings())
    for key, value in raw.items():
        if key not in VALUE_KEYS:
            raise UsageError(f"unknown key {key!r} in {where}", hint=f"known keys: {', '.join(VALUE_KEYS)}")
        fields[key] = _value_field(key, value, where)
    if fields["customer_value"] is not None and fields["customer_value_column"] is not None:
        raise UsageError(
            f"{where}: customer_value and customer_value_column are both set",
            hint="give one value for every customer, or the column that holds each customer's value",
        )
    return ValueSettings(**fields)


def _value_field(key: str, value: Any, where: str) -> Any:
    def bad(expected: str) -> UsageError:
        return UsageError(f"{where}: {key} = {value!r} is not {expected}", hint=f"give {key} as {expected}")

    def number(x: Any) -> float | None:
        ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        return float(x) if ok else None

    if key == "customer_value_column":
        if not isinstance(value, str) or not value:
            raise bad("a column name")
        return value
    if key == "acceptance_rate":
        if isinstance(value, dict):
            shape = {k: number(v) for k, v in value.items()}
            if set(shape) != {"alpha", "beta"} or not all(v is not None and v > 0 for v in shape.values()):
                raise bad("a share in (0, 1] or a Beta distribution {alpha = A, beta = B} with A, B > 0")
            return shape
        rate = number(value)
        if rate is None or not 0 < rate <= 1:
            raise bad("a share in (0, 1] or a Beta distribution {alpha = A, beta = B} with A, B > 0")
        return rate
    amount = number(value)
    if key in ("customer_value", "value_horizon"):
        if amount is None or amount <= 0:
            raise bad("a positive number")
        return amount
    if amount is None or amount < 0:  # contact_cost, incentive_cost
        raise bad("a number, 0 or more")
    return amount


def value_options(settings: Settings, options: list[str] | None) -> Settings:
    """``settings`` with ``--value KEY=VALUE`` options applied over ``[value]`` (e.g. ``customer_value=1200``,
    ``acceptance_rate=0.3`` or ``acceptance_rate=beta:6,14``)."""
    if not options:
        return settings
    raw: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key, text = key.strip().replace("-", "_"), text.strip()
        if not sep or not key or not text:
            raise UsageError(f"--value {option!r} is not KEY=VALUE", hint="for example --value customer_value=1200")
        raw[key] = _option_value(key, text)
    base = settings.value
    if "customer_value" in raw:  # one replaces the other
        base = dataclasses.replace(base, customer_value_column=None)
    if "customer_value_column" in raw:
        base = dataclasses.replace(base, customer_value=None)
    return dataclasses.replace(settings, value=value_settings(raw, "--value", base))


def _option_value(key: str, text: str) -> Any:
    if key == "customer_value_column":
        return text
    if key == "acceptance_rate" and text.lower().startswith("beta:"):
        alpha, _, beta = text[5:].partition(",")
        try:
            return {"alpha": float(alpha), "beta": float(beta)}
        except ValueError:
            return text
    try:
        return float(text)
    except ValueError:
        return text
