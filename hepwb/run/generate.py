"""Generate a dataset: run a recipe's chunks (locally or on a Dask cluster) into one ROOT file.

Owns: splitting a request into fixed-size chunks with their own seeds (so the same seed gives
the same events whatever the number of workers), running them with a progress bar, writing the
chunks in order to a temporary file that is renamed when complete, and the manifest entry.
"""

from __future__ import annotations

import inspect
import math
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from hepwb import __version__, data
from hepwb.data.calochallenge import ShowerWriter
from hepwb.sim import detector
from hepwb.sim.cascade import SHOWER_READOUT
from hepwb.sim.recipes import RECIPES


@dataclass(frozen=True)
class Chunk:
    sample: str
    index: int
    n_events: int


def plan_chunks(name: str, events: int) -> list[Chunk]:
    """The chunks of a request, interleaved over samples (jets: one chunk of each class in turn).

    ``events`` is the total; each of the recipe's samples gets ``ceil(events * fraction)``, with the
    recipe's ``fractions`` or equal shares.
    """
    recipe = _recipe(name)
    if not isinstance(events, int) or events <= 0:
        raise ValueError(f"events must be a positive integer, got {events!r}")
    fractions = recipe.fractions or {sample: 1 / len(recipe.samples) for sample in recipe.samples}
    per_sample = {sample: math.ceil(round(events * fractions[sample], 6)) for sample in recipe.samples}
    chunks = []
    for index in range(math.ceil(max(per_sample.values()) / recipe.chunk_size)):
        for sample in recipe.samples:
            size = min(recipe.chunk_size, per_sample[sample] - index * recipe.chunk_size)
            if size > 0:
                chunks.append(Chunk(sample, index, size))
    return chunks


def _recipe(name: str):
    if name not in RECIPES:
        raise ValueError(f"unknown dataset recipe {name!r}; available: {sorted(RECIPES)}")
    return RECIPES[name]


def _run_chunk(name: str, seed: int, chunk: Chunk, variation=None, options=None) -> dict:
    changed = {} if variation is None else {"variation": variation}
    if options:
        changed["options"] = options
    return _recipe(name).make_chunk(chunk.n_events, seed, chunk.index, chunk.sample, **changed)


def default_output(name: str, events: int, seed: int, format: str = "ttree", options: dict | None = None) -> Path:  # noqa: A002
    """Where a non-school-size dataset goes: the git-ignored cache (``-rntuple`` marks an RNTuple,
    ``-pileup200`` a changed mean pileup)."""
    pileup = f"-pileup{options['pileup_mu']:g}" if options and "pileup_mu" in options else ""
    suffix = ".hdf5" if _recipe(name).file_format == "calochallenge" else ".root"
    return data.CACHE_DIR / f"{name}-{events}-seed{seed}{pileup}{'-rntuple' if format == 'rntuple' else ''}{suffix}"


def checked_options(name: str, options: dict | None) -> dict:
    """``options`` (e.g. ``{"pileup_mu": 200}``) checked against what recipe ``name`` lets a run change."""
    if not options:
        return {}
    recipe = _recipe(name)
    if "options" not in inspect.signature(recipe.make_chunk).parameters:
        raise ValueError(f"the {name} recipe takes no option changes (tracks takes --pileup)")
    for key, value in options.items():
        if key not in recipe.options:
            raise ValueError(f"the {name} recipe has no option {key!r}; its options: {sorted(recipe.options)}")
        if key == "pileup_mu" and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ValueError(f"pileup_mu must be a number >= 0, got {value!r}")
    return dict(options)


def generate(name: str, events: int, *, seed: int = 1, workers: int = 1, scheduler=None,
             output: Path | str | None = None, dataset_name: str | None = None, progress: bool = True,
             format: str = "ttree", variation=None, compression: str = "lzma",  # noqa: A002
             options: dict | None = None) -> Path:
    """Generate ``events`` events of dataset recipe ``name`` and write them to a ROOT file.

    Parameters
    ----------
    name : recipe name (``jets`` or ``zmumu``).
    events : total number of stored (selected) events.
    seed : the run's seed; the same seed gives identical files for any ``workers``.
    workers : local processes (a dask.distributed LocalCluster when > 1).
    scheduler : an existing Dask cluster, by address (``tcp://host:8786``) or as a cluster object
        (dask-jobqueue, Dask Gateway); overrides workers. The chunks come back here to be written.
    output : the ROOT file to write; default ``data/cache/NAME-EVENTS-seedSEED.root``.
    dataset_name : the name recorded in the manifest beside the file (default: the file's stem).
    format : ``"ttree"`` or ``"rntuple"`` (ROOT's columnar successor of the TTree; same names, same arrays).
    variation : a ``hepwb.sim.recipes.Variation`` (changed detector, Pythia settings, or particle level);
        ``jets`` only. Recorded in the manifest.
    compression : ``"lzma"`` (smallest files, the committed datasets), ``"zstd"`` or ``"lz4"`` (for large
        productions: this process compresses every event, and LZMA 9 does ~1 000 jets/s, ZSTD ~50 000).
    options : changes of the recipe's physics options, e.g. ``{"pileup_mu": 200}`` (``tracks``); recorded in
        the manifest.

    Returns the path of the complete file; its manifest entry is in the same folder.
    """
    recipe = _recipe(name)
    chunks = plan_chunks(name, events)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if format not in data.FORMATS:
        raise ValueError(f"format must be one of {data.FORMATS}, got {format!r}")
    if variation is not None and "variation" not in inspect.signature(recipe.make_chunk).parameters:
        raise ValueError(f"the {name} recipe takes no detector or Pythia variations (jets does)")
    options = checked_options(name, options)
    if recipe.file_format == "calochallenge" and format != "ttree":
        raise ValueError(f"the {name} recipe writes CaloChallenge HDF5 files, not ROOT; drop --format")
    output = Path(output) if output is not None else default_output(name, events, seed, format, options)
    data.writable_folder(output.parent)  # fail before generating, not after
    total = sum(c.n_events for c in chunks)
    started = time.time()
    n_generated = 0
    with _writer(recipe, output, format, compression) as writer, \
            _progress(total, f"{name} (seed {seed})", progress) as bar:
        for result in _results_in_order(name, seed, chunks, workers, scheduler, variation, options):
            if recipe.file_format == "calochallenge":
                writer.extend(result["events"]["incident_energies"], result["events"]["showers"])
            else:
                writer.extend(result["events"])
            n_generated += result["n_generated"]
            bar.update(len(next(iter(result["events"].values()))))
    elapsed = time.time() - started
    entry = _manifest_entry(recipe, output, dataset_name or output.stem, seed, total, n_generated, elapsed,
                            workers if scheduler is None else None, format, variation, compression, options)
    data.update_manifest(output.parent, entry)
    return output


