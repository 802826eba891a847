"""Parameter scans: a grid (or a list) of papermill runs of one notebook, as tasks on Dask.

The scan part of the batch runner (``hepwb.run.batch`` runs each point). Owns: turning ``-p key=[...]``
and ``--seeds N`` into points, the folder of each point (named by its parameters), the marker that
says a point is complete (``point.json``, written last and atomically, so a rerun skips exactly
the finished points), running the points in-process or on a Dask cluster with a progress bar,
checking that every worker shares the output folder, and the table (``scan.csv``, ``scan.md``) and
figure of a metric against each scanned parameter.

A point's result is a ``hepwb run`` result (notebook, status, seconds, error, metrics) plus its
``point`` (the scanned values) and ``folder``; status is "ok", "failed" (the notebook raised: the
error names the cell) or "lost" (the worker running it died, or the cluster went away).
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from hepwb import plotting
from hepwb.data import OutputPathError, atomic_path, shown_path, writable_folder
from hepwb.notebook import metric_key
from hepwb.run import batch
from hepwb.run import parameters as notebook_parameters
from hepwb.run.cluster import check_workers_share, dask_client

#: written in a point's folder when its run has finished without error, the result inside
DONE = "point.json"
#: written in the scan's folder: what the scan is (notebook, preset, fixed parameters)
DEFINITION = "scan.json"


@dataclass(frozen=True)
class Point:
    """One run of the scan: the scanned values (seed included) and the folder they name."""

    values: dict
    folder: str


def split_overrides(notebook: Path, overrides: dict) -> tuple[dict, dict]:
    """``-p`` values -> (fixed parameters, scanned parameters: name -> list of values).

    A list is scanned unless the parameter itself takes a list (``scan_bits=[6, 4]`` is one
    value of 04's ``scan_bits``); a list of lists scans such a parameter.
    """
    known = notebook_parameters.notebook_parameters(notebook)
    for name in overrides:
        if name not in known:
            notebook_parameters.check(notebook, {name: None}, known)  # one line, with a suggestion
    fixed, scanned = {}, {}
    for name, value in overrides.items():
        kind = known[name].kind
        if isinstance(value, list) and not (kind.name == "list" and kind.accepts(value)):
            if not value:
                raise ValueError(f"{name}=[]: no values to scan; give at least one")
            scanned[name] = value
        else:
            fixed[name] = value
    return fixed, scanned


def plan_points(notebook: Path, overrides: dict, *, seeds: int | None = None, points: list[dict] | None = None,
                preset: str = "school") -> tuple[dict, list[Point]]:
    """(fixed parameters, points): the grid of the scanned values, or the explicit ``points``, times the seeds.

    Every point's parameters are checked as ``hepwb run`` checks them, before anything runs.
    """
    notebook = Path(notebook)
    fixed, scanned = split_overrides(notebook, overrides)
    if points is not None:
        if scanned:
            raise ValueError("give the points either as a list or as -p lists, not both "
                             f"(lists given for {sorted(scanned)})")
        if not points or not all(isinstance(p, dict) and p for p in points):
            raise ValueError("the points must be a non-empty list of name -> value mappings")
        grid = [dict(p) for p in points]
    else:
        grid = [dict(zip(scanned, values)) for values in itertools.product(*scanned.values())]
    if seeds is not None:
        if not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
        if "seed" in fixed or any("seed" in p for p in grid):
            raise ValueError("--seeds sets the parameter seed (1 .. N): do not also give seed with -p or in the points")
        if "seed" not in notebook_parameters.notebook_parameters(notebook):
            raise ValueError(f"{notebook.stem} has no parameter 'seed', so --seeds cannot vary it")
        grid = [{**p, "seed": seed} for p in grid for seed in range(1, seeds + 1)]
    planned, folders = [], {}
    for values in grid:
        batch.parameters_for(notebook, preset, {**fixed, **values})  # the check of hepwb run, for every point
        folder = folder_name(values)
        if folder in folders:
            raise ValueError(f"the points {folders[folder]} and {values} would share the folder {folder!r}")
        folders[folder] = values
        planned.append(Point(values, folder))
    return fixed, planned


def folder_name(values: dict) -> str:
    """``{"bits": 4, "seed": 1}`` -> ``"bits=4_seed=1"``: the point's folder, readable and safe in any file system."""
    if not values:
        return "default"

    def text(value) -> str:
        if isinstance(value, (list, tuple)):
            return "-".join(text(v) for v in value) or "empty"
        if isinstance(value, dict):
            return "-".join(f"{k}{text(v)}" for k, v in value.items())
        return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(value)).strip("-") or "none"

    return "_".join(f"{name}={text(value)}" for name, value in values.items())


