"""Event-level generative adversarial networks for fast simulation (Keras 2 networks, TensorFlow loop).

Owns: the MLP generator and discriminator, training as a GAN (cross-entropy) or a WGAN-GP
(Wasserstein critic with gradient penalty), the dimuon-mass regression term of the generator loss and
optional conditioning on generator-level quantities. Preprocessing is ``hepwb.samples.events``'s;
the generation path, checkpoints and scoring are ``hepwb.models.fastsim``'s.
"""

from __future__ import annotations

import time

import numpy as np

from hepwb.models.fastsim import EventGenerator
from hepwb.models.training import set_seed
from hepwb.progress import progress_bar

KINDS = ("gan", "wgan-gp")


def check_kind(kind: str, name: str = "model") -> None:
    """Refuse an unknown model kind (``name`` is what the caller calls it) before any data is read."""
    if kind not in KINDS:
        raise ValueError(f"{name} must be one of {KINDS}, got {kind!r}")


def mlp(n_inputs: int, n_outputs: int, hidden=(128, 128, 128), *, name: str):
    """Dense layers with leaky ReLUs and a linear output: the generator's and discriminator's body."""
    from tensorflow import keras

    inputs = keras.Input((n_inputs,))
    x = inputs
    for units in hidden:
        x = keras.layers.Dense(units)(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    return keras.Model(inputs, keras.layers.Dense(n_outputs)(x), name=name)


class EventGAN(EventGenerator):
    """A generator of analysis-level events, trained adversarially.

    Parameters
    ----------
    transform : a fitted ``hepwb.samples.events.EventTransform``; the networks work in its table space.
    kind : "gan" (non-saturating cross-entropy) or "wgan-gp" (critic with gradient penalty, 5 critic
        steps per generator step).
    mass_weight : c in generator loss + c * MSE(m_ll) [GeV^2]; the MSE is between the sorted m_ll of the
        generated and real events of a batch, i.e. the squared 2-Wasserstein distance of the two
        batches' m_ll distributions (unpaired samples have no event-by-event target). 0 switches it off.
    n_conditions : number of conditioning inputs (0: unconditional).
    ema_decay : the checkpoints and ``generate`` use an exponential moving average of the generator's
        weights with this decay per step (Yazici et al. 2019: it damps the oscillations of adversarial
        training); None uses the raw weights.
    final_learning_rate : the learning rates fall along a cosine from ``learning_rate`` to this fraction
        of it over the ``epochs`` of ``fit``.
    muon_pt_inputs : also show the discriminator log pT of both muons, derived from the table
        (``EventTransform.muon_log_pts_tf``): they are not columns of their own, and their tails are
        where a generator that gets each column right still goes wrong.
    pack : the discriminator judges ``pack`` events at once, concatenated (PacGAN, Lin et al. 2018): a
        generator that drops rare modes (events with many jets, non-isolated muons) is easier to catch.
    """

    def __init__(self, transform, *, kind: str = "gan", latent_dim: int = 32, hidden=(128, 128, 128),
                 mass_weight: float = 0.01, n_conditions: int = 0, learning_rate: float | None = None,
                 gradient_penalty: float = 10.0, critic_steps: int = 5, ema_decay: float | None = 0.999,
                 final_learning_rate: float = 0.1, muon_pt_inputs: bool = True, pack: int = 2, seed: int = 1):
        from tensorflow import keras

        super().__init__()
        check_kind(kind, "kind")
        if mass_weight < 0:
            raise ValueError(f"mass_weight must be >= 0, got {mass_weight}")
        if pack < 1:
            raise ValueError(f"pack must be >= 1, got {pack}")
        set_seed(seed)
        self.transform, self.kind, self.latent_dim, self.n_conditions = transform, kind, latent_dim, n_conditions
        self.mass_weight, self.gradient_penalty, self.critic_steps = mass_weight, gradient_penalty, critic_steps
        self.seed, self.ema_decay, self.final_learning_rate = seed, ema_decay, final_learning_rate
        self.muon_pt_inputs, self.pack = muon_pt_inputs, pack
        self._muon_pt_mean, self._muon_pt_scale = np.zeros(2, np.float32), np.ones(2, np.float32)
        n_features = transform.n_outputs
        self.trained_generator = mlp(latent_dim + n_conditions, n_features, hidden, name="generator")
        # what generates: the moving average of the trained weights (or the trained network itself)
        self.generator = self.trained_generator
        if ema_decay is not None:
            self.generator = mlp(latent_dim + n_conditions, n_features, hidden, name="generator_ema")
            self.generator.set_weights(self.trained_generator.get_weights())
        n_judged = n_features + n_conditions + (2 if muon_pt_inputs else 0)
        self.discriminator = mlp(pack * n_judged, 1, hidden, name="discriminator")
        if learning_rate is None:
            learning_rate = 1e-4 if kind == "wgan-gp" else 2e-4
        self.learning_rate = learning_rate
        beta_2 = 0.9 if kind == "wgan-gp" else 0.999
        self.g_optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=beta_2)
        self.d_optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=beta_2)
        self.network, self.label, self.noise_dim = self.generator, kind.upper(), latent_dim
        self.history: dict[str, list[float]] = {"epoch": [], "generator_loss": [], "discriminator_loss": [],
                                                "mass_loss": []}

    # ---- training --------------------------------------------------------------------------

    def _steps(self):
        import tensorflow as tf

        gen, disc, transform = self.trained_generator, self.discriminator, self.transform
        average, decay = self.generator, self.ema_decay
        bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
        wasserstein = self.kind == "wgan-gp"

        def with_conditions(x, c):
            return x if self.n_conditions == 0 else tf.concat([x, c], axis=1)

        muon_pt_mean, muon_pt_scale = tf.constant(self._muon_pt_mean), tf.constant(self._muon_pt_scale)

        def judged(x, c):
            """What the discriminator sees: table (+ muon log pTs) (+ conditions), ``pack`` events a row."""
            if self.muon_pt_inputs:
                x = tf.concat([x, (transform.muon_log_pts_tf(x) - muon_pt_mean) / muon_pt_scale], axis=1)
            x = with_conditions(x, c)
            return tf.reshape(x, (-1, self.pack * x.shape[1])) if self.pack > 1 else x

        def mass_loss(fake, real):
            if self.mass_weight == 0:
                return tf.constant(0.0)
            m_fake = tf.sort(transform.dimuon_mass_tf(fake))
            m_real = tf.sort(transform.dimuon_mass_tf(real))
            return tf.reduce_mean((m_fake - m_real) ** 2)

        @tf.function
        def discriminator_step(real, cond):
            z = tf.random.normal((tf.shape(real)[0], self.latent_dim))
            fake = gen(with_conditions(z, cond), training=True)
            with tf.GradientTape() as tape:
                real_judged, fake_judged = judged(real, cond), judged(fake, cond)
                d_real = disc(real_judged, training=True)
                d_fake = disc(fake_judged, training=True)
                if wasserstein:
                    eps = tf.random.uniform((tf.shape(real_judged)[0], 1))
                    mixed = eps * real_judged + (1 - eps) * fake_judged
                    with tf.GradientTape() as inner:
                        inner.watch(mixed)
                        d_mixed = disc(mixed, training=True)
                    slopes = tf.norm(inner.gradient(d_mixed, mixed) + 1e-12, axis=1)
                    loss = (tf.reduce_mean(d_fake) - tf.reduce_mean(d_real)
                            + self.gradient_penalty * tf.reduce_mean((slopes - 1.0) ** 2))
                else:
                    loss = bce(tf.ones_like(d_real), d_real) + bce(tf.zeros_like(d_fake), d_fake)
            self.d_optimizer.apply_gradients(zip(tape.gradient(loss, disc.trainable_variables),
                                                 disc.trainable_variables))
            return loss

        @tf.function
        def generator_step(real, cond):
            z = tf.random.normal((tf.shape(real)[0], self.latent_dim))
            with tf.GradientTape() as tape:
                fake = gen(with_conditions(z, cond), training=True)
                d_fake = disc(judged(fake, cond), training=True)
                adversarial = -tf.reduce_mean(d_fake) if wasserstein else bce(tf.ones_like(d_fake), d_fake)
                mass = mass_loss(fake, real)
                loss = adversarial + self.mass_weight * mass
            self.g_optimizer.apply_gradients(zip(tape.gradient(loss, gen.trainable_variables),
                                                 gen.trainable_variables))
            if decay is not None:
                for slow, fast in zip(average.trainable_variables, gen.trainable_variables):
                    slow.assign(decay * slow + (1.0 - decay) * fast)
            return loss, mass

        return discriminator_step, generator_step

    def fit(self, table: np.ndarray, conditions: np.ndarray | None = None, *, epochs: int = 100,
            batch_size: int = 256, checkpoint_every: int = 10, progress: bool = True) -> dict:
        """Train on a network table (n, 20) from the transform (and conditions (n, k) if conditional).

        Keeps the generator's weights every ``checkpoint_every`` epochs and at the end in
        ``self.checkpoints``. Returns the per-epoch history, with ``seconds``.
        """
        import tensorflow as tf

        table, conditions = self._training_input(table, conditions, epochs, batch_size, checkpoint_every)
        if batch_size % self.pack:
            raise ValueError(f"batch_size ({batch_size}) must be a multiple of pack ({self.pack})")
        if self.muon_pt_inputs:
            log_pts = self.transform.muon_log_pts_tf(tf.constant(table)).numpy()
            self._muon_pt_mean, self._muon_pt_scale = log_pts.mean(axis=0), log_pts.std(axis=0)
        set_seed(self.seed)
        dataset = (tf.data.Dataset.from_tensor_slices((table, conditions))
                   .shuffle(len(table), seed=self.seed, reshuffle_each_iteration=True)
                   .batch(batch_size, drop_remainder=True))
        discriminator_step, generator_step = self._steps()
        critic_steps = self.critic_steps if self.kind == "wgan-gp" else 1
        started = time.perf_counter()
        first = len(self.history["epoch"]) + 1
        for epoch in progress_bar(range(first, first + epochs), desc=f"training {self.kind}", unit="epoch",
                          disable=not progress):
            progress_fraction = (epoch - first) / max(epochs - 1, 1)
            rate = self.learning_rate * (self.final_learning_rate + (1 - self.final_learning_rate)
                                         * 0.5 * (1 + np.cos(np.pi * progress_fraction)))
            self.g_optimizer.learning_rate.assign(rate)
            self.d_optimizer.learning_rate.assign(rate)
            d_losses, g_losses, m_losses = [], [], []
            for step, (real, cond) in enumerate(dataset):
                d_losses.append(float(discriminator_step(real, cond)))
                if step % critic_steps == 0:
                    g_loss, m_loss = generator_step(real, cond)
                    g_losses.append(float(g_loss))
                    m_losses.append(float(m_loss))
            for key, values in (("generator_loss", g_losses), ("discriminator_loss", d_losses),
                                ("mass_loss", m_losses)):
                self.history[key].append(float(np.mean(values)))
            self.history["epoch"].append(epoch)
            if epoch % checkpoint_every == 0 or epoch == first + epochs - 1:
                self.save_checkpoint(epoch)
        return {**self.history, "seconds": time.perf_counter() - started}

    # ---- generation (the rest of the path is ``EventGenerator``'s) ----------------------------

    def _table_from_noise(self, z, conditions):
        import tensorflow as tf

        inputs = z if conditions is None else tf.concat([z, conditions], axis=1)
        return self.generator(inputs, training=False)
