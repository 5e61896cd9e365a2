"""The results file of a sweep: one JSON line per finished run, appended at once.

Only the sweep's client process writes it (workers return their results), one
``write`` of a whole line per run followed by ``fsync``, while holding an exclusive
lock on the file so that two sweeps cannot write to it at once.  A run is known by
its key (:func:`nudge.sweep.grid.point_key` of its settings and seed): a rerun skips
the keys already in the file, so a sweep stopped by Ctrl-C, a crash or a closed
laptop resumes, and no point is ever written twice.  A key names the dataset, not its
images: each line also records ``data_sha256`` (:func:`nudge.sweep.grid.data_sha256`),
and a resume with other data is refused (:func:`check_resume`).

A crash can leave the last line half written (or, after a power cut, padded with
zero bytes).  Opening the file for a sweep repairs that: a last line that is the start
of a result but not a whole one is cut off (its run is done again); a whole result
missing only its newline gets one.  Any other line that is not a result is an error,
never skipped, so that a wrong ``--out`` (a model file, say) is never cut.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..checks import MAX_EPOCHS
from ..display import counted
from ..errors import NudgeError
from ..fsutil import append_whole, as_path, os_reason, read_regular
from ..jsonable import jsonable
from .grid import point_key

#: the largest results file nudge reads (100,000 runs of about 5 KB each; a typo such as
#: --report /dev/zero or a disk image is refused, not read into memory)
MAX_RESULTS_BYTES = 512 * 2**20

try:                                   # POSIX; elsewhere the file is not locked
    import fcntl
except ImportError:                    # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # the module or None, tested before use


def _record(line: bytes) -> dict[str, Any] | None:
    """The result on one line, or None if the line is not a whole result."""
    try:
        obj = json.loads(line.strip(b"\x00 \t\r\n").decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):    # RecursionError: [[[[...
        return None
    if (not isinstance(obj, dict) or not isinstance(obj.get("settings"), dict)
            or not isinstance(obj.get("seed"), int) or isinstance(obj.get("seed"), bool)
            or not isinstance(obj.get("diverged"), bool)):
        return None
    obj["key"] = point_key(obj["settings"], obj["seed"])
    return obj


# --------------------------------------------------------------------------- a line's values
def _number(v: Any) -> bool:
    """A JSON number a float can hold (not a bool, not NaN or infinite, not 1e400 as an int)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return math.isfinite(v) if isinstance(v, float) else abs(v) <= 2**53


def _whole(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= 2**53


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


_FRACTION = (_optional(lambda v: _number(v) and 0 <= v <= 1), "a number from 0 to 1")
_COST = (_optional(lambda v: _number(v) and v >= 0), "a number of 0 or more")
_NAME = (_optional(lambda v: isinstance(v, str) and len(v) <= 100), "a name")
_COUNT = (_optional(_whole(1)), "a whole number of 1 or more")
#: what each value of a result line must be (None, or a missing key, is always allowed
#: for the optional ones); a line breaking a rule is an error naming line and value
RESULT_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "test_accuracy": _FRACTION, "validation_accuracy": _FRACTION,
    "test_cost": _COST, "validation_cost": _COST, "train_seconds": _COST,
    "seconds": (lambda v: _number(v) and v >= 0, "a number of 0 or more"),
    "diverged_in_epoch": _COUNT, "best_epoch": _COUNT,
    "data_sha256": (_optional(lambda v: isinstance(v, str)
                              and re.fullmatch("[0-9a-f]{64}", v) is not None),
                    "a SHA-256 (64 hexadecimal digits)"),
}
SETTING_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{k: _NAME for k in ("dataset", "preset", "activation", "output", "cost", "init",
                          "optimizer", "schedule")},
    **{k: _COUNT for k in ("train_limit", "test_limit", "validation", "patience", "epochs",
                           "batch_size")},
    "sizes": (_optional(lambda v: isinstance(v, list) and 2 <= len(v) <= 100
                        and all(_whole(1)(n) for n in v)), "a list of layer sizes"),
    "momentum": (_optional(lambda v: _number(v) and 0 <= v < 1), "a number from 0 to 1"),
    "learning_rate": (_optional(lambda v: _number(v) and v > 0), "a number above 0"),
    "min_learning_rate": _COST, "weight_decay": _COST,
}
EPOCH_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epoch": (_whole(1), "a whole number of 1 or more"),
    "test_accuracy": _FRACTION, "validation_accuracy": _FRACTION,
    "test_cost": _COST, "validation_cost": _COST, "train_cost": _COST, "seconds": _COST,
    # a cosine schedule's η can round to 0 in its last epochs
    "learning_rate": (_optional(lambda v: _number(v) and v >= 0), "a number of 0 or more"),
}


