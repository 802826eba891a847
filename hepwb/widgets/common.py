"""What every widget shares: drawing a figure into its output area, a one-line error, and the one-line
description a saved notebook shows where no widget can be drawn."""

from __future__ import annotations

import base64
import html

import ipywidgets as w
from IPython.display import HTML, display


def show(output: w.Output, figure) -> None:
    """Replace what ``output`` shows by ``figure`` as a PNG picture.

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
    """A widget that shows a one-line description, not its repr, where no widget can be drawn
    (a committed notebook before its kernel runs, GitHub, nbconvert to text)."""

    def describe(self) -> str:  # overridden
        return type(self).__name__

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            bundle["text/plain"] = f"{self.describe()} (interactive widget: run the notebook to use it)"
        return bundle

    def snapshot(self):
        """The current figure, captioned as a static copy of the widget's state when the notebook ran."""
        display(HTML("<i>Static copy below: the widget above as it was when this notebook ran.</i>"))
        return self.figure

