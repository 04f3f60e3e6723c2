"""NAS-Bench-Graph as a space: the loader against the README's published facts, the isomorphism (against the
package's valid_hash), the GNN graph, the valid/test splits through the Oracle, and exact optima against an
independent pandas computation on the CSV."""
from __future__ import annotations

import json
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from core.errors import HarnessError
from core.oracle import Oracle
from baselines.lana import teacher_code
from core.protocols import Problem
from solvers import ChoiceProblem, Constraint, solve
from core.sources import Sources
from devices import get_profile
from evaluation.evaluate import search_report
from evaluation.groundtruth import ground_truth
from harness.cli import main
from mathnas.blocks import OracleEvaluator, Profiler, SpaceSpec
from spaces import load_space
from spaces.nasbench_graph import LINKS, OPS9

ROOT = Sources().root_dir() / "nasbench_graph"
MAIN, PROTEINS = ROOT / "nasbench_graph_8datasets.csv", ROOT / "nasbench_graph_proteins.csv"
DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
# ../shared/nasbench_graph/README.md, "Ranges (test %, latency ms)", as printed there
README_RANGES = {"cora": ("9.2", "83.1", "0.44", "8.46"), "citeseer": ("13.8", "71.6", "0.41", "16.1"),
                 "pubmed": ("32.9", "78.6", "0.38", "18.9"), "cs": ("1.8", "91.3", "0.72", "15.4"),
                 "physics": ("29.3", "93.0", "0.68", "103.3"), "photo": ("17.0", "92.8", "0.34", "24.8"),
                 "computers": ("43.7", "85.6", "0.86", "12.8"), "arxiv": ("36.1", "72.4", "0.39", "132.2"),
                 "proteins": ("67.0", "79.3", "0.83", "575.2")}
# Arch(link, ops).valid_hash() of the nas-bench-graph 1.4.0 package (computed with it; the README's own
# "same architecture" example [0,1,2,1] vs [0,1,1,2] differs: gin->fc there becomes cheb->fc)
PACKAGE_HASHES = {"0121:gcn-gin-fc-cheb": 61237, "0112:gcn-cheb-gin-fc": 61327, "0000:skip-gat-gat-gat": 58000,
                  "0111:skip-gat-gat-gat": 58000, "0123:gcn-gcn-gcn-skip": 88111, "0011:gat-gat-skip-skip": 20088,
                  "0122:skip-skip-gat-gat": 78800, "0000:sage-gcn-fc-gat": 147, "0102:arma-cheb-graph-skip": 68563,
                  "0023:fc-skip-gin-skip": 78827, "0123:skip-skip-skip-fc": 88887, "0001:skip-skip-gin-skip": 88882}


@pytest.fixture(scope="module")
def space():
    return load_space("nasbench_graph")


@pytest.fixture(scope="module")
def proteins():
    return load_space("nasbench_graph_proteins")


@pytest.fixture(scope="module")
def csv():
    return pd.read_csv(MAIN, dtype={"link": str})


@pytest.fixture(scope="module")
def csv_proteins():
    return pd.read_csv(PROTEINS, dtype={"link": str})


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def _close(value: float, published: str) -> bool:
    """Equal to a number as the README prints it (rounded to its decimals)."""
    decimals = len(published.split(".")[1]) if "." in published else 0
    return abs(value - float(published)) <= 0.5 * 10 ** -decimals + 1e-9


# --- the loader against the README ------------------------------------------------------------------------
def test_rows_tasks_and_shape(space, proteins):
    assert (space.size, proteins.size) == (26_206, 2_021)
    assert tuple(space.tasks) == DATASETS and tuple(proteins.tasks) == ("proteins",)
    assert space.num_choices == (9, 9, 9, 9, 9) and proteins.num_choices == (9, 5, 5, 5, 5)
    assert proteins.choice_names[1] == ("gcn", "sage", "arma", "fc", "skip")
    for task in list(space.tasks.values()) + list(proteins.tasks.values()):
        assert (task.metric, task.unit, task.direction) == ("accuracy", "%", "higher")
        assert (task.search_split, task.score_split, task.seeds) == ("valid", "test", 3)


