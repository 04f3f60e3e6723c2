"""Statistics across tasks: average ranks, Friedman / Iman-Davenport, Nemenyi CD, Holm-Wilcoxon, CD diagram.

Input is a long DataFrame with one row per (task, method): columns ``task`` (str), ``method`` (str) and
``value`` (float, e.g. regret at a fixed budget, averaged over seeds beforehand). Following Demšar (2006,
JMLR 7:1-30, "Statistical comparisons of classifiers over multiple data sets"):

- ``rank_methods``: per task, rank 1 = best, ties get the average rank; tasks where some method has no
  value (missing row or NaN) are dropped and counted, so every test sees complete blocks only;
- ``friedman``: Friedman's chi-square (scipy.stats.friedmanchisquare, which corrects for ties; Demšar's
  uncorrected formula with ``tie_correction=False``) and the Iman-Davenport F derived from it. The decision
  (``Friedman.rejects``) uses the Iman-Davenport p-value, as Demšar recommends;
- ``nemenyi``: the critical difference CD = q_alpha * sqrt(k (k + 1) / (6 N)) with
  q_alpha = studentized_range.ppf(1 - alpha, k, inf) / sqrt(2), and the groups of methods whose average
  ranks differ by less than CD (the bars of the CD diagram);
- ``pairwise_wilcoxon``: Wilcoxon signed-rank tests (scipy.stats.wilcoxon) between every pair of methods,
  Holm-corrected over all pairs; ``versus``: one method (or every label starting with a prefix, default
  ``mathnas``) against each other method, Holm-corrected over those comparisons, with the matched-pairs
  rank-biserial correlation and the median paired difference as effect sizes;
- ``cd_diagram``: the critical-difference diagram (PNG and SVG); ``Report.markdown/latex/html``: tables.

Zero differences in the Wilcoxon test: ``zero_method="zsplit"`` by default (the zero ranks are split evenly
between the positive and negative sums, Demšar's recommendation; it keeps every task in the test, where
``"wilcox"`` would drop ties, which are common for regret). Values and paired differences are rounded to
``decimals`` (default 10) places first, so that float noise from averaging seeds in another order neither
breaks nor invents ties. Everything is deterministic: scipy's ``method="auto"`` uses the exact null
distribution (or an exhaustive permutation when there are ties or zeros, n <= 13) or the normal
approximation, never random resampling; tasks are sorted by name and methods by (average rank, name).

Degenerate data is reported, never crashed on: when every method ties on every task the ranks are all
equal, chi-square is 0 and p = 1 (the exact conditional p-value: no differences), with ``all_tied`` set;
a pair with zero difference on every task gets p = 1 and effect sizes 0.
"""
from __future__ import annotations

import html
import math
import numbers
import re
import string
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import HarnessError

TASK, METHOD, VALUE = "task", "method", "value"
ZERO_METHODS = ("zsplit", "wilcox", "pratt")


# --- data classes ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranks:
    """Average ranks over the complete tasks (rank 1 = best; ties get the average rank)."""

    methods: tuple[str, ...]  # best average rank first, ties by name
    average: dict[str, float]  # method -> average rank
    tasks: tuple[str, ...]  # the complete tasks, sorted
    dropped: tuple[str, ...]  # tasks dropped because some method had no value there, sorted
    missing: dict[str, int]  # method -> number of tasks (of all given) where it had no value
    higher_is_better: bool
    values: pd.DataFrame = field(repr=False, compare=False)  # tasks x methods (rounded values)
    ranks: pd.DataFrame = field(repr=False, compare=False)  # tasks x methods

    n_tasks = property(lambda self: len(self.tasks))
    n_methods = property(lambda self: len(self.methods))


@dataclass(frozen=True)
class Friedman:
    """Friedman's test of equal average ranks, with the Iman-Davenport F."""

    chi2: float
    p_value: float  # of chi2 against chi-square(k - 1)
    df: int  # k - 1
    f: float  # Iman-Davenport: (N - 1) chi2 / (N (k - 1) - chi2)
    f_p_value: float  # against F(k - 1, (k - 1)(N - 1))
    f_df: tuple[int, int]
    n_tasks: int
    n_methods: int
    tie_correction: bool
    all_tied: bool  # every method ties on every task: no differences at all

    def rejects(self, alpha: float = 0.05) -> bool:
        """Equal ranks rejected at `alpha` (Iman-Davenport, the less conservative form Demšar recommends)."""
        return self.f_p_value < alpha


