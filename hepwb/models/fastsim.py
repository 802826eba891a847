"""What every event generator for fast simulation shares, whichever network makes the events.

Owns: the generation path (network table -> clipped -> inverse preprocessing -> the dataset's
selection, failed events generated again), its measured rate, checkpoints of the weights that
generate, scoring generated events against simulated ones, and the rule that picks the best
checkpoint. The networks are ``hepwb.models.gan`` (adversarial) and ``hepwb.models.flow`` (normalizing
flow); the preprocessing is ``hepwb.samples.events``', the metrics ``hepwb.metrics``'; the notebook's
summary of the generators is ``hepwb.studies.fastsim``'s.
"""

from __future__ import annotations

import time

import numpy as np

from hepwb import metrics, quiet
from hepwb.samples.events import FEATURE_NAMES, dimuon_mass, passes_selection

#: the generators a notebook can train: the GAN's two kinds (``hepwb.models.gan``) and the flow (``hepwb.models.flow``)
MODELS = ("gan", "wgan-gp", "flow")


def check_models(models) -> None:
    """Refuse anything but a non-empty list of distinct ``MODELS`` before any data is read."""
    if isinstance(models, str) or not models or any(m not in MODELS for m in models) or len(set(models)) < len(models):
        raise ValueError(f"models must be a non-empty list of distinct names from {MODELS}, got {models!r}")


#: the columns of the checkpoint table and the rule that picks the best one (see ``choose_checkpoint``)
CHECKPOINT_COLUMNS = ("ks_m_ll", "ks_met_phi", "ks_mu1_iso", "statistics_score", "fpd")


