"""Quality metrics, one module per topic, all importable from ``hepwb.metrics`` itself.

``classification`` (ROC curves, AUC, rejection, confusion, working points, calibration; on
sklearn.metrics), ``generative`` (KS and Wasserstein distances, FPD, KPD, tails, the classifier
two-sample test; on scipy.stats), ``anomaly`` (the TPR at a trigger's FPR, as a rate), ``robustness``
(distance correlation, Jensen-Shannon divergence, mass sculpting), ``reweighting`` (χ²/ndf, weighted KS
and effective sample size of two weighted samples), ``regression`` (response and
resolution, turn-ons, thresholds, rates). They wrap the field's libraries and write out only what those
lack, each saying why.
"""

from hepwb.metrics.anomaly import (
    anomaly_report,
    anomaly_table,
    smallest_supported_fpr,
    tpr_at_fpr,
)
from hepwb.metrics.classification import (
    ROC,
    classification_report,
    comparison_table,
    expected_calibration_error,
    rejection_at,
    reliability,
    roc,
    roc_curves,
    working_point,
)
from hepwb.metrics.generative import (
    classifier_two_sample_test,
    feature_distances,
    fpd,
    frechet_distance,
    histogram_pulls,
    kpd,
    statistics_score,
    tail_agreement,
    tail_fraction,
)
from hepwb.metrics.regression import (
    pt_agreement,
    rate_curve,
    response_resolution,
    threshold_at_efficiency,
    trigger_rate,
    turn_on,
    turn_on_fit,
)
from hepwb.metrics.reweighting import (
    agreement_table,
    chi2_ndf,
    effective_sample_size,
    weighted_ks,
)
from hepwb.metrics.robustness import (
    distance_correlation,
    jensen_shannon,
    mass_sculpting,
)

__all__ = [
    "ROC",
    "agreement_table",
    "chi2_ndf",
    "effective_sample_size",
    "weighted_ks",
    "anomaly_report",
    "anomaly_table",
    "classification_report",
    "classifier_two_sample_test",
    "comparison_table",
    "distance_correlation",
    "expected_calibration_error",
    "feature_distances",
    "fpd",
    "frechet_distance",
    "histogram_pulls",
    "jensen_shannon",
    "kpd",
    "mass_sculpting",
    "pt_agreement",
    "rate_curve",
    "rejection_at",
    "reliability",
    "response_resolution",
    "roc",
    "roc_curves",
    "smallest_supported_fpr",
    "statistics_score",
    "tail_agreement",
    "tail_fraction",
    "threshold_at_efficiency",
    "tpr_at_fpr",
    "trigger_rate",
    "turn_on",
    "turn_on_fit",
    "working_point",
]