@pytest.mark.parametrize("dataset", list(README_RANGES))
def test_ranges_match_the_readme(space, proteins, dataset):
    sp = proteins if dataset == "proteins" else space
    test = sp.accuracy(dataset, "test")
    latency = get_profile("nbg-gpu").values(sp, dataset, Sources())["latency"]
    lo, hi, lat_lo, lat_hi = README_RANGES[dataset]
    for value, published in ((test.min(), lo), (test.max(), hi), (latency.min(), lat_lo), (latency.max(), lat_hi)):
        assert _close(float(value), published), (dataset, value, published)


@pytest.mark.parametrize("dataset, row, arch, test_pct, latency_ms", [
    ("cora", 0, "0000:gat-gat-gat-gat", 79.7, 5.922),
    ("arxiv", 12345, "0111:cheb-graph-skip-skip", 69.8023, 14.719),
    ("physics", 26205, "0123:skip-skip-skip-fc", 81.4356, 0.679)])
def test_readme_spot_checks(space, dataset, row, arch, test_pct, latency_ms):
    assert space.decode(space.enumerate()[row]) == arch
    assert int(space.index(space.encode(arch))[0]) == row
    gt = ground_truth(dataset, "nbg-gpu", space="nasbench_graph")
    assert gt.accuracy[row] == pytest.approx(test_pct, abs=5e-5)
    assert gt.latency[row] == pytest.approx(latency_ms, abs=5e-4)


def test_rows_follow_the_csv(space, csv):
    assert [space.decode(c) for c in space.enumerate()] == csv["arch"].tolist()
    for d in ("cora", "arxiv"):
        np.testing.assert_array_equal(space.accuracy(d, "valid"), csv[f"{d}_valid_pct"].to_numpy())
        np.testing.assert_array_equal(space.accuracy(d, "test"), csv[f"{d}_test_pct"].to_numpy())
    with pytest.raises(HarnessError, match="no split 'train'"):
        space.accuracy("cora", "train")


# --- the isomorphism ----------------------------------------------------------------------------------------
def _hash_from_strings(link: str, ops: str) -> int:
    """The package's hash_arch, written from its definition: link index, then op indices, base 10."""
    h = LINKS.index(link)
    for op in ops.split("-"):
        h = h * 10 + OPS9.index(op)
    return h


@pytest.mark.parametrize("which", ["nasbench_graph", "nasbench_graph_proteins"])
def test_every_row_rehashes_to_its_valid_hash(which, csv, csv_proteins):
    sp, frame = load_space(which), (csv if which == "nasbench_graph" else csv_proteins)
    expected = frame["valid_hash"].to_numpy()
    assert [_hash_from_strings(lk, op) for lk, op in zip(frame["link"], frame["ops"])] == expected.tolist()
    np.testing.assert_array_equal(sp.valid_hash(sp.enumerate()), expected)
    np.testing.assert_array_equal(sp.index(sp.enumerate()), np.arange(sp.size))   # each row its own canonical


@pytest.mark.parametrize("arch, expected", list(PACKAGE_HASHES.items()))
def test_valid_hash_agrees_with_the_package(space, arch, expected):
    assert int(space.valid_hash(space.encode(arch))[0]) == expected


def test_every_product_code_but_all_skip_has_a_row(space, proteins):
    for sp in (space, proteins):
        codes = np.stack(np.meshgrid(*[np.arange(n) for n in sp.num_choices], indexing="ij"), -1).reshape(-1, 5)
        ok = sp.valid(codes)
        all_skip = np.all(codes[:, 1:] == sp.ops.index("skip"), axis=1)
        np.testing.assert_array_equal(ok, ~all_skip)
        assert np.unique(sp.index(codes[ok])).size == sp.size      # every row is reached


def _relabel(link: str, ops: list[str], order) -> str:
    """The same network with its nodes listed in `order` (a topological order of the old nodes 1..4)."""
    pos = {old: new for new, old in enumerate(order, start=1)}
    parents = [int(c) for c in link]
    new_link = "".join(str(0 if parents[old - 1] == 0 else pos[parents[old - 1]]) for old in order)
    return f"{new_link}:{'-'.join(ops[old - 1] for old in order)}"


