"""The papermill batch runner: presets, failures reported with their cell, summaries."""

from __future__ import annotations

import json

import nbformat
import pytest

from hepwb import batch
from hepwb.__main__ import main


def _notebook(path, *sources, parameters="x = 1\noutput_dir = '.'"):
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[cell, *(nbformat.v4.new_code_cell(s) for s in sources)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


GOOD = "from hepwb.batch import write_metrics\nwrite_metrics(output_dir, {'answer': 42.0 * x}, headline_keys=['answer'])"


def test_failing_notebook_is_reported_with_its_cell(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", "y = 2", "1 / 0")
    result = batch.run_notebook(path, preset="school", out_dir=tmp_path / "out")
    assert result["status"] == "failed"
    # papermill injects the parameters after the tagged cell: the failing cell runs as [4]
    assert result["error"].startswith("cell [4] of ") and "bad.ipynb: ZeroDivisionError" in result["error"]
    assert (tmp_path / "out" / "bad" / "bad.ipynb").exists()  # the executed notebook shows where it stopped


def test_runner_goes_on_past_a_failure_and_summarises(tmp_path, capsys):
    bad = _notebook(tmp_path / "a_bad.ipynb", "raise ValueError('no data')")
    good = _notebook(tmp_path / "b_good.ipynb", GOOD)
    code = main(["run", str(bad), str(good), "--preset", "smoke", "--out", str(tmp_path / "out"), "-p", "x=2"])
    assert code == 1
    captured = capsys.readouterr()
    assert "FAILED: a_bad: cell [3] of " in captured.err and "ValueError: no data" in captured.err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["status"] for r in summary] == ["failed", "ok"]
    assert summary[1]["metrics"]["answer"] == 84.0 and summary[1]["parameters"]["x"] == 2
    assert "answer = 84" in (tmp_path / "out" / "summary.md").read_text()


def test_unknown_preset_and_notebook_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        batch.parameters_for(tmp_path / "x.ipynb", "huge")
    with pytest.raises(ValueError, match=r"no notebook '99_nothing'; available: \['00_root_data'"):
        batch.notebook_paths(["99_nothing"])


def test_every_notebook_has_parameters_and_three_presets():
    presets = batch.load_presets()
    for path in batch.notebook_paths():
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert tagged, f"{path.name} has no cell tagged 'parameters'"
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code is tagged[0], f"{path.name}: the parameters cell must be the first code cell"
        assert set(presets[path.stem]) == {"smoke", "school", "full"}
        assert presets[path.stem]["school"] == {}, "school is the notebook's own defaults"
        for preset in ("smoke", "full"):
            for key in presets[path.stem][preset]:
                assert f"{key} =" in tagged[0].source, f"{path.stem}:{preset} sets unknown parameter {key}"


def test_metrics_must_be_finite(tmp_path):
    with pytest.raises(ValueError, match="metric 'auc' is nan"):
        batch.write_metrics(tmp_path, {"auc": float("nan")})
    assert not (tmp_path / "metrics.json").exists()


def test_notebooks_run_as_tasks_on_a_dask_scheduler(tmp_path):
    from dask.distributed import LocalCluster

    good = _notebook(tmp_path / "good.ipynb", GOOD)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        results = batch.run_notebooks([str(good)], preset="school", out_dir=tmp_path / "out",
                                      scheduler=cluster.scheduler_address)
    assert [r["status"] for r in results] == ["ok"] and results[0]["metrics"]["answer"] == 42.0
