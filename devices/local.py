"""The `local-cpu` profile: latency of the real torch network on THIS machine (NAS-Bench-201, NAS-Bench-Macro).

One measurement = build the space's `torch_model(code, dataset)` (torch.manual_seed(0)), fix the
thread count, run `warmup` untimed forward passes, then `repeats` timed ones (time.perf_counter, gc off,
torch.inference_mode). We keep the median and the interquartile range (the noise).

Architectures are measured a chunk at a time, INTERLEAVED: `repeats` rounds, each timing every network of
the chunk once (seeded shuffled order). Load from other processes then hits all networks of a chunk alike
instead of whole networks: on a busy shared 2-core machine this raised the test-retest Kendall tau of 40
networks from 0.63 (one network after the other) to 0.89 at the same cost.

Results are cached as Parquet, one file per configuration: space (in the file name for spaces other than
nb201, whose names predate the other spaces), dataset, batch, threads, torch version and CPU model (a cache
measured on another machine, torch or space is never mistaken for this one). Each row is one
architecture. Measuring writes after every chunk (atomically, under a file lock, merged with what is on
disk), so an interrupted run resumes and a re-run measures only what is missing.

Cache folder: --cache DIR, else $MATHNAS_BENCH_CACHE, else ~/.cache/mathnas-bench.
`values()` of the profile gives NaN for architectures not measured yet: NaN means "not measured".
"""
from __future__ import annotations

import gc
import hashlib
import io
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import HarnessError
from core.files import atomic_write_bytes
from core.protocols import DeviceProfile

ENV_CACHE = "MATHNAS_BENCH_CACHE"
NAME = "local-cpu"
DEFAULT_BATCH = 1
DEFAULT_THREADS = 1
# 3 warm-up + 15 timed passes: about 0.1 s per architecture at batch 1 on one core, so the default
# 300-architecture sample takes well under a minute (see `devices measure` output for this machine).
DEFAULT_WARMUP = 3
DEFAULT_REPEATS = 15
DEFAULT_CHUNK = 25
COLUMNS = ("arch_index", "arch", "dataset", "batch", "threads", "torch_version", "cpu_model",
           "median_ms", "iqr_ms", "q25_ms", "q75_ms", "min_ms", "repeats", "warmup", "interleaved", "measured_at")
_NAME_RE = re.compile(r"^local-cpu-b(\d+)-t(\d+)$")
SPACES = ("nb201", "nasbench_macro")   # spaces whose Space has torch_model/input_shape


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """--cache DIR, else $MATHNAS_BENCH_CACHE, else ~/.cache/mathnas-bench."""
    if path is None:
        path = os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "mathnas-bench"
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise HarnessError(f"cache folder {str(p)!r} exists but is not a folder")
    return p


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (with x86 family/model/stepping, since virtual machines often
    report only a generic name), else what `platform` knows."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    if info:
                        break  # first processor only
                    continue
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), " ".join(value.split()))
    except OSError:
        pass
    name = info.get("model name") or info.get("Hardware") or info.get("Model") or info.get("cpu model")
    if not name:
        return platform.processor() or platform.machine() or "unknown"
    ids = [f"{k} {info[k]}" for k in ("cpu family", "model", "stepping") if info.get(k)]
    return f"{name} ({', '.join(ids)})" if ids else name


def torch_version() -> str:
    import torch

    return str(torch.__version__)


