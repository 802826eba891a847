"""``hepwb run``: notebooks headless with papermill and a parameter preset; their metrics collected.

Owns: the presets (``notebooks/presets.yaml``), executing notebooks one after another or as tasks
on a Dask cluster, going on past a failing notebook, reporting the failing cell, and the summary
(Markdown + JSON) of a run. Parameters are checked (``hepwb.run.parameters``) before any kernel
starts; what a notebook writes (``metrics.json``) is ``hepwb.notebook``'s.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from hepwb import PROJECT_DIR
from hepwb.data import OutputPathError, atomic_path, writable_folder
from hepwb.run import parameters as notebook_parameters

NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
PRESETS_FILE = NOTEBOOK_DIR / "presets.yaml"
PRESETS = ("smoke", "school", "full")


def load_presets(path: Path = PRESETS_FILE) -> dict:
    """notebook stem -> preset name -> parameter overrides (``school`` is the notebook defaults)."""
    return yaml.safe_load(Path(path).read_text()) or {}


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """Notebook files from names (``00_root_data``), paths, or all numbered notebooks."""
    if not names:
        return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    paths = []
    for name in names:
        path = Path(name)
        if not path.suffix:
            path = NOTEBOOK_DIR / f"{name}.ipynb"
        if not path.exists():
            available = [p.stem for p in notebook_paths()]
            raise ValueError(f"no notebook {name!r}; available: {available}")
        paths.append(path.resolve())
    return paths


def parameters_for(notebook: Path, preset: str, overrides: dict | None = None, presets: dict | None = None) -> dict:
    """The parameters a run passes to papermill: the preset's, then the user's overrides.

    Raises ValueError for an unknown preset and ``parameters.ParameterError`` (a ValueError) for a
    name the notebook does not have or a value of the wrong type, in the preset or the overrides.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    presets = load_presets() if presets is None else presets
    params = dict((presets.get(Path(notebook).stem) or {}).get(preset) or {})
    params.update(overrides or {})
    notebook_parameters.check(notebook, params)
    return params


def local_kernel_manager():
    """The kernel manager for notebooks run here: Unix sockets (IPC) instead of TCP on 127.0.0.1.

    A kernel on this machine needs no network port, and ipykernel then has no reason to warn on every
    run that TCP is unencrypted. TCP stays where Unix sockets cannot serve: not POSIX, or a Jupyter
    runtime folder so deep that a socket path would pass the 107-character limit of Unix sockets.
    """
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            # socket path: RUNTIME/kernel-<36-character id>-ipc-<n>, 50 characters beyond the folder
            return "ipc" if os.name == "posix" and len(jupyter_runtime_dir()) <= 50 else "tcp"

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts the kernel before every shutdown; an idle ipykernel then logs
            # "ERROR | KeyboardInterrupt caught in kernel" on the terminal. A busy one is stopped anyway.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

        @default("connection_file")
        def _default_connection_file(self):
            # Without it the sockets are "kernel-ipc-1" ... in the working directory, numbered by which
            # files exist: two kernels started at once there (two Dask workers) take the same ones.
            os.makedirs(jupyter_runtime_dir(), exist_ok=True)
            return os.path.join(jupyter_runtime_dir(), f"kernel-{uuid.uuid4()}.json")

    return LocalKernelManager


def clear_previous_run(run_dir: Path, notebook_name: str) -> None:
    """Remove the outputs of an earlier ``hepwb run`` of this notebook from ``run_dir``.

    Only a folder that hepwb run wrote (it holds the executed notebook or a metrics.json) is removed;
    any other non-empty folder of that name is refused with one line, so that no one's files are lost.
    """
    import shutil

    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return
    if not ((run_dir / notebook_name).exists() or (run_dir / "metrics.json").exists()):
        raise OutputPathError(f"{run_dir} exists and was not written by hepwb run (no {notebook_name} or "
                              "metrics.json in it); choose another --out")
    shutil.rmtree(run_dir)


