"""Containers for real: the image builds offline (and is reused by its content hash), `mathnas-bench` runs in
it, and worker containers run cells isolated: no network, read-only root, read-only data, a memory limit and a
timeout that fail the cell (not the run). Needs a Docker daemon (.ci/docker-setup); skipped, with the reason,
only when none answers. The first build takes minutes (base + wheelhouse + build); later runs reuse the image.
"""
from __future__ import annotations

import importlib.util
import io
import re
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from harness import image as img
from core.errors import HarnessError
from harness.containers import docker_available, run_in_container

pytestmark = pytest.mark.slow   # the image fixture may build for minutes on a cold machine

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "nb201"

FAKE_RUNNER = '''
import os, socket, time

def echo(spec, key, ctx):
    print("chatter on stdout must not break the protocol")
    return {"key": key, "status": "ok", "x2": spec.get("x", 0) * 2, "ctx": ctx,
            "uid": os.getuid(), "cpus": sorted(os.sched_getaffinity(0)),
            "interfaces": [name for _, name in socket.if_nameindex()]}

def connect(spec, key, ctx):
    socket.create_connection((spec["host"], spec["port"]), timeout=5).close()
    return {"key": key, "status": "ok"}

def write(spec, key, ctx):
    with open(spec["path"], "w") as f:
        f.write("x")
    return {"key": key, "status": "ok"}

def allocate(spec, key, ctx):
    blob = b"x" * (spec["mb"] << 20)  # really touched, not a lazy mapping
    return {"key": key, "status": "ok", "len": len(blob)}

def sleep(spec, key, ctx):
    time.sleep(spec["seconds"])
    return {"key": key, "status": "ok"}

def read_then_write(spec, key, ctx):
    text = open(os.path.join(spec["dir"], "hello.txt")).read()
    try:
        open(os.path.join(spec["dir"], "new.txt"), "w").close()
        wrote = "yes"
    except OSError as e:
        wrote = f"{type(e).__name__}: {e}"
    return {"key": key, "status": "ok", "read": text, "wrote": wrote}
'''


# --- the Dockerfile is the one template (no daemon needed) ---------------------------------------------------
def test_build_context_uses_the_committed_dockerfile_and_its_layout(tmp_path):
    wheel = tmp_path / "dep-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    own = tmp_path / "mathnas_bench-0.1.0-py3-none-any.whl"
    own.write_bytes(b"")
    buf = io.BytesIO()
    img._context(ROOT, [wheel], own, buf)
    with tarfile.open(fileobj=buf) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("Dockerfile").read().decode() == (ROOT / "Dockerfile").read_text()
        assert tar.extractfile("requirements.lock").read() == (ROOT / "requirements.lock").read_bytes()
    assert {f"{img.WHEELS_IN_CONTEXT}/{wheel.name}", f"{img.PROJECT_IN_CONTEXT}/{own.name}"} <= names
    assert "benchmarks/baseline.json" in names
    text = (ROOT / "Dockerfile").read_text()
    # the build arguments' defaults are the context's layout, which .dockerignore lets through for `docker build .`
    assert f"ARG WHEELS={img.WHEELS_IN_CONTEXT}" in text and f"ARG PROJECT={img.PROJECT_IN_CONTEXT}" in text
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert {f"!{img.WHEELS_IN_CONTEXT}", f"!{img.PROJECT_IN_CONTEXT}", "!requirements.lock", "!benchmarks"} <= set(ignore)


def test_dockerfile_installs_offline():
    code = "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.startswith("#"))
    assert "http" not in code and "index-url" not in code
    installs = re.findall(r"pip install[^&]*", code)
    assert installs and all("--no-index" in i for i in installs)
    assert "ARG BASE=" in code and "FROM ${BASE}" in code


