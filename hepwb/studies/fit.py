"""Binned peak fits: a resonance line shape on a smooth background, with scipy.

Owns: the Z-peak fit (Breit-Wigner convolved with a Gaussian resolution, i.e. a Voigt profile,
scipy.special.voigt_profile) and a Gaussian-peak fit for jet-mass peaks, each on an exponential
background, by least squares on the bin contents with Poisson errors (scipy.optimize.curve_fit).
"""

from __future__ import annotations

from dataclasses import dataclass

import hist
import numpy as np
from scipy.optimize import curve_fit
from scipy.special import voigt_profile

#: the fewest entries of each dataset (``max_events``) with which 00's Z and jet-mass peak fits work: about
#: 200 jets per class, of which the fit windows keep the 20 or more a fit needs
MIN_ENTRIES_FOR_PEAK_FITS = 1000


def check_max_events(max_events: int | None) -> None:
    """One line, before anything is read, for a ``max_events`` too small for the peak fits (None: all)."""
    if max_events is not None and max_events < MIN_ENTRIES_FOR_PEAK_FITS:
        raise ValueError(f"max_events={max_events} is too few for the mass-peak fits: use max_events >= "
                         f"{MIN_ENTRIES_FOR_PEAK_FITS} (about 200 jets of each class) or None (all entries)")


@dataclass
class PeakFit:
    """Result of a peak fit; masses and widths in the histogram's unit (GeV)."""

    model: str
    mass: float
    mass_error: float
    width: float  # Breit-Wigner full width Gamma (Voigt) or Gaussian sigma
    width_error: float
    resolution: float  # Gaussian sigma of the Voigt (0 for the Gaussian model)
    signal_fraction: float
    chi2_ndf: float
    x: np.ndarray  # bin centres used in the fit
    curve: np.ndarray  # fitted expected counts at x

    def as_dict(self) -> dict:
        return {k: float(v) for k, v in self.__dict__.items() if k not in ("x", "curve", "model")}


def _voigt(x, n_sig, mass, gamma, sigma, n_bkg, slope, bin_width):
    return n_sig * bin_width * voigt_profile(x - mass, sigma, gamma / 2) + n_bkg * bin_width * np.exp(-slope * x)


def _gauss(x, n_sig, mass, sigma, n_bkg, slope, bin_width):
    signal = np.exp(-0.5 * ((x - mass) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
    return n_sig * bin_width * signal + n_bkg * bin_width * np.exp(-slope * x)


def fit_peak(h: hist.Hist, *, model: str = "voigt", window: tuple[float, float] | None = None,
             mass_guess: float | None = None, width_guess: float = 3.0, fixed_gamma: float | None = None) -> PeakFit:
    """Fit a peak in a 1D histogram.

    Parameters
    ----------
    h : 1D hist.Hist of counts.
    model : "voigt" (Breit-Wigner (x) Gaussian, for the Z) or "gauss" (for reconstructed jet masses).
    window : (lo, hi) fit range; defaults to the whole axis.
    mass_guess : starting peak position (default: the fullest bin).
    width_guess : starting width (GeV).
    fixed_gamma : for "voigt", fix the natural width (e.g. 2.4952 GeV for the Z) and fit only the
        resolution; None fits both.
    """
    if model not in ("voigt", "gauss"):
        raise ValueError(f"model must be 'voigt' or 'gauss', got {model!r}")
    x = h.axes[0].centers
    y = h.values()
    lo, hi = window if window is not None else (h.axes[0].edges[0], h.axes[0].edges[-1])
    sel = (x >= lo) & (x <= hi)
    x, y = x[sel], y[sel]
    if y.sum() < 20:
        raise ValueError(f"too few entries ({y.sum():.0f}) in the fit window {lo}-{hi} to fit a peak")
    bin_width = float(np.diff(h.axes[0].edges).mean())
    sigma_y = np.sqrt(np.maximum(y, 1.0))
    mass0 = mass_guess if mass_guess is not None else x[np.argmax(y)]
    total = y.sum() / bin_width
    scale = (lo + hi) / 2
    if model == "voigt":
        if fixed_gamma is not None:
            def func(xx, n_sig, mass, sigma, n_bkg, slope):
                return _voigt(xx, n_sig, mass, fixed_gamma, sigma, n_bkg, slope, bin_width)
            p0 = [0.9 * total, mass0, width_guess / 2, 0.1 * total * np.exp(0.01 * scale), 0.01]
        else:
            def func(xx, n_sig, mass, gamma, sigma, n_bkg, slope):
                return _voigt(xx, n_sig, mass, gamma, sigma, n_bkg, slope, bin_width)
            p0 = [0.9 * total, mass0, width_guess, width_guess / 2, 0.1 * total * np.exp(0.01 * scale), 0.01]
    else:
        def func(xx, n_sig, mass, sigma, n_bkg, slope):
            return _gauss(xx, n_sig, mass, sigma, n_bkg, slope, bin_width)
        p0 = [0.6 * total, mass0, width_guess, 0.4 * total * np.exp(0.01 * scale), 0.01]
    bounds_lo = [0, lo, *([1e-3] * (len(p0) - 4)), 0, -1.0]
    bounds_hi = [np.inf, hi, *([np.inf] * (len(p0) - 4)), np.inf, 1.0]
    params, cov = curve_fit(func, x, y, p0=p0, sigma=sigma_y, absolute_sigma=True,
                            bounds=(bounds_lo, bounds_hi), maxfev=20000)
    errors = np.sqrt(np.diag(cov))
    curve = func(x, *params)
    chi2 = float((((y - curve) / sigma_y) ** 2).sum())
    ndf = max(len(x) - len(params), 1)
    if model == "voigt" and fixed_gamma is None:
        width, width_err, resolution = params[2], errors[2], params[3]
    elif model == "voigt":
        width, width_err, resolution = fixed_gamma, 0.0, params[2]
    else:
        width, width_err, resolution = params[2], errors[2], 0.0
    n_bkg_in_window = np.sum(params[len(params) - 2] * bin_width * np.exp(-params[-1] * x))
    return PeakFit(model=model, mass=float(params[1]), mass_error=float(errors[1]), width=float(width),
                   width_error=float(width_err), resolution=float(resolution),
                   signal_fraction=float(1 - n_bkg_in_window / max(curve.sum(), 1e-9)),
                   chi2_ndf=chi2 / ndf, x=x, curve=curve)


def draw_fit(ax, fit: PeakFit, *, unit: str = "GeV", color: str = "C3") -> None:
    """Overlay the fitted curve on ``ax`` with its parameters in the legend."""
    text = f"fit: m = {fit.mass:.2f} ± {fit.mass_error:.2f} {unit}"
    if fit.model == "voigt":
        text += f"\nΓ = {fit.width:.2f} {unit}, σ = {fit.resolution:.2f} {unit}"
    else:
        text += f"\nσ = {fit.width:.1f} {unit}"
    ax.plot(fit.x, fit.curve, color=color, lw=2, label=text)
    if ax.get_yscale() == "linear":  # headroom above the peak, so that the three-line legend sits over empty space
        ax.set_ylim(0, ax.get_ylim()[1] * 1.5)
    ax.legend(loc="upper right", fontsize=11)
