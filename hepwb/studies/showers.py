"""Calorimeter showers: the cascade checked against the PDG's shower physics, and the generators scored and timed.

Owns: the longitudinal profile fitted with the PDG's gamma function (t_max against ln(E/E_c) + C_j), the
containment within one Moliere radius, the sampling fraction against the minimum-ionising one, the energy
resolution a/sqrt(E) (+) b against the sampling rule of thumb, and the table of the generators' scores
(FPD/KPD against the simulated-vs-simulated floor, classifier AUCs, time per shower against the cascade's).
The cascade is ``hepwb.sim.cascade``'s; the features and tests ``hepwb.metrics.showers``'.
"""

from __future__ import annotations

import warnings

import numpy as np

from hepwb.metrics import generative
from hepwb.metrics import showers as metrics_showers
from hepwb.sim import cascade

#: C_j of the PDG's t_max = ln(E / E_c) + C_j: -0.5 for an electron, +0.5 for a photon
PDG_C = {"electron": -0.5, "photon": 0.5}


def gamma_profile(t, energy, a, b):
    """The PDG's longitudinal profile dE/dt = E b (b t)^(a - 1) exp(-b t) / Gamma(a), t in radiation lengths."""
    from scipy.special import gamma

    return energy * b * (b * t) ** (a - 1) * np.exp(-b * t) / gamma(a)


def fit_longitudinal(deposits: cascade.Deposits, calorimeter=cascade.DEFAULT_CALORIMETER) -> dict:
    """The mean profile of a batch of showers of one energy (deposits in absorber and active medium per cell)
    fitted with ``gamma_profile``; t_max = (a - 1) / b [X0]; ``curve_t``, ``curve_dedt``: the fitted curve."""
    from scipy.optimize import curve_fit

    per_cell = deposits.cell_total.mean(axis=0)
    width = calorimeter.cell_mm / calorimeter.x0_mm
    t = (np.arange(calorimeter.n_cells) + 0.5) * width
    dedt = per_cell / width
    try:
        (scale, a, b), covariance = curve_fit(gamma_profile, t, dedt, p0=(max(per_cell.sum(), 1e-9), 4.0, 0.5),
                                              bounds=([0, 1.01, 0.05], [np.inf, 50, 5]))
    except (RuntimeError, ValueError):  # no shower to fit (a process switched off): no maximum
        nan = float("nan")
        return {"t": t, "dedt": dedt, "energy": nan, "a": nan, "b": nan, "t_max": nan, "t_max_error": nan,
                "curve_t": t, "curve_dedt": np.full_like(t, nan)}
    error = np.sqrt(np.diag(covariance))
    fine = np.linspace(t[0], t[-1], 300)
    return {"t": t, "dedt": dedt, "energy": scale, "a": a, "b": b, "t_max": (a - 1) / b,
            "t_max_error": float(np.hypot(error[1] / b, (a - 1) * error[2] / b**2)),
            "curve_t": fine, "curve_dedt": gamma_profile(fine, scale, a, b)}


def pdg_t_max(energy_MeV: float, particle: str = "photon", calorimeter=cascade.DEFAULT_CALORIMETER) -> float:
    """The PDG's shower maximum ln(E / E_c) + C_j [X0] with the calorimeter's critical energy."""
    return float(np.log(energy_MeV / calorimeter.critical_energy) + PDG_C[particle])


def pdg_t95(energy_MeV: float, particle: str = "photon", calorimeter=cascade.DEFAULT_CALORIMETER) -> float:
    """The PDG's depth containing 95 % of a shower, t_max + 0.08 Z + 9.6 [X0], with the mixture's mass-weighted Z."""
    w_absorber = calorimeter.absorber.density * calorimeter.absorber_mm / (
        calorimeter.absorber.density * calorimeter.absorber_mm + calorimeter.active.density * calorimeter.active_mm)
    z = w_absorber * calorimeter.absorber.Z + (1 - w_absorber) * calorimeter.active.Z
    return pdg_t_max(energy_MeV, particle, calorimeter) + 0.08 * z + 9.6


