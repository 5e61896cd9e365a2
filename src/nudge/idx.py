"""IDX files, the format MNIST and Fashion-MNIST come in: read, checked, decoded.

An IDX file is a 4-byte magic number (0, 0, a type code, the number of dimensions), one
big-endian 4-byte size per dimension, then the values.  nudge reads files of bytes (type
0x08), gzipped or raw, and refuses anything whose header and length disagree, with one
line naming the file and the fix.  Sizes are bounded (:data:`MAX_IDX_BYTES`).
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError, NudgeError
from .fsutil import as_path, read_regular

#: the value types nudge reads (type code -> dtype): bytes only
IDX_TYPES = {0x08: np.uint8}
#: the most bytes an IDX file may hold once decompressed (MNIST's largest: 47 MB), so that
#: a damaged or hostile file cannot ask for unbounded memory
MAX_IDX_BYTES = 1 << 30


def read_bytes(path: Path, limit: int = MAX_IDX_BYTES) -> bytes:
    """A file's bytes, gunzipped if it is a .gz, refusing more than ``limit`` bytes."""
    try:
        raw = read_regular(path, limit + limit // 64 + 4096)
    except NudgeError as e:
        raise DataError(str(e)) from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
            out = g.read(limit + 1)                # never more than the limit in memory
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: the gzip data is corrupt or truncated ({e}); "
                        "delete the file and get it again") from None
    if len(out) > limit:
        raise DataError(f"{path}: decompresses to more than {limit:,} bytes, more than this "
                        "IDX file can hold; the file is damaged or not an IDX file")
    return out


def parse_idx(raw: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an IDX file, checking magic number, dimensions and length."""
    if len(raw) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file of bytes (magic number "
                        f"0x{raw[:4].hex()}, expected 0x00000801 or 0x00000803)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header (needs {header} bytes, has {len(raw)})")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = math.prod(dims)                    # a Python int: no overflow
    found = len(raw) - header
    shape = "x".join(map(str, dims)) if ndim <= 8 else f"{ndim} dimensions"
    if math.prod(d for d in dims if d) > 2**62:           # even with a 0, numpy refuses
        raise DataError(f"{path}: the header's dimensions ({shape}) are impossibly large; "
                        "the file is damaged or not an IDX file")
    if found < expected:
        raise DataError(f"{path}: truncated: the header promises {expected:,} values "
                        f"({shape}) but the file holds {found:,}; delete it and get it again")
    if found > expected:
        raise DataError(f"{path}: {found - expected:,} unexpected bytes after the "
                        f"{shape} values; the file is not a valid IDX file")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def read_idx(path: str | Path, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a uint8 array of the dimensions it declares."""
    path = as_path(path, "the IDX file")
    return parse_idx(read_bytes(path, max_bytes), path)


def idx_header(shape: tuple[int, ...]) -> bytes:
    """The header of an IDX file of bytes with these dimensions."""
    return bytes([0, 0, 0x08, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
