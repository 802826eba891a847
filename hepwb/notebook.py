"""What a notebook imports for its bookkeeping: where its outputs go and its ``metrics.json``.

Owns: ``results_folder`` (a notebook's output folder, moved aside while the tests run), the metric keys
made from free-text names (``metric_key``, ``unique_metric_keys``, ``flatten_metrics``) and
``write_metrics``, which every notebook calls at its end with the wall time since ``import hepwb`` and
the peak memory. Running notebooks is ``hepwb.run.batch``'s job; a notebook never imports ``hepwb.run``.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

from hepwb import IMPORTED_AT, PROJECT_DIR
from hepwb.data import atomic_path, shown_path

#: where the notebooks' default output folders (../results/NAME) lie
RESULTS_DIR = PROJECT_DIR / "results"
#: set by the tests: the project's results/ folder is redirected there, so a test run writes nothing in the clone
RESULTS_ENV = "HEPWB_RESULTS_DIR"


def results_folder(output_dir: Path | str) -> Path:
    """A notebook's output folder, as a Path.

    Where ``HEPWB_RESULTS_DIR`` is set (the test suite sets it), a folder inside the project's
    ``results/`` is moved under that directory instead, so that re-running the committed notebooks
    (nbval) writes nothing into the clone; any other folder is used as given.
    """
    path = Path(output_dir)
    root = os.environ.get(RESULTS_ENV)
    if root:
        try:
            return Path(root) / path.resolve().relative_to(RESULTS_DIR)
        except ValueError:  # not inside results/
            pass
    return path


def at_least(name: str, value: int | None, minimum: int) -> int | None:
    """``value`` of the parameter ``name`` if it is None (all) or at least ``minimum``, the fewest with which
    the notebook is tested (its smoke preset); else ValueError in one line, before anything is read or trained."""
    if value is not None and value < minimum:
        raise ValueError(f"{name}={value} is below {minimum}, the fewest this notebook is tested with: "
                         f"use {name} >= {minimum}")
    return value


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


def metric_key(*parts) -> str:
    """Join free-text parts into one metric key: ``metric_key("AE", "A → 4ℓ", "tpr")`` -> ``"AE_A_4l_tpr"``.

    Compatibility forms are folded (ℓ -> l, ² -> 2); every run of characters that are not letters or
    digits becomes one underscore, so the key works as a column or file name. Distinct names
    can give the same key ("A+B", "A/B"); ``unique_metric_keys`` refuses such collisions.
    """
    text = "_".join(unicodedata.normalize("NFKC", str(part)) for part in parts)
    key = re.sub(r"[\W_]+", "_", text).strip("_")
    if not key:
        raise ValueError(f"no letters or digits in {parts!r} to make a metric key from")
    return key


def unique_metric_keys(names) -> dict[str, str]:
    """name -> metric_key(name), refusing two names that would share a key."""
    keys = {}
    for name in names:
        key = metric_key(name)
        clash = [other for other, k in keys.items() if k == key]
        if clash:
            raise ValueError(f"the names {clash[0]!r} and {name!r} both become the metric key {key!r}; rename one")
        keys[name] = key
    return keys


def flatten_metrics(*groups: dict) -> dict:
    """Plain dictionaries, nested or not, as one flat {metric key: value} dictionary.

    Nested keys are joined with ``metric_key``: ``{"AE": {"A → 4ℓ": {"tpr": 0.2}}}`` gives ``AE_A_4l_tpr``;
    NumPy scalars become Python numbers. Two entries that end up with the same key are refused.
    """
    flat: dict = {}

    def add(prefix: tuple, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                add((*prefix, key), inner)
            return
        key = metric_key(*prefix)
        if key in flat:
            raise ValueError(f"two metrics would share the key {key!r}; rename one")
        flat[key] = value.item() if isinstance(value, np.generic) else value

    for group in groups:
        add((), group)
    return flat


def write_metrics(output_dir: Path | str, *groups: dict, headline: list[str] | None = None) -> None:
    """Write a notebook's ``metrics.json`` (atomically) from plain dictionaries; print where it went.

    ``groups`` are flattened with ``flatten_metrics``; the file adds the peak memory of the process
    and the wall time since ``hepwb`` was imported (a notebook's first cell). ``headline`` picks the
    metrics that ``hepwb run``'s summary shows.
    """
    metrics = flatten_metrics(*groups)
    for key, value in metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {key!r} is {value}; metrics must be finite")
    metrics["peak_memory_mb"] = round(peak_memory_mb(), 1)
    metrics["wall_seconds"] = round(time.time() - IMPORTED_AT, 1)
    if headline:
        missing = [k for k in headline if k not in metrics]
        if missing:
            raise KeyError(f"headline metrics {missing} are not among {sorted(metrics)}")
        metrics["headline"] = {k: metrics[k] for k in headline}
    path = Path(output_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    print(f"{len(metrics) - 2 - bool(headline)} metrics written to {shown_path(path)} "
          f"({metrics['wall_seconds']:.0f} s since hepwb was imported, peak memory {metrics['peak_memory_mb']:.0f} MB)")