def physics_checks(energies_MeV=(2_000, 8_000, 32_000), *, showers: int = 40, particle: str = "photon",
                   calorimeter=cascade.DEFAULT_CALORIMETER, seed: int = 5, switched_off=()) -> dict:
    """Simulate ``showers`` at each energy and compare with the PDG: t_max, containment within R_M, sampling
    fraction, resolution. Returns a table (one row per energy) and the resolution fit."""
    rows, per_energy = [], {}
    for k, energy in enumerate(energies_MeV):
        deposits = cascade.simulate(np.full(showers, float(energy)), particle=particle, calorimeter=calorimeter,
                                    seed=[seed, k], switched_off=switched_off)
        fit = fit_longitudinal(deposits, calorimeter)
        expected = pdg_t_max(energy, particle, calorimeter)
        sampling = deposits.active / np.maximum(deposits.active + deposits.absorber, 1e-12)
        active = np.maximum(deposits.active, 1e-12)
        rows.append({"energy_GeV": energy / 1000, "t_max_X0": fit["t_max"], "pdg_t_max_X0": expected,
                     "t_max_ratio": fit["t_max"] / expected, "pdg_t95_X0": pdg_t95(energy, particle, calorimeter),
                     "moliere_containment": float(np.mean(deposits.within_moliere / active)),
                     "moliere_containment_with_absorber": float(np.mean(
                         deposits.within_moliere_total / np.maximum(deposits.active + deposits.absorber, 1e-12))),
                     "sampling_fraction": float(sampling.mean()),
                     "e_over_mip": float(sampling.mean() / calorimeter.mip_sampling_fraction),
                     "resolution": float(deposits.active.std() / max(deposits.active.mean(), 1e-12)),
                     "leakage": float(np.mean(deposits.leaked / deposits.incident)),
                     "seconds_per_shower": deposits.seconds / showers})
        per_energy[energy] = {"deposits": deposits, "fit": fit}
    resolution = fit_resolution(rows, calorimeter)
    return {"rows": rows, "resolution_fit": resolution, "per_energy": per_energy,
            "failed_checks": failed_checks(rows, resolution, calorimeter)}


def failed_checks(rows, resolution: dict, calorimeter=cascade.DEFAULT_CALORIMETER) -> list[str]:
    """The PDG checks a row misses, one line each: t_max within 10 % of ln(E/E_c) + C_j; >= 90 % of the active
    energy within R_M; e/mip between 0.6 and 0.85; at most 5 % leaking where the calorimeter is deeper than the
    PDG's t_95; a stochastic term within a factor 2 of the rule of thumb (a rough rule: sampling fluctuations
    alone, from data of many calorimeters)."""
    failures = []
    for row in rows:
        at = f"at {row['energy_GeV']:g} GeV"
        if not abs(row["t_max_ratio"] - 1) <= 0.10:
            failures.append(f"t_max {at}: {row['t_max_ratio']:.2f} of the PDG's")
        if not row["moliere_containment"] >= 0.90:
            failures.append(f"containment within R_M {at}: {row['moliere_containment']:.3f}")
        if not 0.6 < row["e_over_mip"] < 0.85:
            failures.append(f"e/mip {at}: {row['e_over_mip']:.2f}")
        if calorimeter.depth_x0 >= row["pdg_t95_X0"] and not row["leakage"] <= 0.05:
            failures.append(f"leakage {at}: {row['leakage']:.3f} in {calorimeter.depth_x0:.1f} X0")
    ratio = resolution["stochastic"] / resolution["rule_of_thumb_stochastic"]
    if not 0.5 < ratio < 2.0:
        failures.append(f"stochastic term: {ratio:.2f} of the rule of thumb's")
    return failures


