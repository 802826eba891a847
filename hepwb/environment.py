"""Which of hepwb's two stacks this environment is, and checks that it can run hepwb; and
``one_cpu_core``, which pins the process to one core for per-core speed comparisons.

hepwb runs on two stacks, each in an environment of its own (they cannot share one):

- ``keras2``: Python 3.9-3.11, TensorFlow 2.14, Keras 2, QKeras and tensorflow-model-optimization;
- ``keras3``: Python 3.10-3.13, TensorFlow >= 2.19 as Keras's backend, Keras 3, HGQ2, numpy 2.

hls4ml picks its Keras converter from the installed ``keras`` package's version, so QKeras (Keras 2 only)
and Keras 3 never meet in one environment. ``make setup`` runs ``main()``; ``import hepwb`` runs ``check``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Stack:
    """One supported set of machine-learning libraries: its Python range and what it must (not) hold."""

    name: str
    keras_major: int
    python: tuple[tuple[int, int], tuple[int, int]]  # lowest and highest (major, minor)
    quantization: str  # the library of quantization-aware training
    foreign: tuple[str, ...]  # packages of the other stack that must not be installed beside this one


STACKS = {
    "keras2": Stack("keras2", 2, ((3, 9), (3, 11)), "qkeras", foreign=("hgq2",)),
    "keras3": Stack("keras3", 3, ((3, 10), (3, 13)), "hgq2", foreign=("qkeras", "qkeras-v3",
                                                                       "tensorflow-model-optimization")),
}
SUPPORTED_PYTHON = ((3, 9), (3, 13))


class EnvironmentProblem(RuntimeError):
    """The Python or package versions cannot run hepwb; the message says what to do."""


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def stack_for(keras_version: str) -> Stack:
    """The stack of an environment whose ``keras`` package has this version."""
    return STACKS["keras3" if int(keras_version.split(".")[0]) >= 3 else "keras2"]


def installed_stack() -> Stack | None:
    """The stack of this environment, from its ``keras`` package; None before TensorFlow is installed."""
    version = _version("keras")
    return None if version is None else stack_for(version)


def default_stack(version: tuple[int, int] = sys.version_info[:2]) -> str:
    """The stack ``make`` sets up for this Python: ``keras2`` where it runs (3.9-3.11), else ``keras3``."""
    low, high = STACKS["keras2"].python
    return "keras2" if low <= tuple(version) <= high else "keras3"


def check_python(version: tuple[int, int] = sys.version_info[:2], stack: Stack | None = None) -> None:
    """Refuse a Python outside hepwb's range, or outside the range of the stack installed."""
    low, high = stack.python if stack is not None else SUPPORTED_PYTHON
    if not low <= tuple(version) <= high:
        what = f"its {stack.name} stack" if stack is not None else "hepwb"
        raise EnvironmentProblem(
            f"{what} needs Python {low[0]}.{low[1]}-{high[0]}.{high[1]}; this is Python {version[0]}.{version[1]}. "
            f"Python 3.9-3.11 runs the keras2 stack (TensorFlow 2.14, QKeras), 3.10-3.13 the keras3 stack "
            "(Keras 3, HGQ2): recreate the environment with make setup (make STACK=keras2|keras3 to choose).")


def check_stack(keras_version: str | None = None, installed=_version) -> None:
    """Refuse an environment that mixes the stacks: a package of one beside the other's Keras."""
    keras_version = keras_version or installed("keras")
    if keras_version is None:
        return  # TensorFlow not installed yet: nothing to refuse
    stack = stack_for(keras_version)
    mixed = [name for name in stack.foreign if installed(name) is not None]
    if mixed:
        other = "keras3" if stack.name == "keras2" else "keras2"
        raise EnvironmentProblem(
            f"{', '.join(mixed)} is installed beside Keras {keras_version}: that belongs to the {other} stack, "
            f"and this environment is the {stack.name} stack (hls4ml picks its converter from the keras version, "
            f"so QKeras needs Keras 2 and HGQ2 Keras 3). Recreate the environment with make STACK={stack.name} "
            f"setup, or pip uninstall {' '.join(mixed)}.")


def check() -> None:
    """Raise EnvironmentProblem when this environment cannot run hepwb."""
    check_python()
    check_stack()
    stack = installed_stack()
    if stack is not None:
        check_python(stack=stack)


def main() -> None:
    """Print a one-line verdict; exit non-zero with the explanation when something is wrong."""
    try:
        check()
    except EnvironmentProblem as problem:
        sys.exit(f"hepwb environment check failed: {problem}")
    stack = installed_stack()
    print(f"hepwb environment OK: the {stack.name} stack, Python {sys.version.split()[0]}, "
          f"keras {metadata.version('keras')}, {stack.quantization} {metadata.version(stack.quantization)}")


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
