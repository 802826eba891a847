"""The widgets in a real browser: JupyterLab on 127.0.0.1, driven by Playwright in headless Chromium, at a
laptop's window size.

Skips where Debian's Chromium (/usr/bin/chromium) is absent. Runs a copy of 00_root_data (so JupyterLab's
autosave cannot touch the committed notebook) and checks what a student meets: the ROOT browser's picture
beside its list and changing with a click (another branch, a TH2F of ROOT's own histograms), a filter that
matches nothing clearing the picture, a cut typed key by key that shows no error before it is complete, a cut
that selects nothing saying so, a change of x; and JupyterLab's Log Console empty at the end (whatever a
widget's callback prints or displays outside its output area lands there). Also: committed notebooks open
and close without "Save changes?", and a training monitor after one epoch shows a point. Screenshots go to
pytest's temporary folder.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hepwb.run import batch

CHROMIUM = Path("/usr/bin/chromium")
RENDER_TIMEOUT_MS = int(__import__("os").environ.get("HEPWB_BROWSER_TIMEOUT_S", "300")) * 1000
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); .ci/run installs it with apt-get")
    pytest.importorskip("playwright")
    work = tmp_path / "lab"
    work.mkdir()
    for name in ("00_root_data", "02_gan_fastsim", "03_anomaly_detection"):
        _copy_for_this_python(batch.NOTEBOOK_DIR / f"{name}.ipynb", work)
    (work / "one_epoch.ipynb").write_text(_one_epoch_notebook())
    port, token = _free_port(), "hepwb-test"
    env_dirs = {name: str(tmp_path / name) for name in ("config", "runtime")}
    # render every cell (JupyterLab 4 otherwise drops cells outside the viewport) and ask about no news
    settings = tmp_path / "settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.allow_root=True",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "jupyterlab.log", "w"),
        env={**__import__("os").environ, "JUPYTER_CONFIG_DIR": env_dirs["config"],
             "JUPYTER_RUNTIME_DIR": env_dirs["runtime"],
             "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.terminate()
        pytest.fail(f"JupyterLab did not start; log: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
    yield lambda name: f"{url}/lab/tree/{name}.ipynb?token={token}"
    process.terminate()
    process.wait(timeout=30)


def _copy_for_this_python(notebook: Path, folder: Path) -> None:
    """Copy a committed notebook with its language_info.version set to this Python's (3.11.2 for Debian's).

    JupyterLab rewrites language_info from the kernel on opening, so a Python a patch release apart marks any
    notebook changed, ours or anyone's; the committed copy carries the version of the Python that ran it.
    """
    import json
    import platform

    content = json.loads(notebook.read_text())
    content["metadata"]["language_info"]["version"] = platform.python_version()
    (folder / notebook.name).write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")


def _one_epoch_notebook() -> str:
    """A notebook whose training monitor receives one epoch, as Keras sends it."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from hepwb import plotting, widgets\nplotting.set_style()\nmonitor = widgets.TrainingMonitor('one epoch')\n"
        "display(monitor)\ncallback = monitor.callback()\n"
        "callback.on_epoch_end(0, {'loss': 1.2, 'accuracy': 0.31, 'val_loss': 1.3, 'val_accuracy': 0.29})")]
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return nbformat.writes(notebook)


def _launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                            "--disable-component-update", "--no-first-run"])


def _open(page, url):
    """Open a notebook and accept the kernel JupyterLab proposes (a dialog on first open)."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=15_000)
    except Exception:
        pass


def _run_all(page):
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()


def _log_console_entries(page) -> list[str]:
    """The messages in JupyterLab's Log Console (opened by the caller) at its default level."""
    return [text for text in page.locator(".jp-LogConsolePanel .jp-OutputArea-child").all_inner_texts()]


def _expected_root_browser_picture(branch: str) -> str:
    """The PNG (base64) that 00's first ROOT browser draws for ``branch``, drawn here by the same code."""
    from hepwb import plotting, widgets

    plotting.set_style()
    browser = widgets.RootBrowser("zmumu")
    browser.branch_list.value = branch
    return browser.output.outputs[0]["data"]["image/png"]


def _differing_pixels(source: str, expected_png: str) -> float:
    """The fraction of pixels in which an <img> source (data:image/png;base64,...) differs from the expected PNG
    (1 for another size). The widget's data path is checked against uproot in tests/test_widgets.py; this checks
    that the browser shows what the widget drew for the branch the student chose."""
    import base64
    import io

    import matplotlib.image

    shown, expected = (matplotlib.image.imread(io.BytesIO(base64.b64decode(png)), format="png")
                       for png in (source.split(",", 1)[1], expected_png))
    if shown.shape != expected.shape:
        return 1.0
    return float((abs(shown - expected).max(axis=-1) > 0.1).mean())


