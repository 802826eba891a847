"""Plots and fits: histograms, ratio panels, and peak fits that recover known parameters."""

from __future__ import annotations

import numpy as np
import pytest

from hepwb import fit, plotting


def test_histogram_flattens_jagged_input_and_drops_nan():
    import awkward as ak

    h = plotting.histogram(ak.Array([[1.0, 2.0], [], [3.0, np.nan]]), bins=3, range=(0.5, 3.5))
    assert h.values().tolist() == [1, 1, 1]


def test_ratio_panel_is_two_for_double_counts_and_one_for_double_densities():
    values = np.random.default_rng(0).normal(size=10_000)
    single = plotting.histogram(values, bins=20, range=(-3, 3))
    double = plotting.histogram(np.concatenate([values, values]), bins=20, range=(-3, 3))
    for density, expected in ((False, 2.0), (True, 1.0)):
        fig = plotting.compare({"reference": single, "twice": double}, reference="reference", density=density)
        main, ratio = fig.axes
        points = ratio.lines[0].get_ydata()  # the errorbar markers of "twice"
        assert np.isfinite(points).sum() == 20  # every bin has a ratio: none may hide as NaN
        assert np.allclose(points, expected)
        assert len(main.get_legend().get_texts()) == 2
    with pytest.raises(KeyError, match="reference 'nope' is not among"):
        plotting.compare({"a": single}, reference="nope")


def test_voigt_fit_recovers_z_mass_and_width():
    rng = np.random.default_rng(1)
    n = 40_000
    mass = 91.19 + 2.495 / 2 * rng.standard_cauchy(n) + rng.normal(0, 1.0, n)
    background = 60 + rng.exponential(30, 4000)
    h = plotting.histogram(np.concatenate([mass, background]), bins=60, range=(60, 120))
    result = fit.fit_peak(h, model="voigt", window=(70, 112), mass_guess=90)
    assert result.mass == pytest.approx(91.19, abs=3 * result.mass_error + 0.02)
    assert result.width == pytest.approx(2.495, rel=0.1)
    assert result.resolution == pytest.approx(1.0, rel=0.2)


def test_gauss_fit_and_bad_inputs():
    rng = np.random.default_rng(2)
    h = plotting.histogram(rng.normal(80, 5, 20_000), bins=60, range=(0, 250))
    result = fit.fit_peak(h, model="gauss", window=(60, 100), mass_guess=75)
    assert result.mass == pytest.approx(80, abs=0.3) and result.width == pytest.approx(5, rel=0.1)
    with pytest.raises(ValueError, match="model must be 'voigt' or 'gauss'"):
        fit.fit_peak(h, model="landau")
    with pytest.raises(ValueError, match="too few entries"):
        fit.fit_peak(h, window=(200, 250))
