"""Settings from ``churnctl.toml``; command-line flags override them.

Lookup order for the file: ``--config FILE``, then ``$CHURNCTL_CONFIG``, then ``./churnctl.toml``.
Unknown sections or keys are rejected so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from pathlib import Path
from typing import Any

from churnctl.config.checks import validate_drift, validate_ranges, validate_serve
from churnctl.config.settings import (
    DataSettings,
    DriftSettings,
    MlflowSettings,
    PredictSettings,
    RetrainSettings,
    SecuritySettings,
    ServeSettings,
    Settings,
    TrainSettings,
    ValueSettings,
)
from churnctl.config.value import POLICIES, Policy, parse_policy, value_options, value_settings
from churnctl.errors import UsageError

__all__ = [
    "POLICIES",
    "DataSettings",
    "DriftSettings",
    "MlflowSettings",
    "Policy",
    "PredictSettings",
    "RetrainSettings",
    "SecuritySettings",
    "ServeSettings",
    "Settings",
    "TrainSettings",
    "ValueSettings",
    "load_settings",
    "parse_policy",
    "validate_drift",
    "validate_serve",
    "value_options",
    "value_settings",
]


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"[{section}] {key}"
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif key == "keep_columns":
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        value = tuple(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        value = tuple(float(v) for v in value) if ok else value
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif key == "key_file":
        ok = isinstance(value, str) and value != ""
    elif key in ("target", "positive", "group_column", "time_column", "test_from", "chunk"):  # text, even if numeric
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        value = str(value) if ok else value
    else:  # str, or a field that takes a string or a number (threshold)
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if not ok:
        expected = "a finite number" if isinstance(default, float) else type(default).__name__
        raise UsageError(
            f"configuration {where} has the wrong type: expected {expected}, found {value!r}",
            hint="fix the value in churnctl.toml",
        )
    return value


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    explicit = path or os.environ.get("CHURNCTL_CONFIG")
    candidate = Path(explicit) if explicit else Path("churnctl.toml")
    if not candidate.exists():
        if explicit:
            raise UsageError(
                f"configuration file {candidate} does not exist",
                hint="pass an existing file to --config or unset CHURNCTL_CONFIG",
            )
        return Settings()
    try:
        raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"cannot read configuration file {candidate}: {exc}", hint="check the TOML syntax") from None
    sections: dict[str, type] = {
        "data": DataSettings,
        "train": TrainSettings,
        "predict": PredictSettings,
        "drift": DriftSettings,
        "retrain": RetrainSettings,
        "serve": ServeSettings,
        "security": SecuritySettings,
        "value": ValueSettings,
        "mlflow": MlflowSettings,
    }
    built: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in sections:
            raise UsageError(
                f"unknown section [{name}] in {candidate}", hint=f"known sections: {', '.join(sorted(sections))}"
            )
        if not isinstance(value, dict):
            raise UsageError(f"{name} in {candidate} must be a [section]")
        cls = sections[name]
        defaults = cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if name == "predict" and "risk_bands" in unknown:
            raise UsageError(
                f"[predict] risk_bands in {candidate} is no longer read: risk levels now follow each model's "
                "decision threshold (low below it, medium from it, high from [predict] high_risk)",
                hint='replace risk_bands with high_risk = <probability> (or "auto"), see the README',
            )
        if unknown:
            raise UsageError(
                f"unknown key(s) {', '.join(unknown)} in [{name}] of {candidate}",
                hint=f"known keys: {', '.join(sorted(known))}",
            )
        if name == "value":
            built[name] = value_settings(value, f"[value] in {candidate}")
            continue
        built[name] = cls(**{k: _coerce(name, k, v, getattr(defaults, k)) for k, v in value.items()})
    key_file = built.get("security", SecuritySettings()).key_file
    if key_file is not None and not Path(key_file).expanduser().is_absolute():
        built["security"] = SecuritySettings(key_file=str(candidate.parent / key_file))
    settings = Settings(**built, source=candidate)
    validate_drift(settings.drift)
    validate_ranges(settings)
    return settings
