"""What every sample shares: rows of arrays, a subset of them, and the one split into train / validation / test."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np


@dataclasses.dataclass
class Sample:
    """Base of hepwb's samples: dataclasses whose NumPy-array fields hold one row per jet or event.

    ``len(sample)`` is the number of rows; ``subset(index)`` takes those rows of every array field and
    keeps the other fields (class names, source) as they are. A subclass with labels names them in
    ``stratify_by``, so that ``split`` keeps the class proportions in every part.
    """

    #: the array field whose values every part of ``split`` keeps in proportion (None: a plain random split)
    stratify_by: ClassVar[str | None] = None

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}

    def __len__(self) -> int:
        arrays = self._arrays()
        return len(next(iter(arrays.values()))) if arrays else 0

    def subset(self, index):
        """The rows ``index`` (integers or a boolean mask) of every array field, as a sample of the same kind."""
        return dataclasses.replace(self, **{name: array[index] for name, array in self._arrays().items()})


def split(sample: Sample, fractions=(0.6, 0.2, 0.2), *, seed: int = 1) -> tuple:
    """Random parts of ``sample`` in the given fractions (two or three, summing to 1), fixed by ``seed``.

    ``(0.6, 0.2, 0.2)`` gives train, validation and test. A sample with labels (``stratify_by``) keeps the
    class proportions in every part (scikit-learn's ``train_test_split``, the last part split off first);
    any other is cut from one random permutation.
    """
    fractions = tuple(fractions)
    if len(fractions) not in (2, 3) or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be two or three positive numbers that sum to 1, got {fractions}")
    if sample.stratify_by is None:
        order = np.random.default_rng(seed).permutation(len(sample))
        parts = np.split(order, (np.cumsum(fractions[:-1]) * len(sample)).astype(int))
    else:
        from sklearn.model_selection import train_test_split

        labels = getattr(sample, sample.stratify_by)
        rest, parts = np.arange(len(sample)), []
        for k in range(len(fractions) - 1, 0, -1):
            rest, part = train_test_split(rest, test_size=fractions[k] / sum(fractions[:k + 1]),
                                          stratify=labels[rest], random_state=seed)
            parts.insert(0, part)
        parts.insert(0, rest)
    return tuple(sample.subset(part) for part in parts)
