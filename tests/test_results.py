"""docs/results.md is written from a run's summary and cannot drift from it."""

from __future__ import annotations

import json

import pytest

from hepwb.__main__ import main
from hepwb.run import results


def test_the_results_page_is_what_the_committed_full_run_gives():
    summary = json.loads(results.SUMMARY_COPY.read_text())
    assert [r["notebook"] for r in summary] == list(results.SECTIONS)
    assert all(r["preset"] == "full" and r["status"] == "ok" for r in summary)
    assert results.PAGE.read_text() == results.markdown(summary), "rerun: hepwb results results/full"


def test_the_page_shows_each_notebook_s_numbers_and_no_machine_paths():
    page = results.PAGE.read_text()
    summary = {r["notebook"]: r["metrics"] for r in json.loads(results.SUMMARY_COPY.read_text())}
    assert f"{summary['01_jet_tagging']['pfn_mean_auc']:.4g}" in page
    assert f"{summary['04_trigger_fpga']['bops_reduction']:.1f}×" in page
    assert "/work/" not in page and "/home/" not in page and "output_dir" not in results.SUMMARY_COPY.read_text()


def test_hepwb_results_writes_page_and_copy_from_a_run(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    committed = json.loads(results.SUMMARY_COPY.read_text())
    committed[0]["parameters"]["output_dir"] = str(run / "00_root_data")  # as hepwb run writes it
    (run / "summary.json").write_text(json.dumps(committed))
    copy = tmp_path / "docs" / "results" / "full-summary.json"
    monkeypatch.setattr(results, "SUMMARY_COPY", copy)
    results.write_page(run, page=tmp_path / "docs" / "results.md", summary_copy=copy)
    assert (tmp_path / "docs" / "results.md").read_text() == results.PAGE.read_text()
    assert "output_dir" not in copy.read_text()
    assert main(["results", str(tmp_path / "nothing")]) == 2
    assert "no summary.json; make one with: hepwb run --preset full" in capsys.readouterr().err


@pytest.mark.parametrize("value, shown", [(1252288.0, "1 252 288"), (0.64523, "0.6452"), (True, "yes"), (None, "—")])
def test_numbers_are_written_for_reading(value, shown):
    assert results._number(value) == shown
