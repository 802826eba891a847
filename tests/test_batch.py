"""The papermill batch runner: presets, failures reported with their cell, summaries."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from hepwb import notebook
from hepwb.__main__ import main
from hepwb.run import batch, parameters

pytestmark = pytest.mark.slow  # notebooks run by papermill: left out by make test-fast


def _notebook(path, *sources, parameters="x = 1\noutput_dir = '.'"):
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[cell, *(nbformat.v4.new_code_cell(s) for s in sources)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


GOOD = "from hepwb.notebook import write_metrics\nwrite_metrics(output_dir, {'answer': 42.0 * x}, headline=['answer'])"


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


@pytest.mark.parametrize("path", batch.notebook_paths(), ids=lambda p: p.stem)
def test_papermill_sees_every_parameter_with_a_type(path):
    """What papermill inspects is what the cell defines, and a None default says what else it takes."""
    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    defined = {}
    exec(cell.source, {}, defined)  # noqa: S102 - the project's own parameters cell
    known = parameters.notebook_parameters(path)
    assert set(known) == {k for k in defined if k != "Optional" and not k.startswith("__")}
    for name, parameter in known.items():
        assert parameter.default == defined[name], name
        assert parameter.kind.name != "any", f"{path.stem}: {name} = None needs an annotation (Optional[int], ...)"


@pytest.mark.parametrize("preset", ["smoke", "school", "full"])
def test_every_preset_passes_the_parameter_check(preset):
    for path in batch.notebook_paths():
        batch.parameters_for(path, preset)  # raises ParameterError for an unknown name or a wrong type


def test_a_bad_preset_is_refused_like_a_bad_override(tmp_path):
    path = _notebook(tmp_path / "nb.ipynb", parameters="epochs = 3\noutput_dir = '.'")
    with pytest.raises(parameters.ParameterError, match=r"nb has no parameter 'epoch' \(did you mean 'epochs'\?\)"):
        batch.parameters_for(path, "smoke", presets={"nb": {"smoke": {"epoch": 2}}})
    with pytest.raises(parameters.ParameterError, match="nb: epochs: expected an integer, got 2.5"):
        batch.parameters_for(path, "smoke", presets={"nb": {"smoke": {"epochs": 2.5}}})


@pytest.mark.parametrize(("source", "good", "bad", "message"), [
    ("n = 30", [0, -3], [2.5, "30", True, None], "an integer"),
    ("x = 0.1", [1, 2.5], ["fast", None, False], "a number"),
    ("name = 'gan'", ["wgan-gp"], [3, None, ["gan"]], "a string"),
    ("flag = False", [True], [0, "yes"], "True or False"),
    ("bits = [16, 8]", [[], [4]], [6, [6.5], ["8"]], "a list of integers"),
    ("models = ['a', 'b']", [["c"]], ["a", [1]], "a list of strings"),
    ("files = {}", [{"background": "b.h5"}], ["b.h5", ["b.h5"]], "a dict"),
    ("n: Optional[int] = None", [None, 5], ["abc", 1.5], "an integer or None"),
    ("lr: Optional[float] = None", [None, 1, 2e-4], ["fast"], "a number or None"),
    ("anything = None", [None, 1, "x", [1]], [], "anything"),
])
def test_parameter_types_come_from_the_annotation_or_the_default(tmp_path, source, good, bad, message):
    path = _notebook(tmp_path / "nb.ipynb", parameters=f"from typing import Optional\n{source}\noutput_dir = '.'")
    name = source.split(" ")[0].rstrip(":")
    for value in good:
        parameters.check(path, {name: value})
    for value in bad:
        with pytest.raises(parameters.ParameterError, match=rf"nb: {name}: expected {message}, got "):
            parameters.check(path, {name: value})


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "00_root_data", "-p", "no_such_param=3"],
     "hepwb run: 00_root_data has no parameter 'no_such_param'; its parameters: zmumu_dataset, jets_dataset, "
     "max_events, output_dir"),
    (["run", "01_jet_tagging", "-p", "epoch=200"], "hepwb run: 01_jet_tagging has no parameter 'epoch' "
     "(did you mean 'epochs'?)"),
    (["run", "-p", "epoch=200"], "hepwb run: none of 00_root_data, 01_jet_tagging, "),
    (["run", "00_root_data", "-p", "max_events=abc"],
     "hepwb run: 00_root_data: max_events: expected an integer or None, got 'abc'"),
    (["run", "04_trigger_fpga", "-p", "scan_bits=6"], "hepwb run: 04_trigger_fpga: scan_bits: expected a list of "
     "integers, got 6"),
    (["run", "00_root_data", "--out", "/proc/hepwb/results"],
     "hepwb run: cannot write to the folder /proc/hepwb/results: No such file or directory"),
    (["generate", "jets", "--events", "10", "--out", "/proc/hepwb/jets.root", "--no-progress"],
     "hepwb generate: cannot write to the folder /proc/hepwb: No such file or directory"),
])
def test_bad_parameters_and_folders_get_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), captured.err
    assert "Traceback" not in captured.err and "running" not in captured.out  # no kernel started


def test_an_override_goes_to_the_notebooks_that_have_it(tmp_path):
    with_x = _notebook(tmp_path / "a_with_x.ipynb", GOOD)
    without_x = _notebook(tmp_path / "b_without_x.ipynb", GOOD.replace("42.0 * x", "1.0"),
                          parameters="y = 1\noutput_dir = '.'")
    results = batch.run_notebooks([str(with_x), str(without_x)], preset="school", out_dir=tmp_path / "out",
                                  parameters={"x": 3})
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert results[0]["parameters"]["x"] == 3 and "x" not in results[1]["parameters"]
    assert results[0]["metrics"]["answer"] == 126.0


@pytest.mark.parametrize(("parts", "key"), [
    (("AE", "A to 4 leptons", "tpr"), "AE_A_to_4_leptons_tpr"),
    (("AE", "A → 4ℓ", "tpr"), "AE_A_4l_tpr"),
    (("PCA", "h⁰ → ττ (60 GeV)", "auc"), "PCA_h0_ττ_60_GeV_auc"),
    (("VAE KL", "LQ+LQ / cτ", "tpr_error"), "VAE_KL_LQ_LQ_cτ_tpr_error"),
    (("fault", "hot calorimeter cell", "flagged"), "fault_hot_calorimeter_cell_flagged"),
])
def test_metric_keys_from_free_text_names(parts, key):
    assert notebook.metric_key(*parts) == key


def test_names_that_would_share_a_metric_key_are_refused():
    assert notebook.unique_metric_keys(["background", "A to 4 leptons"]) == {"background": "background",
                                                                         "A to 4 leptons": "A_to_4_leptons"}
    with pytest.raises(ValueError, match=r"the names 'A\+B' and 'A/B' both become the metric key 'A_B'"):
        notebook.unique_metric_keys(["A+B", "A/B"])
    with pytest.raises(ValueError, match="no letters or digits"):
        notebook.metric_key("→")


def test_metrics_must_be_finite(tmp_path):
    with pytest.raises(ValueError, match="metric 'auc' is nan"):
        notebook.write_metrics(tmp_path, {"auc": float("nan")})
    assert not (tmp_path / "metrics.json").exists()


def test_notebooks_run_as_tasks_on_a_dask_scheduler(tmp_path):
    from dask.distributed import LocalCluster

    good = _notebook(tmp_path / "good.ipynb", GOOD)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        results = batch.run_notebooks([str(good)], preset="school", out_dir=tmp_path / "out",
                                      scheduler=cluster.scheduler_address)
    assert [r["status"] for r in results] == ["ok"] and results[0]["metrics"]["answer"] == 42.0


def test_metrics_from_nested_plain_dictionaries(tmp_path, capsys):
    reports = {"AE": {"A → 4ℓ": {"tpr": np.float32(0.25), "auc": 0.9}}, "PCA": {"A → 4ℓ": {"tpr": 0.1}}}
    notebook.write_metrics(tmp_path, {"fpr": 1e-3}, reports, headline=["AE_A_4l_tpr"])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["AE_A_4l_tpr"] == 0.25 and written["PCA_A_4l_tpr"] == 0.1 and written["fpr"] == 1e-3
    assert written["headline"] == {"AE_A_4l_tpr": 0.25} and written["wall_seconds"] > 0
    assert "4 metrics written to" in capsys.readouterr().out
    with pytest.raises(ValueError, match="share the key 'a_b'"):
        notebook.flatten_metrics({"a b": 1}, {"a": {"b": 2}})


def test_local_kernels_use_unix_sockets_unless_the_path_would_be_too_long(tmp_path, monkeypatch):
    manager = batch.local_kernel_manager()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/rt")
    assert manager().transport == "ipc"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / ("deep" * 20)))
    assert manager().transport == "tcp"


def test_kernels_started_at_once_get_their_own_sockets(monkeypatch):
    # left to jupyter_client, the sockets were kernel-ipc-1 ... in the working directory, numbered by
    # which files existed: two Dask workers starting kernels at once took the same ones
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/hepwb-test-runtime")
    first, second = batch.local_kernel_manager()(), batch.local_kernel_manager()()
    assert first.transport == second.transport == "ipc" and first.ip != second.ip
    assert all(km.ip.startswith("/tmp/hepwb-test-runtime/kernel-") for km in (first, second))


def test_a_failed_rerun_reports_no_metrics_from_the_run_before(tmp_path):
    notebook = _notebook(tmp_path / "flaky.ipynb", GOOD)
    out = tmp_path / "out"
    assert batch.run_notebook(notebook, out_dir=out)["metrics"]["answer"] == 42.0
    _notebook(notebook, "raise RuntimeError('the data moved')")  # the same notebook, now failing
    result = batch.run_notebook(notebook, out_dir=out)
    assert result["status"] == "failed" and result["metrics"] == {}
    assert not (out / "flaky" / "metrics.json").exists()


def test_a_folder_that_hepwb_did_not_write_is_not_cleared(tmp_path):
    notebook = _notebook(tmp_path / "mine.ipynb", GOOD)
    (tmp_path / "out" / "mine").mkdir(parents=True)
    (tmp_path / "out" / "mine" / "thesis.tex").write_text("months of work")
    with pytest.raises(OSError, match="was not written by hepwb run"):
        batch.run_notebook(notebook, out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "mine" / "thesis.tex").exists()


def test_results_folder_moves_only_the_project_results_under_the_test_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(notebook.RESULTS_ENV, str(tmp_path / "elsewhere"))
    assert notebook.results_folder(notebook.RESULTS_DIR / "01_jet_tagging") == tmp_path / "elsewhere" / "01_jet_tagging"
    assert notebook.results_folder(tmp_path / "mine") == tmp_path / "mine"
    monkeypatch.delenv(notebook.RESULTS_ENV)
    assert str(notebook.results_folder("../results/00_root_data")) == "../results/00_root_data"
