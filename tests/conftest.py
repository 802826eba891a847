"""Shared fixtures: small generated files, made once per session; no skips under HEPWB_NO_SKIPS=1."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

#: CI (.ci/run) sets this: a test that would skip (no chromium, no ruff ...) fails instead
NO_SKIPS = "HEPWB_NO_SKIPS"


def pytest_configure(config):
    """Notebooks re-executed by the tests (nbval, the browser test) write their outputs into a temporary
    folder, not the clone's results/ (``hepwb.notebook.results_folder``)."""
    import tempfile

    from hepwb.notebook import RESULTS_ENV

    os.environ.setdefault(RESULTS_ENV, tempfile.mkdtemp(prefix="hepwb-test-results-"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get(NO_SKIPS) == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but {NO_SKIPS}=1 (CI) requires every test to run: {reason}"


#: fixtures that generate events with Pythia: a test that uses one is ``slow``
GENERATING_FIXTURES = {"small_jets", "small_zmumu", "small_jets_rntuple", "small_l1", "small_tracks"}


def pytest_collection_modifyitems(config, items):
    """A test marked ``stack("keras2")`` tests that stack's own libraries (QKeras, tfmot, HGQ2): on the other
    stack it is deselected (shown in pytest's summary), never skipped. ``slow`` (left out by ``make test-fast``)
    marks, besides the tests marked by hand, every test that generates events through a fixture and nbval's
    re-execution of the committed notebooks."""
    from hepwb.environment import installed_stack

    for item in items:
        if GENERATING_FIXTURES & set(getattr(item, "fixturenames", ())) or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)

    here = installed_stack().name
    other = [item for item in items if any(mark.args[0] != here for mark in item.iter_markers("stack"))]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


@pytest.fixture(scope="session")
def small_jets(tmp_path_factory) -> Path:
    """100 jets (20 per class) generated serially with seed 7."""
    from hepwb.run.generate import generate

    return generate("jets", 100, seed=7, output=tmp_path_factory.mktemp("gen") / "jets-small.root", progress=False)


@pytest.fixture(scope="session")
def small_zmumu(tmp_path_factory) -> Path:
    from hepwb.run.generate import generate

    return generate("zmumu", 200, seed=7, output=tmp_path_factory.mktemp("gen") / "zmumu-small.root", progress=False)


@pytest.fixture(scope="session")
def small_tracks(tmp_path_factory) -> Path:
    """20 tracker events (10 tt-bar, 10 QCD) at mean pileup 5, seed 7, generated serially by the command line."""
    from hepwb.__main__ import main

    path = tmp_path_factory.mktemp("gen-tracks") / "tracks-small.root"
    assert main(["generate", "tracks", "--events", "20", "--seed", "7", "--pileup", "5", "--out", str(path),
                 "--no-progress"]) == 0
    return path


@pytest.fixture(scope="session")
def small_jets_rntuple(tmp_path_factory) -> Path:
    """The same 100 jets as ``small_jets`` (seed 7), written as an RNTuple by ``hepwb generate --format rntuple``."""
    from hepwb.__main__ import main

    path = tmp_path_factory.mktemp("gen-rntuple") / "jets-small-rntuple.root"
    assert main(["generate", "jets", "--events", "100", "--seed", "7", "--format", "rntuple", "--out", str(path),
                 "--no-progress"]) == 0
    return path


# ------------------------------------------------------------------ a notebook to scan

TOY_BODY = """import time
time.sleep(pause)
if x == 3 and mode == "b":
    raise ValueError("x=3 with mode b is refused")
from hepwb.notebook import write_metrics
write_metrics(output_dir, {"answer": 42.0 * x + 0.1 * seed}, headline=["answer"])"""


def toy_notebook(path, body=TOY_BODY):
    """A notebook with parameters x (int), mode (str), widths (list), seed and pause (s)."""
    cell = nbformat.v4.new_code_cell("x = 1\nmode = 'a'\nwidths = [8, 8]\nseed = 1\npause = 0.0\noutput_dir = '.'")
    cell.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def toy(tmp_path):
    """A tiny notebook for scans (tests/test_scan.py, tests/test_cluster.py): a kernel start and one cell."""
    return toy_notebook(tmp_path / "toy.ipynb")
