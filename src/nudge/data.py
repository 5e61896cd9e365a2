"""Data: the datasets (MNIST, Fashion-MNIST, scikit-learn's 8x8 digits), found, checked, cached.

Pixels stay uint8 in memory (0 = background, 255 = full ink); the network reads
them as intensity/255.  Where the files are looked for: only the folder given as
``data_dir`` (``--data-dir``) when there is one; else the folder in ``$NUDGE_DATA``,
nudge's cache (``NUDGE_CACHE``, else ``platformdirs.user_cache_dir("nudge")``) and,
for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist``; in each, first the
sub-folder named after the dataset, then the folder itself, as ``.gz`` or raw.  If
they are nowhere (and no ``data_dir`` was given) they are downloaded into the cache
with pooch, which keeps only a complete file of the right hash.  Every file's
decompressed contents are checked against the official SHA-256: a damaged file is an
error, never used; an official file of another dataset (MNIST's, under the same name,
when Fashion-MNIST is wanted) is skipped.  The files are read by :mod:`nudge.idx`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bounds import check_choice, check_count
from .errors import DataError, DataNotFoundError, NudgeError
from .fsutil import as_path, atomic_write_bytes, not_a_folder
from .idx import idx_header, parse_idx, read_bytes

DATASETS = ("mnist", "fashion-mnist", "digits")

# file -> (MD5 of the official .gz, SHA-256 of the decompressed file, expected shape)
_MNIST_FILES = {
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                                (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432",
                                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                                (60000,)),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3",
                               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                               (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c",
                               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                               (10000,)),
}
_FASHION_FILES = {
    "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                                (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe",
                                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                                (60000,)),
    "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79",
                               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                               (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310",
                               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                               (10000,)),
}
_SOURCES: dict[str, dict[str, Any]] = {
    "mnist": {
        "files": _MNIST_FILES,
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        "system_dirs": [],
        "classes": [str(d) for d in range(10)],
    },
    "fashion-mnist": {
        "files": _FASHION_FILES,
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        "system_dirs": ["/usr/share/datasets/fashion-mnist"],
        "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot"],
    },
}


@dataclass
class Dataset:
    """Training and test images (uint8, one flattened image per row) and labels."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]
    classes: list[str] = field(default_factory=lambda: [str(d) for d in range(10)])
    source: str = ""

    @property
    def n_inputs(self) -> int:
        """Pixels per image, the network's first layer size: 784 for 28x28, 64 for 8x8."""
        return int(self.X_train.shape[1])

    @property
    def test_data(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X_test, y_test)``, as ``train(..., test_data=)`` takes it."""
        return self.X_test, self.y_test

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test examples (for quick runs)."""
        n_train, n_test = (None if value is None else check_count(f"number of {name}", value,
                                                                  most=None)
                           for name, value in (("training examples", n_train),
                                               ("test examples", n_test)))
        return Dataset(self.name, self.X_train[:n_train], self.y_train[:n_train],
                       self.X_test[:n_test], self.y_test[:n_test], self.image_shape,
                       self.classes, self.source)

    def hold_out(self, n_validation: int) -> tuple[Dataset, tuple[np.ndarray, np.ndarray]]:
        """The last ``n_validation`` training examples set aside: ``(the rest, (X, y))``.

        Held-out (validation) examples are never trained on; settings are chosen by them,
        so that the test set stays unseen.  Nielsen's split of MNIST's 60,000 training
        images is ``hold_out(10_000)``: the first 50,000 to train on, the last 10,000."""
        n = len(self.X_train)
        if (isinstance(n_validation, bool) or not isinstance(n_validation, (int, np.integer))
                or not 1 <= n_validation < n):
            raise NudgeError(f"cannot hold out {n_validation!r} of the {n:,} training examples "
                             f"for validation: hold out between 1 and {n - 1:,}")
        rest = Dataset(self.name, self.X_train[:n - n_validation],
                       self.y_train[:n - n_validation], self.X_test, self.y_test,
                       self.image_shape, self.classes, self.source)
        return rest, (self.X_train[n - n_validation:], self.y_train[n - n_validation:])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.X_train)}, test={len(self.X_test)}, "
                f"image={self.image_shape[0]}x{self.image_shape[1]})")