def _image_source(page, widget_class: str) -> str:
    return page.locator(f".{widget_class} img").first.get_attribute("src", timeout=5_000) or ""


def _wait_for_new_image(page, widget_class: str, old: str, timeout_s: float = 300) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            new = _image_source(page, widget_class)
        except Exception:  # the output is being redrawn
            new = old
        if new and new != old:
            return new
        page.wait_for_timeout(1000)
    raise AssertionError(f"the {widget_class} picture did not change within {timeout_s} s")


def test_widgets_render_and_react_in_jupyterlab(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    screenshots = tmp_path / "screenshots"  # pytest keeps the last three runs' folders to look at
    screenshots.mkdir()
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 800})  # a laptop
        try:
            _drive(page, jupyterlab("00_root_data"), screenshots)
        except Exception:
            page.screenshot(path=str(screenshots / "failure.png"))
            raise
        finally:
            browser.close()


def _drive(page, url, screenshots):
    """Open the notebook, run all cells, check the widgets render and react, and that nothing escapes them."""
    _open(page, url)
    page.get_by_role("menuitem", name="View", exact=True).click()
    page.get_by_text("Show Log Console", exact=True).click()
    page.wait_for_selector(".jp-LogConsolePanel", timeout=30_000)
    # its default level (warning) shows what has no cell to go to; "debug" would list every cell's output too
    _run_all(page)

    page.wait_for_selector(".hepwb-root-browser img", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(".hepwb-histogram-explorer img", timeout=RENDER_TIMEOUT_MS)
    page.locator(".hepwb-root-browser").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "root-browser.png"))

    # the picture sits beside the branch list, not under it, on a laptop's screen
    first = page.locator(".hepwb-root-browser").first
    listing, picture = (first.locator(selector).first.bounding_box() for selector in (".widget-select select", "img"))
    assert picture["x"] >= listing["x"] + listing["width"] and picture["y"] < listing["y"] + listing["height"], (
        f"the browser's picture {picture} is not beside its list {listing}")

    # choose another branch: the histogram changes
    before = _image_source(page, "hepwb-root-browser")
    branches = page.locator(".hepwb-root-browser .widget-select select").first
    values = [option.get_attribute("value") for option in branches.locator("option").all()]
    branches.select_option(value=next(v for v in values if v.startswith("met ")))
    after = _wait_for_new_image(page, "hepwb-root-browser", before)
    assert after != before
    shown = page.locator(".hepwb-root-browser").first.inner_text()  # the new picture is met's, not an error
    assert "met: " in shown and " values from " in shown and "cannot" not in shown and "Error" not in shown
    differing = _differing_pixels(after, _expected_root_browser_picture("met"))
    assert differing < 1e-3, f"the browser's picture is not met's histogram: {differing:.2%} of its pixels differ"
    page.screenshot(path=str(screenshots / "root-browser-met.png"))

    # a filter that matches no branch: the browser says so and shows no picture
    browser = page.locator(".hepwb-root-browser").first
    browser.locator("input[placeholder='filter branches (e.g. Muon_)']").fill("zzz")
    browser.locator("input[placeholder='filter branches (e.g. Muon_)']").press("Enter")
    browser.get_by_text("no branch of events matches the filter 'zzz'").wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('.hepwb-root-browser')[0]"
                           ".querySelectorAll('img').length == 0",
                           timeout=60_000)
    page.screenshot(path=str(screenshots / "root-browser-no-match.png"))

    # the cut that 00 suggests, as ROOT spells it: the explorer's picture changes and it reports no error
    explorer = page.locator(".hepwb-histogram-explorer").first
    explorer.scroll_into_view_if_needed()
    before = _image_source(page, "hepwb-histogram-explorer")
    cut = explorer.locator("input[placeholder='e.g. jet_pt > 900']")
    cut.click()
    cut.press_sequentially("mass_mmdt > 60 && mass_mmdt <", delay=40)  # as a student types it, key by key
    page.wait_for_timeout(3000)
    assert "cannot read" not in explorer.inner_text(), "an error is shown while a valid cut is still being typed"
    assert _image_source(page, "hepwb-histogram-explorer") == before, "the picture changed before the cut was complete"
    cut.press_sequentially(" 100", delay=40)
    cut.press("Enter")
    before = _wait_for_new_image(page, "hepwb-histogram-explorer", before)
    assert "x from 0 to 250" in explorer.inner_text() and "cannot read" not in explorer.inner_text()
    page.screenshot(path=str(screenshots / "histogram-explorer.png"))

    # a new x takes its own range (D2 lies below 10), not the 0-250 GeV of the mass
    x = explorer.locator("input").first
    x.fill("d2_b1_mmdt")
    x.press("Enter")
    _wait_for_new_image(page, "hepwb-histogram-explorer", before)
    status = explorer.inner_text()
    upper = float(status.split("x from ")[1].split(" to ")[1].split()[0])
    assert upper < 20, status
    page.screenshot(path=str(screenshots / "histogram-explorer-d2.png"))

    # a cut that selects nothing: a message, no empty axes
    cut.fill("d2_b1_mmdt > 1000")
    cut.press("Enter")
    explorer.get_by_text("nothing to draw: the cut 'd2_b1_mmdt > 1000' selects no entries").wait_for(timeout=60_000)
    assert explorer.locator("img").count() == 0

    # the RNTuple of section 7 in the second browser: its header names it, a field's histogram is drawn
    rntuple = page.locator(".hepwb-root-browser").nth(2)
    rntuple.scroll_into_view_if_needed()
    rntuple.locator("img").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "RNTuple jets: 2500 entries" in rntuple.inner_text()
    page.screenshot(path=str(screenshots / "rntuple-browser.png"))

    # ROOT's own histograms: the TH2F and back to the TH1F, each drawn in the browser and nowhere else
    histograms = page.locator(".hepwb-root-browser").nth(1)
    histograms.scroll_into_view_if_needed()
    objects = histograms.locator("select").first
    for name in ("hpx", "hpxpy", "hprof", "hpxpy"):
        before = histograms.locator("img").first.get_attribute("src")
        objects.select_option(label=next(o for o in objects.locator("option").all_inner_texts() if o.startswith(name)))
        page.wait_for_function("([element, old]) => { const img = element.querySelector('img');"
                               " return img && img.getAttribute('src') != old; }",
                               arg=[histograms.element_handle(), before], timeout=60_000)
        assert f"{name}: T" in histograms.inner_text()
    page.screenshot(path=str(screenshots / "histogram-file-browser.png"))

    page.wait_for_timeout(3000)  # anything a callback sent has arrived
    entries = _log_console_entries(page)
    assert not entries, f"{len(entries)} outputs escaped into the Log Console: {[e[:120] for e in entries]}"


