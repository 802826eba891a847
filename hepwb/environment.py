"""Checks that the environment can run hepwb: Python 3.9-3.11 and Keras 2 (never Keras 3); and
``one_cpu_core``, which pins the process to one core for per-core speed comparisons.

``make setup`` runs ``main()``; ``import hepwb`` runs the same check.
"""

from __future__ import annotations

import contextlib
import os
import sys
from importlib import metadata
from pathlib import Path

SUPPORTED_PYTHON = ((3, 9), (3, 11))


class EnvironmentProblem(RuntimeError):
    """The Python or package versions cannot run hepwb; the message says what to do."""


def check_python(version: tuple[int, int] = sys.version_info[:2]) -> None:
    low, high = SUPPORTED_PYTHON
    if not low <= tuple(version) <= high:
        raise EnvironmentProblem(
            f"hepwb needs Python {low[0]}.{low[1]}-{high[0]}.{high[1]} (TensorFlow 2.14, which QKeras and hls4ml "
            f"need, supports no other); this is Python {version[0]}.{version[1]}. Install Python 3.11 and "
            "recreate the environment (make PYTHON=/path/to/python3.11 setup).")


def check_keras(version: str | None = None) -> None:
    if version is None:
        try:
            version = metadata.version("keras")
        except metadata.PackageNotFoundError:
            return  # TensorFlow not installed yet: nothing to refuse
    if int(version.split(".")[0]) >= 3:
        raise EnvironmentProblem(
            f"Keras {version} is installed, but hepwb needs Keras 2 (the one TensorFlow 2.14.1 brings): QKeras does "
            "not work on Keras 3, and hls4ml picks its converter from keras.__version__, so a Keras 3 beside "
            "TensorFlow 2.14 breaks the FPGA notebooks. Fix: pip install 'keras<3' "
            "(or recreate .venv with make setup).")


def check() -> None:
    """Raise EnvironmentProblem when this environment cannot run hepwb."""
    check_python()
    check_keras()


def main() -> None:
    """Print a one-line verdict; exit non-zero with the explanation when something is wrong."""
    try:
        check()
    except EnvironmentProblem as problem:
        sys.exit(f"hepwb environment check failed: {problem}")
    print(f"hepwb environment OK: Python {sys.version.split()[0]}, keras {metadata.version('keras')}")


@contextlib.contextmanager
def one_cpu_core():
    """Run the block with every thread of this process pinned to one CPU core (Linux), for per-core
    speed comparisons; affinities are restored afterwards. Elsewhere (macOS, Windows) the block runs
    unpinned, and ``pinned`` in the yielded dict says which happened.
    """
    state = {"pinned": False}
    tasks = Path("/proc/self/task")
    if not hasattr(os, "sched_setaffinity") or not tasks.is_dir():
        yield state
        return
    before = {}
    core = min(os.sched_getaffinity(0))
    for task in tasks.iterdir():  # one entry per thread: TensorFlow's pools included
        try:
            tid = int(task.name)
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {core})
        except (OSError, ValueError):
            continue  # a thread that ended meanwhile
    state["pinned"] = True
    try:
        yield state
    finally:
        for tid, cores in before.items():
            try:
                os.sched_setaffinity(tid, cores)
            except OSError:
                pass
