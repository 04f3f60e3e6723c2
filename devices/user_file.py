"""A user's own measurements as a device profile (`--device-file FILE`).

The CSV has an `arch_index` (official NAS-Bench-201 index) or an `arch` (official arch string) column, or
both (then they must agree), plus `latency_ms` and optionally `energy_mj`. The profile is named after the
file's stem and has kind "file". Architectures the file does not list are NaN (not measured): never
feasible, never scored. The whole file is validated when it is read; any problem is one line naming the
file and the culprit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.codes import lexicographic_rank
from core.errors import HarnessError
from core.protocols import DeviceProfile
from spaces.nb201 import NUM_ARCHS, NB201Space, format_arch, parse_arch

VALUE_COLUMNS = {"latency_ms": "latency", "energy_mj": "energy"}


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise HarnessError(f"device file {path}: no such file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise HarnessError(f"device file {path}: unreadable CSV ({first})") from None


def _values(path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise HarnessError(f"device file {path}: column {column!r} row {i + 2} has {frame[column].iloc[i]!r}; "
                           f"every value must be a finite number > 0 (leave an architecture out if unmeasured)")
    return values


def _indices(path: Path, frame: pd.DataFrame) -> np.ndarray:
    text = frame["arch_index"].str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values >= NUM_ARCHS)
    if bad.any():
        i = int(np.argmax(bad))
        raise HarnessError(f"device file {path}: arch_index {frame['arch_index'].iloc[i]!r} at row {i + 2} is not "
                           f"an architecture index (whole number 0..{NUM_ARCHS - 1})")
    return values.astype(np.int64)


def _codes(path: Path, frame: pd.DataFrame) -> np.ndarray:
    codes = np.empty((len(frame), 6), dtype=np.int64)
    for i, arch in enumerate(frame["arch"]):
        try:
            codes[i] = parse_arch(arch)
        except HarnessError as e:
            raise HarnessError(f"device file {path}: row {i + 2}: {e}") from None
    return codes


def _first_duplicate(keys: np.ndarray) -> int | None:
    """Position of the first row whose key appeared before, or None."""
    _, first = np.unique(keys, return_index=True)
    if first.size == keys.size:
        return None
    seen = np.zeros(keys.size, dtype=bool)
    seen[first] = True
    return int(np.argmin(seen))


def profile_from_file(path) -> DeviceProfile:
    """Validate the CSV now and return its profile (name = file stem, kind "file")."""
    path = Path(path).expanduser()
    frame = _read(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    dup = next((c for c in frame.columns if frame.columns.tolist().count(c) > 1 or
                (c.rsplit(".", 1)[0] in frame.columns and c.rsplit(".", 1)[-1].isdigit())), None)
    if dup is not None:
        raise HarnessError(f"device file {path}: column {dup.rsplit('.', 1)[0]!r} appears twice")
    if "arch_index" not in frame.columns and "arch" not in frame.columns:
        raise HarnessError(f"device file {path}: needs an 'arch_index' or 'arch' column; found "
                           f"{', '.join(frame.columns) or 'no columns'}")
    if "latency_ms" not in frame.columns:
        raise HarnessError(f"device file {path}: missing column 'latency_ms'")
    if len(frame) == 0:
        raise HarnessError(f"device file {path}: no rows")
    name = path.stem

    index = _indices(path, frame) if "arch_index" in frame.columns else None
    codes = _codes(path, frame) if "arch" in frame.columns else None
    if index is not None:
        dup = _first_duplicate(index)
        if dup is not None:
            raise HarnessError(f"device file {path}: arch_index {index[dup]} is listed twice (row {dup + 2})")
    if codes is not None:
        dup = _first_duplicate(lexicographic_rank(codes, NB201Space.num_choices))
        if dup is not None:
            raise HarnessError(f"device file {path}: arch {format_arch(codes[dup])} is listed twice (row {dup + 2})")
    metrics = {VALUE_COLUMNS[c]: _values(path, frame, c) for c in VALUE_COLUMNS if c in frame.columns}

    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        rows = index
        if codes is not None:
            from_arch = space.index(codes)
            if rows is not None and np.any(from_arch != rows):
                i = int(np.argmax(from_arch != rows))
                raise HarnessError(f"device file {path}: row {i + 2}: arch_index {rows[i]} is not "
                                   f"{format_arch(codes[i])} (that is index {from_arch[i]})")
            rows = from_arch
        out = {}
        for metric, values in metrics.items():
            full = np.full(NUM_ARCHS, np.nan)
            full[rows] = values
            out[metric] = full
        return out

    listed = len(frame)
    return DeviceProfile(name, "file", tuple(metrics), f"user file {path} ({listed:,} architectures)", load,
                         coverage={"nb201": None},
                         note="unlisted architectures are NaN (not measured); same values for every dataset")
