"""Datasets and ROOT I/O: names -> files, the manifest, reading with uproot, atomic writing.

Owns: where datasets live (``data/`` for the committed school-size files, ``data/cache/`` for
bigger ones, ``data/real/`` for files written by ROOT itself), the manifest that describes each
file, opening any ROOT file with errors that say what is wrong, reading branches / expressions /
entry ranges / chunks / many files (uproot.dask) from a TTree or an RNTuple alike, and writing a
TTree or an RNTuple so that no half-written file is ever left behind. It does not generate events
(``hepwb.generate``) and does not plot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import zlib
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

#: committed datasets and their manifest; override with the HEPWB_DATA_DIR environment variable
DATA_DIR = Path(os.environ.get("HEPWB_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))
CACHE_DIR = DATA_DIR / "cache"
#: ROOT files written by ROOT itself (CMS open data, NanoAOD, histograms), described in the manifest
REAL_DIR = DATA_DIR / "real"
MANIFEST_NAME = "manifest.json"

#: ROOT classes that hold entries: what ``trees`` lists and ``read`` reads
TTREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")
RNTUPLE_CLASSES = ("ROOT::RNTuple", "ROOT::Experimental::RNTuple")
ENTRY_CLASSES = TTREE_CLASSES + RNTUPLE_CLASSES
FORMATS = ("ttree", "rntuple")

_READ_ERRORS = (uproot.deserialization.DeserializationError, OSError, EOFError, zlib.error, ValueError)


class HepwbDataError(Exception):
    """Base class of the data layer's errors."""


class InvalidROOTFileError(HepwbDataError, OSError):
    """The file is missing, is not a ROOT file, or is damaged (e.g. truncated)."""


class UnknownDatasetError(HepwbDataError, KeyError):
    """A dataset name that is neither in the manifest nor a path."""

    def __str__(self):  # KeyError would print the message with quotes
        return self.args[0]


class MissingTreeError(HepwbDataError, KeyError):
    """The file has no tree of that name; the message lists the trees it has."""

    def __str__(self):
        return self.args[0]


class MissingBranchError(HepwbDataError, KeyError):
    """The tree has no branch of that name; the message lists the branches it has."""

    def __str__(self):
        return self.args[0]


# ------------------------------------------------------------------------------------------
# manifest
# ------------------------------------------------------------------------------------------

def manifest_path(directory: Path | str = DATA_DIR) -> Path:
    return Path(directory) / MANIFEST_NAME


def _read_manifest_file(directory: Path | str) -> dict:
    path = manifest_path(directory)
    return json.loads(path.read_text()) if path.exists() else {}


def load_manifest(directory: Path | str = DATA_DIR) -> dict:
    """The datasets of ``directory``'s manifest as a dict name -> entry (empty when there is none)."""
    return _read_manifest_file(directory).get("datasets", {})


def update_manifest(directory: Path | str, entry: dict) -> None:
    """Add or replace one dataset entry (keyed by ``entry['name']``), writing the file atomically.

    The manifest's other sections (``real_files``) are kept as they are.
    """
    content = _read_manifest_file(directory)
    entries = content.get("datasets", {})
    entries[entry["name"]] = entry
    content["datasets"] = dict(sorted(entries.items()))
    path = manifest_path(directory)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=2) + "\n")


def real_files() -> dict[str, dict]:
    """The files written by ROOT itself in ``data/real/``: file name -> manifest entry (origin, licence, sha256)."""
    return _read_manifest_file(DATA_DIR).get("real_files", {})


def real_file(name: str) -> Path:
    """The path of a file in ``data/real/`` by its name, e.g. ``real_file("uproot-Zmumu.root")``."""
    known = real_files()
    if name not in known:
        raise UnknownDatasetError(f"no real ROOT file named {name!r}; the files in {REAL_DIR.name}/: {sorted(known)}")
    return DATA_DIR / known[name]["file"]


def list_datasets() -> dict[str, Path]:
    """Every dataset the manifests know: name -> file path (committed first, then the cache)."""
    found = {}
    for directory in (DATA_DIR, CACHE_DIR):
        for name, entry in load_manifest(directory).items():
            found.setdefault(name, Path(directory) / entry["file"])
    return found


