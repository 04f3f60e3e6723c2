"""reports.stats: ranks across tasks, Friedman / Iman-Davenport, Nemenyi CD, Holm-Wilcoxon, CD diagram, tables.

The reference is Demšar (2006, JMLR 7:1-30), Table 6: AUC of four C4.5 variants over 14 UCI data sets, with
average ranks 3.143 / 2.000 / 2.893 / 1.964, Friedman chi2 = 9.28, F_F = 3.69, and Nemenyi CD = 1.25
(alpha 0.05; 1.12 at alpha 0.10), and the Wilcoxon example of Section 3.1.3 on its first two columns
(R+ = 93, R- = 12).
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from core.errors import HarnessError
from reports import stats as S

# --- Demšar (2006), Table 6 ---------------------------------------------------------------------------------
DEMSAR_METHODS = ("C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf")
DEMSAR_AUC = {  # data set: AUC of C4.5, C4.5+m, C4.5+cf, C4.5+m+cf as printed (three decimals)
    "adult (sample)": (0.763, 0.768, 0.771, 0.798),
    "breast cancer": (0.599, 0.591, 0.590, 0.569),
    "breast cancer wisconsin": (0.954, 0.971, 0.968, 0.967),
    "cmc": (0.628, 0.661, 0.654, 0.657),
    "ionosphere": (0.882, 0.888, 0.886, 0.898),
    "iris": (0.936, 0.931, 0.916, 0.931),
    "liver disorders": (0.661, 0.668, 0.609, 0.685),
    "lung cancer": (0.583, 0.583, 0.563, 0.625),
    "lymphography": (0.775, 0.838, 0.866, 0.875),
    "mushroom": (1.000, 1.000, 1.000, 1.000),
    "primary tumor": (0.940, 0.962, 0.965, 0.962),
    "rheum": (0.619, 0.666, 0.614, 0.669),
    "voting": (0.972, 0.981, 0.975, 0.975),
    "wine": (0.957, 0.978, 0.946, 0.970),
}


def demsar_frame(voting_tie_broken: bool = True) -> pd.DataFrame:
    """The table as a long frame. The printed AUCs are rounded: on `voting` C4.5+cf and C4.5+m+cf both print
    0.975, yet the paper's average ranks (2.893 and 1.964, i.e. rank sums 40.5 and 27.5) need C4.5+cf ranked
    2nd and C4.5+m+cf 3rd there; `voting_tie_broken` nudges C4.5+cf to 0.97501 to match."""
    rows = []
    for task, aucs in DEMSAR_AUC.items():
        for m, v in zip(DEMSAR_METHODS, aucs):
            if voting_tie_broken and task == "voting" and m == "C4.5+cf":
                v = 0.97501
            rows.append((task, m, v))
    return pd.DataFrame(rows, columns=["task", "method", "value"])


def long_frame(matrix, methods, tasks=None) -> pd.DataFrame:
    matrix = np.asarray(matrix, dtype=float)
    tasks = tasks or [f"t{i}" for i in range(matrix.shape[0])]
    return pd.DataFrame([(t, m, matrix[i, j]) for i, t in enumerate(tasks) for j, m in enumerate(methods)],
                        columns=["task", "method", "value"])


def test_demsar_average_ranks_friedman_and_iman_davenport():
    rk = S.rank_methods(demsar_frame(), higher_is_better=True)
    assert rk.n_tasks == 14 and rk.n_methods == 4 and rk.dropped == ()
    expected = {"C4.5": 3.143, "C4.5+m": 2.000, "C4.5+cf": 2.893, "C4.5+m+cf": 1.964}
    for m, r in expected.items():
        assert rk.average[m] == pytest.approx(r, abs=5e-4), m
    assert rk.methods == ("C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5")
    fr = S.friedman(rk, tie_correction=False)  # Demšar's formula, no correction for ties
    assert fr.chi2 == pytest.approx(9.28, abs=5e-3)
    assert fr.f == pytest.approx(3.69, abs=5e-3)
    assert fr.df == 3 and fr.f_df == (3, 39)
    # "the critical value of F(3, 39) for alpha = 0.05 is 2.85, so we reject the null-hypothesis"
    assert sps.f.ppf(0.95, 3, 39) == pytest.approx(2.85, abs=5e-3)
    assert fr.rejects(0.05) and not fr.all_tied


def test_demsar_as_printed_gives_the_tied_voting_ranks():
    """Without the nudge the two 0.975 tie on voting: 0.5 moves between their rank sums."""
    rk = S.rank_methods(demsar_frame(voting_tie_broken=False), higher_is_better=True)
    assert rk.average["C4.5+cf"] == pytest.approx(41 / 14)
    assert rk.average["C4.5+m+cf"] == pytest.approx(27 / 14)
    assert rk.ranks.loc["voting"].to_dict() == {"C4.5+m+cf": 2.5, "C4.5+m": 1.0, "C4.5+cf": 2.5, "C4.5": 4.0}


def test_demsar_tie_corrected_friedman_is_scipys():
    rk = S.rank_methods(demsar_frame(), higher_is_better=True)
    fr = S.friedman(rk)  # default: tie-corrected (mushroom ties all four)
    matrix = np.array(list(DEMSAR_AUC.values()))
    matrix[list(DEMSAR_AUC).index("voting"), 2] = 0.97501
    ref = sps.friedmanchisquare(*matrix.T)
    assert fr.tie_correction
    assert fr.chi2 == pytest.approx(ref.statistic, rel=1e-12)
    assert fr.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert fr.chi2 > 9.28  # the correction can only increase chi2
    assert fr.f == pytest.approx(13 * fr.chi2 / (14 * 3 - fr.chi2))


def test_demsar_nemenyi_critical_difference():
    rk = S.rank_methods(demsar_frame(), higher_is_better=True)
    ne = S.nemenyi(rk, alpha=0.05)
    assert ne.q_alpha == pytest.approx(2.569, abs=5e-4)
    assert ne.cd == pytest.approx(1.25, abs=5e-3)
    # 3.143 - 1.964 = 1.179 < 1.25: "the post-hoc test is not powerful enough to detect any differences"
    assert not any(ne.differ(a, b) for a in DEMSAR_METHODS for b in DEMSAR_METHODS)
    assert ne.groups == (rk.methods,)
    ne10 = S.nemenyi(rk, alpha=0.10)  # at alpha 0.10, CD = 1.12: both +m variants are better than C4.5
    assert ne10.q_alpha == pytest.approx(2.291, abs=5e-4)
    assert ne10.cd == pytest.approx(1.12, abs=5e-3)
    assert ne10.differ("C4.5+m+cf", "C4.5") and ne10.differ("C4.5+m", "C4.5")  # 1.179, 1.143 >= 1.118
    assert not any(ne10.differ("C4.5+cf", m) for m in DEMSAR_METHODS)
    assert ne10.groups == (("C4.5+m+cf", "C4.5+m", "C4.5+cf"), ("C4.5+cf", "C4.5"))
    assert ne10.letters() == {"C4.5+m+cf": "a", "C4.5+m": "a", "C4.5+cf": "ab", "C4.5": "b"}


def test_demsar_wilcoxon_example_splits_zero_differences():
    """Section 3.1.3: C4.5+m vs C4.5, two zero differences split between the sums: R+ = 93, R- = 12, T = 12,
    significant at 0.05 (the exact critical value for N = 14 is 21)."""
    rk = S.rank_methods(demsar_frame(voting_tie_broken=False), higher_is_better=True)
    (c,) = [x for x in S.pairwise_wilcoxon(rk) if {x.a, x.b} == {"C4.5+m", "C4.5"}]
    assert (c.a, c.b) == ("C4.5+m", "C4.5")
    assert c.statistic == 12.0
    assert c.p_value < 0.05
    assert (c.wins, c.ties, c.losses) == (10, 2, 2)
    assert c.rank_biserial == pytest.approx((93 - 12) / 105)
    # the same test dropping the zeros (scipy's default) is a different statistic
    d = np.array([v[1] - v[0] for v in DEMSAR_AUC.values()])
    assert sps.wilcoxon(np.round(d, 10), zero_method="wilcox").statistic != c.statistic


# --- ranks and Friedman by hand -------------------------------------------------------------------------------
def test_ranks_by_hand_and_against_rankdata():
    # lower is better; ties share the average rank
    matrix = [[1.0, 2.0, 2.0],   # ranks 1, 2.5, 2.5
              [3.0, 1.0, 2.0],   # ranks 3, 1, 2
              [5.0, 5.0, 5.0]]   # ranks 2, 2, 2
    rk = S.rank_methods(long_frame(matrix, ["a", "b", "c"]), higher_is_better=False)
    hand = {"a": (1 + 3 + 2) / 3, "b": (2.5 + 1 + 2) / 3, "c": (2.5 + 2 + 2) / 3}
    assert rk.average == pytest.approx(hand)
    assert rk.methods == ("b", "a", "c")
    by_scipy = sps.rankdata(np.array(matrix), axis=1).mean(axis=0)
    assert [rk.average[m] for m in "abc"] == pytest.approx(list(by_scipy))
    # higher is better: the ranks mirror (k + 1 - r)
    up = S.rank_methods(long_frame(matrix, ["a", "b", "c"]), higher_is_better=True)
    assert {m: up.average[m] for m in "abc"} == pytest.approx({m: 4 - hand[m] for m in "abc"})


def test_friedman_by_hand_small_example():
    matrix = [[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3]]  # lower is better, no ties: ranks = values
    rk = S.rank_methods(long_frame(matrix, ["a", "b", "c"]), higher_is_better=False)
    n, k = 4, 3
    avg = np.array([5 / 4, 8 / 4, 11 / 4])
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(avg ** 2) - k * (k + 1) ** 2 / 4)  # = 4.5
    assert chi2 == pytest.approx(4.5)
    for corr in (True, False):  # no ties: the correction changes nothing
        fr = S.friedman(rk, tie_correction=corr)
        assert fr.chi2 == pytest.approx(4.5)
        assert fr.p_value == pytest.approx(sps.chi2.sf(4.5, 2))
        assert fr.f == pytest.approx(3 * 4.5 / (4 * 2 - 4.5))
        assert fr.f_p_value == pytest.approx(sps.f.sf(3 * 4.5 / 3.5, 2, 6))


def test_friedman_two_methods_tie_correction_by_hand():
    # k = 2 (scipy refuses): a wins 3 tasks, ties 1. Uncorrected chi2 = 12*4/6 * sum((R - 1.5)^2)
    matrix = [[0, 1], [0, 1], [0, 1], [2, 2]]
    rk = S.rank_methods(long_frame(matrix, ["a", "b"]), higher_is_better=False)
    assert rk.average == {"a": 1.125, "b": 1.875}
    plain = 8 * (0.375 ** 2 * 2)
    assert S.friedman(rk, tie_correction=False).chi2 == pytest.approx(plain)
    # one task with a tie of t = 2: correction 1 - (8 - 2) / (4 * 2 * 3) = 0.75
    assert S.friedman(rk).chi2 == pytest.approx(plain / 0.75)


def test_perfect_agreement_gives_infinite_f_without_crashing():
    matrix = [[1, 2, 3], [1, 2, 3], [1, 2, 3]]
    fr = S.friedman(S.rank_methods(long_frame(matrix, ["a", "b", "c"]), higher_is_better=False))
    assert fr.chi2 == pytest.approx(6.0) and fr.f == np.inf and fr.f_p_value == 0.0 and fr.rejects()


# --- Nemenyi and Holm by hand ---------------------------------------------------------------------------------
# Demšar (2006) Table 5(a): q_alpha for the Nemenyi test, k = 2..10 (the printed values are off by up to 1e-3
# from the studentized range quantiles, e.g. 2.343 for 2.3437 at k = 3)
Q05 = (1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164)
Q10 = (1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920)


@pytest.mark.parametrize("k", range(2, 11))
def test_q_alpha_matches_demsar_table(k):
    assert S.q_alpha(k, 0.05) == pytest.approx(Q05[k - 2], abs=1.5e-3)
    assert S.q_alpha(k, 0.10) == pytest.approx(Q10[k - 2], abs=1.5e-3)


def test_critical_difference_formula_by_hand():
    assert S.critical_difference(4, 14, 0.05) == pytest.approx(2.569 * (20 / 84) ** 0.5, abs=1e-3)
    assert S.critical_difference(2, 10, 0.05) == pytest.approx(1.959964 * (6 / 60) ** 0.5, abs=1e-5)
    with pytest.raises(HarnessError):
        S.critical_difference(1, 10)


def test_nemenyi_groups_by_hand():
    average = {"a": 1.0, "b": 1.5, "c": 2.6, "d": 3.9}
    # cd 1.2: a-b (0.5), b-c (1.1), c-d (1.3 -> apart); a-c = 1.6 apart
    assert S._groups(list(average), average, 1.2) == (("a", "b"), ("b", "c"))
    assert S._groups(list(average), average, 0.4) == ()
    assert S._groups(list(average), average, 3.0) == (("a", "b", "c", "d"),)
    assert S._groups(list(average), average, 1.1) == (("a", "b"),)  # a difference of exactly CD is significant


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert S.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert S.holm([0.02]) == pytest.approx([0.02])
    assert S.holm([0.01, 0.01, 0.2]) == pytest.approx([0.03, 0.03, 0.2])
    assert len(S.holm([])) == 0
    for bad in ([0.1, np.nan], [1.5], [-0.1]):
        with pytest.raises(HarnessError):
            S.holm(bad)


# --- Wilcoxon, effect sizes, candidates --------------------------------------------------------------------
def test_rank_biserial_and_median_by_hand():
    # a - b = [1, -2, 3, 0] (higher is better); |d| ranks 0->1, 1->2, 2->3, 3->4
    matrix = [[1, 0, 0], [0, 2, 0], [3, 0, 0], [5, 5, 0]]
    rk = S.rank_methods(long_frame(matrix, ["a", "b", "z"]), higher_is_better=True)
    for zm, r in (("zsplit", (6.5 - 3.5) / 10), ("pratt", (6 - 3) / 9), ("wilcox", (4 - 2) / 6)):
        (c,) = [x for x in S.pairwise_wilcoxon(rk, zero_method=zm) if {x.a, x.b} == {"a", "b"}]
        sign = 1 if c.a == "a" else -1
        assert sign * c.rank_biserial == pytest.approx(r), zm
        assert sign * c.median_diff == pytest.approx(0.5)
        d = np.array([1.0, -2.0, 3.0, 0.0]) * sign
        assert c.p_value == pytest.approx(sps.wilcoxon(d, zero_method=zm).pvalue), zm


def test_versus_candidate_prefix_holm_family_and_signs():
    methods = ["mathnas-single", "mathnas @100", "lana", "random@100", "evolution"]
    rng = np.random.default_rng(0)
    regret = rng.uniform(0, 3, size=(9, 5))
    regret[:, 0] = regret.min(axis=1) - 0.5  # mathnas-single has the lowest regret on every task
    rk = S.rank_methods(long_frame(regret, methods), higher_is_better=False)
    vs = S.versus(rk)  # default candidate "mathnas"
    assert {c.a for c in vs} == {"mathnas-single", "mathnas @100"}
    assert {c.b for c in vs} == {"lana", "random@100", "evolution"}
    assert len(vs) == 6
    assert [c.p_holm for c in vs] == pytest.approx(list(S.holm([c.p_value for c in vs])))
    for c in vs:
        if c.a == "mathnas-single":
            assert c.rank_biserial == 1.0 and c.wins == 9 and c.median_diff < 0  # lower regret = better
            assert c.p_value == pytest.approx(2 / 2 ** 9)  # exact: all nine signs agree
    one = S.versus(rk, "mathnas-single")
    assert {c.a for c in one} == {"mathnas-single"} and len(one) == 4
    same = [(x, y) for x in one for y in vs if (x.a, x.b) == (y.a, y.b)]
    assert len(same) == 3 and all(x.p_value == y.p_value for x, y in same)
    assert any(x.p_holm != y.p_holm for x, y in same)  # another family, another correction
    pw = S.pairwise_wilcoxon(rk)
    assert len(pw) == 10 and [c.p_holm for c in pw] == pytest.approx(list(S.holm([c.p_value for c in pw])))
    with pytest.raises(HarnessError, match="matches no method"):
        S.versus(rk, "brpnas")
    with pytest.raises(HarnessError, match="nothing to compare"):
        S.versus(S.rank_methods(long_frame(regret[:, :2], methods[:2]), higher_is_better=False))


# --- degenerate data ---------------------------------------------------------------------------------------
def test_all_methods_tie_on_every_task(tmp_path):
    frame = long_frame(np.full((5, 3), 2.0), ["mathnas", "lana", "random"])
    rep = S.analyze(frame, higher_is_better=False)
    assert set(rep.ranks.average.values()) == {2.0}
    fr = rep.friedman
    assert fr.all_tied and fr.chi2 == 0.0 and fr.p_value == 1.0 and fr.f_p_value == 1.0 and not fr.rejects()
    assert all(c.p_value == 1.0 and c.p_holm == 1.0 and c.rank_biserial == 0.0 and c.ties == 5 and not c.reject
               for c in rep.pairwise + rep.versus)
    assert rep.nemenyi.groups == (rep.ranks.methods,)
    assert "no differences" in rep.markdown() and "no differences" in rep.html() and "no differences" in rep.latex()
    png, svg = rep.cd_diagram(tmp_path / "tied")
    assert png.stat().st_size > 0 and svg.stat().st_size > 0


@pytest.mark.parametrize("zero_method", S.ZERO_METHODS)
def test_identical_pair_and_constant_method(zero_method):
    # b equals a everywhere (all differences zero); c is constant everywhere
    matrix = [[1, 1, 7], [4, 4, 7], [2, 2, 7], [9, 9, 7], [3, 3, 7]]
    rep = S.analyze(long_frame(matrix, ["a", "b", "c"]), higher_is_better=True, candidate=None,
                    zero_method=zero_method)
    (ab,) = [c for c in rep.pairwise if {c.a, c.b} == {"a", "b"}]
    assert ab.p_value == 1.0 and ab.rank_biserial == 0.0 and ab.median_diff == 0.0 and ab.ties == 5
    assert all(np.isfinite([c.p_value, c.p_holm, c.rank_biserial, c.statistic]).all() for c in rep.pairwise)
    assert np.isfinite(rep.friedman.chi2) and np.isfinite(rep.friedman.p_value)
    assert rep.versus == ()


def test_zero_method_is_zsplit_by_default_and_differs_from_wilcox():
    # d = 8 zeros and 1..7: dropping the zeros ('wilcox') sees 7 wins out of 7
    d = np.array([0] * 8 + [1, 2, 3, 4, 5, 6, 7], dtype=float)
    matrix = np.column_stack([5 + d, np.full(len(d), 5.0)])
    rk = S.rank_methods(long_frame(matrix, ["a", "b"]), higher_is_better=True)
    (z,) = S.pairwise_wilcoxon(rk)
    (w,) = S.pairwise_wilcoxon(rk, zero_method="wilcox")
    assert z.p_value == pytest.approx(sps.wilcoxon(d, zero_method="zsplit").pvalue)
    assert w.p_value == pytest.approx(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    assert z.p_value != w.p_value


def test_float_noise_neither_breaks_nor_invents_ties():
    a = 0.1 + 0.2  # 0.30000000000000004
    frame = long_frame([[a, 0.3, 1.0], [0.5, 0.7, 0.9], [0.2, 0.4, 0.1]], ["x", "y", "z"])
    rk = S.rank_methods(frame, higher_is_better=True)
    assert rk.ranks.loc["t0", "x"] == rk.ranks.loc["t0", "y"] == 2.5
    raw = S.rank_methods(frame, higher_is_better=True, decimals=None)
    assert raw.ranks.loc["t0", "x"] == 2.0  # without rounding the noise decides


# --- missing data and bad input ----------------------------------------------------------------------------
def test_incomplete_tasks_are_dropped_and_counted():
    frame = long_frame(np.arange(12.0).reshape(4, 3) % 5, ["a", "b", "c"])
    frame.loc[(frame.task == "t1") & (frame.method == "b"), "value"] = np.nan  # NaN = no value
    frame = frame[~((frame.task == "t3") & (frame.method == "c"))]  # missing row
    rk = S.rank_methods(frame, higher_is_better=False)
    assert rk.tasks == ("t0", "t2") and rk.dropped == ("t1", "t3")
    assert rk.missing == {"a": 0, "b": 1, "c": 1}
    rep = S.analyze(frame, higher_is_better=False, candidate="a")
    assert "2 task(s) dropped" in rep.markdown()
    frame2 = frame[frame.task != "t2"]
    with pytest.raises(HarnessError, match=r"only 1 of 3 tasks"):
        S.rank_methods(frame2, higher_is_better=False)


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"task": ["t"], "method": ["a"]}), "lacks column"),
    (pd.DataFrame({"task": [], "method": [], "value": []}), "no rows"),
    (pd.DataFrame({"task": ["t", "u"], "method": ["a", "a"], "value": [1.0, 2.0]}), "at least 2 methods"),
    (pd.DataFrame({"task": ["t", "t"], "method": ["a", "a"], "value": [1.0, 2.0]}), "average over seeds"),
    (pd.DataFrame({"task": ["t", "t"], "method": ["a", "b"], "value": [1.0, "x"]}), "not a number"),
    (pd.DataFrame({"task": ["t", "t"], "method": ["a", "b"], "value": [1.0, np.inf]}), "not finite"),
    (pd.DataFrame({"task": ["t", None], "method": ["a", "b"], "value": [1.0, 2.0]}), "has no task"),
    (pd.DataFrame({"task": ["t", "t"], "method": ["a", "b"], "value": [True, False]}), "booleans"),
    ([("t", "a", 1.0)], "DataFrame"),
])
def test_bad_input_is_one_line_error(frame, message):
    with pytest.raises(HarnessError, match=message) as err:
        S.rank_methods(frame, higher_is_better=True)
    assert "\n" not in str(err.value)


def test_bad_options_are_one_line_errors():
    frame = demsar_frame()
    for kwargs, message in (({"alpha": 1.5}, "alpha"), ({"zero_method": "drop"}, "zero_method"),
                            ({"decimals": 2.5}, "decimals"), ({"candidate": "nope"}, "matches no method"),
                            ({"candidate": ""}, "candidate")):
        with pytest.raises(HarnessError, match=message) as err:
            S.analyze(frame, higher_is_better=True, **{"candidate": None, **kwargs})
        assert "\n" not in str(err.value)


# --- properties -----------------------------------------------------------------------------------------------
NAMES = ("mathnas-single", "random@100", "lana", "brp_nas", "evo&lution")


@st.composite
def grids(draw):
    n = draw(st.integers(2, 7))
    k = draw(st.integers(2, 5))
    values = draw(st.lists(st.lists(st.integers(0, 4), min_size=k, max_size=k), min_size=n, max_size=n))
    return np.array(values, dtype=float), list(NAMES[:k])


def snapshot(rep: S.Report):
    return (rep.ranks.methods, rep.ranks.average, rep.ranks.tasks, rep.ranks.dropped, rep.ranks.missing,
            rep.ranks.ranks.to_dict(), rep.friedman, rep.nemenyi.cd, rep.nemenyi.groups, rep.pairwise,
            rep.versus, rep.markdown(), rep.latex(), rep.html())


PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(grids(), st.randoms(use_true_random=False), st.booleans())
def test_permuting_tasks_methods_and_rows_changes_nothing(grid, rnd, higher):
    matrix, methods = grid
    base = S.analyze(long_frame(matrix, methods), higher_is_better=higher)
    tasks = [f"t{i}" for i in range(len(matrix))]
    ti, mi = list(range(len(tasks))), list(range(len(methods)))
    rnd.shuffle(ti)
    rnd.shuffle(mi)
    permuted = long_frame(matrix[np.ix_(ti, mi)], [methods[j] for j in mi], [tasks[i] for i in ti])
    permuted = permuted.sample(frac=1.0, random_state=rnd.randrange(2 ** 31)).reset_index(drop=True)
    assert snapshot(S.analyze(permuted, higher_is_better=higher)) == snapshot(base)


@PROPS
@given(grids(), st.data(), st.booleans())
def test_adding_a_constant_to_one_task_changes_nothing(grid, data, higher):
    matrix, methods = grid
    base = S.analyze(long_frame(matrix, methods), higher_is_better=higher)
    shifted = matrix.copy()
    shifted[data.draw(st.integers(0, len(matrix) - 1))] += data.draw(st.integers(-50, 50))
    assert snapshot(S.analyze(long_frame(shifted, methods), higher_is_better=higher)) == snapshot(base)


@PROPS
@given(grids())
def test_flipping_direction_and_sign_keeps_ranks_and_tests(grid):
    matrix, methods = grid
    low = S.analyze(long_frame(matrix, methods), higher_is_better=False)
    high = S.analyze(long_frame(-matrix, methods), higher_is_better=True)
    assert low.ranks.average == high.ranks.average and low.friedman == high.friedman
    for a, b in zip(low.pairwise + low.versus, high.pairwise + high.versus):
        assert (a.a, a.b, a.wins, a.ties, a.p_value, a.p_holm, a.rank_biserial) == \
               (b.a, b.b, b.wins, b.ties, b.p_value, b.p_holm, b.rank_biserial)
        assert a.median_diff == -b.median_diff


@PROPS
@given(grids(), st.booleans())
def test_rank_sums_and_friedman_agree_with_scipy(grid, higher):
    matrix, methods = grid
    rk = S.rank_methods(long_frame(matrix, methods), higher_is_better=higher)
    k, n = len(methods), len(matrix)
    assert sum(rk.average.values()) == pytest.approx(k * (k + 1) / 2)
    assert np.allclose(rk.ranks.sum(axis=1), k * (k + 1) / 2)
    fr = S.friedman(rk)
    if fr.all_tied:
        assert (matrix == matrix[:, :1]).all()
    elif k >= 3:
        assert fr.chi2 == pytest.approx(sps.friedmanchisquare(*matrix.T).statistic)
    assert 0.0 <= fr.p_value <= 1.0 and 0.0 <= fr.f_p_value <= 1.0


# --- CD diagram and renderers ----------------------------------------------------------------------------------
ODD = ("mathnas-single", "random@100", "brp_nas", "50% evo", "a&b #1", "x|y*z", "<b>lana</b>", "cost $5 ~ ^{}\\")


def odd_report():
    rng = np.random.default_rng(1)
    return S.analyze(long_frame(rng.integers(0, 6, size=(8, len(ODD))), list(ODD)), higher_is_better=False,
                     metric="regret_at_100 (%)")


def test_cd_diagram_files_written_deterministic_and_labelled(tmp_path):
    rep = S.analyze(demsar_frame(), higher_is_better=True, candidate=None)
    png, svg = rep.cd_diagram(tmp_path / "sub" / "cd.svg", title="Demšar Table 6")
    assert (png.name, svg.name) == ("cd.png", "cd.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "</svg>" in text
    for m in DEMSAR_METHODS:
        assert html.escape(m) in text
    assert "CD = 1.25" in text
    png2, svg2 = S.cd_diagram(rep.ranks, rep.nemenyi, tmp_path / "again", title="Demšar Table 6")
    assert svg2.read_bytes() == svg.read_bytes() and png2.read_bytes() == png.read_bytes()


def test_cd_diagram_odd_labels(tmp_path):
    rep = odd_report()
    _, svg = rep.cd_diagram(tmp_path / "odd")
    text = svg.read_text()
    for m in ODD:  # text stays text (svg.fonttype none), XML-escaped, "$" not taken for mathtext
        assert html.escape(m, quote=False) in text, m


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._cur = [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._cur = []
        elif self._cur is not None:
            raise AssertionError(f"a label produced a <{tag}> tag")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.cells.append("".join(self._cur))
            self._cur = None

    def handle_data(self, data):
        if self._cur is not None:
            self._cur.append(data)


def md_cells(line: str) -> list[str]:
    """Split a GFM table row on unescaped pipes and undo backslash escapes."""
    body = line.strip()[1:-1]
    return [re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", c.strip()) for c in re.split(r"(?<!\\)\|", body)]


_TEX_BACK = {v: k for k, v in S._TEX_SPECIAL.items()}


def tex_cells(line: str) -> list[str]:
    body = line.rstrip()
    assert body.endswith(r"\\")
    cells = re.split(r"(?<!\\)&", body[:-2])
    out = []
    for c in cells:
        c = c.strip()
        # no bare special character may remain once the escapes are taken out
        stripped = re.sub("|".join(re.escape(e) for e in sorted(_TEX_BACK, key=len, reverse=True)), "", c)
        assert not re.search(r"[\\{}_%&#$^~<>|]", stripped), c
        out.append(re.sub("|".join(re.escape(e) for e in sorted(_TEX_BACK, key=len, reverse=True)),
                          lambda m: _TEX_BACK[m.group(0)], c))
    return out


def test_markdown_contains_every_method_and_escapes():
    rep = odd_report()
    md = rep.markdown()
    blocks = re.findall(r"(?m)(?:^\|.*\n)+", md)
    assert len(blocks) == 3  # ranks, candidate vs others, all pairs
    cells = []
    for block in blocks:
        lines = block.splitlines()
        width = len(md_cells(lines[0]))
        for line in lines:
            cs = md_cells(line)
            assert len(cs) == width, line  # no label splits a row
            assert not re.search(r"(?<!\\)[*_`<>$]", line), line  # nothing that formats
            cells += cs
    for m in ODD:
        assert m in cells, m
    assert "mathnas-single" in md and "random@100" in md  # plain labels stay readable
    assert S.md_paragraph("# not a heading").startswith("\\#")
    assert S.md_paragraph("1. not a list") == "1\\. not a list"


def test_latex_contains_every_method_and_escapes():
    rep = odd_report()
    tex = rep.latex()
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 3
    assert tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule") == 3
    body = [line for line in tex.splitlines() if line.endswith(r"\\")]
    cells = [c for line in body for c in tex_cells(line)]
    for m in ODD:
        assert m in cells, m
    assert r"brp\_nas" in tex and r"50\% evo" in tex and r"a\&b \#1" in tex
    assert "mathnas-single" in tex and "random@100" in tex
    assert r"$\chi^2$" in tex and r"regret\_at\_100 (\%)" in tex
    assert S.tex_escape("\\_") == r"\textbackslash{}\_"  # one pass: nothing escaped twice


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex (with booktabs)")
def test_latex_compiles(tmp_path):
    (tmp_path / "body.tex").write_text(odd_report().latex())
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}"
                                      "\\input{body.tex}\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    text = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Missing character" not in text and "Undefined control sequence" not in text


def test_html_contains_every_method_and_escapes():
    rep = odd_report()
    page = rep.html()
    parser = _Cells()
    parser.feed(page)
    for m in ODD:
        assert m in parser.cells, m
    assert "<b>lana</b>" not in page and "&lt;b&gt;lana&lt;/b&gt;" in page


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F), min_size=1, max_size=30))
def test_escapers_round_trip(label):
    label = " ".join(label.split())
    if not label:
        return
    assert md_cells(f"| {S.md_escape(label)} |") == [label.strip()]
    assert tex_cells(S.tex_escape(label) + r" \\") == [label.strip()]
    assert html.unescape(S.html_escape(label)) == label


# --- the fast exhaustive permutation branch is scipy.stats.wilcoxon's p-value ----------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=9), st.sampled_from(S.ZERO_METHODS))
def test_signed_rank_test_is_scipys_wilcoxon(diffs, zero_method):
    d = np.array(diffs, dtype=float)
    stat, p, rp, rm = S.signed_rank_test(d, zero_method)
    if (d == 0).all():
        assert (stat, p) == (0.0, 1.0)
        return
    ref = sps.wilcoxon(d, zero_method=zero_method)
    assert stat == ref.statistic == min(rp, rm)
    assert p == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("d", [[0, 1, 1, 2, -2, 3, 3, 3, -1, 4, 5, 0, 6], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -13],
                               [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, -5, 6, 6]])
def test_signed_rank_test_at_scipys_thresholds(d):
    """n = 13 with ties (exhaustive permutation), n = 13 without (exact), n = 14 with ties (normal)."""
    for zm in S.ZERO_METHODS:
        assert S.signed_rank_test(d, zm)[1] == pytest.approx(sps.wilcoxon(d, zero_method=zm).pvalue, rel=1e-12)
