"""Does the workbench fit mybinder.org? Build an environment from binder/ alone and run every notebook
within Binder's limits: one CPU and 2 GB of memory.

    python benchmarks/binder.py                  # or: make binder-check
    python benchmarks/binder.py --notebooks 00_root_data --keep
    python benchmarks/binder.py --stack keras3 --out results/binder-check-keras3

Steps, as repo2docker does them: clone the project (its last commit) into a temporary folder; make a
virtual environment with the Python of ``binder/runtime.txt``; ``pip install -r binder/requirements.txt``;
run ``binder/postBuild``. Then each notebook runs with its school defaults through ``hepwb run`` (in
teaching order, into the clone's ``results/``, so ``04_trigger_fpga`` finds the tagger of
``01_jet_tagging`` as in a school), pinned to one CPU with ``taskset`` and, where this machine lets
us make a memory cgroup (v1 or v2), under a 2 GB limit. Memory is measured two ways: the peak of
the summed resident memory of the whole process tree (papermill and the kernel), sampled every
0.2 s, and, with a cgroup, the cgroup's own peak (which also counts the page cache the kernel can
reclaim). Prints a table and writes it, with the details, to ``--out`` (``binder-check.md``/``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("00_root_data", "01_jet_tagging", "02_gan_fastsim", "03_anomaly_detection", "04_trigger_fpga",
             "05_tagger_robustness", "06_trigger_regression", "07_tracking_gnn", "08_calorimeter_showers",
             "09_from_score_to_measurement")
LIMIT_BYTES = 2 * 1024**3
BUDGET_SECONDS = 4 * 60


# ------------------------------------------------------------------------------------------
# memory: a cgroup with a limit where we may make one, and the process tree's resident memory
# ------------------------------------------------------------------------------------------

class MemoryCgroup:
    """A child memory cgroup (v1 or v2) of this process's own, with a hard limit; None-like if impossible."""

    def __init__(self, limit_bytes: int | None):
        self.path, self.version = None, None
        self.limit_bytes = limit_bytes
        if limit_bytes is None:  # measure only (benchmarks/colab.py)
            self.reason = "no memory limit"
            return
        try:
            self.path, self.version = self._create()
        except OSError as error:
            self.reason = f"no memory cgroup ({error.strerror or error}); only the process tree's memory is measured"
        else:
            self.reason = f"cgroup v{self.version} memory limit {limit_bytes / 1024**3:.0f} GiB"

    def _create(self):
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        unified = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
        v1 = next((line.split(":", 2)[2] for line in lines if re.match(r"\d+:([^:]*,)?memory(,[^:]*)?:", line)), None)
        name = f"hepwb-binder-{os.getpid()}"
        if v1 is not None and Path("/sys/fs/cgroup/memory").is_dir():
            path = Path("/sys/fs/cgroup/memory") / v1.lstrip("/") / name
            path.mkdir()
            (path / "memory.limit_in_bytes").write_text(str(self.limit_bytes))
            if (path / "memory.memsw.limit_in_bytes").exists():  # no swapping around the limit
                (path / "memory.memsw.limit_in_bytes").write_text(str(self.limit_bytes))
            return path, 1
        if unified is not None and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            path = Path("/sys/fs/cgroup") / unified.lstrip("/") / name
            path.mkdir()
            (path / "memory.max").write_text(str(self.limit_bytes))
            (path / "memory.swap.max").write_text("0")
            return path, 2
        raise OSError("neither cgroup v1 memory nor cgroup v2 is mounted")

    def join(self) -> None:
        """Move the calling process into the cgroup (used as a subprocess's preexec_fn)."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def reset_peak(self) -> None:
        if self.version == 1:
            (self.path / "memory.max_usage_in_bytes").write_text("0")

    def peak_bytes(self) -> int | None:
        if self.version == 1:
            return int((self.path / "memory.max_usage_in_bytes").read_text())
        if self.version == 2 and (self.path / "memory.peak").exists():
            return int((self.path / "memory.peak").read_text())
        return None

    def oom_kills(self) -> int:
        files = {1: "memory.oom_control", 2: "memory.events"}
        if self.path is None:
            return 0
        text = (self.path / files[self.version]).read_text()
        found = re.search(r"oom_kill (\d+)", text)
        return int(found.group(1)) if found else 0

    def remove(self) -> None:
        if self.path is not None:
            self.path.rmdir()


def _tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of ``root_pid`` and all its descendants (Linux /proc)."""
    children, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], cwd: Path, cgroup: MemoryCgroup, log, env: dict | None = None) -> dict:
    """Run ``command`` (with ``env`` if given); returns exit code, wall and CPU seconds, peak tree RSS and
    cgroup peak."""
    cgroup.reset_peak()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=cgroup.join, env=env)
    peak = [0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_bytes(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"exit_code": code, "wall_seconds": round(time.time() - started, 1),
            "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "peak_tree_rss_gb": round(peak[0] / 1024**3, 2),
            "peak_cgroup_gb": None if cgroup.peak_bytes() is None else round(cgroup.peak_bytes() / 1024**3, 2),
            "oom_kills": cgroup.oom_kills()}


# ------------------------------------------------------------------------------------------
# the environment, from binder/ alone
# ------------------------------------------------------------------------------------------

def python_of_runtime(clone: Path) -> str:
    """The interpreter that binder/runtime.txt asks for (``python-3.11`` -> python3.11)."""
    wanted = (clone / "binder" / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", wanted)
    if not match:
        sys.exit(f"binder/runtime.txt: expected e.g. 'python-3.11', found {wanted!r}")
    version = match.group(1)
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        sys.exit(f"binder/runtime.txt asks for Python {version}; no python{version} on this machine's PATH")
    return found


def build_environment(clone: Path, log, stack: str = "keras2") -> tuple[Path, float]:
    """venv + requirements.txt + postBuild, as repo2docker; returns (its bin folder, seconds). ``stack="keras3"``
    instead installs the clone with its keras3 extra (what a Binder image of that stack would hold)."""
    started = time.time()
    env = clone.parent / "env"
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    steps = [[python_of_runtime(clone), "-m", "venv", str(env)], [*pip, "--upgrade", "pip"]]
    if stack == "keras2":
        steps += [[*pip, "-r", "binder/requirements.txt"], ["bash", "binder/postBuild"]]
    else:
        steps += [[*pip, "-e", ".[keras3]"]]
    path = f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}"
    for step in steps:
        print(f"  $ {' '.join(step)}", flush=True)
        result = subprocess.run(step, cwd=clone, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PATH": path, "VIRTUAL_ENV": str(env)})
        if result.returncode != 0:
            sys.exit(f"building the Binder environment failed at: {' '.join(step)} (log: {log.name})")
    return env / "bin", time.time() - started


# ------------------------------------------------------------------------------------------

def table(rows: list[dict]) -> str:
    lines = ["| notebook | status | wall time | CPU time | peak memory (process tree) "
             "| cgroup peak (incl. page cache) |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        cgroup_peak = "—" if r["peak_cgroup_gb"] is None else f"{r['peak_cgroup_gb']:.2f} GB"
        lines.append(f"| {r['notebook']} | {r['status']} | {_minutes(r['wall_seconds'])} | {r['cpu_seconds']:.0f} s "
                     f"| {r['peak_tree_rss_gb']:.2f} GB | {cgroup_peak} |")
    return "\n".join(lines) + "\n"


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git repository to clone (default: this one)")
    parser.add_argument("--notebooks", nargs="*", default=list(NOTEBOOKS), help="notebooks to run, in this order")
    parser.add_argument("--cpu", type=int, default=0, help="the one CPU (taskset) the notebooks run on")
    parser.add_argument("--memory-gb", type=float, default=LIMIT_BYTES / 1024**3, help="memory limit (cgroup)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "binder-check", help="where the table goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone and environment")
    parser.add_argument("--stack", choices=("keras2", "keras3"), default="keras2",
                        help="keras2: the environment of binder/ (default); keras3: the clone's keras3 extra")
    args = parser.parse_args(argv)
    unknown = [n for n in args.notebooks if n not in NOTEBOOKS]
    if unknown:
        parser.error(f"unknown notebooks {unknown}; choose from {list(NOTEBOOKS)}")
    if shutil.which("taskset") is None:
        sys.exit("taskset (util-linux) is needed to pin the notebooks to one CPU")

    work = Path(tempfile.mkdtemp(prefix="hepwb-binder-"))
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "binder-check.log"
    cgroup = MemoryCgroup(int(args.memory_gb * 1024**3))
    rows = []
    try:
        with log_path.open("w") as log:
            clone = work / "hepwb"
            print(f"cloning {args.repo} (last commit) into {clone}", flush=True)
            subprocess.run(["git", "clone", "--quiet", str(args.repo), str(clone)], check=True)
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                                    text=True, check=True).stdout.strip()
            print(f"building the {args.stack} environment" + (" from binder/ (runtime.txt, requirements.txt, "
                  "postBuild)" if args.stack == "keras2" else " from the clone's keras3 extra"), flush=True)
            bin_dir, build_seconds = build_environment(clone, log, args.stack)
            print(f"  done in {_minutes(build_seconds)}; memory: {cgroup.reason}", flush=True)
            for name in args.notebooks:
                print(f"running {name} (school preset, CPU {args.cpu}) ...", flush=True)
                command = ["taskset", "-c", str(args.cpu), str(bin_dir / "hepwb"), "run", name, "--out", "results"]
                measured = run_measured(command, clone, cgroup, log)
                within = (measured["wall_seconds"] <= BUDGET_SECONDS and measured["peak_tree_rss_gb"] * 1024**3
                          <= cgroup.limit_bytes)
                status = ("ok" if within else "over budget") if measured["exit_code"] == 0 else (
                    "killed: out of memory" if measured["oom_kills"] else "failed")
                rows.append({"notebook": name, "status": status, **measured})
                print(f"  {status}: {_minutes(measured['wall_seconds'])}, {measured['peak_tree_rss_gb']:.2f} GB",
                      flush=True)
    finally:
        cgroup.remove()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    source = "from binder/" if args.stack == "keras2" else "of the keras3 stack (pip install -e .[keras3])"
    header = (f"Binder check of commit {commit}: environment {source} built in {_minutes(build_seconds)}; "
              f"each notebook pinned to CPU {args.cpu}; {cgroup.reason}; budget {BUDGET_SECONDS // 60} min and "
              f"{args.memory_gb:.0f} GB per notebook.\n\n")
    text = header + table(rows)
    (args.out / "binder-check.md").write_text(text)
    (args.out / "binder-check.json").write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "commit": commit,
                                                            "stack": args.stack,
                                                            "build_seconds": round(build_seconds, 1),
                                                            "memory": cgroup.reason, "cpu": args.cpu,
                                                            "notebooks": rows}, indent=2) + "\n")
    print()
    print(text)
    print(f"details: {args.out / 'binder-check.json'}; build and run log: {log_path}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
