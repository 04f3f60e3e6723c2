"""Search spaces: NAS-Bench-201, synthetic modular spaces, and whatever other distributions register.

`load_space(name, sources)` builds a registered space (entry-point group mathnas_bench.spaces: a callable
`loader(sources) -> Space`), once per process and data folder.
"""
from __future__ import annotations

from functools import lru_cache

from core.registry import SPACES
from core.sources import Sources


def load_space(name: str = "nb201", sources=None):
    """The space called `name`, read from its data folder (core.sources) once per process."""
    return _load(name, Sources.of(sources).resolve())


@lru_cache(maxsize=32)
def _load(name: str, sources: Sources):
    return SPACES.get(name)(sources)


load_space.cache_clear = _load.cache_clear
