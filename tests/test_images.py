"""Preparing pictures the MNIST way, and reading pictures of every kind safely."""

import os
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nudge.errors import NudgeError
from nudge.images import open_image, prepare, prepare_file


def drawn_seven(size=200, dark_on_light=True, offset=(0, 0)):
    bg, ink = (255, 0) if dark_on_light else (0, 255)
    img = Image.new("L", (size, size), bg)
    d = ImageDraw.Draw(img)
    ox, oy = offset
    d.line([(40 + ox, 40 + oy), (150 + ox, 40 + oy), (90 + ox, 170 + oy)], fill=ink, width=14)
    return img


def test_prepared_digit_fits_20x20_box_centred_by_mass(tmp_path):
    path = tmp_path / "seven.png"
    drawn_seven().save(path)
    x = prepare_file(path).reshape(28, 28)
    assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    rows, cols = np.nonzero(x > 0.05)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) >= 18
    total = x.sum()
    cy = (x.sum(axis=1) @ np.arange(28)) / total
    cx = (x.sum(axis=0) @ np.arange(28)) / total
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1


def test_polarity_and_position_do_not_matter():
    a = prepare(np.asarray(drawn_seven(dark_on_light=True), np.float32) / 255)
    b = prepare(np.asarray(drawn_seven(dark_on_light=False), np.float32) / 255)
    c = prepare(np.asarray(drawn_seven(offset=(30, 20)), np.float32) / 255)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_transparent_png_strokes_count_as_ink(tmp_path):
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(50, 10), (50, 90)], fill=(0, 0, 0, 255), width=8)
    rgba.save(tmp_path / "one.png")
    x = prepare_file(tmp_path / "one.png").reshape(28, 28)
    assert x[14, 14] > 0.5 and x[14, 3] == 0


def test_8x8_layout(tmp_path):
    drawn_seven().save(tmp_path / "s.png")
    assert prepare_file(tmp_path / "s.png", 64).shape == (64,)
    with pytest.raises(NudgeError, match="28x28"):
        prepare_file(tmp_path / "s.png", 100)


def test_bad_images(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(NudgeError, match="not a picture nudge can read") as e:
        open_image(tmp_path / "x.png")
    assert "<" not in str(e.value)                   # no Python object in the message
    with pytest.raises(NudgeError, match="missing.png: file not found"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(NudgeError, match="blank"):
        prepare(np.ones((30, 30)))
    with pytest.raises(NudgeError, match="2-D"):
        prepare(np.ones(5))


def _png_header_only(width, height, bit_depth=8, color_type=0):
    """A PNG whose header claims width x height but which holds no pixel data."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _reference():
    return prepare(np.asarray(drawn_seven(), np.float32) / 255)


def test_16_bit_pictures_are_scaled_by_their_range(tmp_path):
    ink = np.asarray(drawn_seven(), np.float64) / 255          # 1 = paper, 0 = ink
    for name, values in (("full.png", ink * 65535), ("12bit.png", ink * 4095 + 100),
                         ("upper.png", ink * 59000 + 1000)):
        Image.fromarray(values.astype(np.uint16)).save(tmp_path / name)
        x = prepare_file(tmp_path / name).reshape(28, 28)
        np.testing.assert_allclose(x, _reference(), atol=0.02)


def test_float_tiffs_are_scaled_by_their_range(tmp_path):
    ink = np.asarray(drawn_seven(), np.float32) / 255
    for name, values in (("unit.tif", ink), ("big.tif", ink * 1000 - 5)):
        Image.fromarray(values.astype(np.float32), mode="F").save(tmp_path / name)
        x = prepare_file(tmp_path / name).reshape(28, 28)
        np.testing.assert_allclose(x, _reference(), atol=0.02)
    nan = ink.copy()
    nan[0, 0] = np.nan
    Image.fromarray(nan, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(NudgeError, match="nan.tif: .*NaN"):
        prepare_file(tmp_path / "nan.tif")


@pytest.mark.parametrize("orientation,turn", [(6, Image.Transpose.ROTATE_90),
                                              (8, Image.Transpose.ROTATE_270),
                                              (3, Image.Transpose.ROTATE_180)])
def test_exif_orientation_is_honoured(tmp_path, orientation, turn):
    stored = drawn_seven().transpose(turn)          # as a camera held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(tmp_path / "photo.jpg", exif=exif, quality=95)
    x = prepare_file(tmp_path / "photo.jpg").reshape(28, 28)
    assert np.corrcoef(x.ravel(), _reference().ravel())[0, 1] > 0.95


def test_only_drawing_formats_are_opened(tmp_path):
    eps = tmp_path / "digit.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n")
    with pytest.raises(NudgeError, match="digit.eps: not a picture nudge can read"):
        open_image(eps)
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("BMP", "bmp"),
                     ("TIFF", "tif"), ("WEBP", "webp")):
        drawn_seven().save(tmp_path / f"s.{ext}", format=fmt)
        assert open_image(tmp_path / f"s.{ext}").shape == (200, 200)


def test_huge_pictures_are_refused_from_the_header(tmp_path):
    import tracemalloc

    for w, h in ((12000, 12000), (100000, 100000), (2**31 - 1, 1), (0, 5)):
        path = tmp_path / f"{w}x{h}.png"
        path.write_bytes(_png_header_only(w, h))
        tracemalloc.start()
        started = time.perf_counter()
        with pytest.raises(NudgeError, match=f"{w}x{h}.png: ") as err:
            open_image(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert time.perf_counter() - started < 10 and peak < 20 * 2**20   # no pixel read
        assert "\n" not in str(err.value)


def test_large_pictures_are_reduced_before_preparing(tmp_path):
    big = drawn_seven().resize((4000, 4000))
    big.save(tmp_path / "big.png")
    gray = open_image(tmp_path / "big.png")
    assert max(gray.shape) <= 2048
    x = prepare(gray)
    assert np.corrcoef(x.ravel(), _reference().ravel())[0, 1] > 0.95


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(NudgeError, match="not a regular file"):
        open_image(tmp_path / "pipe.png")
    with pytest.raises(NudgeError, match="is a folder"):
        open_image(tmp_path)
