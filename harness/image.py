"""Build the mathnas-bench image without any registry or index: `python -m harness.image [--base IMAGE]`.

1. Base image: the one the user names (`base`, e.g. python:3.11-slim where a registry is reachable; pulled
   only when absent), else `mathnas-bench-base:bookworm`, made here once with
   `debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm` (needs root and
   a Debian mirror, $MATHNAS_BENCH_DEBIAN_MIRROR) and imported through the Docker SDK; reused when present.
2. Wheelhouse: `pip wheel -r requirements.lock` on the host (its own configuration: find-links, local
   indexes), cached in ~/.cache/mathnas-bench/wheelhouse/<lock hash>; the project's wheel
   (`pip wheel --no-deps`, built from a clean copy of the sources) in .../project/<source hash>.
3. Build: the repository's Dockerfile as is (the single template), with requirements.lock, benchmarks/ and
   the wheels (build/wheelhouse: dependencies, build/project: the project) as context, `network_mode="none"`;
   pip installs with --no-index. The dependency layers depend only on the lock, so after a change of the
   sources a rebuild redoes only the project's small layers.

The tag is `mathnas-bench:<12 hex>` of the hashes of requirements.lock, the project sources, the Dockerfile
and the base image; an image with that tag is reused without rebuilding. Failures are one-line
HarnessErrors (no daemon, no debootstrap, pip failing, the build failing with its last log line).
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import HarnessError
from harness.containers import docker_client

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "mathnas-bench"
BASE_REPOSITORY = "mathnas-bench-base"
DEBIAN_SUITE = "bookworm"
DEFAULT_BASE = f"{BASE_REPOSITORY}:{DEBIAN_SUITE}"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
WHEELS_IN_CONTEXT = "build/wheelhouse"  # the Dockerfile's default WHEELS build argument: dependencies
PROJECT_IN_CONTEXT = "build/project"  # ... and PROJECT: the project's own wheel
EXTRA_SOURCES = ("pyproject.toml", "README.md", "benchmarks")  # besides the packages pyproject.toml lists
LABEL = "org.mathnas-bench"
# Lines of the builder itself, not of a build step (left out of "last log line").
BUILDER_CHATTER = ("Step ", "---> ", "Removing intermediate container", "Successfully built", "Successfully tagged")
# Removed from the debootstrap tree: package caches and lists, documentation (nothing in the image uses apt).
BASE_TRIM = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
             "usr/share/locale")


@dataclass
class ImageInfo:
    tag: str
    id: str
    size: int  # bytes, as the daemon reports it
    base: str
    lock_hash: str
    source_hash: str
    built: bool  # False: an image with this tag and content existed and was reused
    seconds: float  # wall time of build_image
    steps: dict[str, float] = field(default_factory=dict)  # seconds of each step that ran

    def describe(self) -> str:
        how = "built" if self.built else "reused"
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.steps.items())
        return (f"{self.tag} ({how} in {self.seconds:.1f}s{': ' + steps if steps else ''}; "
                f"{self.size / 1e9:.2f} GB; base {self.base})")


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"[image] {text}", file=sys.stderr, flush=True)


def _one_line(text, limit: int = 400) -> str:
    return " ".join(str(text).split())[:limit]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mathnas-bench"


# --- what goes in: files and hashes ------------------------------------------------------------------------
def _check_root(root: Path) -> None:
    for name in ("Dockerfile", "requirements.lock", "pyproject.toml"):
        if not (root / name).is_file():
            raise HarnessError(f"{root} is not a mathnas-bench checkout: {name} is missing (pass root=)")


def source_files(root: Path = ROOT) -> list[str]:
    """Relative paths of the project's sources that go into its wheel (and the image), sorted."""
    try:
        find = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
        patterns = find.get("include", ["*"])
    except (KeyError, tomllib.TOMLDecodeError) as e:
        raise HarnessError(f"{root / 'pyproject.toml'}: cannot read [tool.setuptools.packages.find]: {e}") from None
    tops = sorted(p.name for p in root.iterdir()
                  if p.is_dir() and (p / "__init__.py").is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in patterns))
    files = []
    for top in list(tops) + list(EXTRA_SOURCES):
        path = root / top
        if path.is_file():
            files.append(top)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith(".")
                                 and not d.endswith(".egg-info"))
            for name in filenames:
                if not name.endswith((".pyc", ".pyo")) and not name.startswith("."):
                    files.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(files)


