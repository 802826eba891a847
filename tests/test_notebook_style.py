"""The committed notebooks as a student reads them: short cells, every figure shown, clean outputs.

These read the committed ``.ipynb`` files (the outputs of a school run), so they are fast and fail
when a notebook was committed without re-running it after a change that broke one of these rules.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys

import pytest

from hepwb import plotting
from hepwb.run import batch

NOTEBOOKS = sorted(batch.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 15

#: hepwb.plotting's functions that draw (they return a Figure), and new_figure, which starts one
DRAWING = sorted(name for name, function in inspect.getmembers(plotting, inspect.isfunction)
                 if function.__module__.startswith(plotting.__name__ + ".")
                 and (inspect.signature(function).return_annotation in ("Figure", plotting.Figure)
                      or name == "new_figure"))
DRAWS = re.compile(rf"\bplotting\.({'|'.join(DRAWING)})\(|\bplt\.|\.snapshot\(\)")

#: what must never reach a committed output, with the reason
NOISE = {
    "an absolute path": re.compile(r"(?<![\w.~])/(?:home|root|work|tmp|usr|opt|var|Users|private)/"),
    # TensorFlow 2.14's C++ lines, 2.21's (absl: "E0000 00:00:1796587222.94 796 node_def_util.cc:682] ..."),
    # and the Python loggers of TensorFlow and Keras 3 (absl)
    "a TensorFlow log line": re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "
                                        r"|^[IWEF]\d{4} [\d:.]+ +\d+ \w+\.cc:\d+\]"
                                        r"|WARNING:tensorflow|WARNING:absl|oneDNN", re.M),
    "the FastJet banner": re.compile(r"FastJet release|Cacciari, G\.P\. Salam"),
    "a traceback": re.compile(r"Traceback \(most recent call last\)"),
    "progress-bar control characters": re.compile(r"[\x08\r\x1b]"),
    "a widget's repr": re.compile(r"\w+\(children=\("),
}


def _cells(path):
    notebook = json.loads(path.read_text())
    return [(i, cell) for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]


def _texts(cell):
    for output in cell.get("outputs", []):
        if output["output_type"] == "error":
            yield "Traceback (most recent call last): " + output.get("ename", "")
        if output["output_type"] == "stream":
            yield "".join(output["text"])
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/"):
                yield "".join(value)


def test_the_drawing_functions_are_found():
    assert {"plot_hists", "compare", "roc_figure", "anomaly_score_figure", "new_figure"} <= set(DRAWING)
    assert "histogram" not in DRAWING and "to_flat_numpy" not in DRAWING


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_cell_is_longer_than_15_lines(path):
    long = {i: len("".join(cell["source"]).splitlines()) for i, cell in _cells(path)
            if len("".join(cell["source"]).splitlines()) > MAX_CELL_LINES}
    assert not long, f"{path.name}: code cells over {MAX_CELL_LINES} lines (cell: lines): {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_that_draws_shows_a_picture(path):
    lost = [i for i, cell in _cells(path) if DRAWS.search("".join(cell["source"]))
            and not any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))]
    assert not lost, f"{path.name}: cells {lost} draw a figure but show none (end the cell with it, or display it)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_free_of_paths_logs_banners_and_tracebacks(path):
    found = [f"cell {i}: {what}: {match.group(0)!r}" for i, cell in _cells(path) for text in _texts(cell)
             for what, pattern in NOISE.items() for match in [pattern.search(text)] if match]
    assert not found, f"{path.name}:\n" + "\n".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_committed_notebook_was_run_from_top_to_bottom(path):
    counts = [cell.get("execution_count") for _, cell in _cells(path)]
    assert None not in counts and counts == sorted(counts), f"{path.name}: execution counts {counts}"


def test_every_notebook_has_the_same_colab_cell_after_its_parameters_and_it_does_nothing_elsewhere(
        tmp_path, monkeypatch):
    cells = []
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        tagged = [i for i, c in enumerate(notebook["cells"]) if "colab" in c["metadata"].get("tags", [])]
        parameters = next(i for i, c in enumerate(notebook["cells"]) if "parameters" in c["metadata"].get("tags", []))
        assert tagged == [parameters + 1], f"{path.name}: one Colab cell, right after the parameters"
        cells.append("".join(notebook["cells"][tagged[0]]["source"]))
    assert len(set(cells)) == 1, "the Colab cells differ between notebooks"
    assert '"-e", f"{clone}[colab]"' in cells[0] and 'if "google.colab" in sys.modules:' in cells[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(cells[0], "colab cell", "exec"), {})  # not on Colab: no clone, no install, no chdir
    assert list(tmp_path.iterdir()) == [] and os.getcwd() == str(tmp_path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_committed_notebook_is_saved_as_jupyterlab_saves_it(path):
    """Opening and closing it untouched in JupyterLab must not ask "Save changes?" (``make notebooks`` saves so)."""
    from hepwb.run import committed

    text = path.read_text()
    assert json.loads(text)["metadata"]["kernelspec"] == committed.KERNELSPEC, f"{path.name}: kernelspec"
    assert text == committed.jupyterlab_text(json.loads(text)), (
        f"{path.name} is not saved as JupyterLab saves it (integral floats such as 100.0?): run make notebooks")


STAND_INS = {"a widget described at its first state": re.compile(r": 0 epochs|waiting for the first epoch|\b0%\|")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widget_stand_ins_state_where_the_run_ended(path):
    """The text a committed notebook shows for a widget before its kernel runs: its final state."""
    widget = "application/vnd.jupyter.widget-view+json"
    stale = [f"cell {i}: {output['data']['text/plain']!r}" for i, cell in _cells(path)
             for output in cell.get("outputs", []) if widget in output.get("data", {})
             for pattern in STAND_INS.values() if pattern.search("".join(output["data"]["text/plain"]))]
    assert not stale, f"{path.name}: " + "; ".join(stale)
