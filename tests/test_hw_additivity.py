"""`devices additivity` on the hardware-only spaces: the FBNet README's R^2 (lookup-table devices exactly
additive, GPUs/CPUs 0.91-0.998, coarse phones 0.28-0.66), `single` only where the device answers any code,
the MathNAS code and the numpy reference agreeing, and the command line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from analyses import additivity
from analyses.device_commands import additivity_rows
from core.errors import HarnessError
from devices import get_profile
from devices.help_tables import COARSE_MS, LUT_DEVICES
from harness.cli import main
from spaces import fbnet, load_space


def by_variant(rows):
    return {(r["device"], r["variant"]): r for r in rows}


def test_fbnet_lookup_devices_are_exactly_additive_and_others_are_not():
    rows = by_variant(additivity_rows(["fpga", "raspi4", "gold_6226", "titanxp_64", "samsung_s7"], None,
                                      space="fbnet"))
    for d in ("fpga", "raspi4"):
        s = rows[(d, "single")]
        assert s["rows"] == 5000 and s["ceiling_r2"] > 1 - 1e-12 and s["ceiling_kendall_tau"] > 0.9999
        assert s["kendall_tau"] > 0.9999 and s["mape"] < 1e-8      # Algorithm 1 through the lookup table: exact
    assert np.isnan(rows[("gold_6226", "single")]["kendall_tau"])  # sample-only device: no sweep possible
    r2 = {d: round(rows[(d, "single")]["ceiling_r2"], 3) for d in ("gold_6226", "titanxp_64", "samsung_s7")}
    assert r2 == {"gold_6226": 0.949, "titanxp_64": 0.998, "samsung_s7": 0.284}   # README: 0.91-0.998, 0.28-0.66
    for (d, v), r in rows.items():   # the least-squares ceiling has the smallest MSE on its rows
        if v == "full":
            assert r["ceiling_mse"] <= r["mse"] + 1e-12 and r["kendall_tau"] < r["ceiling_kendall_tau"] + 1e-9


@pytest.mark.parametrize("space_name, device", [("fbnet", "fpga"), ("fbnet", "pixel2"), ("ofa_mbv3", "v100_1")])
def test_mathnas_code_and_numpy_reference_agree(space_name, device):
    sp = load_space(space_name)
    dataset = next(iter(sp.tasks))
    profile = get_profile(device)
    y = profile.values(sp, dataset, None)["latency"]
    exact = (lambda c: profile.exact_values(sp, dataset, c, None)["latency"]) \
        if profile.answers_any_code(space_name) else None
    a = additivity.report(y, sp, None, implementation="mathnas", exact=exact)
    b = additivity.report(y, sp, None, implementation="numpy", exact=exact)
    for ra, rb in zip(a, b):
        assert ra["variant"] == rb["variant"]
        for key in ("kendall_tau", "mape", "mse", "ceiling_r2"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-9, abs=1e-12, nan_ok=True), (ra["variant"], key)


def test_ofa_reports_full_and_ceiling_per_gpu():
    rows = by_variant(additivity_rows(["v100_64", "2080ti_1"], "imagenet", space="ofa_mbv3"))
    assert rows[("v100_64", "full")]["rows"] == 5000 and np.isnan(rows[("v100_64", "single")]["kendall_tau"])
    assert rows[("v100_64", "full")]["ceiling_r2"] > rows[("2080ti_1", "full")]["ceiling_r2"]  # batch 64 vs 1
    with pytest.raises(HarnessError, match="unknown dataset of space ofa_mbv3 'cifar10'") as e:
        additivity_rows(["v100_64"], "cifar10", space="ofa_mbv3")
    assert "\n" not in str(e.value)


def test_cli(capsys):
    assert main(["devices", "additivity", "--space", "fbnet", "--device", "eyeriss", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["variant"] for r in rows} == {"single", "full"} and all(r["space"] == "fbnet" for r in rows)
    assert rows[0]["ceiling_r2"] == pytest.approx(1.0, abs=1e-12) and rows[0]["dataset"] == "cifar100"
    assert main(["devices", "additivity", "--space", "ofa_mbv3", "--device", "titan_xp_1"]) == 0
    out = capsys.readouterr().out
    assert "ofa_mbv3/imagenet" in out and "titan_xp_1" in out and "n/a" in out


@pytest.mark.slow
def test_fbnet_readme_r2_ranges_on_all_27_devices():
    rows = [r for r in additivity_rows(None, None, space="fbnet", implementation="numpy") if r["variant"] == "full"]
    assert {r["device"] for r in rows} == set(fbnet.DEVICES)
    r2 = {r["device"]: r["ceiling_r2"] for r in rows}
    assert all(r2[d] > 1 - 1e-12 for d in LUT_DEVICES)
    phones = [round(r2[d], 3) for d in COARSE_MS]
    others = [round(v, 3) for d, v in r2.items() if d not in COARSE_MS and d not in LUT_DEVICES]
    assert (min(phones), max(phones)) == (0.284, 0.657)     # README: 0.28-0.66
    assert (min(others), max(others)) == (0.911, 0.998)     # README: 0.91-0.998