def _topological_orders(link: str) -> list[tuple[int, ...]]:
    import itertools
    parents = [int(c) for c in link]
    return [p for p in itertools.permutations(range(1, 5))
            if all(parents[k - 1] == 0 or p.index(parents[k - 1]) < p.index(k) for k in p)]


def test_isomorphic_variants_map_to_the_same_row(space, proteins):
    rng = np.random.default_rng(0)
    for sp in (space, proteins):
        for row in rng.choice(sp.size, 60, replace=False):
            arch = sp.decode(sp.enumerate()[row])
            link, ops = arch.split(":")[0], arch.split(":")[1].split("-")
            for order in _topological_orders(link):
                variant = _relabel(link, ops, order)
                assert int(sp.index(sp.encode(variant))[0]) == row, (arch, variant)


@pytest.mark.parametrize("a, b, same", [
    ("0123:gcn-gcn-gcn-skip", "0123:skip-gcn-gcn-gcn", True),      # a skip anywhere in a chain is the identity
    ("0123:gcn-skip-gcn-gcn", "0123:skip-gcn-gcn-gcn", True),
    ("0000:skip-gat-gat-gat", "0111:skip-gat-gat-gat", True),      # the raw input's own output term is dropped
    ("0000:sage-gcn-fc-gat", "0000:gat-gcn-sage-fc", True),        # siblings are unordered
    ("0011:gat-gat-skip-skip", "0122:skip-skip-gat-gat", False),   # gat1 summed twice + gat2  vs  gat1 + gat2
    ("0121:gcn-gin-fc-cheb", "0112:gcn-cheb-gin-fc", False),       # gin->fc vs cheb->fc
    ("0012:gcn-gin-fc-cheb", "0012:gin-gcn-cheb-fc", True)])
def test_hand_examples(space, a, b, same):
    assert bool(space.index(space.encode(a))[0] == space.index(space.encode(b))[0]) is same


def test_no_stored_isomorph_is_a_one_line_error(space, proteins):
    for sp, code in ((space, [3, 8, 8, 8, 8]), (proteins, [8, 4, 4, 4, 4])):
        with pytest.raises(HarnessError, match="no stored isomorph.*every op is skip") as e:
            sp.index(np.array([code]))
        assert "\n" not in str(e.value)
        assert not sp.valid(np.array([code]))[0]
    for arch in ("0123:skip-skip-skip-skip", "0102:skip-skip-skip-skip"):
        with pytest.raises(HarnessError, match="no stored isomorph"):
            space.encode(arch)


@pytest.mark.parametrize("sp_name, arch, fragment", [
    ("nasbench_graph", "0000gat-gat-gat-gat", "expected '<link>:<op-op-op-op>'"),
    ("nasbench_graph", "0300:gat-gat-gat-gat", "node 2 reads node 3"),
    ("nasbench_graph", "1000:gat-gat-gat-gat", "node 1 reads node 1"),
    ("nasbench_graph", "00a0:gat-gat-gat-gat", "link '00a0' must be 4 digits"),
    ("nasbench_graph", "0000:gat-gat-gat", "expected 4 ops joined by '-', found 3"),
    ("nasbench_graph", "0000:gat-gat-gat-foo", "unknown op 'foo'"),
    ("nasbench_graph_proteins", "0000:gat-gcn-gcn-gcn", "unknown op 'gat'; valid: gcn, sage, arma, fc, skip")])
def test_bad_arch_strings_name_the_bad_part(sp_name, arch, fragment):
    with pytest.raises(HarnessError, match=fragment.replace("(", r"\(")) as e:
        load_space(sp_name).encode(arch)
    assert "\n" not in str(e.value)


def test_raw_links_encode_to_their_stored_isomorph(space):
    code = space.encode("0121:gcn-gin-fc-cheb")          # the README's figure
    assert space.decode(code) == "0112:gcn-gin-cheb-fc"
    assert space.decode(space.encode("0000:fc-gcn-gcn-gcn")) == "0000:fc-gcn-gcn-gcn"   # canonical links: as written


