"""Dask clusters for hepwb's tasks: the client of a run, the shared-folder check, and a cluster of processes.

``dask_client`` is what ``hepwb generate``, ``run`` and ``scan`` run their tasks through: an existing
scheduler (an address or a cluster object) or a local cluster of worker processes.
``check_workers_share`` refuses workers that cannot write where the outputs go.

``ProcessCluster`` starts ``dask scheduler`` and one ``dask worker`` per worker, the command-line tools
that ship with ``distributed``, each in its own process group; unlike ``LocalCluster`` nothing is
shared with the Python process that started them, so what works here works with workers on other
machines (as long as they share the file system). Used by the tests and ``benchmarks/scaling.py``;
on a laptop::

    with ProcessCluster(workers=2) as cluster:
        hepwb.run.scan.run_scan("04_trigger_fpga", {"bits": [4, 6]}, scheduler=cluster.address)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from hepwb.data import OutputPathError


@contextlib.contextmanager
def dask_client(workers: int = 1, scheduler=None):
    """A ``distributed.Client`` of ``scheduler`` (an address such as ``tcp://host:8786``, or a cluster
    object from dask-jobqueue or Dask Gateway), else of a LocalCluster of ``workers`` one-thread processes."""
    from dask.distributed import Client, LocalCluster

    check_tls_configuration(scheduler)
    cluster = None if scheduler is not None else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                             processes=True, dashboard_address=":0")
    client = Client(scheduler if scheduler is not None else cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def check_tls_configuration(scheduler) -> None:
    """Raise ValueError (one line) for a ``tls://`` scheduler when Dask's configuration holds no client certificate."""
    from distributed.security import Security

    if isinstance(scheduler, str) and scheduler.startswith("tls://"):
        if Security().get_connection_args("client").get("ssl_context") is None:
            raise ValueError(f"{scheduler} speaks TLS, but Dask's configuration has no client certificate: set "
                             "distributed.comm.tls.ca-file, .client.cert and .client.key (e.g. in "
                             "~/.config/dask/distributed.yaml; docs/cluster.md, 'A private cluster')")


TOKEN = ".hepwb-scan-token"


def check_shared_folder(folder: str, token: str) -> str | None:
    """On a worker: None if it can read the client's token in ``folder`` and write beside it, else why not."""
    where = f"{socket.gethostname()} (pid {os.getpid()})"
    try:
        seen = (Path(folder) / TOKEN).read_text()
    except OSError as error:
        return f"the worker on {where} cannot read {folder}: {error.strerror or error}"
    if seen != token:
        return f"the worker on {where} sees another {folder} than this machine (not a shared file system)"
    probe = Path(folder) / f".hepwb-write-test-{uuid.uuid4().hex}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        return f"the worker on {where} cannot write in {folder}: {error.strerror or error}"
    return None


def check_workers_share(client, out_dir: Path) -> None:
    """Refuse a cluster whose workers do not share ``out_dir`` with this machine (one line: the first problem)."""
    token_file = Path(out_dir) / TOKEN
    token = uuid.uuid4().hex
    token_file.write_text(token)
    try:
        problems = [p for p in client.run(check_shared_folder, str(out_dir), token).values() if p]
    finally:
        token_file.unlink(missing_ok=True)
    if problems:
        raise OutputPathError(f"{problems[0]}: the workers write the outputs, so --out must be on a file system "
                              "that this machine and all workers share (a shared home, NFS, EOS)")


class ProcessCluster:
    """A scheduler on 127.0.0.1 and ``workers`` single-threaded workers; logs in ``folder``.

    ``env`` is added to the environment of the scheduler and the workers (e.g. Dask settings as
    ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``). ``tls``: (CA file, certificate, key), PEM files
    with which the scheduler and the workers speak TLS and accept only peers whose certificate the CA
    signed (``dask scheduler --protocol tls --tls-ca-file ... --tls-cert ... --tls-key ...``).
    """

    def __init__(self, workers: int = 1, folder: Path | str | None = None, env: dict | None = None,
                 timeout: float = 60.0, tls: tuple[str, str, str] | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="hepwb-cluster-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env, self.timeout, self.workers = {**os.environ, **(env or {})}, timeout, {}
        self.tls = tls
        self.tls_arguments = [] if tls is None else ["--tls-ca-file", str(tls[0]), "--tls-cert", str(tls[1]),
                                                     "--tls-key", str(tls[2])]
        file = self.folder / "scheduler.json"
        file.unlink(missing_ok=True)
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(file), *(["--protocol", "tls"] if tls else []),
                                      *self.tls_arguments], "scheduler")
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
                                          "--no-dashboard", *self.tls_arguments], name, prefix)
        self.wait_for_workers(len(self.workers))

    def wait_for_workers(self, n: int) -> None:
        from dask.distributed import Client, Security

        security = None
        if self.tls is not None:
            ca, cert, key = map(str, self.tls)
            security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
        with Client(self.address, timeout=self.timeout, security=security) as client:
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
