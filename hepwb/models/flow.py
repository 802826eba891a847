"""A normalizing flow of analysis-level events for fast simulation (neural spline flow, Keras 2).

Owns: the flow — Gaussian noise z (n, 20) mapped to the network table of
``hepwb.samples.events.EventTransform`` by coupling layers, each of which moves half of the columns through
monotonic rational-quadratic splines (Durkan et al. 2019, "Neural Spline Flows") whose knots an MLP
computes from the other half (and from the conditions); its training by maximum likelihood, and
sampling in one pass through the layers (no sequential, autoregressive step on the generation path). The
generation path, checkpoints and scoring are ``hepwb.models.fastsim``'s, the same as the GAN's.
"""

from __future__ import annotations

import time

import numpy as np

from hepwb.models.fastsim import EventGenerator
from hepwb.models.training import set_seed
from hepwb.progress import progress_bar


def _mlp(n_inputs: int, n_outputs: int, hidden, name: str):
    """ReLU MLP with a zero-initialised linear output: every spline starts as the identity."""
    from tensorflow import keras

    inputs = keras.Input((n_inputs,))
    x = inputs
    for units in hidden:
        x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(n_outputs, kernel_initializer="zeros", bias_initializer="zeros")(x)
    return keras.Model(inputs, outputs, name=name)


def rational_quadratic_spline(x, widths, heights, slopes, bound: float, *, inverse: bool = False):
    """Monotonic rational-quadratic spline (Durkan et al. 2019, eqs. 4-8), element by element.

    x (batch, d); widths, heights (K, batch, d) summing to 2 bound over the bins; slopes (K - 1, batch, d) at
    the inner knots (1 at the outer two, so the spline joins the identity outside [-bound, bound] smoothly).
    Returns (y, log|dy/dx|) for the forward map, or with ``inverse`` (x, log|dx/dy|) given y.
    Written here rather than with tensorflow-probability's ``RationalQuadraticSpline`` because that one
    (searchsorted and gathers over the bin axis) took 2.6 s per 100 000 events on one core, ten times the
    GAN: here the K bins are a short Python loop of element-wise selections on contiguous (batch, d) slices
    (the bin axis first), which XLA fuses; 4 ms per layer and 10 000 events on one core.
    """
    import tensorflow as tf

    n_bins = widths.shape[0]
    widths, heights, slopes = tf.unstack(widths), tf.unstack(heights), tf.unstack(slopes)
    ones = tf.ones_like(x)
    derivatives = [ones, *slopes, ones]
    x_knots, y_knots = [-bound * ones], [-bound * ones]
    for w, h in zip(widths[:-1], heights[:-1]):
        x_knots.append(x_knots[-1] + w)
        y_knots.append(y_knots[-1] + h)
    inside = tf.abs(x) < bound
    value = tf.clip_by_value(x, -bound, bound)
    knots = y_knots if inverse else x_knots
    # the bin of each element: the last knot at or below it
    x_k, y_k, w, h, d_k, d_k1 = x_knots[0], y_knots[0], widths[0], heights[0], derivatives[0], derivatives[1]
    for k in range(1, n_bins):
        above = value >= knots[k]
        x_k, y_k = tf.where(above, x_knots[k], x_k), tf.where(above, y_knots[k], y_k)
        w, h = tf.where(above, widths[k], w), tf.where(above, heights[k], h)
        d_k, d_k1 = tf.where(above, derivatives[k], d_k), tf.where(above, derivatives[k + 1], d_k1)
    s = h / w
    curvature = d_k1 + d_k - 2 * s
    if inverse:
        dy = value - y_k
        a = h * (s - d_k) + dy * curvature
        b = h * d_k - dy * curvature
        c = -s * dy
        xi = tf.clip_by_value(2 * c / (-b - tf.sqrt(tf.maximum(b * b - 4 * a * c, 0.0))), 0.0, 1.0)
        out = x_k + xi * w
    else:
        xi = tf.clip_by_value((value - x_k) / w, 0.0, 1.0)
        out = y_k + h * (s * xi**2 + d_k * xi * (1 - xi)) / (s + curvature * xi * (1 - xi))
    mix = xi * (1 - xi)
    log_slope = (2 * tf.math.log(s) + tf.math.log(d_k1 * xi**2 + 2 * s * mix + d_k * (1 - xi) ** 2)
                 - 2 * tf.math.log(s + curvature * mix))
    out = tf.where(inside, out, x)
    log_det = tf.where(inside, -log_slope if inverse else log_slope, tf.zeros_like(x))
    return out, log_det


