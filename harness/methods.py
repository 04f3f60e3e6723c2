"""Method registry and the interface every method (MathNAS and the baselines) implements.

A method is built as `cls(seed=..., **params)`, then:
- predictors: `fit(oracle, budget)` then `predict(codes) -> {"accuracy": ..., "latency": ..., "energy": ...}`
  (only the metrics it predicts);
- searchers: `search(problem, oracle) -> SearchResult`, spending evaluations through `oracle` only.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from harness.errors import HarnessError, unknown_name

# name -> "module:Class", imported lazily (torch-based baselines are slow to import).
METHODS: dict[str, str] = {
    "mathnas": "mathnas.method:MathNAS",
    "lana": "baselines.lana:LANA",
    "brpnas": "baselines.brpnas:BRPNAS",
    "random": "baselines.random_search:RandomSearch",
    "evolution": "baselines.evolution:RegularizedEvolution",
}


@dataclass
class SearchResult:
    """What a searcher returns; the harness re-scores `code` with ground truth."""

    code: np.ndarray | None
    predicted: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def method_class(name: str):
    if name not in METHODS:
        raise unknown_name("method", name, METHODS)
    module, cls = METHODS[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        raise HarnessError(f"method {name!r} is not available in this build ({e})") from None


def make_method(name: str, seed: int = 0, **params):
    cls = method_class(name)
    try:
        return cls(seed=seed, **params)
    except TypeError as e:
        raise HarnessError(f"method {name!r}: bad parameters {sorted(params)} ({e})") from None
