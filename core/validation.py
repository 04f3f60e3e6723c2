"""Checks every layer shares: whole numbers, bounded floats, booleans, seeds and cost limits.

Each returns the clean value or raises a one-line HarnessError naming the parameter, so numbers never
reach numpy or torch unchecked (a negative seed or a NaN limit would otherwise surface as a traceback or,
worse, as a silently wrong answer).
"""
from __future__ import annotations

import math

import numpy as np

from core.errors import HarnessError, shown

COST_METRICS = ("latency", "energy", "flops", "params")
MAX_SEED = 2**32 - 1   # numpy's SeedSequence and torch.manual_seed both take this range


def check_int(name: str, value, low: int | None = 0, high: int | None = None) -> int:
    """A whole number in [low, high] (booleans and fractional floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float)):
        raise HarnessError(f"{name} must be a whole number, got {shown(value)}")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise HarnessError(f"{name} must be a whole number, got {shown(value)}")
    value = int(value)
    if low is not None and value < low:
        raise HarnessError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise HarnessError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> float:
    """A finite number in [low, high] ((low, high] with `low_open`)."""
    if isinstance(value, (bool, np.bool_)):
        raise HarnessError(f"{name} must be a number, got {shown(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise HarnessError(f"{name} must be a number, got {shown(value)}") from None
    if not math.isfinite(v):
        raise HarnessError(f"{name} must be a finite number, got {shown(value)}")
    if low is not None and (v < low or (low_open and v == low)):
        raise HarnessError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and v > high:
        raise HarnessError(f"{name} must be <= {high:g}, got {v:g}")
    return v


def check_seed(value, name: str = "seed") -> int:
    return check_int(name, value, 0, MAX_SEED)


def as_bool(value, name: str) -> bool:
    """true/false from a bool or the strings a CLI or TOML user writes."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise HarnessError(f"{name} must be true or false, got {shown(value)}")


def check_choice(name: str, value, valid) -> str:
    if not isinstance(value, str) or value not in valid:
        raise HarnessError(f"{name} must be one of {', '.join(valid)}, got {shown(value)}")
    return value


def check_limits(limits: dict | None) -> dict[str, float]:
    """Validate `{metric: max}`; drop None values."""
    out = {}
    for metric, value in (limits or {}).items():
        if value is None:
            continue
        if metric not in COST_METRICS:
            raise HarnessError(f"unknown limit {shown(metric)}; valid: {', '.join(COST_METRICS)}")
        out[metric] = check_float(f"limit {metric}", value, 0.0)
    return out
