"""Reading ROOT files with uproot, a TTree and an RNTuple alike: open, list, describe, read, iterate, dask.

Every error names the file (and tree, and branch) that was wrong and what exists instead.
"""

from __future__ import annotations

import ast
import os
import zlib

import awkward as ak
import numpy as np
import uproot

from hepwb.data.datasets import dataset_info, resolve, schema, shown_path
from hepwb.data.errors import InvalidROOTFileError, MissingBranchError, MissingTreeError, UnknownDatasetError
from hepwb.data.expressions import python_expression
from hepwb.messages import did_you_mean, listing

#: ROOT classes that hold entries: what ``trees`` lists and ``read`` reads
TTREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")
RNTUPLE_CLASSES = ("ROOT::RNTuple", "ROOT::Experimental::RNTuple")
ENTRY_CLASSES = TTREE_CLASSES + RNTUPLE_CLASSES

_READ_ERRORS = (uproot.deserialization.DeserializationError, OSError, EOFError, zlib.error, ValueError)


def open(source: str | os.PathLike):  # noqa: A001 - mirrors uproot.open
    """Open a dataset by name or any ROOT file by path; returns an uproot directory.

    Raises InvalidROOTFileError naming the file when it is missing, not ROOT, or damaged.
    """
    path = resolve(source)
    try:
        handle = uproot.open(path)
        handle.keys()  # the directory is written last: reading it catches truncated files
    except _READ_ERRORS as error:
        raise InvalidROOTFileError(f"{shown_path(path)}: not a readable ROOT file ({type(error).__name__}: {error}). "
                                   "Expected a file written by ROOT or uproot.") from error
    return handle


def is_rntuple(obj) -> bool:
    """True for an RNTuple (ROOT's columnar successor of the TTree), False for a TTree."""
    return isinstance(obj, uproot.behaviors.RNTuple.RNTuple)


def trees(source) -> list[str]:
    """Names of the TTrees and RNTuples in a file (cycle numbers removed; in folders as ``dir/name``)."""
    handle = source if hasattr(source, "classnames") else open(source)
    return sorted({key.split(";")[0] for key, cls in handle.classnames().items() if cls in ENTRY_CLASSES})


def tree(source, name: str | None = None):
    """A TTree or RNTuple of a dataset or file. Without ``name``: the dataset's, or the file's only one.

    Raises MissingTreeError listing the trees (TTrees and RNTuples) that exist. An already opened
    TTree or RNTuple is returned as it is.
    """
    if isinstance(source, (uproot.behaviors.TTree.TTree, uproot.behaviors.RNTuple.RNTuple)):
        return source
    handle = source if hasattr(source, "classnames") else open(source)
    available = trees(handle)
    if name is None:
        try:
            name = dataset_info(source)["tree"]
        except UnknownDatasetError:
            if len(available) != 1:
                raise MissingTreeError(f"{shown_path(handle.file_path)}: say which tree to read; "
                                       f"TTrees and RNTuples in the file: {available or 'none'}") from None
            name = available[0]
    if name not in available:
        raise MissingTreeError(f"{shown_path(handle.file_path)}: no tree named {name!r}; "
                               f"TTrees and RNTuples in the file: {available or 'none'}")
    return handle[name]


def _field_form(ntuple, name: str):
    """The awkward form of one RNTuple field, nested ones (``"Muon.pt"``) included."""
    form = ntuple[name].to_akform()[0]
    for part in name.split("."):
        while not form.is_record:  # through the collections around a nested field
            form = form.content
        form = form.content(part)
    return form


def branch_type(obj, name: str) -> str:
    """The C++ type of a TTree branch or RNTuple field; a collection of records shows its awkward type."""
    typename = str(obj[name].typename)
    if typename or not is_rntuple(obj):
        return typename
    return f"collection: {_field_form(obj, name).type}"


def is_numeric(obj, name: str) -> bool:
    """True when a branch or field holds numbers (flat or jagged, bool included): it can be histogrammed."""
    if is_rntuple(obj):
        form = _field_form(obj, name)
        while form.is_list or form.is_option or form.is_indexed or form.is_regular:
            if form.parameter("__array__") in ("string", "bytestring"):
                return False
            form = form.content
        return form.is_numpy and form.parameter("__array__") is None
    interpretation = obj[name].interpretation
    content = getattr(interpretation, "content", interpretation)  # jagged -> its element type
    return isinstance(content, uproot.interpretation.numerical.AsDtype) and content.from_dtype.kind in "biuf"


