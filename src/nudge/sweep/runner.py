"""Running the points of a sweep: one call of the trainer per point, on a local process
pool or a Dask distributed cluster.  Only the client (the ``nudge sweep`` process) writes
results; a worker returns each run's result line to it.

* **Local pool** (the default): one worker process per core, started with
  ``forkserver`` (``spawn`` where there is none).  Each worker gets the datasets given
  by name once, as it starts, finds any other through nudge's normal lookup
  (:func:`nudge.data.load_dataset`: ``--data-dir``, ``$NUDGE_DATA``, the cache) once,
  and keeps them for all its runs.  A worker that dies loses only its run: a new pool
  does the points left.  No worker, forkserver or resource tracker outlives the sweep,
  however it ends (:mod:`.processes`).
* **Dask** (``--scheduler``): the client loads the data once and *scatters* it to every
  worker (``Client.scatter(..., broadcast=True)``), so workers need nudge installed but
  no data files and no internet.  A worker lost mid-run loses only its task; the
  scheduler runs it again elsewhere and the client still gets one result per point.
  Workers that die with the only copies of the data get it again; a lost scheduler ends
  the sweep with one line.

Each run uses the compiled engine where it applies, with one thread, and NumPy's BLAS
(the test-set evaluation) with one thread: the workers share the cores, not the runs.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..bounds import check_count
from ..control import ctrl_c_held
from ..data import Dataset, load_dataset
from ..display import counted
from ..engine.threads import available_cpus
from ..errors import DivergenceError, NudgeError, printable
from ..settings import TrainingSetup
from ..train import train
from .grid import point_data
from .processes import stopping_helpers, terminate, watch_client

_SETUP_FIELDS = tuple(f.name for f in fields(TrainingSetup))
_one_thread_done = False
#: the one line for a cluster run without Dask (the extra: ``nudge[cluster]`` in
#: pyproject.toml, installed from a clone: nudge is not on PyPI under that name)
NEEDS_DASK = ('--scheduler needs Dask distributed: pip install "dask[distributed]" (the '
              'cluster extra: pip install -e ".[cluster]" in a clone of nudge)')


class RunStopped(NudgeError):
    """A run ended before its last epoch without diverging (Ctrl-C reached the worker)."""


def _one_blas_thread() -> None:
    """NumPy's BLAS with one thread in this process (once): workers share the cores."""
    global _one_thread_done
    if _one_thread_done:
        return
    _one_thread_done = True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                     # pragma: no cover - comes with scikit-learn
        return
    threadpool_limits(1)