def completed(folder: Path, parameters: dict) -> dict | None:
    """The result stored in a point's folder if that point finished with these parameters, else None."""
    try:
        result = json.loads((Path(folder) / DONE).read_text())
    except (OSError, ValueError):
        return None
    return result if result.get("status") == "ok" and result.get("parameters_given") == parameters else None


def run_point(notebook: str, preset: str, parameters: dict, folder: str) -> dict:
    """Run one point into ``folder`` (on a Dask worker or here); mark it complete when it succeeded."""
    result = batch.run_notebook(notebook, preset, parameters=parameters, run_dir=folder)
    result.update(parameters_given=parameters, host=socket.gethostname(), worker=_worker_address())
    if result["status"] == "ok":
        with atomic_path(Path(folder) / DONE) as tmp:
            tmp.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def _worker_address() -> str:
    """The address of the Dask worker running this, or "local"."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def _definition(notebook: Path, preset: str, fixed: dict) -> dict:
    return {"notebook": notebook.stem, "preset": preset, "fixed_parameters": fixed}


def _claim_folder(out_dir: Path, definition: dict) -> None:
    """Write the scan's definition, or refuse a folder that holds another scan."""
    path = out_dir / DEFINITION
    if path.exists():
        earlier = json.loads(path.read_text())
        if earlier != definition:
            raise OutputPathError(f"{out_dir} holds another scan ({earlier}); choose another --out or remove it")
        return
    if any(p for p in out_dir.iterdir() if not p.name.startswith(".")):
        raise OutputPathError(f"{out_dir} exists and holds no hepwb scan; choose another --out")
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(definition, indent=2) + "\n")


def _lost(notebook: Path, error: BaseException) -> dict:
    return {"notebook": notebook.stem, "status": "lost", "seconds": float("nan"), "metrics": {},
            "error": f"its worker died or left ({type(error).__name__}: {error}); rerun the scan to complete it"}


def run_scan(notebook: str | Path, overrides: dict | None = None, *, preset: str = "school", seeds: int | None = None,
             points: list[dict] | None = None, out_dir: Path | str | None = None, workers: int = 1,
             scheduler=None, metric: str | None = None, progress: bool = True) -> list[dict]:
    """Run every point of a scan that is not complete yet, then write the table and the figure.

    ``workers`` > 1 starts a local Dask cluster (one process per worker); ``scheduler`` uses an
    existing one, by address (``tcp://host:8786``) or as a cluster object (dask-jobqueue, Dask
    Gateway); its workers must share ``out_dir`` with this machine (checked first). Results come back in
    point order, complete points included (``skipped`` True), each with its ``point`` and ``folder``.
    """
    [notebook] = batch.notebook_paths([str(notebook)])
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    fixed, planned = plan_points(notebook, overrides or {}, seeds=seeds, points=points, preset=preset)
    out_dir = writable_folder(Path(out_dir or Path("results") / "scans" / notebook.stem)).resolve()
    _claim_folder(out_dir, _definition(notebook, preset, fixed))
    results, todo = {}, []
    for point in planned:
        done = completed(out_dir / point.folder, {**fixed, **point.values})
        if done:
            results[point.folder] = {**done, "skipped": True}
        else:
            todo.append(point)
    print(f"{notebook.stem}: {len(planned)} points, {len(planned) - len(todo)} already complete, {len(todo)} to run"
          f" in {shown_path(out_dir)}", flush=True)
    for point, result in _execute(notebook, preset, fixed, todo, out_dir, workers, scheduler, len(planned),
                                  len(planned) - len(todo), progress):
        results[point.folder] = {**result, "skipped": False}
    ordered = [{**results[p.folder], "point": p.values, "folder": p.folder} for p in planned]
    write_scan_table(ordered, out_dir)
    figure = write_scan_figure(ordered, out_dir, metric)
    print_report(ordered, out_dir, figure)
    return ordered


