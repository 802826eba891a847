"""Do the notebooks tell the same story on both stacks? Every notebook's headline metrics at the school
preset on ``keras3``, against their seed-to-seed spread on ``keras2``.

    .venv-keras2/bin/hepwb run --out results/stacks/keras2-seed1 -p seed=1    # and seed=2, seed=3
    .venv-keras3/bin/hepwb run --out results/stacks/keras3-seed1 -p seed=1
    python benchmarks/stacks.py                                               # -> results/stacks/stacks.md

A folder ``STACK-seedN`` holds one ``hepwb run`` (a ``metrics.json`` per notebook). For each headline metric
the table gives the keras2 mean and standard deviation over its seeds, the keras3 value(s), and whether the
keras3 mean lies within two keras2 standard deviations of the keras2 mean ("within spread"). Timings and
memory are left out: they measure the machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE_DEPENDENT = re.compile(r"seconds|per_second|speed_up|peak_memory")


def headlines(folder: Path) -> dict[str, dict[str, float]]:
    """{notebook: {metric: value}} of one run's headline metrics."""
    found = {}
    for path in sorted(folder.glob("*/metrics.json")):
        metrics = json.loads(path.read_text())
        found[path.parent.name] = {k: float(v) for k, v in metrics.get("headline", {}).items()
                                   if isinstance(v, (int, float)) and not MACHINE_DEPENDENT.search(k)}
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "stacks", help="the STACK-seedN folders")
    args = parser.parse_args(argv)
    runs = {stack: [headlines(folder) for folder in sorted(args.runs.glob(f"{stack}-seed*"))]
            for stack in ("keras2", "keras3")}
    if len(runs["keras2"]) < 2 or not runs["keras3"]:
        sys.exit(f"{args.runs} needs keras2-seedN folders of two seeds or more and a keras3-seedN folder (see --help)")
    lines = [f"Headline metrics at the school preset: keras2 over {len(runs['keras2'])} seeds, keras3 over "
             f"{len(runs['keras3'])}.", "",
             "| notebook | metric | keras2 mean ± std | keras3 | within spread |", "| --- | --- | ---: | ---: | --- |"]
    within = []
    for notebook in sorted(runs["keras2"][0]):
        for metric in runs["keras2"][0][notebook]:
            old = [run[notebook][metric] for run in runs["keras2"] if metric in run.get(notebook, {})]
            new = [run[notebook][metric] for run in runs["keras3"] if metric in run.get(notebook, {})]
            if len(old) < 2 or not new:
                continue
            mean, spread = statistics.mean(old), statistics.stdev(old)
            # where nothing varies between seeds, equal to 1e-4 (the fits run on NumPy 1 and NumPy 2)
            ok = abs(statistics.mean(new) - mean) <= max(2 * spread, 1e-4 * abs(mean))
            within.append(ok)
            lines.append(f"| {notebook} | {metric} | {mean:.4g} ± {spread:.2g} | "
                         f"{', '.join(f'{v:.4g}' for v in new)} | {'yes' if ok else 'no'} |")
    lines += ["", f"{sum(within)} of {len(within)} metrics of keras3 within two keras2 standard deviations."]
    text = "\n".join(lines) + "\n"
    (args.runs / "stacks.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
