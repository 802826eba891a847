"""Trigger-level events in the layout of the ADC2021 anomaly-detection challenge.

Owns: turning the ``l1_events`` dataset (or a public ADC2021 HDF5 file) into the challenge's array
``(n, 19, 4)`` — per event one missing-ET slot, 4 electron slots, 4 muon slots and 10 jet slots,
each (pT [GeV], eta, phi [rad], type), ordered by pT within a type and zero-padded — plus the sample
labels, the network inputs (n, 57) and the background and signal events of a sample. Does not build
models (``hepwb.models.anomaly``); the detector faults of data-quality monitoring are ``hepwb.studies.anomaly``'s.

Types, as in ADC2021: 0 = padding, 1 = missing ET, 2 = electron, 3 = muon, 4 = jet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepwb import data
from hepwb.notebook import unique_metric_keys
from hepwb.samples.base import Sample
from hepwb.sim.recipes import L1_BACKGROUND_FRACTIONS, L1_SAMPLES, L1_SIGNALS

#: object groups in slot order: name -> (type code, number of slots, |eta| bound of the group)
OBJECTS = {"met": (1, 1, 0.0), "electron": (2, 4, 3.0), "muon": (3, 4, 2.1), "jet": (4, 10, 4.0)}
N_SLOTS = sum(n for _, n, _ in OBJECTS.values())  # 19
#: slot -> object group, e.g. SLOT_GROUP[0] == "met"
SLOT_GROUP = tuple(name for name, (_, n, _) in OBJECTS.items() for _ in range(n))
#: the first slot of each object group, e.g. FIRST_SLOT["jet"] == 9 (the leading jet)
FIRST_SLOT = {name: SLOT_GROUP.index(name) for name in OBJECTS}
#: the type code every slot holds when it is filled
SLOT_TYPE = np.array([OBJECTS[g][0] for g in SLOT_GROUP], dtype=np.float32)
#: |eta| bound of every slot (the range an autoencoder's eta outputs are squeezed into)
SLOT_ETA_BOUND = np.array([OBJECTS[g][2] for g in SLOT_GROUP], dtype=np.float32)
BACKGROUND_SAMPLES = tuple(L1_BACKGROUND_FRACTIONS)
SIGNAL_SAMPLES = L1_SIGNALS
ADC2021_DATASET = "Particles"  # the HDF5 dataset holding (n, 19, 4) in the public files


class ADC2021FormatError(data.HepwbDataError, ValueError):
    """A file that is not in the ADC2021 layout."""


@dataclass
class L1Events(Sample):
    """Events as arrays: particles (n, 19, 4) float32 [pT GeV, eta, phi rad, type]; sample (n,) int
    (index into ``samples``; -1 when unknown, e.g. a public file)."""

    particles: np.ndarray
    sample: np.ndarray
    samples: tuple[str, ...] = L1_SAMPLES
    source: str = ""

    def of(self, *names: str) -> L1Events:
        """The events of the named samples."""
        unknown = set(names) - set(self.samples)
        if unknown:
            raise ValueError(f"unknown samples {sorted(unknown)}; this file has {self.samples}")
        return self.subset(np.isin(self.sample, [self.samples.index(n) for n in names]))


def load(source="l1_events", *, max_events: int | None = None) -> L1Events:
    """Read an ``l1_events``-like ROOT dataset (name or path) into the ADC2021 layout."""
    branches = ["sample", "met", "met_phi"] + [f"{g}_{v}" for g in ("electron", "muon", "jet")
                                              for v in ("pt", "eta", "phi")]
    arrays = data.read(source, branches, entry_stop=max_events)
    return to_layout({name: arrays[name] for name in branches}, str(source))


def to_layout(columns: dict, source: str) -> L1Events:
    """Branch-named arrays (met, met_phi, electron_pt, ... jagged) -> L1Events."""
    import awkward as ak

    n = len(columns["met"])
    particles = np.zeros((n, N_SLOTS, 4), dtype=np.float32)
    particles[:, 0, 0], particles[:, 0, 2] = ak.to_numpy(columns["met"]), ak.to_numpy(columns["met_phi"])
    particles[:, 0, 3] = OBJECTS["met"][0]
    for group in ("electron", "muon", "jet"):
        code, slots, _ = OBJECTS[group]
        first = FIRST_SLOT[group]
        for j, variable in enumerate(("pt", "eta", "phi")):
            padded = ak.pad_none(columns[f"{group}_{variable}"], slots, clip=True)
            particles[:, first:first + slots, j] = ak.to_numpy(ak.fill_none(padded, 0.0))
        present = ak.to_numpy(ak.fill_none(ak.pad_none(ak.ones_like(columns[f"{group}_pt"]), slots, clip=True), 0))
        particles[:, first:first + slots, 3] = code * present
    return L1Events(particles, ak.to_numpy(columns["sample"]).astype(np.int32), L1_SAMPLES, source)


def read_adc2021(path: str | os.PathLike, *, max_events: int | None = None, sample_name: str = "unknown") -> L1Events:
    """Read a public ADC2021 HDF5 file (dataset ``Particles``, shape (n, 19, 4)).

    All its events get the one sample name ``sample_name`` (each public file holds one process).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ADC2021 file at {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ADC2021FormatError(f"{path} is not an HDF5 file (ADC2021 files are HDF5 with a {ADC2021_DATASET!r} "
                                 f"dataset): {error}") from error
    with handle:
        if ADC2021_DATASET not in handle:
            raise ADC2021FormatError(f"{path} has no {ADC2021_DATASET!r} dataset (found {sorted(handle)}); "
                                     f"expected the ADC2021 layout (n, {N_SLOTS}, 4)")
        particles = np.asarray(handle[ADC2021_DATASET][:max_events], dtype=np.float32)
    if particles.ndim != 3 or particles.shape[1:] != (N_SLOTS, 4):
        raise ADC2021FormatError(f"{path}: {ADC2021_DATASET!r} has shape {particles.shape}, expected (n, {N_SLOTS}, 4)")
    types = particles[:, :, 3]
    if not np.all((types == 0) | (types == SLOT_TYPE)):
        raise ADC2021FormatError(f"{path}: the type column does not follow the ADC2021 slots "
                                 f"(1 MET, 4 x 2 electron, 4 x 3 muon, 10 x 4 jet, 0 padding)")
    return L1Events(particles, np.zeros(len(particles), dtype=np.int32), (sample_name,), str(path))


def write_adc2021(path: str | os.PathLike, events: L1Events) -> Path:
    """Write events as an ADC2021-style HDF5 file (dataset ``Particles``); written to a temporary file
    and renamed, so an interrupted write leaves nothing behind."""
    import h5py

    path = Path(path)
    with data.atomic_path(path) as temporary:
        with h5py.File(temporary, "w") as handle:
            handle.create_dataset(ADC2021_DATASET, data=events.particles.astype(np.float32), compression="gzip")
            handle.create_dataset("Particles_Classes", data=np.array([b"MET_class_1", b"Four_Ele_class_2",
                                                                      b"Four_Mu_class_3", b"Ten_Jet_class_4"]))
            handle.create_dataset("Particles_Names", data=np.array([b"Pt", b"Eta", b"Phi", b"Class"]))
    return path


def network_inputs(particles: np.ndarray) -> np.ndarray:
    """(n, 19, 4) -> (n, 57) float32: log(1 + pT / GeV), eta, phi per slot; padding stays 0.

    log(1 + pT) puts the pT of a 3 GeV muon and a 1 TeV jet on comparable scales, like eta and phi.
    """
    particles = np.asarray(particles, dtype=np.float32)
    if particles.ndim != 3 or particles.shape[1:] != (N_SLOTS, 4):
        raise ValueError(f"expected particles of shape (n, {N_SLOTS}, 4), got {particles.shape}")
    x = particles[:, :, :3].copy()
    x[:, :, 0] = np.log1p(np.maximum(x[:, :, 0], 0.0))
    return x.reshape(len(x), N_SLOTS * 3)


def background_and_signals(events: L1Events, *, background=BACKGROUND_SAMPLES, signals=SIGNAL_SAMPLES):
    """(the background events, {signal name: its events}): what an anomaly detector trains on and what it
    must find. ``background`` and ``signals`` name samples (those of ``l1_events`` by default; names absent
    from ``events`` are skipped). Split the background with ``samples.split``; signals are never trained on.
    """
    present = [name for name in background if name in events.samples]
    if not present:
        raise ValueError(f"none of the background samples {tuple(background)} is in these events {events.samples}")
    return events.of(*present), {name: events.of(name) for name in signals if name in events.samples}


def read_adc2021_files(files: dict[str, str | os.PathLike], *, max_events: int | None = None
                       ) -> tuple[L1Events, tuple[str, ...], tuple[str, ...]]:
    """Public ADC2021 files, one process per file (``{"background": "bkg.h5", "A to 4 leptons": ...}``),
    merged into one ``L1Events``; the first file is the background, the others the signals.

    Returns (events, background names, signal names). Names may be free text; each must give its own
    metric key (``hepwb.notebook.unique_metric_keys``), so that the notebook's numbers do not overwrite each other.
    """
    if not files:
        raise ValueError("adc2021_files is empty: give {name: path}, the background first")
    unique_metric_keys(files)
    parts = {name: read_adc2021(path, max_events=max_events, sample_name=name) for name, path in files.items()}
    names = tuple(parts)
    events = L1Events(np.concatenate([p.particles for p in parts.values()]),
                      np.concatenate([np.full(len(p), i) for i, p in enumerate(parts.values())]), names, "ADC2021")
    return events, names[:1], names[1:]


def sample_table(events: L1Events, background: tuple[str, ...]):
    """Per sample: events, role (background or signal) and the mean number of electrons, muons and jets."""
    import pandas as pd

    rows = {}
    for i, name in enumerate(events.samples):
        types = events.particles[events.sample == i, :, 3]
        rows[name] = {"events": int(np.sum(events.sample == i)),
                      "role": "background" if name in background else "signal",
                      **{f"{group}s / event": round(float((types == OBJECTS[group][0]).sum(axis=1).mean()), 2)
                         for group in ("electron", "muon", "jet")}}
    return pd.DataFrame(rows).T