# --------------------------------------------------------------------------- one run
def run_point(point: dict[str, Any], data: Dataset) -> dict[str, Any]:
    """Train one grid point (``{"key", "settings", "seed", "train_cost"}``) on ``data``
    (already limited) with one call of :func:`nudge.train.train`; its result line.

    A run whose cost becomes NaN or infinite is a result with ``"diverged": true`` and
    the epochs before.  A run stopped early otherwise raises :class:`RunStopped`.
    """
    import socket
    _one_blas_thread()
    settings, seed = point["settings"], point["seed"]
    setup = TrainingSetup(**{k: settings[k] for k in _SETUP_FIELDS})
    held_out = None
    if settings.get("validation"):
        data, held_out = data.hold_out(settings["validation"])
    net = setup.network(seed)
    started = time.perf_counter()
    diverged_in = None
    try:
        history = train(net, data.X_train, data.y_train, **setup.train_options(),
                        test_data=data.test_data, validation_data=held_out,
                        patience=settings.get("patience"), seed=seed, engine="auto", threads=1,
                        monitor_train_cost=bool(point.get("train_cost")))
    except DivergenceError as e:
        history = e.history
        diverged_in = len(history.epochs) + 1
    seconds = time.perf_counter() - started
    if diverged_in is None and history.stopped not in ("finished", "no improvement",
                                                       "diverged"):
        raise RunStopped(f"the run of seed {seed} stopped early ({history.stopped}); run the "
                         "same command again to do it")
    epochs = [{"epoch": r.epoch, "test_accuracy": r.test_accuracy, "test_cost": r.test_cost,
               "learning_rate": r.learning_rate, "seconds": r.seconds,
               **({"train_cost": r.train_cost} if point.get("train_cost") else {}),
               **({"validation_accuracy": r.validation_accuracy,
                   "validation_cost": r.validation_cost} if held_out else {})}
              for r in history.epochs]
    kept = None if diverged_in is not None else history.kept   # early stopping: the best
    return {
        "key": point["key"], "settings": settings, "seed": seed,
        "test_accuracy": kept.test_accuracy if kept else None,
        "test_cost": kept.test_cost if kept else None,
        **({"validation_accuracy": kept.validation_accuracy if kept else None,
            "validation_cost": kept.validation_cost if kept else None} if held_out else {}),
        **({"best_epoch": history.best_epoch, "stopped": history.stopped}
           if settings.get("patience") else {}),
        "diverged": diverged_in is not None, "diverged_in_epoch": diverged_in,
        "epochs": epochs, "seconds": round(seconds, 6),
        "train_seconds": round(history.train_seconds, 6),
        "engine": history.engine,
        "worker": f"{socket.gethostname()}/{os.getpid()}",
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- local pool
_data_dir: str | None = None
_loaded: dict[str, Dataset] = {}


def _start_worker(data_dir: str | None, given: dict[str, Dataset]) -> None:
    global _data_dir
    _data_dir = data_dir
    _loaded.update(given)                            # the datasets sent: never looked up
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the client's to handle
    watch_client()                                   # and it ends with the client
    _one_blas_thread()


def _run_here(point: dict[str, Any]) -> dict[str, Any]:
    """A local worker's task: the data (sent, else by nudge's lookup once), then the run."""
    name = point["settings"]["dataset"]
    if name not in _loaded:
        _loaded[name] = load_dataset(name, _data_dir)
    return run_point(point, point_data(_loaded[name], point["settings"]))


def _context() -> Any:
    import multiprocessing  # here and in _one_pool: the command line's parser needs neither

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":       # workers start with nudge imported
        ctx.set_forkserver_preload([__name__, "concurrent.futures.process"])
    return ctx


#: how many times in a row a local pool whose workers died before a run finished is started
#: again (as Dask retries a task whose worker died: ``distributed.scheduler.allowed-failures``
#: is 3), and how many times in a row the data is sent again to a Dask cluster whose
#: workers lost it; a pool or a sending that finished a run starts the count again
POOL_RESTARTS = 3
#: the most local worker processes (each holds its own copy of the data, about 150 MB with
#: MNIST; more workers than cores only share them: --workers 100000 was 100,000 processes)
MAX_WORKERS = 256


def _rounds(left: dict[str, Any], one_round: Callable[[], None],
            again: Callable[[bool], str], give_up: Callable[[], str]) -> None:
    """Call ``one_round()`` (which removes from ``left`` the points it finished) until
    ``left`` is empty, printing ``again(idle)`` before each new round (``idle``: the last
    one finished nothing); after :data:`POOL_RESTARTS` + 1 rounds in a row that finished
    nothing, a NudgeError saying ``give_up()``.  Every other round finishes a point, so
    the rounds end."""
    idle = 0
    while left:
        before = len(left)
        one_round()
        if not left:
            return
        idle = idle + 1 if len(left) == before else 0
        if idle > POOL_RESTARTS:
            raise NudgeError(give_up())
        print(again(bool(idle)), file=sys.stderr)


def run_local(points: list[dict[str, Any]], on_result: Callable[[dict[str, Any]], Any],
              workers: int, data_dir: str | None = None,
              datasets: dict[str, Dataset] | None = None) -> None:
    """Run ``points`` on ``workers`` local processes; ``on_result(line)`` in this process
    as each run finishes (in the order they finish).  The points' datasets found in
    ``datasets`` (by name) are sent to each worker as it starts; the others it loads by
    nudge's lookup (``data_dir`` first).  A worker that dies (killed, out of memory)
    breaks its pool: a new pool does the points left (the runs under way are done again),
    until :data:`POOL_RESTARTS` + 1 pools in a row have died before finishing a run."""
    left = {p["key"]: p for p in points}
    names = {p["settings"]["dataset"] for p in points}
    given = {name: data for name, data in (datasets or {}).items() if name in names}

    def one_pool() -> None:
        with closing(_one_pool(list(left.values()), workers, data_dir, given)) as results:
            for record in results:
                if left.pop(record["key"], None) is not None:
                    on_result(record)

    def again(idle: bool) -> str:
        hint = _script_hint() if idle else ""
        return (f"nudge: a sweep worker process died (killed? out of memory?{hint}); a new "
                f"pool does the {counted(len(left), 'run')} left")

    with stopping_helpers():        # however it ends: no forkserver left (processes.py)
        _rounds(left, one_pool, again, lambda: (
            f"sweep worker processes died {POOL_RESTARTS + 1} times in a row before a run "
            f"finished (out of memory? killed?{_script_hint()}); the finished runs are saved: "
            "run the same command again to resume"))


def _script_hint() -> str:
    """When no worker of a pool finished a run: a reason that is the caller's to fix.  The
    workers import the script that called :func:`run_local` again (``forkserver`` and
    ``spawn`` do), and a script that starts a sweep on import starts it in every worker."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path is None or Path(path).stem in ("nudge", "__main__"):
        return ""
    return (f" or does {printable(Path(path).name)} start the sweep when a worker imports it? put "
            "that call under `if __name__ == \"__main__\":`")


def _one_pool(points: list[dict[str, Any]], workers: int, data_dir: str | None,
              given: dict[str, Dataset]) -> Generator[dict[str, Any], None, None]:
    """The results of one process pool, as they come, until it is done or broken; each
    worker gets the datasets ``given`` once, as it starts (its initializer's arguments)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(min(workers, len(points)), mp_context=_context(),
                               initializer=_start_worker, initargs=(data_dir, given))
    try:
        with ctrl_c_held():                 # the processes start: a Ctrl-C waits till they can
            futures = [pool.submit(_run_here, p) for p in points]     # all be stopped
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:       # the runs that did finish still come
                continue
    except BaseException:                   # Ctrl-C, or an error: the runs under way are
        terminate(pool)                     # not results, so do not wait for them
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- Dask
def connect(address: str, security: Any = None, timeout: float = 30) -> Any:
    """A Dask client of the scheduler at ``address``, with a worker to run on."""
    try:
        from distributed import Client
    except ImportError:
        raise NudgeError(NEEDS_DASK) from None
    if address.startswith("tls://") and security is None:
        import dask

        if not dask.config.get("distributed.comm.tls.ca-file", None):
            raise NudgeError(f"--scheduler {address}: a tls:// scheduler needs this client's "
                             "certificate: give --tls-ca-file, --tls-cert and --tls-key (or "
                             "set distributed.comm.tls in Dask's configuration)")
    try:
        _ask_identity(address, security, timeout)
        client = Client(address, timeout=timeout, security=security, set_as_default=False)
    except Exception as e:                  # OSError, TimeoutError, ValueError (bad address)
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise NudgeError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                         f"({reason}); check the address and its protocol (tcp:// or "
                         "tls://), or start one with `dask scheduler`") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        client.close()
        raise NudgeError(f"--scheduler {address}: no Dask worker joined within {timeout:g} s; "
                         f"start some with `dask worker {address}`") from None
    return client