class SplineFlow:
    """The bijection table <-> noise: ``n_layers`` coupling layers with rational-quadratic splines.

    The layers come in pairs: a fixed random half of the columns (drawn from ``seed``) conditions the
    splines of the other half, then the roles swap, so every column is transformed in every pair. A
    spline has ``bins`` bins on [-bound, bound] and is the identity outside; the flow sees each table column
    divided by ``column_scale`` (set by ``fit_scale``), so that the training range lies inside the splines'
    (a standardised column can reach 15: the dimuon mass's tails around its narrow peak).
    ``model`` is one Keras model holding every conditioner's weights (checkpoints save and load it).
    """

    MIN_BIN = 1e-3  # smallest bin width and height, in units of the table
    MIN_SLOPE = 1e-3

    def __init__(self, n_features: int, n_conditions: int = 0, *, n_layers: int = 6, hidden=(64, 64),
                 bins: int = 4, bound: float = 6.0, seed: int = 1):
        import tensorflow as tf
        from tensorflow import keras

        if n_layers < 2 or n_layers % 2:
            raise ValueError(f"n_layers must be an even number >= 2 (the layers come in pairs), got {n_layers}")
        if bins < 2 or bound <= 0:
            raise ValueError(f"bins must be >= 2 and bound > 0, got {bins}, {bound}")
        self.n_features, self.n_conditions, self.bins, self.bound = n_features, n_conditions, bins, float(bound)
        rng = np.random.default_rng(seed)
        half = n_features // 2
        # per pair: a fixed random order of the columns (a permutation matrix: one matmul, which XLA does
        # faster than a gather); its first half conditions the second's splines, then the roles swap
        self.orders = [rng.permutation(n_features) for _ in range(n_layers // 2)]
        self.permutations = [np.eye(n_features, dtype=np.float32)[:, order] for order in self.orders]
        sizes = [(half, n_features - half), (n_features - half, half)] * (n_layers // 2)  # (given, moved)
        self.conditioners = [_mlp(given + n_conditions, moved * (3 * bins - 1), hidden, f"coupling_{k}")
                             for k, (given, moved) in enumerate(sizes)]
        inputs = [keras.Input((given + n_conditions,)) for given, _ in sizes]
        self.model = keras.Model(inputs, [net(x) for net, x in zip(self.conditioners, inputs)], name="spline_flow")
        self.column_scale = tf.Variable(np.ones(n_features, np.float32), trainable=False, name="column_scale")

    def fit_scale(self, table: np.ndarray, *, margin: float = 0.8) -> None:
        """Scale each column whose training values (n, n_features) reach beyond ``margin`` * bound back inside."""
        reach = np.max(np.abs(table), axis=0) / (margin * self.bound)
        self.column_scale.assign(np.maximum(reach, 1.0).astype(np.float32))

    def _spline_parameters(self, parameters, n_moved: int):
        """Bin widths, heights (bins, batch, n_moved) and inner knot slopes (bins - 1, batch, n_moved)
        from a conditioner's output (batch, (3 bins - 1) * n_moved); all zeros give the identity."""
        import tensorflow as tf

        k, bound = self.bins, self.bound
        p = tf.transpose(tf.reshape(parameters, (-1, 3 * k - 1, n_moved)), (1, 0, 2))
        # positive link (u + sqrt(u^2 + 4)) / 2: 1 at u = 0, ~u for large u, ~1/|u| for large negative u;
        # algebraic rather than exp/softplus, as transcendental functions dominated the sampling time
        positive = (p + tf.sqrt(p * p + 4.0)) / 2
        widths, heights = positive[:k], positive[k:2 * k]
        widths = self.MIN_BIN + (2 * bound - k * self.MIN_BIN) * widths / tf.reduce_sum(widths, 0)
        heights = self.MIN_BIN + (2 * bound - k * self.MIN_BIN) * heights / tf.reduce_sum(heights, 0)
        slopes = self.MIN_SLOPE + (1 - self.MIN_SLOPE) * positive[2 * k:]
        return widths, heights, slopes

    def _knots(self, layer: int, given, conditions, n_moved: int):
        import tensorflow as tf

        inputs = given if conditions is None else tf.concat([given, conditions], axis=1)
        return self._spline_parameters(self.conditioners[layer](inputs), n_moved)

    def sample(self, z, conditions=None):
        """Noise (batch, n_features) -> table (batch, n_features): the generation direction."""
        import tensorflow as tf

        half, x = self.n_features // 2, z
        for pair, permutation in enumerate(self.permutations):
            x = tf.matmul(x, permutation)
            first, second = x[:, :half], x[:, half:]
            second = rational_quadratic_spline(second, *self._knots(2 * pair, first, conditions, second.shape[1]),
                                               self.bound)[0]
            first = rational_quadratic_spline(first, *self._knots(2 * pair + 1, second, conditions, half),
                                              self.bound)[0]
            x = tf.matmul(tf.concat([first, second], axis=1), permutation, transpose_b=True)
        return x * self.column_scale

    def log_prob(self, x, conditions=None):
        """log density of table rows (batch, n_features) under the flow, (batch,): base density + log|dz/dx|."""
        import tensorflow as tf

        half = self.n_features // 2
        x = x / self.column_scale
        log_det = tf.zeros(tf.shape(x)[:1]) - tf.reduce_sum(tf.math.log(self.column_scale))
        for pair in reversed(range(len(self.permutations))):
            x = tf.matmul(x, self.permutations[pair])
            first, second = x[:, :half], x[:, half:]
            first, first_log_det = rational_quadratic_spline(
                first, *self._knots(2 * pair + 1, second, conditions, half), self.bound, inverse=True)
            second, second_log_det = rational_quadratic_spline(
                second, *self._knots(2 * pair, first, conditions, second.shape[1]), self.bound, inverse=True)
            log_det += tf.reduce_sum(first_log_det, axis=1) + tf.reduce_sum(second_log_det, axis=1)
            x = tf.matmul(tf.concat([first, second], axis=1), self.permutations[pair], transpose_b=True)
        base = -0.5 * tf.reduce_sum(x**2, axis=1) - 0.5 * self.n_features * float(np.log(2 * np.pi))
        return base + log_det


class EventFlow(EventGenerator):
    """A generator of analysis-level events: a spline flow trained by maximum likelihood on the network table.

    Parameters
    ----------
    transform : a fitted ``hepwb.samples.events.EventTransform``; the flow models its table (n, 20).
    n_layers, hidden, bins, bound : the ``SplineFlow``: coupling layers (even), each conditioner's hidden
        layers, spline bins on [-bound, bound] (standardised units).
    n_conditions : number of conditioning inputs (0: unconditional), given to every conditioner.
    learning_rate, final_learning_rate : Adam's rate falls along a cosine to this fraction of it over ``fit``.
    circle_spread : ``fit`` moves the table's (cos, sin) pairs off the unit circle by up to this fraction
        (``EventTransform.spread_circles``): on the circle the likelihood has no maximum, and the flow spent
        its training squeezing onto it (classifier AUC 0.572 -> 0.523, seed 1, 60 epochs); 0 switches it off.
    ema_decay : the checkpoints and ``generate`` use an exponential moving average of the trained weights
        (Polyak averaging; the decay is min(ema_decay, (1 + step) / (10 + step)), so that a short training
        does not average in the untrained flow): the narrow Z peak made KS(m_ll) of successive checkpoints
        jump between 0.009 and 0.06 without it. None generates with the trained weights themselves.
    """

    label = "FLOW"

    def __init__(self, transform, *, n_layers: int = 6, hidden=(64, 64), bins: int = 4, bound: float = 6.0,
                 n_conditions: int = 0, learning_rate: float = 1e-3, final_learning_rate: float = 0.05,
                 circle_spread: float = 0.2, ema_decay: float | None = 0.999, jit_compile: bool = True, seed: int = 1):
        import tensorflow as tf
        from tensorflow import keras

        super().__init__()
        set_seed(seed)
        self.transform, self.n_conditions, self.seed = transform, n_conditions, seed
        self.learning_rate, self.final_learning_rate = learning_rate, final_learning_rate
        self.circle_spread, self.jit_compile = circle_spread, jit_compile
        def spline_flow():  # the same seed: the same column orders
            return SplineFlow(transform.n_outputs, n_conditions, n_layers=n_layers, hidden=hidden, bins=bins,
                              bound=bound, seed=seed)

        self.trained_flow = spline_flow()
        self.flow, self.ema_decay = self.trained_flow, ema_decay  # what generates
        if ema_decay is not None:
            self.flow = spline_flow()
            self.flow.model.set_weights(self.trained_flow.model.get_weights())
        self._steps_taken = tf.Variable(0.0, trainable=False)
        self.network, self.noise_dim = self.flow.model, transform.n_outputs
        self.optimizer = keras.optimizers.Adam(learning_rate, clipnorm=5.0)
        self.history: dict[str, list[float]] = {"epoch": [], "train_nll": [], "validation_nll": []}

    def _step(self):
        import tensorflow as tf

        trained, average, optimizer = self.trained_flow, self.flow, self.optimizer
        variables = trained.model.trainable_variables
        conditional, decay, steps = self.n_conditions > 0, self.ema_decay, self._steps_taken

        @tf.function(jit_compile=self.jit_compile)
        def train_step(x, c):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(trained.log_prob(x, c if conditional else None))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            if decay is not None:
                steps.assign_add(1.0)
                rate = tf.minimum(decay, (1.0 + steps) / (10.0 + steps))
                for slow, fast in zip(average.model.trainable_variables, variables):
                    slow.assign(rate * slow + (1.0 - rate) * fast)
            return loss

        @tf.function
        def nll(x, c):  # of the flow that generates
            return -tf.reduce_mean(average.log_prob(x, c if conditional else None))

        return train_step, nll

    def fit(self, table: np.ndarray, conditions: np.ndarray | None = None, *, epochs: int = 50,
            batch_size: int = 512, checkpoint_every: int = 5, validation=None, progress: bool = True) -> dict:
        """Train on a network table (n, 20) (and conditions (n, k) if conditional) by maximum likelihood.

        ``validation``: (table, conditions) whose mean negative log-likelihood is recorded each epoch.
        Keeps the weights every ``checkpoint_every`` epochs and at the end in ``self.checkpoints``.
        Returns the per-epoch history (mean NLL per event, in nats), with ``seconds``.
        """
        import tensorflow as tf

        table, conditions = self._training_input(table, conditions, epochs, batch_size, checkpoint_every)
        if self.circle_spread:
            table = self.transform.spread_circles(table, spread=self.circle_spread, seed=self.seed)
        set_seed(self.seed)
        dataset = (tf.data.Dataset.from_tensor_slices((table, conditions))
                   .shuffle(len(table), seed=self.seed, reshuffle_each_iteration=True)
                   .batch(batch_size, drop_remainder=True))
        if validation is not None:
            val_table = np.asarray(validation[0], dtype=np.float32)
            if self.circle_spread:
                val_table = self.transform.spread_circles(val_table, spread=self.circle_spread, seed=self.seed + 1)
            val_table = tf.constant(val_table)
            val_conditions = tf.constant(np.zeros((len(val_table), 0), np.float32) if validation[1] is None
                                         else np.asarray(validation[1], dtype=np.float32))
        self.trained_flow.fit_scale(table)
        self.flow.fit_scale(table)
        train_step, nll = self._step()
        started = time.perf_counter()
        first = len(self.history["epoch"]) + 1
        for epoch in progress_bar(range(first, first + epochs), desc="training flow", unit="epoch",
                                  disable=not progress):
            fraction = (epoch - first) / max(epochs - 1, 1)
            self.optimizer.learning_rate.assign(self.learning_rate * (
                self.final_learning_rate + (1 - self.final_learning_rate) * 0.5 * (1 + np.cos(np.pi * fraction))))
            losses = [float(train_step(x, c)) for x, c in dataset]
            self.history["epoch"].append(epoch)
            self.history["train_nll"].append(float(np.mean(losses)))
            self.history["validation_nll"].append(float(nll(val_table, val_conditions)) if validation is not None
                                                  else float("nan"))
            if epoch % checkpoint_every == 0 or epoch == first + epochs - 1:
                self.save_checkpoint(epoch)
        return {**self.history, "seconds": time.perf_counter() - started}

    def _table_from_noise(self, z, conditions):
        return self.flow.sample(z, conditions)


#: what ``EventFlow.fit`` takes from a notebook's flow settings, beside ``EventFlow``'s own arguments
TRAINING_SETTINGS = ("epochs", "batch_size", "checkpoint_every")


def from_settings(transform, settings: dict, *, n_conditions: int = 0, seed: int = 1) -> tuple[EventFlow, dict]:
    """An ``EventFlow`` built from a settings dictionary (a notebook's ``flow_settings``), and the keyword
    arguments its ``fit`` takes from the same dictionary.

    ``settings``: any of ``EventFlow``'s keyword arguments (n_layers, hidden, bins, bound, learning_rate, ...)
    and ``TRAINING_SETTINGS``; an unknown name is refused with the accepted ones.
    """
    import inspect

    allowed = set(inspect.signature(EventFlow).parameters) - {"transform", "n_conditions", "seed"}
    unknown = sorted(set(settings) - allowed - set(TRAINING_SETTINGS))
    if unknown:
        raise ValueError(f"unknown flow settings {unknown}; "
                         f"expected some of {sorted(allowed | set(TRAINING_SETTINGS))}")
    architecture = {k: v for k, v in settings.items() if k not in TRAINING_SETTINGS}
    if "hidden" in architecture:
        architecture["hidden"] = tuple(architecture["hidden"])
    model = EventFlow(transform, n_conditions=n_conditions, seed=seed, **architecture)
    return model, {k: v for k, v in settings.items() if k in TRAINING_SETTINGS}