def run_notebook(notebook: Path | str, preset: str = "school", out_dir: Path | str = "results",
                 parameters: dict | None = None, kernel_name: str | None = None,
                 run_dir: Path | str | None = None) -> dict:
    """Execute one notebook; never raises for a failure inside the notebook.

    Writes ``OUT/<stem>/<stem>.ipynb`` (the executed notebook) and whatever the notebook writes to
    its ``output_dir`` (set to ``OUT/<stem>``, or to ``run_dir`` where given), including
    ``metrics.json``. Returns a result dict: notebook, status ("ok"/"failed"), seconds, error (which
    cell failed, numbered by execution count in the executed notebook, and why), metrics.
    """
    import papermill

    notebook = Path(notebook).resolve()
    params = parameters_for(notebook, preset, parameters)  # refuses bad parameters before a kernel starts
    run_dir = Path(run_dir or Path(out_dir) / notebook.stem).resolve()
    clear_previous_run(run_dir, notebook.name)  # a failed run must not leave the last run's metrics.json
    run_dir = writable_folder(run_dir)
    params["output_dir"] = str(run_dir)
    started = time.time()
    result = {"notebook": notebook.stem, "preset": preset, "status": "ok", "error": None, "parameters": params}
    try:
        papermill.execute_notebook(str(notebook), str(run_dir / notebook.name), parameters=params,
                                   cwd=str(notebook.parent), kernel_name=kernel_name or "python3",
                                   progress_bar=False, log_output=False, kernel_manager_class=local_kernel_manager())
    except papermill.PapermillExecutionError as error:
        result["status"] = "failed"
        executed = run_dir / notebook.name  # numbering as the user sees it there (papermill adds one cell)
        result["error"] = f"cell [{error.exec_count}] of {executed}: {error.ename}: {error.evalue}"
    except Exception as error:  # kernel died, bad parameters, unreadable notebook ...
        result["status"] = "failed"
        result["error"] = f"{type(error).__name__}: {error}"
    result["seconds"] = round(time.time() - started, 1)
    metrics_file = run_dir / "metrics.json"
    result["metrics"] = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return result


def run_notebooks(notebooks: list[str] | None = None, preset: str = "school", out_dir: Path | str = "results",
                  parameters: dict | None = None, scheduler: str | None = None) -> list[dict]:
    """Run several notebooks (one after another, or on a Dask scheduler) and write the summary.

    An override (``parameters``) goes to the notebooks that have a parameter of that name; one that
    none of them has is refused. Everything is checked before the first notebook starts: the
    preset, every name and value, and that ``out_dir`` can be written.
    """
    paths = notebook_paths(notebooks)
    parameters = parameters or {}
    if len(paths) == 1:
        overrides = {paths[0]: dict(parameters)}
    else:
        notebook_parameters.unknown_everywhere(paths, parameters)
        overrides = {path: {k: v for k, v in parameters.items() if k in notebook_parameters.notebook_parameters(path)}
                     for path in paths}
    for path in paths:
        parameters_for(path, preset, overrides[path])
    out_dir = writable_folder(out_dir)
    if scheduler:
        from hepwb.run.cluster import check_workers_share, dask_client  # dask.distributed: only for a cluster

        with dask_client(scheduler=scheduler) as client:
            check_workers_share(client, out_dir.resolve())  # the workers write the outputs: one line if they cannot
            futures = [client.submit(run_notebook, p, preset, str(out_dir.resolve()), overrides[p], pure=False)
                       for p in paths]
            results = client.gather(futures)
    else:
        results = []
        for path in paths:
            print(f"running {path.stem} ({preset}) ...", flush=True)
            results.append(run_notebook(path, preset, out_dir, overrides[path]))
    write_summary(results, out_dir)
    return results


def headline(metrics: dict, n: int = 4) -> dict:
    """The few numbers a summary shows: ``metrics['headline']`` or the first scalar metrics."""
    if isinstance(metrics.get("headline"), dict):
        return metrics["headline"]
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary_markdown(results: list[dict]) -> str:
    lines = ["| notebook | preset | status | time [s] | key metrics |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        metrics = ", ".join(f"{k} = {_format(v)}" for k, v in list(headline(r["metrics"]).items())[:6])
        status = r["status"] if r["status"] == "ok" else f"FAILED: {r['error']}"
        lines.append(f"| {r['notebook']} | {r['preset']} | {status} | {r['seconds']} | {metrics} |")
    return "\n".join(lines) + "\n"


def write_summary(results: list[dict], out_dir: Path | str) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "summary.md", out_dir / "summary.json"
    with atomic_path(md) as tmp:
        tmp.write_text(summary_markdown(results))
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return md, js


def print_summary(results: list[dict], out_dir: Path | str) -> None:
    print()
    print(summary_markdown(results))
    print(f"executed notebooks, metrics and summary.md / summary.json are in {Path(out_dir).resolve()}")


