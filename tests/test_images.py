"""Preparing pictures the MNIST way."""

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
    with pytest.raises(NudgeError, match="not an image file"):
        open_image(tmp_path / "x.png")
    with pytest.raises(NudgeError, match="no such image"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(NudgeError, match="blank"):
        prepare(np.ones((30, 30)))
    with pytest.raises(NudgeError, match="2-D"):
        prepare(np.ones(5))
