"""Writing without half-written files: checked output folders, atomic renames, TTree and RNTuple writers."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepwb.data.errors import OutputPathError

FORMATS = ("ttree", "rntuple")


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