@contextmanager
def quiet_dask() -> Iterator[None]:
    """Dask's log lines off in this process, from before a client of :func:`connect` exists
    to after it is closed: once its scheduler is lost, a client logs its reconnection and
    each message it had queued (``Batched Comm Closed``, a traceback) around our one line."""
    import logging

    with suppress(ImportError):             # its import sets these levels: import it first
        import distributed  # noqa: F401
    loggers = [logging.getLogger(name) for name in ("distributed", "distributed.client")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def _ask_identity(address: str, security: Any, timeout: float) -> None:
    """Ask whoever listens at ``address`` who they are, all within ``timeout`` seconds;
    anything but a Dask scheduler raises.  Done before a ``Client`` exists: a port that
    accepts and then stays silent makes ``Client`` wait for ever, and a ``Client`` that
    fails half-built hangs for seconds on its way out."""
    import asyncio

    from distributed.comm import connect as dask_connect

    async def ask() -> Any:
        args = security.get_connection_args("client") if security is not None else {}
        comm = await dask_connect(address, timeout=timeout, **args)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            await comm.close()

    try:
        answer = asyncio.run(asyncio.wait_for(ask(), timeout))
    except asyncio.TimeoutError:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    except MemoryError:     # a greeting (SSH's) read as Dask's frame length: "Unable to
        answer = None       # allocate 2.82 EiB for an array": not a Dask scheduler
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise ValueError("something answers there, but not a Dask scheduler")


def run_dask(points: list[dict[str, Any]], on_result: Callable[[dict[str, Any]], Any],
             client: Any, datasets: dict[str, Dataset]) -> None:
    """Run ``points`` on the Dask cluster of ``client``; the datasets (from ``datasets``
    by name, else nudge's lookup here) are scattered to every worker.  Scattered data
    lives only on the workers: when every worker holding it dies (a lone worker killed,
    restarted by its nanny) the runs that need it are cancelled, and the data is sent
    again for the points left (see :func:`_rounds`).  A lost scheduler is a one-line
    error (the finished runs are saved)."""
    left = {p["key"]: p for p in points}
    attempts = itertools.count()

    def again(idle: bool) -> str:
        return ("nudge: the Dask workers holding the data were lost (killed? restarted?); "
                f"sending it again for the {counted(len(left), 'run')} left")

    _rounds(left, lambda: _dask_round(left, on_result, client, datasets, next(attempts)),
            again, lambda: (
                f"the Dask workers lost the data {POOL_RESTARTS + 1} times in a row before a "
                "run finished (out of memory? killed?); the finished runs are saved: run the "
                "same command again to resume"))


#: what a sweep says when its Dask scheduler goes away (stopped, unreachable)
LOST_SCHEDULER = ("lost the connection to the Dask scheduler (stopped? unreachable?); the "
                  "finished runs are saved: once it is back, run the same command again to "
                  "resume")


def _dask_round(left: dict[str, dict[str, Any]], on_result: Callable[[dict[str, Any]], Any],
                client: Any, datasets: dict[str, Dataset], attempt: int) -> None:
    """Scatter the data and run the points ``left`` once; each result is removed from
    ``left`` as it is passed on.  Returns when every run has finished or was cancelled."""
    from concurrent.futures import CancelledError

    from distributed import as_completed as dask_completed

    points = list(left.values())
    futures: list[Any] = []
    try:
        for name in dict.fromkeys(p["settings"]["dataset"] for p in points):
            mine = [p for p in points if p["settings"]["dataset"] == name]
            whole = datasets[name] if name in datasets else load_dataset(name)
            try:                            # seconds for MNIST: the scheduler may go meanwhile
                data = client.scatter(whole, broadcast=True, hash=False)
                futures += client.map(_run_on_worker, mine, data=data,
                                      key=[f"nudge-sweep-{p['key']}-{attempt}" for p in mine])
            except (CancelledError, OSError, TimeoutError):
                raise NudgeError(LOST_SCHEDULER) from None
        for future in dask_completed(futures, loop=client.loop):
            try:
                result = future.result()
            except NudgeError:
                raise
            except (CancelledError, OSError) as e:    # its data was lost, or the scheduler
                if (isinstance(e, OSError) or client.status != "running"
                        or getattr(e, "reason", None) == "scheduler-connection-lost"):
                    raise NudgeError(LOST_SCHEDULER) from None
                continue                    # the others still come; then the data again
            except Exception as e:
                reason = str(e).splitlines()[0][:200] if str(e) else ""
                raise NudgeError(f"a run failed on the cluster ({type(e).__name__}: {reason});"
                                 " the finished runs are saved: run the same command again "
                                 "to resume") from None
            if left.pop(result["key"], None) is not None:
                on_result(result)
            future.release()
    finally:
        client.cancel(futures)


def _run_on_worker(point: dict[str, Any], data: Dataset) -> dict[str, Any]:
    return run_point(point, point_data(data, point["settings"]))


def run_points(points: Iterable[dict[str, Any]], on_result: Callable[[dict[str, Any]], Any],
               *, workers: int | None = None, data_dir: str | None = None, client: Any = None,
               datasets: dict[str, Dataset] | None = None) -> None:
    """Run ``points`` on the Dask cluster of ``client`` if given, else on a local pool of
    ``workers`` processes (default: one per core).  Either way a point of a dataset named
    in ``datasets`` trains on those arrays; any other is found by nudge's lookup."""
    points = list(points)
    if client is not None:
        run_dask(points, on_result, client, datasets or {})
    else:
        count = available_cpus() if workers is None else check_count("workers", workers, 1,
                                                                      MAX_WORKERS)
        run_local(points, on_result, count, data_dir, datasets)
