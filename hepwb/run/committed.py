"""The committed notebooks: re-executed in teaching order at the school preset (their own parameters) and saved
the way JupyterLab saves them, so that opening one and closing it untouched asks nothing.

JupyterLab rewrites a notebook's kernelspec to the kernel it starts ("Python 3 (ipykernel)"), which marks a
copy saved with another display name as changed; and JavaScript keeps no difference between 100.0 and 100, so
integral floats (tqdm's widget state) are stored as integers. ``make notebooks`` runs ``main``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hepwb.run.batch import NOTEBOOK_DIR, notebook_paths

#: what JupyterLab writes for the kernel every notebook runs on
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def as_javascript_numbers(value):
    """``value`` with every integral float made an int, as a JSON round trip through JavaScript leaves it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: as_javascript_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_javascript_numbers(item) for item in value]
    return value


def jupyterlab_text(notebook: dict) -> str:
    """The file JupyterLab would write for ``notebook`` (a dict as ``json.load`` reads it)."""
    notebook = as_javascript_numbers(notebook)
    notebook["metadata"]["kernelspec"] = dict(KERNELSPEC)
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def execute_in_place(path: Path, timeout_s: int = 1800) -> None:
    """Run every cell of ``path`` in a fresh kernel in its own folder and save it with its outputs."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout_s, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    path.write_text(jupyterlab_text(json.loads(nbformat.writes(notebook))))


def main(names: list[str] | None = None) -> None:
    for path in notebook_paths(names or None):
        print(f"executing {path.relative_to(NOTEBOOK_DIR.parent)} ...", flush=True)
        execute_in_place(path)


if __name__ == "__main__":
    main(sys.argv[1:])
