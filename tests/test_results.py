"""docs/results.md is written from a run's summary and cannot drift from it."""

from __future__ import annotations

import copy
import json

import pytest

from hepwb.__main__ import main
from hepwb.run import results


def test_the_results_page_is_what_the_committed_full_run_gives():
    summary = json.loads(results.SUMMARY_COPY.read_text())
    assert [r["notebook"] for r in summary] == results.notebook_stems() == list(results.SECTIONS)
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


def test_a_notebook_or_a_headline_metric_without_a_place_on_the_page_is_refused(tmp_path):
    committed = json.loads(results.SUMMARY_COPY.read_text())
    unknown = copy.deepcopy(committed) + [{**committed[0], "notebook": "10_unknown_lesson"}]
    with pytest.raises(ValueError, match="10_unknown_lesson has no section on the results page"):
        results.markdown(unknown)
    new_headline = copy.deepcopy(committed)
    new_headline[-1]["metrics"]["headline"]["trigger_rate_khz"] = 12.0
    new_headline[-1]["metrics"]["trigger_rate_khz"] = 12.0
    with pytest.raises(ValueError, match=r"headline metrics \['trigger_rate_khz'\] are not on the results page"):
        results.markdown(new_headline)
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(committed[:-1]))  # a run of seven notebooks, not eight
    page = tmp_path / "results.md"
    with pytest.raises(ValueError, match=f"has no result for \\['{committed[-1]['notebook']}'\\]"):
        results.write_page(run, page=page, summary_copy=tmp_path / "copy.json")
    assert not page.exists() and not (tmp_path / "copy.json").exists()


@pytest.mark.parametrize("value, shown", [(1252288.0, "1 252 288"), (0.64523, "0.6452"), (True, "yes"), (None, "—")])
def test_numbers_are_written_for_reading(value, shown):
    assert results._number(value) == shown


BINDER_CHECK = results.DOCS / "results" / "binder-check.json"  # a copy of make binder-check's binder-check.json
README = results.PROJECT_DIR / "README.md"


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def test_readme_times_and_memory_are_those_of_the_committed_binder_check():
    check = json.loads(BINDER_CHECK.read_text())
    assert check["stack"] == "keras2" and [r["notebook"] for r in check["notebooks"]] == results.notebook_stems()
    rows = {line.split("`")[1]: line for line in README.read_text().splitlines() if line.startswith("| `0")}
    for r in check["notebooks"]:
        quoted = f"| {_minutes(r['wall_seconds'])} ({r['cpu_seconds']:.0f} s), {r['peak_tree_rss_gb']:.1f} GB |"
        assert rows[r["notebook"]].endswith(quoted), (r["notebook"], quoted)
        assert r["peak_tree_rss_gb"] < 2.0  # within Binder's 2 GB, as README says
        if r["status"] != "ok":  # over the 4 minutes: README must say so where it promises the budget
            assert f"but `{r['notebook']}` within 4 minutes" in README.read_text(), r["notebook"]
    assert f"one `make binder-check` run of all nine notebooks on {check['date']}" in README.read_text()


def test_readme_latency_is_the_full_run_s():
    summary = json.loads(results.SUMMARY_COPY.read_text())
    fpga = next(r["metrics"] for r in summary if r["notebook"] == "04_trigger_fpga")
    latency = f"{fpga['quantized_latency_ns_rf1']:.0f} ns"
    text = README.read_text()
    assert f"in about {latency}" in text and "100 ns" not in text, latency