# --- the graph ----------------------------------------------------------------------------------------------
def _edges(adj) -> set:
    return {(int(a), int(b)) for a, b in zip(*np.nonzero(adj))}


def test_graph_wires_links_ops_and_leaves(space):
    adj, types = space.graph(space.encode("0112:gcn-gin-cheb-skip"), prune=False)
    assert adj.shape == (1, 6, 6) and types.shape == (1, 6) and space.num_node_types == 11
    assert types[0].tolist() == [9, 1, 2, 3, 8, 10]          # input, gcn, gin, cheb, skip, output
    assert _edges(adj[0]) == {(0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 5)}
    adj, types = space.graph(space.encode("0112:gcn-gin-cheb-skip"), prune=True)
    assert types[0].tolist() == [9, 1, 2, 3, -1, 10]         # the skip contracted: gin feeds the output
    assert _edges(adj[0]) == {(0, 1), (1, 2), (1, 3), (2, 5), (3, 5)}
    adj, types = space.graph(space.encode("0000:skip-gat-gat-gat"), prune=True)
    assert _edges(adj[0]) == {(0, 2), (0, 3), (0, 4), (2, 5), (3, 5), (4, 5)}   # no input -> output edge
    adj, types = space.graph(space.encode("0011:gat-gat-skip-skip"), prune=True)
    assert types[0].tolist() == [9, 0, 0, -1, 8, 10]         # gat1 summed twice: one skip leaf stays a node
    assert _edges(adj[0]) == {(0, 1), (0, 2), (1, 5), (2, 5), (1, 4), (4, 5)}
    assert not np.any(adj[:, np.arange(6), np.arange(6)])   # no self-loops


def _nx(adj, types) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from((i, {"t": int(t)}) for i, t in enumerate(types) if t >= 0)
    g.add_edges_from(_edges(adj))
    return g


def test_pruned_graphs_are_isomorphic_exactly_when_rows_are_equal(space):
    """networkx as an independent judge: codes of one row have isomorphic pruned graphs, distinct rows do not."""
    rng = np.random.default_rng(1)
    match = nx.algorithms.isomorphism.categorical_node_match("t", -1)
    codes = rng.integers(0, 9, size=(3000, 5))
    codes = codes[space.valid(codes)]
    rows = space.index(codes)
    canon = space.enumerate()[rows]
    a1, t1 = space.graph(codes)
    a2, t2 = space.graph(canon)
    for k in range(0, codes.shape[0], 10):
        assert nx.is_isomorphic(_nx(a1[k], t1[k]), _nx(a2[k], t2[k]), node_match=match)
    adj, types = space.graph(space.enumerate())
    with warnings.catch_warnings():     # networkx >= 3.5 notes that its directed hashes changed
        warnings.simplefilter("ignore", UserWarning)
        hashes = {nx.weisfeiler_lehman_graph_hash(_nx(adj[r], types[r]), node_attr="t") for r in range(space.size)}
    assert len(hashes) == space.size        # different WL hashes: pairwise non-isomorphic


# --- costs, device, splits ------------------------------------------------------------------------------------
def test_no_flops_and_exact_published_params(space, csv):
    assert space.block_costs("cora") is None
    assert "FLOPs are not published" in space.source and "block_costs is None" in space.source
    gt = ground_truth("cs", "nbg-gpu", space="nasbench_graph")
    assert gt.flops is None
    np.testing.assert_array_equal(gt.params, np.round(csv["cs_params_M"].to_numpy() * 1e6))
    with pytest.raises(HarnessError, match="no analytic flops count"):
        ground_truth("cora", "flops", space="nasbench_graph")


def test_params_are_additive_only_over_canonical_rows(space, csv):
    """What `source` says: a one-hot fit is exact on the rows of cs, not over the isomorphic codes mapping there."""
    codes = space.enumerate()
    onehot = np.hstack([np.eye(9)[codes[:, i]] for i in range(5)])
    y = csv["cs_params_M"].to_numpy()
    coef = np.linalg.lstsq(onehot, y, rcond=None)[0]
    assert np.abs(onehot @ coef - y).max() < 1e-9
    rng = np.random.default_rng(0)
    other = rng.integers(0, 9, size=(5000, 5))
    other = other[space.valid(other)]
    fit = np.hstack([np.eye(9)[other[:, i]] for i in range(5)]) @ coef
    assert np.abs(fit - y[space.index(other)]).max() > 1e-3
    cora = csv["cora_params_M"].to_numpy()
    assert np.abs(onehot @ np.linalg.lstsq(onehot, cora, rcond=None)[0] - cora).max() > 0.1


