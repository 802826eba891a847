"""Can the keras3 stack be installed on a Python this machine does not have (3.13 by default, Colab's and
today's laptops')? pip resolves every requirement for that Python from wheels alone, without installing.

    python benchmarks/resolve_keras3.py              # or: make resolve-check
    python benchmarks/resolve_keras3.py --python-version 3.12

The requirements are pyproject's ``dependencies``, the ``keras3`` extra (``colab`` included) and ``test``.
pip runs with ``--dry-run --only-binary=:all: --python-version X --platform ...`` (manylinux tags from
2014 to 2_28, then ``any``: with one ``--platform`` nothing is found) and writes a JSON report; a
package without a wheel for that Python makes pip fail, and so this check. Prints each package with
the version pip chose; writes the list to ``--out`` (``resolve-keras3.md``/``.json``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "linux_x86_64", "any")


def requirements(stack: str = "keras3") -> list[str]:
    """pyproject's dependencies, the stack's extra (following hepwb[...] references) and the test extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def flat(name):
        for line in extras[name]:
            yield from flat(line[len("hepwb["):-1]) if line.startswith("hepwb[") else [line]

    return [*project["dependencies"], *flat(stack), *extras["test"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-version", default="3.13", help="the Python to resolve for (default 3.13)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "resolve-keras3", help="where the list goes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = requirements()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                   "--only-binary=:all:", "--python-version", args.python_version, "--implementation", "cp",
                   *[f"--platform={p}" for p in PLATFORMS], "--target", str(Path(scratch) / "target"),
                   "--report", str(report), *wanted]
        print(f"resolving {len(wanted)} requirements of the keras3 stack for CPython {args.python_version} "
              "(wheels only) ...", flush=True)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stdout + result.stderr, file=sys.stderr)
            print(f"FAILED: pip could not resolve the keras3 stack for Python {args.python_version} from wheels "
                  "(above: the package without one)", file=sys.stderr)
            return 1
        chosen = sorted((item["metadata"]["name"], item["metadata"]["version"], Path(item["download_info"]["url"]).name)
                        for item in json.loads(report.read_text())["install"])
    lines = [f"The keras3 stack resolved for CPython {args.python_version} from wheels alone: {len(chosen)} packages.",
             "", "| package | version | wheel |", "| --- | --- | --- |"]
    lines += [f"| {name} | {version} | {wheel} |" for name, version, wheel in chosen]
    text = "\n".join(lines) + "\n"
    (args.out / "resolve-keras3.md").write_text(text)
    (args.out / "resolve-keras3.json").write_text(json.dumps(
        {"python_version": args.python_version, "requirements": wanted,
         "packages": [{"name": n, "version": v, "wheel": w} for n, v, w in chosen]}, indent=2) + "\n")
    key = {"tensorflow-cpu", "keras", "hgq2", "hls4ml", "pythia8mc", "fastjet", "numpy", "conifer", "uproot"}
    print("\n".join(f"  {name} {version}" for name, version, _ in chosen if name.lower().replace("_", "-") in key))
    print(f"OK: {len(chosen)} packages, every one a wheel for CPython {args.python_version}; list: "
          f"{args.out / 'resolve-keras3.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
