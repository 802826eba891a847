"""The ``hepwb`` command line: ``hepwb generate``, ``hepwb run``, ``hepwb scan``, ``hepwb results``, ``hepwb datasets``.

Each command imports its room of ``hepwb.run`` only when it runs: Pythia, FastJet, papermill and Dask
load for the command that needs them, and ``hepwb --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hepwb.constants import SCHOOL_EVENTS


def _parameter(text: str) -> tuple[str, object]:
    """``key=value`` -> (key, value), the value parsed as YAML (numbers, booleans, lists)."""
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hepwb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="generate a dataset with Pythia 8 + detector + FastJet into ROOT")
    gen.add_argument("name", help="dataset recipe: jets, zmumu, l1_events, l1_jets or tracks")
    gen.add_argument("--events", type=_positive_int, default=None,
                     help="total events to store (default: the committed size: "
                          + ", ".join(f"{name} {n}" for name, n in SCHOOL_EVENTS.items()) + ")")
    gen.add_argument("--seed", type=int, default=1, help="random seed (same seed, same events, any --workers)")
    gen.add_argument("--workers", type=_positive_int, default=1, help="local worker processes (Dask LocalCluster)")
    gen.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    gen.add_argument("--out", type=Path, default=None,
                     help="output ROOT file (default: data/cache/NAME-EVENTS-seedSEED.root)")
    gen.add_argument("--format", choices=("ttree", "rntuple"), default="ttree",
                     help="ttree (default) or rntuple, ROOT's columnar successor of the TTree (same names and arrays)")
    gen.add_argument("--compression", choices=("lzma", "zstd", "lz4"), default="lzma",
                     help="lzma (default: smallest files) or zstd / lz4 "
                          "(~50x faster to write: for large productions on a cluster)")
    gen.add_argument("--detector", type=_parameter, action="append", default=[], metavar="PARAMETER=VALUE",
                     help="change a detector parameter, e.g. calorimeter_energy_scale=1.05 (repeatable; jets only)")
    gen.add_argument("--pythia", action="append", default=[], metavar="SETTING",
                     help='an extra Pythia setting, e.g. "Tune:pp = 21" (repeatable; jets only)')
    gen.add_argument("--particle-level", action="store_true",
                     help="no detector: generated particles are the jet constituents (jets only)")
    gen.add_argument("--pileup", type=float, default=None, metavar="MU",
                     help="mean number of pileup interactions (tracks only; default 10)")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")

    run = commands.add_parser("run", help="run notebooks headless with papermill and summarise their metrics")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebook in notebooks/)")
    run.add_argument("--preset", choices=("smoke", "school", "full"), default="school")
    run.add_argument("--out", type=Path, default=Path("results"), help="output directory (default: results)")
    run.add_argument("-p", "--parameter", type=_parameter, action="append", default=[], metavar="KEY=VALUE",
                     help="override a notebook parameter (repeatable)")
    run.add_argument("--scheduler", default=None, help="run the notebooks as tasks on this Dask scheduler")

    scan = commands.add_parser("scan", help="run a notebook over a grid of parameters (papermill tasks on Dask)")
    scan.add_argument("notebook", help="the notebook to scan, e.g. 04_trigger_fpga")
    scan.add_argument("-p", "--parameter", type=_parameter, action="append", default=[], metavar="KEY=VALUE",
                      help="a parameter: a list (bits=[4,6,8]) is scanned, anything else fixed (repeatable; "
                           "the grid is every combination)")
    scan.add_argument("--points", type=Path, default=None,
                      help="a YAML file with an explicit list of points (each a mapping of parameters) "
                           "instead of a grid")
    scan.add_argument("--preset", choices=("smoke", "school", "full"), default="school")
    scan.add_argument("--seeds", type=_positive_int, default=None, help="run each point with seed = 1 .. N")
    scan.add_argument("--out", type=Path, default=None, help="the scan's folder (default: results/scans/NOTEBOOK)")
    where = scan.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=1, help="local worker processes (Dask LocalCluster)")
    where.add_argument("--scheduler", default=None,
                       help="address of an existing Dask scheduler; its workers must share --out with this machine")
    scan.add_argument("--metric", default=None,
                      help="the metric drawn against each parameter (default: the first headline metric)")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")

    results = commands.add_parser("results", help="write docs/results.md from the summary of a hepwb run")
    results.add_argument("run_dir", type=Path, help="the --out folder of a run, e.g. results/full")
    results.add_argument("--page", type=Path, default=None, help="the page to write (default: docs/results.md)")

    commands.add_parser("datasets", help="list the datasets the manifests know")
    return parser


def _exit_on_terminate() -> None:
    """SIGTERM (a batch system's kill, ``kill PID``) ends the command as Ctrl-C does: through its clean-up,
    so that no temporary file, worker or kernel is left behind. Python's default would skip the clean-up."""
    import signal

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # the command line, not a test calling main([...])
        _exit_on_terminate()
    if args.command == "generate":
        from hepwb.run.generate import generate  # lazy: Pythia and FastJet, for this command only
        from hepwb.sim.recipes import Variation  # lazy: FastJet, for this command only

        events = args.events or SCHOOL_EVENTS.get(args.name, 10_000)
        try:
            changed = args.detector or args.pythia or args.particle_level
            variation = Variation(dict(args.detector), tuple(args.pythia), args.particle_level) if changed else None
            path = generate(args.name, events, seed=args.seed, workers=args.workers, scheduler=args.scheduler,
                            output=args.out, progress=not args.no_progress, format=args.format, variation=variation,
                            compression=args.compression,
                            options=None if args.pileup is None else {"pileup_mu": args.pileup})
        except (ValueError, OSError) as error:  # a bad request or an output folder that cannot be written
            print(f"hepwb generate: {error}", file=sys.stderr)
            return 2
        print(f"wrote {path} (manifest entry in {path.parent / 'manifest.json'})")
        return 0
    if args.command == "run":
        from hepwb.run.batch import print_summary, run_notebooks  # lazy: for this command only

        try:
            results = run_notebooks(args.notebooks or None, preset=args.preset, out_dir=args.out,
                                    parameters=dict(args.parameter), scheduler=args.scheduler)
        except (ValueError, OSError) as error:  # bad parameters or an output folder that cannot be written
            print(f"hepwb run: {error}", file=sys.stderr)
            return 2
        print_summary(results, args.out)
        failed = [r for r in results if r["status"] != "ok"]
        for r in failed:
            print(f"FAILED: {r['notebook']}: {r['error']}", file=sys.stderr)
        return 1 if failed else 0
    if args.command == "scan":
        return _scan(args)
    if args.command == "results":
        from hepwb.run import results as results_page  # lazy: for this command only

        try:
            page = results_page.write_page(args.run_dir, **({"page": args.page} if args.page else {}))
        except (OSError, KeyError, ValueError) as error:
            print(f"hepwb results: {error}", file=sys.stderr)
            return 2
        print(f"wrote {page} and {results_page.SUMMARY_COPY}")
        return 0
    if args.command == "datasets":
        from hepwb.data import list_datasets  # lazy: uproot, for this command only

        for name, path in list_datasets().items():
            print(f"{name:20s} {path}")
        return 0
    return 2


def _read_points(path: Path) -> list:
    """The points of ``--points``: a YAML list of mappings (checked by hepwb.run.scan.plan_points)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path}: not valid YAML{where} ({getattr(error, 'problem', None) or error}); "
                         "expected a list of points such as '- {bits: 4, seed: 1}'") from None


def _scan(args) -> int:
    from hepwb.run.scan import run_scan  # lazy: papermill and Dask, for this command only

    try:
        points = _read_points(args.points) if args.points else None
        results = run_scan(args.notebook, dict(args.parameter), preset=args.preset, seeds=args.seeds, points=points,
                           out_dir=args.out, workers=args.workers, scheduler=args.scheduler, metric=args.metric,
                           progress=not args.no_progress)
    except (ValueError, OSError, KeyError) as error:  # bad parameters, points, folder or metric
        print(f"hepwb scan: {error.args[0] if isinstance(error, KeyError) else error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, SystemExit):
        print("hepwb scan: interrupted; the finished points are kept: run the same command again to run the rest",
              file=sys.stderr)
        raise
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