def fit_resolution(rows, calorimeter=cascade.DEFAULT_CALORIMETER) -> dict:
    """sigma/E = a / sqrt(E [GeV]) (+) b fitted to the rows' resolutions, and the sampling calorimeters' rule of
    thumb a = 2.7 % sqrt(d / f_mip) (d: active layer thickness in mm; Fabjan and Gianotti, Rev. Mod. Phys. 75)."""
    from scipy.optimize import curve_fit

    energy = np.array([r["energy_GeV"] for r in rows])
    resolution = np.array([r["resolution"] for r in rows])

    def model(e, a, b):
        return np.hypot(a / np.sqrt(e), b)

    from scipy.optimize import OptimizeWarning

    try:
        with warnings.catch_warnings():  # two energies for two parameters: no covariance, and none is used
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, b), _ = curve_fit(model, energy, resolution, p0=(0.1, 0.01), bounds=([0, 0], [1, 0.2]))
    except (RuntimeError, ValueError):
        a = b = float("nan")
    rule = 0.027 * np.sqrt(calorimeter.active_mm / calorimeter.mip_sampling_fraction)
    return {"stochastic": float(a), "constant": float(b), "rule_of_thumb_stochastic": float(rule)}


def cascade_seconds_per_shower(energies, *, seed: int = 9) -> float:
    """The cascade's time per shower [s] at these incident ``energies`` [MeV], all followed together."""
    deposits = cascade.simulate(np.asarray(energies, dtype=float), readout=cascade.SHOWER_READOUT, seed=seed)
    return deposits.seconds / len(energies)


def high_level_table(sample_energies, showers, binning) -> np.ndarray:
    """The high-level features FPD and KPD compare: the challenge's high-level classifier inputs without
    log10 E_inc, which both samples share (log10 E_layer, centres and widths in x and y)."""
    return metrics_showers.classifier_inputs(sample_energies, showers, binning, "high")[:, 1:]


def score_generators(test, generated: dict, *, dnn: dict | None = None, seed: int = 1) -> dict:
    """Score generated showers against the simulated test showers the CaloChallenge's way.

    ``generated``: model -> showers (n_test, n_voxels) made at the test showers' energies. FPD and KPD compare
    the first half of the test showers with the generated showers of the second half's energies; the floor is
    the first half against the second (two simulated samples). The classifier tests (``dnn``:
    ``metrics.showers.dnn_two_sample_test`` settings) compare all test showers with all generated ones.
    Returns ``distances`` (one row per model and the floor) and ``aucs`` (one row per model and input).
    """
    import pandas as pd

    binning, half = test.binning, len(test) // 2
    first = high_level_table(test.energies[:half], test.showers[:half], binning)
    others = {"simulated (floor)": test.showers[half:], **{m: s[half:] for m, s in generated.items()}}
    distances, aucs = [], []
    for name, showers in others.items():
        table = high_level_table(test.energies[half:], showers, binning)
        fpd, fpd_error = generative.fpd(first, table)
        kpd, kpd_error = generative.kpd(first, table, batch_size=min(2000, half))
        distances.append({"model": name, "fpd": fpd, "fpd_error": fpd_error, "kpd": kpd, "kpd_error": kpd_error})
    for name, showers in generated.items():
        for kind in ("voxels", "high"):
            result = metrics_showers.dnn_two_sample_test(
                metrics_showers.classifier_inputs(test.energies, test.showers, binning, kind),
                metrics_showers.classifier_inputs(test.energies, showers, binning, kind), seed=seed, **(dnn or {}))
            aucs.append({"model": name, "input": "voxels" if kind == "voxels" else "high-level", **result})
    distances = pd.DataFrame(distances)
    floor = distances["fpd"].iloc[0]
    distances["fpd_over_floor"] = distances["fpd"] / max(floor, 1e-12)
    return {"distances": distances, "aucs": pd.DataFrame(aucs)}