def _object_path(obj) -> str:
    return f"{shown_path(obj.file.file_path)}:{obj.object_path.lstrip('/').split(';')[0]}"


def _check_branches(ttree, branches) -> None:
    if branches is None:
        return
    available = list(ttree.keys())
    missing = sorted(set(branches) - set(available), key=list(branches).index)
    if missing:
        kind, kinds = ("field", "fields") if is_rntuple(ttree) else ("branch", "branches")
        raise MissingBranchError(f"{_object_path(ttree)}: no {kind} named {', '.join(map(repr, missing))}"
                                 f"{did_you_mean(missing[0], available)}; {kinds}: {listing(available)}")


def arrays(obj, expressions: list[str] | None = None, *, cut: str | None = None, entry_start: int | None = None,
           entry_stop: int | None = None, library: str = "ak"):
    """Branches or expressions (``"sqrt(px1**2 + py1**2)"``) of a TTree or RNTuple, optionally with a cut.

    The same expression language (uproot's) works on both; nested RNTuple fields are named with
    dots (``"Muon.pt"``); the cut may be spelt as in ROOT (``a > 1 && b < 2``, see ``python_expression``).
    Returns what ``uproot``'s ``arrays`` returns for ``library``.
    """
    cut = python_expression(cut) if cut else cut
    if not is_rntuple(obj):
        return obj.arrays(expressions, cut=cut, entry_start=entry_start, entry_stop=entry_stop, library=library)
    return _rntuple_arrays(obj, expressions, cut, entry_start, entry_stop, library)


def _rntuple_arrays(ntuple, expressions, cut, entry_start, entry_stop, library):
    # uproot 5.7 reads RNTuple fields but does not evaluate expressions or cuts on them (its ``arrays``
    # ignores ``cut``), so they are evaluated here, with the functions of uproot's expression language,
    # so that a TTree and an RNTuple accept the same strings
    keys = list(ntuple.keys())
    if expressions is None:
        expressions = [name for name in keys if "." not in name]  # every top-level field
    parsed = {text: _FieldNames(set(keys)).parse(text, ntuple) for text in [*expressions, *([cut] if cut else [])]}
    symbols = sorted({name for _, names in parsed.values() for name in names})
    raw = ntuple.arrays(filter_name=sorted({s.split(".")[0] for s in symbols}),
                        entry_start=entry_start, entry_stop=entry_stop) if symbols else None
    columns = {}
    for symbol in symbols:  # "Muon.pt" -> raw["Muon"]["pt"]
        value = raw
        for part in symbol.split("."):
            value = value[part]
        columns[symbol] = value

    def evaluate(text):
        scope = {**uproot.language.python.python_language.functions, _FieldNames.LOOKUP: columns}
        return eval(parsed[text][0], {"__builtins__": {}}, scope)  # as uproot evaluates a TTree expression

    out = {expression: evaluate(expression) for expression in expressions}
    if cut:
        selected = ak.values_astype(evaluate(cut), bool)
        out = {name: value[selected] for name, value in out.items()}
    if library == "ak":
        return ak.zip(out, depth_limit=1) if out else ak.Array([{}] * 0)
    if library == "np":
        return {name: _to_numpy(value) for name, value in out.items()}
    if library == "pd":
        return ak.to_dataframe(ak.zip(out, depth_limit=1))
    raise ValueError(f"library must be 'ak', 'np' or 'pd', got {library!r}")


