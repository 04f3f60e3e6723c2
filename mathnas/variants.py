"""Block-profiling variants: a registry, so a new profiling idea is one function and one registration line.

Built-ins are registered by entry points (group mathnas_bench.variants in pyproject.toml), as another
distribution would register its own. A variant is `fn(prof: Profiler, **own_params) -> BlockTables`: it spends
evaluations only through `prof.evaluate` (the counting, budgeted oracle) and usually ends with
`prof.tables(...)`. The worked example (`multi`, Algorithm 1 around several random networks) is
tests/plugins/example_plugin/variant.py, shown in docs/architecture.md.

`mathnas-bench predict --method mathnas --variant multi --param plugin=my_module --param contexts=8`
imports `my_module` (a module name on sys.path, or a path to a .py file) before looking the variant
up; every other --param the variant declares is passed to it. (`@register_variant` is for such plugin
files; a package registers its variants with an entry point instead.)
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from math import prod
from pathlib import Path
from typing import Callable

import numpy as np

from core.codes import unrank
from core.errors import BudgetExhausted, HarnessError, one_line, unknown_name
from core.registry import VARIANTS
from core.validation import as_bool, check_float
from mathnas.blocks import BlockTables, Profiler

BASE_NETS = ("average", "random")


def register_variant(name: str):
    """Decorator for `plugin=` files: make `fn(prof, **params) -> BlockTables` available as `--variant name`."""
    if not isinstance(name, str) or not name.strip():
        raise HarnessError(f"variant name must be a non-empty string, got {name!r}")

    def deco(fn):
        VARIANTS.add(name, fn)
        return fn
    return deco


def get_variant(name: str) -> Callable[..., BlockTables]:
    if not isinstance(name, str):
        raise unknown_name("MathNAS variant", name, VARIANTS.names())
    return VARIANTS.get(name)


SANDBOX_ENV = "MATHNAS_BENCH_SANDBOX"   # "host": plug-in files run only in containers, never here


def sandboxed_host() -> bool:
    """True in a driver whose cells run in containers (--executor docker, --sandbox): it must not import
    plug-in files itself (they may do anything), so their variants are checked inside the container."""
    return os.environ.get(SANDBOX_ENV) == "host"


def load_plugins(plugins) -> list[str]:
    """Import user modules (names, or paths to .py files; a list or a comma-separated string) so that
    their `@register_variant` decorators run. Returns the module names imported (none on a sandboxed host)."""
    if plugins is None or sandboxed_host():
        return []
    items = plugins if isinstance(plugins, (list, tuple)) else str(plugins).split(",")
    loaded = []
    for item in (str(p).strip() for p in items):
        if not item:
            continue
        path = Path(item)
        try:
            if item.endswith(".py"):
                if not path.is_file():
                    raise HarnessError(f"plugin file {item!r} does not exist")
                mod_name = f"mathnas_plugin_{path.stem}"
                spec = importlib.util.spec_from_file_location(mod_name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(item)
                mod_name = item
        except HarnessError:
            raise
        except ModuleNotFoundError as e:
            raise HarnessError(f"plugin {item!r}: module not found ({e.name}); put it on PYTHONPATH or pass a .py path") from None
        except Exception as e:  # noqa: BLE001 - user code: report it in one line
            raise HarnessError(f"plugin {item!r} failed to import: {type(e).__name__}: {e}") from None
        loaded.append(mod_name)
    return loaded


def check_variant_params(name: str, params: dict):
    """The variant's function, after checking it accepts `params` (one-line error naming the first unknown)."""
    fn = get_variant(name)
    sig = inspect.signature(fn)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    accepted = [p for p in list(sig.parameters)[1:] if sig.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    unknown = sorted(k for k in params if k not in accepted)
    if unknown and not takes_any:
        raise HarnessError(f"MathNAS variant {name!r} takes no parameter {unknown[0]!r}; "
                           f"it takes: {', '.join(accepted) or 'none'}")
    return fn


def run_variant(name: str, prof: Profiler, **params) -> BlockTables:
    """Run a registered variant with its own parameters; unknown parameters are a one-line error, and so is
    any exception a plugin variant raises (budget exhaustion included)."""
    fn = check_variant_params(name, params)
    try:
        tables = fn(prof, **params)
    except HarnessError:
        raise
    except Exception as e:  # noqa: BLE001 - a plugin's own bug: one line naming the variant
        raise HarnessError(f"MathNAS variant {name!r} failed: {one_line(f'{type(e).__name__}: {e}', 300)}") from None
    if not isinstance(tables, BlockTables):
        raise HarnessError(f"MathNAS variant {name!r} returned {type(tables).__name__}, not BlockTables")
    if tables.num_choices != prof.spec.num_choices:
        raise HarnessError(f"MathNAS variant {name!r}: tables for choices {list(tables.num_choices)}, "
                           f"space has {list(prof.spec.num_choices)}")
    missing = [m for m in prof.metrics if m not in tables.blocks]
    if missing:
        raise HarnessError(f"MathNAS variant {name!r} returned no {missing[0]} table")
    return tables


# --- the paper's variants (registered in pyproject.toml) ------------------------------------------
def single(prof: Profiler, base_net: str = "average") -> BlockTables:
    """Algorithm 1: block values from one network, N_avg (or a seeded random one: Table 5 ablation).
    Cost: 1 + sum_i (n_i - 1) networks, plus the base network: O(m*n)."""
    if base_net not in BASE_NETS:
        raise unknown_name("base_net", str(base_net), BASE_NETS)
    context = prof.average_code() if base_net == "average" else prof.random_code()
    blocks = prof.sweep(context)
    return prof.tables(blocks, ref_flops=prof.spec.reference_flops(context), variant="single", context=context,
                       info={"base_net": base_net})


def full(prof: Profiler) -> BlockTables:
    """Eq. 3/7: the difference averaged over every context of the other nodes (all n^m networks).

    On a table of samples (FBNet, OFA) "every network" is every queryable row: the same marginal means over
    the rows, anchored on the marginal model's own base value (the base network has no measurement)."""
    codes = prof.all_codes()
    values = prof.evaluate(codes)
    return prof.tables(prof.marginal(codes, values), ref_flops=prof.spec.reference_flops(codes),
                       variant="full", base_value=_anchor(prof, codes, values))


def _anchor(prof: Profiler, codes, values) -> dict[str, float] | None:
    """On a table of samples, the marginal model's base value; elsewhere None (the base network is measured)."""
    return None if prof.population is None else prof.marginal_anchor(codes, values)


def sampled(prof: Profiler, fraction: float = 0.05, paired=False) -> BlockTables:
    """Eq. 3 estimated on a seeded random `fraction` (the paper's 5%, Fig. 2).

    paired=False (default): evaluate `fraction` of all networks; b[i][j] = mean over the sampled networks
      with node i = base minus mean over those with node i = j (each block averaged over about
      `fraction` of its contexts; cost fraction * n^m networks).
    paired=True: per node, a `fraction` of the contexts of the other nodes, each evaluated with every
      choice at that node; b[i][j] = mean of the paired differences (exact on additive spaces; cost
      about m * fraction * n^m networks).
    Codes without a row (a space's `valid`) are dropped: unpaired, the code; paired, its whole context.
    On a table of samples (FBNet, OFA) the `fraction` is of the queryable rows (unpaired only), anchored on
    the marginal model's base value as in `full`."""
    fraction = check_float("fraction", fraction, 0.0, 1.0, low_open=True)
    paired = as_bool(paired, "paired")
    spec = prof.spec
    base_value = None
    if prof.population is not None:   # a table of samples: a `fraction` of its queryable rows
        if paired:
            raise HarnessError("MathNAS variant 'sampled': paired=true needs every choice in each sampled context; "
                               "this benchmark's table holds only its published samples (use paired=false)")
        pool = prof.population
        codes = pool[np.sort(prof.rng.choice(len(pool), size=max(1, int(round(fraction * len(pool)))),
                                             replace=False))]
        values = prof.evaluate(codes)
        blocks, base_value = prof.marginal(codes, values), prof.marginal_anchor(codes, values)
    elif paired:
        codes, where = [], []
        for i, n in enumerate(spec.num_choices):
            others = [c for k, c in enumerate(spec.num_choices) if k != i]
            contexts = _sample_codes(prof.rng, others, fraction)
            for ctx in contexts:
                group = np.stack([np.insert(ctx, i, j) for j in range(n)])
                if not spec.is_valid(group).all():   # a context where some choice has no row is left out
                    continue
                codes.extend(group)
                where.extend((i, j) for j in range(n))
        codes = np.array(codes, dtype=np.int64)
        values = prof.evaluate(codes)
        blocks = {}
        for m, v in values.items():
            tables = []
            for i, n in enumerate(spec.num_choices):
                mine = np.array([w[0] == i for w in where])
                per = v[mine].reshape(-1, n)  # one row per context, one column per choice
                tables.append(per[:, prof.base[i]].mean() - per.mean(axis=0))
            blocks[m] = tuple(tables)
    else:
        codes = _sample_codes(prof.rng, spec.num_choices, fraction)
        codes = codes[spec.is_valid(codes)]
        need, left = len({tuple(c) for c in codes.tolist()}), prof.remaining()
        if left is not None and need > left:
            raise BudgetExhausted(f"variant sampled evaluates {need:,} networks (fraction {fraction:g} of "
                                  f"{spec.size:,}); the budget allows {left:,}: lower it with --param fraction=...")
        blocks = prof.marginal(codes, prof.evaluate(codes))
    return prof.tables(blocks, ref_flops=spec.reference_flops(codes), variant="sampled", base_value=base_value,
                       info={"fraction": fraction, "paired": paired,
                             "networks": int(len({tuple(c) for c in codes.tolist()}))})


def _sample_codes(rng, num_choices, fraction: float) -> np.ndarray:
    """A uniform random `fraction` (at least one) of the codes of a product space, without replacement."""
    size = prod(num_choices)
    k = max(1, int(round(fraction * size)))
    if size < 2**62:
        return unrank(rng.choice(size, size=k, replace=False), num_choices)
    # too many to rank: independent uniform codes (the oracle counts duplicates once)
    return np.stack([rng.integers(0, n, size=k) for n in num_choices], axis=1).astype(np.int64)
