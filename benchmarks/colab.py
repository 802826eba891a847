"""Does the workbench run on Google Colab? Build an environment with Colab's own TensorFlow and Keras, let
the notebooks' Colab cell install hepwb the way it does there, and run every notebook at the school preset.

    python benchmarks/colab.py                   # or: make colab-check
    python benchmarks/colab.py --notebooks 00_root_data --keep

Colab (runtime of 2026, googlecolab/colabtools#5489 and #6081) brings Python 3.13, TensorFlow 2.19.0,
Keras 3.10.0 and NumPy 2.0.2 preinstalled. This machine has its own Python (3.11 here: the 3.13 wheels are
checked by ``benchmarks/resolve_keras3.py``); the rest is Colab's: a virtual environment gets
``tensorflow-cpu==2.19.0 keras==3.10.0 numpy==2.0.2`` plus ipykernel and papermill (the driver), and a
``google.colab`` module imported at start-up, as on Colab. Then a one-cell notebook with the notebooks'
Colab cell runs first: it clones this repository's last commit (``HEPWB_REPOSITORY``) into
``content/hepwb`` (``HEPWB_CLONE``) and ``pip install -e .[colab]``s it, as on Colab (the row "install").
Each notebook then runs from ``content/`` with papermill, its Colab cell moving into the clone; time,
CPU time and the peak memory of the process tree are measured (Colab's free machine: 2 CPUs, ~12 GB).
Prints a table and writes it to ``--out`` (``colab-check.md``/``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from binder import NOTEBOOKS, MemoryCgroup, _minutes, run_measured  # same folder: the Binder check's tools

ROOT = Path(__file__).resolve().parent.parent
#: what Colab has preinstalled (tensorflow there; its CPU twin here, the same code without CUDA)
COLAB_PACKAGES = ("tensorflow-cpu==2.19.0", "keras==3.10.0", "numpy==2.0.2", "ipykernel", "papermill")
BUDGET_SECONDS = 4 * 60


def colab_environment(work: Path, log) -> Path:
    """A venv with Colab's preinstalled versions and a ``google.colab`` imported at start-up; its python."""
    env = work / "colab-env"
    python = env / "bin" / "python"
    for step in ([sys.executable, "-m", "venv", str(env)],
                 [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                 [str(python), "-m", "pip", "install", "--quiet", *COLAB_PACKAGES]):
        print(f"  $ {' '.join(step)}", flush=True)
        if subprocess.run(step, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
            sys.exit(f"building the Colab-like environment failed at: {' '.join(step)} (log: {log.name})")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
    stand_in = '"""Stands in for Colab\'s own module (benchmarks/colab.py)."""\n'
    (site / "google" / "colab" / "__init__.py").write_text(stand_in)
    (site / "hepwb_colab_emulation.pth").write_text("import google.colab\n")  # Colab's kernels import it at start
    return python


def colab_cell_notebook(path: Path) -> Path:
    """A notebook holding only 00_root_data's Colab cell (every notebook has the same one); plain JSON, as
    this script runs outside hepwb's environment."""
    notebook = json.loads((ROOT / "notebooks" / "00_root_data.ipynb").read_text())
    notebook["cells"] = [c for c in notebook["cells"] if "colab" in c["metadata"].get("tags", [])]
    path.write_text(json.dumps(notebook, indent=1))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git repository to clone (default: this one)")
    parser.add_argument("--notebooks", nargs="*", default=list(NOTEBOOKS), help="notebooks to run, in this order")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "colab-check", help="where the table goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary environment and clone")
    args = parser.parse_args(argv)
    unknown = [n for n in args.notebooks if n not in NOTEBOOKS]
    if unknown:
        parser.error(f"unknown notebooks {unknown}; choose from {list(NOTEBOOKS)}")
    work = Path(tempfile.mkdtemp(prefix="hepwb-colab-"))
    content, executed = work / "content", work / "executed"
    content.mkdir()
    executed.mkdir()
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "colab-check.log"
    no_limit = MemoryCgroup(None)  # measure only: Colab's limit is its machine's memory
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo, capture_output=True, text=True,
                            check=True).stdout.strip()
    env = {**os.environ, "HEPWB_REPOSITORY": f"file://{args.repo.resolve()}", "HEPWB_CLONE": str(content / "hepwb")}
    rows = []
    try:
        with log_path.open("w") as log:
            print(f"building a Colab-like environment ({', '.join(COLAB_PACKAGES[:3])}) in {work}", flush=True)
            started = time.time()
            python = colab_environment(work, log)
            build_seconds = time.time() - started
            runs = [("install", colab_cell_notebook(work / "colab_cell.ipynb"))]
            runs += [(name, args.repo / "notebooks" / f"{name}.ipynb") for name in args.notebooks]
            for name, notebook in runs:
                print(f"running {name} ...", flush=True)
                command = [str(python), "-m", "papermill", "--no-progress-bar", "--cwd", str(content), str(notebook),
                           str(executed / notebook.name)]
                measured = run_measured(command, content, no_limit, log, env)
                ok = measured["exit_code"] == 0
                status = ("ok" if measured["wall_seconds"] <= BUDGET_SECONDS or name == "install" else "over budget"
                          ) if ok else "failed"
                rows.append({"notebook": name, "status": status, **measured})
                print(f"  {status}: {_minutes(measured['wall_seconds'])}, {measured['peak_tree_rss_gb']:.2f} GB",
                      flush=True)
                if name == "install" and not ok:
                    break
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    versions = f"Python {sys.version.split()[0]}, {', '.join(COLAB_PACKAGES[:3])} preinstalled"
    header = (f"Colab check of commit {commit}: {versions}, environment built in {_minutes(build_seconds)}; "
              f"hepwb installed by the notebooks' Colab cell (row 'install'); school preset, not pinned.\n\n")
    text = header + _table(rows)
    (args.out / "colab-check.md").write_text(text)
    (args.out / "colab-check.json").write_text(json.dumps({"commit": commit, "python": sys.version.split()[0],
                                                           "preinstalled": COLAB_PACKAGES[:3], "notebooks": rows},
                                                          indent=2) + "\n")
    print()
    print(text)
    print(f"details: {args.out / 'colab-check.json'}; log: {log_path}")
    return 0 if rows and all(r["status"] == "ok" for r in rows) else 1


def _table(rows: list[dict]) -> str:
    lines = ["| notebook | status | wall time | CPU time | peak memory (process tree) |",
             "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r['notebook']} | {r['status']} | {_minutes(r['wall_seconds'])} | {r['cpu_seconds']:.0f} s "
              f"| {r['peak_tree_rss_gb']:.2f} GB |" for r in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