def test_the_tag_follows_lock_sources_dockerfile_and_base():
    args = ("lock", "source", "FROM x", "base:1", "sha256:1")
    key = img.image_key(*args)
    for i in range(len(args)):
        changed = list(args)
        changed[i] += "!"
        assert img.image_key(*changed) != key
    assert img.source_hash(ROOT) == img.source_hash(ROOT)
    files = img.source_files(ROOT)
    assert "harness/containers.py" in files and "harness/suites/smoke.toml" in files and "pyproject.toml" in files
    assert not any("__pycache__" in f or f.startswith("tests/") for f in files)


# --- for real, with a daemon -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def image():
    if importlib.util.find_spec("docker") is None:
        pytest.fail("the Python package 'docker' is not installed; it belongs in the test dependencies (docker>=7)")
    ok, why = docker_available()
    if not ok:
        print(f"\nSKIPPED container tests: {why}")
        pytest.skip(f"no Docker daemon: {why}")
    t0 = time.perf_counter()
    info = img.build_image(progress=False)
    print(f"\nimage {info.describe()} [{time.perf_counter() - t0:.1f}s in the fixture]")
    return info


@pytest.fixture(scope="session")
def client(image):
    from harness.containers import docker_client

    return docker_client()


@pytest.fixture(scope="session")
def plugins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "fake_runner.py").write_text(textwrap.dedent(FAKE_RUNNER))
    folder.chmod(0o755)
    (folder / "fake_runner.py").chmod(0o644)
    return folder


def _cells(*specs):
    return [{"spec": s, "key": f"k{i}"} for i, s in enumerate(specs)]


def _run(image, plugins, cells, runner="fake_runner:echo", **kw):
    data_dirs = {str(plugins): "/plugins", **kw.pop("data_dirs", {})}
    kw.setdefault("cpuset", "0")
    kw.setdefault("mem_limit", "256m")
    kw.setdefault("timeout", 60)
    return run_in_container(image.tag, cells, data_dirs=data_dirs, env={"PYTHONPATH": "/plugins"}, runner=runner, **kw)


def test_image_is_reused_by_its_content_hash(image):
    assert re.fullmatch(r"mathnas-bench:[0-9a-f]{12}", image.tag)
    again = img.build_image(progress=False)
    assert (again.tag, again.id, again.built) == (image.tag, image.id, False)
    assert again.lock_hash == img.lock_hash(ROOT) and again.source_hash == img.source_hash(ROOT)


def test_mathnas_bench_runs_in_the_image(image, client):
    out = client.containers.run(image.tag, ["--help"], remove=True, network_mode="none").decode()
    assert "usage: mathnas-bench" in out and "run" in out
    who = client.containers.run(image.tag, [], entrypoint=["id", "-u"], remove=True, network_mode="none")
    assert who.decode().strip() != "0"


def test_rows_come_back_in_order(image, plugins):
    rows = _run(image, plugins, _cells({"x": 1}, {"x": 2}, {"x": 3}), ctx={"data": "/data"})
    assert [r["key"] for r in rows] == ["k0", "k1", "k2"]
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert [r["x2"] for r in rows] == [2, 4, 6]
    assert rows[0]["ctx"] == {"data": "/data"}
    assert rows[0]["uid"] == 65534 and rows[0]["cpus"] == [0]
    assert rows[0]["interfaces"] == ["lo"]  # network_mode none: loopback only


def test_a_runner_that_raises_or_is_missing_gives_failed_rows(image, plugins):
    (row,) = _run(image, plugins, _cells({"host": "127.0.0.1", "port": 9}), runner="fake_runner:connect")
    assert row["status"] == "failed" and "ConnectionRefusedError" in row["error"]
    rows = _run(image, plugins, _cells({}, {}), runner="no_such_module:fn")
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all("no_such_module" in r["error"] for r in rows)


