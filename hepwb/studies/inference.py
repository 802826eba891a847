"""What a likelihood says: the fit, the expected significance and limits, the CLs scan, the impact ranking,
and pseudo-experiments (pseudo-data, toys for coverage), on pyhf models of ``hepwb.studies.measurement``'s
workspaces; cabinetry where it does the job, pyhf's hypothesis tests and fits where it does not.
"""

from __future__ import annotations

import logging

import numpy as np

from hepwb import quiet
from hepwb.progress import progress_bar
from hepwb.studies.measurement import Templates, workspace

#: Minuit's convergence goal (EDM < 0.002 x tolerance), RooFit's default: with pyhf's tighter 0.1 the refits of
#: the impact ranking and of toys fail now and then at a minimum that is already found
FIT_TOLERANCE = 1.0

def _fit_or_none(data, model, **options):
    """pyhf's maximum-likelihood fit; where Minuit calls its minimum invalid, once more with its most careful
    strategy (2: a full Hesse matrix at every step), which rescues nearly all such fits; None if that fails too."""
    import pyhf

    try:
        return pyhf.infer.mle.fit(data, model, **options)
    except pyhf.exceptions.FailedMinimization:
        try:
            return pyhf.infer.mle.fit(data, model, strategy=2, **options)
        except pyhf.exceptions.FailedMinimization:
            return None


def model_and_data(spec: dict):
    """(pyhf model, data with auxiliary data) of a workspace specification, minuit as the minimiser."""
    import cabinetry
    import pyhf

    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=FIT_TOLERANCE))
    quiet.minuit_messages()
    quiet.mathtext_fallbacks()  # cabinetry's figures
    return cabinetry.model_utils.model_and_data(spec)



def expected_sensitivity(templates: Templates, *, systematics: bool = True, mc_stat: bool = True) -> dict:
    """The expected (Asimov, mu = 1) discovery significance [sigma] (cabinetry), the expected 95 % CL upper
    limit on mu (CLs; median and the ±1 sigma band, ``expected_limits``) and the expected uncertainty on mu
    (half the MINOS interval)."""
    import cabinetry

    model, data = model_and_data(workspace(templates, systematics=systematics, mc_stat=mc_stat))
    significance = cabinetry.fit.significance(model, data, tolerance=FIT_TOLERANCE)
    # MINOS (where -2 ln L rises by one): Hesse's curvature at these minima moved by up to 40 % with Minuit's strategy
    down, up = cabinetry.fit.fit(model, data, tolerance=FIT_TOLERANCE, minos=["mu"]).minos_uncertainty["mu"]
    sigma_mu = float((up - down) / 2)
    return {"significance": float(significance.observed_significance), **expected_limits(model),
            "mu_uncertainty": sigma_mu}


def expected_limits(model, *, iterations: int = 3) -> dict:
    """The expected 95 % CL CLs upper limits on mu (median, ``limit``; ±1 sigma, ``limit_band``) in the
    asymptotic approximation pyhf's hypotests use (Cowan, Cranmer, Gross, Vitells, Eur. Phys. J. C 71 (2011)
    1554): band N's limit is where the background-only Asimov data's q~_mu reaches (N - Phi^-1(0.05 Phi(N)))².
    Solved by iterating mu <- mu x target / sqrt(q~_mu) (q grows like mu²): about ten fits per model instead of
    the ~50 of a scan of hypotests (``cls_scan``), to the scan's interpolation precision."""
    import cabinetry
    import pyhf
    from scipy.stats import norm

    poi = model.config.poi_index
    background_only = cabinetry.model_utils.asimov_data(model, poi_value=0.0)
    bounds = model.config.suggested_bounds()
    bounds[poi] = (-50.0, 50.0)  # no bound at zero, where Hesse's uncertainty would be meaningless
    sigma = float(cabinetry.fit.fit(model, background_only, par_bounds=bounds,
                                    tolerance=FIT_TOLERANCE).uncertainty[poi])
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=FIT_TOLERANCE))
    bounds[poi] = (0.0, max(50.0, 20 * sigma))

    def sqrt_q(mu):
        return np.sqrt(max(float(pyhf.infer.test_statistics.qmu_tilde(
            mu, background_only, model, model.config.suggested_init(), bounds, model.config.suggested_fixed())), 1e-12))

    limits = {}
    for n in (-1, 0, 1):
        target = n - norm.ppf(0.05 * norm.cdf(n))
        mu = target * sigma
        for _ in range(iterations):
            mu *= target / sqrt_q(mu)
        limits[n] = float(mu)
    return {"limit": limits[0], "limit_band": [limits[-1], limits[1]]}


