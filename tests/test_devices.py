"""Device profiles against the shared files, the CLI listing, user files, additivity (devices/*)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses import additivity
from analyses.device_commands import additivity_rows
from devices import get_profile, profiles
from devices.nb201_tables import COARSE_MS
from harness.cli import main
from spaces.nb201_data import HW360_PROFILES, LATENCY_DEVICES, load_tables, resolve_data_dir
from evaluation.groundtruth import ground_truth
from spaces.nb201_costs import block_costs

DATA = resolve_data_dir()
RNG_ROWS = np.random.default_rng(6).choice(15625, size=200, replace=False)


@pytest.fixture(scope="module")
def tables():
    return load_tables()


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2
    assert err.startswith("mathnas-bench: error:") and err.strip().count("\n") == 0, err
    for n in needles:
        assert n in err, (n, err)


# --- table profiles ---------------------------------------------------------------------------------------
def test_latency_table_profiles_return_the_csv_values(tables):
    frame = pd.read_csv(DATA / "latency_ms.csv").set_index("arch_index")
    for col in LATENCY_DEVICES:
        got = get_profile(col).values(tables.space, "cifar10", None)
        np.testing.assert_array_equal(got["latency"][RNG_ROWS], frame.loc[RNG_ROWS, col].to_numpy())
        assert set(got) == {"latency"}


def test_hw360_profiles_return_the_parquet_values(tables):
    frame = pd.read_parquet(DATA / "hw360.parquet")
    for device, fw in HW360_PROFILES:
        profile = get_profile(f"{device}-{fw}")
        for dataset, task in (("cifar10", "cifar100"), ("cifar100", "cifar100"), ("ninapro", "ninapro")):
            part = frame[(frame.device == device) & (frame.framework == fw) & (frame.task == task)]
            part = part.set_index("arch_idx").loc[RNG_ROWS]
            got = profile.values(tables.space, dataset, None)
            np.testing.assert_array_equal(got["latency"][RNG_ROWS], part["lat_ms_median"].to_numpy())
            if device == "pi5":
                np.testing.assert_array_equal(got["energy"][RNG_ROWS], part["energy_mj"].to_numpy())
            else:
                assert "energy" not in got


def test_table_profiles_describe_themselves(tables):
    table = {p.name: p for p in profiles() if p.kind == "table"}
    assert set(LATENCY_DEVICES) | {f"{d}-{fw}" for d, fw in HW360_PROFILES} <= set(table)
    for name, p in table.items():
        assert p.units == {m: {"latency": "ms", "energy": "mJ"}[m] for m in p.metrics}
        assert p.source
        # whole milliseconds exactly for the four coarse phones, and those values really are integers
        assert (p.resolution_ms == 1.0) == (name in COARSE_MS)
    for name in COARSE_MS:
        v = get_profile(name).values(tables.space, "cifar10", None)["latency"]
        assert np.all(v == np.round(v))
    assert get_profile("pi5-onnx").metrics == ("latency", "energy")
    with pytest.raises(Exception, match="imagenet16_120"):
        get_profile("pi5-onnx").values(tables.space, "imagenet16_120", None)


def test_cli_lists_table_analytic_and_local_profiles(capsys):
    rc, out, _ = run_cli(capsys, "devices", "--json")
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert sum(r["kind"] == "table" for r in rows.values()) >= 27 + 4
    assert rows["flops"]["kind"] == rows["params"]["kind"] == "analytic"
    assert rows["flops"]["units"] == {"latency": "MMACs"} and rows["params"]["units"] == {"latency": "Mparams"}
    assert rows["local-cpu"]["kind"] == "live" and rows["local-cpu"]["live"] and rows["local-cpu"]["units"] == {"latency": "ms"}
    rc, out, _ = run_cli(capsys, "devices")
    assert "MMACs (in the latency slot)" in out and "local-cpu" in out


def test_analytic_profiles_are_the_exact_counts_in_millions():
    for dataset in ("cifar10", "imagenet16_120"):
        gt = ground_truth(dataset, "flops")
        np.testing.assert_allclose(gt.latency, gt.flops / 1e6, rtol=1e-12)
        gt = ground_truth(dataset, "params")
        np.testing.assert_allclose(gt.latency, gt.params / 1e6, rtol=1e-12)


def test_bad_device_name_is_one_line(capsys):
    rc, _, err = run_cli(capsys, "optimum", "--dataset", "cifar10", "--device", "no-such-device")
    assert_one_line_error(rc, err, "unknown device 'no-such-device'", "fpga")
    rc, _, err = run_cli(capsys, "devices", "measure", "fpga")
    assert_one_line_error(rc, err, "'fpga' is a table profile")
    rc, _, err = run_cli(capsys, "devices", "additivity", "--device", "nope")
    assert_one_line_error(rc, err, "unknown device 'nope'")


# --- user files -------------------------------------------------------------------------------------------
def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.mark.parametrize("text, needle", [
    ("arch_index,lat\n1,2.0\n", "missing column 'latency_ms'"),
    ("idx,latency_ms\n1,2.0\n", "needs an 'arch_index' or 'arch' column"),
    ("arch_index,latency_ms\n", "no rows"),
    ("arch,latency_ms\n|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|,2.0\n", "unknown op 'conv'"),
    ("arch,latency_ms\nnot-an-arch,2.0\n", "row 2"),
    ("arch_index,latency_ms\n5,2.0\n7,1.0\n5,3.0\n", "arch_index 5 is listed twice (row 4)"),
    (f"arch,latency_ms\n{GOOD_ARCH},2.0\n{GOOD_ARCH},2.0\n", "is listed twice"),
    ("arch_index,latency_ms\n1,fast\n", "'fast'"),
    ("arch_index,latency_ms\n1,\n", "row 2"),
    ("arch_index,latency_ms\n1,nan\n", "'nan'"),
    ("arch_index,latency_ms\n1,-3\n", "'-3'"),
    ("arch_index,latency_ms,energy_mj\n1,3,inf\n", "energy_mj"),
    ("arch_index,latency_ms\n15625,3\n", "'15625'"),
    ("arch_index,latency_ms\n2.5,3\n", "'2.5'"),
    ("arch_index,latency_ms\nseven,3\n", "'seven'"),
])
def test_malformed_device_file_is_one_line(tmp_path, capsys, text, needle):
    path = write(tmp_path, "mydev.csv", text)
    rc, _, err = run_cli(capsys, "devices", "--device-file", path)
    assert_one_line_error(rc, err, "mydev.csv", needle)


def test_device_file_name_clash_and_missing_file(tmp_path, capsys):
    clash = write(tmp_path, "fpga.csv", "arch_index,latency_ms\n1,2\n")
    rc, _, err = run_cli(capsys, "devices", "--device-file", clash)
    assert_one_line_error(rc, err, "fpga.csv", "built-in table profile")
    rc, _, err = run_cli(capsys, "devices", "--device-file", str(tmp_path / "absent.csv"))
    assert_one_line_error(rc, err, "absent.csv", "no such file")


def test_device_file_arch_and_index_must_agree(tmp_path, capsys, tables):
    wrong = tables.space.decode(tables.space.enumerate()[8])
    path = write(tmp_path, "mismatch.csv", f"arch_index,arch,latency_ms\n7,{wrong},2.0\n")
    rc, _, err = run_cli(capsys, "optimum", "--dataset", "cifar10", "--device", "mismatch", "--device-file", path,
                         "--max-latency", "5")
    assert_one_line_error(rc, err, "mismatch.csv", "arch_index 7", "index 8")


def test_device_file_profile_lists_only_its_rows(tmp_path, capsys, tables):
    rows = RNG_ROWS[:40]
    lat = np.linspace(1.0, 5.0, rows.size)
    half = rows.size // 2
    text = "arch_index,latency_ms,energy_mj\n" + "".join(f"{r},{v},{2 * v}\n" for r, v in zip(rows[:half], lat[:half]))
    path = write(tmp_path, "userdev.csv", text)
    text2 = "arch,latency_ms\n" + "".join(f"{tables.space.decode(tables.space.enumerate()[r])},{v}\n"
                                          for r, v in zip(rows[half:], lat[half:]))
    path2 = write(tmp_path, "userdev2.csv", text2)

    rc, out, _ = run_cli(capsys, "optimum", "--dataset", "cifar10", "--device", "userdev", "--device-file", path,
                         "--max-latency", "3", "--json")
    assert rc == 0
    best = json.loads(out)
    ok = rows[:half][lat[:half] <= 3]
    acc = tables.accuracy["cifar10"]
    assert best["arch_index"] == ok[np.argmax(acc[ok])] and best["feasible_count"] == ok.size
    assert best["energy"] == pytest.approx(2 * best["latency"])

    from devices.user_file import profile_from_file

    p = profile_from_file(path2)
    assert (p.name, p.kind, p.metrics) == ("userdev2", "file", ("latency",))
    v = p.values(tables.space, "cifar100", None)["latency"]
    np.testing.assert_allclose(v[rows[half:]], lat[half:])
    assert np.isnan(v).sum() == 15625 - (rows.size - half)


# --- additivity -------------------------------------------------------------------------------------------
def test_additivity_ceiling_bounds_the_variants():
    rows = additivity_rows(["fpga", "pixel2", "pi5-onnx"], "cifar10")
    assert {(r["device"], r["metric"]) for r in rows} == {("fpga", "latency"), ("pixel2", "latency"),
                                                         ("pi5-onnx", "latency"), ("pi5-onnx", "energy")}
    for r in rows:
        assert r["rows"] == 15625
        # least squares is the best additive model in MSE; single and full are additive models too
        assert r["ceiling_mse"] <= r["mse"] * (1 + 1e-9) + 1e-15
        if r["variant"] == "full":  # complete balanced table: full = least squares + a constant
            assert r["kendall_tau"] == pytest.approx(r["ceiling_kendall_tau"], abs=1e-9)
        if r["device"] == "fpga":  # fpga is an additive analytic model: everything near exact
            assert r["ceiling_kendall_tau"] >= r["kendall_tau"] - 1e-12
            assert r["kendall_tau"] > 0.999 and r["mape"] < 1e-6
    single = {(r["device"], r["metric"]): r for r in rows if r["variant"] == "single"}
    assert single[("pixel2", "latency")]["ceiling_kendall_tau"] > single[("pixel2", "latency")]["kendall_tau"]


def test_reference_deltas_are_the_papers_definitions(tables):
    """The vectorised formulas equal brute force: full = mean switch difference over all 5^5 contexts,
    single = the switch difference around N_avg."""
    y = get_profile("pixel3").values(tables.space, "cifar10", None)["latency"]
    costs = block_costs("cifar10")
    codes = tables.space.enumerate()
    ctx = additivity.context(tables.space, costs.block_flops)
    assert list(ctx.base) == [3] * 6  # nor_conv_3x3 has the largest FLOPs on every edge
    assert list(ctx.avg) == [2] * 6  # nor_conv_1x1 is closest to the mean choice FLOPs (2/10 of a 3x3 + 1x1)
    d = additivity.deltas_full(y, np.arange(15625), ctx)
    for i in (0, 4):
        base_rows = np.flatnonzero(codes[:, i] == ctx.base[i])
        for j in range(5):
            switched = codes[base_rows].copy()
            switched[:, i] = j
            brute = np.mean(y[tables.space.index(switched)] - y[base_rows])
            assert d[i, j] == pytest.approx(brute, rel=1e-9, abs=1e-12)
    s = additivity.deltas_single(y, tables.space, ctx)
    c, b = ctx.avg.copy(), ctx.avg.copy()
    c[2], b[2] = 1, 3
    assert s[2, 1] == pytest.approx(y[tables.space.index(c)[0]] - y[tables.space.index(b)[0]])
    assert additivity.profiling_rows(tables.space, ctx).size == 1 + 6 * 4 + 1  # N_avg, its 24 switches, N_base


def test_mathnas_block_sums_match_the_reference(tables):
    """The report uses mathnas.variants' own single/full; they must equal the numpy reference."""
    pytest.importorskip("mathnas.variants")
    costs = block_costs("cifar10")
    y = get_profile("pi5-onnx").values(tables.space, "cifar10", None)["energy"].copy()
    for truth in (y, np.where(np.isin(np.arange(15625), RNG_ROWS), y, np.nan)):
        if np.isnan(truth).any():  # a measured sample also has the profiling networks measured
            ctx = additivity.context(tables.space, costs.block_flops)
            prof = additivity.profiling_rows(tables.space, ctx)
            truth[prof] = y[prof]
        a = additivity.report(truth, tables.space, costs, "energy", implementation="mathnas")
        b = additivity.report(truth, tables.space, costs, "energy", implementation="numpy")
        for ra, rb in zip(a, b):
            assert (ra["implementation"], rb["implementation"]) == ("mathnas.variants", "analyses.additivity")
            for key in ("kendall_tau", "mape", "mse", "rows"):
                assert ra[key] == pytest.approx(rb[key], rel=1e-9), (ra["variant"], key)