# --------------------------------------------------------------------------- locating
def cache_dir() -> Path:
    """Where downloaded datasets are kept (``NUDGE_CACHE`` overrides the user cache)."""
    env = os.environ.get("NUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("nudge"))


def search_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for a dataset's files, in order: only ``data_dir`` (and its
    sub-folder ``name``) when it is given, else ``$NUDGE_DATA``, the cache, system folders.
    In each root the dataset's own sub-folder comes first."""
    if data_dir is not None:
        roots = [Path(data_dir).expanduser()]
    else:
        roots = [Path(os.environ["NUDGE_DATA"]).expanduser()] if os.environ.get(
            "NUDGE_DATA") else []
        roots.append(cache_dir())
    dirs = [d for root in roots for d in (root / name, root)]
    return dirs + ([Path(d) for d in _SOURCES[name]["system_dirs"]] if data_dir is None else [])


def _candidates(stem: str, dirs: list[Path]) -> list[Path]:
    alt = stem.replace("-idx", ".idx")       # "train-images.idx3-ubyte", as some copies name it
    return [d / f for d in dirs for f in (f"{stem}.gz", stem, f"{alt}.gz", alt)
            if (d / f).is_file()]


def _download(name: str, stem: str, md5: str) -> Path:
    import pooch

    pooch.get_logger().setLevel("WARNING")   # the progress bar says enough; errors are ours
    target = cache_dir() / name
    errors = []
    for mirror in _SOURCES[name]["mirrors"]:
        try:
            path = pooch.retrieve(f"{mirror}{stem}.gz", known_hash=f"md5:{md5}",
                                  fname=f"{stem}.gz", path=target, progressbar=True)
            return Path(path)
        except Exception as e:  # network errors, HTTP errors, hash mismatch: try the next
            text = str(e)
            if "hash" in text.lower():
                errors.append(f"{mirror} sent a file whose hash does not match")
            else:
                errors.append(f"{mirror} could not be reached ({type(e).__name__})")
    more = f" (and {len(errors) - 1} more mirrors failed)" if len(errors) > 1 else ""
    raise DataError(errors[0] + more)


#: SHA-256 of every official file -> (dataset, file), to recognise another dataset's file
_KNOWN = {sha: (ds, stem) for ds, src in _SOURCES.items()
          for stem, (_, sha, _) in src["files"].items()}


def _load_file(name: str, stem: str, data_dir: str | Path | None,
               download: bool) -> tuple[np.ndarray, Path]:
    md5 = _SOURCES[name]["files"][stem][0]
    dirs = search_dirs(name, data_dir)
    skipped: list[str] = []
    for path in _candidates(stem, dirs):
        arr = _from_file(name, stem, path, skipped)
        if arr is not None:
            return arr, path
    if not download or data_dir is not None:
        raise DataNotFoundError(_missing_message(name, stem, dirs, None, skipped, data_dir))
    try:
        path = _download(name, stem, md5)
    except DataError as e:
        raise DataNotFoundError(_missing_message(name, stem, dirs, str(e), skipped,
                                                 data_dir)) from None
    arr = _from_file(name, stem, path, skipped)
    if arr is None:
        raise DataError(f"{path}: the downloaded file is {skipped[-1]}")
    return arr, path


def _from_file(name: str, stem: str, path: Path, skipped: list[str]) -> np.ndarray | None:
    """The verified array of ``path``; None (noted in ``skipped``) if the file is an official
    file of another dataset; an error if it is damaged or unknown."""
    _, sha256, shape = _SOURCES[name]["files"][stem]
    cached = _decoded_cache_path(name, stem, path, sha256)
    if cached is not None:
        arr = _load_decoded(cached, shape, sha256)
        if arr is not None:
            return arr
    raw = read_bytes(path, len(idx_header(shape)) + math.prod(shape))
    arr = parse_idx(raw, path)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        other_name, other_stem = _KNOWN.get(digest, (None, None))
        if other_name is not None and other_name != name:
            skipped.append(f"{path} (the official {other_name} {other_stem}, not {name}'s)")
            return None
        if other_name is not None:
            raise DataError(f"{path}: holds {name}'s {other_stem}, not its {stem}; give each "
                            "file its official name")
        what = (f"holds an array of shape {arr.shape}, expected {shape}" if arr.shape != shape
                else "the contents differ from the official file (SHA-256 mismatch)")
        raise DataError(f"{path}: {what}; it is no official file of {', '.join(_SOURCES)}: "
                        f"replace it with the official {name} {stem}")
    if cached is not None:
        _save_decoded(cached, arr)
    return arr


