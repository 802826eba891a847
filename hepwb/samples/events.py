"""Analysis-level event features of ``zmumu`` for fast simulation, and their invertible preprocessing.

Owns: the 17 features a Z -> mu mu analysis keeps per event (as a fixed-width table), the
generator-level conditions, the dimuon mass from the muon features (NumPy and differentiable
TensorFlow), the selection, and the preprocessing that maps features to unbounded, continuous
network inputs and back exactly. Does not build or train generative models (``hepwb.models.gan``,
``hepwb.models.flow``).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from hepwb import data
from hepwb.constants import MUON_MASS, Z_MASS
from hepwb.samples.base import Sample
from hepwb.sim.detector import DEFAULT as DEFAULT_DETECTOR
from hepwb.sim.recipes import ZMUMU_OPTIONS

N_JETS_STORED = ZMUMU_OPTIONS["max_jets"]
#: the event features, in column order: name -> (unit, what it is); ``EventTransform`` maps them to network columns
FEATURES = {
    "mu1_pt": ("GeV", "leading muon pT (> 20 GeV)"), "mu1_eta": ("", "leading muon pseudorapidity (|eta| < 2.4)"),
    "mu1_phi": ("rad", "leading muon azimuth"), "mu1_iso": ("", "leading muon isolation (sum pT in dR < 0.4 / pT)"),
    "mu2_pt": ("GeV", "subleading muon pT (> 10 GeV)"), "mu2_eta": ("", "subleading muon pseudorapidity"),
    "mu2_phi": ("rad", "subleading muon azimuth"), "mu2_iso": ("", "subleading muon isolation"),
    **{f"jet{i}_pt": ("GeV", f"pT of jet {i} (> 30 GeV), 0 if there is none") for i in range(1, N_JETS_STORED + 1)},
    "n_jets": ("", "number of jets"), "met": ("GeV", "missing transverse energy"),
    "met_phi": ("rad", "azimuth of the missing transverse momentum"), "n_vertices": ("", "reconstructed vertices"),
}
FEATURE_NAMES = tuple(FEATURES)
#: generator-level quantities a conditional model can be given (the true Z/gamma*)
CONDITION_NAMES = ("gen_z_pt", "gen_z_rapidity", "gen_z_mass")


@dataclass
class EventSample(Sample):
    """Events as arrays: features (n, 17) float64 in physical units; conditions (n, 3); m_ll (n,) as stored."""

    features: np.ndarray
    conditions: np.ndarray
    m_ll: np.ndarray
    source: str = ""


def load(source="zmumu", *, max_events: int | None = None) -> EventSample:
    """Read the analysis features of a ``zmumu``-like dataset (name or path) into an EventSample."""
    arrays = data.read(source, [*(n for n in FEATURE_NAMES if not n.startswith("jet")), "jet_pt", "m_ll",
                                *CONDITION_NAMES], entry_stop=max_events)
    jets = ak.to_numpy(ak.fill_none(ak.pad_none(arrays["jet_pt"], N_JETS_STORED, clip=True), 0.0))
    columns = [jets[:, int(name[3]) - 1] if name.startswith("jet") else ak.to_numpy(arrays[name])
               for name in FEATURE_NAMES]
    features = np.column_stack(columns).astype(np.float64)
    conditions = np.column_stack([ak.to_numpy(arrays[n]) for n in CONDITION_NAMES]).astype(np.float64)
    return EventSample(features, conditions, ak.to_numpy(arrays["m_ll"]).astype(np.float64), str(source))


def dimuon_mass(features: np.ndarray) -> np.ndarray:
    """m_ll [GeV] of the two muons in a feature table (n, 17), with the muon mass (``vector``)."""
    mu1, mu2 = (vector.array({"pt": features[:, FEATURE_NAMES.index(f"{m}_pt")],
                              "eta": features[:, FEATURE_NAMES.index(f"{m}_eta")],
                              "phi": features[:, FEATURE_NAMES.index(f"{m}_phi")],
                              "mass": np.full(len(features), MUON_MASS)}) for m in ("mu1", "mu2"))
    return np.asarray((mu1 + mu2).mass)


def feature(features: np.ndarray, name: str) -> np.ndarray:
    """One column of a feature table (n, 17) by name, or ``"m_ll"``: the dimuon mass computed from it [GeV]."""
    if name == "m_ll":
        return dimuon_mass(features)
    if name not in FEATURE_NAMES:
        raise KeyError(f"no feature {name!r}; features are {FEATURE_NAMES} and 'm_ll'")
    return features[:, FEATURE_NAMES.index(name)]


def _logit(x, margin):
    """logit of x in [0, 1], squeezed into [margin, 1 - margin] so that 0 and 1 stay finite."""
    x = x * (1 - 2 * margin) + margin
    return np.log(x) - np.log1p(-x)


def _inverse_logit(y, margin):
    """Inverse of ``_logit``, clipped to [0, 1]."""
    x = 0.5 * (1.0 + np.tanh(0.5 * y))  # = 1 / (1 + exp(-y)), without overflow
    return np.clip((x - margin) / (1 - 2 * margin), 0.0, 1.0)


def _angle(x):
    """Wrap angles to [-pi, pi)."""
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


#: the network table, column by column: (name, what it holds)
COLUMNS = (
    ("pt_ratio", "logit of pT2 / pT1"), ("mu1_eta", "artanh(eta1 / 2.4024)"),
    ("mu1_cos_phi", "cos phi1"), ("mu1_sin_phi", "sin phi1"), ("mu1_iso", "log(iso1 + 0.01)"),
    ("m_ll", "log(m_ll / GeV), massless muons"), ("mu2_eta", "artanh(eta2 / 2.4024)"),
    ("mu2_acoplanarity", "logit of (pi - |phi2 - phi1|) / pi"),
    ("mu2_dphi_sign", "sign(phi2 - phi1) * (0.5 + u / 2), u ~ U(0, 1)"), ("mu2_iso", "log(iso2 + 0.01)"),
    *((f"jet{i}_pt", f"log(1 + pT{i} - 30 GeV), noise N(0, 1) if absent") for i in range(1, N_JETS_STORED + 1)),
    ("n_jets", "log(1 + n + u), u ~ U(0.05, 0.95)"), ("met", "log(1 + MET / GeV)"),
    ("met_cos_dphi", "cos(phi_MET - phi1)"), ("met_sin_dphi", "sin(phi_MET - phi1)"),
    ("n_vertices", "log(1 + n + u), u ~ U(0.05, 0.95)"),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)


class EventTransform:
    """Invertible map between physical features (n, 17) and network inputs (n, 20), standardised.

    The columns (``COLUMNS``) follow the physics. The dimuon mass is a column of its own and, with
    the muons' directions, fixes the product of their pTs: pT1 pT2 = m^2 / (2 (cosh(eta1 - eta2) -
    cos(phi1 - phi2))) (massless muons); the ratio pT2 / pT1 in (0, 1] is another column. So the Z
    peak is learnt as a distribution of its own rather than as a fine balance of four muon
    quantities, and the leading muon comes first by construction. The muons are nearly back to back:
    mu2's azimuth is given by the acoplanarity pi - |phi2 - phi1| (logit of it / pi resolves the peak
    at 0) and the sign of phi2 - phi1 (dequantised); the missing ET's azimuth is relative to mu1.
    |eta| < 2.4 becomes artanh(eta / 2.4024); missing ET log(1 + MET); jet pT (above 30 GeV)
    log(1 + pT - 30); isolation log(iso + 0.01); counts are dequantised, log(1 + n + u) with
    u ~ U(0.05, 0.95), and floored back; jet slots beyond min(n_jets, 5) carry no information and
    hold noise N(0, 1), zeroed by the inverse, which also orders the jets by pT. Every column is
    then standardised with the training sample's mean and width.

    Integers, absent jets and zero isolation come back exactly; continuous features to the round-off
    of the table's dtype (float32 for networks, float64 on request). Any network output maps to a
    physical event, but the derived muon pTs can fall below the selection (20 / 10 GeV):
    ``passes_selection`` says which events an analysis would keep.
    """

    ISOLATION_OFFSET = 0.01
    ETA_BOUND = DEFAULT_DETECTOR.muon_eta_max * 1.001
    LOGIT_MARGIN = 1e-6
    n_outputs = len(COLUMNS)

    def __init__(self, seed: int = 1):
        self.seed = seed
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.low: np.ndarray | None = None
        self.high: np.ndarray | None = None

    @staticmethod
    def output_index(name: str) -> int:
        """Column of the network table called ``name`` (see ``COLUMN_NAMES``)."""
        if name not in COLUMN_NAMES:
            raise KeyError(f"no column {name!r}; columns are {COLUMN_NAMES}")
        return COLUMN_NAMES.index(name)

    def fit(self, features: np.ndarray) -> EventTransform:
        raw = self._forward(features, np.random.default_rng(self.seed))
        self.mean, self.scale = raw.mean(axis=0), raw.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        standardised = (raw - self.mean) / self.scale
        self.low, self.high = standardised.min(axis=0), standardised.max(axis=0)  # the training support
        features = np.asarray(features, dtype=np.float64)
        self.feature_low, self.feature_high = features.min(axis=0), features.max(axis=0)
        return self

    def within_training_range(self, features: np.ndarray) -> np.ndarray:
        """Which events (n, 17) have every feature inside the range the training events span, (n,) bool.

        Each network column can be inside its range while the features derived from several of them
        are not: a pT ratio, m_ll and acoplanarity at their extremes together give a muon of several TeV."""
        self._check_fitted()
        return np.all((features >= self.feature_low) & (features <= self.feature_high), axis=1)

    def clip_to_training_range(self, table: np.ndarray) -> np.ndarray:
        """Network-table rows (n, 20) clipped, column by column, to the range the training sample spans.

        Each (cos, sin) pair (``CIRCLES``) is first put back on the unit circle with its angle kept, so
        that clipping a pair a generator made off the circle cannot turn its angle."""
        self._check_fitted()
        table = np.array(table)
        for pair in self.CIRCLES:
            j = [self.output_index(name) for name in pair]
            raw = table[:, j] * self.scale[j] + self.mean[j]
            radius = np.maximum(np.hypot(raw[:, 0], raw[:, 1]), 1e-12)[:, None]
            table[:, j] = (raw / radius - self.mean[j]) / self.scale[j]
        return np.clip(table, self.low, self.high)

    def transform(self, features: np.ndarray, *, seed: int | None = None, dtype=np.float32) -> np.ndarray:
        """Physical (n, 17) -> standardised network table (n, 20). ``seed`` drives the noise."""
        self._check_fitted()
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return ((self._forward(features, rng) - self.mean) / self.scale).astype(dtype)

    def _forward(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(FEATURES):
            raise ValueError(f"expected features of shape (n, {len(FEATURES)}) in the order {FEATURE_NAMES}, "
                             f"got {features.shape}")
        f = {name: features[:, j] for j, name in enumerate(FEATURE_NAMES)}
        n = len(features)
        d_phi = _angle(f["mu2_phi"] - f["mu1_phi"])
        m_ll = np.sqrt(2 * f["mu1_pt"] * f["mu2_pt"] * (np.cosh(f["mu1_eta"] - f["mu2_eta"]) - np.cos(d_phi)))
        columns = [_logit(f["mu2_pt"] / f["mu1_pt"], self.LOGIT_MARGIN), np.arctanh(f["mu1_eta"] / self.ETA_BOUND),
                   np.cos(f["mu1_phi"]), np.sin(f["mu1_phi"]), np.log(f["mu1_iso"] + self.ISOLATION_OFFSET),
                   np.log(m_ll), np.arctanh(f["mu2_eta"] / self.ETA_BOUND),
                   _logit((np.pi - np.abs(d_phi)) / np.pi, self.LOGIT_MARGIN),
                   np.where(d_phi >= 0, 1.0, -1.0) * (0.5 + rng.uniform(0.0, 1.0, n) / 2),
                   np.log(f["mu2_iso"] + self.ISOLATION_OFFSET)]
        n_present = np.minimum(f["n_jets"], N_JETS_STORED)
        for i in range(1, N_JETS_STORED + 1):
            with np.errstate(divide="ignore", invalid="ignore"):
                columns.append(np.where(i <= n_present, np.log1p(f[f"jet{i}_pt"] - 30.0), rng.normal(0.0, 1.0, n)))
        columns.append(np.log1p(f["n_jets"] + rng.uniform(0.05, 0.95, n)))
        columns.append(np.log1p(f["met"]))
        columns += [np.cos(f["met_phi"] - f["mu1_phi"]), np.sin(f["met_phi"] - f["mu1_phi"])]
        columns.append(np.log1p(f["n_vertices"] + rng.uniform(0.05, 0.95, n)))
        return np.column_stack(columns)

    def inverse(self, table: np.ndarray) -> np.ndarray:
        """Network table (n, 20) -> physical features (n, 17), float64."""
        self._check_fitted()
        table = np.asarray(table, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != self.n_outputs:
            raise ValueError(f"expected a table of shape (n, {self.n_outputs}), got {table.shape}")
        c = dict(zip(COLUMN_NAMES, (table * self.scale + self.mean).T))
        out = {"mu1_eta": self.ETA_BOUND * np.tanh(c["mu1_eta"]), "mu2_eta": self.ETA_BOUND * np.tanh(c["mu2_eta"]),
               "mu1_phi": np.arctan2(c["mu1_sin_phi"], c["mu1_cos_phi"])}
        acoplanarity = np.pi * _inverse_logit(c["mu2_acoplanarity"], self.LOGIT_MARGIN)
        d_phi = np.where(c["mu2_dphi_sign"] >= 0, 1.0, -1.0) * (np.pi - acoplanarity)
        out["mu2_phi"] = _angle(out["mu1_phi"] + d_phi)
        # cos(phi2 - phi1) = -cos(acoplanarity): no cancellation for back-to-back muons
        spread = 2 * (np.cosh(out["mu1_eta"] - out["mu2_eta"]) + np.cos(acoplanarity))
        product = np.exp(2 * c["m_ll"]) / np.maximum(spread, 1e-12)  # pT1 * pT2
        ratio = np.maximum(_inverse_logit(c["pt_ratio"], self.LOGIT_MARGIN), 1e-12)
        out["mu1_pt"], out["mu2_pt"] = np.sqrt(product / ratio), np.sqrt(product * ratio)
        for i in (1, 2):
            iso = np.exp(c[f"mu{i}_iso"]) - self.ISOLATION_OFFSET
            out[f"mu{i}_iso"] = np.where(iso < 1e-9, 0.0, iso)  # an isolated muon's 0 comes back as 0
        for i in range(1, N_JETS_STORED + 1):
            out[f"jet{i}_pt"] = 30.0 + np.maximum(np.expm1(c[f"jet{i}_pt"]), 0.0)
        for name in ("n_jets", "n_vertices"):
            out[name] = np.maximum(np.floor(np.expm1(c[name])), 0.0)
        out["met"] = np.maximum(np.expm1(c["met"]), 0.0)
        out["met_phi"] = _angle(out["mu1_phi"] + np.arctan2(c["met_sin_dphi"], c["met_cos_dphi"]))
        features = np.column_stack([out[name] for name in FEATURE_NAMES])
        return self._fix_jets(features)

    @staticmethod
    def _fix_jets(out: np.ndarray) -> np.ndarray:
        """Zero the jet slots beyond min(n_jets, 5) and order the remaining jets by decreasing pT."""
        jet_cols = [FEATURE_NAMES.index(f"jet{i}_pt") for i in range(1, N_JETS_STORED + 1)]
        n_present = np.minimum(out[:, FEATURE_NAMES.index("n_jets")], N_JETS_STORED)
        jets = np.where(np.arange(1, N_JETS_STORED + 1) <= n_present[:, None], out[:, jet_cols], 0.0)
        out[:, jet_cols] = -np.sort(-jets, axis=1)
        return out

    #: (cos, sin) column pairs of one angle each: the inverse reads only their direction
    CIRCLES = (("mu1_cos_phi", "mu1_sin_phi"), ("met_cos_dphi", "met_sin_dphi"))

    def spread_circles(self, table: np.ndarray, *, spread: float = 0.2, seed: int = 1) -> np.ndarray:
        """The table (n, 20) with each (cos, sin) pair moved off the unit circle to a radius U(1 - spread,
        1 + spread), a copy. The events are unchanged (``inverse`` reads only the angle), but the rows no
        longer lie on a curve of zero area, where a density model's likelihood has no maximum (a flow
        would spend its capacity squeezing onto the circle): dequantisation for a circle."""
        self._check_fitted()
        out = np.array(table, dtype=np.float64)
        radius = np.random.default_rng(seed).uniform(1 - spread, 1 + spread, size=(len(out), len(self.CIRCLES)))
        for k, pair in enumerate(self.CIRCLES):
            j = [self.output_index(name) for name in pair]
            out[:, j] = ((out[:, j] * self.scale[j] + self.mean[j]) * radius[:, k:k + 1] - self.mean[j]) / self.scale[j]
        return out.astype(np.asarray(table).dtype)

    def _check_fitted(self):
        if self.mean is None:
            raise RuntimeError("EventTransform is not fitted: call fit(training_features) first")

    def dimuon_mass_tf(self, table):
        """m_ll [GeV] from a network table (TensorFlow tensor (batch, 20)), differentiable."""
        import tensorflow as tf

        j = self.output_index("m_ll")
        return tf.exp(tf.minimum(table[:, j] * float(self.scale[j]) + float(self.mean[j]), 10.0))

    def muon_log_pts_tf(self, table):
        """log(pT1 / GeV), log(pT2 / GeV) from a network table (TensorFlow tensor (batch, 20)) -> (batch, 2),
        differentiable; the same algebra as ``inverse`` (the logit margin, 1e-6, is neglected)."""
        import tensorflow as tf

        def column(name):
            j = self.output_index(name)
            return table[:, j] * float(self.scale[j]) + float(self.mean[j])

        eta1, eta2 = self.ETA_BOUND * tf.tanh(column("mu1_eta")), self.ETA_BOUND * tf.tanh(column("mu2_eta"))
        acoplanarity = np.pi * tf.sigmoid(column("mu2_acoplanarity"))
        spread = 2 * (tf.cosh(tf.clip_by_value(eta1 - eta2, -5.0, 5.0)) + tf.cos(acoplanarity))
        log_product = 2 * tf.minimum(column("m_ll"), 10.0) - tf.math.log(tf.maximum(spread, 1e-6))
        log_ratio = tf.math.log_sigmoid(column("pt_ratio"))
        return tf.stack([0.5 * (log_product - log_ratio), 0.5 * (log_product + log_ratio)], axis=1)


def passes_selection(features: np.ndarray) -> np.ndarray:
    """The ``zmumu`` selection on a feature table (n, 17): muon pT > 20 and > 10 GeV (the recipe's cuts), both
    within the muon system's |eta| < 2.4."""
    col = {name: features[:, FEATURE_NAMES.index(name)] for name in ("mu1_pt", "mu2_pt", "mu1_eta", "mu2_eta")}
    (lead, sub), eta_max = ZMUMU_OPTIONS["muon_pt_min"], DEFAULT_DETECTOR.muon_eta_max
    return ((col["mu1_pt"] > lead) & (col["mu2_pt"] > sub)
            & (np.abs(col["mu1_eta"]) < eta_max) & (np.abs(col["mu2_eta"]) < eta_max))


def transform_conditions(conditions: np.ndarray) -> np.ndarray:
    """Generator-level (pT [GeV], rapidity, mass [GeV]) -> (log pT, y, log m), float32, for conditioning."""
    conditions = np.asarray(conditions, dtype=np.float64)
    return np.column_stack([np.log(conditions[:, 0] + 1.0), conditions[:, 1],
                            np.log(conditions[:, 2] / Z_MASS)]).astype(np.float32)