@dataclass(frozen=True)
class Nemenyi:
    """Nemenyi's post-hoc test: two methods differ when their average ranks differ by at least `cd`."""

    alpha: float
    q_alpha: float
    cd: float
    groups: tuple[tuple[str, ...], ...]  # maximal runs (in rank order) of >= 2 methods not significantly apart
    average: dict[str, float] = field(repr=False)

    def differ(self, a: str, b: str) -> bool:
        return abs(self.average[a] - self.average[b]) >= self.cd

    def letters(self) -> dict[str, str]:
        """Compact letter display: methods that share a letter are not significantly different."""
        order = sorted(self.average, key=lambda m: (self.average[m], m))
        sets = [set(g) for g in self.groups]
        covered = set().union(*sets) if sets else set()
        blocks = sorted([(min(order.index(m) for m in g), g) for g in sets]
                        + [(order.index(m), {m}) for m in order if m not in covered], key=lambda t: t[0])
        out = {m: "" for m in order}
        for i, (_, g) in enumerate(blocks):
            letter = string.ascii_lowercase[i] if i < 26 else f"g{i}"
            for m in g:
                out[m] += letter
        return out


@dataclass(frozen=True)
class Comparison:
    """A paired Wilcoxon signed-rank test of method `a` against method `b` over the complete tasks."""

    a: str
    b: str
    n: int  # tasks
    wins: int  # tasks where a is better than b
    ties: int
    losses: int
    statistic: float  # scipy's two-sided statistic: min(R+, R-)
    p_value: float  # two-sided, uncorrected
    p_holm: float  # Holm-corrected within its family of comparisons
    rank_biserial: float  # matched-pairs rank-biserial correlation in [-1, 1]; > 0: a is better
    median_diff: float  # median over tasks of value(a) - value(b), in the value's units
    reject: bool  # p_holm < alpha


@dataclass(frozen=True)
class Report:
    ranks: Ranks
    friedman: Friedman
    nemenyi: Nemenyi
    pairwise: tuple[Comparison, ...]  # every pair, Holm over all of them
    versus: tuple[Comparison, ...]  # candidate(s) against every other method, Holm over these
    candidate: str | None
    alpha: float
    zero_method: str
    metric: str = "value"

    def markdown(self) -> str:
        return to_markdown(self)

    def latex(self) -> str:
        return to_latex(self)

    def html(self) -> str:
        return to_html(self)

    def cd_diagram(self, stem, title: str | None = None) -> tuple[Path, Path]:
        return cd_diagram(self.ranks, self.nemenyi, stem, title=title)


# --- input -------------------------------------------------------------------------------------------------
def _check_decimals(decimals):
    if decimals is not None and (not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool)):
        raise HarnessError(f"stats: decimals must be an integer or None, got {decimals!r}")


def _round(x, decimals):
    return x if decimals is None else np.round(x, decimals)


