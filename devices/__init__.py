"""Device profiles: measured tables, analytic costs, live measurement on this machine, user files.

Profiles come from the entry-point group mathnas_bench.devices (a DeviceProfile, or a function returning
one or a list), plus the user's own CSVs (`--device-file`, carried in core.sources.Sources). Nothing is
registered at run time: `get_profile(name, sources)` looks in the user's files first, then the registry,
then makes `local-cpu-bB-tT` (another batch/thread setting of the live profile) on demand. `none` is the
profile of no hardware at all (accuracy, FLOPs and params only), for spaces no device measures
(TransNAS-Bench-101) or problems limited by FLOPs/params alone; it is built in, not registered, because it
has no metric to offer.
"""
from __future__ import annotations

from functools import lru_cache

from core.errors import HarnessError, unknown_name
from core.protocols import ANY_SPACE, DeviceProfile
from core.registry import DEVICES
from core.sources import Sources
from devices import local
from devices.user_file import profile_from_file


NO_DEVICE = "none"


@lru_cache(maxsize=1)
def no_device() -> DeviceProfile:
    """`none`: no latency, no energy, on every space (the ground truth then has accuracy, FLOPs and params)."""
    return DeviceProfile(NO_DEVICE, "none", (), "no hardware metric: accuracy, FLOPs and params only",
                         lambda space, dataset, sources: {}, coverage={ANY_SPACE: None},
                         note="for spaces no device measures, or limits on FLOPs/params only")


@lru_cache(maxsize=1)
def registered() -> dict[str, DeviceProfile]:
    """Every profile of the registry, by name (entry points read once per process).

    One device may be measured on several spaces by different providers (`fpga` has NAS-Bench-201 and
    FBNet tables): profiles of one name with disjoint space coverage merge into one that asks each
    provider for its own spaces; overlapping coverage is an error naming both entry points."""
    out: dict[str, DeviceProfile] = {}
    origin: dict[str, str] = {}
    for entry, obj in DEVICES.items():
        made = obj() if callable(obj) and not isinstance(obj, DeviceProfile) else obj
        for p in made if isinstance(made, (list, tuple)) else [made]:
            if not isinstance(p, DeviceProfile):
                raise HarnessError(f"device entry point {entry!r} gave {type(p).__name__}, not a DeviceProfile")
            if p.name in out:
                p = _merge(out[p.name], p, f"{origin[p.name]} and {entry}")
            out[p.name], origin[p.name] = p, origin.get(p.name, entry)
    return out


def _merge(a: DeviceProfile, b: DeviceProfile, entries: str) -> DeviceProfile:
    """One profile serving the spaces of both (each space read by the provider that covers it)."""
    if set(a.coverage) & set(b.coverage) or "*" in a.coverage or "*" in b.coverage or a.live or b.live:
        raise HarnessError(f"device {a.name!r} is registered twice with overlapping spaces (entry points {entries})")
    for m in set(a.metrics) & set(b.metrics):
        if a.units[m] != b.units[m]:
            raise HarnessError(f"device {a.name!r}: {m} in {a.units[m]} and in {b.units[m]} ({entries})")
    by_space = {s: a for s in a.coverage} | {s: b for s in b.coverage}

    def load(space, dataset, sources):
        return by_space[space.name].values(space, dataset, sources)

    metrics = tuple(dict.fromkeys(a.metrics + b.metrics))
    return DeviceProfile(a.name, a.kind if a.kind == b.kind else f"{a.kind}+{b.kind}", metrics,
                         f"{a.source}; {b.source}", load, coverage={**a.coverage, **b.coverage},
                         units={**b.units, **a.units}, resolution_ms=a.resolution_ms or b.resolution_ms,
                         note="; ".join(n for n in (a.note, b.note) if n), exact={**a.exact, **b.exact})


@lru_cache(maxsize=32)
def _user_profiles(files: tuple[str, ...]) -> dict[str, DeviceProfile]:
    out = {}
    for f in files:
        p = profile_from_file(f)
        if p.name == NO_DEVICE:
            raise HarnessError(f"device file {f}: its name {p.name!r} (the file stem) is the built-in profile of no "
                               f"hardware; rename the file")
        if p.name in registered():
            raise HarnessError(f"device file {f}: its name {p.name!r} (the file stem) is a built-in "
                               f"{registered()[p.name].kind} profile; rename the file")
        out[p.name] = p
    return out


def profiles(sources=None) -> list[DeviceProfile]:
    """Registered profiles, then the user's files, then `none`."""
    files = Sources.of(sources).resolve().device_files if sources is not None else ()
    return list(registered().values()) + list(_user_profiles(files).values()) + [no_device()]


def get_profile(name: str, sources=None) -> DeviceProfile:
    """The profile called `name` (user files, registry, or a local-cpu-bB-tT setting made on demand)."""
    if not isinstance(name, str) or not name:
        raise HarnessError(f"device name must be a non-empty string, got {name!r}")
    files = Sources.of(sources).resolve().device_files if sources is not None else ()
    user = _user_profiles(files)
    if name in user:
        return user[name]
    if name in registered():
        return registered()[name]
    if name == NO_DEVICE:
        return no_device()
    made = local.profile_for_name(name)
    if made is None:
        raise unknown_name("device", name, list(registered()) + list(user) + [NO_DEVICE])
    return made