def test_no_network(image, plugins):
    # the docker bridge gateway and an outside address: both unreachable without a network
    rows = _run(image, plugins, _cells({"host": "172.17.0.1", "port": 2375}, {"host": "1.1.1.1", "port": 53}),
                runner="fake_runner:connect")
    for row in rows:
        assert row["status"] == "failed" and ("unreachable" in row["error"] or "OSError" in row["error"]), row


def test_root_is_read_only_and_tmp_is_writable(image, plugins):
    paths = ["/opt/venv/evil.py", "/app/evil", "/home/evil", "/results/evil", "/data/evil", "/tmp/fine"]
    rows = _run(image, plugins, _cells(*({"path": p} for p in paths)), runner="fake_runner:write")
    assert [r["status"] for r in rows] == ["failed"] * 5 + ["ok"]
    assert all("Read-only file system" in r["error"] for r in rows[:5]), rows


def test_data_is_readable_not_writable(image, plugins, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("ground truth")
    data.chmod(0o777)  # even a world-writable folder is read-only inside
    (row,) = _run(image, plugins, _cells({"dir": "/data"}), runner="fake_runner:read_then_write",
                  data_dirs={str(data): "/data"})
    assert row["status"] == "ok" and row["read"] == "ground truth"
    assert "Read-only file system" in row["wrote"]
    assert sorted(p.name for p in data.iterdir()) == ["hello.txt"]


def test_out_of_memory_fails_that_cell_only(image, plugins):
    cells = _cells({"mb": 1}, {"mb": 600}, {"mb": 1})
    rows = _run(image, plugins, cells, runner="fake_runner:allocate", mem_limit="200m")
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"], rows
    assert rows[1]["error"] == "container killed: out of memory (limit 200m)"
    assert rows[1]["key"] == "k1" and rows[1]["mb"] == 600


def test_timeout_fails_that_cell_only(image, plugins):
    cells = _cells({"seconds": 0}, {"seconds": 120}, {"seconds": 0})
    t0 = time.perf_counter()
    rows = _run(image, plugins, cells, runner="fake_runner:sleep", timeout=8)
    assert time.perf_counter() - t0 < 60
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"], rows
    assert rows[1]["error"] == "timed out after 8 s"


SMOKE = ROOT / "harness" / "suites" / "smoke.toml"


def _table(out):
    from harness.store import ResultStore

    frame = ResultStore(out).read(drop_timing=True)
    return frame.drop(columns=[c for c in frame.columns if c.startswith("extra.") and "seconds" in c])


def test_smoke_suite_gives_the_same_table_in_containers_as_serially(image, tmp_path):
    """Cells go in, rows come out: the docker executor's store equals the serial one apart from timings."""
    import pandas as pd

    from harness.run import run

    serial = run(SMOKE, tmp_path / "serial", executor="serial", progress=False)
    t0 = time.perf_counter()
    boxed = run(SMOKE, tmp_path / "docker", executor="docker", jobs=2, progress=False)
    print(f"\nsmoke suite: serial {serial.seconds:.1f}s, docker {time.perf_counter() - t0:.1f}s "
          f"({boxed.ran} cells)")
    assert serial.failed == 0 and boxed.failed == 0, boxed.failures[:3]
    pd.testing.assert_frame_equal(_table(tmp_path / "serial"), _table(tmp_path / "docker"), check_like=True)
    again = run(SMOKE, tmp_path / "docker", executor="docker", jobs=2, progress=False)
    assert (again.ran, again.skipped) == (0, boxed.total)   # re-running resumes: nothing left to do


PLUGINS = {
    "polite": "",
    "socket": "socket.create_connection(('192.0.2.1', 80), timeout=3).close()",
    "write": "open('/opt/pwned.txt', 'w').write('x')",
    "truth": "open(os.path.join(os.environ['MATHNAS_BENCH_DATA'], 'accuracy.csv')).read()",
}


def _plugin_suite(tmp_path, behaviour: str) -> Path:
    plugin = tmp_path / f"{behaviour}_variant.py"
    plugin.write_text(textwrap.dedent(f"""
        import os, socket
        from mathnas.variants import register_variant

        @register_variant("{behaviour}")
        def variant(prof):
            {PLUGINS[behaviour] or 'pass'}
            context = prof.average_code()
            return prof.tables(prof.sweep(context), ref_flops=float(prof.spec.flops(context)[0]), variant="{behaviour}")
    """))
    suite = tmp_path / f"{behaviour}.toml"
    suite.write_text(textwrap.dedent(f"""
        datasets = "cifar10"
        devices = "fpga"
        tasks = ["predict"]
        sample_size = 10
        [[methods]]
        name = "mathnas"
        variant = "{behaviour}"
        plugin = "{plugin}"
    """))
    return suite


@pytest.mark.parametrize("behaviour", ["socket", "write", "truth"])
def test_a_misbehaving_plugin_fails_inside_its_container(image, tmp_path, behaviour, monkeypatch):
    from harness.run import run

    monkeypatch.setenv("MATHNAS_BENCH_DATA", str(DATA))
    s = run(_plugin_suite(tmp_path, behaviour), tmp_path / "out", executor="docker", jobs=1, progress=False)
    assert s.failed == 1, s
    error = s.failures[0][1]
    assert f"MathNAS variant '{behaviour}' failed" in error
    assert {"socket": "OSError", "write": "Read-only file system", "truth": "No such file"}[behaviour] in error
    assert not Path("/opt/pwned.txt").exists()


def test_a_polite_plugin_gives_the_same_row_as_in_process(image, tmp_path, monkeypatch):
    from harness.run import run

    monkeypatch.setenv("MATHNAS_BENCH_DATA", str(DATA))
    suite = _plugin_suite(tmp_path, "polite")
    assert run(suite, tmp_path / "here", executor="serial", progress=False).failed == 0
    assert run(suite, tmp_path / "boxed", executor="docker", jobs=1, progress=False).failed == 0
    import pandas as pd

    pd.testing.assert_frame_equal(_table(tmp_path / "here"), _table(tmp_path / "boxed"), check_like=True)


# --- one-line errors ---------------------------------------------------------------------------------------------
def test_no_daemon_is_one_line(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    ok, why = docker_available()
    assert not ok and why.startswith("no Docker daemon answers at unix:///nonexistent/docker.sock") and "\n" not in why
    with pytest.raises(HarnessError, match="^no Docker daemon answers") as e:
        img.build_image(progress=False)
    assert "\n" not in str(e.value)


def test_debootstrap_missing_is_one_line(monkeypatch):
    monkeypatch.setattr(img.shutil, "which", lambda name: None)
    with pytest.raises(HarnessError, match="^debootstrap is not installed"):
        img.make_base(client=None, progress=False)


def test_pip_failing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline and independent of this machine's pip configuration
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    (tmp_path / "requirements.lock").write_text("no-such-package-for-mathnas-bench==0.0.1\n")
    with pytest.raises(HarnessError, match=r"^pip wheel -r requirements.lock failed \(exit 1\): .*no-such-package") as e:
        img.wheelhouse(tmp_path, progress=False)
    assert "\n" not in str(e.value)
    assert [p.name for p in (tmp_path / "cache" / "mathnas-bench" / "wheelhouse").iterdir() if p.is_dir()] == []


def test_build_failing_names_the_last_log_line(image, client):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        text = f"FROM {image.base}\nRUN echo about to fail && false\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    buf.seek(0)
    with pytest.raises(HarnessError, match="^image build failed: .*non-zero code: 1; last log line: about to fail$"):
        img._build(client, "mathnas-bench-test:fails", image.base, {}, buf, progress=False)


def test_unknown_base_is_one_line(image):
    with pytest.raises(HarnessError, match="^base image 'registry.invalid/nothing:1' is not here and cannot be pulled"):
        img.build_image(base="registry.invalid/nothing:1", progress=False)
