"""What a report's protocol card needs and only a run can know: recorded by `harness.run` into store.json.

Reports read only the result store, so the runner writes here, once per suite run: the suite (its text,
a sha256 of its validated content, the regimes, methods with their parameters and deviations from the
published settings), per space the splits and the data files read with their content hashes, per device
its source, the package versions, the Python and the CPU. Plain JSON; nothing here is used to compute a
number, only to say how the numbers were made.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tomllib
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from core.errors import HarnessError
from core.sources import Sources
from core.text import plain
from devices import get_profile
from spaces import load_space

PACKAGES = ("mathnas-bench", "numpy", "scipy", "pandas", "pyarrow", "torch", "pydantic", "pulp", "ortools",
            "gurobipy", "highspy", "matplotlib", "ray")
MAX_HASHED_BYTES = 2_000_000_000   # a data folder bigger than this is listed, not hashed


def suite_digest(suite, text: str | None = None) -> str:
    """sha256 of the suite's content as written (canonical JSON of the parsed TOML: comments, spacing and key
    order do not count, and neither do defaults the schema may gain later); a suite built in memory is
    described by the keys it set."""
    if text is not None:
        try:
            content = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            content = None
        if content is not None:
            doc = json.dumps(plain(content), sort_keys=True, separators=(",", ":"), default=str)
            return hashlib.sha256(doc.encode()).hexdigest()
    doc = json.dumps(plain(suite.model_dump(mode="json", exclude_unset=True)), sort_keys=True, separators=(",", ":"),
                     default=str)
    return hashlib.sha256(doc.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _data_files(space, sources: Sources) -> tuple[str | None, list[Path]]:
    """The files a space reads: its own `data_files` (optional capability), else every file of its folder
    under the data root (named after the space), else none (closed-form spaces)."""
    given = getattr(space, "data_files", None)
    if given is not None:
        files = [Path(p) for p in (given() if callable(given) else given)]
        return (str(files[0].parent) if files else None), sorted(files)
    try:
        folder = sources.folder(space.name)
    except HarnessError:
        return None, []
    return str(folder), sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))


def data_record(space, sources: Sources) -> dict:
    folder, files = _data_files(space, sources)
    total = sum(p.stat().st_size for p in files)
    hashed = total <= MAX_HASHED_BYTES
    out = [{"file": p.name if folder and p.parent == Path(folder) else str(p), "bytes": p.stat().st_size,
            "sha256": file_sha256(p) if hashed else None} for p in files]
    return {"folder": folder, "files": out, "source": str(getattr(space, "source", ""))}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str | None]:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def protocol_record(suite, sources, suite_text: str | None = None, executor: str | None = None,
                    jobs: int | None = None) -> dict:
    """The protocol of one suite run (JSON-ready)."""
    sources = Sources.of(sources)
    spaces = sorted({s for m in suite.methods for s in suite.method_spaces(m)} | set(suite.spaces))
    space_rows = {}
    for name in spaces:
        sp = load_space(name, sources)
        space_rows[name] = {"size": int(sp.size), "source": str(getattr(sp, "source", "")),
                            "tasks": {t: task.as_dict() for t, task in sp.tasks.items()},
                            "seed_accuracies": callable(getattr(sp, "seed_accuracies", None)),
                            "data": data_record(sp, sources)}
    devices = sorted({d for m in suite.methods for d in suite.method_devices(m)})
    device_rows = {}
    for d in devices:
        p = get_profile(d, sources)
        device_rows[d] = {"kind": p.kind, "live": p.live, "metrics": list(p.metrics), "units": dict(p.units),
                          "source": p.source}
    user_files = [{"file": f, "sha256": file_sha256(Path(f))} for f in sources.resolve().device_files]
    methods = [{"label": m.display, "name": m.name, "entry": m.entry, "params": m.params,
                "budgets": m.budget or [None], "seeds": suite.method_seeds(m), "tasks": list(m.tasks),
                "regimes": suite.method_regimes(m),
                "deviations": m.deviations} for m in suite.methods]
    return plain({
        "suite": suite.name, "suite_sha256": suite_digest(suite, suite_text), "suite_file": suite.file,
        "suite_text": suite_text, "description": suite.description,
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hardware": suite.hardware.model_dump(), "tasks": list(suite.tasks), "seeds": suite.seeds,
        "methods": methods, "spaces": space_rows, "devices": device_rows, "device_files": user_files,
        "versions": versions(), "cpu": {"model": cpu_model(), "count": os.cpu_count(),
                                        "platform": platform.platform()},
        "executor": executor, "jobs": jobs})
