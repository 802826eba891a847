"""The histogram explorer: a branch or an expression of a TTree or RNTuple, with binning, range, log scale,
a cut and overlaid samples, redrawn at every change."""

from __future__ import annotations

import ast
import contextlib

import ipywidgets as w
import numpy as np
import uproot

from hepwb import data, plotting
from hepwb.widgets.common import Pictured, drawing, error_line, show


class HistogramExplorer(Pictured, w.VBox):
    """Histogram a branch or an expression, with binning, range, log scale, a cut, and overlays.

    Parameters
    ----------
    source : dataset name, path, or an uproot TTree or RNTuple.
    expression : a branch or field name or an uproot expression such as ``"sqrt(px1**2 + py1**2)"``.
    split_by : an integer branch (e.g. ``"label"``) whose values define the overlaid samples.
    split_labels : names of those values (e.g. the jet classes); index = value.
    max_entries : entries read per update (keeps the widget responsive).

    >>> explorer = HistogramExplorer("jets", "mass_mmdt", split_by="label", split_labels=[...])
    >>> explorer.set(cut="jet_pt > 900", bins=40)
    >>> explorer.figure
    """

    def __init__(self, source, expression: str | None = None, *, tree_name: str | None = None,
                 split_by: str | None = None, split_labels: list[str] | None = None,
                 bins: int = 50, range: tuple[float, float] | None = None, cut: str = "",
                 log: bool = False, density: bool = False, max_entries: int = 200_000):
        opened = isinstance(source, (uproot.behaviors.TBranch.HasBranches, uproot.behaviors.RNTuple.RNTuple))
        self.tree = source if opened else data.tree(source, tree_name)
        self._schema = {} if opened else data.schema(source)
        self.branches = list(self.tree.keys())
        self.split_by = split_by
        if split_by is not None and split_by not in self.branches:
            raise data.MissingBranchError(f"split_by: no branch named {split_by!r}; branches: {self.branches}")
        self.split_labels = list(split_labels) if split_labels is not None else None
        self.max_entries = max_entries
        self.figure = None
        self.hists: dict = {}
        sample_names = self._sample_names()
        # text boxes act on Enter or on leaving the box, not at every keystroke of a half-typed cut
        self.expression = w.Combobox(value=expression or self.branches[0], options=self.branches, description="x",
                                     ensure_option=False, continuous_update=False, layout=w.Layout(width="410px"))
        self.cut = w.Text(value=cut, description="cut", placeholder="e.g. jet_pt > 900", continuous_update=False,
                          layout=w.Layout(width="410px"))
        self.bins = w.IntSlider(value=bins, min=5, max=200, description="bins")
        self.auto_range = w.Checkbox(value=range is None, description="auto range")
        self.low = w.FloatText(value=range[0] if range else 0.0, description="from", layout=w.Layout(width="180px"))
        self.high = w.FloatText(value=range[1] if range else 1.0, description="to", layout=w.Layout(width="180px"))
        self.log_scale = w.Checkbox(value=log, description="log y")
        self.density = w.Checkbox(value=density, description="normalise")
        self.samples = w.SelectMultiple(options=sample_names, value=tuple(sample_names), rows=min(6, len(sample_names)),
                                        description="overlay", layout=w.Layout(width="410px"))
        self.status = w.HTML(layout=w.Layout(width="410px"))
        # the picture shrinks to the room beside the controls (JupyterLab fits images to their output's width)
        self.output = w.Output(layout=w.Layout(flex="1 1 0%", min_width="300px", max_width="640px"))
        for control in (self.cut, self.bins, self.auto_range, self.log_scale, self.density, self.samples):
            control.observe(lambda change: self.update(), names="value")
        self.expression.observe(self._on_expression, names="value")
        for bound in (self.low, self.high):
            bound.observe(self._on_bound, names="value")
        #: True once the student typed a range: a new x then keeps it; otherwise each x takes its own
        self.range_pinned = False
        controls = w.VBox([self.expression, self.cut, self.bins, self.auto_range, w.HBox([self.low, self.high]),
                           w.HBox([self.log_scale, self.density]), self.samples, self.status],
                          layout=w.Layout(flex="0 0 auto", width="420px"))
        super().__init__([w.HBox([controls, self.output], layout=w.Layout(flex_flow="row"))])
        self.add_class("hepwb-histogram-explorer")
        self._updating = False
        self.update()

    @contextlib.contextmanager
    def _quietly(self):
        """Change controls without each change redrawing (restores the flag as it was, for nested use)."""
        before, self._updating = self._updating, True
        try:
            yield
        finally:
            self._updating = before

    def _on_expression(self, change) -> None:
        if not self.range_pinned:
            with self._quietly():
                self.auto_range.value = True  # the constructor's range belonged to the first x
        self.update()

    def _on_bound(self, change) -> None:
        if not self._updating:  # typed by the student, not filled in by update()
            self.range_pinned = True
            with self._quietly():
                self.auto_range.value = False
        self.update()

    def describe(self) -> str:
        cut = f" with cut {self.cut.value}" if self.cut.value.strip() else ""
        return f"histogram explorer of {self.tree.name}: {self.expression.value}{cut}"

    def _sample_names(self) -> list[str]:
        if self.split_by is None:
            self._sample_values = {"all": None}
        else:
            values = np.unique(data.arrays(self.tree, [self.split_by], entry_stop=self.max_entries,
                                           library="np")[self.split_by])
            self._sample_values = {self._label_of(v): v for v in values}
        return list(self._sample_values)

    def _label_of(self, value) -> str:
        if self.split_labels is not None and 0 <= int(value) < len(self.split_labels):
            return self.split_labels[int(value)]
        return f"{self.split_by} = {value}"

    def set(self, **settings) -> None:
        """Change several controls at once (expression, cut, bins, range, log_scale, density, samples)."""
        with self._quietly():
            for key, value in settings.items():
                if key == "range":
                    self.auto_range.value = value is None
                    self.range_pinned = value is not None
                    if value is not None:
                        self.low.value, self.high.value = value
                elif key == "samples":
                    self.samples.value = tuple(value)
                else:  # a new expression takes its own range unless one is pinned (_on_expression)
                    getattr(self, key).value = value
        self.update()
        self.refresh_description()

    def values(self) -> dict[str, np.ndarray]:
        """The flattened values per selected sample for the current expression and cut."""
        expression = data.python_expression(self.expression.value)
        columns = [expression] + ([self.split_by] if self.split_by else [])
        arrays = data.arrays(self.tree, columns, cut=self.cut.value.strip() or None, entry_stop=self.max_entries)
        x = arrays[expression]
        if self.split_by is None:
            return {"all": plotting.to_flat_numpy(x)}
        key = arrays[self.split_by]
        return {name: plotting.to_flat_numpy(x[key == self._sample_values[name]]) for name in self.samples.value}

    def _explain(self, error: Exception) -> str:
        """One readable line: which field (x or cut) is wrong, and what is accepted."""
        for field, text in (("x", self.expression.value), ("cut", self.cut.value)):
            if not text.strip():
                continue
            try:
                ast.parse(data.python_expression(text), mode="eval")
            except SyntaxError:
                return (f"{field}: cannot read {text.strip()!r}; write Python with branch names, e.g. "
                        "(mass_mmdt > 60) & (mass_mmdt < 100) or sqrt(jet_mass / jet_pt); "
                        "ROOT's &&, || and ! are accepted too")
        missing = getattr(error, "key", None)
        if missing is not None:
            return f"no branch named {missing!r} (names are case-sensitive)"
        first_line = str(error).splitlines()[0] if str(error) else ""
        return f"{type(error).__name__}: {first_line[:200]}"

    def update(self) -> None:
        """Recompute and redraw (called on every control change)."""
        if getattr(self, "_updating", False):
            return
        try:
            with drawing():  # numpy's warnings (sqrt of a negative value) are dropped: the status says what was drawn
                per_sample = self.values()
        except Exception as error:  # a typo in an expression or cut must not kill the widget
            self._message(error_line(self._explain(error)) + (
                f"<br>branches: {', '.join(self.branches[:40])}{' ...' if len(self.branches) > 40 else ''}"))
            return
        everything = np.concatenate(list(per_sample.values())) if per_sample else np.zeros(0)
        if len(everything) == 0:
            chosen = "no sample is chosen in 'overlay'" if not per_sample else (
                f"the cut {self.cut.value.strip()!r} selects no entries" if self.cut.value.strip()
                else f"{self.expression.value} has no finite values")
            self._message(error_line(f"nothing to draw: {chosen}"))
            return
        if self.auto_range.value:
            lo, hi = plotting.auto_range(everything)
            with self._quietly():  # show the automatic range in the boxes without pinning it
                self.low.value, self.high.value = float(f"{lo:.4g}"), float(f"{hi:.4g}")
        else:
            lo, hi = self.low.value, self.high.value
            if not hi > lo:
                self._message(error_line(f"range: 'to' ({hi}) must exceed 'from' ({lo})"))
                return
        label = self.expression.value
        unit = self._schema.get(label, {}).get("unit", "")
        label = f"{label} [{unit}]" if unit else label
        self.hists = {name: plotting.histogram(v, bins=self.bins.value, range=(lo, hi), name="x", xlabel=label)
                      for name, v in per_sample.items()}
        counts = ", ".join(f"{k}: {len(v)}" for k, v in per_sample.items())
        self.status.value = f"entries: {counts}; x from {lo:.4g} to {hi:.4g}"
        with drawing(self.status):
            fig, ax = plotting.new_figure(figsize=plotting.WIDGET_FIGSIZE)
            plotting.plot_hists(self.hists, ax=ax, density=self.density.value, log=self.log_scale.value,
                                xlabel=label, experiment=plotting.EXPERIMENT if self._schema else None)
        self.figure = fig
        show(self.output, fig)

