"""Datasets and ROOT I/O: names -> files, the manifest, reading with uproot, atomic writing.

Owns: where datasets live (``data/`` for the committed school-size files, ``data/cache/`` for
bigger ones), the manifest that describes each file, opening any ROOT file with errors that say
what is wrong, reading branches / entry ranges / chunks / many files (uproot.dask), and writing
a TTree so that no half-written file is ever left behind. It does not generate events
(``hepwb.generate``) and does not plot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zlib
from pathlib import Path

import awkward as ak
import uproot

#: committed datasets and their manifest; override with the HEPWB_DATA_DIR environment variable
DATA_DIR = Path(os.environ.get("HEPWB_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))
CACHE_DIR = DATA_DIR / "cache"
#: ROOT files written by ROOT itself (CMS open data, NanoAOD, ...), kept beside the project
REAL_ROOT_DIR = Path(os.environ.get("HEPWB_REAL_ROOT_DIR",
                                    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real-root"))
MANIFEST_NAME = "manifest.json"

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


def load_manifest(directory: Path | str = DATA_DIR) -> dict:
    """The manifest of ``directory`` as a dict name -> entry (empty when there is none)."""
    path = manifest_path(directory)
    if not path.exists():
        return {}
    return json.loads(path.read_text())["datasets"]


def update_manifest(directory: Path | str, entry: dict) -> None:
    """Add or replace one entry (keyed by ``entry['name']``), writing the file atomically."""
    entries = load_manifest(directory)
    entries[entry["name"]] = entry
    path = manifest_path(directory)
    text = json.dumps({"datasets": dict(sorted(entries.items()))}, indent=2) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def list_datasets() -> dict[str, Path]:
    """Every dataset the manifests know: name -> file path (committed first, then the cache)."""
    found = {}
    for directory in (DATA_DIR, CACHE_DIR):
        for name, entry in load_manifest(directory).items():
            found.setdefault(name, Path(directory) / entry["file"])
    return found


def dataset_info(name: str) -> dict:
    """The manifest entry of a dataset (processes, seed, detector, schema with units, sha256)."""
    for directory in (DATA_DIR, CACHE_DIR):
        entries = load_manifest(directory)
        if name in entries:
            return entries[name]
    raise UnknownDatasetError(f"no dataset named {name!r}; known datasets: {sorted(list_datasets()) or 'none'}"
                              f" (generate one with `hepwb generate NAME`)")


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
        raise InvalidROOTFileError(f"{path}: not a readable ROOT file ({type(error).__name__}: {error}). "
                                   "Expected a file written by ROOT or uproot.") from error
    return handle


def trees(source) -> list[str]:
    """Names of the TTrees in a file (cycle numbers removed)."""
    handle = source if hasattr(source, "classnames") else open(source)
    return sorted({key.split(";")[0] for key, cls in handle.classnames().items()
                   if cls in ("TTree", "TNtuple", "TNtupleD")})


def tree(source, name: str | None = None):
    """A TTree of a dataset or file. Without ``name``: the dataset's tree, or the file's only tree.

    Raises MissingTreeError listing the trees that exist.
    """
    handle = source if hasattr(source, "classnames") else open(source)
    available = trees(handle)
    if name is None:
        if isinstance(source, str) and source in list_datasets():
            name = dataset_info(source)["tree"]
        elif len(available) == 1:
            name = available[0]
        else:
            raise MissingTreeError(f"{handle.file_path}: say which tree to read; trees in the file: {available}")
    if name not in available:
        raise MissingTreeError(f"{handle.file_path}: no tree named {name!r}; trees in the file: {available or 'none'}")
    return handle[name]


def _check_branches(ttree, branches) -> None:
    if branches is None:
        return
    available = set(ttree.keys())
    missing = [b for b in branches if b not in available]
    if missing:
        raise MissingBranchError(f"{ttree.file.file_path}:{ttree.name}: no branch named "
                                 f"{', '.join(map(repr, missing))}; branches: {sorted(available)}")


def read(source, branches: list[str] | None = None, *, tree_name: str | None = None,
         entry_start: int | None = None, entry_stop: int | None = None, cut: str | None = None,
         library: str = "ak"):
    """Read branches of a dataset or ROOT file into arrays.

    Parameters
    ----------
    source : dataset name, path, or an already opened uproot directory.
    branches : branch names (all when None). For expressions use ``expressions``-style strings
        through ``tree(...).arrays``; here names are checked and a missing one lists the others.
    entry_start, entry_stop : entry range, as in uproot.
    cut : optional selection expression (uproot syntax, e.g. ``"m_ll > 60"``).
    library : "ak" (awkward, default), "np" or "pd".
    """
    ttree = tree(source, tree_name)
    _check_branches(ttree, branches)
    try:
        return ttree.arrays(branches, cut=cut, entry_start=entry_start, entry_stop=entry_stop, library=library)
    except uproot.deserialization.DeserializationError as error:
        raise InvalidROOTFileError(f"{ttree.file.file_path}: damaged data in tree {ttree.name!r} ({error})") from error
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidROOTFileError(f"{ttree.file.file_path}: could not read tree {ttree.name!r}: "
                                   f"{type(error).__name__}: {error} (truncated or damaged file?)") from error


def iterate(source, branches: list[str] | None = None, *, tree_name: str | None = None,
            step_size: int | str = "50 MB", library: str = "ak"):
    """Read a dataset or file in chunks (``uproot.iterate``); yields arrays of ``step_size``."""
    ttree = tree(source, tree_name)
    _check_branches(ttree, branches)
    yield from ttree.iterate(branches, step_size=step_size, library=library)


def dask(sources, branches: list[str] | None = None, *, tree_name: str | None = None, step_size: int | str = "50 MB"):
    """Lazy dask-awkward array over many files (``uproot.dask``), for a Dask cluster."""
    files = {}
    for source in ([sources] if isinstance(sources, (str, os.PathLike)) else sources):
        ttree = tree(source, tree_name)
        _check_branches(ttree, branches)
        files[str(resolve(source) if not hasattr(source, "classnames") else source.file_path)] = ttree.name
    return uproot.dask(files, filter_name=branches, step_size=step_size)


def describe(source, tree_name: str | None = None) -> list[dict]:
    """One row per branch: name, type, entries, and unit/description when the manifest has them."""
    ttree = tree(source, tree_name)
    schema = {}
    if isinstance(source, str) and source in list_datasets():
        schema = {b["name"]: b for b in dataset_info(source).get("schema", [])}
    return [{"branch": name, "type": str(branch.typename), "entries": ttree.num_entries,
             "unit": schema.get(name, {}).get("unit", ""), "description": schema.get(name, {}).get("description", "")}
            for name, branch in ttree.items()]


# ------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------

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


class TreeWriter:
    """Write chunks of arrays to one TTree; the file appears under its name only when complete.

    >>> with TreeWriter("out.root", "events") as writer:
    ...     writer.extend({"x": np.arange(10.0)})
    """

    def __init__(self, path: Path | str, tree_name: str, compression=None):
        self.path = Path(path)
        self.tree_name = tree_name
        self.compression = compression if compression is not None else uproot.LZMA(9)
        self.entries = 0
        self._context = atomic_path(self.path)
        self._file = None
        self._tree = None

    def __enter__(self):
        self.tmp = self._context.__enter__()
        self._file = uproot.recreate(self.tmp, compression=self.compression)
        return self

    def extend(self, arrays: dict) -> None:
        arrays = {k: ak.Array(v) if not isinstance(v, ak.Array) else v for k, v in arrays.items()}
        if self._tree is None:
            # mktree, not file[name] = ...: since uproot 5.7 the latter writes an RNTuple
            self._tree = self._file.mktree(self.tree_name, arrays, initial_basket_capacity=1000)
        else:
            self._tree.extend(arrays)
        self.entries += len(next(iter(arrays.values())))

    def __exit__(self, exc_type, exc, tb):
        self._file.close()
        return self._context.__exit__(exc_type, exc, tb)