def test_one_latency_profile_per_dataset_column(space, proteins, csv, csv_proteins):
    profile = get_profile("nbg-gpu")
    assert profile.covers("nasbench_graph", "arxiv") and profile.covers("nasbench_graph_proteins", "proteins")
    assert not profile.covers("nb201") and "does not tie it to a named device" in profile.source
    for d in ("cora", "physics"):
        np.testing.assert_array_equal(profile.values(space, d, Sources())["latency"], csv[f"{d}_latency_ms"])
    np.testing.assert_array_equal(profile.values(proteins, "proteins", Sources())["latency"],
                                  csv_proteins["proteins_latency_ms"])
    with pytest.raises(HarnessError, match="no measurements for dataset 'proteins'"):
        profile.values(space, "proteins", Sources())


def test_methods_see_valid_and_are_scored_on_test(space, csv):
    gt = ground_truth("citeseer", "nbg-gpu", space="nasbench_graph")
    valid, test = csv["citeseer_valid_pct"].to_numpy(), csv["citeseer_test_pct"].to_numpy()
    assert np.mean(valid != test) > 0.9                                  # the two splits really differ
    rows = np.random.default_rng(3).choice(space.size, 50, replace=False)
    np.testing.assert_array_equal(Oracle(gt).accuracy(space.enumerate()[rows]), valid[rows])
    np.testing.assert_array_equal(gt.accuracy, test)
    out = search_report("random", Problem("citeseer", "nbg-gpu", {"latency": 3.0}, space="nasbench_graph"),
                        seed=0, budget=40)
    r = out["arch_index"]
    assert out["predicted"]["accuracy"] == valid[r]                     # what the search saw
    assert out["true_accuracy"] == test[r] and out["queries"] == 40      # what it is scored on
    assert out["optimum_accuracy"] == test[csv["citeseer_latency_ms"] <= 3.0].max()


# --- exact optima against pandas ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, limit", [("cora", 2.0), ("cora", 4.0), ("arxiv", 1.0), ("arxiv", 3.0)])
def test_exact_optimum_matches_pandas(capsys, csv, dataset, limit):
    res = run_json(capsys, "optimum", "--space", "nasbench_graph", "--dataset", dataset, "--device", "nbg-gpu",
                   "--max-latency", str(limit))
    feasible = csv[csv[f"{dataset}_latency_ms"] <= limit]
    best = feasible[f"{dataset}_test_pct"].idxmax()
    assert (res["arch"], res["arch_index"]) == (csv.loc[best, "arch"], best)
    assert res["accuracy"] == csv.loc[best, f"{dataset}_test_pct"] and res["feasible_count"] == len(feasible)


def test_exact_optimum_under_a_params_limit(capsys, csv, csv_proteins):
    res = run_json(capsys, "optimum", "--space", "nasbench_graph", "--dataset", "pubmed", "--device", "nbg-gpu",
                   "--max-params", "0.1")
    best = csv[csv["pubmed_params_M"] * 1e6 <= 100000.5]["pubmed_test_pct"].idxmax()
    assert res["arch_index"] == best and res["params"] <= 100000
    res = run_json(capsys, "optimum", "--space", "nasbench_graph_proteins", "--dataset", "proteins", "--device",
                   "nbg-gpu", "--max-latency", "1.5")
    best = csv_proteins[csv_proteins["proteins_latency_ms"] <= 1.5]["proteins_test_pct"].idxmax()
    assert res["arch"] == csv_proteins.loc[best, "arch"]


