"""What every widget shares: drawing into its own output area and nowhere else, a one-line message, and the
one-line description a saved notebook shows where no widget can be drawn."""

from __future__ import annotations

import base64
import contextlib
import html
import warnings

import ipywidgets as w
from IPython.display import HTML, display

from hepwb import plotting


@contextlib.contextmanager
def drawing(status: w.HTML | None = None):
    """Draw inside the block without anything escaping the widget.

    A figure pyplot gained here (a library's ``plt.gca()``) would be shown by the inline backend at the end of
    the kernel's next request, which for a click is a message with no cell: JupyterLab puts it in its Log
    Console. ``plotting.pyplot_released`` lets go of such figures (the drawing functions already use it where
    mplhep registers them; here it also covers whatever else a widget calls). Warnings (e.g. numpy's divide
    by zero) are caught and, when ``status`` is given, appended to it as one line instead of going to the Log
    Console; without ``status`` they are dropped.
    """
    with warnings.catch_warnings(record=True) as caught, plotting.pyplot_released():
        warnings.simplefilter("always")
        yield
    if caught and status is not None:
        first = str(caught[0].message).splitlines()[0][:160]
        status.value += f"<br><span style='color:#a60'>note: {html.escape(first, quote=False)}</span>"


def show(output: w.Output, figure) -> None:
    """Replace what ``output`` shows by ``figure`` as a PNG picture (nothing for None).

    The picture goes into the Output widget's own list of outputs instead of through ``with output:
    display(...)``, which routes by the kernel's current message and can land in JupyterLab's log
    console when a control's callback draws.
    """
    if figure is None:
        output.outputs = ()
        return
    from IPython.core.pylabtools import print_figure

    png = base64.b64encode(print_figure(figure, "png", bbox_inches="tight")).decode("ascii")
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"image/png": png, "text/plain": "<Figure>"}},)


def error_line(message: str) -> str:
    """A message as one red, HTML-escaped line (Python's '<unknown>' must not vanish as a tag)."""
    return f"<span style='color:#b00'>{html.escape(message, quote=False)}</span>"


class Described:
    """A widget that shows a one-line description, not its repr, where no widget can be drawn (a committed
    notebook before its kernel runs, GitHub, nbconvert to text).

    The description is written when the widget is displayed; ``refresh_description()`` rewrites it (called
    from a cell, e.g. when training ends), so a saved notebook states the widget's final state.
    """

    _display_handle = None

    def describe(self) -> str:  # overridden
        return type(self).__name__

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            bundle["text/plain"] = f"{self.describe()} (interactive widget: run the notebook to use it)"
        return bundle

    def _ipython_display_(self):
        self._display_handle = display(self._repr_mimebundle_(), raw=True, display_id=True)

    def refresh_description(self) -> None:
        """Rewrite the saved one-line description to the widget's current state (the live widget is unchanged).

        Only call it from a cell: JupyterLab routes a display update sent while handling a click to its Log
        Console.
        """
        if self._display_handle is not None:
            self._display_handle.update(self._repr_mimebundle_(), raw=True)

    def snapshot(self):
        """The current figure, captioned as a static copy of the widget's state when the notebook ran."""
        self.refresh_description()
        display(HTML("<i>Static copy below: the widget above as it was when this notebook ran.</i>"))
        return self.figure


class Pictured(Described):
    """A widget that shows one picture (``figure`` and its ``hists``, drawn into ``output``) under a ``status``
    line: the ROOT browser and the histogram explorer."""

    def _message(self, text: str) -> None:
        """Say ``text`` instead of a picture: the previous picture would belong to another choice."""
        self.figure, self.hists = None, {}
        self.status.value = text
        show(self.output, None)