def damage(obj: dict[str, Any]) -> str | None:
    """What is wrong with a result line's values (None: nothing), in words."""
    def wrong(where: str, value: Any, what: str) -> str:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return f"{where} {shown} is not {what}"

    for key, (check, what) in RESULT_RULES.items():
        if key == "seconds" or obj.get(key) is not None:
            if not check(obj.get(key)):
                return wrong(key, obj.get(key), what)
    for key, (check, what) in SETTING_RULES.items():
        if not check(obj["settings"].get(key)):
            return wrong(f"settings.{key}", obj["settings"].get(key), what)
    epochs = obj.get("epochs", [])
    if not isinstance(epochs, list) or len(epochs) > MAX_EPOCHS:
        return wrong("epochs", epochs, f"a list of at most {MAX_EPOCHS:,} epochs")
    for i, row in enumerate(epochs):
        if not isinstance(row, dict):
            return wrong(f"epochs[{i}]", row, "a JSON object")
        for key, (check, what) in EPOCH_RULES.items():
            if not check(row.get(key)):
                return wrong(f"epochs[{i}].{key}", row.get(key), what)
    return None


def _begun(line: bytes) -> bool:
    """Whether a line that is not a whole result is the start of one (as a crash leaves
    it), not some other file's text: only such a line is cut off."""
    return line.strip(b"\x00 \t\r\n").startswith(b'{"key":')


def parse(data: bytes, path: str | Path) -> tuple[list[dict[str, Any]], int, bool]:
    """``(records, bytes of whole results, last line whole but for its newline)`` from a
    results file's contents.  Raises on a line that is not a result, unless it is the last."""
    lines = data.split(b"\n")
    ends_open = lines[-1] != b""            # the last line has no newline
    if not ends_open:
        lines.pop()
    records: list[dict[str, Any]] = []
    good = 0
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if not line.strip(b"\x00 \t\r"):
            if not last or not ends_open:
                good += len(line) + 1
            continue
        record = _record(line)
        if record is None:
            if last and _begun(line):
                return records, good, False
            if not records and not _begun(line):    # no result at all: another kind of file
                raise NudgeError(f"{path} is not a nudge sweep results file (line {number} "
                                 "is not a result): give the file a sweep wrote (--out)")
            raise NudgeError(f"{path} line {number} is not a nudge sweep result; remove that "
                             "line (or choose another --out)")
        problem = damage(record)
        if problem is not None:
            raise NudgeError(f"{path} line {number}: {problem}; the line is damaged: fix or "
                             "remove it (its run is then done again)")
        records.append(record)
        if last and ends_open:
            return records, good + len(line), True
        good += len(line) + 1
    return records, good, False


