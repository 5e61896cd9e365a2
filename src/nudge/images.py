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
from .fsutil import as_path, open_regular

# input size -> (side of the square image, side of the box the ink is fitted into)
LAYOUTS = {784: (28, 20), 64: (8, 8)}


def layout_for(n_inputs: int) -> tuple[int, int]:
    if n_inputs not in LAYOUTS:
        raise NudgeError(f"the model reads {n_inputs} inputs; images can only be prepared for "
                         "28x28 (784) or 8x8 (64) models")
    return LAYOUTS[n_inputs]


#: the formats people draw and photograph digits in; no other is opened (Pillow would open
#: EPS too, which runs Ghostscript where it is installed)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
#: the largest picture read: pixels (from the header, checked before decoding), the bytes its
#: decoded pixels may take, and the file's size
MAX_PIXELS = 50_000_000
MAX_DECODED_BYTES = 256 * 2**20
MAX_FILE_BYTES = 100 * 2**20
#: larger pictures are reduced to this many pixels a side before they are prepared
WORK_SIDE = 2048
_HIGH_DEPTH = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


def _decoded_bytes(img: Any) -> int:
    per_band = 2 if img.mode.startswith("I;16") else 4 if img.mode in ("I", "F") else 1
    bands = len(img.getbands())
    return img.size[0] * img.size[1] * (4 if bands > 1 else per_band)


def open_image(path: str | Path) -> np.ndarray:
    """Read a PNG, JPEG, GIF, BMP, TIFF or WebP file into a grayscale array in [0, 1]
    (1 = white), upright as its EXIF orientation says.

    Transparent pixels count as white paper; 16-bit and floating-point pictures are scaled
    by the range of their values.  Sizes are bounded (:data:`MAX_PIXELS`,
    :data:`MAX_DECODED_BYTES`, :data:`MAX_FILE_BYTES`), checked before decoding.
    """
    import warnings

    from PIL import Image

    path = as_path(path, "the image file")
    # Pillow's warnings (a TIFF tag past the end, odd EXIF...) would be lines of noise
    # around the one line nudge prints; what cannot be decoded raises, and is reported
    with open_regular(path, MAX_FILE_BYTES) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            img = Image.open(f, formats=FORMATS)
        except Image.DecompressionBombError:
            raise NudgeError(f"{path}: the picture is far too large (over {MAX_PIXELS:,} "
                             "pixels); give a smaller one") from None
        except Image.UnidentifiedImageError:         # its message shows a Python object
            raise NudgeError(f"{path}: not a picture nudge can read (not PNG, JPEG, GIF, BMP, "
                             "TIFF or WebP); give a picture of a digit in one of those formats"
                             ) from None
        except Exception as e:
            raise NudgeError(f"{path}: not a picture nudge can read ({_reason(e)}); give a "
                             f"PNG, JPEG, GIF, BMP, TIFF or WebP picture of a digit") from None
        with img:
            w, h = img.size
            if w < 1 or h < 1 or w * h > MAX_PIXELS:
                raise NudgeError(f"{path}: the picture is {w}x{h} pixels; nudge reads pictures "
                                 f"of 1 to {MAX_PIXELS:,} pixels: give a smaller one")
            try:
                if img.format == "JPEG":          # decode at 1/2, 1/4 or 1/8 size if large
                    img.draft(img.mode, (WORK_SIDE, WORK_SIDE))
                if _decoded_bytes(img) > MAX_DECODED_BYTES:
                    raise NudgeError(f"{path}: the {w}x{h} {img.mode} picture would take "
                                     f"{_decoded_bytes(img) / 2**20:.0f} MiB decoded, more "
                                     f"than {MAX_DECODED_BYTES / 2**20:.0f}; give a smaller one")
                img.load()
                return to_gray(_small(_upright(img)))
            except NudgeError as e:
                raise NudgeError(str(e) if str(e).startswith(str(path)) else f"{path}: {e}"
                                 ) from None
            except Exception as e:                # whatever a damaged file makes Pillow raise
                raise NudgeError(f"{path}: the picture is damaged or cannot be decoded "
                                 f"({_reason(e)}); give another picture") from None


def _reason(e: Exception) -> str:
    text = str(e).splitlines()[0][:120] if str(e) else ""
    return text or type(e).__name__


def _upright(img: Any) -> Any:
    """The picture turned as its EXIF orientation tag says (a broken tag is ignored)."""
    from PIL import ImageOps

    try:
        if img.getexif().get(0x0112, 1) in (2, 3, 4, 5, 6, 7, 8):
            return ImageOps.exif_transpose(img)
    except Exception:
        pass
    return img


def _small(img: Any) -> Any:
    """The picture reduced to at most WORK_SIDE pixels a side (the digit ends up 20x20)."""
    if max(img.size) <= WORK_SIDE:
        return img
    if img.mode in ("1", "P") or img.mode.startswith("I;16"):
        img = img.convert("RGBA" if img.mode == "P" else "I" if img.mode != "1" else "L")
    img = img.copy()
    img.thumbnail((WORK_SIDE, WORK_SIDE))
    return img


def to_gray(img: Any) -> np.ndarray:
    """A PIL image as grayscale floats in [0, 1], transparency composited onto white;
    16-bit, 32-bit and floating-point images scaled from their lowest to their highest
    value (they have no fixed white)."""
    from PIL import Image

    if img.mode in _HIGH_DEPTH:
        gray = np.asarray(img, dtype=np.float64)
        if not np.isfinite(gray).all():
            raise NudgeError("the image holds NaN or infinite values")
        lo, hi = float(gray.min()), float(gray.max())
        return ((gray - lo) / (hi - lo) if hi > lo else np.ones_like(gray)).astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    elif img.mode not in ("1", "L", "P", "RGB", "CMYK", "YCbCr", "RGBX", "HSV"):
        img = img.convert("RGB")
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
    resized = np.asarray(Image.fromarray(ink, mode="F").resize((new_w, new_h),
                                                               Image.Resampling.LANCZOS))
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
    """Read and prepare an image file for a model with ``n_inputs`` inputs (flattened);
    every error names the file."""
    side, box = layout_for(n_inputs)
    gray = open_image(path)
    try:
        return prepare(gray, side, box).reshape(-1)
    except NudgeError as e:
        raise NudgeError(f"{path}: {e}") from None
