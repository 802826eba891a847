"""What each model of a trigger lesson costs in firmware, side by side: the tables of ``04_trigger_fpga``
(the tagger, float / pruned / quantized) and ``06_trigger_regression`` (the LUT, network and BDT
calibrations), built from ``hepwb.fpga``'s counts and estimates. Latencies are in clock cycles and in
nanoseconds at ``constants.FPGA_CLOCK_MHZ``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepwb import fpga
from hepwb.constants import CLOCK_PERIOD_NS

#: the LUT calibration's latency: find the raw-ET and |ieta| bins, read the factor, multiply
LUT_LATENCY_CYCLES = 3


def tagger_costs(models: dict, bits: dict[str, int], reuse_factors=(1, 2, 4)) -> pd.DataFrame:
    """Estimated FPGA cost of each model at each reuse factor: BOPs (firmware and Baskin counts),
    multipliers and latency (``fpga.firmware_bops``, ``bops``, ``multipliers``, ``latency_estimate``).

    ``bits[name]`` is the fixed-point width of that model's weights and activations (16 for float
    models, which become ap_fixed<16,6> firmware). One row per (model, reuse factor).
    """
    rows = []
    for name, model in models.items():
        firmware, baskin = fpga.firmware_bops(model, bits[name])["bops"], fpga.bops(model, bits[name], bits[name])
        for reuse in reuse_factors:
            latency = fpga.latency_estimate(model, reuse_factor=reuse)
            rows.append({"model": name, "reuse factor": reuse, "firmware BOPs": firmware, "Baskin BOPs": baskin,
                         "multipliers": sum(m["multipliers"] for m in fpga.multipliers(model, reuse)),
                         "latency [cycles]": latency["cycles"], "latency [ns]": latency["nanoseconds"]})
    return pd.DataFrame(rows)


def calibration_costs(lut, network, bdt, conifer_model, resolution: dict[str, float],
                      agreement: dict[str, float]) -> pd.DataFrame:
    """The three calibrations of 06 in firmware: resolution, agreement with their software, latency and
    resources, one row each ("LUT", "network → hls4ml", "BDT → conifer").

    ``lut``: the fitted ``models.regression.LUTCalibration``; ``network``: the quantized regressor (its latency
    plus one cycle for the multiplication by the raw ET); ``bdt`` and ``conifer_model``: the boosted trees and
    their conifer conversion (conifer's own latency and LUT estimates). ``resolution``: the resolution at
    100 GeV of "LUT", "quantized" and "BDT"; ``agreement``: the fraction of jets on which firmware and software
    agree, of "network → hls4ml" and "BDT → conifer".
    """
    trees = fpga.bdt_cost(bdt, conifer_model)
    cycles = {"LUT": LUT_LATENCY_CYCLES, "network → hls4ml": fpga.latency_estimate(network)["cycles"] + 1,
              "BDT → conifer": trees["conifer_latency_cycles"]}
    rows = {
        "LUT": {"resolution at 100 GeV": resolution["LUT"], "firmware agreement": np.nan, "multipliers": 1,
                "comparators": len(lut.et_edges) + len(lut.ieta_edges) - 4, "conifer LUT estimate": np.nan},
        "network → hls4ml": {"resolution at 100 GeV": resolution["quantized"],
                             "firmware agreement": agreement["network → hls4ml"],
                             "multipliers": sum(m["multipliers"] for m in fpga.multipliers(network)) + 1,
                             "comparators": 0, "conifer LUT estimate": np.nan},
        "BDT → conifer": {"resolution at 100 GeV": resolution["BDT"], "firmware agreement": agreement["BDT → conifer"],
                          "multipliers": 1, "comparators": trees["comparators"],
                          "conifer LUT estimate": trees["conifer_lut"]},
    }
    for name, row in rows.items():
        row.update({"latency [cycles]": cycles[name], "latency [ns]": cycles[name] * CLOCK_PERIOD_NS})
    return pd.DataFrame.from_dict(rows, orient="index")  # one row per calibration, counts as integers