def dataset_info(source) -> dict:
    """The manifest entry of a dataset, by name or by the path of its file.

    A path is looked up in the manifest beside the file (every generated file has one).
    Raises UnknownDatasetError when no manifest describes it.
    """
    text = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(getattr(source, "file_path", source))
    for directory in (DATA_DIR, CACHE_DIR):
        entries = load_manifest(directory)
        if text in entries:
            return entries[text]
    path = Path(text)
    if path.exists():
        for entry in load_manifest(path.parent).values():
            if entry["file"] == path.name:
                return entry
        raise UnknownDatasetError(f"{shown_path(path)}: no manifest entry describes this file (not generated by hepwb?)")
    raise UnknownDatasetError(f"no dataset named {text!r}; known datasets: {sorted(list_datasets()) or 'none'}"
                              f" (generate one with `hepwb generate NAME`)")


def schema(source) -> dict[str, dict]:
    """Branch name -> {unit, description} from the manifest; empty for files hepwb did not write."""
    try:
        return {row["name"]: row for row in dataset_info(source).get("schema", [])}
    except UnknownDatasetError:
        return {}


def resolve(source: str | os.PathLike) -> Path:
    """A dataset name or a path -> an existing file path."""
    text = os.fspath(source)
    datasets = list_datasets()
    if text in datasets:
        return datasets[text]
    path = Path(text).expanduser()
    if path.exists():
        return path
    if os.sep in text or text.endswith(".root"):
        raise InvalidROOTFileError(f"{text}: no such file")
    raise UnknownDatasetError(f"{text!r} is neither a known dataset nor an existing file; "
                              f"known datasets: {sorted(datasets) or 'none'}")


def shown_path(path) -> str:
    """A path as messages and widgets show it: the project's own files relative to the working folder
    when that is in the project too (``../data/zmumu.root`` from a notebook), so that notebooks
    print no machine's absolute path; any other path as it was given."""
    path = Path(os.fspath(path))
    project = DATA_DIR.resolve().parent
    try:
        path.resolve().relative_to(project)
        Path.cwd().resolve().relative_to(project)
    except ValueError:  # outside the project, or looked at from outside it: the path as it was given
        return str(path)
    return os.path.relpath(path.resolve())


def sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------

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
    available = set(ttree.keys())
    missing = [b for b in branches if b not in available]
    if missing:
        kind, kinds = ("field", "fields") if is_rntuple(ttree) else ("branch", "branches")
        raise MissingBranchError(f"{_object_path(ttree)}: no {kind} named {', '.join(map(repr, missing))}; "
                                 f"{kinds}: {sorted(available)}")


_OR = ("||", "|", " or ")
_AND = ("&&", "&", " and ")


def python_expression(text: str) -> str:
    """A cut or expression as uproot's Python language wants it; ROOT's TTree::Draw spelling accepted.

    ``mass_mmdt > 60 && mass_mmdt < 100`` becomes ``(mass_mmdt > 60) & (mass_mmdt < 100)``: ``&&``,
    ``||``, ``and``, ``or`` turn into NumPy's ``&`` and ``|``, ``!x`` into ``~x``, and every operand of
    them gets parentheses (in Python ``&`` binds tighter than ``>``). Other text is returned unchanged.
    Written by hand because uproot evaluates Python only and ROOT users type C++ operators.
    """
    text = text.strip()
    if not any(op.strip() in text for op in (*_OR, *_AND, "!")):
        return text
    text = re.sub(r"!(?!=)", "~", text)
    return _join_top_level(text)


def _split_top_level(text: str, operators) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        depth += char == "("
        depth -= char == ")"
        match = next((op for op in operators if depth == 0 and text.startswith(op, i)), None)
        if match:
            parts.append(text[start:i])
            i += len(match)
            start = i
            continue
        i += 1
    return [*parts, text[start:]]


def _join_top_level(text: str) -> str:
    text = text.strip()
    if text.startswith("(") and _matching_close(text) == len(text) - 1:  # one group: translate inside it
        return f"({_join_top_level(text[1:-1])})"
    alternatives = _split_top_level(text, _OR)
    if len(alternatives) > 1:
        return " | ".join(_wrapped(_join_top_level(part)) for part in alternatives)
    conditions = _split_top_level(text, _AND)
    if len(conditions) > 1:
        return " & ".join(_wrapped(_join_top_level(part)) for part in conditions)
    return text


def _matching_close(text: str) -> int:
    depth = 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return i
    return -1