# --------------------------------------------------------------------------- decoded cache
# Decoding a .gz and checking its SHA-256 takes about 0.3 s for MNIST's four files (in
# their folder: python -m timeit -n1 -r5 -s "import glob,gzip,hashlib"
# "[hashlib.sha256(gzip.open(f).read()) for f in glob.glob('*.gz')]"); the verified
# array is therefore kept as a .npy file in the cache folder and memory-mapped on later
# runs (no copy, no pickle).  Its name holds a hash of the source file's path, size and
# modification time and of the official SHA-256, so a changed or replaced source file is
# decoded and checked again.  Before a cached array is used, the IDX file it stands for
# (header + values) is hashed again and compared with the official SHA-256 (about 30 ms
# for all of MNIST with SHA extensions, measured as docs/reliability.md shows): a damaged
# or edited cache file is rebuilt, never used.
def _decoded_cache_path(name: str, stem: str, source: Path, sha256: str) -> Path | None:
    try:
        st = source.stat()
        key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sha256}"
    except OSError:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "decoded" / f"{name}-{stem}-{digest}.npy"


def _load_decoded(cached: Path, shape: tuple[int, ...], sha256: str) -> np.ndarray | None:
    """The cached array, memory-mapped read-only, or None if absent, unusable, or not
    exactly the official data."""
    try:
        arr = np.load(cached, mmap_mode="r", allow_pickle=False)
        if arr.shape != shape or arr.dtype != np.uint8 or not arr.flags.c_contiguous:
            return None
        h = hashlib.sha256(idx_header(shape))
        h.update(arr.data)
        if h.hexdigest() != sha256:
            return None
    except Exception:        # empty, truncated, not .npy, unreadable: decode the source again
        return None
    return np.asarray(arr)          # a plain read-only ndarray view of the mapping


