"""ROOT I/O for every notebook: datasets by name, reading a TTree or an RNTuple alike, writing safely.

``datasets``: where the files live and the manifest that describes them; ``reading``: open, list,
describe, read (branches, expressions, cuts, ranges, chunks, ``uproot.dask``) with errors that name
what was wrong; ``expressions``: cuts spelt as in ROOT; ``writing``: checked folders, atomic renames,
the TTree / RNTuple writer; ``errors``: the error classes. Everything is importable from
``hepwb.data`` itself (``data.read``, ``data.open``, ``data.TreeWriter``). Generating events is
``hepwb.run.generate``'s job; drawing is ``hepwb.plotting``'s.
"""

from hepwb.data.datasets import (
    CACHE_DIR,
    DATA_DIR,
    MANIFEST_NAME,
    REAL_DIR,
    dataset_info,
    list_datasets,
    load_manifest,
    manifest_path,
    real_file,
    real_files,
    resolve,
    schema,
    sha256,
    shown_path,
    update_manifest,
)
from hepwb.data.errors import (
    HepwbDataError,
    InvalidROOTFileError,
    MissingBranchError,
    MissingTreeError,
    OutputPathError,
    UnknownDatasetError,
)
from hepwb.data.expressions import python_expression
from hepwb.data.reading import (
    ENTRY_CLASSES,
    RNTUPLE_CLASSES,
    TTREE_CLASSES,
    arrays,
    branch_type,
    dask,
    describe,
    is_numeric,
    is_rntuple,
    iterate,
    open,  # noqa: A004 - hepwb.data.open mirrors uproot.open
    read,
    spread_entries,
    tree,
    trees,
)
from hepwb.data.writing import COMPRESSIONS, FORMATS, TreeWriter, atomic_path, writable_folder

__all__ = [
    "CACHE_DIR", "COMPRESSIONS", "DATA_DIR", "ENTRY_CLASSES", "FORMATS", "MANIFEST_NAME", "REAL_DIR",
    "RNTUPLE_CLASSES", "TTREE_CLASSES", "HepwbDataError", "InvalidROOTFileError", "MissingBranchError",
    "MissingTreeError", "OutputPathError", "TreeWriter", "UnknownDatasetError", "arrays", "atomic_path",
    "branch_type", "dask", "dataset_info", "describe", "is_numeric", "is_rntuple", "iterate", "list_datasets",
    "load_manifest", "manifest_path", "open", "python_expression", "read", "real_file", "real_files", "resolve",
    "schema", "sha256", "shown_path", "spread_entries", "tree", "trees", "update_manifest", "writable_folder",
]
