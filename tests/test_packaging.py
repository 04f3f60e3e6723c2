"""The lock file the container installs covers every dependency pyproject.toml declares, at a version it allows."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"lock entry not pinned exactly: {line}"
            pins[_norm(req.name)] = Version(spec.version)
    return pins


def test_lock_covers_every_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for deps in project["optional-dependencies"].values() for d in deps]
    locked = _locked()
    for line in declared:
        req = Requirement(line)
        name = _norm(req.name)
        assert name in locked, f"{req.name} is declared in pyproject.toml but missing from requirements.lock"
        version = locked[name]
        # a local build tag (torch 2.13.0+cpu) satisfies ==2.13.0
        assert req.specifier.contains(Version(version.public), prereleases=True), f"{req.name} {version} violates {req.specifier}"


def test_torch_pinned_to_the_cpu_build_on_disk():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]
    assert _locked()["torch"].public == "2.13.0"
