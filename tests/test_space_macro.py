"""NAS-Bench-Macro (spaces/nasbench_macro.py, spaces/macro_model.py) against ../shared/nasbench_macro: the
README's published facts, the canonical mapping, exact FLOPs/params, the torch model's counts, Eq. 9 skip
groups in the ILP, exact optima checked with pandas, every method through the CLI, live measurement."""
from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_devices import assert_one_line_error, run_cli

from core.codes import depth_valid, product_codes, skip_structure, space_skip_structure
from core.errors import HarnessError
from core.metrics import seed_kendall_tau
from core.oracle import Oracle
from core.sources import Sources
from devices import local
from evaluation.groundtruth import ground_truth
from mathnas.blocks import SpaceSpec
from mathnas.method import MathNAS
from solvers import ChoiceProblem, solve
from spaces import load_space
from spaces import nasbench_macro as macro

DATA = Sources().folder("nasbench_macro")
CSV = DATA / macro.FILE


@pytest.fixture(scope="module")
def space():
    return load_space("nasbench_macro")


@pytest.fixture(scope="module")
def frame():
    return pd.read_csv(CSV, dtype={"arch": str, "canonical_arch": str})


def get_real_arch(arch, stages=(2, 3, 3)):
    """convert.py's (the repo's) definition, transcribed independently of spaces.nasbench_macro.canonical."""
    arch, result = list(arch), ""
    for stage in stages:
        ids = 0
        for idx in range(stage):
            op = arch.pop(0)
            if idx == 0:
                result += op
            elif op != "0":
                result += op
            else:
                ids += 1
        result += "0" * ids
    return result


def dedup(frame) -> pd.DataFrame:
    """One row per trained network (pandas only), ordered like the space's rows: by int(canonical_arch, 3)."""
    d = frame.drop_duplicates("canonical_arch").copy()
    d["rank"] = [int(a, 3) for a in d["canonical_arch"]]
    return d.sort_values("rank").reset_index(drop=True)


# --- the README's facts ---------------------------------------------------------------------------------------
def test_rows_and_published_ranges(space, frame):
    assert len(frame) == 6561 == macro.NUM_CODES and space.size == 3969 == frame["canonical_arch"].nunique()
    acc = space.accuracy("cifar10")
    assert acc.min() == pytest.approx(45.363, abs=5e-4) and acc.max() == pytest.approx(93.127, abs=5e-4)
    assert frame["test_acc_std_pct"].min() == 0 and frame["test_acc_std_pct"].max() == pytest.approx(0.83, abs=5e-3)
    costs = space.block_costs("cifar10")
    flops, params = costs.flops(space.enumerate()), costs.params(space.enumerate())
    assert (params.min(), params.max()) == (387_882, 2_932_586)
    assert (flops.min(), flops.max()) == (7_713_280, 105_660_928)
    depth = (space.enumerate() != 0).sum(axis=1)
    assert (depth.min(), depth.max()) == (0, 8)


def test_best_arch_and_spot_checks(space):
    acc, costs = space.accuracy("cifar10"), space.block_costs("cifar10")
    best = int(np.argmax(acc))
    assert space.index(space.encode("22212202"))[0] == best     # the README's best arch string ...
    assert space.decode(space.enumerate()[best]) == "22212220"   # ... is this trained network
    assert acc[best] == pytest.approx(93.126663, abs=1e-6)
    for arch, mean, params, flops in (("02012100", 89.196665, 890_666, 47_327_744),
                                      ("22222222", 92.953331, 2_932_586, 105_660_928),
                                      ("10220212", 91.853330, 2_211_722, 64_287_232)):
        code = space.encode(arch)
        row = space.index(code)[0]
        assert acc[row] == pytest.approx(mean, abs=1e-5)
        assert costs.params(code)[0] == params and costs.flops(code)[0] == flops


