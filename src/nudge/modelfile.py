"""Model files: safetensors with JSON metadata, written atomically, validated on load.

Tensor names follow a PyTorch ``nn.Sequential`` of ``nn.Linear`` layers with
an activation between them: ``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``,
... so ``seq.load_state_dict(safetensors.torch.load_file(path))`` works.  The
metadata key ``nudge`` holds a JSON object with the architecture (sizes,
activation, output, cost), the training settings and the final accuracy.
No pickle anywhere: loading a model never runs code.

Loading checks everything before anything is allocated: the metadata's types and
values (a damaged file is refused, not half-used), the layer sizes against the
tensors' shapes and types as the file's header declares them, and then the values
(finite), and last their SHA-256 against the metadata's ``parameters_sha256``
(safetensors checks no data: a changed byte would give another finite number; files
saved before nudge wrote the checksum load without it).  The tensors' sizes are bounded
by the file's size (safetensors checks that the header's offsets cover the file
exactly).  Saving goes through :func:`nudge.fsutil.atomic_write_bytes` (atomic,
symlinks and modes kept, non-regular and read-only targets refused).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .bounds import MAX_PARAMETERS, check_seed, check_sizes, parameter_count
from .errors import ModelFileError, NudgeError, is_printable, short_repr
from .fsutil import as_path, atomic_write_bytes, file_kind, open_regular, os_reason
from .jsonable import jsonable
from .network import ACTIVATIONS, COSTS, INITS, OUTPUTS, Network, check_network

__all__ = ["save", "load", "tensor_names", "file_size"]

#: the longest header nudge reads (safetensors' own limit is 100 MB; nudge's are a few KB)
MAX_HEADER_BYTES = 16 * 2**20
#: the deepest nesting of lists and objects in the metadata (nudge writes 3 levels; a deeper
#: one is damage, and would overflow the recursion of whatever shows or saves it again)
MAX_METADATA_DEPTH = 32
FORMAT = "nudge-model"
FORMAT_VERSION = 1


def tensor_names(n_layers: int) -> list[tuple[str, str]]:
    """(weight name, bias name) of each layer, as in ``nn.Sequential``'s state_dict."""
    return [(f"{2 * l}.weight", f"{2 * l}.bias") for l in range(n_layers)]


def parameters_sha256(net: Network) -> str:
    """SHA-256 of the weights and biases, layer by layer (W then b, row-major, little-endian):
    the model file's ``parameters_sha256``, checked by :func:`load`."""
    h = hashlib.sha256()
    for W, b in zip(net.weights, net.biases):
        for p in (W, b):
            h.update(np.ascontiguousarray(p, dtype=p.dtype.newbyteorder("<")).data)
    return h.hexdigest()


def start_record(name: str, start: Network, test_accuracy: float | None) -> dict[str, Any]:
    """What a model file records of the model its run started from (``nudge train
    --start-from``, the page's "train further"): its name, the checksum of its weights and
    biases, how many epochs of training they hold (those of every run it was started from
    too; None where its metadata does not say, as for a network saved from Python;
    ``partial`` when one of them was cut short by a stop), its dataset, and its accuracy on
    the run's test images when the run began."""
    md = start.metadata
    earlier = md.get("started_from")
    before = earlier.get("epochs") if isinstance(earlier, dict) else 0
    kept = _kept_epoch(md)
    counts = [n for n in (before, kept) if isinstance(n, int) and _is_count(n)]
    epochs = sum(counts) if len(counts) == 2 else None
    partial = isinstance(earlier, dict) and earlier.get("partial") is True or cut_short(md)
    return {"model": name, "parameters_sha256": parameters_sha256(start),
            "epochs": epochs if _is_count(epochs) else None,   # a count the file may hold
            **({"partial": True} if partial else {}),     # an epoch of them was cut short
            "dataset": md.get("dataset"), "test_accuracy": test_accuracy}


def _kept_epoch(md: dict[str, Any]) -> Any:
    """The epoch a model file's network is from, as its metadata says (the best one, with
    early stopping; else the last), unchecked: None where it does not say."""
    return md.get("best_epoch") if md.get("best_epoch") is not None else md.get("epochs_trained")


def cut_short(md: dict[str, Any]) -> bool:
    """Whether the epoch a model file's network is from was cut short by a stop (its
    ``history`` says so: a run stopped in the middle of an epoch records that epoch too)."""
    history = md.get("history")
    kept = _kept_epoch(md)
    if not (isinstance(history, list) and isinstance(kept, int) and 0 < kept <= len(history)):
        return False
    record = history[kept - 1]
    return isinstance(record, dict) and record.get("complete") is False


