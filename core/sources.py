"""Where ground truth lives: the NB201 data folder, the data root of the other benchmarks, user device files.

NB201 folder: --data, else $MATHNAS_BENCH_DATA, else <root>/nb201.
Data root:    --data-root, else $MATHNAS_BENCH_DATA_ROOT, else ../shared (seen from the working folder).
Every space reads its own folder under the root (`nasbench_macro/`, `fbnet/`, ...); `--data` keeps naming
the NB201 folder as it always did. `Sources.resolve()` fixes the paths once, so caches keyed by a
Sources never mix two data folders.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import HarnessError, shown

ENV_DATA = "MATHNAS_BENCH_DATA"
ENV_ROOT = "MATHNAS_BENCH_DATA_ROOT"
DEFAULT_ROOT = Path("..") / "shared"


@dataclass(frozen=True)
class Sources:
    data: str | None = None                 # the NB201 folder
    root: str | None = None                 # the folder holding one folder per benchmark
    device_files: tuple[str, ...] = ()      # user device CSVs (--device-file), each a profile named by its stem

    @classmethod
    def of(cls, value=None) -> "Sources":
        """A Sources from None (environment defaults), a NB201 folder path, or a Sources."""
        if isinstance(value, Sources):
            return value
        if value is None or isinstance(value, (str, os.PathLike)):
            return cls(data=None if value is None else str(value))
        raise HarnessError(f"data folder must be a path, got {shown(value)}")

    def root_dir(self) -> Path:
        root = self.root if self.root is not None else os.environ.get(ENV_ROOT)
        p = Path(root).expanduser() if root else DEFAULT_ROOT
        if root and not p.is_dir():
            raise HarnessError(f"data root {str(p)!r} does not exist or is not a folder")
        return p.resolve()

    def nb201_dir(self) -> Path:
        """--data, else $MATHNAS_BENCH_DATA, else <root>/nb201 (the layout of this workplace)."""
        path = self.data if self.data is not None else os.environ.get(ENV_DATA)
        if path is None:
            fallback = self.root_dir() / "nb201"
            if fallback.is_dir():
                return fallback
            raise HarnessError(f"no data folder: pass --data DIR or set {ENV_DATA} (see ../shared/nb201/README.md)")
        if path == "":
            raise HarnessError("data folder: empty path")
        p = Path(path).expanduser()
        if not p.is_dir():
            raise HarnessError(f"data folder {str(p)!r} does not exist or is not a folder")
        return p.resolve()

    def folder(self, name: str) -> Path:
        """The folder of one benchmark: nb201 -> nb201_dir(), others <root>/<name>."""
        if name == "nb201":
            return self.nb201_dir()
        p = self.root_dir() / name
        if not p.is_dir():
            raise HarnessError(f"data folder {str(p)!r} does not exist (set --data-root or {ENV_ROOT} to the "
                               f"folder holding {name}/)")
        return p

    def resolve(self) -> "Sources":
        """Absolute paths (environment read now), for use as a cache key."""
        data = str(self.nb201_dir()) if (self.data is not None or os.environ.get(ENV_DATA)) else None
        root = str(self.root_dir())
        if data is None:
            candidate = Path(root) / "nb201"
            data = str(candidate) if candidate.is_dir() else None
        files = []
        for f in self.device_files:
            if not f:
                raise HarnessError("--device-file: empty path")
            files.append(str(Path(f).expanduser().resolve()))
        return Sources(data=data, root=root, device_files=tuple(dict.fromkeys(files)))