def test_seed_accuracies_and_the_seed_to_seed_noise_ceiling(space, frame):
    seeds = space.seed_accuracies("cifar10")
    assert seeds.shape == (3, 3969) and space.tasks["cifar10"].seeds == 3
    np.testing.assert_allclose(seeds.mean(axis=0), space.accuracy("cifar10"))
    d = dedup(frame)
    for s in range(3):
        np.testing.assert_array_equal(seeds[s], d[f"test_acc_seed{s}_pct"].to_numpy())
    ceiling = seed_kendall_tau(seeds)
    assert ceiling["pairs"]["0-1"] == pytest.approx(stats.kendalltau(d["test_acc_seed0_pct"],
                                                                     d["test_acc_seed1_pct"]).statistic)
    assert 0.8 < ceiling["mean"] < 0.95     # 0.879 on this table: the best any ranking of one seed can do
    with pytest.raises(HarnessError, match="no 'valid' split"):
        space.seed_accuracies("cifar10", "valid")


# --- codes, the canonical mapping and Eq. 9 -------------------------------------------------------------------
def test_index_of_every_code_is_the_row_of_its_canonical_arch(space, frame):
    codes = np.stack([space.encode(a) for a in frame["arch"]])
    row_of = {space.decode(c): r for r, c in enumerate(space.enumerate())}
    expected = np.array([row_of[a] for a in frame["canonical_arch"]])
    np.testing.assert_array_equal(space.index(codes), expected)
    assert all(get_real_arch(a) == c for a, c in zip(frame["arch"], frame["canonical_arch"]))
    np.testing.assert_array_equal(macro.canonical(codes), np.stack([space.encode(c) for c in frame["canonical_arch"]]))
    # accuracy of any code = the JSON's number for it
    np.testing.assert_allclose(space.accuracy("cifar10")[space.index(codes)], frame["test_acc_mean_pct"], atol=1e-5)


def test_eq9_skip_groups_admit_exactly_the_canonical_codes(space):
    groups, choice = space_skip_structure(space)
    assert groups == ((1,), (3, 4), (6, 7)) and choice == (None, 0, None, 0, 0, None, 0, 0)
    codes = product_codes(space.num_choices)
    valid = depth_valid(codes, space.num_choices, None, groups, choice)
    assert valid.sum() == 3969
    np.testing.assert_array_equal(valid, np.all(macro.canonical(codes) == codes, axis=1))
    # and the ILP sees the same: maximise a random linear score over the product space
    rng = np.random.default_rng(0)
    for _ in range(5):
        num = [rng.normal(size=3) for _ in range(8)]
        p = ChoiceProblem(num=num, skip_groups=groups, skip_choice=choice, name="macro")
        ref = codes[valid][np.argmax(p.objective(codes[valid]))]
        for backend in ("enumerate", "highs", "bnb"):
            np.testing.assert_array_equal(solve(p, backend).code, ref)


def test_skip_structure_is_validated_and_skip_from_is_a_shorthand():
    assert skip_structure((3, 3, 4), skip_from=1) == (((1, 2),), (None, 2, 3))
    assert skip_structure((3, 3), skip_groups=[(0, 1)], skip_choice=(0, 0)) == (((0, 1),), (0, 0))
    for kwargs, needle in ((dict(skip_groups=[(0, 5)], skip_choice=(0, 0)), "outside"),
                           (dict(skip_groups=[(0,), (0,)], skip_choice=(0, 0)), "two groups"),
                           (dict(skip_groups=[(0,)], skip_choice=(3, None)), "skip choice in 0..2"),
                           (dict(skip_groups=[(0,)], skip_choice=(0, 1)), "no skip group"),
                           (dict(skip_choice=(0, None)), "without skip_groups"),
                           (dict(skip_from=0, skip_groups=[(0, 1)], skip_choice=(0, 0)), "disagrees")):
        with pytest.raises(HarnessError, match=needle):
            skip_structure((3, 3), **kwargs)
    with pytest.raises(HarnessError, match="real choice besides skip"):
        skip_structure((3, 1), skip_groups=[(1,)], skip_choice=(None, 0))


@pytest.mark.parametrize("bad, needle", [("2221220", "expected 8 digits"), ("2221220x", "layer 7 is 'x'"),
                                         ("22212203", "layer 7 is '3'"), ("", "got 0 characters")])
