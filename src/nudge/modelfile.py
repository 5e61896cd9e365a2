"""Model files: safetensors with JSON metadata, written atomically, validated on load.

Tensor names follow a PyTorch ``nn.Sequential`` of ``nn.Linear`` layers with
an activation between them: ``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``,
... so ``seq.load_state_dict(safetensors.torch.load_file(path))`` works.  The
metadata key ``nudge`` holds a JSON object with the architecture (sizes,
activation, output, cost), the training settings and the final accuracy.
No pickle anywhere: loading a model never runs code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError, NudgeError
from .jsonable import jsonable
from .network import ACTIVATIONS, COSTS, INITS, OUTPUTS, Network

FORMAT = "nudge-model"
FORMAT_VERSION = 1


def tensor_names(n_layers: int) -> list[tuple[str, str]]:
    """(weight name, bias name) of each layer, as in ``nn.Sequential``'s state_dict."""
    return [(f"{2 * l}.weight", f"{2 * l}.bias") for l in range(n_layers)]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so that a
    reader never sees a half-written file and an old file is only replaced whole."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise NudgeError(f"{path}: the folder {folder} does not exist; create it or choose "
                         "another path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)      # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(path: str | Path) -> Path:
    """Fail early (before a long training run) if ``path`` cannot be written."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise NudgeError(f"{path}: the folder {folder} does not exist; create it or choose "
                         "another --out path")
    if path.is_dir():
        raise NudgeError(f"{path} is a folder; give a file name such as "
                         f"{path / 'model.safetensors'}")
    if not os.access(folder, os.W_OK):
        raise NudgeError(f"{path}: the folder {folder} is not writable; choose another --out path")
    return path


def save(net: Network, path: str | Path, **metadata: Any) -> Path:
    """Save ``net`` (and any JSON-able ``metadata``) to a safetensors file, atomically."""
    from safetensors.numpy import save as st_save

    tensors = {}
    for (wname, bname), W, b in zip(tensor_names(len(net.weights)), net.weights, net.biases):
        tensors[wname] = np.ascontiguousarray(W)
        tensors[bname] = np.ascontiguousarray(b)
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, **net.config,
            "seed": net.seed, "dtype": str(net.dtype), "n_parameters": net.n_parameters,
            **jsonable(metadata)}
    data = st_save(tensors, metadata={"format": FORMAT, "nudge": json.dumps(info)})
    atomic_write_bytes(path, data)
    return Path(path)


def _bad(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


def load(path: str | Path) -> Network:
    """Load a model saved by :func:`save`; everything is checked before it is used.

    The returned network has a ``metadata`` dict (training settings, accuracy...).
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise _bad(path, "no such model file; train one with `nudge train --out FILE`")
    try:
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise _bad(path, f"not a readable safetensors model file ({reason}); give a model "
                   "saved by `nudge train`") from None
    if header.get("format") != FORMAT or "nudge" not in header:
        raise _bad(path, "is a safetensors file but not a nudge model (no nudge metadata)")
    try:
        info = json.loads(header["nudge"])
    except json.JSONDecodeError:
        raise _bad(path, "the nudge metadata is not valid JSON; the file is damaged") from None
    if not isinstance(info, dict):
        raise _bad(path, "the nudge metadata is not a JSON object; the file is damaged")
    if info.get("format_version") != FORMAT_VERSION:
        raise _bad(path, f"model format version {info.get('format_version')!r} is not "
                   f"supported (this nudge reads version {FORMAT_VERSION})")
    sizes = info.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        raise _bad(path, f"invalid layer sizes {sizes!r} in the metadata")
    for key, choices in (("activation", ACTIVATIONS), ("output", OUTPUTS), ("cost", COSTS)):
        if info.get(key) not in choices:
            raise _bad(path, f"invalid {key} {info.get(key)!r} in the metadata")
    names = tensor_names(len(sizes) - 1)
    expected = {n for pair in names for n in pair}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise _bad(path, f"tensors do not match layer sizes {sizes} (missing {missing}, "
                   f"unexpected {extra})")
    dtypes = {t.dtype for t in tensors.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
        found = sorted(map(str, dtypes))
        raise _bad(path, f"tensors must all be float32 or all float64, found {found}")
    dtype = next(iter(dtypes))
    init = info.get("init") if info.get("init") in INITS else "scaled"
    net = Network(sizes, info["activation"], info["output"], info["cost"], init, seed=0,
                  dtype=dtype)
    seed = info.get("seed")
    net.seed = seed if isinstance(seed, int) else None
    for l, ((wname, bname), n_in, n_out) in enumerate(zip(names, sizes[:-1], sizes[1:])):
        W, b = tensors[wname], tensors[bname]
        if W.shape != (n_out, n_in) or b.shape != (n_out,):
            raise _bad(path, f"layer {l + 1} has weights {W.shape} and biases {b.shape}, "
                       f"expected ({n_out}, {n_in}) and ({n_out},)")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise _bad(path, f"layer {l + 1} holds NaN or infinite values")
        net.weights[l], net.biases[l] = W.copy(), b.copy()
    net.metadata = info
    return net
