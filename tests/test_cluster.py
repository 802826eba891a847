"""A real Dask cluster on localhost: ``dask scheduler`` and ``dask worker`` as separate processes,
started with the command-line tools that ship with distributed, exactly as on a cluster's nodes
(``hepwb.run.cluster.ProcessCluster``).

``hepwb generate`` on it gives the events of a local run; ``hepwb scan`` on it delivers every
point's metrics; a worker killed mid-scan (with its kernel, as when a node dies) loses no finished
point, and the scan names the point it lost. The scheduler gives up on a task at the first death of
its worker (``allowed-failures`` 0, Dask's default is 3 retries elsewhere), so that the loss is seen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import awkward as ak
import psutil
import pytest

from hepwb import data
from hepwb.__main__ import main
from hepwb.run import scan
from hepwb.run.cluster import ProcessCluster

pytestmark = pytest.mark.slow  # Dask clusters of processes: left out by make test-fast


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with ProcessCluster(workers=2, folder=tmp_path_factory.mktemp("cluster"),
                        env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as cluster:
        yield cluster


def test_generation_on_scheduler_and_workers_gives_the_local_events(cluster, small_jets, tmp_path):
    path = tmp_path / "jets-cluster.root"
    assert main(["generate", "jets", "--events", "100", "--seed", "7", "--scheduler", cluster.address,
                 "--out", str(path), "--no-progress"]) == 0
    local, remote = data.read(small_jets), data.read(path)
    assert local.fields == remote.fields and len(remote) == 100 and ak.array_equal(local, remote)


def test_a_scan_on_the_cluster_delivers_every_point(cluster, toy, tmp_path, capsys):
    out = tmp_path / "scan"
    code = main(["scan", str(toy), "-p", "x=[1,2]", "-p", "pause=1.0", "--seeds", "2", "--scheduler", cluster.address,
                 "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr()
    folders = ("x=1_seed=1", "x=1_seed=2", "x=2_seed=1", "x=2_seed=2")
    results = [json.loads((out / f / scan.DONE).read_text()) for f in folders]
    assert [r["metrics"]["answer"] for r in results] == pytest.approx([42.1, 42.2, 84.1, 84.2])
    assert len({r["worker"] for r in results}) == 2  # both workers ran points


def test_a_worker_killed_mid_scan_loses_no_finished_point(cluster, toy, tmp_path):
    cluster.add_worker("doomed")
    out = tmp_path / "scan"
    overrides = {"x": [1, 2, 4, 5, 6, 7], "pause": 2.0}
    found = {}
    thread = threading.Thread(target=lambda: found.update(
        results=scan.run_scan(toy, overrides, out_dir=out, scheduler=cluster.address, progress=False)))
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline:  # a point has finished and the doomed worker is running one
        finished = list(out.glob(f"*/{scan.DONE}"))
        children = psutil.Process(cluster.workers["doomed"].pid).children(recursive=True)
        if finished and any("ipykernel" in " ".join(c.cmdline()) for c in children):
            break
        time.sleep(0.1)
    else:
        pytest.fail("in 120 s no point finished while the doomed worker ran another: nothing to kill mid-scan")
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob(f"*/{scan.DONE}")}
    cluster.kill("doomed")
    thread.join(timeout=180)
    results = found["results"]
    lost = [r["folder"] for r in results if r["status"] == "lost"]
    assert lost and all("its worker died or left" in r["error"] for r in results if r["status"] == "lost")
    assert all(r["status"] == "ok" for r in results if r["folder"] not in lost)
    assert {f: (out / f / scan.DONE).stat().st_mtime_ns for f in before} == before  # finished points kept
    assert not set(before) & set(lost)

    again = scan.run_scan(toy, overrides, out_dir=out, scheduler=cluster.address, progress=False)
    assert sorted(r["folder"] for r in again if not r["skipped"]) == sorted(lost)
    assert all(r["status"] == "ok" for r in again)


def _without_the_folder(folder) -> tuple[str, ...]:
    """A command prefix that starts a process in mount and user namespaces of its own, where an empty tmpfs hides
    ``folder``: a node that does not mount it. Unprivileged user namespaces let an ordinary user do this (Debian,
    Fedora, Arch; Ubuntu 24.04 restricts them with AppArmor: ``sysctl kernel.apparmor_restrict_unprivileged_userns=0``).
    """
    prefix = ("unshare", "--user", "--map-root-user", "--mount",
              "sh", "-c", f'mount -t tmpfs none "{folder}" && exec "$@"', "sh")
    if shutil.which("unshare") is None or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("this kernel forbids unprivileged user and mount namespaces (unshare --user --mount), which the "
                    "test uses to start a worker that does not see the folder")
    return prefix


def test_workers_that_do_not_share_the_output_folder_stop_the_scan_before_it_starts(toy, tmp_path, tmp_path_factory,
                                                                                    capsys):
    out = tmp_path / "scan"
    out.mkdir()
    with ProcessCluster(workers=0, folder=tmp_path_factory.mktemp("elsewhere")) as cluster:
        cluster.add_worker("node-without-the-folder", prefix=_without_the_folder(out))
        code = main(["scan", str(toy), "-p", "x=[1,2]", "--scheduler", cluster.address, "--out", str(out),
                     "--no-progress"])
    assert code == 2
    error = capsys.readouterr().err
    assert f"cannot read {out}" in error and "must be on a file system that this machine and all workers share" in error
    assert sorted(p.name for p in out.iterdir()) == ["scan.json"]  # no point ran


def _certificates(folder, name: str, ca: tuple | None = None) -> tuple:
    """(CA file, certificate, key) made with openssl: a CA of its own, or a certificate that ``ca`` signs."""
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=folder)

    if ca is None:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.pem")
        return (folder / f"{name}.pem",) * 2 + (folder / f"{name}.key",)
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
            "-out", f"{name}.csr")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[1]), "-CAkey", str(ca[2]), "-CAcreateserial",
            "-days", "2", "-extfile", "san.cnf", "-out", f"{name}.pem")
    return ca[0], folder / f"{name}.pem", folder / f"{name}.key"


def test_a_scan_runs_through_a_tls_scheduler_that_refuses_clients_without_its_certificate(toy, tmp_path, capsys):
    """docs/cluster.md's private cluster: scheduler and workers speak TLS with certificates of the cluster's CA;
    the client's certificate comes from Dask's configuration; a client without one gets nothing to run."""
    import dask
    from dask.distributed import Client, Security

    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test's certificates")
    ca = _certificates(tmp_path, "hepwb-test-ca")
    node, user = _certificates(tmp_path, "node", ca), _certificates(tmp_path, "physicist", ca)
    stranger = _certificates(tmp_path, "stranger", _certificates(tmp_path, "another-ca"))
    with ProcessCluster(workers=1, folder=tmp_path / "cluster", tls=node) as cluster:
        assert cluster.address.startswith("tls://127.0.0.1:")
        client_config = {"distributed.comm.tls.ca-file": str(user[0]), "distributed.comm.tls.client.cert": str(user[1]),
                         "distributed.comm.tls.client.key": str(user[2]), "distributed.comm.require-encryption": True}
        with dask.config.set(client_config):
            code = main(["scan", str(toy), "-p", "x=[1,2]", "--scheduler", cluster.address,
                         "--out", str(tmp_path / "scan"), "--no-progress"])
        assert code == 0, capsys.readouterr()
        done = [json.loads((tmp_path / "scan" / f / scan.DONE).read_text()) for f in ("x=1", "x=2")]
        assert [r["metrics"]["answer"] for r in done] == pytest.approx([42.1, 84.1])

        capsys.readouterr()
        code = main(["scan", str(toy), "-p", "x=[3]", "--scheduler", cluster.address, "--out", str(tmp_path / "no"),
                     "--no-progress"])  # no certificate in Dask's configuration: one line, nothing runs
        assert code == 2 and "speaks TLS, but Dask's configuration has no client certificate" in capsys.readouterr().err
        assert not (tmp_path / "no" / "x=3").exists()
        signed_elsewhere = Security(tls_ca_file=str(stranger[0]), tls_client_cert=str(stranger[1]),
                                    tls_client_key=str(stranger[2]), require_encryption=True)
        with pytest.raises(OSError):  # a certificate that the cluster's CA did not sign: the handshake fails
            Client(cluster.address, timeout=5, security=signed_elsewhere)
        plain = cluster.address.replace("tls://", "tcp://")
        with pytest.raises(OSError):  # plain TCP to the TLS port
            Client(plain, timeout=5)