def test_bad_arch_strings_name_the_bad_part(space, bad, needle):
    with pytest.raises(HarnessError, match=needle) as e:
        space.encode(bad)
    assert "\n" not in str(e.value)


def test_graph_is_a_chain_and_prune_contracts_skipped_identities(space):
    codes = product_codes(space.num_choices)
    adj, types = space.graph(codes, prune=False)
    assert adj.shape == (6561, 10, 10) and types.shape == (6561, 10) and adj.dtype == bool
    chain = np.zeros((10, 10), dtype=bool)
    chain[np.arange(9), np.arange(1, 10)] = True
    assert np.all(adj == chain) and np.all(types[:, 1:-1] == codes) and np.all(types[:, [0, -1]] == [3, 4])
    adj, types = space.graph(codes, prune=True)
    present = types >= 0
    skipped = np.zeros_like(present)
    canon = macro.canonical(codes)
    skipped[:, 1:-1] = (canon == 0) & (np.array(macro.SKIP_CHOICE) == 0)
    np.testing.assert_array_equal(present, ~skipped)     # projections (layers 0, 2, 5) always stay
    np.testing.assert_array_equal(types[:, 1:-1][present[:, 1:-1]], canon[present[:, 1:-1]])
    assert not np.any(adj[:, np.arange(10), np.arange(10)]) and not np.any(adj[~present])
    assert not np.any(adj.transpose(0, 2, 1)[~present])
    # a chain through the present nodes: each feeds exactly the next present one
    out_deg, in_deg = adj.sum(axis=2), adj.sum(axis=1)
    assert np.all(out_deg[:, :-1][present[:, :-1]] == 1) and np.all(in_deg[:, 1:][present[:, 1:]] == 1)
    nxt = np.argmax(adj, axis=2)
    for k in np.random.default_rng(3).choice(6561, 50, replace=False):
        on = np.flatnonzero(present[k])
        np.testing.assert_array_equal(nxt[k, on[:-1]], on[1:])
    # codes of one network share its graph, different networks have different graphs
    np.testing.assert_array_equal(types, space.graph(canon, prune=True)[1])
    rows = space.index(codes)
    key = np.concatenate([types, adj.reshape(6561, -1)], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    assert first.size == 3969
    np.testing.assert_array_equal(rows[first][inverse.reshape(-1)], rows)


# --- exact costs and the torch model --------------------------------------------------------------------------
def test_block_costs_reproduce_every_row_exactly(space, frame):
    codes = np.stack([space.encode(a) for a in frame["arch"]])
    costs = space.block_costs("cifar10")
    np.testing.assert_array_equal(costs.flops(codes), frame["flops_macs"].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(costs.params(codes), frame["params_count"].to_numpy(dtype=np.float64))
    # the per-layer tables by least squares on the one-hot codes agree (the README's R^2 = 1.0)
    onehot = np.concatenate([codes == j for j in range(3)], axis=1)[:, [j * 8 + i for i in range(8) for j in range(3)]]
    x = np.column_stack([np.ones(len(codes)), onehot.astype(float)])
    fit = np.linalg.lstsq(x, frame["flops_macs"].to_numpy(dtype=float), rcond=None)[0]
    np.testing.assert_allclose(x @ fit, frame["flops_macs"], rtol=0, atol=1e-3)


def _torch_counts(codes):
    """(MACs, params) of the real models: a CPU forward pass with hooks (3x faster here than on "meta")."""
    from spaces.macro_model import build_model
    from spaces.nb201_model import count_macs_params

    return np.array([count_macs_params(build_model(c), macro.INPUT_SHAPE) for c in codes], dtype=np.float64)


def _check_torch(frame, rows):
    codes = np.stack([macro.parse_arch(a) for a in frame["arch"].iloc[rows]])
    counts = _torch_counts(codes)
    np.testing.assert_array_equal(counts[:, 0], frame["flops_macs"].iloc[rows].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(counts[:, 1], frame["params_count"].iloc[rows].to_numpy(dtype=np.float64))


def test_torch_model_counts_equal_the_benchmark_on_a_sample(frame):
    rows = np.random.default_rng(1).choice(len(frame), 24, replace=False).tolist()
    rows += [int(frame.index[frame["arch"] == a][0]) for a in ("00000000", "22222222", "01201201")]
    _check_torch(frame, rows)


@pytest.mark.slow
def test_torch_model_counts_equal_the_benchmark_on_every_network(frame):
    """All 3,969 distinct networks (as their canonical rows) plus 300 seeded non-canonical codes (a few minutes)."""
    canonical_rows = np.flatnonzero((frame["arch"] == frame["canonical_arch"]).to_numpy())
    others = np.setdiff1d(np.arange(len(frame)), canonical_rows)
    rows = np.concatenate([canonical_rows, np.random.default_rng(2).choice(others, 300, replace=False)])
    assert canonical_rows.size == 3969
    _check_torch(frame, rows.tolist())


def test_torch_model_runs_and_its_residuals_follow_the_shapes():
    import torch

    from spaces.macro_model import InvertedResidual, build_model

    torch.manual_seed(0)
    model = build_model("12112012")
    assert model(torch.zeros(2, *macro.INPUT_SHAPE)).shape == (2, 10)
    blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
    assert [b.residual for b in blocks] == [False, True, False, True, True, True, True]   # stride 2: no sum
    with pytest.raises(HarnessError, match="layer 1"):
        build_model("1x012012")


# --- exact optima against pandas --------------------------------------------------------------------------
@pytest.mark.parametrize("argv, keep", [
    (["--max-params", "1.0"], lambda d: d["params_count"] <= 1_000_000),
    (["--max-flops", "30e6"], lambda d: d["flops_macs"] <= 30e6),
    (["--max-params", "1.5", "--max-flops", "50000000"],
     lambda d: (d["params_count"] <= 1_500_000) & (d["flops_macs"] <= 50e6)),
    (["--device", "flops", "--max-latency", "40"], lambda d: d["flops_macs"] / 1e6 <= 40),
])
def test_optimum_under_limits_matches_pandas(capsys, frame, argv, keep):
    argv = argv if "--device" in argv else [*argv, "--device", "none"]
    rc, out, _ = run_cli(capsys, "optimum", "--space", "nasbench_macro", "--dataset", "cifar10", *argv, "--json")
    assert rc == 0
    got = json.loads(out)
    d = dedup(frame)
    d = d[keep(d)]
    best = d.loc[d["test_acc_mean_pct"].idxmax()]   # first maximum = lowest row, as the harness breaks ties
    assert got["arch"] == best["canonical_arch"] and got["feasible_count"] == len(d)
    assert got["accuracy"] == pytest.approx(best["test_acc_mean_pct"], abs=1e-5)
    assert got["optimum_metric"] == got["accuracy"] and got["direction"] == "higher"
    assert got["params"] == best["params_count"] and got["flops"] == best["flops_macs"]


# --- methods through the CLI -------------------------------------------------------------------------------------
PREDICT = [("mathnas", ["--variant", "single"]), ("mathnas", ["--variant", "full"]), ("lana", [])]


@pytest.mark.parametrize("method, extra", PREDICT)
def test_predict_runs_and_ranks(capsys, method, extra):
    rc, out, _ = run_cli(capsys, "predict", "--space", "nasbench_macro", "--dataset", "cifar10", "--method", method,
                         *extra, "--json")
    assert rc == 0
    rep = json.loads(out)
    assert rep["accuracy"]["n"] == 3969 and rep["latency"] is None
    assert rep["accuracy"]["kendall_tau"] > 0.6    # single 0.771, full 0.783, lana 0.737 on this table
    assert rep["queries"] == (3969 if "full" in extra else 16 if method == "mathnas" else 15)


SEARCH = [("mathnas", ["--variant", "single"], None), ("mathnas", ["--variant", "full"], None),
          ("lana", [], None), ("random", [], 40), ("evolution", ["--param", "population=10"], 40)]


@pytest.mark.parametrize("method, extra, budget", SEARCH)
def test_search_runs_and_returns_a_trained_network(capsys, method, extra, budget):
    more = [] if budget is None else ["--budget", str(budget)]
    rc, out, _ = run_cli(capsys, "search", "--space", "nasbench_macro", "--dataset", "cifar10", "--method", method,
                         "--max-params", "1.0", *extra, *more, "--json")
    assert rc == 0
    rep = json.loads(out)
    assert rep["feasible"] is True and rep["regret"] >= 0 and rep["true_metric"] == rep["true_accuracy"]
    code = macro.parse_arch(rep["arch"])
    assert np.all(macro.canonical(code) == code)       # the row's own (canonical) code
    assert budget is None or rep["queries"] <= budget


def test_mathnas_ilp_picks_only_canonical_codes(space):
    gt = ground_truth("cifar10", "none", space="nasbench_macro")
    m = MathNAS(variant="single").fit(Oracle(gt))
    problem = m.problem({"params": 1.2e6})
    assert problem.skip_groups == ((1,), (3, 4), (6, 7))
    codes = product_codes(space.num_choices)
    feasible = codes[problem.feasible(codes)]
    assert np.all(macro.canonical(feasible) == feasible)
    sol = solve(problem, "enumerate")
    assert np.all(macro.canonical(sol.code) == sol.code)
    for backend in ("highs", "cpsat", "bnb"):
        assert solve(problem, backend).objective == pytest.approx(sol.objective, rel=1e-9)
    spec = SpaceSpec.of(space, "cifar10")
    assert spec.skip_groups == problem.skip_groups and spec.skip_choice == problem.skip_choice


def test_evolution_children_are_canonical_networks_never_the_parent(space):
    from baselines.evolution import RegularizedEvolution
    from core.protocols import Problem

    gt = ground_truth("cifar10", "none", space="nasbench_macro")
    oracle = Oracle(gt, budget=60)
    res = RegularizedEvolution(seed=4, population=8, sample_size=3).search(
        Problem("cifar10", "none", {"params": 1.5e6}, space="nasbench_macro"), oracle)
    assert res.code is not None and oracle.queries <= 60
    assert len(set(oracle.evaluated)) == len(oracle.evaluated)


# --- bad data files are one line ----------------------------------------------------------------------------------
def corrupt_copy(tmp_path, name: str, file: str, edit) -> Sources:
    """A data root holding a copy of benchmark `name` whose table's lines went through `edit`."""
    folder = tmp_path / name
    folder.mkdir()
    text = (Sources().folder(name) / file).read_text().splitlines()
    (folder / file).write_text("\n".join(edit(text)) + "\n")
    shutil.copy(Sources().folder(name) / "README.md", folder / "README.md")
    return Sources(root=str(tmp_path))


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t[:-1], "expected 6561 rows"),
    (lambda t: [t[0].replace("flops_macs", "flops")] + t[1:], "missing column 'flops_macs'"),
    (lambda t: t[:2] + [t[1]] + t[3:], "duplicated arch 00000000"),
    (lambda t: t[:2] + [t[2].replace(",00000010,", ",00000001,", 1)] + t[3:], "canonical_arch"),
    (lambda t: t[:1] + [t[1].replace(",7713280", ",7713281")] + t[2:], "flops_macs 7713281 differs"),
    (lambda t: t[:1] + [t[1].replace(",45.320000,", ",,")] + t[2:], "test_acc_seed0_pct"),
    (lambda t: t[:1] + [t[1].replace("00000000,00000000", "0000000x,00000000")] + t[2:], "layer 7 is 'x'"),
    (lambda t: ["garbage"], "missing column"),
])
def test_corrupt_files_are_one_line_errors(tmp_path, edit, needle):
    sources = corrupt_copy(tmp_path, "nasbench_macro", macro.FILE, edit)
    with pytest.raises(HarnessError, match=needle) as e:
        macro.load_space(sources)
    assert "\n" not in str(e.value) and macro.FILE in str(e.value)


