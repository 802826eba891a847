"""A Dask cluster of separate processes on this machine, started as on a cluster's nodes.

``dask scheduler`` and one ``dask worker`` per worker, the command-line tools that ship with
``distributed``, each in its own process group; unlike ``LocalCluster`` nothing is shared with the
Python process that started them, so what works here works with workers on other machines (as
long as they share the file system). Used by the tests and ``benchmarks/scaling.py``; on a laptop::

    with ProcessCluster(workers=2) as cluster:
        hepwb.scan.run_scan("04_trigger_fpga", {"bits": [4, 6]}, scheduler=cluster.address)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ProcessCluster:
    """A scheduler on 127.0.0.1 and ``workers`` single-threaded workers; logs in ``folder``.

    ``env`` is added to the environment of the scheduler and the workers (e.g. Dask settings as
    ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``).
    """

    def __init__(self, workers: int = 1, folder: Path | str | None = None, env: dict | None = None,
                 timeout: float = 60.0):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="hepwb-cluster-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env, self.timeout, self.workers = {**os.environ, **(env or {})}, timeout, {}
        file = self.folder / "scheduler.json"
        file.unlink(missing_ok=True)
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(file)], "scheduler")
        deadline = time.time() + timeout
        while not file.exists():
            if self.scheduler.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError(f"dask scheduler did not start; see {self.folder / 'scheduler.log'}")
            time.sleep(0.1)
        self.address = json.loads(file.read_text())["address"]
        for i in range(workers):
            self.add_worker(f"worker-{i + 1}")

    def _start(self, arguments: list[str], name: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
        dask = Path(sys.executable).with_name("dask")  # the tool of this environment, not another on PATH
        with open(self.folder / f"{name}.log", "w") as log:
            return subprocess.Popen([*prefix, str(dask), *arguments], stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=self.env, cwd=self.folder)

    def add_worker(self, name: str, prefix: tuple[str, ...] = ()) -> None:
        """Start one more worker (one thread) and wait until the scheduler has it.

        ``prefix``: a command the worker runs under (the tests give one a mount namespace of its own,
        as a node that does not mount the output folder).
        """
        self.workers[name] = self._start(["worker", self.address, "--name", name, "--nthreads", "1",
                                          "--no-dashboard"], name, prefix)
        self.wait_for_workers(len(self.workers))

    def wait_for_workers(self, n: int) -> None:
        from dask.distributed import Client

        with Client(self.address, timeout=self.timeout) as client:
            client.wait_for_workers(n, timeout=self.timeout)

    def kill(self, name: str) -> None:
        """SIGKILL a worker and every process it started (notebook kernels run in their own sessions),
        as when its node dies."""
        import psutil

        process = self.workers.pop(name)
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def close(self) -> None:
        processes = [*self.workers.values(), self.scheduler]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.workers = {}

    def __enter__(self) -> ProcessCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