class _FieldNames(ast.NodeTransformer):
    """Compiles an expression in which field names, nested ones (``Muon.pt``) included, are looked up
    in one dictionary; other names are the expression language's functions (``sqrt``, ``abs``, ...)."""

    LOOKUP = "__fields__"

    def __init__(self, keys: set[str]):
        self.keys, self.used = keys, set()

    def parse(self, text: str, ntuple):
        """(code object, the field names it reads); MissingBranchError for a name that is no field."""
        tree = ast.parse(text, mode="eval")
        tree = ast.fix_missing_locations(self.visit(tree))
        functions = uproot.language.python.python_language.functions
        unknown = sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                          and node.id != self.LOOKUP and node.id not in functions})
        if unknown:
            raise MissingBranchError(f"{_object_path(ntuple)}: no field named {unknown[0]!r} in {text!r}"
                                     f"{did_you_mean(unknown[0], self.keys)}; fields: {listing(list(ntuple.keys()))}")
        return compile(tree, "<expression>", "eval"), set(self.used)

    def _dotted(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            inner = self._dotted(node.value)
            return None if inner is None else f"{inner}.{node.attr}"
        return None

    def _lookup(self, node):
        name = self._dotted(node)
        if name in self.keys:
            self.used.add(name)
            return ast.Subscript(value=ast.Name(self.LOOKUP, ast.Load()), slice=ast.Constant(name), ctx=ast.Load())
        return None

    def visit_Name(self, node):  # noqa: N802 - ast.NodeTransformer's naming
        return self._lookup(node) or node

    def visit_Attribute(self, node):  # noqa: N802
        return self._lookup(node) or self.generic_visit(node)


def _to_numpy(array):
    """Flat -> a NumPy array; jagged -> an object array of NumPy arrays (as uproot gives for TTrees)."""
    if array.ndim == 1:
        return ak.to_numpy(array)
    rows = np.empty(len(array), dtype=object)
    for i, row in enumerate(array):
        rows[i] = ak.to_numpy(row)
    return rows


def read(source, branches: list[str] | None = None, *, tree_name: str | None = None,
         entry_start: int | None = None, entry_stop: int | None = None, cut: str | None = None,
         library: str = "ak"):
    """Read branches (TTree) or fields (RNTuple) of a dataset or ROOT file into arrays.

    Parameters
    ----------
    source : dataset name, path, or an already opened uproot directory.
    branches : branch or field names (all when None); a missing one lists the others. For
        expressions use ``arrays``.
    entry_start, entry_stop : entry range, as in uproot.
    cut : optional selection expression (uproot syntax, e.g. ``"m_ll > 60"``).
    library : "ak" (awkward, default), "np" or "pd".
    """
    ttree = tree(source, tree_name)
    _check_branches(ttree, branches)
    try:
        return arrays(ttree, branches, cut=cut, entry_start=entry_start, entry_stop=entry_stop, library=library)
    except uproot.deserialization.DeserializationError as error:
        raise InvalidROOTFileError(f"{_object_path(ttree)}: damaged data ({error})") from error
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidROOTFileError(f"{_object_path(ttree)}: could not read it: "
                                   f"{type(error).__name__}: {error} (truncated or damaged file?)") from error


def spread_entries(n_entries: int, n: int | None) -> slice | np.ndarray:
    """Which entries to keep of ``n_entries`` to have ``n`` of them spread evenly over the file (all when
    ``n`` is None or not smaller): a file written class by class, or run by run, keeps every class.
    Index an array read from the whole file with it."""
    if n is None or n >= n_entries:
        return slice(None)
    if n < 1:
        raise ValueError(f"n must be a positive number of entries or None, got {n}")
    return np.linspace(0, n_entries - 1, n).round().astype(np.int64)


def iterate(source, branches: list[str] | None = None, *, tree_name: str | None = None,
            step_size: int | str = "50 MB", library: str = "ak"):
    """Read a dataset or file in chunks (``uproot.iterate``); yields arrays of ``step_size``.

    ``step_size`` is a number of entries or a memory size such as ``"50 MB"``.
    """
    ttree = tree(source, tree_name)
    _check_branches(ttree, branches)
    if not is_rntuple(ttree):
        yield from ttree.iterate(branches, step_size=step_size, library=library)
        return
    if isinstance(step_size, str):
        step_size = ttree.num_entries_for(step_size, filter_name=branches) if branches else \
            ttree.num_entries_for(step_size)
    step_size = max(int(step_size), 1)
    for start in range(0, ttree.num_entries, step_size):
        yield arrays(ttree, branches, entry_start=start, entry_stop=start + step_size, library=library)


def dask(sources, branches: list[str] | None = None, *, tree_name: str | None = None, step_size: int | str = "50 MB"):
    """Lazy dask-awkward array over many files (``uproot.dask``), for a Dask cluster; TTrees or RNTuples."""
    files = {}
    for source in ([sources] if isinstance(sources, (str, os.PathLike)) else sources):
        ttree = tree(source, tree_name)
        _check_branches(ttree, branches)
        files[str(resolve(source) if not hasattr(source, "classnames") else source.file_path)] = \
            ttree.object_path.lstrip("/").split(";")[0]
    return uproot.dask(files, filter_name=branches, step_size=step_size)


def describe(source, tree_name: str | None = None) -> list[dict]:
    """One row per branch (TTree) or field (RNTuple, nested fields as ``Muon.pt``): name, type,
    entries, and unit/description when the manifest has them."""
    ttree = tree(source, tree_name)
    units = schema(source)
    return [{"branch": name, "type": branch_type(ttree, name), "entries": ttree.num_entries,
             "unit": units.get(name, {}).get("unit", ""), "description": units.get(name, {}).get("description", "")}
            for name in ttree.keys()]