def coverage(model, *, n_toys: int = 200, mu_true: float = 1.0, seed: int = 1) -> dict:
    """How often the fit's 68 % interval mu_hat ± sigma_hat (Hesse) contains ``mu_true``, over ``n_toys``
    pseudo-experiments drawn from the model at ``mu_true`` (main and auxiliary data both fluctuated).

    Returns the fraction covered, its binomial error, and the arrays (n_toys,) of mu_hat and sigma_hat.
    """
    import pyhf

    if not isinstance(n_toys, int) or n_toys < 10:
        raise ValueError(f"n_toys must be an integer >= 10, got {n_toys!r}")
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = mu_true
    np.random.seed(seed)  # pyhf's numpy backend draws with numpy's global generator (scipy.stats)
    toys = np.asarray(model.make_pdf(pyhf.tensorlib.astensor(pars)).sample((n_toys,)))
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=FIT_TOLERANCE))
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (mu_true - 10.0, mu_true + 10.0)  # no bound at zero: mu_hat may fluctuate below
    mu_hat, sigma_hat = np.full(n_toys, np.nan), np.full(n_toys, np.nan)
    pyhf_log = logging.getLogger("pyhf")
    level, pyhf_log.level = pyhf_log.level, logging.CRITICAL  # a failed toy fit is counted, not printed
    try:
        for i in progress_bar(range(n_toys), desc="toy fits"):
            result = _fit_or_none(toys[i], model, par_bounds=bounds, return_uncertainties=True)
            if result is None:
                continue
            mu_hat[i], sigma_hat[i] = result[model.config.poi_index]
    finally:
        pyhf_log.level = level
    ok = np.isfinite(mu_hat)
    covered = np.abs(mu_hat[ok] - mu_true) <= sigma_hat[ok]
    fraction = float(covered.mean())
    return {"fraction": fraction, "error": float(np.sqrt(fraction * (1 - fraction) / ok.sum())),
            "failed_fits": int((~ok).sum()), "mu_hat": mu_hat, "sigma_hat": sigma_hat, "mu_true": mu_true}


