"""Keeps library chatter out of notebook outputs, so that what a student reads is ours.

Silenced: TensorFlow's C++ log lines (oneDNN, CPU instructions) and its Python deprecation log,
two Keras warnings that QKeras objects trigger, hls4ml's softmax note, FastJet's banner, XLA's
first-compilation line, Minuit2's warnings during cabinetry's fits and matplotlib's font fallbacks;
``keras_progress_bars_off`` silences the progress bar of a library that calls ``model.predict`` for us.
Errors and our own warnings still come through.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

from hepwb.environment import installed_stack

#: Keras 2 warnings that QKeras triggers on every save or clone, and hls4ml's note (keras3 stack) that a
#: float softmax is not bit-exact, which the notebooks say themselves; harmless, and they print machine paths
_KERAS_WARNINGS = (r"The `keras\.constraints\.serialize\(\)` API should only be used",
                   r"The initializer \w+ is unseeded",
                   r"Softmax layer \w+ is converted from a frontend not supporting bit-exact softmax")


def _keras3_stack() -> bool:
    """Whether this environment is the keras3 stack (hepwb.environment reads the keras package's version)."""
    stack = installed_stack()
    return stack is not None and stack.name == "keras3"


def before_imports() -> None:
    """Set what must be set before TensorFlow is first imported (``import hepwb`` calls this)."""
    # 2: C++ warnings and info off, errors on. TensorFlow 2.21 (keras3 stack) logs an error-level line that
    # is none on every model.fit and model.predict with deterministic ops ("NodeDef mentions attribute
    # use_unbounded_threadpool"): 3 there, errors off too (Python still raises them)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if _keras3_stack() else "2")
    # XLA-compiled functions (the generators of 02) on one Eigen thread: with several, a sum's order could
    # change between runs and move the 11th digit of a metric; TensorFlow's own ops stay multi-threaded
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    for message in _KERAS_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)


def tensorflow():
    """Import TensorFlow with its Python log at ERROR; returns the module. TensorFlow 2.21 (keras3 stack)
    prints its oneDNN and CPU-instruction lines on import whatever TF_CPP_MIN_LOG_LEVEL says, so its
    first import runs with stderr's descriptor pointed at /dev/null."""
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
    else:
        with descriptor_to_devnull(2):
            import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    return tf


@contextlib.contextmanager
def absl_warnings_off():
    """No warnings from absl's Python logger inside the block: Keras 3 logs some there instead of through
    ``warnings`` (e.g. "You are saving your model as an HDF5 file"), so ``warnings`` filters miss them."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def keras_progress_bars_off():
    """No Keras progress bars inside the block (their backspaces and carriage returns are noise in a
    saved notebook), e.g. around hls4ml's profiling, which calls ``model.predict`` with its bar on."""
    from tensorflow import keras

    keras.utils.disable_interactive_logging()
    try:
        yield
    finally:
        keras.utils.enable_interactive_logging()


@contextlib.contextmanager
def descriptor_to_devnull(fd: int):
    """Point file descriptor ``fd`` (1: stdout, 2: stderr) at /dev/null inside the block: C++ libraries
    (Pythia, FastJet, XLA) write there directly, past Python's sys.stdout / sys.stderr. Where the
    process has no such descriptor (some notebook front ends), the block runs as it is."""
    (sys.stdout if fd == 1 else sys.stderr).flush()
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


_banner_printed = False


def fastjet_banner() -> None:
    """Let FastJet print its once-per-process banner into /dev/null.

    The banner goes to C++'s std::cout on the first clustering and the Python bindings offer no
    switch, so file descriptor 1 points to /dev/null while one tiny clustering runs.
    """
    global _banner_printed
    if _banner_printed:
        return
    import fastjet

    with descriptor_to_devnull(1):
        fastjet.ClusterSequence([fastjet.PseudoJet(1.0, 0.0, 1.0, 2.0)],
                                fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4))
    _banner_printed = True


_xla_compiled = False


def xla_first_compilation() -> None:
    """Let XLA print its once-per-process "SetPriority unimplemented" error line into /dev/null.

    XLA's CPU backend logs it at error level (so TF_CPP_MIN_LOG_LEVEL=2 lets it through) on the first
    ``jit_compile=True`` function; file descriptor 2 points to /dev/null while a tiny one compiles.
    """
    global _xla_compiled
    if _xla_compiled:
        return
    import tensorflow as tf

    with descriptor_to_devnull(2):
        tf.function(lambda x: x * 2.0, jit_compile=True)(tf.ones(2)).numpy()
    _xla_compiled = True


def minuit_messages() -> None:
    """Keep Minuit2's C++ warnings ("W MnPosDef Matrix forced pos-def ...") out of the outputs.

    cabinetry sets iminuit's print level to 1 for every fit, and the level is global; a filter that
    matches no message prefix stops them all (fit results still say whether the minimum is valid).
    """
    from iminuit._core import MnPrint

    MnPrint.add_filter("hepwb: no Minuit2 messages")


def mathtext_fallbacks() -> None:
    """Keep matplotlib's "No TeX to Unicode mapping for '\\__parenleftbig__'" lines out of the outputs: the
    house style's font lacks the big parentheses in cabinetry's axis labels, and matplotlib draws plain ones."""
    logging.getLogger("matplotlib.mathtext").setLevel(logging.ERROR)