def _sha256_files(root: Path, names) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0")
        h.update(hashlib.sha256((root / name).read_bytes()).digest())
    return h.hexdigest()


def lock_hash(root: Path = ROOT) -> str:
    return hashlib.sha256((root / "requirements.lock").read_bytes()).hexdigest()


def source_hash(root: Path = ROOT) -> str:
    return _sha256_files(root, source_files(root))


def dockerfile_text(root: Path = ROOT) -> str:
    """The Dockerfile build_image builds: the repository's own, unchanged (it is the template)."""
    return (root / "Dockerfile").read_text()


# --- step 1: the base image -----------------------------------------------------------------------------
def _run_logged(cmd: list[str], log: Path, progress: bool, what: str, every: float = 5.0, **kw) -> None:
    """Run cmd, its output into `log`; with progress, echo a line at most every `every` seconds."""
    last_echo = 0.0
    last = ""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, **kw)
    except OSError as e:
        raise HarnessError(f"{what} cannot start: {e}") from None
    with open(log, "w") as f, proc:
        for line in proc.stdout:
            f.write(line)
            if line.strip():
                last = line.strip()
                if progress and time.monotonic() - last_echo >= every:
                    _say(True, f"{what}: {last}")
                    last_echo = time.monotonic()
    if proc.returncode != 0:
        raise HarnessError(f"{what} failed (exit {proc.returncode}): {_one_line(last)} (log: {log})")


