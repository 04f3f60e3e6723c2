"""Architecture codes: one int per block node. Enumeration order, ranks and Eq. 9 depth validity (skip groups)."""
from __future__ import annotations

import numpy as np


def product_codes(num_choices) -> np.ndarray:
    """All codes of a product space in lexicographic order (last node varies fastest)."""
    grids = np.meshgrid(*[np.arange(n) for n in num_choices], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


def code_keys(codes) -> list[bytes]:
    """One hashable key per code, by value (codes that have no table row are counted and looked up so)."""
    codes = np.ascontiguousarray(np.atleast_2d(codes), dtype=np.int64)
    return [c.tobytes() for c in codes]


def swap_codes(code, num_choices) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """`code` followed by every one-block swap of it (one other choice at one block, in block then choice
    order), and the (block, choice) of each swap: LANA's teacher probes and evolution's mutations."""
    code = np.asarray(code, dtype=np.int64).reshape(-1)
    codes, where = [code.copy()], []
    for i, n in enumerate(num_choices):
        for j in range(n):
            if j != code[i]:
                c = code.copy()
                c[i] = j
                codes.append(c)
                where.append((i, j))
    return np.stack(codes), where


def random_codes(k: int, seed: int, num_choices) -> np.ndarray:
    """k uniformly random codes of a product space (with replacement), seeded: `sample` of the spaces whose
    every code is an architecture (their `index` maps it to its network)."""
    rng = np.random.default_rng(seed)
    n = tuple(num_choices)
    high = n[0] if len(set(n)) == 1 else np.asarray(n)     # a scalar keeps the stream the spaces always drew
    return rng.integers(0, high, size=(int(k), len(n))).astype(np.int64)


def lexicographic_rank(codes, num_choices) -> np.ndarray:
    """Row of each code in `product_codes(num_choices)` (mixed-radix number)."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    rank = np.zeros(codes.shape[0], dtype=np.int64)
    for i, n in enumerate(num_choices):
        rank = rank * n + codes[:, i]
    return rank


def unrank(ranks, num_choices) -> np.ndarray:
    """Codes with the given lexicographic ranks (the inverse of `lexicographic_rank`)."""
    ranks = np.asarray(ranks, dtype=np.int64).copy()
    codes = np.empty((ranks.size, len(num_choices)), dtype=np.int64)
    for i in range(len(num_choices) - 1, -1, -1):
        codes[:, i] = ranks % num_choices[i]
        ranks //= num_choices[i]
    return codes


SkipGroups = tuple[tuple[int, ...], ...]
SkipChoice = tuple[int | None, ...]


def skip_structure(num_choices, skip_from: int | None = None, skip_groups=None, skip_choice=None,
                   what: str = "space") -> tuple[SkipGroups, SkipChoice]:
    """The Eq. 9 structure as (groups, skip choice per node), validated.

    A group lists nodes in network order; inside a group the skipped nodes form a suffix (a skipped node's
    later group-mates are skipped too). `skip_choice[i]` is the choice of node i that means "skip" (None for
    nodes in no group). `skip_from=s` is the shorthand for one group (s, ..., m-1) whose LAST choices are
    the skips (synthetic spaces); giving both is allowed only when they say the same. Nodes of a group need a
    real choice besides skip. ((), (None,) * m) when the space has no variable depth."""
    from core.errors import HarnessError

    n = tuple(int(v) for v in num_choices)
    m = len(n)
    derived = None
    if skip_from is not None:
        if isinstance(skip_from, bool) or not isinstance(skip_from, (int, np.integer)) or not 0 <= skip_from < m:
            raise HarnessError(f"{what}: skip_from={skip_from!r} outside 0..{m - 1}")
        derived = ((tuple(range(int(skip_from), m)),),
                   tuple(n[i] - 1 if i >= skip_from else None for i in range(m)))
    if skip_groups is None:
        if skip_choice is not None and any(c is not None for c in skip_choice):
            raise HarnessError(f"{what}: skip_choice given without skip_groups")
        groups, choice = derived if derived is not None else ((), (None,) * m)
    else:
        try:
            groups = tuple(tuple(int(i) for i in g) for g in skip_groups)
            choice = tuple(None if c is None else int(c) for c in (skip_choice if skip_choice is not None else ()))
        except (TypeError, ValueError):
            raise HarnessError(f"{what}: skip_groups must be tuples of node indices and skip_choice one int or "
                               f"None per node") from None
        if len(choice) != m:
            raise HarnessError(f"{what}: skip_choice needs one entry per node ({m}), got {len(choice)}")
        if derived is not None and (groups, choice) != derived:
            raise HarnessError(f"{what}: skip_from={skip_from} disagrees with skip_groups/skip_choice")
    seen: set[int] = set()
    for g in groups:
        for i in g:
            if not 0 <= i < m or i in seen:
                raise HarnessError(f"{what}: skip group node {i} is outside 0..{m - 1} or in two groups")
            seen.add(i)
            c = choice[i]
            if c is None or not 0 <= c < n[i]:
                raise HarnessError(f"{what}: node {i} of a skip group needs a skip choice in 0..{n[i] - 1}, got {c}")
            if n[i] < 2:
                raise HarnessError(f"{what}: skippable node {i} needs a real choice besides skip")
    if any(c is not None for i, c in enumerate(choice) if i not in seen):
        raise HarnessError(f"{what}: skip_choice names a skip for a node in no skip group")
    return groups, choice


def skip_pairs(groups: SkipGroups, choice: SkipChoice) -> list[tuple[int, int, int, int]]:
    """(node, its skip choice, next node of the group, its skip choice) for every consecutive pair: Eq. 9 says
    skip(node) implies skip(next)."""
    return [(g[k], choice[g[k]], g[k + 1], choice[g[k + 1]]) for g in groups for k in range(len(g) - 1)]


def depth_valid(codes, num_choices, skip_from: int | None = None, skip_groups=None, skip_choice=None) -> np.ndarray:
    """Eq. 9 ordering: inside each skip group a skipped node's later group-mates are skipped too
    (shorthand `skip_from`: one group of the nodes >= skip_from, whose last choice is "skip")."""
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    ok = np.ones(codes.shape[0], dtype=bool)
    groups, choice = skip_structure(num_choices, skip_from, skip_groups, skip_choice)
    for i, si, k, sk in skip_pairs(groups, choice):
        ok &= (codes[:, i] != si) | (codes[:, k] == sk)
    return ok


def space_skip_structure(space) -> tuple[SkipGroups, SkipChoice]:
    """A space's Eq. 9 structure from its optional `skip_groups`/`skip_choice` attributes, else `skip_from`."""
    return skip_structure(space.num_choices, getattr(space, "skip_from", None), getattr(space, "skip_groups", None),
                          getattr(space, "skip_choice", None), what=f"space {getattr(space, 'name', '')!r}")


def check_codes(codes, num_choices, what: str = "space") -> np.ndarray:
    """Codes as a (k, m) int array with every entry in 0..n_i-1, or a one-line error."""
    from core.errors import HarnessError

    try:
        codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    except (TypeError, ValueError, OverflowError):
        raise HarnessError(f"{what}: codes must be whole numbers") from None
    if codes.ndim != 2 or codes.shape[1] != len(num_choices):
        raise HarnessError(f"{what}: codes must have shape (k, {len(num_choices)}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or np.any(codes >= np.asarray(num_choices))):
        raise HarnessError(f"{what}: code entries must be in 0..n_i-1 for n = {list(num_choices)}")
    return codes
