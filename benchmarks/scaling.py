"""Benchmark: what a second Dask worker buys, on scheduler and worker processes (hepwb.run.cluster).

    python benchmarks/scaling.py [--events 20000] [--notebook 04_trigger_fpga] [--skip generation scan read]

Three measurements, each with 1 and then 2 workers on a fresh ``dask scheduler`` + ``dask worker``
processes (one thread each; a notebook kernel is held to one thread too, as in a one-core batch slot):

* generation: ``hepwb generate jets`` of ``--events`` events against the scheduler's address, written
  with ZSTD (the files of both runs must be identical);
* scan: four smoke-preset points of ``--notebook`` (``bits=[4,6]`` x 2 seeds for 04_trigger_fpga);
* read: the committed datasets through ``uproot.dask`` + dask-awkward into a ``hist.dask``
  histogram per dataset, against the eager read (``hepwb.data.read`` + ``hist``): identical counts.

Prints wall times, rates and the ratio of two workers to one (target on two cores: >= 1.8x for
generation and scans).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np

from hepwb import data
from hepwb.run.cluster import ProcessCluster

ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
#: scan points per notebook: four smoke-preset runs
SCAN_POINTS = {"04_trigger_fpga": ({"bits": [4, 6]}, 2),
               "00_root_data": ({"max_events": [1000, 2000, 3000, 4000]}, None)}
#: a histogram per committed dataset: (dataset, branch, bins, low, high); jagged branches are flattened
HISTOGRAMS = [("jets", "const_pt", 60, 0, 600), ("zmumu", "m_ll", 60, 60, 120),
              ("l1_jets", "offline_pt", 60, 0, 600), ("l1_events", "jet_pt", 60, 0, 300)]


def children_cpu_seconds() -> float:
    """CPU seconds of the finished child processes: a closed cluster's scheduler, workers and kernels."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(function, *args, **kwargs):
    """(wall seconds, result) of ``function(*args, **kwargs)``."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generation(events: int, folder: Path) -> list[tuple]:
    from hepwb.run.generate import generate

    rows, files = [], []
    for workers in (1, 2):
        cpu = children_cpu_seconds()
        with ProcessCluster(workers, folder / f"gen-cluster-{workers}", env=ONE_THREAD) as cluster:
            path = folder / f"jets-{workers}.root"
            seconds, _ = timed(generate, "jets", events, seed=5, scheduler=cluster.address, output=path,
                               progress=False, compression="zstd")  # LZMA here would take a tenth of a core
        files.append(data.read(path))
        rows.append((f"generate jets, {events} events", workers, seconds, children_cpu_seconds() - cpu,
                     f"{events / seconds:.1f} ev/s"))
    assert ak.array_equal(files[0], files[1]), "the two generation runs differ"
    return rows


def scan(notebook: str, folder: Path) -> list[tuple]:
    from hepwb.run.scan import run_scan

    overrides, seeds = SCAN_POINTS[notebook]
    rows = []
    for workers in (1, 2):
        cpu = children_cpu_seconds()
        with ProcessCluster(workers, folder / f"scan-cluster-{workers}", env=ONE_THREAD) as cluster:
            seconds, results = timed(run_scan, notebook, overrides, preset="smoke", seeds=seeds,
                                     out_dir=folder / f"scan-{workers}", scheduler=cluster.address, progress=False)
        assert all(r["status"] == "ok" for r in results), [r["error"] for r in results]
        rows.append((f"scan {notebook} smoke, {len(results)} points", workers, seconds, children_cpu_seconds() - cpu,
                     f"{len(results) * 60 / seconds:.2f} points/min"))
    return rows


def eager_histograms() -> list:
    import hist

    filled = []
    for file, branch, bins, low, high in HISTOGRAMS:
        values = data.read(file, [branch])[branch]
        flat = ak.to_numpy(ak.flatten(values, axis=None))
        filled.append(hist.Hist.new.Reg(bins, low, high, name=branch).Double().fill(flat))
    return filled


def dask_histograms(address: str) -> list:
    import dask
    import hist.dask
    from dask.distributed import Client

    lazy = []
    for file, branch, bins, low, high in HISTOGRAMS:
        array = data.dask(file, [branch], step_size=20_000)[branch]
        lazy.append(hist.dask.Hist.new.Reg(bins, low, high, name=branch).Double().fill(ak.flatten(array, axis=None)
                                                                                         if array.ndim > 1 else array))
    with Client(address):
        return list(dask.compute(*lazy))


def read(folder: Path) -> list[tuple]:
    events = sum(data.tree(name).num_entries for name, *_ in HISTOGRAMS)
    cpu = own_cpu_seconds()
    seconds, eager = timed(eager_histograms)
    rows = [("read + fill 4 datasets, eager", 0, seconds, own_cpu_seconds() - cpu, f"{events / seconds:,.0f} ev/s")]
    for workers in (1, 2):
        cpu = children_cpu_seconds()
        with ProcessCluster(workers, folder / f"read-cluster-{workers}", env=ONE_THREAD) as cluster:
            seconds, filled = timed(dask_histograms, cluster.address)
        for a, b in zip(eager, filled):
            assert np.array_equal(a.values(), b.values()), f"{a.axes[0].name}: dask and eager histograms differ"
        rows.append(("read + fill 4 datasets, uproot.dask", workers, seconds, children_cpu_seconds() - cpu,
                     f"{events / seconds:,.0f} ev/s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000,
                        help="jets to generate: 40 chunks of 500, 20 per worker "
                             "(fewer chunks: the last one runs alone longer)")
    parser.add_argument("--notebook", choices=sorted(SCAN_POINTS), default="04_trigger_fpga")
    parser.add_argument("--skip", nargs="*", default=[], choices=("generation", "scan", "read"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hepwb-scaling-"))
    rows = []
    try:
        if "generation" not in args.skip:
            rows += generation(args.events, folder)
        if "scan" not in args.skip:
            rows += scan(args.notebook, folder)
        if "read" not in args.skip:
            rows += read(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{'what':42s} {'workers':>7s} {'wall [s]':>9s} {'CPU [s]':>8s} {'rate':>18s} {'2 vs 1 worker':>14s}")
    one = {}
    for what, workers, seconds, cpu, rate in rows:
        if workers == 1:
            one[what] = seconds
        ratio = f"{one[what] / seconds:.2f}x" if workers == 2 and what in one else ""
        print(f"{what:42s} {workers or 'eager':>7} {seconds:9.1f} {cpu:8.1f} {rate:>18s} {ratio:>14s}")


if __name__ == "__main__":
    main()
