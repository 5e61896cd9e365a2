"""Sweeps: many training runs at once, on this machine or a Dask cluster.

The product of option lists (:mod:`.grid`) is run point by point, each point one call
of :func:`nudge.train.train` (:mod:`.runner`: a local process pool, or Dask), each
finished run appended at once as one JSON line to a results file (:mod:`.results`),
which a rerun resumes from; :mod:`.summary` and :mod:`.plots` summarise a file.

::

    from nudge.sweep import expand, run_sweep, summarise
    grid = expand({"learning_rate": "0.3,1,3", "epochs": "2"}, seeds="1-3")
    run_sweep(grid, "sweep.jsonl")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NudgeError
from .grid import MAX_POINTS, Grid, Point, data_hashes, expand, parse_list, parse_seeds, point_key
from .results import ResultsFile, check_resume, read
from .runner import run_point, run_points
from .summary import summarise, text

__all__ = ["MAX_POINTS", "Grid", "Point", "ResultsFile", "SweepRun", "expand", "parse_list",
           "parse_seeds", "point_key", "read", "run_point", "run_points", "run_sweep",
           "summarise", "text"]


@dataclass
class SweepRun:
    """What one call of :func:`run_sweep` did, and the grid's results (old and new)."""

    points: int                          # grid points
    skipped: int                         # already in the file
    ran: int                             # finished now
    records: list[dict[str, Any]]        # the grid's results, in grid order
    notes: list[str]


def run_sweep(grid: Grid, out: str | Path, *, workers: int | None = None,
              data_dir: str | None = None, client: Any = None,
              datasets: dict[str, Any] | None = None, train_cost: bool = False,
              before: Callable[[int, int], Any] | None = None,
              on_result: Callable[[dict[str, Any]], Any] | None = None) -> SweepRun:
    """Run the grid's points that are not yet in ``out``, appending each result at once.

    ``client``: a Dask client (else a local pool of ``workers`` processes);
    ``datasets``: arrays to train on, a :class:`nudge.Dataset` by dataset name (the
    points' limits apply; scattered to a Dask cluster, sent once to each local worker):
    the points of any other dataset load it by name (``data_dir`` first).  Each line records
    the ``data_sha256`` of the data its run used: ``grid.data``'s, or the given
    dataset's (with a note when it is not the data the grid was made from).
    ``train_cost``: also record the training cost after each epoch (not part of a key: a
    file whose runs of the grid were recorded otherwise is refused,
    :func:`.results.check_resume`, as is one whose runs of the grid record another
    ``data_sha256``); ``before(to_run, skipped)`` is called once the file is read;
    ``on_result(line)`` after each line is written.
    """
    if not isinstance(grid, Grid):
        raise NudgeError(f"run_sweep takes the Grid that expand() returns, not a "
                         f"{type(grid).__name__}")
    datasets = datasets or {}
    used = {**grid.data, **data_hashes(grid.points, datasets)}
    with ResultsFile(out) as results:
        results.notes += [f"datasets[{name!r}] is not the {name} data the grid was made from "
                          "(another data_sha256); its runs train on the data given and "
                          "record its data_sha256" for name, sha in grid.data.items()
                          if used[name] != sha]
        todo = [{"key": p.key, "settings": p.settings, "seed": p.seed,
                 "train_cost": train_cost} for p in grid.points if p.key not in results.done]
        skipped = len(grid.points) - len(todo)
        results.notes += check_resume(
            out, [results.done[p.key] for p in grid.points if p.key in results.done],
            train_cost, bool(todo), used)
        if before is not None:
            before(len(todo), skipped)

        def write(record: dict[str, Any]) -> None:
            sha = used.get(record["settings"]["dataset"])
            record = {**record, "data_sha256": sha} if sha else record
            results.append(record)
            if on_result is not None:
                on_result(record)

        run_points(todo, write, workers=workers, data_dir=data_dir, client=client,
                   datasets=datasets)
        records = [results.done[p.key] for p in grid.points if p.key in results.done]
        return SweepRun(len(grid.points), skipped, len(todo), records, results.notes)