def _wrapped(text: str) -> str:
    return text if text.startswith("(") and _matching_close(text) == len(text) - 1 else f"({text})"


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
    # uproot 5.7 reads RNTuple fields but does not yet evaluate expressions or cuts on them (its
    # ``arrays`` ignores ``cut``): evaluate them here with uproot's own expression language, so
    # that a TTree and an RNTuple accept the same strings.
    from uproot.language.python import _expression_to_function
    from uproot.language.python import python_language as language

    keys = set(ntuple.keys())
    where = (ntuple.file.file_path, ntuple.object_path)
    if expressions is None:
        expressions = [name for name in ntuple.keys() if "." not in name]  # every top-level field
    wanted = [*expressions, *([cut] if cut else [])]
    symbols = sorted({s for e in wanted for s in language.free_symbols(e, keys, {}, *where)})
    raw = ntuple.arrays(filter_name=sorted({s.split(".")[0] for s in symbols}),
                        entry_start=entry_start, entry_stop=entry_stop) if symbols else None
    values = {}
    for symbol in symbols:  # "Muon.pt" -> raw["Muon"]["pt"]
        value = raw
        for part in symbol.split("."):
            value = value[part]
        values[symbol] = value
    scope = {language.getter: values.__getitem__, "function": language.functions}

    def evaluate(expression):
        return _expression_to_function(expression, keys, {}, language.functions, language.getter, scope, *where)()

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


# ------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------

class OutputPathError(HepwbDataError, OSError):
    """An output folder that cannot be created or written to."""


def writable_folder(path: Path | str) -> Path:
    """Create the folder ``path`` if needed and check that files can be written in it.

    Raises OutputPathError with one line naming the folder and the reason.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".hepwb-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputPathError(f"cannot write to the folder {path}: {error.strerror or error}") from None
    return path


@contextlib.contextmanager
def atomic_path(path: Path | str):
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


#: ROOT compression by name: LZMA 9 keeps the committed files small (and costs ~1 ms per jet to write:
#: the writer, not the workers, limits a large production); ZSTD 5 writes ~50x faster, files ~7 % larger
COMPRESSIONS = {"lzma": uproot.LZMA(9), "zstd": uproot.ZSTD(5), "lz4": uproot.LZ4(4)}


class TreeWriter:
    """Write chunks of arrays to one TTree or RNTuple; the file appears under its name only when complete.

    ``format="rntuple"`` writes ROOT's columnar successor of the TTree. Its jagged fields are named
    as the TTree's branches are (a record ``const`` of lists becomes ``nconst``, ``const_pt``, ...),
    so the same names read the same arrays from either format.

    >>> with TreeWriter("out.root", "events") as writer:
    ...     writer.extend({"x": np.arange(10.0)})
    """

    def __init__(self, path: Path | str, tree_name: str, compression=None, format: str = "ttree"):  # noqa: A002
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
        self.path = Path(path)
        self.tree_name = tree_name
        self.format = format
        if isinstance(compression, str):
            if compression not in COMPRESSIONS:
                raise ValueError(f"compression must be one of {sorted(COMPRESSIONS)}, got {compression!r}")
            compression = COMPRESSIONS[compression]
        self.compression = compression if compression is not None else COMPRESSIONS["lzma"]
        self.entries = 0
        self._context = atomic_path(self.path)
        self._file = None
        self._tree = None

    def __enter__(self):
        self.tmp = self._context.__enter__()
        try:
            self._file = uproot.recreate(self.tmp, compression=self.compression)
        except BaseException as error:
            self._context.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def extend(self, arrays: dict) -> None:
        arrays = {k: ak.Array(v) if not isinstance(v, ak.Array) else v for k, v in arrays.items()}
        if self.format == "rntuple":
            arrays = _branch_like_fields(arrays)
        if self._tree is None:
            if self.format == "rntuple":
                self._tree = self._file.mkrntuple(self.tree_name, arrays)
            else:
                # mktree, not file[name] = ...: since uproot 5.7 the latter writes an RNTuple
                self._tree = self._file.mktree(self.tree_name, arrays, initial_basket_capacity=1000)
        else:
            self._tree.extend(arrays)
        self.entries += len(next(iter(arrays.values())))

    def __exit__(self, exc_type, exc, tb):
        self._file.close()
        return self._context.__exit__(exc_type, exc, tb)


def _branch_like_fields(arrays: dict) -> dict:
    """A record of lists ``const`` -> ``nconst`` (int32) and ``const_pt``, ... as uproot names TTree branches."""
    out = {}
    for name, array in arrays.items():
        if array.fields and array.ndim == 2:  # a jagged record: one counter, one list per field
            out[f"n{name}"] = ak.values_astype(ak.num(array, axis=1), np.int32)
            out.update({f"{name}_{field}": array[field] for field in array.fields})
        else:
            out[name] = array
    return out