def read(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The results in a file (for a report; nothing is changed) and notes about it."""
    path = as_path(path, "the results file")
    if not os.path.lexists(path):
        raise NudgeError(f"{path}: no such results file; run nudge sweep --out {path} first")
    data = read_regular(path, MAX_RESULTS_BYTES)       # not a FIFO, a device or a huge file
    records, good, whole = parse(data, path)
    notes = []
    if good < len(data) and not whole:
        notes.append(f"{path}: the last line is half written (a run stopped while writing); "
                     "it is left out, and the next sweep into this file repairs it")
    return _unique(records, notes, path), notes


def records_train_cost(record: dict[str, Any]) -> bool | None:
    """Whether a result was recorded with the training cost (``--train-cost``): its epochs
    carry ``train_cost``; None for a run with no epoch to tell by (diverged in its first)."""
    epochs = record.get("epochs") or []
    return "train_cost" in epochs[0] if epochs else None


def check_resume(path: str | Path, done: list[dict[str, Any]], train_cost: bool,
                 adding: bool, data: Mapping[str, str] | None = None) -> list[str]:
    """Refuse a sweep that would leave this grid's results in ``path`` recorded two ways:
    ``train_cost`` asked for where runs already there lack it (they would be kept as they
    are, without it), or new runs (``adding``) without it where every run there has it.
    The training cost is no setting (it changes no run), so it is not part of a key.

    Refuse too a sweep whose data (``data``: :func:`nudge.sweep.grid.data_sha256` by
    dataset name) differs from the data the runs already there were trained on: a key
    names the dataset, not its images.  Runs written before lines recorded it are not
    checked; the notes returned say how many."""
    _check_data(path, done, data or {})
    kinds = [records_train_cost(r) for r in done]
    if train_cost and False in kinds:
        raise NudgeError(f"--train-cost: {path} already holds "
                         f"{counted(kinds.count(False), 'run')} of this grid recorded without "
                         "the training cost; leave out --train-cost to resume as it is, or "
                         "choose another --out to record it for every run")
    if not train_cost and adding and True in kinds and False not in kinds:
        raise NudgeError(f"{path}: its runs of this grid record the training cost; add "
                         "--train-cost to resume (or choose another --out)")
    unknown = sum(r.get("data_sha256") is None for r in done) if data else 0
    return [f"{path}: {counted(unknown, 'run')} of this grid written by an older nudge "
            "record no data_sha256: the data they were trained on is not checked"
            ] if unknown else []


def _check_data(path: str | Path, done: list[dict[str, Any]], data: Mapping[str, str]) -> None:
    for name, sha in data.items():
        other = [r for r in done if r["settings"].get("dataset") == name
                 and r.get("data_sha256") not in (None, sha)]
        if other:
            raise NudgeError(f"{path}: {counted(len(other), 'run')} of this grid "
                             f"{'was' if len(other) == 1 else 'were'} trained on other {name} "
                             "data than this sweep's (another data_sha256); resume with the "
                             "same data, or choose another --out")


def _unique(records: list[dict[str, Any]], notes: list[str],
            path: str | Path) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        seen.setdefault(r["key"], r)
    if len(seen) < len(records):
        notes.append(f"{path}: {counted(len(records) - len(seen), 'repeated result')} "
                     "counted once")
    return list(seen.values())


class ResultsFile:
    """The results file, open and locked for a sweep: ``done`` maps the keys already
    in it to their results; :meth:`append` adds one."""

    def __init__(self, path: str | Path) -> None:
        self.path = as_path(path, "the results file")
        self.notes: list[str] = []
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise NudgeError(f"--out {self.path}: the folder {folder} does not exist; create "
                             "it or choose another path")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError as e:
            raise NudgeError(f"--out {self.path}: cannot write it ({e.strerror}); choose "
                             "another path") from None
        if not stat.S_ISREG(os.fstat(self.fd).st_mode):
            os.close(self.fd)
            raise NudgeError(f"--out {self.path} is not a regular file (a device or a pipe "
                             "cannot hold results): give a file name such as sweep.jsonl")
        try:
            self._lock()
            self.done = {r["key"]: r for r in self._repair()}
        except BaseException:
            os.close(self.fd)
            raise

    def _lock(self) -> None:
        if fcntl is None:                   # pragma: no cover
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise NudgeError(f"--out {self.path} is being written by another nudge sweep; "
                             "wait for it to end or choose another --out") from None

    def _repair(self) -> list[dict[str, Any]]:
        size = os.fstat(self.fd).st_size
        if size > MAX_RESULTS_BYTES:
            raise NudgeError(f"--out {self.path}: {size:,} bytes is more than the "
                             f"{MAX_RESULTS_BYTES:,} of a results file nudge reads; is it the "
                             "right file?")
        data = os.pread(self.fd, size, 0) if size else b""
        records, good, whole = parse(data, self.path)
        if whole:
            os.write(self.fd, b"\n")
            os.fsync(self.fd)
        elif good < len(data):
            os.ftruncate(self.fd, good)
            os.fsync(self.fd)
            self.notes.append(f"{self.path}: cut off a half-written last line (its run will "
                              "be done again)")
        return _unique(records, self.notes, self.path)

    def append(self, record: dict[str, Any]) -> None:
        """Write one result as a line, at once and to the disk."""
        key = record["key"]
        if key in self.done:                # never twice, whatever a cluster sends back
            return
        line = json.dumps(jsonable(record), separators=(",", ":")).encode() + b"\n"
        try:                                # one write of a whole line, in practice
            append_whole(self.fd, line)
        except OSError as e:
            raise NudgeError(f"--out {self.path}: cannot add a result ({os_reason(e)}); the "
                             "results before it are saved: run the same command again to "
                             "resume") from None
        self.done[key] = record

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)               # closing releases the lock
            self.fd = -1

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
