"""Benchmark: the cross-section of each jet class's process, and the share with a selected jet.

    python benchmarks/cross_sections.py [--events 2000] [--out docs/results/jet-cross-sections.json]

Pythia's sigmaGen in the jets' pT-hat window (900-1100 GeV, hadronic decays of W, Z and top) times the
fraction of events with a jet passing the jets recipe's selection (``hepwb.sim.recipes.jets.selected_cross_section``):
``hepwb.studies.measurement.SELECTED_CROSS_SECTIONS_FB`` holds these numbers, rounded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hepwb.sim.recipes.jets import JET_CLASSES, selected_cross_section


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="generated events per class")
    parser.add_argument("--out", type=Path, default=Path("docs/results/jet-cross-sections.json"))
    args = parser.parse_args(argv)
    rows = {}
    for jet_class in JET_CLASSES:
        rows[jet_class] = selected_cross_section(jet_class, args.events)
        print(jet_class, {k: round(v, 4) for k, v in rows[jet_class].items()})
    result = {"command": "python benchmarks/cross_sections.py " + " ".join(argv or []), "events": args.events,
              "classes": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return result


if __name__ == "__main__":
    main()