def make_base(client, progress: bool = True, suite: str = DEBIAN_SUITE, tag: str | None = None) -> str:
    """debootstrap a minimal Debian with Python 3 and import it as `tag` (default mathnas-bench-base:<suite>)."""
    tag = tag or f"{BASE_REPOSITORY}:{suite}"
    if shutil.which("debootstrap") is None:
        raise HarnessError("debootstrap is not installed, so no base image can be made here (run .ci/docker-setup "
                           "or apt-get install debootstrap; or name a base image, e.g. base='python:3.11-slim')")
    if os.geteuid() != 0:
        raise HarnessError("debootstrap needs root to make the base image (or name one, e.g. base='python:3.11-slim')")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("MATHNAS_BENCH_DEBIAN_MIRROR", DEBIAN_MIRROR)
    work = Path(tempfile.mkdtemp(prefix="base-", dir=cache))
    try:
        rootfs = work / "rootfs"
        _say(progress, f"base: debootstrap {suite} from {mirror} (a minute or two)")
        _run_logged(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", suite,
                     str(rootfs), mirror], cache / "debootstrap.log", progress, "debootstrap")
        for rel in BASE_TRIM:
            d = rootfs / rel
            if d.is_dir():
                for child in d.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        tarball = work / "rootfs.tar"
        _run_logged(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
                    cache / "base-tar.log", False, "tar of the base tree")
        _say(progress, f"base: importing {tarball.stat().st_size / 1e6:.0f} MB as {tag}")
        repository, _, version = tag.rpartition(":")
        try:
            client.api.import_image_from_file(
                str(tarball), repository=repository, tag=version,
                changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8",
                         'CMD ["/usr/bin/python3"]', f"LABEL {LABEL}.base=debootstrap-{suite}"])
            client.images.get(tag)
        except Exception as e:  # noqa: BLE001
            raise HarnessError(f"importing the base image {tag} failed: {_one_line(e)}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tag


def ensure_base(client, base: str | None, progress: bool = True):
    """(base image, whether it was made or pulled now): the named one (pulled when absent) or the debootstrap
    one (made when absent)."""
    import docker

    name = base or DEFAULT_BASE
    try:
        return client.images.get(name), False
    except docker.errors.ImageNotFound:
        pass
    if base is None:
        make_base(client, progress=progress)
        return client.images.get(name), True
    _say(progress, f"base: pulling {name}")
    try:
        return client.images.pull(name), True
    except Exception as e:  # noqa: BLE001
        raise HarnessError(f"base image {name!r} is not here and cannot be pulled: "
                           f"{_one_line(getattr(e, 'explanation', None) or e, 300)} "
                           f"(leave base unset to make one with debootstrap)") from None


# --- step 2: wheels -------------------------------------------------------------------------------------
def _pip(args: list[str], log: Path, progress: bool, what: str) -> None:
    _run_logged([sys.executable, "-m", "pip", *args], log, progress, what, every=10.0)


def wheelhouse(root: Path = ROOT, progress: bool = True) -> Path:
    """Wheels of every locked dependency (pip wheel -r requirements.lock), cached by the lock's hash."""
    folder = cache_dir() / "wheelhouse" / lock_hash(root)[:16]
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        _say(progress, f"wheelhouse: pip wheel -r requirements.lock -> {folder}")
        _pip(["wheel", "--disable-pip-version-check", "-r", str(root / "requirements.lock"), "-w", str(tmp)],
             folder.parent / "pip-wheel.log", progress, "pip wheel -r requirements.lock")
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def project_wheel(root: Path = ROOT, progress: bool = True) -> Path:
    """The project's own wheel, built from a clean copy of exactly the hashed sources, cached by their hash."""
    files = source_files(root)
    folder = cache_dir() / "project" / _sha256_files(root, files)[:16]
    found = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if found:
        return found[0]
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="src-", dir=folder.parent))
    try:
        src = work / "src"
        for name in files:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, src / name)
        _say(progress, "project: pip wheel --no-deps .")
        out = work / "out"
        _pip(["wheel", "--disable-pip-version-check", "--no-deps", str(src), "-w", str(out)],
             folder.parent / "pip-wheel-project.log", progress, "pip wheel --no-deps .")
        wheels = sorted(out.glob("*.whl"))
        if len(wheels) != 1:
            raise HarnessError(f"pip wheel --no-deps . made {len(wheels)} wheels, expected 1")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.move(str(wheels[0]), folder / wheels[0].name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder / wheels[0].name


# --- step 3: the build ----------------------------------------------------------------------------------
def _context(root: Path, wheels: list[Path], own: Path, fileobj) -> None:
    """The build context as a tar: Dockerfile, requirements.lock, benchmarks/, build/wheelhouse/*.whl (the
    dependencies) and build/project/*.whl (the project), the layout `docker build .` sees in a checkout."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        tar.add(root / "Dockerfile", arcname="Dockerfile")
        tar.add(root / "requirements.lock", arcname="requirements.lock")
        for name in source_files(root):
            if name.split(os.sep)[0] == "benchmarks":
                tar.add(root / name, arcname=name)
        for w in wheels:
            tar.add(w, arcname=f"{WHEELS_IN_CONTEXT}/{w.name}")
        tar.add(own, arcname=f"{PROJECT_IN_CONTEXT}/{own.name}")
    fileobj.seek(0)


def _build(client, tag: str, base: str, labels: dict, context, progress: bool) -> None:
    import docker

    last = ""
    kwargs = dict(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, pull=False,
                  buildargs={"BASE": base}, labels=labels, decode=True, network_mode="none")
    try:
        stream = client.api.build(**kwargs)
        for chunk in stream:
            if "error" in chunk:
                raise HarnessError(f"image build failed: {_one_line(chunk['error'], 300)}; "
                                   f"last log line: {_one_line(last, 300) or '(none)'}")
            text = chunk.get("stream") or chunk.get("status") or ""
            for line in text.splitlines():
                if line.strip():
                    if not line.lstrip().startswith(BUILDER_CHATTER):
                        last = line.strip()  # the last line a build step printed
                    if progress:
                        print(f"[image] {line.rstrip()}", file=sys.stderr, flush=True)
    except docker.errors.APIError as e:
        raise HarnessError(f"image build failed: {_one_line(e.explanation or e, 300)}") from None


def image_key(lock: str, source: str, dockerfile: str, base_name: str, base_id: str) -> str:
    text = json.dumps({"lock": lock, "source": source, "dockerfile": hashlib.sha256(dockerfile.encode()).hexdigest(),
                       "base": base_name, "base_id": base_id}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def build_image(base: str | None = None, tag: str | None = None, progress: bool = True,
                root: str | os.PathLike = ROOT) -> ImageInfo:
    """Build (or reuse) the image of the checkout at `root`; see the module docstring. Returns ImageInfo."""
    import docker


    t0 = time.perf_counter()
    root = Path(root).resolve()
    _check_root(root)
    client = docker_client(timeout=600)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    steps: dict[str, float] = {}
    with FileLock(str(cache / "build.lock")):  # one build at a time (e.g. pytest-xdist workers)
        t = time.perf_counter()
        base_image, fresh = ensure_base(client, base, progress)
        base_name = base or DEFAULT_BASE
        if fresh:
            steps["base"] = time.perf_counter() - t
        lock, source = lock_hash(root), source_hash(root)
        key = image_key(lock, source, dockerfile_text(root), base_name, base_image.id)
        tag = tag or f"{REPOSITORY}:{key[:12]}"
        labels = {f"{LABEL}.key": key, f"{LABEL}.lock": lock, f"{LABEL}.source": source, f"{LABEL}.base": base_name}
        try:
            image = client.images.get(tag)
            if (image.labels or {}).get(f"{LABEL}.key") == key:
                _say(progress, f"{tag} is up to date")
                return ImageInfo(tag, image.id, int(image.attrs.get("Size", 0)), base_name, lock, source, False,
                                 time.perf_counter() - t0, steps)
        except docker.errors.ImageNotFound:
            pass
        t = time.perf_counter()
        deps = wheelhouse(root, progress)
        steps["wheelhouse"] = time.perf_counter() - t
        t = time.perf_counter()
        own = project_wheel(root, progress)
        steps["project wheel"] = time.perf_counter() - t
        wheels = sorted(p for p in deps.iterdir() if p.suffix == ".whl")
        t = time.perf_counter()
        with tempfile.TemporaryFile(dir=cache) as context:
            _context(root, wheels, own, context)
            size = context.seek(0, os.SEEK_END)
            context.seek(0)
            _say(progress, f"build: {tag} from {base_name} ({size / 1e6:.0f} MB context, no network)")
            _build(client, tag, base_name, labels, context, progress)
        steps["build"] = time.perf_counter() - t
        image = client.images.get(tag)
    info = ImageInfo(tag, image.id, int(image.attrs.get("Size", 0)), base_name, lock, source, True,
                     time.perf_counter() - t0, steps)
    _say(progress, f"done: {info.describe()}")
    return info


def prune_images(keep: str, client=None, progress: bool = True) -> list[str]:
    """Remove the images build_image made (label org.mathnas-bench.key) except `keep`; returns the removed tags.

    Every checkout on this daemon shares them: another checkout's image is rebuilt when next asked for (in
    seconds when only its sources differ). Untagged build-cache images are kept: they make rebuilds fast.
    """
    import docker


    client = client or docker_client()
    removed = []
    for image in client.images.list(name=REPOSITORY, filters={"label": f"{LABEL}.key"}):
        if keep in image.tags:
            continue
        for tag in image.tags:
            try:
                client.images.remove(tag)
                removed.append(tag)
            except docker.errors.APIError as e:  # e.g. a container still uses it
                _say(progress, f"prune: keeping {tag}: {_one_line(e.explanation or e, 200)}")
    if removed:
        _say(progress, f"prune: removed {', '.join(removed)}")
    return removed


def cmd_image_build(args) -> int:
    info = build_image(args.base, args.tag, progress=not args.quiet)
    if args.prune:
        prune_images(info.tag, progress=not args.quiet)
    print(info.describe())
    return 0


def register(subparsers, common=None) -> None:
    """`mathnas-bench image build [--base B] [--tag T] [--quiet] [--prune]` (entry point top.image)."""
    parents = [common] if common is not None else []
    p = subparsers.add_parser("image", parents=parents, help="the project's container image (built offline)")
    sub = p.add_subparsers(dest="image_command", required=True, parser_class=type(p), metavar="COMMAND")
    b = sub.add_parser("build", parents=parents, help="build (or reuse) the image: debootstrap base, host "
                                                      "wheelhouse, no network inside the build")
    b.add_argument("--base", default=None, help=f"base image (default: {DEFAULT_BASE}, made here with debootstrap; "
                                                 f"e.g. python:3.11-slim where a registry is reachable)")
    b.add_argument("--tag", default=None, help="tag (default: mathnas-bench:<hash of the lock file and the source>)")
    b.add_argument("--quiet", action="store_true", help="no build log")
    b.add_argument("--prune", action="store_true", help="then remove the older mathnas-bench images (frees disk)")
    b.set_defaults(func=cmd_image_build)