def test_missing_folder_and_bad_cli_arch_are_one_line(tmp_path, capsys):
    with pytest.raises(HarnessError, match="does not exist"):
        macro.load_space(Sources(root=str(tmp_path)))
    rc, _, err = run_cli(capsys, "arch", "22212x02", "--space", "nasbench_macro")
    assert_one_line_error(rc, err, "layer 5 is 'x'")
    rc, out, _ = run_cli(capsys, "arch", "22212202", "--space", "nasbench_macro", "--json")
    assert rc == 0 and json.loads(out)["arch"] == "22212220"   # the network the benchmark trained


# --- live measurement on this machine -----------------------------------------------------------------------------
def test_local_cpu_measures_macro_networks_in_their_own_cache(tmp_path, monkeypatch, capsys, space):
    monkeypatch.setenv(local.ENV_CACHE, str(tmp_path))
    ground_truth.cache_clear()
    try:
        assert local.Config.here("cifar10").file(tmp_path).name.startswith("cifar10-b1-t1-")   # nb201: unchanged
        assert local.Config.here("cifar10", space="nasbench_macro").file(tmp_path).name.startswith(
            "nasbench_macro-cifar10-b1-t1-")
        rc, out, _ = run_cli(capsys, "devices", "measure", "local-cpu", "--space", "nasbench_macro", "--sample", "2",
                             "--repeats", "3", "--warmup", "0", "--quiet", "--json")
        rep = json.loads(out)
        assert rc == 0 and rep["space"] == "nasbench_macro" and rep["new"] == 2
        assert "nasbench_macro-cifar10" in rep["cache_file"]
        gt = ground_truth("cifar10", "local-cpu", space="nasbench_macro")
        assert np.isfinite(gt.latency).sum() == 2 and np.all(gt.latency[np.isfinite(gt.latency)] > 0)
        # nb201's profile knows nothing about it
        rc, _, err = run_cli(capsys, "optimum", "--dataset", "cifar10", "--device", "local-cpu", "--max-latency", "5")
        assert_one_line_error(rc, err, "devices measure local-cpu --dataset cifar10")
        rc, _, err = run_cli(capsys, "devices", "measure", "local-cpu", "--space", "transnas101", "--quiet")
        assert_one_line_error(rc, err, "unknown space to measure 'transnas101'")
    finally:
        ground_truth.cache_clear()