def pseudo_data(model, pulled: dict[str, float] | None = None, *, mu: float = 1.0, seed: int = 1) -> np.ndarray:
    """Counts (bins,) drawn from Poisson distributions around the model's prediction at signal strength
    ``mu`` with the nuisance parameters in ``pulled`` moved (e.g. ``{"pythia_tune": 1.0}``: the world of the
    A14 tune as the model describes it): pseudo-data that, like real data, is not the nominal simulation."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = mu
    for name, value in (pulled or {}).items():
        if name not in model.config.parameters:
            raise ValueError(f"no parameter {name!r}; the model has {model.config.parameters}")
        pars[model.config.par_slice(name)] = value
    return np.random.default_rng(seed).poisson(np.asarray(model.expected_actualdata(pars))).astype(float)


def method_table(templates: dict[str, Templates]):
    """Expected significance, 95 % CL limit on mu and its uncertainty per observable (``templates``: method
    name -> Templates), with statistical uncertainties only (data and simulation) and with systematics.
    A pandas DataFrame, one row per method."""
    import pandas as pd

    rows = []
    for method, t in progress_bar(templates.items(), desc="expected fits", total=len(templates)):
        stat, full = expected_sensitivity(t, systematics=False), expected_sensitivity(t, systematics=True)
        rows.append({"method": method, "significance (stat.)": stat["significance"],
                     "significance (syst.)": full["significance"], "limit (stat.)": stat["limit"],
                     "limit (syst.)": full["limit"], "mu uncertainty (stat.)": stat["mu_uncertainty"],
                     "mu uncertainty (syst.)": full["mu_uncertainty"]})
    return pd.DataFrame(rows).set_index("method")


def cls_scan(model, data, scan, *, expected_data=None) -> dict:
    """pyhf's CLs hypothesis test at each mu of ``scan`` (observed and the expected median, ±1 and ±2 sigma),
    and the 95 % CL upper limits where each crosses 0.05. A point whose fits fail (also with Minuit's most
    careful strategy) is left out and counted; the limits interpolate between the others.

    pyhf takes the expected bands from Asimov data made with the nuisance parameters of the background-only
    fit to ``data``; with a strong signal in the data that fit is poor and the bands with it. ``expected_data``
    (e.g. the background-only Asimov data of the model's own prediction) gives the bands instead.

    Returns ``scan`` and ``results`` as ``pyhf.contrib.viz.brazil.plot_results`` takes them, ``observed`` and
    ``expected`` (5 limits, the pyhf order of its expected set), and ``failed`` (points left out).
    """
    import pyhf

    def hypotest(mu, counts):
        for strategy in (None, 2):
            pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=FIT_TOLERANCE,
                                                                     strategy=strategy))
            try:
                return pyhf.infer.hypotest(mu, counts, model, test_stat="qtilde", return_expected_set=True)
            except pyhf.exceptions.FailedMinimization:
                continue
        return None

    kept, results = [], []
    pyhf_log = logging.getLogger("pyhf")
    level, pyhf_log.level = pyhf_log.level, logging.CRITICAL  # a failed point is counted, not printed
    try:
        for mu in progress_bar(np.asarray(scan, dtype=float), desc="CLs scan"):
            observed = hypotest(mu, data)
            expected = observed if expected_data is None or observed is None else hypotest(mu, expected_data)
            if observed is None or expected is None:
                continue
            kept.append(mu)
            results.append((float(observed[0]), [float(e) for e in expected[1]]))
    finally:
        pyhf_log.level = level
        pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=FIT_TOLERANCE))
    if len(kept) < 2:
        raise RuntimeError(f"the CLs scan failed at {len(scan) - len(kept)} of {len(scan)} points; widen or move it")
    kept = np.asarray(kept)
    observed = np.asarray([r[0] for r in results])
    expected = np.asarray([r[1] for r in results])  # (points, 5)

    def crossing(cls_values):  # CLs falls about exponentially with mu: interpolated in log(CLs)
        return float(np.interp(np.log(0.05), np.log(np.maximum(cls_values[::-1], 1e-300)), kept[::-1]))

    return {"scan": kept, "results": results, "observed": crossing(observed),
            "expected": [crossing(expected[:, k]) for k in range(5)], "failed": len(scan) - len(kept)}


def impact_ranking(model, data, fit_results):
    """The impact of each nuisance parameter on mu, as ``cabinetry.fit.ranking`` computes it (mu refitted with
    the parameter held at its best value ± its pre-fit and its post-fit uncertainty), returned as cabinetry's
    ``RankingResults`` for ``cabinetry.visualize.ranking``. Written out because cabinetry's ranking stops at the
    first refit that fails (a statistical gamma held one sigma away, now and then): each refit here starts from
    the best fit, then from the model's initial values, and a parameter whose refits both fail is left out
    (``failed`` counts them)."""
    import cabinetry
    import pyhf

    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, tolerance=FIT_TOLERANCE))
    poi, best, post = model.config.poi_index, fit_results.bestfit, fit_results.uncertainty
    prefit = cabinetry.model_utils.prefit_uncertainties(model)
    fixed, bounds = model.config.suggested_fixed(), model.config.suggested_bounds()

    def refit_mu(index, value):
        held = list(fixed)
        held[index] = True
        for start in (list(best), list(model.config.suggested_init())):
            start[index] = value
            fitted = _fit_or_none(data, model, init_pars=start, fixed_params=held, par_bounds=bounds)
            if fitted is not None:
                return float(fitted[poi])
        return np.nan

    rows, failed = [], 0
    pyhf_log = logging.getLogger("pyhf")
    level, pyhf_log.level = pyhf_log.level, logging.CRITICAL  # a failed refit is counted, not printed
    try:
        for i in progress_bar(range(len(best)), desc="impacts"):
            if i == poi or fixed[i]:
                continue
            values = (best[i] + prefit[i], best[i] - prefit[i], best[i] + post[i], best[i] - post[i])
            impacts = [refit_mu(i, v) - best[poi] if v != best[i] else 0.0 for v in values]
            if np.all(np.isfinite(impacts)):
                rows.append((i, impacts))
            else:
                failed += 1
    finally:
        pyhf_log.level = level
    rows.sort(key=lambda row: -max(abs(row[1][2]), abs(row[1][3])))
    index = [i for i, _ in rows]
    impacts = np.asarray([r for _, r in rows]).reshape(-1, 4)
    ranking = cabinetry.fit.results_containers.RankingResults(
        best[index], post[index], [fit_results.labels[i] for i in index], *impacts.T)
    return ranking, failed
