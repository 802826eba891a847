"""Progress bars that leave an honest record: tqdm's, whose saved text states where they ended.

In a notebook ``tqdm.auto`` draws a widget whose text stand-in (what a committed notebook shows before its
kernel runs) is written once, at 0 %. ``progress_bar`` rewrites that stand-in when the bar closes, so the
saved copy reads "100/100" where the training finished. Elsewhere (a terminal, papermill's log) it is
tqdm's ordinary text bar.
"""

from __future__ import annotations


def progress_bar(iterable=None, **tqdm_options):
    """``tqdm.auto.tqdm(iterable, **tqdm_options)`` whose notebook text stand-in ends in its final state."""
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm as notebook_tqdm

    if tqdm_options.get("disable") or not issubclass(tqdm, notebook_tqdm):  # not in a notebook's kernel
        return tqdm(iterable, **tqdm_options)
    from IPython.display import display

    class NotebookBar(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._handle = display(self.container, display_id=True)

        def close(self):
            super().close()
            if getattr(self, "_handle", None) is not None and self.leave:
                self._handle.update(self.container)  # rewrite the text stand-in: where the bar ended
                self._handle = None

    return NotebookBar(iterable, **tqdm_options)