def test_additivity_on_a_measured_sample_skips_nan_and_profiling_rows(tables):
    y = get_profile("fpga").values(tables.space, "cifar10", None)["latency"].copy()
    costs = block_costs("cifar10")
    ctx = additivity.context(tables.space, costs.block_flops)
    keep = np.zeros(15625, dtype=bool)
    keep[RNG_ROWS] = True
    keep[additivity.profiling_rows(tables.space, ctx)] = True
    y[~keep] = np.nan
    out = additivity.report(y, tables.space, costs)
    expected = np.setdiff1d(RNG_ROWS, additivity.profiling_rows(tables.space, ctx)).size
    tau = {r["variant"]: r["kendall_tau"] for r in out}
    for r in out:
        assert r["rows"] == expected and r["ceiling_kendall_tau"] > 0.999  # additive truth: exact fit
        assert r["ceiling_mse"] <= r["mse"] * (1 + 1e-9) + 1e-15
    # single needs only its profiling networks: exact; full's marginal means are noisy on an unbalanced sample
    assert tau["single"] > 0.999 and 0.5 < tau["full"] < tau["single"]


def test_additivity_cli_json(capsys):
    rc, out, _ = run_cli(capsys, "devices", "additivity", "--device", "eyeriss", "--json")
    assert rc == 0
    rows = json.loads(out)
    assert [r["variant"] for r in rows] == ["single", "full"]
    assert {"device", "metric", "variant", "kendall_tau", "mape", "ceiling_kendall_tau"} <= set(rows[0])