def rank_methods(frame: pd.DataFrame, *, higher_is_better: bool, decimals: int | None = 10) -> Ranks:
    """Average ranks of the methods over the tasks where every method has a value (rank 1 = best).

    Raises HarnessError (one line) on malformed input, fewer than 2 methods or fewer than 2 complete tasks.
    """
    _check_decimals(decimals)
    if not isinstance(frame, pd.DataFrame):
        raise HarnessError(f"stats: expected a pandas DataFrame with columns task, method, value, got "
                           f"{type(frame).__name__}")
    lacking = [c for c in (TASK, METHOD, VALUE) if c not in frame.columns]
    if lacking:
        raise HarnessError(f"stats: the frame lacks column(s) {', '.join(map(repr, lacking))}; "
                           f"need task, method, value")
    if frame.empty:
        raise HarnessError("stats: the frame has no rows")
    for col in (TASK, METHOD):
        if frame[col].isna().any():
            raise HarnessError(f"stats: row {frame.index[frame[col].isna()][0]!r} has no {col}")
    f = pd.DataFrame({TASK: frame[TASK].astype(str), METHOD: frame[METHOD].astype(str)})
    raw = frame[VALUE]
    if pd.api.types.is_bool_dtype(raw):
        raise HarnessError("stats: column 'value' holds booleans, not numbers")
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna() & raw.notna()
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise HarnessError(f"stats: value {raw.iloc[i]!r} (task {f[TASK].iloc[i]!r}, method "
                           f"{f[METHOD].iloc[i]!r}) is not a number")
    num = num.astype(float)
    inf = np.isinf(num.to_numpy())
    if inf.any():
        i = inf.nonzero()[0][0]
        raise HarnessError(f"stats: value {num.iloc[i]} (task {f[TASK].iloc[i]!r}, method {f[METHOD].iloc[i]!r}) "
                           f"is not finite")
    f[VALUE] = num.to_numpy()
    dup = f.duplicated([TASK, METHOD])
    if dup.any():
        i = dup.to_numpy().nonzero()[0][0]
        raise HarnessError(f"stats: task {f[TASK].iloc[i]!r} has more than one value for method "
                           f"{f[METHOD].iloc[i]!r}; average over seeds first")
    table = f.pivot(index=TASK, columns=METHOD, values=VALUE)
    table = table.sort_index(axis=0).sort_index(axis=1)
    table.columns.name = table.index.name = None
    methods = list(table.columns)
    if len(methods) < 2:
        raise HarnessError(f"stats: need at least 2 methods to compare, got {len(methods)} "
                           f"({', '.join(map(repr, methods))})")
    missing = {m: int(table[m].isna().sum()) for m in methods}
    complete = table.notna().all(axis=1)
    dropped = tuple(table.index[~complete])
    table = table[complete]
    if len(table) < 2:
        worst = sorted(missing, key=lambda m: (-missing[m], m))[:3]
        raise HarnessError(f"stats: only {len(table)} of {len(complete)} tasks have a value for every method; "
                           f"need at least 2 (missing most: "
                           + ", ".join(f"{m!r} in {missing[m]}" for m in worst) + ")")
    values = pd.DataFrame(_round(table.to_numpy(dtype=float), decimals), index=table.index, columns=methods)
    oriented = -values.to_numpy() if higher_is_better else values.to_numpy()
    rk = stats.rankdata(oriented, axis=1, method="average")
    average = {m: float(rk[:, j].mean()) for j, m in enumerate(methods)}
    order = sorted(methods, key=lambda m: (average[m], m))
    values = values[order]
    ranks = pd.DataFrame(rk, index=table.index, columns=methods)[order]
    return Ranks(methods=tuple(order), average={m: average[m] for m in order}, tasks=tuple(table.index),
                 dropped=dropped, missing=missing, higher_is_better=bool(higher_is_better),
                 values=values, ranks=ranks)


# --- Friedman ----------------------------------------------------------------------------------------------
def friedman(ranks: Ranks, *, tie_correction: bool = True) -> Friedman:
    """Friedman's chi-square over the complete tasks, and the Iman-Davenport F.

    With `tie_correction` (default) chi-square is scipy.stats.friedmanchisquare's (divided by
    1 - sum(t^3 - t) / (N k (k^2 - 1)) over the groups of tied values); without, it is Demšar's
    12 N / (k (k + 1)) * (sum_j R_j^2 - k (k + 1)^2 / 4) on the average ranks R_j.
    """
    n, k = ranks.n_tasks, ranks.n_methods
    r = ranks.ranks.to_numpy()
    avg = r.mean(axis=0)
    df1, df2 = k - 1, (k - 1) * (n - 1)
    all_tied = bool(np.all(r == (k + 1) / 2))
    if all_tied:  # every permutation of the methods gives the same statistic: exact p = 1
        return Friedman(0.0, 1.0, df1, 0.0, 1.0, (df1, df2), n, k, bool(tie_correction), True)
    chi2 = float(12.0 * n / (k * (k + 1)) * np.sum((avg - (k + 1) / 2.0) ** 2))
    if tie_correction:
        if k >= 3:
            oriented = -ranks.values.to_numpy() if ranks.higher_is_better else ranks.values.to_numpy()
            chi2 = float(stats.friedmanchisquare(*oriented.T).statistic)
        else:  # scipy wants k >= 3; the same correction by hand
            ties = sum(float(np.sum(c ** 3 - c)) for c in
                       (np.unique(row, return_counts=True)[1].astype(float) for row in r))
            chi2 = chi2 / (1.0 - ties / (n * k * (k * k - 1.0)))
    p = float(stats.chi2.sf(chi2, df1))
    denom = n * (k - 1) - chi2
    if denom <= 1e-12 * n * (k - 1):  # perfect agreement of all tasks: F is infinite
        f, fp = math.inf, 0.0
    else:
        f = (n - 1) * chi2 / denom
        fp = float(stats.f.sf(f, df1, df2))
    return Friedman(chi2, p, df1, float(f), fp, (df1, df2), n, k, bool(tie_correction), False)


