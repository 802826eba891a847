"""Interactive ipywidgets for JupyterLab: a ROOT file browser and a histogram explorer.

Every widget keeps its current figure (``.figure``) and, where it histograms, its histograms
(``.hists``), so it can be driven and checked without a display (tests, papermill). Each drawing goes
into the widget's own output area as a picture. ``.snapshot()`` shows the current figure as a static
copy, captioned as the state when the notebook ran; a notebook saved without widget state shows a
one-line description instead of the widget's repr. Data access goes through ``hepwb.data``; drawing
goes through ``hepwb.plotting``.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import html

import ipywidgets as w
import numpy as np
import uproot
from IPython.display import HTML, display

from hepwb import data, plotting


def is_drawable_histogram(classname: str) -> bool:
    """1D and 2D histograms and 1D profiles: what ``plotting.plot_root_histogram`` draws."""
    return classname.startswith(("TH1", "TH2", "TProfile")) and not classname.startswith(("TProfile2D", "TProfile3D"))


def _show(output: w.Output, figure) -> None:
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


def _error_line(message: str) -> str:
    """A message as one red, HTML-escaped line (Python's '<unknown>' must not vanish as a tag)."""
    return f"<span style='color:#b00'>{html.escape(message, quote=False)}</span>"


class _Described:
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


def not_shown_reason(classname: str) -> str:
    """Why the browser lists an object of this class without showing it."""
    if classname == "TDirectory":
        return "a folder: the objects in it are listed by their path (folder/name)"
    if classname.startswith(("TH3", "TProfile")):  # profiles that reach here are 2D or 3D
        return "a 3D histogram or 2D profile: hepwb draws 1D and 2D histograms; draw projections (uproot's to_hist())"
    return ("hepwb draws histograms (TH1, TH2, TProfile) and histograms the columns of TTrees and RNTuples; "
            "read this object with uproot")


class RootBrowser(_Described, w.VBox):
    """Browse a ROOT file: TTrees and RNTuples with their branches / fields (type, entries), histograms.

    Choosing a branch (or an RNTuple field, nested ones as ``Muon.pt``) shows its histogram (the
    first ``max_entries`` entries; jagged ones are flattened); choosing a histogram object draws it.
    Every other object in the file is listed below the controls with the reason it is not shown.

    >>> browser = RootBrowser("zmumu")          # a dataset name or any path
    >>> browser.select("m_ll")                  # same as clicking the branch
    >>> browser.figure                          # the current matplotlib figure
    """

    def __init__(self, source, *, max_entries: int | None = 100_000, bins: int = 60):
        self.source = source
        self.file = data.open(source)
        self._schema = data.schema(source)  # units of our own datasets; empty for foreign files
        self.max_entries = max_entries
        self.bins = bins
        self.figure = None
        self.hists: dict = {}
        classnames = {key.split(";")[0]: cls for key, cls in self.file.classnames().items()}
        self.objects = {name: cls for name, cls in classnames.items()
                        if cls in data.ENTRY_CLASSES or is_drawable_histogram(cls)}
        #: objects in the file that the browser does not show: name -> "class: why"
        self.not_shown = {name: f"{cls}: {not_shown_reason(cls)}" for name, cls in classnames.items()
                          if name not in self.objects}
        self.header = w.HTML()
        self.object_list = w.Dropdown(options=[f"{name}  [{cls}]" for name, cls in self.objects.items()],
                                      description="object", layout=w.Layout(width="420px"))
        self.filter = w.Text(placeholder="filter branches (e.g. Muon_)", description="filter",
                             layout=w.Layout(width="420px"))
        self.branch_list = w.Select(rows=14, description="branch", layout=w.Layout(width="420px"))
        self.log_scale = w.Checkbox(value=False, description="log y")
        self.status = w.HTML()
        self.others = w.HTML("<br>".join(f"not shown: <code>{name}</code> [{why}]" for name, why in self.not_shown.items()))
        self.output = w.Output(layout=w.Layout(min_width="520px"))
        self.object_list.observe(self._on_object, names="value")
        self.filter.observe(lambda change: self._fill_branches(), names="value")
        self.branch_list.observe(self._on_branch, names="value")
        self.log_scale.observe(lambda change: self._redraw(), names="value")
        controls = w.VBox([self.object_list, self.filter, self.branch_list, self.log_scale, self.status],
                          layout=w.Layout(flex="0 0 auto", width="440px"))
        # the plot wraps below the controls when the notebook is narrow, instead of covering them
        super().__init__([self.header, w.HBox([controls, self.output], layout=w.Layout(flex_flow="row wrap")),
                          self.others])
        self.add_class("hepwb-root-browser")
        self.path = data.shown_path(self.file.file_path)
        self.header.value = f"<b>{self.path}</b> &mdash; {len(self.objects)} objects"
        if self.objects:
            self._on_object(None)

    # --- state -------------------------------------------------------------------------
    @property
    def current_object(self) -> str | None:
        value = self.object_list.value
        return value.split("  [")[0] if value else None

    @property
    def current_branch(self) -> str | None:
        value = self.branch_list.value
        return value.split("  ")[0] if value else None

    def branch_rows(self) -> list[str]:
        """The branch list as shown: 'name  type  (entries)'."""
        return list(self.branch_list.options)

    # --- actions -------------------------------------------------------------------------
    def select(self, name: str) -> None:
        """Select an object (tree or histogram) or, in the current tree, a branch, by name."""
        if name in self.objects:
            self.object_list.value = next(o for o in self.object_list.options if o.startswith(name + "  ["))
            return
        if self.filter.value and not name.startswith(self.filter.value):
            self.filter.value = ""
        for option in self.branch_list.options:
            if option.split("  ")[0] == name:
                self.branch_list.value = option
                return
        tree = self.current_object
        raise data.MissingBranchError(f"{self.path}:{tree}: no branch or object named {name!r}; "
                                      f"branches: {[o.split('  ')[0] for o in self.branch_list.options]}; "
                                      f"objects: {list(self.objects)}")

    def _on_object(self, change) -> None:
        name = self.current_object
        cls = self.objects[name]
        if cls in data.ENTRY_CLASSES:
            tree = self.file[name]
            kind, columns = ("RNTuple", "fields") if data.is_rntuple(tree) else ("tree", "branches")
            self.header.value = (f"<b>{self.path}</b> &mdash; {kind} <code>{name}</code>: "
                                 f"{tree.num_entries} entries, {len(tree.keys())} {columns}")
            self.filter.disabled = False
            self._fill_branches()
        else:
            self.header.value = f"<b>{self.path}</b> &mdash; {cls} <code>{name}</code>"
            self.branch_list.options = []
            self.filter.disabled = True
            self._draw_histogram_object(name)

    def _fill_branches(self) -> None:
        name = self.current_object
        if self.objects.get(name) not in data.ENTRY_CLASSES:
            return
        tree = self.file[name]
        rows = [f"{b}  {data.branch_type(tree, b)}  ({tree.num_entries})" for b in tree.keys()
                if self.filter.value.lower() in b.lower()]
        self.branch_list.options = rows
        if not rows:
            self.figure, self.hists = None, {}
            self.status.value = _error_line(f"no branch of {name} matches the filter {self.filter.value!r}")
            _show(self.output, None)
            return
        numeric = [row for row in rows if data.is_numeric(tree, row.split("  ")[0])]
        if numeric or rows:
            self.branch_list.value = (numeric or rows)[0]

    def _on_branch(self, change) -> None:
        if self.current_branch is not None:
            self._draw_branch(self.current_branch)

    def _redraw(self) -> None:
        name = self.current_object
        if name is None:
            return
        if self.objects[name] in data.ENTRY_CLASSES:
            self._on_branch(None)
        else:
            self._draw_histogram_object(name)

    def _draw_branch(self, branch: str) -> None:
        tree = self.file[self.current_object]
        if not data.is_numeric(tree, branch):
            kind = data.branch_type(tree, branch)
            hint = f"; pick one of its fields, {branch}.*" if kind.startswith("collection") else ""
            self.status.value = _error_line(f"{branch} holds {kind}, not numbers: nothing to histogram{hint}")
            return
        try:
            values = data.arrays(tree, [branch], entry_stop=self.max_entries)[branch]
            flat = plotting.to_flat_numpy(values)
        except Exception as error:  # a branch uproot cannot read (e.g. a streamed object)
            self.status.value = _error_line(f"cannot histogram {branch}: {type(error).__name__}")
            return
        if len(flat) == 0:
            self.status.value = f"{branch}: no finite values"
            return
        integer_like = np.all(flat == np.round(flat)) and flat.max() - flat.min() < 100
        lo, hi = (flat.min() - 0.5, flat.max() + 0.5) if integer_like else plotting.auto_range(flat)
        bins = int(hi - lo) if integer_like else self.bins
        unit = self._unit(branch)
        h = plotting.histogram(flat, bins=max(bins, 1), range=(lo, hi), name=branch,
                               xlabel=f"{branch} [{unit}]" if unit else branch)
        self.hists = {branch: h}
        fig, ax = plotting.new_figure()
        hepwb_dataset = self._is_hepwb_dataset()
        plotting.plot_hists({"": h}, ax=ax, log=self.log_scale.value, data=not hepwb_dataset,
                            com=plotting.ENERGY_TEV if hepwb_dataset else None)
        self.figure = fig
        shown = tree.num_entries if self.max_entries is None else min(tree.num_entries, self.max_entries)
        self.status.value = f"{branch}: {len(flat)} values from {shown} of {tree.num_entries} entries"
        _show(self.output, fig)

    def _draw_histogram_object(self, name: str) -> None:
        obj = self.file[name]
        fig, ax = plotting.new_figure()
        plotting.plot_root_histogram(obj, ax=ax, log=self.log_scale.value)
        self.hists = {name: obj.to_hist()}
        self.figure = fig
        self.status.value = f"{name}: {self.objects[name]}"
        _show(self.output, fig)

    def _unit(self, branch: str) -> str:
        return self._schema.get(branch, {}).get("unit", "")

    def describe(self) -> str:
        shown = f", showing {self.current_branch or self.current_object}" if self.objects else ""
        return f"ROOT browser of {self.path}: {len(self.objects)} objects{shown}"

    def _is_hepwb_dataset(self) -> bool:
        return bool(self._schema)


class HistogramExplorer(_Described, w.VBox):
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
        self.expression = w.Combobox(value=expression or self.branches[0], options=self.branches,
                                     description="x", ensure_option=False, layout=w.Layout(width="360px"))
        self.cut = w.Text(value=cut, description="cut", placeholder="e.g. jet_pt > 900",
                          layout=w.Layout(width="360px"))
        self.bins = w.IntSlider(value=bins, min=5, max=200, description="bins")
        self.auto_range = w.Checkbox(value=range is None, description="auto range")
        self.low = w.FloatText(value=range[0] if range else 0.0, description="from", layout=w.Layout(width="180px"))
        self.high = w.FloatText(value=range[1] if range else 1.0, description="to", layout=w.Layout(width="180px"))
        self.log_scale = w.Checkbox(value=log, description="log y")
        self.density = w.Checkbox(value=density, description="normalise")
        self.samples = w.SelectMultiple(options=sample_names, value=tuple(sample_names), rows=min(6, len(sample_names)),
                                        description="overlay", layout=w.Layout(width="360px"))
        self.status = w.HTML()
        self.output = w.Output(layout=w.Layout(min_width="520px"))
        for control in (self.cut, self.bins, self.auto_range, self.log_scale, self.density, self.samples):
            control.observe(lambda change: self.update(), names="value")
        self.expression.observe(self._on_expression, names="value")
        for bound in (self.low, self.high):
            bound.observe(self._on_bound, names="value")
        #: True once the student typed a range: a new x then keeps it; otherwise each x takes its own
        self.range_pinned = False
        controls = w.VBox([self.expression, self.cut, self.bins, self.auto_range, w.HBox([self.low, self.high]),
                           w.HBox([self.log_scale, self.density]), self.samples, self.status],
                          layout=w.Layout(flex="0 0 auto", width="380px"))
        super().__init__([w.HBox([controls, self.output], layout=w.Layout(flex_flow="row wrap"))])
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
            per_sample = self.values()
        except Exception as error:  # a typo in an expression or cut must not kill the widget
            self.status.value = _error_line(self._explain(error)) + (
                f"<br>branches: {', '.join(self.branches[:40])}{' ...' if len(self.branches) > 40 else ''}")
            return
        everything = np.concatenate(list(per_sample.values())) if per_sample else np.zeros(0)
        if self.auto_range.value:
            lo, hi = plotting.auto_range(everything)
            with self._quietly():  # show the automatic range in the boxes without pinning it
                self.low.value, self.high.value = float(f"{lo:.4g}"), float(f"{hi:.4g}")
        else:
            lo, hi = self.low.value, self.high.value
            if not hi > lo:
                self.status.value = _error_line(f"range: 'to' ({hi}) must exceed 'from' ({lo})")
                return
        label = self.expression.value
        unit = self._schema.get(label, {}).get("unit", "")
        label = f"{label} [{unit}]" if unit else label
        self.hists = {name: plotting.histogram(v, bins=self.bins.value, range=(lo, hi), name="x", xlabel=label)
                      for name, v in per_sample.items()}
        fig, ax = plotting.new_figure()
        plotting.plot_hists(self.hists, ax=ax, density=self.density.value, log=self.log_scale.value, xlabel=label)
        self.figure = fig
        counts = ", ".join(f"{k}: {len(v)}" for k, v in per_sample.items())
        self.status.value = f"entries: {counts}; x from {lo:.4g} to {hi:.4g}"
        _show(self.output, fig)


class TrainingMonitor(_Described, w.VBox):
    """Live loss and accuracy curves while a Keras model trains.

    Use ``monitor.callback()`` in ``model.fit(callbacks=[...])`` (or ``hepwb.models.taggers.train``).
    In JupyterLab the curves update every epoch; under papermill, where nobody watches, it prints
    one compact line per epoch instead of redrawing.
    """

    def __init__(self, title: str = "training", *, print_every: int = 1):
        self.title = title
        self.print_every = print_every
        self.history: dict[str, list[float]] = {}
        self.figure = None
        self.header = w.HTML(f"<b>{title}</b>")
        self.output = w.Output()
        super().__init__([self.header, self.output])
        self.add_class("hepwb-training-monitor")

    def callback(self):
        from tensorflow import keras

        monitor = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                monitor.update(epoch, logs or {})

        return _Callback()

    def update(self, epoch: int, logs: dict) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        line = ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
        self.header.value = f"<b>{self.title}</b> &mdash; epoch {epoch + 1}: {line}"
        if (epoch + 1) % self.print_every == 0:
            print(f"{self.title} epoch {epoch + 1:3d}: {line}", flush=True)
        self.figure = self.plot()
        _show(self.output, self.figure)

    def describe(self) -> str:
        epochs = len(next(iter(self.history.values()), []))
        return f"training monitor of {self.title}: {epochs} epochs"

    def plot(self):
        """Loss and accuracy against epoch, training and validation."""
        return plotting.training_curves(self.history, self.title)


class WorkingPointPicker(_Described, w.VBox):
    """Pick a class and a signal efficiency; see the threshold, background rejection and the
    fraction of each true class that the cut tags.

    ``scores``: (n_jets, n_classes) classifier outputs on a test set; ``labels``: true classes.
    """

    def __init__(self, labels, scores, classes, *, signal_class: str | None = None, signal_efficiency: float = 0.5):
        from hepwb import metrics

        self._metrics = metrics
        self.labels, self.scores, self.classes = np.asarray(labels), np.asarray(scores), list(classes)
        self.signal_class = w.Dropdown(options=self.classes, value=signal_class or self.classes[-1], description="signal")
        self.efficiency = w.FloatSlider(value=signal_efficiency, min=0.05, max=0.95, step=0.05,
                                        description="efficiency", readout_format=".2f")
        self.summary = w.HTML()
        self.output = w.Output()
        self.point: dict = {}
        self.figure = None
        for control in (self.signal_class, self.efficiency):
            control.observe(lambda change: self.update(), names="value")
        super().__init__([w.HBox([self.signal_class, self.efficiency]), self.summary, self.output])
        self.add_class("hepwb-working-point")
        self.update()

    def describe(self) -> str:
        return (f"working point for {self.signal_class.value} jets at signal efficiency {self.efficiency.value:.2f}: "
                f"threshold {self.point['threshold']:.3f}, rejection {self.point['background_rejection']:.1f}")

    def update(self) -> None:
        self.point = self._metrics.working_point(self.labels, self.scores, self.classes, self.signal_class.value,
                                                 self.efficiency.value)
        p = self.point
        self.summary.value = (f"threshold on p({self.signal_class.value}) = <b>{p['threshold']:.3f}</b>; "
                              f"signal efficiency {p['signal_efficiency']:.3f}, background efficiency "
                              f"{p['background_efficiency']:.4f}, rejection 1/ε<sub>B</sub> = "
                              f"<b>{p['background_rejection']:.1f}</b>")
        fig, ax = plotting.new_figure(figsize=(7, 4.5))
        tagged = [p["tagged_fraction_per_class"][c]["tagged"] for c in self.classes]
        colours = ["C3" if c == self.signal_class.value else "C0" for c in self.classes]
        ax.bar(self.classes, tagged, color=colours)
        ax.set_ylabel("fraction tagged")
        ax.set_ylim(0, 1)
        ax.set_title(f"jets passing p({self.signal_class.value}) ≥ {p['threshold']:.3f}", fontsize=13)
        self.figure = fig
        _show(self.output, fig)
