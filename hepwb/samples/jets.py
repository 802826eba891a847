"""Jet-tagging inputs: the three views of a jet, and the public hls4ml HLF format.

Owns: turning the ``jets`` dataset (or a local copy of the public hls4ml LHC-jets HLF dataset)
into arrays a network takes — the 16 high-level features, padded constituent lists with a mask,
and preprocessed jet images. ``samples.split`` keeps the class proportions of a ``JetSample`` in every
part. Does not build or train models (``hepwb.models``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepwb import data
from hepwb.constants import LARGE_JET_RADIUS, MAX_CONSTITUENTS
from hepwb.samples.base import Sample
from hepwb.sim.features import HLS4ML_FEATURES
from hepwb.sim.recipes import JET_CLASSES

#: class letters of the public hls4ml dataset (OpenML ``hls4ml_lhc_jets_hlf``) -> our class names
PUBLIC_CLASS_LETTERS = {"g": "gluon", "q": "light_quark", "w": "W", "z": "Z", "t": "top"}
#: per-constituent inputs of the particle-level model
PARTICLE_FIELDS = ("log_pt_rel", "deta", "dphi", "charge")
#: file name endings the public HLF reader takes (OpenML's ARFF, as scikit-learn caches it gzipped, or CSV)
HLF_SUFFIXES = (".arff", ".arff.gz", ".csv", ".csv.gz")


@dataclass
class JetSample(Sample):
    """Jets as arrays. Shapes: features (n, 16); labels (n,); particles (n, m, 4) and mask (n, m), m <= 50;
    images (n, size, size). Views that were not requested are None."""

    features: np.ndarray
    labels: np.ndarray
    particles: np.ndarray | None = None
    mask: np.ndarray | None = None
    images: np.ndarray | None = None
    classes: tuple[str, ...] = JET_CLASSES
    feature_names: tuple[str, ...] = HLS4ML_FEATURES
    source: str = ""

    stratify_by = "labels"

    def feature_table(self):
        """The high-level features as a pandas DataFrame (n, 16), one named column per feature: what a
        scikit-learn scaler is fitted on, so that it refuses jets with other features later."""
        import pandas as pd

        return pd.DataFrame(self.features, columns=list(self.feature_names))

    def feature(self, name: str) -> np.ndarray:
        """One high-level feature of every jet by name (``"mass_mmdt"``: the groomed mass in GeV), shape (n,)."""
        if name not in self.feature_names:
            raise KeyError(f"no feature {name!r}; features: {list(self.feature_names)}")
        return self.features[:, list(self.feature_names).index(name)]


def jet_images(deta, dphi, pt, *, size: int = 32, extent: float = LARGE_JET_RADIUS) -> np.ndarray:
    """Jet images in (eta, phi) after the standard preprocessing; returns (n, size, size) float32.

    Per jet: centre on the pT-weighted centroid, rotate so the principal axis of the pT
    distribution is vertical, flip so that the hardest particle is at the top and the pT
    distribution's skew (third moment) points right,
    pixelate into size x size cells of [-extent, extent]^2, normalise the pixel intensities to sum 1.
    ``deta``, ``dphi``, ``pt``: padded arrays (n, m) with pt = 0 for padding.
    """
    deta, dphi, pt = (np.asarray(a, dtype=np.float64) for a in (deta, dphi, pt))
    weight = pt / np.maximum(pt.sum(axis=1, keepdims=True), 1e-12)
    x = deta - (weight * deta).sum(axis=1, keepdims=True)
    y = dphi - (weight * dphi).sum(axis=1, keepdims=True)
    # principal axis from the pT-weighted second moments; rotate it onto the y axis
    sxx, syy, sxy = (weight * x * x).sum(1), (weight * y * y).sum(1), (weight * x * y).sum(1)
    angle = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # angle of the major axis to x
    rotation = np.pi / 2 - angle
    cos, sin = np.cos(rotation)[:, None], np.sin(rotation)[:, None]
    x, y = x * cos - y * sin, x * sin + y * cos
    hardest = np.argmax(pt, axis=1)[:, None]
    y *= np.where(np.take_along_axis(y, hardest, 1) < 0, -1.0, 1.0)  # hardest particle at the top
    x *= np.where((weight * x**3).sum(1) < 0, -1.0, 1.0)[:, None]  # the skewed side to the right
    n = len(pt)
    images = np.zeros((n, size, size), dtype=np.float32)
    ix = np.floor((x + extent) / (2 * extent) * size).astype(int)
    iy = np.floor((y + extent) / (2 * extent) * size).astype(int)
    inside = (pt > 0) & (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
    jet = np.broadcast_to(np.arange(n)[:, None], pt.shape)
    np.add.at(images, (jet[inside], iy[inside], ix[inside]), weight[inside])
    images /= np.maximum(images.sum(axis=(1, 2), keepdims=True), 1e-12)
    return images


def load(source="jets", *, max_jets: int | None = None, particles: bool = True, images: bool = True,
         image_size: int = 32, max_particles: int = MAX_CONSTITUENTS, seed: int = 1) -> JetSample:
    """A jets dataset (name or ROOT file) or a local public hls4ml HLF file as a JetSample.

    ``max_jets`` keeps that many jets, drawn at random with ``seed`` (in equal numbers per class from a
    jets dataset). ``particles`` and ``images`` choose the views besides the 16 features; ``max_particles``
    keeps the hardest constituents of each jet in the particle view (they are stored hardest first); the
    images are made from all of them. The public HLF file (.arff, .arff.gz, .csv, .csv.gz) has features
    only. Any other file is refused with the formats that are accepted.
    """
    if hlf_format(source) is not None:
        sample = read_hls4ml_hlf(source)
        if max_jets is not None and max_jets < len(sample):
            rng = np.random.default_rng(seed)
            sample = sample.subset(np.sort(rng.choice(len(sample), max_jets, replace=False)))
        return sample
    path = Path(str(source)).expanduser()
    if str(source) not in data.list_datasets() and path.is_file() and not _is_root_file(path):
        raise ValueError(f"{data.shown_path(path)}: not a file the jet tagger reads; expected a hepwb jets dataset "
                         f"(a ROOT file, or its name) or the public hls4ml HLF features as {', '.join(HLF_SUFFIXES)}")
    return _load_root(source, max_jets=max_jets, particles=particles, images=images, image_size=image_size,
                      max_particles=max_particles, seed=seed)


def _load_root(source, *, max_jets, particles, images, image_size, max_particles, seed) -> JetSample:
    """A ``jets`` ROOT dataset as a JetSample (see ``load``)."""
    if max_jets is not None and (not isinstance(max_jets, int) or max_jets < len(JET_CLASSES)):
        raise ValueError(f"max_jets must be an integer >= {len(JET_CLASSES)} (one per class) or None, got {max_jets!r}")
    if not isinstance(max_particles, int) or not 1 <= max_particles <= MAX_CONSTITUENTS:
        raise ValueError(f"max_particles must be an integer from 1 to {MAX_CONSTITUENTS} (the constituents stored "
                         f"per jet), got {max_particles!r}")
    branches = ["label", *HLS4ML_FEATURES, "jet_pt"] + (["const_pt", "const_deta", "const_dphi", "const_charge"]
                                                        if particles or images else [])
    arrays = data.read(source, branches)
    labels = np.asarray(arrays.label)
    index = np.arange(len(labels))
    if max_jets is not None and max_jets < len(labels):
        rng = np.random.default_rng(seed)
        per_class = max_jets // len(JET_CLASSES)
        index = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                                        for c in range(len(JET_CLASSES))]))
    arrays = arrays[index]
    features = np.stack([np.asarray(arrays[f], dtype=np.float32) for f in HLS4ML_FEATURES], axis=1)
    sample = JetSample(features, labels[index].astype(np.int64), source=str(source))
    if particles or images:
        import awkward as ak

        def padded(name):
            padded_values = ak.fill_none(ak.pad_none(arrays[name], MAX_CONSTITUENTS, clip=True), 0.0)
            return ak.to_numpy(padded_values).astype(np.float32)

        pt, deta, dphi, charge = (padded(f"const_{n}") for n in ("pt", "deta", "dphi", "charge"))
        mask = pt > 0
        if particles:
            jet_pt = np.asarray(arrays.jet_pt, dtype=np.float32)[:, None]
            log_pt = np.where(mask, np.log(np.maximum(pt, 1e-6) / jet_pt), 0.0)
            columns = {"log_pt_rel": log_pt, "deta": deta, "dphi": dphi, "charge": charge}
            particles = np.stack([columns[f] for f in PARTICLE_FIELDS], axis=-1).astype(np.float32)
            sample.particles, sample.mask = particles[:, :max_particles], mask[:, :max_particles]
        if images:
            sample.images = jet_images(deta, dphi, pt, size=image_size)
    return sample


def hlf_format(path) -> str | None:
    """"arff" or "csv" for a name ending in one of HLF_SUFFIXES, else None."""
    name = str(path).lower()
    for suffix in HLF_SUFFIXES:
        if name.endswith(suffix):
            return suffix.split(".")[1]
    return None


def _is_root_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"root"  # every ROOT file starts with these four bytes


# ------------------------------------------------------------------------------------------
# the public hls4ml LHC jets high-level-feature dataset (OpenML "hls4ml_lhc_jets_hlf")
# ------------------------------------------------------------------------------------------

def read_hls4ml_hlf(path: str | Path) -> JetSample:
    """Read a local copy of OpenML's ``hls4ml_lhc_jets_hlf``: ARFF or CSV, either gzipped or not.

    Columns: the 16 features under their benchmark names and ``class`` in {g, q, w, z, t}
    (quoted attribute names and quoted class values, as OpenML writes them, are fine).
    """
    import gzip
    import io

    path = Path(path)
    kind = hlf_format(path)
    if kind is None:
        raise ValueError(f"{path.name}: the hls4ml HLF reader takes {', '.join(HLF_SUFFIXES)}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (expected the hls4ml_lhc_jets_hlf ARFF or CSV)")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise ValueError(f"{path}: cannot be read as {'gzipped ' if opener is gzip.open else ''}{kind.upper()} text "
                         f"({type(error).__name__}: {error})") from None
    if kind == "arff":
        from scipy.io import arff

        try:
            records, meta = arff.loadarff(io.StringIO(text))
        except (arff.ParseArffError, ValueError) as error:
            raise ValueError(f"{path}: not a readable ARFF file ({error})") from None
        columns = {name: records[name] for name in meta.names()}
        if "class" in columns:
            columns["class"] = np.array([c.decode() if isinstance(c, bytes) else c for c in columns["class"]])
    else:
        import pandas as pd

        frame = pd.read_csv(io.StringIO(text))
        frame.columns = [str(c).strip().strip("'\"") for c in frame.columns]
        columns = {name: frame[name].to_numpy() for name in frame.columns}
        if "class" in columns:
            columns["class"] = np.char.strip(np.asarray(columns["class"]).astype(str), "'\" ")
    missing = [c for c in (*HLS4ML_FEATURES, "class") if c not in columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; the hls4ml HLF format has "
                         f"{[*HLS4ML_FEATURES, 'class']}, found {sorted(columns)}")
    letters = np.asarray(columns["class"]).astype(str)
    unknown = sorted(set(letters) - set(PUBLIC_CLASS_LETTERS))
    if unknown:
        raise ValueError(f"{path}: unknown class labels {unknown}; expected {sorted(PUBLIC_CLASS_LETTERS)}")
    labels = np.array([JET_CLASSES.index(PUBLIC_CLASS_LETTERS[c]) for c in letters], dtype=np.int64)
    features = np.stack([np.asarray(columns[f], dtype=np.float32) for f in HLS4ML_FEATURES], axis=1)
    return JetSample(features, labels, source=str(path))


def write_hls4ml_hlf(path: str | Path, sample: JetSample) -> Path:
    """Write features and labels in the public format (ARFF if the suffix is .arff, else CSV)."""
    path = Path(path)
    letter = {name: key for key, name in PUBLIC_CLASS_LETTERS.items()}
    classes = [letter[sample.classes[i]] for i in sample.labels]
    with data.atomic_path(path) as tmp:
        if path.suffix.lower() == ".arff":
            lines = ["@RELATION hls4ml_lhc_jets_hlf", ""]
            lines += [f"@ATTRIBUTE {name} NUMERIC" for name in HLS4ML_FEATURES]
            lines += ["@ATTRIBUTE class {g,q,t,w,z}", "", "@DATA"]
            lines += [",".join(f"{v:.9g}" for v in row) + f",{c}" for row, c in zip(sample.features, classes)]
            tmp.write_text("\n".join(lines) + "\n")
        else:
            header = ",".join([*HLS4ML_FEATURES, "class"])
            rows = [",".join(f"{v:.9g}" for v in row) + f",{c}" for row, c in zip(sample.features, classes)]
            tmp.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path