# --- methods through the CLI ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["cora", "arxiv"])
@pytest.mark.parametrize("method", [("mathnas", "single"), ("mathnas", "full"), ("lana", None)])
def test_predict_through_the_cli(capsys, dataset, method):
    name, variant = method
    argv = ["predict", "--space", "nasbench_graph", "--dataset", dataset, "--device", "nbg-gpu", "--method", name]
    res = run_json(capsys, *argv, *(["--variant", variant] if variant else []))
    assert res["accuracy"]["n"] == 26_206 and -1 <= res["accuracy"]["kendall_tau"] <= 1
    assert res["latency"]["kendall_tau"] > 0.3
    assert res["queries"] == 26_206 if variant == "full" else res["queries"] <= 41   # 1 + 5 x 8 sweeps at most
    if name == "mathnas":   # no FLOPs: the plain block sum, said in the output
        assert any("publishes no per-choice FLOPs" in d for d in res["deviations"])


def test_mathnas_without_flops_is_the_plain_sum(capsys):
    plain = run_json(capsys, "predict", "--space", "nasbench_graph", "--dataset", "cora", "--device", "nbg-gpu",
                     "--method", "mathnas", "--param", "flops_scaling=false")
    default = run_json(capsys, "predict", "--space", "nasbench_graph", "--dataset", "cora", "--device", "nbg-gpu",
                       "--method", "mathnas")
    assert plain["accuracy"] == default["accuracy"]        # the same plain sum, asked for or fallen back to
    assert any(d.startswith("flops_scaling: false") for d in plain["deviations"])
    assert any(d.startswith("flops_scaling: off") for d in default["deviations"])
    code, _, err = run(capsys, "search", "--space", "nasbench_graph", "--dataset", "cora", "--device", "nbg-gpu",
                       "--method", "mathnas", "--max-params", "1.0")
    assert code == 2 and "no exact params per choice" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("dataset, limit", [("cora", 2.0), ("arxiv", 3.0)])
@pytest.mark.parametrize("method", ["mathnas", "lana", "random", "evolution"])
def test_search_through_the_cli(capsys, csv, dataset, limit, method):
    res = run_json(capsys, "search", "--space", "nasbench_graph", "--dataset", dataset, "--device", "nbg-gpu",
                   "--max-latency", str(limit), "--method", method, "--budget", "150", "--seed", "1")
    feasible = csv[csv[f"{dataset}_latency_ms"] <= limit]
    assert res["optimum_accuracy"] == feasible[f"{dataset}_test_pct"].max()
    if res["arch"] is not None:
        row = res["arch_index"]
        assert csv.loc[row, "arch"] == res["arch"] and res["true_accuracy"] == csv.loc[row, f"{dataset}_test_pct"]
        assert res["feasible"] == bool(csv.loc[row, f"{dataset}_latency_ms"] <= limit)
    if method in ("random", "evolution"):      # they check feasibility on the device before evaluating
        assert res["feasible"] and 0 <= res["regret"] and res["queries"] == 150
    if method == "mathnas":
        assert res["flops_scaling"] is False and res["invalid_cut"] == 0


def test_lana_teacher_and_random_contexts_can_be_swept(capsys, space):
    """Physics: the params probe's largest network is all skip (no row); LANA's teacher must be a network whose
    every one-block swap has a row."""
    gt = ground_truth("physics", "nbg-gpu", space="nasbench_graph")
    assert space.decode(teacher_code(space.num_choices, Oracle(gt).params)) == "0000:skip-skip-skip-skip"
    res = run_json(capsys, "search", "--space", "nasbench_graph", "--dataset", "physics", "--device", "nbg-gpu",
                   "--method", "lana", "--max-latency", "3")
    assert res["teacher"].count("skip") <= 2 and res["queries"] <= 41
    prot = ground_truth("proteins", "nbg-gpu", space="nasbench_graph_proteins")
    prof = Profiler(SpaceSpec.of(prot.space, "proteins"), OracleEvaluator(Oracle(prot)), seed=0)
    for _ in range(300):        # random contexts of Algorithm 1 are drawn so that their sweep has rows
        code = prof.random_code()
        changes = np.repeat(code[None], 5 * 5, axis=0)
        changes[np.arange(25), np.repeat(np.arange(5), 5)] = np.tile(np.arange(5), 5)
        assert prot.space.valid(changes).all(), code
    run_json(capsys, "predict", "--space", "nasbench_graph_proteins", "--dataset", "proteins", "--device",
             "nbg-gpu", "--method", "mathnas", "--param", "base_net=random", "--seed", "3")


