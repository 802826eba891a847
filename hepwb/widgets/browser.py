"""The ROOT browser: a file's TTrees and RNTuples with their branches or fields, and its histograms,
each drawn when chosen."""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from hepwb import data, plotting
from hepwb.messages import did_you_mean, listing
from hepwb.widgets.common import Pictured, drawing, error_line, show


def is_drawable_histogram(classname: str) -> bool:
    """1D and 2D histograms and 1D profiles: what ``plotting.plot_root_histogram`` draws."""
    return classname.startswith(("TH1", "TH2", "TProfile")) and not classname.startswith(("TProfile2D", "TProfile3D"))


def not_shown_reason(classname: str) -> str:
    """Why the browser lists an object of this class without showing it."""
    if classname == "TDirectory":
        return "a folder: the objects in it are listed by their path (folder/name)"
    if classname.startswith(("TH3", "TProfile")):  # profiles that reach here are 2D or 3D
        return "a 3D histogram or 2D profile: hepwb draws 1D and 2D histograms; draw projections (uproot's to_hist())"
    return ("hepwb draws histograms (TH1, TH2, TProfile) and histograms the columns of TTrees and RNTuples; "
            "read this object with uproot")


def matching(names, text: str) -> list[str]:
    """The names containing ``text`` (any case), those that start with it first: ``Jet_`` lists ``Jet_pt``
    before ``FatJet_pt`` and ``CorrT1METJet_rawPt``; within each group the file's order."""
    text = text.strip()
    found = [name for name in names if text.lower() in name.lower()]
    return sorted(found, key=lambda name: (not name.startswith(text), not name.lower().startswith(text.lower())))


class RootBrowser(Pictured, w.VBox):
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
        # (shown label, name) pairs: the widget's value is the name itself
        self.object_list = w.Dropdown(options=[(f"{name}  [{cls}]", name) for name, cls in self.objects.items()],
                                      description="object", layout=w.Layout(width="340px"))
        self.filter = w.Text(placeholder="filter branches (e.g. Muon_)", description="filter",
                             continuous_update=False, layout=w.Layout(width="340px"))  # on Enter or leaving the box
        self.branch_list = w.Select(rows=10, description="branch", layout=w.Layout(width="340px"))
        self.log_scale = w.Checkbox(value=False, description="log y")
        self.status = w.HTML(layout=w.Layout(width="340px"))
        self.others = w.HTML("<br>".join(f"not shown: <code>{name}</code> [{why}]"
                                         for name, why in self.not_shown.items()))
        # the picture shrinks to the room beside the list (JupyterLab fits images to their output's width)
        self.output = w.Output(layout=w.Layout(flex="1 1 0%", min_width="300px", max_width="640px"))
        self.object_list.observe(self._on_object, names="value")
        self.filter.observe(lambda change: self._fill_branches(), names="value")
        self.branch_list.observe(self._on_branch, names="value")
        self.log_scale.observe(lambda change: self._redraw(), names="value")
        controls = w.VBox([self.object_list, self.filter, self.branch_list, self.log_scale, self.status],
                          layout=w.Layout(flex="0 0 auto", width="350px"))
        super().__init__([self.header, w.HBox([controls, self.output], layout=w.Layout(flex_flow="row")),
                          self.others])
        self.add_class("hepwb-root-browser")
        self.path = data.shown_path(self.file.file_path)
        self.header.value = f"<b>{self.path}</b> &mdash; {len(self.objects)} objects"
        if self.objects:
            self._on_object(None)

    # --- state -------------------------------------------------------------------------
    @property
    def current_object(self) -> str | None:
        return self.object_list.value

    @property
    def current_branch(self) -> str | None:
        return self.branch_list.value

    def branch_rows(self) -> list[str]:
        """The branch list as shown: 'name  type  (entries)'."""
        return [row for row, _ in self.branch_list.options]

    # --- actions -------------------------------------------------------------------------
    def select(self, name: str) -> None:
        """Select an object (tree or histogram) or, in the current tree, a branch, by name."""
        if name in self.objects:
            self.object_list.value = name
            self.refresh_description()
            return
        if self.filter.value and not name.startswith(self.filter.value):
            self.filter.value = ""
        branches = [branch for _, branch in self.branch_list.options]
        if name in branches:
            self.branch_list.value = name
            self.refresh_description()
            return
        raise data.MissingBranchError(f"{self.path}:{self.current_object}: no branch or object named {name!r}"
                                      f"{did_you_mean(name, [*branches, *self.objects])}; branches: "
                                      f"{listing(branches)}; objects: {listing(self.objects)}")

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
        names = matching(tree.keys(), self.filter.value)
        self.branch_list.options = [(f"{b}  {data.branch_type(tree, b)}  ({tree.num_entries})", b) for b in names]
        if not names:
            self._message(error_line(f"no branch of {name} matches the filter {self.filter.value!r}"))
            return
        numeric = [b for b in names if data.is_numeric(tree, b)]
        self.branch_list.value = (numeric or names)[0]

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
            self._message(error_line(f"{branch} holds {kind}, not numbers: nothing to histogram{hint}"))
            return
        try:
            values = data.arrays(tree, [branch], entry_stop=self.max_entries)[branch]
            flat = plotting.to_flat_numpy(values)
        except Exception as error:  # a branch uproot cannot read (e.g. a streamed object)
            self._message(error_line(f"cannot histogram {branch}: {type(error).__name__}"))
            return
        if len(flat) == 0:
            self._message(f"{branch}: no finite values in the entries read")
            return
        integer_like = np.all(flat == np.round(flat)) and flat.max() - flat.min() < 100
        lo, hi = (flat.min() - 0.5, flat.max() + 0.5) if integer_like else plotting.auto_range(flat)
        bins = int(hi - lo) if integer_like else self.bins
        unit = self._unit(branch)
        h = plotting.histogram(flat, bins=max(bins, 1), range=(lo, hi), name=branch,
                               xlabel=f"{branch} [{unit}]" if unit else branch)
        self.hists = {branch: h}
        shown = tree.num_entries if self.max_entries is None else min(tree.num_entries, self.max_entries)
        self.status.value = f"{branch}: {len(flat)} values from {shown} of {tree.num_entries} entries"
        with drawing(self.status):
            fig, ax = plotting.new_figure(figsize=plotting.WIDGET_FIGSIZE)
            # the workbench's label only on files it made; a file from elsewhere gets none
            plotting.plot_hists({"": h}, ax=ax, log=self.log_scale.value,
                                experiment=plotting.EXPERIMENT if self._is_hepwb_dataset() else None)
        self.figure = fig
        show(self.output, fig)

    def _draw_histogram_object(self, name: str) -> None:
        obj = self.file[name]
        self.status.value = f"{name}: {self.objects[name]}"
        with drawing(self.status):
            fig, ax = plotting.new_figure(figsize=plotting.WIDGET_FIGSIZE)
            plotting.plot_root_histogram(obj, ax=ax, log=self.log_scale.value,
                                         experiment=plotting.EXPERIMENT if self._is_hepwb_dataset() else None)
        self.hists = {name: obj.to_hist()}
        self.figure = fig
        show(self.output, fig)

    def _unit(self, branch: str) -> str:
        return self._schema.get(branch, {}).get("unit", "")

    def describe(self) -> str:
        shown = f", showing {self.current_branch or self.current_object}" if self.objects else ""
        return f"ROOT browser of {self.path}: {len(self.objects)} objects{shown}"

    def _is_hepwb_dataset(self) -> bool:
        return bool(self._schema)