def _execute(notebook, preset, fixed, todo, out_dir, workers, scheduler, total, already, progress):
    """Yield (point, result) as points finish: here one after another, or as tasks on Dask."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=already, desc=f"scan {notebook.stem}", unit="point", disable=not progress)
    if not todo:
        bar.close()
        return
    if scheduler is None and workers == 1:
        try:
            for point in todo:
                yield point, run_point(str(notebook), preset, {**fixed, **point.values}, str(out_dir / point.folder))
                bar.update()
        finally:
            bar.close()
        return
    from dask.distributed import as_completed

    try:
        with dask_client(workers, scheduler) as client:
            check_workers_share(client, out_dir)
            futures = {client.submit(run_point, str(notebook), preset, {**fixed, **point.values},
                                     str(out_dir / point.folder), pure=False,
                                     key=f"scan-{point.folder}-{uuid.uuid4().hex}"): point for point in todo}
            for future in as_completed(futures):
                point = futures[future]
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - run_point never raises: this is the cluster
                    result = _lost(notebook, error)
                bar.update()
                yield point, result
    finally:
        bar.close()


def scan_rows(results: list[dict]) -> list[dict]:
    """One flat row per point: the scanned values, status, seconds, then every scalar metric."""
    rows = []
    for r in results:
        metrics = {k: v for k, v in r["metrics"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        point = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r["point"].items()}  # one cell each
        rows.append({**point, "status": r["status"], "seconds": r["seconds"], **metrics,
                     "folder": r["folder"], "error": r.get("error") or ""})
    return rows


def write_scan_table(results: list[dict], out_dir: Path) -> tuple[Path, Path]:
    """``scan.csv`` (every point, every scalar metric) and ``scan.md`` (the headline metrics)."""
    import pandas as pd

    table = pd.DataFrame(scan_rows(results))
    csv, md = out_dir / "scan.csv", out_dir / "scan.md"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    lines = [f"| {' | '.join(results[0]['point'])} | status | time [s] | key metrics |",
             "|" + " --- |" * (len(results[0]["point"]) + 3)]
    for r in results:
        shown = ", ".join(f"{k} = {batch._format(v)}" for k, v in list(batch.headline(r["metrics"]).items())[:4])
        status = r["status"] if r["status"] == "ok" else f"{r['status'].upper()}: {r['error']}"
        values = " | ".join(batch._format(v) for v in r["point"].values())
        lines.append(f"| {values} | {status} | {r['seconds']} | {shown} |")
    with atomic_path(md) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return csv, md


def default_metric(results: list[dict]) -> str | None:
    """The first headline metric of the first point that finished."""
    for r in results:
        if r["status"] == "ok" and batch.headline(r["metrics"]):
            return next(iter(batch.headline(r["metrics"])))
    return None


def write_scan_figure(results: list[dict], out_dir: Path, metric: str | None = None) -> Path | None:
    """``scan_<metric>.png``: the metric against each scanned parameter, the spread over seeds as error bars."""
    import pandas as pd

    metric = metric or default_metric(results)
    table = pd.DataFrame(scan_rows(results))
    table = table[table["status"] == "ok"]
    scanned = [k for k in results[0]["point"] if k != "seed"]
    if metric is None or table.empty or not scanned:
        return None
    if metric not in table:
        known = sorted({k for r in results for k in r["metrics"] if k != "headline"})
        raise KeyError(f"no metric {metric!r} in the scan; its metrics: {', '.join(known)}")
    fig = plotting.scan_figure(table, metric, scanned)
    path = out_dir / f"scan_{metric_key(metric)}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path


def print_report(results: list[dict], out_dir: Path, figure: Path | None) -> None:
    counts = {s: sum(r["status"] == s for r in results) for s in ("ok", "failed", "lost")}
    run = sum(not r["skipped"] for r in results)
    print(f"{len(results)} points: {counts['ok']} complete ({run} run now), {counts['failed']} failed, "
          f"{counts['lost']} lost; table in {shown_path(out_dir / 'scan.csv')} and scan.md"
          + (f", figure {shown_path(figure)}" if figure else ""))
    for r in results:
        if r["status"] != "ok":
            print(f"{r['status'].upper()}: {r['folder']}: {r['error']}", flush=True)

