"""Convert the official benchmark files into the tidy data-folder tables that harness/data.py reads.

    import_nb201(pth_file, out_dir)            NAS-Bench-201 `.pth`      -> out_dir/accuracy.csv
    import_hwnasbench(pickle_file, out_dir)    HW-NAS-Bench `.pickle`    -> out_dir/latency_ms.csv, energy_mj.csv
    register(data_subparsers)                  `data import-nb201` and `data import-hwnasbench`

SAFETY. Both official formats are Python pickles (the `.pth` is a `torch.save` file). Unpickling runs
code chosen by whoever made the file, so only import files from a trusted source (the official
downloads). These two functions are the ONLY place in the project that unpickles anything, and they run
only when the user explicitly runs an import command. Reading a data folder (harness.data) never
unpickles: it reads CSV and Parquet only.

Every bad input (missing file, not a pickle/torch file, wrong structure, missing keys, unwritable
out_dir) raises HarnessError with a one-line message naming the file and the problem.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from core.errors import HarnessError, unknown_name

NUM_ARCHS = 15625  # == spaces.nb201.NUM_ARCHS (the loader requires every architecture)

# NAS-Bench-201 API dataset names -> accuracy.csv columns. 'cifar10' is the train+valid-trained
# model evaluated on the original test set ('ori-test'); the others report the proposed test split
# ('x-test'). That is what get_more_info(..)['test-accuracy'] returns for each name.
NB201_DATASETS = (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("ImageNet16-120", "imagenet16_120"))
NB201_HP = "200"  # the 200-epoch schedule ('full' results); '12' is the short 'less' schedule
NB201_KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")

# HW-NAS-Bench: data['nasbench201'][dataset][metric] is a sequence indexed by the official arch index
# (see hw_nas_bench_api.HWNASBenchAPI.query_by_index); latency in ms, energy in mJ.
HW_SPACE = "nasbench201"
HW_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
HW_LATENCY = (("fpga", "fpga_latency"), ("eyeriss", "eyeriss_latency"), ("pixel3", "pixel3_latency"),
              ("raspi4", "raspi4_latency"), ("edgegpu", "edgegpu_latency"), ("edgetpu", "edgetpu_latency"))
HW_ENERGY = (("fpga", "fpga_energy"), ("eyeriss", "eyeriss_energy"), ("edgegpu", "edgegpu_energy"))

SAFETY_NOTE = ("The input is a Python pickle: unpickling can run arbitrary code, so only import files from a "
               "trusted source (the official download). Reading a data folder never unpickles; only the "
               "import commands do.")


# --- helpers -------------------------------------------------------------------------------------------
def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    line = text.splitlines()[0].strip() if text else ""
    if len(line) > 160:
        line = line[:157] + "..."
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def _check_input(path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise HarnessError(f"{p}: no such file")
    if not p.is_file():
        raise HarnessError(f"{p}: not a file")
    if not os.access(p, os.R_OK):
        raise HarnessError(f"{p}: not readable (permission denied)")
    return p


def _prepare_out_dir(out_dir) -> Path:
    d = Path(out_dir).expanduser()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise HarnessError(f"{d}: output folder is not a folder") from None
    except OSError as e:
        raise HarnessError(f"{d}: cannot create output folder ({_first_line(e)})") from None
    if not d.is_dir():
        raise HarnessError(f"{d}: output folder is not a folder")
    if not os.access(d, os.W_OK | os.X_OK):
        raise HarnessError(f"{d}: output folder is not writable")
    return d


def _write_csv(frame, path: Path) -> None:
    """pandas -> temp file in the same folder -> fsync -> os.replace (readers never see half a file)."""
    from core.files import atomic_write_bytes

    try:
        atomic_write_bytes(path, frame.to_csv(index=False).encode("utf-8"))
    except OSError as e:
        raise HarnessError(f"{path}: cannot write ({_first_line(e)})") from None


def _loader_files_missing(out: Path) -> list[str]:
    from spaces.nb201_data import ACCURACY_FILE, LATENCY_FILE

    return [name for name in (ACCURACY_FILE, LATENCY_FILE) if not (out / name).is_file()]


def _summary(kind, source, out, files, rows, problems, **extra) -> dict:
    complete = rows == NUM_ARCHS and not problems
    return {"kind": kind, "source": str(source), "out_dir": str(out), "files": [str(f) for f in files],
            "rows": rows, "expected_rows": NUM_ARCHS, "complete": complete, "problems": list(problems),
            "missing_files": _loader_files_missing(out), **extra}


# --- NAS-Bench-201 ---------------------------------------------------------------------------------------
class _SharedDict(dict):
    """The loaded .pth dict, handed to NASBench201API without its defensive deep copy (the real file is
    several GB; a copy would double the memory). The API only reads it."""

    def __deepcopy__(self, memo):
        return self


def _load_torch(path: Path):
    import torch

    try:
        # weights_only=False: the official file stores plain Python containers written by torch.save in
        # 2020 and needs the full unpickler; see the SAFETY note in the module docstring.
        return torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as e:  # unpickling raises anything (UnpicklingError, EOFError, RuntimeError, ...)
        raise HarnessError(f"{path}: not a readable PyTorch/pickle file ({_first_line(e)})") from None


def import_nb201(pth_file, out_dir) -> dict:
    """Official NAS-Bench-201 `.pth` (e.g. NAS-Bench-201-v1_1-096897.pth) -> out_dir/accuracy.csv.

    SAFETY: the `.pth` is a torch.save pickle; loading it can run arbitrary code, so only import a file
    from a trusted source. This function (with import_hwnasbench) is the only place that unpickles, and it
    runs only when the user explicitly runs `data import-nb201`. Reading a data folder never unpickles.

    Columns: arch_index, arch (the official string, api[i]), and for cifar10 / cifar100 / imagenet16_120
    the 200-epoch test accuracy in %, `NASBench201API.get_more_info(i, name, hp='200', is_random=False)
    ['test-accuracy']` with name 'cifar10' (trained on train+valid, original test set), 'cifar100',
    'ImageNet16-120' (mean over the trained seeds). A file with fewer than 15,625 evaluated architectures
    is written as it is, and the summary says the folder is partial ('complete': False); the loader
    refuses such a folder with its one-line error.

    Returns a summary dict: rows, files, complete, problems, missing_files (loader files still absent).
    """
    src = _check_input(pth_file)
    out = _prepare_out_dir(out_dir)
    data = _load_torch(src)
    if not isinstance(data, dict):
        raise HarnessError(f"{src}: not a NAS-Bench-201 file (expected a dict with keys {', '.join(NB201_KEYS)}, "
                           f"found {type(data).__name__})")
    missing = [k for k in NB201_KEYS if k not in data]
    if missing:
        raise HarnessError(f"{src}: not a NAS-Bench-201 file (missing key {missing[0]!r}; "
                           f"expected {', '.join(NB201_KEYS)})")
    archs = data["meta_archs"]
    infos = data["arch2infos"]
    if not isinstance(archs, (list, tuple)) or not all(isinstance(a, str) for a in archs):
        raise HarnessError(f"{src}: 'meta_archs' must be a list of architecture strings")
    if not isinstance(infos, dict):
        raise HarnessError(f"{src}: 'arch2infos' must be a dict, found {type(infos).__name__}")
    if len(archs) > NUM_ARCHS:
        raise HarnessError(f"{src}: {len(archs)} architectures in 'meta_archs', NAS-Bench-201 has {NUM_ARCHS}")
    from spaces.nb201 import parse_arch

    for i, a in enumerate(archs):
        try:
            parse_arch(a)
        except HarnessError as e:
            raise HarnessError(f"{src}: meta_archs[{i}]: {e}") from None
    for k, v in infos.items():
        if not isinstance(k, int) or not 0 <= k < len(archs):
            raise HarnessError(f"{src}: 'arch2infos' key {k!r} is not an index into 'meta_archs'")
        if not isinstance(v, dict) or "full" not in v or "less" not in v:
            raise HarnessError(f"{src}: arch2infos[{k}] must be a dict with 'less' and 'full' results")

    from nas_201_api import NASBench201API

    shared = _SharedDict(data)
    try:
        api = NASBench201API(shared, verbose=False)
    except Exception as e:
        raise HarnessError(f"{src}: not a valid NAS-Bench-201 file ({_first_line(e)})") from None

    rows = {"arch_index": [], "arch": [], **{col: [] for _, col in NB201_DATASETS}}
    for i in sorted(api.arch2infos_dict):
        for name, col in NB201_DATASETS:
            try:
                value = api.get_more_info(i, name, hp=NB201_HP, is_random=False)["test-accuracy"]
            except Exception as e:
                raise HarnessError(f"{src}: architecture {i}: no {NB201_HP}-epoch test accuracy for {name} "
                                   f"({_first_line(e)})") from None
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise HarnessError(f"{src}: architecture {i}: {name} test accuracy {value!r} is not a number") from None
            if not math.isfinite(value):
                raise HarnessError(f"{src}: architecture {i}: {name} test accuracy is {value}")
            rows[col].append(value)
        rows["arch_index"].append(int(i))
        rows["arch"].append(api[i])

    import pandas as pd
    from spaces.nb201_data import ACCURACY_FILE

    n = len(rows["arch_index"])
    problems = []
    if n < NUM_ARCHS:
        problems.append(f"partial: {n:,} of {NUM_ARCHS:,} architectures have 200-epoch results")
    target = out / ACCURACY_FILE
    _write_csv(pd.DataFrame(rows), target)
    return _summary("nb201", src, out, [target], n, problems,
                    datasets=[col for _, col in NB201_DATASETS], architectures_in_file=len(archs))


# --- HW-NAS-Bench ----------------------------------------------------------------------------------------
def _load_pickle(path: Path):
    import pickle

    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as e:
        raise HarnessError(f"{path}: not a readable pickle file ({_first_line(e)})") from None


def _metric_vector(src: Path, where: str, values) -> np.ndarray:
    """A metric sequence (list / tuple / numpy array / {index: value}) -> float vector by arch index."""
    if isinstance(values, dict):
        keys = list(values)
        if not all(isinstance(k, (int, np.integer)) for k in keys) or sorted(int(k) for k in keys) != list(range(len(keys))):
            raise HarnessError(f"{src}: {where} must be indexed by architecture 0..N-1")
        values = [values[k] for k in sorted(keys, key=int)]
    elif not isinstance(values, (list, tuple, np.ndarray)):
        raise HarnessError(f"{src}: {where} must be a sequence of numbers, found {type(values).__name__}")
    out = np.empty(len(values), dtype=np.float64)
    try:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.shape != out.shape:
            raise ValueError("shape")
        out[:] = arr
    except (TypeError, ValueError):
        for i, v in enumerate(values):  # ragged / object arrays: one value (or 1-element array) each
            try:
                a = np.asarray(v, dtype=np.float64).reshape(-1)
                if a.size != 1:
                    raise ValueError
                out[i] = a[0]
            except (TypeError, ValueError):
                raise HarnessError(f"{src}: {where}[{i}] is not a number: {str(v)[:60]!r}") from None
    return out


def _hw_dataset(name: str) -> str:
    if str(name).lower() in ("imagenet16_120", "imagenet16-120"):  # the harness's column name also works
        name = "ImageNet16-120"
    if name not in HW_DATASETS:
        raise unknown_name("HW-NAS-Bench dataset", name, HW_DATASETS)
    return name


def _check_against_accuracy(src: Path, out: Path, configs, n: int) -> str:
    """If out_dir already has accuracy.csv, the HW-NAS-Bench architecture order must match its arch column."""
    from spaces.nb201_data import ACCURACY_FILE

    acc = out / ACCURACY_FILE
    if configs is None:
        return "not checked (no 'config' in the pickle)"
    if not acc.is_file():
        return f"not checked (no {ACCURACY_FILE} in the output folder yet)"
    import pandas as pd

    try:
        frame = pd.read_csv(acc, usecols=["arch_index", "arch"])
        by_index = dict(zip(frame["arch_index"].astype(int), frame["arch"].astype(str)))
    except Exception as e:
        return f"not checked ({acc} unreadable: {_first_line(e)})"
    for i in range(n):
        try:
            cfg = configs[i]
            arch = cfg["arch_str"] if isinstance(cfg, dict) else None
        except (KeyError, IndexError, TypeError):
            arch = None
        if arch is None:
            return "not checked (configs without 'arch_str')"
        if i in by_index and by_index[i] != arch:
            raise HarnessError(f"{src}: architecture order differs from {acc} at arch_index {i} "
                               f"({arch!r} vs {by_index[i]!r})")
    return f"matches {acc}"


def import_hwnasbench(pickle_file, out_dir, dataset: str = "cifar100") -> dict:
    """HW-NAS-Bench pickle (HW-NAS-Bench-v1_0.pickle) -> out_dir/latency_ms.csv and out_dir/energy_mj.csv.

    SAFETY: the file is a Python pickle; loading it can run arbitrary code, so only import a file from a
    trusted source. This function (with import_nb201) is the only place that unpickles, and it runs only
    when the user explicitly runs `data import-hwnasbench`. Reading a data folder never unpickles.

    Layout (as read by the official hw_nas_bench_api.HWNASBenchAPI.query_by_index):
    data['nasbench201'][dataset][metric][arch_index], dataset one of cifar10 / cifar100 / ImageNet16-120,
    latency in ms, energy in mJ, plus data['nasbench201'][dataset]['config'][arch_index]['arch_str'].
    latency_ms.csv: arch_index, fpga, eyeriss, pixel3, raspi4, edgegpu, edgetpu (the *_latency metrics);
    energy_mj.csv: arch_index, fpga, eyeriss, edgegpu (the *_energy metrics). If out_dir already holds an
    accuracy.csv, the pickle's arch strings must match it index by index. Fewer than 15,625 architectures
    or non-positive/NaN values are written as they are and reported ('complete': False, 'problems').
    """
    dataset = _hw_dataset(dataset)
    src = _check_input(pickle_file)
    out = _prepare_out_dir(out_dir)
    data = _load_pickle(src)
    if not isinstance(data, dict) or HW_SPACE not in data:
        found = f"keys {', '.join(map(repr, list(data)[:5]))}" if isinstance(data, dict) else type(data).__name__
        raise HarnessError(f"{src}: not an HW-NAS-Bench file (expected a dict with key {HW_SPACE!r}, found {found})")
    space = data[HW_SPACE]
    if not isinstance(space, dict):
        raise HarnessError(f"{src}: data[{HW_SPACE!r}] must be a dict, found {type(space).__name__}")
    if dataset not in space:
        raise HarnessError(f"{src}: no dataset {dataset!r} under {HW_SPACE!r} "
                           f"(found {', '.join(map(repr, list(space)[:5]))})")
    table = space[dataset]
    if not isinstance(table, dict):
        raise HarnessError(f"{src}: data[{HW_SPACE!r}][{dataset!r}] must be a dict, found {type(table).__name__}")

    vectors = {}
    for _, metric in HW_LATENCY + HW_ENERGY:
        if metric not in table:
            raise HarnessError(f"{src}: missing metric {metric!r} under [{HW_SPACE!r}][{dataset!r}]")
        vectors[metric] = _metric_vector(src, f"[{HW_SPACE!r}][{dataset!r}][{metric!r}]", table[metric])
    lengths = {len(v) for v in vectors.values()}
    if len(lengths) != 1:
        raise HarnessError(f"{src}: metrics under [{HW_SPACE!r}][{dataset!r}] have different lengths "
                           f"({', '.join(str(n) for n in sorted(lengths))})")
    n = lengths.pop()
    if n > NUM_ARCHS:
        raise HarnessError(f"{src}: {n} architectures under [{HW_SPACE!r}][{dataset!r}], NAS-Bench-201 has {NUM_ARCHS}")
    if n == 0:
        raise HarnessError(f"{src}: no architectures under [{HW_SPACE!r}][{dataset!r}]")
    arch_check = _check_against_accuracy(src, out, table.get("config"), n)

    import pandas as pd
    from spaces.nb201_data import ENERGY_FILE, LATENCY_FILE

    problems = []
    if n < NUM_ARCHS:
        problems.append(f"partial: {n:,} of {NUM_ARCHS:,} architectures")
    for kind, columns in (("latency", HW_LATENCY), ("energy", HW_ENERGY)):
        for col, metric in columns:
            v = vectors[metric]
            bad = int(np.sum(~np.isfinite(v) | (v <= 0)))
            if bad:
                problems.append(f"{kind} {col}: {bad} missing/non-positive value(s) (the loader refuses them)")
    index = np.arange(n, dtype=np.int64)
    latency = pd.DataFrame({"arch_index": index, **{col: vectors[m] for col, m in HW_LATENCY}})
    energy = pd.DataFrame({"arch_index": index, **{col: vectors[m] for col, m in HW_ENERGY}})
    files = [out / LATENCY_FILE, out / ENERGY_FILE]
    _write_csv(latency, files[0])
    _write_csv(energy, files[1])
    return _summary("hwnasbench", src, out, files, n, problems, dataset=dataset,
                    latency_devices=[c for c, _ in HW_LATENCY], energy_devices=[c for c, _ in HW_ENERGY],
                    arch_check=arch_check)


# --- CLI -------------------------------------------------------------------------------------------------
def _print_summary(s: dict, what: str) -> None:
    print(f"imported {what}: {s['rows']:,} of {s['expected_rows']:,} architectures -> {', '.join(s['files'])}")
    if s.get("arch_check"):
        print(f"  architecture order: {s['arch_check']}")
    for p in s["problems"]:
        print(f"  WARNING {p}")
    if not s["complete"]:
        print(f"  folder {s['out_dir']} is INCOMPLETE: `data check` will refuse it")
    elif s["missing_files"]:
        print(f"  folder {s['out_dir']} still needs {', '.join(s['missing_files'])} before it loads")
    else:
        print(f"  folder {s['out_dir']} is complete (check it with `mathnas-bench data check --data {s['out_dir']}`)")


def _cmd_import_nb201(args) -> int:
    s = import_nb201(args.file, args.out)
    _print_summary(s, "NAS-Bench-201 200-epoch test accuracy")
    return 0


def _cmd_import_hwnasbench(args) -> int:
    s = import_hwnasbench(args.file, args.out, dataset=args.dataset)
    _print_summary(s, f"HW-NAS-Bench latency/energy ({s['dataset']})")
    return 0


def register(data_subparsers, common=None) -> None:
    """Add `import-nb201` and `import-hwnasbench` to the `data` command group's sub-parsers."""
    parents = [common] if common is not None else []
    p = data_subparsers.add_parser(
        "import-nb201", parents=parents,
        help="convert the official NAS-Bench-201 .pth (a pickle: import only trusted files) to accuracy.csv",
        description="Convert the official NAS-Bench-201 file (e.g. NAS-Bench-201-v1_1-096897.pth) into "
                    "DIR/accuracy.csv (200-epoch test accuracy in percent, mean over seeds). " + SAFETY_NOTE)
    p.add_argument("file", metavar="FILE.pth", help="official NAS-Bench-201 .pth file (a torch.save pickle)")
    p.add_argument("--out", required=True, metavar="DIR", help="data folder to write (created if missing)")
    p.set_defaults(func=_cmd_import_nb201)

    p = data_subparsers.add_parser(
        "import-hwnasbench", parents=parents,
        help="convert HW-NAS-Bench-v1_0.pickle (a pickle: import only trusted files) to latency_ms.csv and energy_mj.csv",
        description="Convert the HW-NAS-Bench file (HW-NAS-Bench-v1_0.pickle, NAS-Bench-201 space) into "
                    "DIR/latency_ms.csv (fpga, eyeriss, pixel3, raspi4, edgegpu, edgetpu; ms) and "
                    "DIR/energy_mj.csv (fpga, eyeriss, edgegpu; mJ). " + SAFETY_NOTE)
    p.add_argument("file", metavar="FILE.pickle", help="HW-NAS-Bench pickle file")
    p.add_argument("--out", required=True, metavar="DIR", help="data folder to write (created if missing)")
    p.add_argument("--dataset", default="cifar100", choices=HW_DATASETS,
                   help="which input resolution/classes the measurements are for (default cifar100)")
    p.set_defaults(func=_cmd_import_hwnasbench)
