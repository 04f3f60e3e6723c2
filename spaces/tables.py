"""Reading a benchmark's CSV table with one-line errors (shared by the spaces whose data is one table)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.codes import lexicographic_rank
from core.errors import HarnessError


def read_csv(path: Path, text_columns=()) -> pd.DataFrame:
    """The table at `path`, `text_columns` kept as strings (arch strings such as '00000000' are not numbers)."""
    if not path.is_file():
        raise HarnessError(f"{path}: missing data file")
    try:
        return pd.read_csv(path, dtype={c: str for c in text_columns})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as e:
        raise HarnessError(f"{path}: unreadable CSV ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def require_columns(path: Path, frame: pd.DataFrame, columns, rows: int) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise HarnessError(f"{path}: missing column {missing[0]!r}")
    if len(frame) != rows:
        raise HarnessError(f"{path}: expected {rows} rows, found {len(frame)}")


def numeric(path: Path, frame: pd.DataFrame, col: str) -> np.ndarray:
    """A column as finite floats; the first missing or non-numeric value is named with its row."""
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        r = int(np.argmax(bad))
        raise HarnessError(f"{path}: column {col!r} has a missing or non-numeric value {frame[col].iloc[r]!r} at "
                           f"row {r}")
    return values


def check_index(path: Path, frame: pd.DataFrame, codes: np.ndarray, num_choices, decode) -> np.ndarray:
    """Every code once, and `arch_index` = the code's lexicographic rank; returns the ranks."""
    lex = lexicographic_rank(codes, num_choices)
    counts = np.bincount(lex, minlength=int(np.prod(num_choices)))
    if counts.max() > 1:
        raise HarnessError(f"{path}: duplicated arch {decode(codes[np.flatnonzero(counts[lex] > 1)[0]])}")
    index = pd.to_numeric(frame["arch_index"], errors="coerce").to_numpy(dtype=np.float64)
    if np.any(index != lex):
        r = int(np.argmax(index != lex))
        raise HarnessError(f"{path}: row {r}: arch_index {frame['arch_index'].iloc[r]!r} is not the arch's rank {lex[r]}")
    return lex


class TableRows:
    """`size` and `enumerate()` of a space whose rows are the codes it keeps in `_codes`, in table order."""

    @property
    def size(self) -> int:
        return int(self._codes.shape[0])

    def enumerate(self) -> np.ndarray:
        return self._codes


def chain_graphs(node_types: np.ndarray) -> np.ndarray:
    """Adjacency of chains: each present node (type >= 0) feeds the next present node; (K, N, N) bool."""
    types = np.atleast_2d(node_types)
    k, n = types.shape
    present = types >= 0
    first_at_or_after = np.minimum.accumulate(np.where(present, np.arange(n), n)[:, ::-1], axis=1)[:, ::-1]
    succ = np.full((k, n), n)
    succ[:, :-1] = first_at_or_after[:, 1:]
    adj = np.zeros((k, n, n + 1), dtype=bool)
    rows, cols = np.nonzero(present)
    adj[rows, cols, succ[rows, cols]] = True
    return adj[:, :, :n]