def _writer(recipe, output: Path, format: str, compression: str):  # noqa: A002
    if recipe.file_format == "calochallenge":
        return ShowerWriter(output, SHOWER_READOUT.binning)
    return data.TreeWriter(output, recipe.tree, format=format, compression=compression)


def _results_in_order(name, seed, chunks, workers, scheduler, variation=None, options=None):
    """Yield chunk results in plan order, running them serially or on Dask."""
    if scheduler is None and workers == 1:
        for chunk in chunks:
            yield _run_chunk(name, seed, chunk, variation, options)
        return
    from dask.distributed import as_completed

    from hepwb.run.cluster import dask_client  # dask.distributed: only for --workers/--scheduler

    with dask_client(workers, scheduler) as client:
        futures = [client.submit(_run_chunk, name, seed, chunk, variation, options, pure=False) for chunk in chunks]
        position = {future.key: i for i, future in enumerate(futures)}
        done, next_index = {}, 0
        for future in as_completed(futures):
            done[position[future.key]] = future.result()
            future.release()
            while next_index in done:  # write in plan order, holding only what arrived early
                yield done.pop(next_index)
                next_index += 1


def _variation_flags(variation) -> str:
    """The command-line flags that make ``variation`` (for the manifest's ``command``)."""
    flags = [f" --detector {k}={v}" for k, v in sorted(variation.detector.items())]
    flags += [f' --pythia "{setting}"' for setting in variation.pythia]
    return "".join(flags) + (" --particle-level" if variation.particle_level else "")


def _progress(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="ev", disable=not enabled)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _manifest_entry(recipe, output: Path, name: str, seed: int, events: int, n_generated: int,
                    elapsed: float, workers, format: str = "ttree", variation=None,  # noqa: A002
                    compression: str = "lzma", options: dict | None = None) -> dict:
    changed = variation is not None and variation.describe() != type(variation)().describe()
    simulated = variation.make_detector() if variation is not None else detector.DEFAULT

    return {
        "name": name,
        "recipe": recipe.name,
        "file": output.name,
        "tree": recipe.tree,
        **({"format": format} if format != "ttree" else {}),
        **({"format": "calochallenge-hdf5", "binning": output.with_suffix(".xml").name}
           if recipe.file_format == "calochallenge" else {}),
        **({"compression": compression} if compression != "lzma" and recipe.file_format == "root" else {}),
        "description": recipe.description,
        "events": events,
        "events_generated": n_generated,
        "seed": seed,
        "samples": list(recipe.samples),
        "labels": list(recipe.labels),
        "processes": {k: list(v) for k, v in recipe.processes.items()},
        "options": {**recipe.options, **(options or {})},
        **({"variation": variation.describe()} if changed else {}),
        "detector": recipe.detector_description or ("none (particle level)" if simulated is None
                                                     else simulated.describe()),
        "schema": [{"name": b.name, "unit": b.unit, "description": b.description} for b in recipe.branches],
        "sha256": data.sha256(output),
        "size_bytes": output.stat().st_size,
        "software": {"hepwb": __version__, "pythia8mc": _version("pythia8mc"), "fastjet": _version("fastjet"),
                     "uproot": _version("uproot"), "python": platform.python_version()},
        "generation_seconds": round(elapsed, 1),
        "workers": workers,
        "command": f"hepwb generate {recipe.name} --events {events} --seed {seed} --out {_relative(output)}"
                   + (f" --format {format}" if format != "ttree" else "")
                   + (f" --compression {compression}" if compression != "lzma" else "")
                   + (_variation_flags(variation) if changed else "")
                   + (f" --pileup {options['pileup_mu']:g}" if options and "pileup_mu" in options else ""),
    }
