"""Content-addressed cache of fitted predictors, shared by the cells (and runs) of one result store.

A fit is stored under the sha256 of everything it depends on (`key_of(parts)`): the method's parameters,
the seed, the training-set size, the content of the data it saw (its rows and values, or the oracle's
`fingerprint` of the table) and the code that trains it. Any change to any of these is another key, so a
fit is never reused across seeds, budgets, parameters or data, and a stale entry is simply never read again.

Layout: ROOT/<sha256>.fit, one file per fit (an 8-byte header length, a JSON header, the method's bytes),
written atomically; ROOT/<sha256>.lock serialises the workers that need the same fit, so it is computed
once and the others wait and read it. With no cache active (`use(None)`, the default) `fetch` just fits.
`stats()` counts hits and misses and the fit seconds the hits saved (the miss's own time, stored with it).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from core.files import atomic_write_bytes, ensure_dir
from core.text import plain

SUFFIX = ".fit"
LOCK_TIMEOUT = 3600.0   # seconds a worker waits for another to finish the same fit before fitting itself


def key_of(parts: dict) -> str:
    """sha256 of the canonical JSON of `parts` (sorted keys, no spaces): equal parts, equal keys."""
    text = json.dumps(plain(parts), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def digest(*arrays) -> str:
    """sha256 of arrays' dtypes, shapes and bytes (a fit's training rows and values)."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def source_digest(*modules) -> str:
    """sha256 of modules' source files: a fit made by other training code is another fit. Read once per
    process, so an edit during a run cannot split one run's fits between two keys."""
    return _source_digest(tuple(m.__file__ for m in modules))


@functools.lru_cache(maxsize=None)
def _source_digest(files: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    saved_seconds: float = 0.0     # fit time the hits did not spend (as measured when each was fitted)
    fit_seconds: float = 0.0       # fit time the misses spent

    def as_dict(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "saved_seconds": round(self.saved_seconds, 3),
                "fit_seconds": round(self.fit_seconds, 3)}


@dataclass
class FitCache:
    root: Path
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self):
        self.root = ensure_dir(self.root, "fit cache folder")

    def path(self, key: str) -> Path:
        return self.root / f"{key}{SUFFIX}"

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[bool]:
        """Hold the key's lock (True), or give up waiting after LOCK_TIMEOUT and go on without it (False)."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.root / f"{key}.lock"), timeout=LOCK_TIMEOUT)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def read(self, key: str) -> tuple[dict, bytes] | None:
        """(header, payload) of a stored fit, or None (absent or unreadable: then it is fitted again)."""
        p = self.path(key)
        try:
            data = p.read_bytes()
            n = int.from_bytes(data[:8], "little")
            header = json.loads(data[8:8 + n])
            return header, data[8 + n:]
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def write(self, key: str, header: dict, payload: bytes) -> None:
        head = json.dumps(plain(header), sort_keys=True).encode()
        atomic_write_bytes(self.path(key), len(head).to_bytes(8, "little") + head + payload)


_ACTIVE: FitCache | None = None


def active() -> FitCache | None:
    return _ACTIVE


@contextlib.contextmanager
def use(root) -> Iterator[FitCache | None]:
    """Make the cache at `root` (None: no cache) the one fits go through, for the duration of a cell."""
    global _ACTIVE
    before = _ACTIVE
    _ACTIVE = FitCache(Path(root)) if root is not None else None
    try:
        yield _ACTIVE
    finally:
        _ACTIVE = before


def fetch(parts: dict, fit: Callable[[], object], dump: Callable[[object], bytes],
          load: Callable[[bytes], object]):
    """The fit described by `parts`: read from the active cache, else `fit()` and store `dump(result)`.

    `load(payload)` may return None to refuse a stored entry (it is then fitted again and replaced)."""
    cache = active()
    if cache is None:
        return fit()
    key = key_of(parts)
    with cache.lock(key):
        stored = cache.read(key)
        if stored is not None:
            header, payload = stored
            result = load(payload)
            if result is not None:
                cache.stats.hits += 1
                cache.stats.saved_seconds += float(header.get("seconds", 0.0))
                return result
        t0 = time.perf_counter()
        result = fit()
        seconds = time.perf_counter() - t0
        cache.stats.misses += 1
        cache.stats.fit_seconds += seconds
        cache.write(key, {"parts": parts, "seconds": seconds}, dump(result))
        return result
