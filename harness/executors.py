"""Executors: run cells serially, in a process pool, on Ray or in containers; yield (cell, row) as rows finish.

Each is a generator `fn(cells, ctx, jobs, options) -> (cell, row)`; the driver writes every row to the store
as it arrives, whichever executor produced it. A worker that dies takes only its own cell down (a failed row
with the reason), and workers die with the driver (even when the driver is killed with SIGKILL).
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from urllib.parse import urlparse

from core.errors import HarnessError
from harness.cells import THREAD_ENV, execute, failed_row

EXECUTORS = ("serial", "process", "ray", "docker")
RAY_CONNECT_TIMEOUT = 20.0   # seconds to wait for a Ray head at --address before giving up


@contextlib.contextmanager
def environment(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the driver goes away, even if it was killed with SIGKILL.

    Linux delivers SIGKILL to us when our parent dies (prctl PR_SET_PDEATHSIG); elsewhere, and as a
    backstop, a daemon thread notices the parent change within a second."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG = 1

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()
    if os.getppid() != parent:
        os._exit(1)


def serial(cells, ctx, jobs, options):
    with environment(THREAD_ENV):
        for c in cells:
            yield c, execute(c.spec, c.key, ctx)


def process(cells, ctx, jobs, options):
    spawn = multiprocessing.get_context("spawn")
    with environment(THREAD_ENV), ProcessPoolExecutor(max_workers=min(jobs, len(cells)), mp_context=spawn,
                                                      initializer=die_with_parent,
                                                      initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(execute, c.spec, c.key, ctx): c for c in cells}
        try:
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    yield cell, fut.result()
                except Exception as e:  # a worker died (e.g. out of memory): that cell failed
                    yield cell, failed_row(cell.spec, cell.key, e)
        finally:
            for fut in futures:
                fut.cancel()


def check_ray_address(address: str | None) -> None:
    """A clear error before anything is written when --address cannot name a Ray cluster."""
    if address is None or address == "auto":
        return
    text = address if "://" in address else f"ray://{address}"
    try:
        parsed = urlparse(text)
        port = parsed.port
    except ValueError:
        port = None
        parsed = None
    if parsed is None or not parsed.hostname or port is None:
        raise HarnessError(f"--address {address!r}: expected HOST:PORT (or ray://HOST:PORT, or auto)")


def _reachable(address: str) -> None:
    """Fail fast (one line) when nothing listens at a Ray address, instead of Ray's minute-long retries."""
    import socket

    if address == "auto":
        return
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=5.0):
            pass
    except OSError as e:
        raise HarnessError(f"--address {address}: no Ray cluster answers there ({e.strerror or e})") from None


def ray(cells, ctx, jobs, options):
    import ray as ray_module

    address = options.get("address")
    started = False
    if not ray_module.is_initialized():
        if address:
            _reachable(address)
            ray_module.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            env = {**THREAD_ENV, **ctx.get("env", {}),
                   "PYTHONPATH": os.pathsep.join(p for p in ctx.get("sys_path", []) + [os.environ.get("PYTHONPATH", "")]
                                                 if p)}
            ray_module.init(num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING,
                            log_to_driver=False, runtime_env={"env_vars": env})
        started = True
    try:
        remote = ray_module.remote(num_cpus=1, max_retries=0)(execute)
        pending = {remote.remote(c.spec, c.key, ctx): c for c in cells}
        while pending:
            done, _ = ray_module.wait(list(pending), num_returns=1)
            for ref in done:
                cell = pending.pop(ref)
                try:
                    yield cell, ray_module.get(ref)
                except Exception as e:  # the task or its worker crashed
                    yield cell, failed_row(cell.spec, cell.key, e)
    finally:
        if started:
            ray_module.shutdown()


EXECUTOR_FUNCS = {"serial": serial, "process": process, "ray": ray}
