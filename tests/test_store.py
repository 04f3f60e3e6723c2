"""Result store: canonical keys, atomic per-cell rows, first finished row wins, schema checks."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import HarnessError
from harness.store import (SCHEMA_VERSION, ResultStore, canonical_json, cell_key, flatten, is_timing,
                           timing_columns)


def test_cell_key_ignores_key_order_and_numpy_types():
    a = {"task": "search", "seed": 1, "limits": {"latency": 4.0, "energy": 2.5}, "params": {}}
    b = {"params": {}, "limits": {"energy": np.float64(2.5), "latency": 4.0}, "seed": np.int64(1), "task": "search"}
    assert canonical_json(a) == canonical_json(b)
    assert cell_key(a) == cell_key(b) and len(cell_key(a)) == 64
    assert cell_key({**a, "seed": 2}) != cell_key(a)


def test_flatten_nested_and_lists():
    row = flatten({"accuracy": {"kendall_tau": np.float32(0.5), "n": np.int64(3)}, "sample": {"rows": np.arange(3)},
                   "ok": np.bool_(True), "none": None})
    assert row == {"accuracy.kendall_tau": 0.5, "accuracy.n": 3, "sample.rows": "[0,1,2]", "ok": True, "none": None}


def test_timing_columns_named_in_one_place():
    cols = ["seconds", "fit_seconds", "extra.solve_seconds", "record_seconds", "regret", "accuracy.kendall_tau"]
    assert timing_columns(cols) == ["seconds", "fit_seconds", "extra.solve_seconds", "record_seconds"]
    assert not is_timing("queries")


def test_write_read_and_first_finished_row_wins(tmp_path):
    store = ResultStore(tmp_path / "s", create=True)
    assert store.read().empty
    store.write({"key": "k1", "status": "failed", "error": "boom", "seconds": 1.0})
    assert store.status() == {"k1": "failed"}
    assert store.write({"key": "k1", "status": "ok", "error": None, "regret": 0.5, "seconds": 2.0})
    assert not store.write({"key": "k1", "status": "ok", "error": None, "regret": 9.9, "seconds": 3.0})
    store.write({"key": "k2", "status": "ok", "error": None, "task": "x", "seconds": 1.0})
    frame = store.read()
    assert list(frame["key"]) == ["k1", "k2"] and frame.loc[0, "regret"] == 0.5
    assert "seconds" not in store.read(drop_timing=True).columns
    assert (frame["schema_version"] == SCHEMA_VERSION).all()
    assert not list((tmp_path / "s").rglob("*.tmp"))
    store.export()
    assert len(pq.read_table(tmp_path / "s" / "results.parquet")) == 2


def test_columns_of_different_types_are_kept_as_text(tmp_path):
    store = ResultStore(tmp_path, create=True)
    store.write({"key": "a", "status": "ok", "extra.x": 3})
    store.write({"key": "b", "status": "ok", "extra.x": "three"})
    assert sorted(map(str, store.read()["extra.x"])) == ["3", "three"]


def test_older_schema_is_reported(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "store.json").write_text(json.dumps({"schema_version": 0}))
    with pytest.raises(HarnessError, match="schema version 0.*reads version"):
        ResultStore(tmp_path / "old")
    # cells without store.json: unknown schema
    (tmp_path / "bare" / "cells").mkdir(parents=True)
    pq.write_table(pa.table({"key": ["x"]}), tmp_path / "bare" / "cells" / "x.parquet")
    with pytest.raises(HarnessError, match="unknown schema"):
        ResultStore(tmp_path / "bare", create=True)
    # one row of an older schema inside a current store
    store = ResultStore(tmp_path / "mixed", create=True)
    store.write({"key": "new", "status": "ok"})
    table = pa.table({"key": ["old"], "status": ["ok"]}).replace_schema_metadata({b"schema_version": b"0"})
    pq.write_table(table, tmp_path / "mixed" / "cells" / "old.parquet")
    with pytest.raises(HarnessError, match="old.parquet: result row of schema version 0"):
        store.read()


def test_missing_store_is_one_line_error(tmp_path):
    with pytest.raises(HarnessError, match="no result store"):
        ResultStore(tmp_path / "nothing")
