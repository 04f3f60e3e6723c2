"""Crash-safe file writes and the Parquet result store of the runner.

Layout of a store folder OUT:
  OUT/store.json              {"schema_version": N, "protocols": [...]}: the row layout, and the protocol of
                              each suite run into the folder (harness.protocol; the reports' protocol card)
  OUT/cells/<sha256>.parquet  one small file per finished (or failed) cell, written atomically
  OUT/results.parquet         consolidated export of every row (rewritten after each run)
  OUT/.lock                   filelock serialising writers (two runs on one store both succeed)
  OUT/fits/<sha256>.fit       fitted predictors shared by cells and runs (core.fitcache), content-addressed

A cell file appears whole or not at all (temp file + fsync + rename), so a run killed at any point
(even SIGKILL) leaves only finished rows; the next run skips those and redoes the rest.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from core.errors import HarnessError, one_line
from core.files import atomic_write_bytes, ensure_dir
from core.text import plain

SCHEMA_VERSION = 1
STORE_FILE = "store.json"
CELLS_DIR = "cells"
EXPORT_FILE = "results.parquet"
LOCK_FILE = ".lock"
# The only nondeterministic columns: wall-clock times. A column is timing when its last dotted part is
# one of these names or ends with "_seconds" (nested method extras such as "extra.solve_seconds").
# "claims" is the stored claims table, which includes a measured ILP solve time.
TIMING_COLUMNS = ("seconds", "fit_seconds", "search_seconds", "solve_seconds", "measure_seconds",
                  "wall_seconds", "time", "claims")


# Also run-dependent: whether a cell's fits came from the fit cache (which worker fitted them first).
RUN_DEPENDENT_PREFIXES = ("fit_cache.",)
FITS_DIR = "fits"   # OUT/fits/<sha256>.fit: the content-addressed fit cache (core.fitcache)


def is_timing(column: str) -> bool:
    leaf = str(column).rsplit(".", 1)[-1]
    return leaf in TIMING_COLUMNS or leaf.endswith("_seconds") or str(column).startswith(RUN_DEPENDENT_PREFIXES)


def timing_columns(columns) -> list[str]:
    return [c for c in columns if is_timing(c)]


# --- canonical cells -----------------------------------------------------------------------------
def canonical_json(obj) -> str:
    """One spelling per value (sorted keys, no spaces), so equal cells hash equally."""
    return json.dumps(plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def cell_key(cell: dict) -> str:
    return hashlib.sha256(canonical_json(cell).encode()).hexdigest()


def flatten(obj: dict, prefix: str = "") -> dict:
    """Nested dicts to dotted scalar columns; lists and arrays to JSON strings (Parquet-friendly rows)."""
    out = {}
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{name}."))
        elif isinstance(v, (list, tuple, np.ndarray)):
            out[name] = json.dumps(plain(v), separators=(",", ":"))
        elif isinstance(v, (np.bool_, bool)):
            out[name] = bool(v)
        elif isinstance(v, (np.integer, int)):
            out[name] = int(v)
        elif isinstance(v, (np.floating, float)):
            out[name] = float(v)
        elif v is None or isinstance(v, str):
            out[name] = v
        else:
            out[name] = str(v)
    return out


# --- the store ---------------------------------------------------------------------------------------
class ResultStore:
    """One folder of result rows, one Parquet file per cell, keyed by the sha256 of the cell's canonical JSON."""

    def __init__(self, root: str | os.PathLike, create: bool = False):
        self.root = Path(root)
        self.cells = self.root / CELLS_DIR
        if create:
            ensure_dir(self.root, "result store")
        elif not self.root.is_dir():
            raise HarnessError(f"{self.root}: no result store here (run `mathnas-bench run SUITE --out {self.root}` first)")
        self._check_schema(create)

    # schema -----------------------------------------------------------------------------------------
    def _check_schema(self, create: bool) -> None:
        meta = self.root / STORE_FILE
        if meta.is_file():
            try:
                version = json.loads(meta.read_text(encoding="utf-8")).get("schema_version")
            except (json.JSONDecodeError, AttributeError, OSError, UnicodeDecodeError):
                raise HarnessError(f"{meta}: unreadable store description; not a result store of this harness") from None
            if version != SCHEMA_VERSION:
                raise HarnessError(f"{self.root}: result store has schema version {version!r}, this harness reads "
                                   f"version {SCHEMA_VERSION}; re-run the suite into a new --out folder")
            return
        if self.cells.is_dir() and any(self.cells.glob("*.parquet")):
            raise HarnessError(f"{self.root}: result store of an unknown schema version (no {STORE_FILE}); "
                               f"re-run the suite into a new --out folder")
        if not create:
            raise HarnessError(f"{self.root}: no result store here ({STORE_FILE} missing)")
        with self.lock():
            if not meta.is_file():
                atomic_write_bytes(meta, json.dumps({"schema_version": SCHEMA_VERSION,
                                                     "layout": "cells/<sha256>.parquet, one row each"}).encode())

    # protocol ---------------------------------------------------------------------------------------
    def _meta(self) -> dict:
        try:
            return json.loads((self.root / STORE_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return {"schema_version": SCHEMA_VERSION}

    def record_protocol(self, entry: dict) -> None:
        """Keep the protocol of a suite run (one entry per suite content; the latest run of it replaces it)."""
        with self.lock():
            meta = self._meta()
            kept = [p for p in meta.get("protocols", []) if p.get("suite_sha256") != entry.get("suite_sha256")]
            meta["protocols"] = kept + [entry]
            atomic_write_bytes(self.root / STORE_FILE, json.dumps(meta, indent=1).encode())

    def protocols(self) -> list[dict]:
        """The recorded protocols, oldest first (empty for a store written before they were recorded)."""
        return list(self._meta().get("protocols", []))

    def lock(self, timeout: float = 600.0):
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCK_FILE), timeout=timeout)

    # writing ----------------------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        return self.cells / f"{key}.parquet"

    def write(self, row: dict) -> bool:
        """Store one cell's row under the lock. A finished row is never replaced by another writer's copy
        (two runs racing on one cell keep the first); a failed row is replaced. Returns whether written."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        row = {**flatten(row), "schema_version": SCHEMA_VERSION}
        key = row["key"]
        table = pa.Table.from_pylist([row]).replace_schema_metadata({b"schema_version": str(SCHEMA_VERSION).encode()})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        with self.lock():
            if row.get("status") != "ok" or self._status_of(key) != "ok":
                atomic_write_bytes(self.path(key), buf.getvalue())
                return True
            return False

    def _status_of(self, key: str) -> str | None:
        import pyarrow.parquet as pq

        p = self.path(key)
        if not p.is_file():
            return None
        return pq.read_table(p, columns=["status"]).column("status")[0].as_py()

    def clean_temp(self) -> None:
        """Remove temp files left by a killed writer (only under the lock: nobody is mid-write then)."""
        with self.lock():
            for d in (self.root, self.cells):
                if d.is_dir():
                    for f in d.glob(".*.tmp"):
                        f.unlink(missing_ok=True)

    # reading ----------------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        if not self.cells.is_dir():
            return []
        return sorted(p.stem for p in self.cells.glob("*.parquet"))

    def table(self, columns: list[str] | None = None):
        """Every row as one pyarrow Table (columns of all tasks, nulls where a task has none)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted(self.cells.glob("*.parquet")) if self.cells.is_dir() else []
        tables = []
        for f in files:
            try:
                t = pq.read_table(f, columns=columns)
            except (pa.ArrowInvalid, OSError) as e:
                raise HarnessError(f"{f}: unreadable result file ({one_line(e, 200)}); delete it and run the suite "
                                   f"again to redo that cell") from None
            if t.num_rows != 1 or ("key" in t.column_names and t.column("key")[0].as_py() != f.stem):
                raise HarnessError(f"{f}: not a result row of this store (a cell file holds exactly one row whose "
                                   f"key is its name); delete it and run the suite again")
            version = (t.schema.metadata or {}).get(b"schema_version", b"?").decode()
            if version != str(SCHEMA_VERSION):
                raise HarnessError(f"{f}: result row of schema version {version}, this harness reads "
                                   f"version {SCHEMA_VERSION}; re-run the suite into a new --out folder")
            tables.append(t)
        if not tables:
            return pa.table({"key": pa.array([], pa.string()), "status": pa.array([], pa.string())})
        try:
            return pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # one column with two kinds of value: keep text
            return pa.concat_tables([_stringify_conflicts(t, tables) for t in tables], promote_options="permissive")

    def read(self, drop_timing: bool = False):
        """All rows as a pandas DataFrame sorted by key (optionally without the timing columns)."""
        frame = self.table().to_pandas()
        frame = frame.sort_values("key", kind="stable").reset_index(drop=True)
        if drop_timing:
            frame = frame.drop(columns=timing_columns(frame.columns))
        return frame

    def status(self) -> dict[str, str]:
        """key -> "ok" | "failed" for every stored cell (reads two columns only)."""
        t = self.table(columns=["key", "status"])
        return dict(zip(t.column("key").to_pylist(), t.column("status").to_pylist()))

    def export_if_stale(self, ran: int = 0) -> Path | None:
        """Rewrite the export after new rows, or when it is missing or unreadable (a corrupt copy is never kept)."""
        import pyarrow.parquet as pq

        target = self.root / EXPORT_FILE
        if not ran and target.is_file():
            try:
                if pq.read_metadata(target).num_rows == len(self.keys()):
                    return None
            except Exception:  # noqa: BLE001 - any unreadable export is rewritten
                pass
        return self.export()

    def export(self) -> Path:
        """Rewrite OUT/results.parquet with every row (a convenience copy; the cells stay the truth)."""
        import pyarrow.parquet as pq

        table = self.table()
        buf = io.BytesIO()
        pq.write_table(table, buf)
        with self.lock():
            atomic_write_bytes(self.root / EXPORT_FILE, buf.getvalue())
        return self.root / EXPORT_FILE


def _stringify_conflicts(table, tables):
    """Cast to string every column whose type differs between the per-cell tables."""
    import pyarrow as pa

    kinds: dict[str, set] = {}
    for t in tables:
        for field in t.schema:
            if not pa.types.is_null(field.type):
                kinds.setdefault(field.name, set()).add(str(field.type))
    conflicted = {n for n, k in kinds.items() if len(k) > 1 and not all(x in ("int64", "double") for x in k)}
    cols = []
    for field in table.schema:
        col = table.column(field.name)
        if field.name in conflicted:
            col = pa.array([None if v is None else json.dumps(v) if not isinstance(v, str) else v
                            for v in col.to_pylist()], pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)