# --- Nemenyi -----------------------------------------------------------------------------------------------
def _check_alpha(alpha):
    if isinstance(alpha, bool) or not (isinstance(alpha, numbers.Real) and 0.0 < float(alpha) < 1.0):
        raise HarnessError(f"stats: alpha must be a number strictly between 0 and 1, got {alpha!r}")


def q_alpha(k: int, alpha: float = 0.05) -> float:
    """Nemenyi's q_alpha: the studentized range quantile (k groups, infinite df) divided by sqrt(2)."""
    _check_alpha(alpha)
    return float(stats.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """CD = q_alpha * sqrt(k (k + 1) / (6 N)) for k methods over N tasks."""
    if k < 2 or n < 1:
        raise HarnessError(f"stats: the critical difference needs k >= 2 methods and N >= 1 tasks, got k={k}, N={n}")
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def _groups(methods: Sequence[str], average: dict[str, float], cd: float) -> tuple[tuple[str, ...], ...]:
    """Maximal runs of >= 2 consecutive methods (in rank order) whose average ranks differ by less than cd."""
    r = [average[m] for m in methods]
    out, last = [], -1
    for i in range(len(r)):
        j = i
        while j + 1 < len(r) and r[j + 1] - r[i] < cd:
            j += 1
        if j > i and j > last:
            out.append(tuple(methods[i:j + 1]))
            last = j
    return tuple(out)


def nemenyi(ranks: Ranks, *, alpha: float = 0.05) -> Nemenyi:
    q = q_alpha(ranks.n_methods, alpha)
    cd = q * math.sqrt(ranks.n_methods * (ranks.n_methods + 1) / (6.0 * ranks.n_tasks))
    return Nemenyi(float(alpha), q, cd, _groups(ranks.methods, ranks.average, cd), dict(ranks.average))


# --- Wilcoxon and Holm -------------------------------------------------------------------------------------
def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted ascending, p_(i) * (m - i + 1), made monotone, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise HarnessError("stats: Holm's correction needs a flat list of p-values in [0, 1]")
    m = len(p)
    out = np.empty(m)
    running = 0.0
    for i, idx in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out


def _check_zero_method(zero_method):
    if zero_method not in ZERO_METHODS:
        raise HarnessError(f"stats: unknown zero_method {zero_method!r}; valid: {', '.join(ZERO_METHODS)}")


def signed_rank_test(d, zero_method: str = "zsplit") -> tuple[float, float, float, float]:
    """Two-sided Wilcoxon signed-rank test of the paired differences `d`: (statistic, p, R+, R-).

    statistic = min(R+, R-) and p are scipy.stats.wilcoxon's with method="auto": exact null distribution
    without ties or zeros (n <= 50), else the normal approximation, except for ties or zeros with n <= 13, where
    scipy runs an exhaustive permutation test. That branch is done here with scipy.stats.permutation_test and a
    vectorised statistic (the ranks of |d| do not change when signs flip), the same exact p-value hundreds of
    times faster. All differences zero: (0, 1, 0, 0), the exact conditional p-value of no difference.
    R+ and R- treat zeros as `zero_method` does ("zsplit": their ranks split evenly between R+ and R-)."""
    _check_zero_method(zero_method)
    d = np.asarray(d, dtype=float)
    if d.ndim != 1 or len(d) == 0 or not np.all(np.isfinite(d)):
        raise HarnessError("stats: the signed-rank test needs a non-empty flat list of finite differences")
    n, zero = len(d), d == 0
    if zero_method == "wilcox":  # zeros dropped before ranking
        r = np.zeros(n)
        if (~zero).any():
            r[~zero] = stats.rankdata(np.abs(d[~zero]))
    else:  # "pratt", "zsplit": zeros take part in the ranking
        r = stats.rankdata(np.abs(d))
    rp, rm = float(r[d > 0].sum()), float(r[d < 0].sum())
    if zero_method == "zsplit":
        half = float(r[zero].sum()) / 2.0
        rp, rm = rp + half, rm + half
    if zero.all():
        return 0.0, 1.0, rp, rm
    nonzero = np.abs(d[~zero])
    tied = len(np.unique(nonzero)) < len(nonzero)
    if (tied or zero.any()) and n <= 13:
        def r_plus(x, axis=-1):
            return np.sum((x > 0) * r, axis=axis)

        p = stats.permutation_test((d,), r_plus, permutation_type="samples", vectorized=True,
                                   n_resamples=np.inf, alternative="two-sided").pvalue
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's small-sample notices; the method is documented above
            p = stats.wilcoxon(d, zero_method=zero_method, alternative="two-sided", method="auto").pvalue
    p = float(p)
    if not math.isfinite(p):  # cannot happen with a nonzero difference; say so rather than carry a NaN
        raise HarnessError("stats: the signed-rank test gave no p-value")
    return min(rp, rm), p, rp, rm


def _wilcoxon(ranks: Ranks, a: str, b: str, zero_method: str, decimals) -> dict:
    d = _round(ranks.values[a].to_numpy() - ranks.values[b].to_numpy(), decimals)
    s = d if ranks.higher_is_better else -d  # > 0: a is better
    n = len(d)
    wins, ties = int(np.sum(s > 0)), int(np.sum(s == 0))
    stat, p, rp, rm = signed_rank_test(d, zero_method)
    if not ranks.higher_is_better:
        rp, rm = rm, rp
    # matched-pairs rank-biserial correlation (Kerby 2014): (R+ - R-) / (R+ + R-), zeros treated as the test does
    rrb = float((rp - rm) / (rp + rm)) if rp + rm > 0 else 0.0
    return dict(a=a, b=b, n=n, wins=wins, ties=ties, losses=n - wins - ties, statistic=float(stat), p_value=p,
                rank_biserial=rrb, median_diff=float(np.median(d)))


def _family(ranks: Ranks, pairs, alpha, zero_method, decimals) -> tuple[Comparison, ...]:
    _check_alpha(alpha)
    _check_zero_method(zero_method)
    _check_decimals(decimals)
    raw = [_wilcoxon(ranks, a, b, zero_method, decimals) for a, b in pairs]
    adj = holm([r["p_value"] for r in raw]) if raw else []
    return tuple(Comparison(**r, p_holm=float(q), reject=bool(q < alpha)) for r, q in zip(raw, adj))


def pairwise_wilcoxon(ranks: Ranks, *, alpha: float = 0.05, zero_method: str = "zsplit",
                      decimals: int | None = 10) -> tuple[Comparison, ...]:
    """Wilcoxon signed-rank tests of every pair (a ranked above b), Holm-corrected over all k (k - 1) / 2."""
    m = ranks.methods
    return _family(ranks, [(m[i], m[j]) for i in range(len(m)) for j in range(i + 1, len(m))],
                   alpha, zero_method, decimals)


def candidates(methods: Sequence[str], candidate: str) -> tuple[str, ...]:
    """The labels that are `candidate` or start with it (e.g. mathnas -> mathnas-single, mathnas @100)."""
    return tuple(m for m in methods if m.startswith(candidate))


def versus(ranks: Ranks, candidate: str = "mathnas", *, alpha: float = 0.05, zero_method: str = "zsplit",
           decimals: int | None = 10) -> tuple[Comparison, ...]:
    """Every method starting with `candidate` against every other method, Holm-corrected over these tests."""
    if not isinstance(candidate, str) or not candidate:
        raise HarnessError(f"stats: candidate must be a non-empty method name, got {candidate!r}")
    mine = candidates(ranks.methods, candidate)
    if not mine:
        raise HarnessError(f"stats: candidate {candidate!r} matches no method; methods: "
                           f"{', '.join(sorted(ranks.methods))}")
    others = [m for m in ranks.methods if m not in mine]
    if not others:
        raise HarnessError(f"stats: every method starts with candidate {candidate!r}; nothing to compare against")
    return _family(ranks, [(c, o) for c in mine for o in others], alpha, zero_method, decimals)


def analyze(frame: pd.DataFrame, *, higher_is_better: bool, candidate: str | None = "mathnas",
            alpha: float = 0.05, zero_method: str = "zsplit", tie_correction: bool = True,
            decimals: int | None = 10, metric: str = "value") -> Report:
    """Ranks, Friedman, Nemenyi, pairwise Holm-Wilcoxon and (unless candidate is None) candidate vs others."""
    _check_alpha(alpha)
    _check_zero_method(zero_method)
    rk = rank_methods(frame, higher_is_better=higher_is_better, decimals=decimals)
    vs = () if candidate is None else versus(rk, candidate, alpha=alpha, zero_method=zero_method,
                                               decimals=decimals)
    return Report(ranks=rk, friedman=friedman(rk, tie_correction=tie_correction), nemenyi=nemenyi(rk, alpha=alpha),
                  pairwise=pairwise_wilcoxon(rk, alpha=alpha, zero_method=zero_method, decimals=decimals),
                  versus=vs, candidate=candidate, alpha=float(alpha), zero_method=zero_method, metric=str(metric))


# --- renderers ---------------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~$&])")  # inline syntax; block syntax only matters at line start
_MD_LINE_START = re.compile(r"^([#+=>-]|\d+(?=[.)]))")
_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&",
                "#": r"\#", "$": r"\$", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
                "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
                "χ²": r"$\chi^2$", "α": r"$\alpha$"}