def test_evolution_mutates_only_into_rows(proteins):
    """Small space, many steps: parents with three skips are common, and their all-skip neighbour has no row."""
    out = search_report("evolution", Problem("proteins", "nbg-gpu", {"latency": 2.0},
                                             space="nasbench_graph_proteins"),
                        seed=0, budget=600, population=10, sample_size=3)
    assert out["steps"] > 100 and out["feasible"] and out["queries"] > 100


# --- ILP picks without a row --------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["enumerate", "highs"])
def test_ilp_picks_without_a_row_are_cut_off(space, backend):
    """An objective that loves skip: its 9 best codes are the all-skip ones, none has a row; the answer is the
    best code that has one (brute force over the product space), after exactly 9 cuts."""
    skip = space.ops.index("skip")
    rng = np.random.default_rng(0)
    num = [np.arange(9) / 100] + [np.where(np.arange(9) == skip, 10.0, rng.uniform(0, 1, 9)) for _ in range(4)]
    problem = ChoiceProblem(num, 0.0, constraints=(Constraint("one", [np.zeros(9)] * 5, 1.0),))
    sol = solve(problem, backend=backend, valid=space.valid)
    codes = np.stack(np.meshgrid(*[np.arange(9)] * 5, indexing="ij"), -1).reshape(-1, 5)
    codes = codes[space.valid(codes)]
    best = codes[np.argmax(problem.objective(codes))]
    assert sol.status == "optimal" and sol.extra["cuts"] == 9
    np.testing.assert_array_equal(sol.code, best)
    assert solve(problem, backend=backend).code.tolist()[1:] == [skip] * 4    # without `valid`: all skip


@pytest.mark.slow
def test_agrees_with_the_installed_package_on_every_raw_code(space, proteins):
    """Where nas-bench-graph is installed: our index gives its valid_hash on all 24 x ops^4 raw (link, ops)."""
    import itertools
    arch_mod = pytest.importorskip("nas_bench_graph.architecture")
    for sp in (space, proteins):
        for link in itertools.product(*[range(k) for k in range(1, 5)]):
            for ops in itertools.product(sp.ops, repeat=4):
                expected = arch_mod.Arch(list(link), list(ops)).valid_hash()
                arch = f"{''.join(map(str, link))}:{'-'.join(ops)}"
                if set(ops) == {"skip"}:
                    assert expected == 88888     # the package's "nothing" hash, no row
                    continue
                assert int(sp.valid_hash(sp.encode(arch))[0]) == expected, arch


def test_lana_pays_for_distinct_networks_not_codes():
    """LANA's 41 one-block swaps on NAS-Bench-Graph are fewer networks (isomorphic codes share a row); the
    Oracle charges networks, so a budget of 26 suffices, and the charge is exactly the distinct rows."""
    gt = ground_truth("cora", "nbg-gpu", space="nasbench_graph")
    oracle = Oracle(gt, budget=26)
    from baselines.lana import LANA
    from core.codes import swap_codes
    m = LANA().fit(oracle)
    distinct = np.unique(gt.space.index(swap_codes(m.teacher, gt.space.num_choices)[0])).size
    assert len(swap_codes(m.teacher, gt.space.num_choices)[0]) == 41 and distinct < 26
    assert oracle.queries == distinct
    with pytest.raises(HarnessError, match=f"lana needs {distinct} evaluations"):
        LANA().fit(Oracle(gt, budget=distinct - 1))


def test_lana_blind_hardware_counts_distinct_networks():
    """Under the blind regime at 26 measurements LANA's 17 distinct networks fit (41 codes would not)."""
    gt = ground_truth("cora", "nbg-gpu", space="nasbench_graph")
    from baselines.lana import LANA
    oracle = Oracle(gt, budget=26, regime="blind", hw_budget=26)
    LANA().fit(oracle)
    assert oracle.hw_queries <= 17 and oracle.queries <= 17
