"""The widgets in a real IPython kernel, driven as JupyterLab drives them: each click is a ``comm_msg``.

Whatever the kernel sends while it handles a click (a picture, a warning, a traceback) has no cell to go to:
JupyterLab shows it in its Log Console. A widget must put everything into its own output area, so here no
output message may answer a click. The saved copy's one-line stand-ins must state the final state.
"""

from __future__ import annotations

import queue
import time

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    client.execute_interactive("from hepwb import data, plotting, widgets\nplotting.set_style()", timeout=120)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str) -> list[dict]:
    """Execute ``code`` as a cell; its output messages."""
    outputs = []
    reply = client.execute_interactive(code, timeout=300, output_hook=outputs.append)
    assert reply["content"]["status"] == "ok", reply["content"]
    return [m for m in outputs if m["msg_type"] in ("stream", "display_data", "execute_result", "error",
                                                    "update_display_data")]


def click(client, widget: str, state: dict, wait_s: float = 5.0) -> list[dict]:
    """Send the ``state`` change of ``widget`` (a Python expression in the kernel) as the browser does, and
    return every output message that answers it (each would land in JupyterLab's Log Console)."""
    model_id = run(client, f"print({widget}.model_id)")[0]["content"]["text"].strip()
    message = client.session.msg("comm_msg", {"comm_id": model_id,
                                              "data": {"method": "update", "state": state, "buffer_paths": []}})
    client.shell_channel.send(message)
    escaped, deadline = [], time.time() + wait_s
    while time.time() < deadline:
        try:
            reply = client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if (reply["parent_header"].get("msg_id") == message["header"]["msg_id"]
                and reply["msg_type"] in ("stream", "display_data", "execute_result", "error", "update_display_data")):
            escaped.append(f"{reply['msg_type']}: {str(reply['content'])[:200]}")
    run(client, "pass")  # the inline backend shows leftover pyplot figures at the end of the next request
    return escaped


def test_choosing_each_object_of_a_histogram_file_writes_nothing_outside_the_browser(kernel):
    run(kernel, "b = widgets.RootBrowser(data.real_file('uproot-hepdata-example.root'))")
    names = [name for name in ("hpx", "hpxpy", "hprof", "ntuple")]
    for index, name in list(enumerate(names))[::-1]:  # the TH2F (hpxpy) used to come back in the Log Console
        escaped = click(kernel, "b.object_list", {"index": index})
        assert not escaped, f"choosing {name} sent output outside the widget: {escaped}"
    status = run(kernel, "print(b.status.value, b.figure is not None)")[0]["content"]["text"]
    assert status.startswith("hpx: TH1F") and status.strip().endswith("True"), status


def test_the_next_cell_shows_no_leftover_widget_figures(kernel):
    run(kernel, "b2 = widgets.RootBrowser(data.real_file('uproot-hepdata-example.root'))")
    click(kernel, "b2.object_list", {"index": 1})
    shown = run(kernel, "1 + 1")
    assert [m["msg_type"] for m in shown] == ["execute_result"], [str(m["content"])[:120] for m in shown]


def test_a_cut_that_selects_nothing_says_so_inside_the_explorer(kernel):
    run(kernel, "e = widgets.HistogramExplorer('jets', 'mass_mmdt', split_by='label', density=True, "
                "max_entries=2000)")
    escaped = click(kernel, "e.cut", {"value": "mass_mmdt > 5000"})
    assert not escaped, escaped
    status = run(kernel, "print(e.status.value, e.figure, len(e.output.outputs))")[0]["content"]["text"]
    assert "nothing to draw: the cut 'mass_mmdt &gt; 5000' selects no entries" in status and "None 0" in status
    # a cut that empties most bins: density's divide-by-zero warnings stay in the widget
    escaped = click(kernel, "e.cut", {"value": "mass_mmdt > 240"})
    assert not escaped, escaped


def test_saved_stand_ins_state_where_training_and_progress_ended(kernel):
    """The text a committed notebook shows before its kernel runs: the last state, not the first."""
    shown = run(kernel, "monitor = widgets.TrainingMonitor('demo', print_every=100)\ndisplay(monitor)\n"
                        "cb = monitor.callback()\n"
                        "for epoch in range(3): cb.on_epoch_end(epoch, {'loss': 1.0 / (epoch + 1)})\n"
                        "cb.on_train_end()")
    updates = [m for m in shown if m["msg_type"] == "update_display_data"]
    assert updates and "demo: 3 epochs, last: loss 0.3333" in updates[-1]["content"]["data"]["text/plain"]
    shown = run(kernel, "from hepwb.progress import progress_bar\nfor _ in progress_bar(range(7), desc='demo'): pass")
    texts = [m["content"]["data"]["text/plain"] for m in shown if m["msg_type"] == "update_display_data"]
    assert texts and "7/7" in texts[-1], [m["msg_type"] for m in shown]
