"""hepwb scan: points from -p lists and --seeds, their folders, resume, failures, the table and figure.

The notebooks here are tiny (a kernel start and one cell), so that a dozen points take seconds;
tests/test_cluster.py runs scans on real scheduler and worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from hepwb.__main__ import main
from hepwb.run import scan

pytestmark = pytest.mark.slow  # parameter scans of notebooks: left out by make test-fast


def test_lists_are_scanned_unless_the_parameter_takes_a_list(toy):
    fixed, scanned = scan.split_overrides(toy, {"x": [1, 2], "mode": "b", "widths": [4, 4]})
    assert fixed == {"mode": "b", "widths": [4, 4]} and scanned == {"x": [1, 2]}
    assert scan.split_overrides(toy, {"widths": [[4, 4], [8]]})[1] == {"widths": [[4, 4], [8]]}


def test_the_grid_times_the_seeds_with_readable_folders(toy):
    fixed, points = scan.plan_points(toy, {"x": [1, 2, 3], "mode": ["a", "b"], "pause": 0.5}, seeds=2)
    assert fixed == {"pause": 0.5} and len(points) == 12
    assert points[0].values == {"x": 1, "mode": "a", "seed": 1} and points[0].folder == "x=1_mode=a_seed=1"
    assert points[-1].folder == "x=3_mode=b_seed=2"
    assert scan.folder_name({"widths": [4, 8], "mode": "a/b c"}) == "widths=4-8_mode=a-b-c"


def test_explicit_points_from_a_yaml_file(toy, tmp_path, capsys):
    fixed, points = scan.plan_points(toy, {"pause": 0.1}, points=[{"x": 1, "mode": "b"}, {"x": 2}], seeds=2)
    assert [p.folder for p in points] == ["x=1_mode=b_seed=1", "x=1_mode=b_seed=2", "x=2_seed=1", "x=2_seed=2"]
    (tmp_path / "points.yaml").write_text("- {x: 1, mode: b}\n- x: [oops\n")
    assert main(["scan", str(toy), "--points", str(tmp_path / "points.yaml"), "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == (f"hepwb scan: {tmp_path / 'points.yaml'}: not valid YAML at line 3 "
                                       "(expected ',' or ']', but got '<stream end>'); expected a list of points "
                                       "such as '- {bits: 4, seed: 1}'\n")


@pytest.mark.parametrize("overrides, kwargs, message", [
    ({"x": [1, "two"]}, {}, r"toy: x: expected an integer, got 'two'"),
    ({"xx": [1, 2]}, {}, r"toy has no parameter 'xx' \(did you mean 'x'\?\)"),
    ({"x": []}, {}, r"x=\[\]: no values to scan"),
    ({"seed": [1, 2]}, {"seeds": 2}, "--seeds sets the parameter seed"),
    ({"x": [1, 2]}, {"points": [{"x": 3}]}, "either as a list or as -p lists"),
    ({}, {"points": [{"mode": 3}]}, "toy: mode: expected a string, got 3"),
    ({"mode": ["a/b", "a b"]}, {}, "would share the folder 'mode=a-b'"),
])
def test_bad_scans_are_refused_before_anything_runs(toy, overrides, kwargs, message):
    with pytest.raises(ValueError, match=message):
        scan.plan_points(toy, overrides, **kwargs)


def test_seeds_need_a_seed_parameter(toy):
    import nbformat

    nb = nbformat.read(toy, as_version=4)
    nb.cells[0].source = "x = 1\noutput_dir = '.'"
    nbformat.write(nb, toy)
    with pytest.raises(ValueError, match="toy has no parameter 'seed', so --seeds cannot vary it"):
        scan.plan_points(toy, {"x": [1, 2]}, seeds=3)


def test_a_scan_runs_every_point_reports_failures_and_reruns_only_what_is_missing(toy, tmp_path, capsys):
    out = tmp_path / "scan"
    code = main(["scan", str(toy), "-p", "x=[1,3]", "-p", "mode=[a,b]", "--seeds", "2", "--out", str(out),
                 "--no-progress"])
    assert code == 1  # two points fail
    printed = capsys.readouterr().out
    assert "8 points: 6 complete (8 run now), 2 failed, 0 lost" in printed
    assert "FAILED: x=3_mode=b_seed=1: cell [3] of " in printed and "ValueError: x=3 with mode b is refused" in printed
    table = pd.read_csv(out / "scan.csv")
    assert list(table.columns[:5]) == ["x", "mode", "seed", "status", "seconds"]
    ok = table[table.status == "ok"].set_index(["x", "mode", "seed"])
    assert ok.loc[(3, "a", 2), "answer"] == pytest.approx(126.2) and len(ok) == 6
    assert (out / "scan_answer.png").stat().st_size > 10_000 and "| x | mode | seed |" in (out / "scan.md").read_text()
    done = {p: (out / p / scan.DONE).stat().st_mtime_ns for p in ok["folder"]}
    assert not (out / "x=3_mode=b_seed=1" / scan.DONE).exists()  # a failed point is not complete

    results = scan.run_scan(toy, {"x": [1, 3], "mode": ["a", "b"]}, seeds=2, out_dir=out, progress=False)
    assert [r["folder"] for r in results if not r["skipped"]] == ["x=3_mode=b_seed=1", "x=3_mode=b_seed=2"]
    assert {p: (out / p / scan.DONE).stat().st_mtime_ns for p in done} == done  # finished points untouched


def test_a_folder_holding_another_scan_is_refused(toy, tmp_path):
    out = tmp_path / "scan"
    scan.run_scan(toy, {"x": [1]}, out_dir=out, progress=False)
    with pytest.raises(OSError, match="holds another scan"):
        scan.run_scan(toy, {"x": [1], "mode": "b"}, out_dir=out, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("months of work")
    with pytest.raises(OSError, match="holds no hepwb scan"):
        scan.run_scan(toy, {"x": [1]}, out_dir=tmp_path / "mine", progress=False)


def test_an_interrupted_scan_completes_only_the_missing_points(toy, tmp_path):
    """Kill the scan (and its kernel) while a point runs; the rerun leaves the finished ones alone."""
    import psutil

    out = tmp_path / "scan"
    command = [sys.executable, "-m", "hepwb", "scan", str(toy), "-p", "x=[1,2,4,5]", "-p", "pause=1.5",
               "--out", str(out), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "x=2" / "toy.ipynb").exists() and time.time() < deadline:  # the second point started
        time.sleep(0.1)
    for child in psutil.Process(process.pid).children(recursive=True):  # its kernel goes with it
        child.kill()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert (out / "x=1" / scan.DONE).exists() and not (out / "x=2" / scan.DONE).exists()
    first = (out / "x=1" / scan.DONE).stat().st_mtime_ns

    results = scan.run_scan(toy, {"x": [1, 2, 4, 5], "pause": 1.5}, out_dir=out, progress=False)
    assert [r["skipped"] for r in results] == [True, False, False, False]
    assert all(r["status"] == "ok" for r in results) and (out / "x=1" / scan.DONE).stat().st_mtime_ns == first
    assert json.loads((out / "x=5" / scan.DONE).read_text())["metrics"]["answer"] == pytest.approx(210.1)


def test_workers_that_do_not_share_the_folder_are_named(tmp_path):
    from hepwb.run.cluster import TOKEN, check_shared_folder

    (tmp_path / TOKEN).write_text("another scan")
    assert "sees another" in check_shared_folder(str(tmp_path), "this scan")
    assert "cannot read" in check_shared_folder(str(tmp_path / "missing"), "this scan")
    (tmp_path / TOKEN).write_text("this scan")
    assert check_shared_folder(str(tmp_path), "this scan") is None


def test_an_unknown_metric_is_named_with_those_there_are(toy, tmp_path, capsys):
    code = main(["scan", str(toy), "-p", "x=[1,2]", "--out", str(tmp_path / "s"), "--metric", "acuracy",
                 "--no-progress"])
    assert code == 2
    assert "hepwb scan: no metric 'acuracy' in the scan; its metrics: " in capsys.readouterr().err


def test_a_scan_takes_a_dask_cluster_object(toy, tmp_path):
    """As from dask-jobqueue or Dask Gateway: the cluster itself rather than its address."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        results = scan.run_scan(toy, {"x": [1, 2]}, out_dir=tmp_path / "scan", scheduler=cluster, progress=False)
    assert [r["metrics"]["answer"] for r in results] == [42.1, 84.1]


def test_list_valued_points_are_one_cell_of_the_table_and_a_category_of_the_figure(tmp_path):
    results = [{"point": {"widths": w, "seed": seed}, "folder": scan.folder_name({"widths": w, "seed": seed}),
                "status": "ok", "seconds": 1.0, "error": None, "metrics": {"auc": 0.7 + 0.1 * len(w) + 0.01 * seed}}
               for w in ([8], [8, 8]) for seed in (1, 2)]
    assert [row["widths"] for row in scan.scan_rows(results)] == ["[8]", "[8]", "[8, 8]", "[8, 8]"]
    figure = scan.write_scan_figure(results, tmp_path, "auc")
    assert figure == tmp_path / "scan_auc.png" and figure.stat().st_size > 10_000