def _save_decoded(cached: Path, arr: np.ndarray) -> None:
    """Write the verified array atomically; a cache that cannot be written is skipped."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
        atomic_write_bytes(cached, buf.getvalue())
        prefix = cached.name.rsplit("-", 1)[0] + "-"
        for old in cached.parent.glob(f"{prefix}*.npy"):   # decodings of older versions
            if old != cached:
                old.unlink(missing_ok=True)
    except (OSError, NudgeError):
        pass


#: how to say where a dataset's files are, from either kind of caller: the command line
#: (``--data-dir``) and Python (``load_dataset(data_dir=...)``); every message of this module
#: that names the folder option says it this way
GIVE_DATA_DIR = "--data-dir DIR, or set NUDGE_DATA=DIR; from Python, data_dir=DIR"


def _missing_message(name: str, stem: str, dirs: list[Path], download_error: str | None,
                     skipped: list[str], data_dir: str | Path | None) -> str:
    looked = ", ".join(str(d) for d in dirs[:6])
    if data_dir is not None:
        how = (f"{name} not found in the data folder {data_dir} ({stem}.gz is in none of "
               f"{looked}): put the four IDX files there, or give the folder that holds them "
               f"({GIVE_DATA_DIR}), or give no data folder to let nudge look in $NUDGE_DATA "
               f"and its cache and download them into {cache_dir() / name}")
    else:
        how = (f"{name} not found ({stem}.gz is in none of {looked}): put the four IDX files "
               f"in a folder and give it ({GIVE_DATA_DIR}), or let nudge download them into "
               f"{cache_dir() / name}")
        env = os.environ.get("NUDGE_DATA")
        if env and (what := not_a_folder(env)):              # the likely cause, said first
            how = f"NUDGE_DATA={env} is {what}; {how}"
    if skipped:
        how += f"; skipped {'; '.join(skipped)}"
    if download_error:
        how += (f"; a download was tried and failed ({download_error}): check the internet "
                "connection or download the files yourself")
    return how


def load_mnist_like(name: str, data_dir: str | Path | None = None,
                    download: bool = True) -> Dataset:
    """MNIST or Fashion-MNIST: 60,000 training and 10,000 test images of 28x28."""
    arrays, paths = {}, []
    for stem in _SOURCES[name]["files"]:
        arrays[stem], path = _load_file(name, stem, data_dir, download)
        paths.append(path)
    images = {k: v.reshape(len(v), -1) for k, v in arrays.items() if "images" in k}
    return Dataset(
        name=name,
        X_train=images["train-images-idx3-ubyte"],
        y_train=arrays["train-labels-idx1-ubyte"],
        X_test=images["t10k-images-idx3-ubyte"],
        y_test=arrays["t10k-labels-idx1-ubyte"],
        image_shape=(28, 28),
        classes=list(_SOURCES[name]["classes"]),
        source=str(paths[0].parent),
    )


# --------------------------------------------------------------------------- embedded digits
def load_digits(n_test: int = 300) -> Dataset:
    """The 1,797 8x8 digits that ship inside scikit-learn (works offline).

    Pixel values 0..16 are scaled to 0..255.  A fixed shuffle (seed 0) splits
    them into 1,497 training and 300 test images.
    """
    spec = importlib.util.find_spec("sklearn")
    csv = None
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/digits.csv.gz"
        if candidate.is_file():
            csv = candidate
    if csv is not None:          # read the file directly: importing sklearn takes a second
        table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
    else:
        try:
            from sklearn.datasets import load_digits as sk_load_digits
        except ImportError:
            raise DataError("the embedded digits need scikit-learn: pip install scikit-learn"
                            ) from None
        d = sk_load_digits()
        table = np.column_stack([d.data, d.target])
    X = np.rint(table[:, :64] * (255 / 16)).astype(np.uint8)
    y = table[:, 64].astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", X[train], y[train], X[test], y[test], (8, 8),
                   source=str(csv or "sklearn.datasets.load_digits"))


def load_dataset(name: str = "mnist", data_dir: str | Path | None = None,
                 download: bool = True) -> Dataset:
    """Load a dataset by name: ``"mnist"``, ``"fashion-mnist"`` or ``"digits"``.

    The IDX files are looked for in ``data_dir`` alone when it is given, else in
    ``$NUDGE_DATA`` and then the cache; where they are not found there, they are
    downloaded into the cache (not with ``data_dir`` or ``download=False``), hash-checked.
    Missing or damaged files raise :class:`nudge.errors.DataError`."""
    if check_choice("dataset", name, DATASETS) == "digits":
        return load_digits()
    if data_dir is not None and (what := not_a_folder(as_path(data_dir, "data_dir"))):
        raise DataError(f"data folder (--data-dir, data_dir=) {data_dir}: {what}; give the "
                        f"folder that holds the {name} IDX files")
    return load_mnist_like(name, data_dir, download)


def load_default(data_dir: str | Path | None = None,
                 download: bool = True) -> tuple[Dataset, str | None]:
    """MNIST, and None; or, only when nothing says where MNIST is (no ``data_dir``, no
    ``$NUDGE_DATA``), it is not in the cache and cannot be downloaded: the embedded 8x8
    digits and a note saying why and what to do.  Anything else (a damaged file, a folder
    without the files) is an error, never a quiet change of dataset."""
    try:
        return load_dataset("mnist", data_dir, download), None
    except DataNotFoundError as e:
        if data_dir is not None or os.environ.get("NUDGE_DATA"):
            raise
        return load_digits(), (f"MNIST is not available: {e}. Using the embedded 8x8 digits "
                               "instead (--dataset mnist makes this an error, --dataset "
                               "digits chooses them without this note)")
