"""Plugin registries read from entry points: built-ins register exactly as a third-party package would.

One entry-point group per plugin kind (see pyproject.toml, [project.entry-points."mathnas_bench.*"]):

  mathnas_bench.spaces     name = "module:SpaceClass"    (a Space; `load(sources)` builds it)
  mathnas_bench.devices    name = "module:profile"       (a DeviceProfile, or a function returning one or a list)
  mathnas_bench.solvers    name = "module:backend"       (a SolverBackend)
  mathnas_bench.methods    name = "module:Class"         (a Predictor and/or Searcher class)
  mathnas_bench.variants   name = "module:function"      (a MathNAS block-profiling variant)
  mathnas_bench.families   name = "module:function"      (a solver instance family: seed -> [ChoiceProblem])
  mathnas_bench.commands   group.name = "module:register" (CLI sub-commands; group: top, data or devices)

Registries are read-only while anything runs: entry points come from the installed distributions' metadata.
The one exception is `add`, used only by `plugin=` files of MathNAS variants (imported before a run starts).
"""
from __future__ import annotations

from functools import cached_property
from importlib import metadata

from core.errors import HarnessError, one_line, unknown_name

GROUP_PREFIX = "mathnas_bench."


class Registry:
    """The plugins of one kind, by name, loaded lazily (torch-based methods are slow to import)."""

    def __init__(self, kind: str, group: str, preference: tuple[str, ...] = ()):
        self.kind = kind
        self.group = GROUP_PREFIX + group
        self.preference = tuple(preference)
        self._loaded: dict[str, object] = {}
        self._added: dict[str, object] = {}

    @cached_property
    def _entry_points(self) -> dict:
        eps = metadata.entry_points(group=self.group)
        return {ep.name: ep for ep in sorted(eps, key=lambda e: e.name)}

    def refresh(self) -> None:
        """Forget what was read (a test that installs a plugin distribution at run time calls this)."""
        self.__dict__.pop("_entry_points", None)
        self._loaded.clear()

    def names(self) -> list[str]:
        """Every registered name: the preference order first, then the others alphabetically."""
        found = set(self._entry_points) | set(self._added)
        first = [n for n in self.preference if n in found]
        return first + sorted(found - set(first))

    def __contains__(self, name) -> bool:
        return name in self._entry_points or name in self._added

    def reference(self, name: str) -> str:
        """"module:attr" of a registered name (travels with a runner cell)."""
        if name in self._added:
            obj = self._added[name]
            return f"{obj.__module__}:{getattr(obj, '__qualname__', name)}"
        if name not in self._entry_points:
            raise unknown_name(self.kind, name, self.names())
        return self._entry_points[name].value

    def get(self, name: str):
        """The loaded plugin called `name`; unknown names list the valid ones."""
        if name in self._added:
            return self._added[name]
        if name not in self._loaded:
            if name not in self._entry_points:
                raise unknown_name(self.kind, name, self.names())
            try:
                self._loaded[name] = self._entry_points[name].load()
            except Exception as e:  # noqa: BLE001 - a broken plugin is the user's one-line problem
                raise HarnessError(f"{self.kind} {name!r} is registered ({self._entry_points[name].value}) but "
                                   f"cannot be loaded: {one_line(f'{type(e).__name__}: {e}', 300)}") from None
        return self._loaded[name]

    def items(self):
        return [(n, self.get(n)) for n in self.names()]

    def add(self, name: str, obj) -> None:
        """Register a plugin from a `plugin=` file (variants only; never while a run executes)."""
        self._added[name] = obj

    def discard(self, name: str) -> None:
        """Forget a plugin added with `add` (tests clean up after themselves)."""
        self._added.pop(name, None)


def load_reference(ref: str):
    """Import "module:attr" (a method named in a suite with `entry`, or a cell's reference)."""
    import importlib

    if not isinstance(ref, str) or ":" not in ref:
        raise HarnessError(f"expected 'module:attribute', got {ref!r}")
    module, attr = ref.split(":", 1)
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as e:  # noqa: BLE001
        raise HarnessError(f"cannot import {ref!r} ({one_line(f'{type(e).__name__}: {e}', 300)})") from None
    return obj


SOLVER_PREFERENCE = ("enumerate", "highs", "cpsat", "gurobi", "cbc", "scip", "bnb")

SPACES = Registry("space", "spaces", preference=("nb201",))
DEVICES = Registry("device provider", "devices")
SOLVERS = Registry("solver", "solvers", preference=SOLVER_PREFERENCE)
METHODS = Registry("method", "methods", preference=("mathnas", "lana", "brpnas", "random", "evolution"))
VARIANTS = Registry("MathNAS variant", "variants", preference=("single", "full", "sampled"))
FAMILIES = Registry("instance family", "families", preference=("small", "nb201-shape", "scale", "nb201"))
COMMANDS = Registry("command", "commands")
ALL = (SPACES, DEVICES, SOLVERS, METHODS, VARIANTS, FAMILIES, COMMANDS)


def refresh_all() -> None:
    for r in ALL:
        r.refresh()