class EventGenerator:
    """Base of the generators: subclasses set ``transform``, ``n_conditions``, ``noise_dim`` and ``network`` (the
    Keras model whose weights are checkpointed) and implement ``_table_from_noise(z, conditions)``: noise
    (batch, noise_dim) float32 and conditions (batch, k) or None -> table tensor (batch, 20)."""

    transform = None
    n_conditions = 0
    noise_dim = 0
    network = None
    label = "generator"

    def __init__(self):
        import tensorflow as tf

        quiet.xla_first_compilation()
        self.checkpoints: dict[int, list[np.ndarray]] = {}
        self.last_regenerated: dict[str, float] = {}
        # XLA-compiled: 20-30 % faster than calling the Keras model on a CPU (benchmarks/fastsim.py)
        self._compiled = tf.function(self._table_from_noise, jit_compile=True, reduce_retracing=True)

    def _table_from_noise(self, z, conditions):
        raise NotImplementedError

    def _sample_table(self, size: int, conditions: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        # XLA compiles once per shape: pad to a multiple of 1024 rows, so that the few events generated
        # again (failed selection) do not each compile anew
        padded = 1024 * int(np.ceil(size / 1024))
        z = rng.standard_normal(size=(padded, self.noise_dim), dtype=np.float32)
        if conditions is not None:
            conditions = np.concatenate([conditions, np.repeat(conditions[-1:], padded - size, axis=0)])
        return self._compiled(z, conditions).numpy()[:size]

    def _training_input(self, table, conditions, epochs: int, batch_size: int, checkpoint_every: int):
        """The checked inputs of ``fit``: table (n, 20) float32 and conditions (n, k) float32 ((n, 0) if none)."""
        table = np.asarray(table, dtype=np.float32)
        if table.ndim != 2 or table.shape[1] != self.transform.n_outputs:
            raise ValueError(f"expected a table (n, {self.transform.n_outputs}) from EventTransform.transform, "
                             f"got {table.shape}")
        if (conditions is None) != (self.n_conditions == 0):
            raise ValueError(f"this model has {self.n_conditions} condition inputs; "
                             f"{'give' if self.n_conditions else 'do not give'} conditions")
        if epochs < 1 or batch_size < 2 or checkpoint_every < 1:
            raise ValueError(f"epochs, checkpoint_every must be >= 1 and batch_size >= 2, got {epochs}, "
                             f"{checkpoint_every}, {batch_size}")
        conditions = np.zeros((len(table), 0), np.float32) if conditions is None else \
            np.asarray(conditions, dtype=np.float32)
        return table, conditions

    def save_checkpoint(self, epoch: int) -> None:
        self.checkpoints[epoch] = [w.copy() for w in self.network.get_weights()]

    def use_checkpoint(self, epoch: int) -> None:
        """Load the weights saved at ``epoch``."""
        if epoch not in self.checkpoints:
            raise KeyError(f"no checkpoint at epoch {epoch}; checkpoints: {sorted(self.checkpoints)}")
        self.network.set_weights(self.checkpoints[epoch])

    def generate_table(self, n: int | None = None, conditions: np.ndarray | None = None, *,
                       batch_size: int = 10000, seed: int = 2) -> np.ndarray:
        """Network-table rows (n, 20), in batches of ``batch_size``."""
        if self.n_conditions:
            if conditions is None:
                raise ValueError("a conditional model needs conditions (n, k) to generate")
            n = len(conditions)
        elif n is None or n < 1:
            raise ValueError(f"give the number of events to generate, got {n!r}")
        rng = np.random.default_rng(seed)
        out = []
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            batch_conditions = None if not self.n_conditions else \
                np.asarray(conditions[start:start + size], dtype=np.float32)
            out.append(self._sample_table(size, batch_conditions, rng))
        return np.concatenate(out)

    def generate(self, n: int | None = None, conditions: np.ndarray | None = None, *, batch_size: int = 10000,
                 seed: int = 2, max_rounds: int = 20) -> np.ndarray:
        """Selected events in physical units (n, 17): ``generate_table`` mapped back by the transform.

        The network's outputs are clipped to the range of each network column in the training sample
        (a generator has learnt nothing beyond it). Events that fail the dataset's selection
        (``passes_selection``: the muons are derived from the generated m_ll and can miss it),
        or that have a feature outside the range of the training events (``within_training_range``: a
        muon of several TeV made of extreme columns), are generated again with fresh noise, as the full
        simulation keeps only selected events. ``last_regenerated`` counts them (first round): the
        fractions failing the selection and outside the training range.
        """
        def to_events(table):
            return self.transform.inverse(self.transform.clip_to_training_range(table))

        def failing(events):
            selected, in_range = passes_selection(events), self.transform.within_training_range(events)
            return ~selected | ~in_range, selected, in_range

        features = to_events(self.generate_table(n, conditions, batch_size=batch_size, seed=seed))
        failed, selected, in_range = failing(features)
        self.last_regenerated = {"failed_selection": float(np.mean(~selected)),
                                 "outside_training_range": float(np.mean(selected & ~in_range))}
        for extra_round in range(1, max_rounds + 1):
            if not failed.any():
                break
            again = self.generate_table(int(failed.sum()), None if conditions is None else conditions[failed],
                                        batch_size=batch_size, seed=seed + 1000 * extra_round)
            features[failed] = to_events(again)
            failed = failing(features)[0]
        return features

    def events_per_second(self, n: int = 100000, *, batch_size: int = 10000, conditions=None) -> float:
        """Generation rate including the inverse preprocessing and the selection (events/s), measured now."""
        self.generate(min(n, batch_size), conditions, batch_size=batch_size)  # warm-up: graph tracing
        started = time.perf_counter()
        self.generate(n, None if conditions is None else conditions[:n], batch_size=batch_size)
        return n / (time.perf_counter() - started)


def classifier_inputs(features: np.ndarray) -> np.ndarray:
    """What the classifier two-sample test sees: the 17 features and the dimuon mass (n, 18); a tree
    ensemble cannot compute the mass from the muons, and the analysis lives on it."""
    return np.column_stack([features, dimuon_mass(features)])


def score_events(real_features: np.ndarray, generated: np.ndarray, *, kernel_distance: bool = False,
                 classifier: bool = False):
    """How close events (n, 17) are to real ones; returns (scores, per-feature KS and W1 distances).

    scores: KS and W1 [GeV] of m_ll, mean and largest KS over the features, the statistics score, FPD
    and its error; with ``kernel_distance`` KPD and its error (slower); with ``classifier`` the AUC of
    the classifier two-sample test and its error (``metrics.classifier_two_sample_test``).
    """
    distances = metrics.feature_distances(real_features, generated, FEATURE_NAMES)
    mass = metrics.feature_distances(dimuon_mass(real_features)[:, None],
                                     dimuon_mass(generated)[:, None], ["m_ll"])["m_ll"]
    fpd_value, fpd_error = metrics.fpd(real_features, generated)
    scores = {"ks_m_ll": mass["ks"], "w1_m_ll_gev": mass["w1"],
              "ks_mean": float(np.mean([d["ks"] for d in distances.values()])),
              "ks_max": max(d["ks"] for d in distances.values()),
              "statistics_score": metrics.statistics_score(real_features, generated),
              "fpd": fpd_value, "fpd_error": fpd_error}
    if kernel_distance:
        scores["kpd"], scores["kpd_error"] = metrics.kpd(real_features, generated)
    if classifier:
        test = metrics.classifier_two_sample_test(classifier_inputs(real_features), classifier_inputs(generated))
        scores["classifier_auc"], scores["classifier_auc_error"] = test["auc"], test["auc_error"]
    return scores, distances


def evaluate_checkpoints(generator: EventGenerator, real_features: np.ndarray, conditions=None, *, seed: int = 3):
    """Judge every checkpoint against a real sample (n, 17); returns a pandas table indexed by epoch.

    Columns: ``CHECKPOINT_COLUMNS``, ``fpd_error``, and from ``choose_checkpoint`` the mean rank and
    which one is chosen. The generator is left at the chosen checkpoint.
    """
    import pandas as pd

    rows = {}
    for epoch in sorted(generator.checkpoints):
        generator.use_checkpoint(epoch)
        scores, distances = score_events(real_features, generator.generate(len(real_features), conditions, seed=seed))
        rows[epoch] = {"ks_m_ll": scores["ks_m_ll"], "ks_met_phi": distances["met_phi"]["ks"],
                       "ks_mu1_iso": distances["mu1_iso"]["ks"], "statistics_score": scores["statistics_score"],
                       "fpd": scores["fpd"], "fpd_error": scores["fpd_error"]}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("epoch")
    generator.use_checkpoint(choose_checkpoint(table))
    return table


def choose_checkpoint(table) -> int:
    """The rule: rank the checkpoints on each of ``CHECKPOINT_COLUMNS`` (1 = smallest), take the smallest
    mean rank; ties go to the smaller FPD. Adds the columns ``mean_rank`` and ``chosen`` to ``table``."""
    ranks = table[list(CHECKPOINT_COLUMNS)].rank(method="min")
    table["mean_rank"] = ranks.mean(axis=1)
    best = table.sort_values(["mean_rank", "fpd"]).index[0]
    table["chosen"] = table.index == best
    return int(best)