def test_committed_notebooks_open_and_close_without_asking_to_save(jupyterlab, tmp_path):
    """JupyterLab marks a notebook changed when its kernel's name differs from the saved one, among others."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        try:
            for name in ("00_root_data", "02_gan_fastsim", "03_anomaly_detection"):
                page = browser.new_page(viewport={"width": 1366, "height": 800})
                _open(page, jupyterlab(name) + "&reset")  # a fresh workspace: this notebook's tab alone
                page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is up
                page.wait_for_timeout(3000)
                dirty = page.locator(".lm-TabBar-tab.jp-mod-dirty").count()
                page.screenshot(path=str(tmp_path / f"opened-{name}.png"))
                page.close()
                assert dirty == 0, f"{name}: JupyterLab marks the committed notebook changed on opening"
        finally:
            browser.close()


def test_a_training_monitor_after_one_epoch_shows_a_point(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 800})
        try:
            _open(page, jupyterlab("one_epoch"))
            _run_all(page)
            page.wait_for_selector(".hepwb-training-monitor img", timeout=RENDER_TIMEOUT_MS)
            monitor = page.locator(".hepwb-training-monitor").first
            assert "epoch 1: loss 1.2000" in monitor.inner_text()
            page.screenshot(path=str(tmp_path / "one-epoch.png"))
            source = monitor.locator("img").first.get_attribute("src")
        finally:
            browser.close()
    assert _differing_pixels(source, _one_epoch_picture()) < 1e-3, "the monitor does not show the one-epoch curves"


def _one_epoch_picture() -> str:
    """The PNG (base64) of the one-epoch curves, drawn here by the same code."""
    from hepwb import plotting, widgets

    plotting.set_style()
    monitor = widgets.TrainingMonitor("one epoch")
    monitor.update(0, {"loss": 1.2, "accuracy": 0.31, "val_loss": 1.3, "val_accuracy": 0.29})
    return monitor.output.outputs[0]["data"]["image/png"]