def test_all_codes_are_valid_arch_strings(space):
    for digits in itertools.islice(itertools.product("012", repeat=8), 0, 6561, 97):
        arch = "".join(digits)
        assert space.decode(space.encode(arch)) == arch


def test_brpnas_learns_the_macro_chain_through_its_graph(capsys):
    """BRP-NAS's GCN reads the space's own graph (identity blocks dropped): trained on 50 networks it ranks
    all 3,969 (tau 0.63 measured); an encoding that lost the chain would rank near 0."""
    rc, out, err = run_cli(capsys, "predict", "--space", "nasbench_macro", "--dataset", "cifar10", "--method",
                           "brpnas", "--budget", "50", "--param", "epochs=100", "--param", "hidden=64",
                           "--param", "latency_train_size=0", "--json")
    assert rc == 0, err
    acc = json.loads(out)["accuracy"]
    assert acc["n"] == 3969 and acc["kendall_tau"] > 0.4


def test_brpnas_refuses_a_space_without_a_graph(capsys):
    rc, _, err = run_cli(capsys, "predict", "--space", "synthetic", "--dataset", "synthetic", "--method", "brpnas",
                         "--budget", "20")
    assert_one_line_error(rc, err, "graph", "synthetic")


def test_data_check_validates_every_space_folder(tmp_path, capsys):
    """`data check` loads every space under the data root: a folder that is absent is said and skipped, one that
    is there but bad is one line and exit 2."""
    corrupt_copy(tmp_path, "nasbench_macro", macro.FILE, lambda t: t[:-1])
    rc, out, err = run_cli(capsys, "data", "check", "--data-root", str(tmp_path), "--data",
                           str(Sources().folder("nb201")))
    assert_one_line_error(rc, err, "expected 6561 rows")
    assert "space transnas101" in out and "absent" in out
    rc, out, _ = run_cli(capsys, "data", "check")
    assert rc == 0 and "space nasbench_macro           3,969 rows  ok" in out
