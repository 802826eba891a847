"""The same kind of jets in several simulated worlds: the nominal simulation and its shifted versions
(calorimeter scale, tracking efficiency, another Pythia tune), as an analysis needs them for templates and
systematic variations.

Owns: reading a ``jets`` dataset into a ``WorldJets`` (``load``: every observable of a jet by name, its class,
its half),
the analysis's processes (signal W and Z, QCD, top), and the weights that turn simulated jets into expected
counts at a luminosity. Does not fit anything (``hepwb.studies.measurement``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepwb import data
from hepwb.samples.base import Sample
from hepwb.sim.features import HLS4ML_FEATURES
from hepwb.sim.recipes import JET_CLASSES

#: what each jet carries besides its class: the 16 substructure features and the jet's kinematics
OBSERVABLES = (*HLS4ML_FEATURES, "jet_pt", "jet_eta", "jet_mass")
#: the analysis's processes and the jet classes each is made of
PROCESSES = {"signal": ("W", "Z"), "QCD": ("gluon", "light_quark"), "top": ("top",)}
TRAINING, ANALYSIS = 0, 1


@dataclass
class WorldJets(Sample):
    """Jets of one simulated world. Shapes: observables (n, 19) named by ``observable_names``; labels (n,)
    jet-class index into ``JET_CLASSES``; half (n,): ``TRAINING`` (0) or ``ANALYSIS`` (1)."""

    observables: np.ndarray
    labels: np.ndarray
    half: np.ndarray
    world: str = "nominal"
    observable_names: tuple[str, ...] = OBSERVABLES

    stratify_by = "labels"

    def observable(self, name: str) -> np.ndarray:
        """One observable of every jet by name, shape (n,); ``mass_mmdt`` and ``jet_pt`` in GeV."""
        if name not in self.observable_names:
            raise KeyError(f"no observable {name!r}; the jets have {list(self.observable_names)}")
        return self.observables[:, self.observable_names.index(name)]

    def table(self, names=HLS4ML_FEATURES):
        """Observables as a pandas DataFrame with named columns (what a scikit-learn scaler is fitted on)."""
        import pandas as pd

        return pd.DataFrame(self.observables[:, [self.observable_names.index(n) for n in names]], columns=list(names))

    def process(self) -> np.ndarray:
        """Each jet's process name ("signal", "QCD" or "top"), shape (n,)."""
        out = np.empty(len(self), dtype=object)
        for name, classes in PROCESSES.items():
            out[np.isin(self.labels, [JET_CLASSES.index(c) for c in classes])] = name
        return out

    def is_signal(self) -> np.ndarray:
        """1 for W and Z jets, 0 for the backgrounds, shape (n,)."""
        return (self.process() == "signal").astype(np.int64)

    def part(self, half: int) -> WorldJets:
        """The training (0) or the analysis (1) half."""
        return self.subset(self.half == half)

    def weights(self, luminosity_fb: float, selected_cross_sections_fb: dict[str, float]) -> np.ndarray:
        """Each jet's weight [expected jets per simulated jet] at ``luminosity_fb`` [fb^-1]: its class's selected
        cross-section [fb] x luminosity / the number of jets of that class here. Shape (n,)."""
        if not luminosity_fb > 0:
            raise ValueError(f"the luminosity must be positive (fb^-1), got {luminosity_fb!r}")
        out = np.zeros(len(self))
        for index, jet_class in enumerate(JET_CLASSES):
            mine = self.labels == index
            if mine.any():
                out[mine] = selected_cross_sections_fb[jet_class] * luminosity_fb / mine.sum()
        return out


def load(source, world: str = "nominal", *, max_jets: int | None = None) -> WorldJets:
    """A ``jets`` dataset (name or ROOT file) as a WorldJets: every other jet goes to the training half, the
    rest to the analysis half. ``max_jets`` keeps that many, spread evenly over the file (which is written
    class by class), None all."""
    if max_jets is not None and (not isinstance(max_jets, int) or max_jets < 4 * len(JET_CLASSES)):
        raise ValueError(f"max_jets must be an integer >= {4 * len(JET_CLASSES)} or None, got {max_jets!r}")
    arrays = data.read(source, ["label", *OBSERVABLES], library="np")
    keep = data.spread_entries(len(arrays["label"]), max_jets)
    arrays = {name: np.asarray(values)[keep] for name, values in arrays.items()}
    observables = np.stack([arrays[name].astype(np.float64) for name in OBSERVABLES], axis=1)
    half = np.arange(len(observables)) % 2
    return WorldJets(observables, np.asarray(arrays["label"], dtype=np.int64), half, world=world)
