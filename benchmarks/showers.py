"""Benchmark: the electromagnetic cascade against the PDG's shower physics, and its time per shower.

    python benchmarks/showers.py [--energies 1 2 4 8 16 32 64] [--showers 100] [--out docs/results/showers-physics.json]

In one process pinned to one core (``hepwb.environment.one_cpu_core``), ``--showers`` photons at each energy
through ``hepwb.sim.cascade``'s default calorimeter (``hepwb.studies.showers.physics_checks``): the fitted shower
maximum against ln(E/E_c) + 0.5, the active energy within one Moliere radius, the sampling fraction and e/mip, the
leakage, the resolution and its fit a/sqrt(E) (+) b against the rule of thumb, the seconds per shower; then the
same checks with each process switched off in turn (20 showers at 4, 16 and 32 GeV), to show which check
each process is needed for.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import pandas as pd

from hepwb.environment import one_cpu_core
from hepwb.sim import cascade
from hepwb.studies import showers as shower_study


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--energies", type=float, nargs="+", default=[1, 2, 4, 8, 16, 32, 64], help="GeV")
    parser.add_argument("--showers", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("docs/results/showers-physics.json"))
    args = parser.parse_args(argv)
    with one_cpu_core() as pinning:
        checks = shower_study.physics_checks([1000 * e for e in args.energies], showers=args.showers, seed=1)
        switched = {process: shower_study.physics_checks((4000, 16000, 32000), showers=20, seed=1,
                                                         switched_off=(process,))["failed_checks"]
                    for process in cascade.PROCESSES}
    table = pd.DataFrame(checks["rows"]).set_index("energy_GeV")
    print(table.round(4).to_string())
    print("resolution:", {k: round(v, 4) for k, v in checks["resolution_fit"].items()})
    print("failed checks:", checks["failed_checks"] or "none")
    for process, failures in switched.items():
        print(f"without {process}: {len(failures)} checks fail, e.g. {failures[:2]}")
    result = {"command": "python benchmarks/showers.py " + " ".join(argv or []),
              "pinned_to_one_core": pinning["pinned"],
              "machine": platform.processor() or platform.machine(), "showers_per_energy": args.showers,
              "calorimeter": cascade.DEFAULT_CALORIMETER.describe(), "rows": checks["rows"],
              "resolution_fit": checks["resolution_fit"], "failed_checks": checks["failed_checks"],
              "failed_checks_with_a_process_switched_off": switched}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return result


if __name__ == "__main__":
    main()
