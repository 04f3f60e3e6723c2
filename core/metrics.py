"""Prediction and search metrics. Correlations come from scipy.stats; nothing hand-rolled where a library has it."""
from __future__ import annotations

import numpy as np
from scipy import stats


def _pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(true, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"prediction has {p.size} values, truth {t.size}")
    return p, t


def kendall_tau(pred, true) -> float:
    p, t = _pair(pred, true)
    return float(stats.kendalltau(p, t).statistic)


def spearman(pred, true) -> float:
    p, t = _pair(pred, true)
    return float(stats.spearmanr(p, t).statistic)


def mse(pred, true) -> float:
    p, t = _pair(pred, true)
    return float(np.mean((p - t) ** 2))


def mae(pred, true) -> float:
    p, t = _pair(pred, true)
    return float(np.mean(np.abs(p - t)))


def mape(pred, true) -> float:
    p, t = _pair(pred, true)
    return float(np.mean(np.abs(p - t) / np.abs(t)))


def top_k_overlap(pred, true, k: int) -> float:
    """precision@k (NASLib): share of the true top-k (largest) found in the predicted top-k."""
    p, t = _pair(pred, true)
    k = min(k, p.size)
    top_p = set(np.argsort(-p, kind="stable")[:k].tolist())
    top_t = set(np.argsort(-t, kind="stable")[:k].tolist())
    return len(top_p & top_t) / k


def kendall_tau_rounded(pred, true, decimals: int = 1) -> float:
    """NASLib's 'Kendall tau after rounding' (to one decimal by default), which ignores tiny differences."""
    p, t = _pair(pred, true)
    return kendall_tau(np.round(p, decimals), np.round(t, decimals))


def seed_kendall_tau(per_seed) -> dict:
    """The seed-to-seed noise ceiling of a ranking: Kendall tau between every pair of training seeds over the
    same architectures (`per_seed`: (seeds, rows), e.g. NASBenchMacro.seed_accuracies). No predictor can be
    expected to rank one seed's results better than another seed does."""
    v = np.asarray(per_seed, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 2:
        raise ValueError(f"per-seed values need shape (seeds >= 2, rows), got {v.shape}")
    pairs = {f"{a}-{b}": kendall_tau(v[a], v[b]) for a in range(v.shape[0]) for b in range(a + 1, v.shape[0])}
    return {"pairs": pairs, "mean": float(np.mean(list(pairs.values())))}


def prediction_scores(pred, true, ranking: bool = True) -> dict[str, float]:
    """The JSON block of `predict`: tau, rho, MSE, MAE (and top-k overlaps when `ranking`)."""
    out = {"kendall_tau": kendall_tau(pred, true), "spearman": spearman(pred, true),
           "mse": mse(pred, true), "mae": mae(pred, true)}
    if ranking:
        out.update({"precision_at_10": top_k_overlap(pred, true, 10),
                    "precision_at_20": top_k_overlap(pred, true, 20),
                    "kendall_tau_rounded": kendall_tau_rounded(pred, true)})
    return out


def regret(optimum_accuracy: float, found_accuracy: float | None) -> float | None:
    """True optimum minus the true accuracy of what was found (>= 0); None when nothing was found."""
    return None if found_accuracy is None else float(optimum_accuracy - found_accuracy)


def feasible(values: dict[str, float], limits: dict[str, float]) -> bool:
    """Whether true metric values meet every limit."""
    return all(values[m] <= limit for m, limit in limits.items())


def bootstrap_ci(samples, confidence: float = 0.95, seed: int = 0, n_resamples: int = 2000) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (scipy.stats.bootstrap). One sample: (x, x); empty: (nan, nan)."""
    x = np.asarray(samples, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(samples, seed: int = 0) -> dict[str, float]:
    """mean, std, 95% bootstrap CI and count over seeds."""
    x = np.asarray(samples, dtype=np.float64)
    x = x[~np.isnan(x)]
    lo, hi = bootstrap_ci(x, seed=seed)
    return {"mean": float(x.mean()) if x.size else float("nan"),
            "std": float(x.std(ddof=1)) if x.size > 1 else 0.0, "ci_low": lo, "ci_high": hi, "n": int(x.size)}