def _header_info(net: Network, metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata, then what the network itself says (its architecture always wins: a
    loaded model's metadata passed back in, or a stray ``activation=``, cannot change it;
    nor can a checksum passed in)."""
    return {**jsonable(metadata), "format": FORMAT, "format_version": FORMAT_VERSION,
            **net.config, "seed": net.seed, "dtype": str(net.dtype),
            "n_parameters": net.n_parameters, "parameters_sha256": parameters_sha256(net)}


def file_size(net: Network, **metadata: Any) -> int:
    """About how many bytes :func:`save` writes for ``net`` (to check free space first)."""
    return net.n_parameters * net.dtype.itemsize + len(json.dumps(
        _header_info(net, metadata))) + 200 * len(net.weights) + 1024


def save(net: Network, path: str | Path, **metadata: Any) -> Path:
    """Save ``net`` (and any JSON-able ``metadata``) to a safetensors file, atomically.

    Returns ``path`` (a symbolic link stays a link; the file it points to is replaced).
    """
    from safetensors.numpy import save as st_save

    path = as_path(path, "the model file")
    check_network(net, finite=True)           # a file that load would refuse is not written
    tensors = {}
    for (wname, bname), W, b in zip(tensor_names(len(net.weights)), net.weights, net.biases):
        tensors[wname] = np.ascontiguousarray(W)
        tensors[bname] = np.ascontiguousarray(b)
    try:
        header = {"format": FORMAT, "nudge": json.dumps(_header_info(net, metadata))}
    except (TypeError, ValueError, RecursionError) as e:   # RecursionError: a cycle
        raise NudgeError(f"the metadata cannot be saved as JSON ({e}): give numbers, "
                         "strings, lists and dicts") from None
    try:
        _check_info(path, header)             # the metadata load checks, checked first
    except ModelFileError as e:
        raise NudgeError(f"{str(e).removesuffix('; the file is damaged')}: not saved, as "
                         "load would refuse it; give metadata of the right type") from None
    data = st_save(tensors, metadata=header)
    atomic_write_bytes(path, data)
    return path


def _bad(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


# --------------------------------------------------------------------------- metadata checks
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return _is_int(v) or (isinstance(v, float) and math.isfinite(v))   # ints: any size


def _is_name(v: Any) -> bool:
    """A dataset's or a class's name: 1 to 100 characters that print as they are (no control,
    bidi or zero-width characters: nudge writes names from its datasets, so such a name is
    damage or tampering, refused here rather than handed to every program that shows it)."""
    return isinstance(v, str) and 0 < len(v) <= 100 and is_printable(v)


#: the longest free text (a preset's name, a date, why training stopped: nudge writes a
#: few dozen characters) and the largest count (of epochs, examples) in the metadata
MAX_TEXT = 1000
MAX_METADATA_COUNT = 10**15


def _is_text(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= MAX_TEXT


def _is_count(v: Any, least: int = 0) -> bool:
    return _is_int(v) and least <= v <= MAX_METADATA_COUNT


_TEXT = f"a string of at most {MAX_TEXT:,} characters"
_COUNT = f"a whole number from 0 to {MAX_METADATA_COUNT:.0e}"
#: the longest name of the model a run started from that a model file records (a path:
#: Linux's PATH_MAX)
MAX_START_NAME = 4096


def _is_sha256(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None


def _is_start(v: Any) -> bool:
    """``started_from`` as :func:`start_record` writes it: the model's name, and its
    checksum, epochs, dataset and accuracy where known (None where not)."""
    checks = {"epochs": _is_count, "partial": lambda p: isinstance(p, bool),
              "dataset": _is_name, "parameters_sha256": _is_sha256,
              "test_accuracy": lambda a: _is_number(a) and 0 <= a <= 1}
    return (isinstance(v, dict) and isinstance(v.get("model"), str)
            and len(v["model"]) <= MAX_START_NAME
            and all(v.get(k) is None or check(v[k]) for k, check in checks.items()))


#: optional metadata entries: key -> (check, what it must be); None is always allowed
_OPTIONAL = {
    "dataset": (_is_name, "a dataset name: 1 to 100 printable characters"),
    "preset": (_is_text, _TEXT),
    "created": (_is_text, _TEXT),
    "stopped": (_is_text, _TEXT),
    "dtype": (lambda v: v in ("float32", "float64"), "float32 or float64"),
    "init": (lambda v: v in INITS, f"one of {', '.join(INITS)}"),
    "seed": (_is_int, "a whole number"),
    "training": (lambda v: isinstance(v, dict), "a JSON object"),
    "history": (lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
                "a list of JSON objects"),
    "classes": (lambda v: isinstance(v, list) and all(_is_name(c) for c in v),
                "a list of class names of 1 to 100 printable characters"),
    "input_shape": (lambda v: isinstance(v, list) and len(v) == 2
                    and all(_is_int(d) and d > 0 for d in v), "two positive whole numbers"),
    "test_accuracy": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "test_cost": (lambda v: _is_number(v) and v >= 0, "a finite number of 0 or more"),
    "validation_accuracy": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "validation_cost": (lambda v: _is_number(v) and v >= 0, "a finite number of 0 or more"),
    "train_cost": (lambda v: _is_number(v) and v >= 0, "a finite number of 0 or more"),
    "train_seconds": (lambda v: _is_number(v) and v >= 0, "a finite number of 0 or more"),
    "epochs_trained": (_is_count, _COUNT),
    "best_epoch": (lambda v: _is_count(v, 1), _COUNT.replace("from 0", "from 1")),
    "n_train": (_is_count, _COUNT),
    "n_test": (_is_count, _COUNT),
    "n_validation": (_is_count, _COUNT),
    "n_parameters": (lambda v: _is_int(v) and v > 0, "a positive whole number"),
    "parameters_sha256": (_is_sha256, "64 hexadecimal digits"),
    "started_from": (_is_start, "a JSON object: the model's name, a string of at most "
                     f"{MAX_START_NAME:,} characters, and where known (else null) its "
                     f"epochs, {_COUNT}, partial (true or false), dataset, parameters_sha256 "
                     "and test_accuracy"),
}


def _too_deep(value: Any, most: int = MAX_METADATA_DEPTH) -> bool:
    """Whether lists and objects nest in ``value`` more than ``most`` levels deep."""
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > most:
            return True
        level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                 if isinstance(v, (dict, list))]
    return False


def _json_int(text: str) -> int:
    """A JSON integer of the metadata; one longer than Python turns into an int (4,300
    digits) is damage (each key's own rule bounds the others)."""
    if len(text.lstrip("-")) > 4000:
        raise ValueError(f"a whole number of {len(text.lstrip('-')):,} digits")
    return int(text)


def _check_info(path: Path, header: dict[str, str]) -> dict[str, Any]:
    """The nudge metadata, every entry checked for its type and consistency."""
    if header.get("format") != FORMAT or "nudge" not in header:
        raise _bad(path, "is a safetensors file but not a nudge model (no nudge metadata)")
    try:
        info = json.loads(header["nudge"], parse_int=_json_int)
    except (json.JSONDecodeError, RecursionError):
        raise _bad(path, "the nudge metadata is not valid JSON; the file is damaged") from None
    except ValueError as e:
        raise _bad(path, f"the nudge metadata holds {e}; the file is damaged") from None
    if not isinstance(info, dict):
        raise _bad(path, "the nudge metadata is not a JSON object; the file is damaged")
    if _too_deep(info):
        raise _bad(path, f"the nudge metadata nests lists or objects more than "
                   f"{MAX_METADATA_DEPTH} levels deep; the file is damaged")
    if info.get("format_version") != FORMAT_VERSION:
        raise _bad(path, f"model format version {short_repr(info.get('format_version'))} is not "
                   f"supported (this nudge reads version {FORMAT_VERSION})")
    sizes = info.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(_is_int(s) and s > 0 for s in sizes)):
        raise _bad(path, f"invalid layer sizes {short_repr(sizes)} in the metadata")
    try:
        check_sizes(sizes)
    except NudgeError as e:
        raise _bad(path, f"{e} (in the metadata)") from None
    for key, choices in (("activation", ACTIVATIONS), ("output", OUTPUTS), ("cost", COSTS)):
        if info.get(key) not in choices:
            raise _bad(path, f"invalid {key} {short_repr(info.get(key))} in the metadata")
    for key, (check, what) in _OPTIONAL.items():
        value = info.get(key)
        if value is not None and not check(value):
            raise _bad(path, f"invalid {key} {short_repr(value)} in the metadata (must be {what}); "
                       "the file is damaged")
    n_params = parameter_count(sizes)
    consistent = [
        ("classes", lambda v: len(v) == sizes[-1], f"{sizes[-1]} names, one per output"),
        ("input_shape", lambda v: v[0] * v[1] == sizes[0], f"{sizes[0]} pixels in all"),
        ("n_parameters", lambda v: v == n_params, f"{n_params} for layers {sizes}"),
        ("best_epoch", lambda v: info.get("epochs_trained") is None
         or v <= info["epochs_trained"], f"at most epochs_trained, "
         f"{info.get('epochs_trained')}"),
    ]
    for key, check, what in consistent:
        if info.get(key) is not None and not check(info[key]):
            raise _bad(path, f"{key} {short_repr(info[key])} does not fit the rest of the "
                       f"model (expected {what}); the file is damaged")
    return info


# --------------------------------------------------------------------------- loading
_DTYPES = {"F32": np.float32, "F64": np.float64}
#: the largest model file nudge reads: the most parameters in float64, and the header
MAX_MODEL_BYTES = MAX_PARAMETERS * 8 + MAX_HEADER_BYTES


def read_header(f: Any) -> tuple[dict[str, Any], bytes]:
    """A safetensors file's header (a JSON object: ``__metadata__`` and one entry per
    tensor) read from an open file, and the bytes read so far."""
    head = f.read(8)
    n = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 0 < n <= MAX_HEADER_BYTES:
        raise ValueError("the header length is missing or impossible")
    text = f.read(n)
    if len(text) != n:
        raise ValueError("the file ends inside its header")
    header = json.loads(text)
    if not isinstance(header, dict) or not all(
            isinstance(v, dict) for k, v in header.items() if k != "__metadata__"):
        raise ValueError("the header is not a JSON object of tensors")
    return header, head + text


def peek_metadata(path: str | Path) -> dict[str, Any] | None:
    """The nudge metadata of a model file, unchecked, from its header alone (None: not a
    model file nudge can read); for telling a model file from another file."""
    try:
        with open_regular(path, MAX_MODEL_BYTES) as f:
            info = json.loads(read_header(f)[0]["__metadata__"]["nudge"])
        return info if isinstance(info, dict) else None
    except Exception:                          # not a model file nudge can read
        return None


def load(path: str | Path) -> Network:
    """Load a model saved by :func:`save`; everything is checked before it is used.

    The returned network has a ``metadata`` dict (training settings, accuracy...).
    """
    from safetensors.numpy import load as st_load

    path = as_path(path, "the model file")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _bad(path, "no such model file; train one with `nudge train --out FILE`") from None
    except (OSError, ValueError) as e:
        reason = os_reason(e) if isinstance(e, OSError) else str(e)
        raise _bad(path, f"cannot be read ({reason})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _bad(path, f"is {file_kind(st.st_mode)}, not a regular file; give a model "
                   "file saved by `nudge train`")
    try:
        # read, not mapped: a file cut short while it loads is an error, not a SIGBUS
        with open_regular(path, MAX_MODEL_BYTES) as f:
            header, head = read_header(f)
            info = _check_info(path, header.pop("__metadata__", None) or {})
            sizes = info["sizes"]
            names = tensor_names(len(sizes) - 1)
            _check_tensors(path, header, sizes, names)
            data = head + f.read()
        tensors = st_load(data)               # checks the offsets against the bytes
    except ModelFileError:
        raise
    except Exception as e:
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise _bad(path, f"not a readable safetensors model file ({reason}); give a model "
                   "saved by `nudge train`") from None
    dtype = tensors[names[0][0]].dtype
    if info.get("dtype") not in (None, str(dtype)):
        raise _bad(path, f"the metadata says {info['dtype']} but the tensors are {dtype}; "
                   "the file is damaged")
    for l, (wname, bname) in enumerate(names):
        if not (np.isfinite(tensors[wname]).all() and np.isfinite(tensors[bname]).all()):
            raise _bad(path, f"layer {l + 1} holds NaN or infinite values")
    try:
        check_seed(info.get("seed"))
    except NudgeError as e:
        raise _bad(path, f"{e} (in the metadata)") from None
    net = Network.from_parameters([tensors[w] for w, _ in names], [tensors[b] for _, b in names],
                                  info["activation"], info["output"], info["cost"],
                                  info.get("init") or "scaled", seed=info.get("seed"))
    if info.get("parameters_sha256") not in (None, parameters_sha256(net)):
        raise _bad(path, "the weights and biases are not those it was saved with (their "
                   "SHA-256 differs from the metadata's parameters_sha256); the file is "
                   "damaged: copy it again, or train it again")
    net.metadata = info
    return net


def _check_tensors(path: Path, header: dict[str, Any], sizes: list[int],
                   names: list[tuple[str, str]]) -> None:
    """Names, shapes and types of the tensors, from the header (nothing read yet)."""
    expected = {n for pair in names for n in pair}
    found = set(header)
    if found != expected:
        missing, extra = sorted(expected - found), sorted(found - expected)
        raise _bad(path, f"tensors do not match layer sizes {short_repr(sizes)} (missing "
                   f"{short_repr(missing)}, unexpected {short_repr(extra)})")
    dtypes = {header[k]["dtype"] for k in found}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _DTYPES:
        found_types = sorted(str(d) for d in dtypes)
        raise _bad(path, f"tensors must all be float32 or all float64, found {found_types}")
    for l, ((wname, bname), n_in, n_out) in enumerate(zip(names, sizes[:-1], sizes[1:])):
        W, b = header[wname]["shape"], header[bname]["shape"]
        if W != [n_out, n_in] or b != [n_out]:     # JSON lists, as the header declares them
            shown = [str(tuple(s)) if isinstance(s, list) else short_repr(s) for s in (W, b)]
            raise _bad(path, f"layer {l + 1} has weights {shown[0]} and biases {shown[1]}, "
                       f"expected ({n_out}, {n_in}) and ({n_out},)")
