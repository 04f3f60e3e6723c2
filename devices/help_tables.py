"""HELP's latency tables of the hardware-only spaces as device profiles (entry points `fbnet-tables`, `ofa-tables`).

FBNet: the 27 columns of ../shared/fbnet/fbnet_help_latency.csv; OFA MobileNetV3: the 12 GPU settings of
../shared/ofa_mbv3/ofa_mbv3_help_latency.csv. Profiles are named as the columns without `_ms`; names that
NAS-Bench-201 has too (fpga, pixel3, gold_6226, 2080ti_1, ...) merge with those (devices.registered).

fpga, eyeriss, pixel3 and raspi4 are HW-NAS-Bench's FBNet numbers, sums of a per-layer lookup table
(fbnet_hwnasbench_lut_ms.csv, recovered from the samples): for them the profile answers ANY of the 9^22
FBNet codes exactly (capability `exact`), so methods that profile networks outside the samples (MathNAS's
Algorithm 1, LANA's one-block swaps) can run there. On load the table must reproduce every sample; the
CSVs keep 9 significant digits, so "reproduce" means within their rounding (see `LUT_TOLERANCE_MS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import HarnessError
from core.protocols import DeviceProfile
from core.sources import Sources
from spaces import fbnet, ofa_mbv3
from spaces.nb201_data import _numeric, _read_csv, _require_file

LUT_FILE = "fbnet_hwnasbench_lut_ms.csv"
LUT_DEVICES = ("fpga", "eyeriss", "pixel3", "raspi4")
# Whole-millisecond timers (README: coarse phones).
COARSE_MS = {"pixel2", "samsung_a50", "samsung_s7", "essential_ph_1"}
# Largest |LUT sum - CSV sample| allowed on load: 9 significant digits of a value below 100 ms round by up to
# 5e-8 ms, and 23 rounded table entries below 10 ms add up to 23 x 5e-9 ms.
LUT_TOLERANCE_MS = 2e-7


@dataclass(frozen=True)
class LookupTable:
    """latency(code) = base + sum_l table[l, code_l] (ms); skip costs 0 in every layer."""

    device: str
    base: float
    table: np.ndarray      # (22, 9)

    def __call__(self, codes) -> np.ndarray:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
        return self.base + self.table[np.arange(fbnet.NUM_LAYERS)[None, :], codes].sum(axis=1)


def lookup_tables(sources=None) -> dict[str, LookupTable]:
    """The 4 HW-NAS-Bench FBNet lookup tables, validated against the 5,000 samples (once per folder)."""
    return _lookup_tables(Sources.of(sources).folder(fbnet.FOLDER))


@lru_cache(maxsize=4)
def _lookup_tables(folder: Path) -> dict[str, LookupTable]:
    path = _require_file(folder, LUT_FILE)
    frame = _read_csv(path, dtype={"device": str, "op": str})
    for col in ("device", "layer", "op", "latency_ms"):
        if col not in frame.columns:
            raise HarnessError(f"{path}: missing column {col!r}")
    values = _numeric(path, frame, ("layer", "latency_ms"))
    samples = fbnet.load_tables(Sources(root=str(folder.parent)))
    out = {}
    for device in LUT_DEVICES:
        mine = (frame["device"] == device).to_numpy()
        layer, op, ms = values["layer"][mine], frame["op"].to_numpy()[mine], values["latency_ms"][mine]
        base = ms[(layer == -1) & (op == "base")]
        table = np.full((fbnet.NUM_LAYERS, len(fbnet.OPS)), np.nan)
        for l, o, v in zip(layer, op, ms):
            if l == -1 and o == "base":
                continue
            if not (0 <= l < fbnet.NUM_LAYERS and l == int(l)) or o not in fbnet.OPS:
                raise HarnessError(f"{path}: device {device!r}: unknown entry layer {l:g}, op {o!r}")
            table[int(l), fbnet.OPS.index(o)] = v
        if base.size != 1 or np.isnan(table).any() or mine.sum() != table.size + 1:
            raise HarnessError(f"{path}: device {device!r} needs one 'base' row and one row per (layer 0..21, op), "
                               f"found {int(mine.sum())} rows")
        lut = LookupTable(device, float(base[0]), table)
        err = np.abs(lut(samples.space.enumerate()) - samples.latency[device])
        if err.max() > LUT_TOLERANCE_MS:
            raise HarnessError(f"{path}: the {device} table misses sample {int(np.argmax(err))} of {fbnet.FILE} by "
                               f"{err.max():.3g} ms (allowed {LUT_TOLERANCE_MS:g})")
        out[device] = lut
    return out


def _fbnet_column(device: str):
    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        return {"latency": fbnet.load_tables(sources).latency[device]}
    return load


def _fbnet_exact(device: str):
    def exact(space, dataset: str, codes, sources) -> dict[str, np.ndarray]:
        return {"latency": lookup_tables(sources)[device](space.check_codes(codes))}
    return exact


def _ofa_column(device: str):
    def load(space, dataset: str, sources) -> dict[str, np.ndarray]:
        return {"latency": ofa_mbv3.load_tables(sources).latency[device]}
    return load


def fbnet_profiles() -> list[DeviceProfile]:
    out = []
    for d in fbnet.DEVICES:
        lut = d in LUT_DEVICES
        origin = "HW-NAS-Bench's per-layer lookup-table sums, via HELP" if lut else "HELP's measurements"
        out.append(DeviceProfile(
            d, "table", ("latency",), f"fbnet_help_latency.csv column {d}_ms ({origin})", _fbnet_column(d),
            coverage={fbnet.FBNetSpace.name: (fbnet.TASK.name,)}, resolution_ms=1.0 if d in COARSE_MS else None,
            exact={fbnet.FBNetSpace.name: _fbnet_exact(d)} if lut else {},
            note="FBNet: exact for any of the 9^22 codes (lookup table)" if lut else
                 "FBNet: the 5,000 samples only"))
    return out


def ofa_profiles() -> list[DeviceProfile]:
    return [DeviceProfile(d, "table", ("latency",), f"ofa_mbv3_help_latency.csv column {d}_ms (HELP's measurements)",
                          _ofa_column(d), coverage={ofa_mbv3.OFASpace.name: (ofa_mbv3.TASK.name,)},
                          note="OFA MobileNetV3: the 5,000 samples only; GPU name_batch size")
            for d in ofa_mbv3.DEVICES]
