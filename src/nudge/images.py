"""Preparing a picture of a digit the way MNIST's digits were prepared.

MNIST: the ink of each digit was scaled (keeping its aspect ratio) to fit a
20x20 box, anti-aliased, and placed in a 28x28 image so that its centre of
mass sits at the centre.  :func:`prepare` does the same to any picture:
dark-on-light or light-on-dark, any size, with or without transparency.  The
web page's drawing canvas goes through this same function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import NudgeError

# input size -> (side of the square image, side of the box the ink is fitted into)
LAYOUTS = {784: (28, 20), 64: (8, 8)}


def layout_for(n_inputs: int) -> tuple[int, int]:
    if n_inputs not in LAYOUTS:
        raise NudgeError(f"the model reads {n_inputs} inputs; images can only be prepared for "
                         "28x28 (784) or 8x8 (64) models")
    return LAYOUTS[n_inputs]


def open_image(path: str | Path) -> np.ndarray:
    """Read a PNG/JPEG/... file into a grayscale array in [0, 1] (1 = white).

    Transparent pixels count as white paper.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return to_gray(img)
    except FileNotFoundError:
        raise NudgeError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise NudgeError(f"{path}: not an image file that can be read ({e}); give a PNG or "
                         "JPEG picture of a digit") from None


def to_gray(img: Any) -> np.ndarray:
    """A PIL image as grayscale floats in [0, 1], transparency composited onto white."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255


def prepare(gray: np.ndarray, side: int = 28, box: int = 20) -> np.ndarray:
    """The network input for a grayscale picture: ink in [0, 1] on a side x side grid.

    ``gray`` is a 2-D array in [0, 1].  Light-on-dark and dark-on-light are both
    accepted (the background is the colour of the border).  Returns float32
    (side, side), 0 = background, 1 = full ink.
    """
    from PIL import Image

    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise NudgeError(f"an image must be a 2-D grayscale array, got shape {gray.shape}")
    if not np.isfinite(gray).all():
        raise NudgeError("the image holds NaN or infinite values")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray - background if background < 0.5 else background - gray
    ink = np.clip(ink, 0, None)
    peak = float(ink.max())
    if peak < 0.1:
        raise NudgeError("no digit found: the image is blank (or has almost no contrast)")
    ink /= peak
    ink[ink < 0.05] = 0
    rows, cols = np.nonzero(ink > 0.2)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = ink.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(ink, mode="F").resize((new_w, new_h), Image.LANCZOS))
    resized = np.clip(resized, 0, 1)
    # place the box so that the centre of mass lands on the centre of the image
    total = resized.sum()
    cy = (resized.sum(axis=1) @ np.arange(new_h)) / total
    cx = (resized.sum(axis=0) @ np.arange(new_w)) / total
    top = int(np.clip(round((side - 1) / 2 - cy), 0, side - new_h))
    left = int(np.clip(round((side - 1) / 2 - cx), 0, side - new_w))
    out = np.zeros((side, side), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = resized
    return out


def prepare_file(path: str | Path, n_inputs: int = 784) -> np.ndarray:
    """Read and prepare an image file for a model with ``n_inputs`` inputs (flattened)."""
    side, box = layout_for(n_inputs)
    return prepare(open_image(path), side, box).reshape(-1)