_TEX_RE = re.compile("|".join(re.escape(c) for c in _TEX_SPECIAL))


def _oneline(text) -> str:
    return " ".join(str(text).split())


def md_escape(text) -> str:
    """A label safe in a Markdown (CommonMark / GitHub) table cell: every inline formatting character backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _oneline(text))


def md_paragraph(text) -> str:
    """Like md_escape, and a leading heading / list / quote marker is escaped too (for a line of its own)."""
    text = md_escape(text)
    m = _MD_LINE_START.match(text)
    if not m:
        return text
    if m.group(1).isdigit():  # "1." or "1)" would start an ordered list
        return m.group(1) + "\\" + text[len(m.group(1)):]
    return "\\" + text


def tex_escape(text) -> str:
    """A label safe in LaTeX text mode (one pass, so nothing is escaped twice)."""
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], _oneline(text))


def html_escape(text) -> str:
    return html.escape(_oneline(text), quote=True)


def _fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "inf" if x == math.inf else "n/a"
    return f"{x:.{digits}f}"


def _fmt_g(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"


def _sections(r: Report):
    """The content shared by all renderers: a summary (list of (text, math-ish) parts) and three tables.

    Returns (summary_lines, tables); each table = (title, header, rows), every cell a plain string (method
    labels are marked as ('label', text) so each renderer escapes them its own way)."""
    rk, fr, ne = r.ranks, r.friedman, r.nemenyi
    direction = "higher" if rk.higher_is_better else "lower"
    lines = [f"{r.metric} ({direction} is better): {rk.n_tasks} tasks with a value for every method, "
             f"{rk.n_methods} methods"
             + (f"; {len(rk.dropped)} task(s) dropped because some method had no value there"
                if rk.dropped else "") + "."]
    if fr.all_tied:
        lines.append("All methods tie on every task: no differences to test (Friedman χ² = 0, p = 1).")
    else:
        lines.append(f"Friedman χ²({fr.df}) = {fr.chi2:.3f}, p = {_fmt_p(fr.p_value)}"
                     + (" (tie-corrected)" if fr.tie_correction else "")
                     + f"; Iman-Davenport F({fr.f_df[0]}, {fr.f_df[1]}) = {_fmt(fr.f)}, p = {_fmt_p(fr.f_p_value)}: "
                     + ("equal ranks rejected" if fr.rejects(r.alpha) else "equal ranks not rejected")
                     + f" at α = {r.alpha:g}.")
        if not fr.rejects(r.alpha):
            lines.append("Without a rejection by the Friedman test no post-hoc difference should be claimed.")
    lines.append(f"Nemenyi critical difference at α = {r.alpha:g}: CD = {ne.cd:.3f} (q = {ne.q_alpha:.3f}); "
                 f"methods sharing a group letter are not significantly different.")
    lines.append(f"Wilcoxon signed-rank tests: zero_method = {r.zero_method}, two-sided, Holm-corrected; "
                 f"r = matched-pairs rank-biserial correlation (> 0: the first method is better); "
                 f"median diff = median over tasks of first - second ({r.metric}).")
    letters = ne.letters()
    ranks_t = ("Average ranks (1 = best)", ["#", "method", "average rank", "Nemenyi group"],
               [[str(i + 1), ("label", m), _fmt(rk.average[m]), letters[m]] for i, m in enumerate(rk.methods)])

    def rows(comps, nemenyi_col):
        out = []
        for c in comps:
            row = [("label", c.a), ("label", c.b), f"{c.wins}/{c.ties}/{c.losses}", _fmt_g(c.median_diff),
                   _fmt(c.rank_biserial), _fmt_p(c.p_value), _fmt_p(c.p_holm), "yes" if c.reject else "no"]
            if nemenyi_col:
                row.append("yes" if ne.differ(c.a, c.b) else "no")
            out.append(row)
        return out

    head = ["method", "vs", "W/T/L", "median diff", "r", "p", "p (Holm)", f"Holm p < {r.alpha:g}"]
    tables = [ranks_t]
    if r.versus:
        mine = candidates(rk.methods, r.candidate)
        tables.append((f"{', '.join(mine)} against each other method ({len(r.versus)} tests, Holm over them)",
                       head, rows(r.versus, False)))
    tables.append((f"All pairs ({len(r.pairwise)} tests, Holm over them)", head + ["Nemenyi differ"],
                   rows(r.pairwise, True)))
    return lines, tables


def _cell(c, esc) -> str:
    return esc(c[1]) if isinstance(c, tuple) else esc(c)


def to_markdown(r: Report) -> str:
    lines, tables = _sections(r)
    out = []
    for line in lines:  # one paragraph each
        out += [md_paragraph(line), ""]
    out.pop()
    for title, head, rows in tables:
        out += ["", f"**{md_escape(title)}**", "", "| " + " | ".join(md_escape(h) for h in head) + " |",
                "|" + "|".join(":--" if i < 2 else "--:" for i in range(len(head))) + "|"]
        out += ["| " + " | ".join(_cell(c, md_escape) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def to_latex(r: Report) -> str:
    """Booktabs tables (one `table` float each), the summary as the first caption; needs \\usepackage{booktabs}."""
    lines, tables = _sections(r)
    out = []
    for i, (title, head, rows) in enumerate(tables):
        caption = tex_escape(title) + ("" if i else ". " + " ".join(tex_escape(x) for x in lines))
        out += [r"\begin{table}[t]", r"\centering", r"\caption{" + caption + "}",
                r"\begin{tabular}{" + "ll" [:min(2, len(head))] + "r" * (len(head) - 2) + "}", r"\toprule",
                " & ".join(tex_escape(h) for h in head) + r" \\", r"\midrule"]
        out += [" & ".join(_cell(c, tex_escape) for c in row) + r" \\" for row in rows]
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)


def to_html(r: Report) -> str:
    """An HTML fragment (a <section>): the summary as paragraphs, each table with a caption."""
    lines, tables = _sections(r)
    out = ['<section class="stats">'] + [f"<p>{html_escape(line)}</p>" for line in lines]
    for title, head, rows in tables:
        out.append(f"<table><caption>{html_escape(title)}</caption><thead><tr>"
                   + "".join(f"<th>{html_escape(h)}</th>" for h in head) + "</tr></thead><tbody>")
        out += ["<tr>" + "".join(f"<td>{_cell(c, html_escape)}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out) + "\n"


# --- critical-difference diagram ---------------------------------------------------------------------------
def _mpl_text(text) -> str:
    return _oneline(text).replace("$", r"\$")  # a pair of $ would start matplotlib's mathtext


def cd_diagram(ranks: Ranks, nemenyi_result: Nemenyi, stem, *, title: str | None = None,
               width: float | None = None) -> tuple[Path, Path]:
    """Demšar's critical-difference diagram, written to `stem`.png and `stem`.svg; returns both paths.

    Axis of average ranks (1 = best, on the left), each method a tick with its name (the better half on the
    left, the rest on the right), the CD above the axis, and thick bars joining the methods whose average ranks
    differ by less than CD (Nemenyi, not significantly different)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    stem = Path(stem)
    if stem.suffix.lower() in (".png", ".svg"):
        stem = stem.with_suffix("")
    methods, avg, cd = ranks.methods, ranks.average, nemenyi_result.cd
    k = len(methods)
    width = float(width) if width else max(7.0, 4.4 + 0.45 * (k - 1))  # inches; about 0.45 per rank unit
    text_space = min(2.2, width * 0.3)
    lo, hi = 1, k
    scale = (width - 2 * text_space) / (hi - lo)

    def x(rank):
        return text_space + (rank - lo) * scale

    line_h, top = 0.24, (0.55 if title else 0.25)
    cline = top + 0.55
    groups = nemenyi_result.groups
    first = cline + 0.25 + 0.12 * len(groups)
    n_left = (k + 1) // 2
    height = first + line_h * max(n_left, k - n_left) + 0.15
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "mathnas-bench-stats", "font.size": 9}):
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_axis_off()
        black = dict(color="black", linewidth=0.8, solid_capstyle="butt")
        if title:
            ax.text(width / 2, 0.12, _mpl_text(title), ha="center", va="top", fontsize=10)
        # rank axis with ticks at every integer and half rank
        ax.plot([x(lo), x(hi)], [cline, cline], **black)
        for i in range(2 * (hi - lo) + 1):
            v = lo + i / 2
            ax.plot([x(v), x(v)], [cline, cline - (0.1 if i % 2 == 0 else 0.05)], **black)
            if i % 2 == 0:
                ax.text(x(v), cline - 0.13, f"{v:g}", ha="center", va="bottom", fontsize=8)
        # the critical difference, drawn from rank 1
        ycd = top + 0.05
        ax.plot([x(lo), x(lo + cd)], [ycd, ycd], color="black", linewidth=1.2)
        for v in (lo, lo + cd):
            ax.plot([x(v), x(v)], [ycd - 0.04, ycd + 0.04], color="black", linewidth=1.2)
        ax.text(x(lo + cd / 2), ycd - 0.05, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
        # methods: the better half to the left, the others to the right; lines never cross
        for i, m in enumerate(methods):
            if i < n_left:
                y, xe, ha = first + i * line_h, text_space - 0.1, "right"
            else:
                y, xe, ha = first + (k - 1 - i) * line_h, width - text_space + 0.1, "left"
            ax.plot([x(avg[m]), x(avg[m]), xe], [cline, y, y], **black)
            label = f"{_mpl_text(m)} ({avg[m]:.2f})" if ha == "left" else f"({avg[m]:.2f}) {_mpl_text(m)}"
            ax.text(xe + (0.05 if ha == "left" else -0.05), y, label, ha=ha, va="center")
        # thick bars for the groups not significantly different
        for j, g in enumerate(groups):
            y = cline + 0.15 + 0.12 * j
            ax.plot([x(avg[g[0]]) - 0.04, x(avg[g[-1]]) + 0.04], [y, y], color="black", linewidth=3.0,
                    solid_capstyle="round")
        stem.parent.mkdir(parents=True, exist_ok=True)
        png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
        # "tight" grows the canvas to hold long labels
        fig.savefig(png, dpi=150, bbox_inches="tight", pad_inches=0.08, metadata={"Software": None})
        fig.savefig(svg, bbox_inches="tight", pad_inches=0.08, metadata={"Date": None})
    return png, svg