@dataclass(frozen=True)
class Config:
    """What a cached latency depends on (besides the architecture)."""

    dataset: str
    batch: int = DEFAULT_BATCH
    threads: int = DEFAULT_THREADS
    torch_version: str = ""
    cpu_model: str = ""
    space: str = "nb201"

    @classmethod
    def here(cls, dataset: str, batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS,
             space: str = "nb201") -> "Config":
        for what, v in (("batch", batch), ("threads", threads)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise HarnessError(f"--{what} must be a whole number >= 1, got {v!r}")
        return cls(dataset, int(batch), int(threads), torch_version(), cpu_model(), space)

    def file(self, cache: Path) -> Path:
        digest = hashlib.sha1(f"{self.torch_version}|{self.cpu_model}".encode()).hexdigest()[:12]
        prefix = "" if self.space == "nb201" else f"{self.space}-"    # nb201's names are older than the others
        return cache / "local-cpu" / f"{prefix}{self.dataset}-b{self.batch}-t{self.threads}-{digest}.parquet"

    def describe(self) -> str:
        where = self.dataset if self.space == "nb201" else f"{self.space}/{self.dataset}"
        return (f"{where}, batch {self.batch}, {self.threads} thread(s), torch {self.torch_version}, "
                f"CPU {self.cpu_model!r}")


def profile_name(batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS) -> str:
    return NAME if (batch, threads) == (DEFAULT_BATCH, DEFAULT_THREADS) else f"{NAME}-b{batch}-t{threads}"


def parse_profile_name(name: str) -> tuple[int, int] | None:
    """(batch, threads) of a local profile name, None for other names."""
    if name == NAME:
        return DEFAULT_BATCH, DEFAULT_THREADS
    m = _NAME_RE.match(name)
    if m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1:
        return int(m.group(1)), int(m.group(2))
    return None


def profile(batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS) -> DeviceProfile:
    name = profile_name(batch, threads)

    def measurer(space, dataset, rows, sources):
        return ensure_measured(name, space, dataset, rows)

    return DeviceProfile(
        name, "live", ("latency",),
        f"this machine ({cpu_model()}), torch CPU, batch {batch}, {threads} thread(s); median of timed runs, "
        f"cached in ${ENV_CACHE} or ~/.cache/mathnas-bench",
        _loader(name, batch, threads), coverage={s: None for s in SPACES}, resolution_ms=None, live=True,
        measurer=measurer,
        note=f"NaN = not measured; run `mathnas-bench devices measure {name} --dataset D` first")


def profiles() -> list[DeviceProfile]:
    """The registered live profile (entry point `local-cpu`); other batch/thread settings are made by name."""
    return [profile()]


def profile_for_name(name: str) -> DeviceProfile | None:
    """A local profile for names like `local-cpu-b8-t2` (other batch/threads); None for other names."""
    parsed = parse_profile_name(name)
    return None if parsed is None or name == NAME else profile(*parsed)


def _loader(name: str, batch: int, threads: int):
    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        cfg = Config.here(dataset, batch, threads, space.name)
        cache = cache_dir()
        frame = read_cache(cfg, cache)
        if frame.empty:
            on = "" if space.name == "nb201" else f" --space {space.name}"
            raise HarnessError(f"device {name!r}: nothing measured yet on this machine ({cfg.describe()}) in "
                               f"{cache}; run `mathnas-bench devices measure {name}{on} --dataset {dataset}` first")
        return {"latency": values_from_frame(space, frame)}
    return load


def values_from_frame(space, frame: pd.DataFrame, column: str = "median_ms") -> np.ndarray:
    """Array over all rows of the space (its table order), NaN where `frame` has no row."""
    out = np.full(space.size, np.nan)
    if len(frame):
        codes = np.stack([space.encode(a) for a in frame["arch"]])
        out[space.index(codes)] = frame[column].to_numpy(dtype=np.float64)
    return out


# --- cache ---------------------------------------------------------------------------------------------
def read_cache(cfg: Config, cache: Path) -> pd.DataFrame:
    """Measured rows of one configuration (empty frame when nothing is cached)."""
    path = cfg.file(cache)
    if not path.is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    try:
        frame = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises many types for corrupt files
        raise HarnessError(f"{path}: unreadable cache file ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                           f"delete it to measure again") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise HarnessError(f"{path}: cache file lacks column {missing[0]!r}; delete it to measure again")
    return frame


def _write_rows(cfg: Config, cache: Path, rows: list[dict]) -> None:
    """Merge `rows` into the configuration's file atomically, under a lock (several measurers may share it)."""
    from filelock import FileLock

    if not rows:
        return
    path = cfg.file(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        old = read_cache(cfg, cache)
        new = pd.DataFrame(rows, columns=list(COLUMNS))
        merged = new if old.empty else pd.concat([old, new], ignore_index=True)
        merged = merged.drop_duplicates("arch", keep="first").sort_values("arch_index", kind="stable")
        buf = io.BytesIO()
        merged.reset_index(drop=True).to_parquet(buf, index=False)
        atomic_write_bytes(path, buf.getvalue())


# --- measuring -----------------------------------------------------------------------------------------
def _check_counts(repeats: int, warmup: int) -> None:
    if isinstance(repeats, bool) or int(repeats) != repeats or repeats < 3:
        raise HarnessError(f"--repeats must be a whole number >= 3 (the noise needs quartiles), got {repeats!r}")
    if isinstance(warmup, bool) or int(warmup) != warmup or warmup < 0:
        raise HarnessError(f"--warmup must be a whole number >= 0, got {warmup!r}")


def time_archs(space, codes, dataset: str, batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS,
               repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP, seed: int = 0) -> list[dict[str, float]]:
    """Time several architectures interleaved (no cache): per network median, quartiles, IQR and minimum in ms."""
    import torch

    _check_counts(repeats, warmup)
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    rng = np.random.default_rng(seed)
    try:
        models = []
        for code in codes:
            torch.manual_seed(0)
            models.append(space.torch_model(code, dataset))
        x = torch.randn((int(batch), *space.input_shape(dataset)), generator=torch.Generator().manual_seed(0))
        times: list[list[float]] = [[] for _ in models]
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with torch.inference_mode():
                for model in models:
                    for _ in range(int(warmup)):
                        model(x)
                for _ in range(int(repeats)):
                    for k in rng.permutation(len(models)):
                        t0 = time.perf_counter()
                        models[k](x)
                        times[k].append((time.perf_counter() - t0) * 1e3)
        finally:
            if gc_was_enabled:
                gc.enable()
    finally:
        torch.set_num_threads(previous)
    out = []
    for t in times:
        q25, q50, q75 = np.percentile(t, [25, 50, 75])
        out.append({"median_ms": float(q50), "iqr_ms": float(q75 - q25), "q25_ms": float(q25),
                    "q75_ms": float(q75), "min_ms": float(min(t))})
    return out


def time_arch(space, code, dataset: str, batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS,
              repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP) -> dict[str, float]:
    """Time one architecture (no cache)."""
    return time_archs(space, [code], dataset, batch, threads, repeats, warmup)[0]


@dataclass
class MeasureReport:
    config: Config
    file: Path
    requested: int
    new: int
    cached: int
    seconds: float  # wall time spent measuring the new ones
    frame: pd.DataFrame  # the requested rows, all measured now

    @property
    def seconds_per_arch(self) -> float:
        return self.seconds / self.new if self.new else float("nan")


def measure(space, rows, dataset: str, batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS,
            repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP, cache: str | os.PathLike | None = None,
            progress: bool = True, chunk: int = DEFAULT_CHUNK) -> MeasureReport:
    """Measure the architectures at official indices `rows` that the cache lacks, in the given order."""
    _check_counts(repeats, warmup)
    cfg = Config.here(dataset, batch, threads, space.name)
    folder = cache_dir(cache)
    rows = [int(r) for r in rows]
    if any(r < 0 or r >= space.size for r in rows):
        raise HarnessError(f"architecture indices must be in 0..{space.size - 1}")
    codes = space.enumerate()
    have = set(read_cache(cfg, folder)["arch"])
    todo = [r for r in dict.fromkeys(rows) if space.decode(codes[r]) not in have]
    from tqdm import tqdm

    if isinstance(chunk, bool) or int(chunk) != chunk or chunk < 1:
        raise HarnessError(f"chunk must be a whole number >= 1, got {chunk!r}")
    t0 = time.perf_counter()
    with tqdm(total=len(todo), desc=f"{profile_name(batch, threads)} {dataset}", unit="arch",
              file=sys.stderr, disable=not progress or not todo) as bar:
        for start in range(0, len(todo), int(chunk)):
            part = todo[start:start + int(chunk)]
            stats = time_archs(space, [codes[r] for r in part], dataset, cfg.batch, cfg.threads, repeats, warmup,
                               seed=start)
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            _write_rows(cfg, folder, [
                {"arch_index": r, "arch": space.decode(codes[r]), "dataset": dataset, "batch": cfg.batch,
                 "threads": cfg.threads, "torch_version": cfg.torch_version, "cpu_model": cfg.cpu_model, **st,
                 "repeats": int(repeats), "warmup": int(warmup), "interleaved": len(part), "measured_at": stamp}
                for r, st in zip(part, stats)])  # each chunk lands atomically: an interrupted run resumes
            bar.update(len(part))
    seconds = time.perf_counter() - t0
    frame = read_cache(cfg, folder)
    wanted = {space.decode(codes[r]) for r in rows}
    frame = frame[frame["arch"].isin(wanted)].reset_index(drop=True)
    return MeasureReport(cfg, cfg.file(folder), len(set(rows)), len(todo), len(set(rows)) - len(todo), seconds, frame)


def sample_rows(n: int, seed: int, size: int = 15625) -> np.ndarray:
    """A seeded sample of rows; the first n of one permutation, so a larger n extends a smaller one."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= size:
        raise HarnessError(f"--sample must be a whole number in 1..{size}, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise HarnessError(f"--seed must be a whole number in 0..{2**32 - 1}, got {seed!r}")
    return np.random.default_rng(seed).permutation(size)[: int(n)]


def measured_values(space, dataset: str, batch: int = DEFAULT_BATCH, threads: int = DEFAULT_THREADS,
                    cache: str | os.PathLike | None = None) -> np.ndarray:
    """Latency (ms) over all rows of the space from the cache in `cache`, NaN where not measured."""
    return values_from_frame(space, read_cache(Config.here(dataset, batch, threads, space.name), cache_dir(cache)))


def spread(values) -> tuple[float, float, float]:
    """(min, median, max) of measured values, for reports."""
    v = [float(x) for x in values]
    return (min(v), statistics.median(v), max(v)) if v else (float("nan"),) * 3


def ensure_measured(name: str, space, dataset: str, rows, cache: str | os.PathLike | None = None,
                    progress: bool = False) -> np.ndarray:
    """Latency (ms) of `rows` on local profile `name`, measuring (and caching) those not measured yet.

    For scoring what a searcher found on a local profile: an unmeasured architecture gets measured instead
    of being called infeasible."""
    parsed = parse_profile_name(name)
    if parsed is None:
        raise HarnessError(f"device {name!r} is not a local profile")
    batch, threads = parsed
    measure(space, rows, dataset, batch=batch, threads=threads, cache=cache, progress=progress)
    return measured_values(space, dataset, batch, threads, cache)[np.asarray(rows, dtype=np.int64)]
