"""Property-based tests of reading pictures: any bytes, mutated files of every format
nudge opens, and valid pictures of every mode and size.

Whatever the file: a 2-D grayscale array in [0, 1], or one :class:`NudgeError` line
naming the file; never another exception (and preparing what was read gives a 28x28
input in [0, 1] or a one-line error).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from nudge.errors import NudgeError
from nudge.images import WORK_SIDE, open_image, prepare

FAST, SLOW = examples(120), examples(2000)
FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "BMP": "bmp", "TIFF": "tif",
           "WEBP": "webp"}
MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
         b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"%!PS-Adobe-3.0 EPSF-3.0\n", b""]


def _sample(fmt: str) -> bytes:
    img = Image.new("L", (24, 20), 255)
    ImageDraw.Draw(img).line([(4, 4), (18, 4), (10, 16)], fill=0, width=3)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


SAMPLES = {fmt: _sample(fmt) for fmt in FORMATS}


def _read(path) -> None:
    try:
        gray = open_image(path)
    except NudgeError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
        return
    assert gray.ndim == 2 and gray.dtype == np.float32 and max(gray.shape) <= WORK_SIDE
    assert np.isfinite(gray).all() and gray.min() >= 0 and gray.max() <= 1
    try:
        x = prepare(gray)
    except NudgeError as e:
        assert "\n" not in str(e)
        return
    assert x.shape == (28, 28) and np.isfinite(x).all() and 0 <= x.min() <= x.max() <= 1


@st.composite
def mutated(draw, data: bytes):
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "set-big"]))
        pos = draw(st.integers(0, max(0, len(out) - 1)))
        if kind == "flip" and out:
            out[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del out[pos:pos + draw(st.integers(1, 50))]
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "set-big" and len(out) > pos + 4:      # dimensions live in headers
            out[pos:pos + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\xff\xff",
                                                     b"\x7f\xff\x00\x00", b"\x00\x00\x00\x00"]))
    return bytes(out)


@FAST
@given(st.sampled_from(MAGIC), st.binary(max_size=200))
def test_any_bytes_behind_any_magic(tmp_path, magic, rest):
    path = tmp_path / "any.img"
    path.write_bytes(magic + rest)
    _read(path)


@FAST
@given(st.sampled_from(sorted(FORMATS)), st.data())
def test_mutated_pictures(tmp_path, fmt, data):
    path = tmp_path / f"m.{FORMATS[fmt]}"
    path.write_bytes(data.draw(mutated(SAMPLES[fmt])))
    _read(path)


MODES = ["1", "L", "P", "LA", "RGB", "RGBA", "I", "I;16", "F", "CMYK"]


@FAST
@given(st.sampled_from(MODES), st.sampled_from(sorted(FORMATS)),
       st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_valid_pictures_of_every_mode(tmp_path, mode, fmt, w, h, seed):
    rng = np.random.default_rng(seed)
    if mode == "F":
        img = Image.fromarray(rng.normal(0, 1e3, (h, w)).astype(np.float32), mode="F")
    elif mode in ("I", "I;16"):
        img = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(
            np.int32 if mode == "I" else np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
        img = img.convert(mode) if mode != "P" else img.convert("RGB").quantize(8)
    path = tmp_path / f"v.{FORMATS[fmt]}"
    try:
        img.save(path, format=fmt)
    except (OSError, ValueError, KeyError):
        return                          # Pillow cannot write this mode in this format
    _read(path)


@pytest.mark.slow
@SLOW
@given(st.sampled_from(sorted(FORMATS)), st.data())
def test_mutated_pictures_many(tmp_path, fmt, data):
    path = tmp_path / f"m.{FORMATS[fmt]}"
    path.write_bytes(data.draw(mutated(SAMPLES[fmt])))
    _read(path)
