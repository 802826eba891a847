"""Widgets around a classifier: live training curves, and a working point picked by signal efficiency."""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from hepwb import metrics, plotting
from hepwb.widgets.common import Described, drawing, show


class TrainingMonitor(Described, w.VBox):
    """Live loss and accuracy curves while a Keras model trains.

    Use ``monitor.callback()`` in ``model.fit(callbacks=[...])`` (or ``hepwb.models.training.train``).
    The curves are redrawn every epoch, and every ``print_every`` epochs one compact line is printed, which a
    saved notebook and papermill's log keep; when training ends, the saved one-line description states the
    epochs trained and the last values.
    """

    def __init__(self, title: str = "training", *, print_every: int = 1):
        self.title = title
        self.print_every = print_every
        self.history: dict[str, list[float]] = {}
        self.figure = None
        self.header = w.HTML(f"<b>{title}</b>")
        self.output = w.Output()
        super().__init__([self.header, self.output])
        self.add_class("hepwb-training-monitor")

    def callback(self):
        from tensorflow import keras

        monitor = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                monitor.update(epoch, logs or {})

            def on_train_end(self, logs=None):
                monitor.refresh_description()  # the saved notebook's text: the epochs trained, not 0

        return _Callback()

    def update(self, epoch: int, logs: dict) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        line = ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
        self.header.value = f"<b>{self.title}</b> &mdash; epoch {epoch + 1}: {line}"
        if (epoch + 1) % self.print_every == 0:
            print(f"{self.title} epoch {epoch + 1:3d}: {line}", flush=True)
        with drawing():
            self.figure = self.plot()
        show(self.output, self.figure)

    def describe(self) -> str:
        epochs = len(next(iter(self.history.values()), []))
        if not epochs:
            return f"training monitor of {self.title}: waiting for the first epoch"
        last = ", ".join(f"{key} {values[-1]:.4f}" for key, values in self.history.items())
        return f"training monitor of {self.title}: {epochs} epoch{'s' if epochs > 1 else ''}, last: {last}"

    def plot(self):
        """Loss and accuracy against epoch, training and validation."""
        return plotting.training_curves(self.history, self.title)


class WorkingPointPicker(Described, w.VBox):
    """Pick a class and a signal efficiency; see the threshold, background rejection and the
    fraction of each true class that the cut tags.

    ``scores``: (n_jets, n_classes) classifier outputs on a test set; ``labels``: true classes.
    """

    def __init__(self, labels, scores, classes, *, signal_class: str | None = None, signal_efficiency: float = 0.5):
        self.labels, self.scores, self.classes = np.asarray(labels), np.asarray(scores), list(classes)
        self.signal_class = w.Dropdown(options=self.classes, value=signal_class or self.classes[-1],
                                       description="signal")
        self.efficiency = w.FloatSlider(value=signal_efficiency, min=0.05, max=0.95, step=0.05,
                                        description="efficiency", readout_format=".2f")
        self.summary = w.HTML()
        self.output = w.Output()
        self.point: dict = {}
        self.figure = None
        for control in (self.signal_class, self.efficiency):
            control.observe(lambda change: self.update(), names="value")
        super().__init__([w.HBox([self.signal_class, self.efficiency]), self.summary, self.output])
        self.add_class("hepwb-working-point")
        self.update()

    def describe(self) -> str:
        return (f"working point for {self.signal_class.value} jets at signal efficiency {self.efficiency.value:.2f}: "
                f"threshold {self.point['threshold']:.3f}, rejection {self.point['background_rejection']:.1f}")

    def update(self) -> None:
        self.point = metrics.working_point(self.labels, self.scores, self.classes, self.signal_class.value,
                                                 self.efficiency.value)
        p = self.point
        self.summary.value = (f"threshold on p({self.signal_class.value}) = <b>{p['threshold']:.3f}</b>; "
                              f"signal efficiency {p['signal_efficiency']:.3f}, background efficiency "
                              f"{p['background_efficiency']:.4f}, rejection 1/ε<sub>B</sub> = "
                              f"<b>{p['background_rejection']:.1f}</b>")
        fig, ax = plotting.new_figure(figsize=(7, 4.5))
        tagged = [p["tagged_fraction_per_class"][c]["tagged"] for c in self.classes]
        colours = ["C3" if c == self.signal_class.value else "C0" for c in self.classes]
        ax.bar(self.classes, tagged, color=colours)
        ax.set_ylabel("fraction tagged")
        ax.set_ylim(0, 1)
        ax.set_title(f"jets passing p({self.signal_class.value}) ≥ {p['threshold']:.3f}", fontsize=13)
        self.figure = fig
        show(self.output, fig)

