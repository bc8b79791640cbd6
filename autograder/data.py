"""The one loader through which every notebook, test and the grader gets its digits.

Three datasets share one shape so that the same model code runs on any of them:
images are ``float32`` in [0, 1] with shape ``(n, 28, 28, 1)`` and labels are ``int64``
in 0..9.

* ``"mnist"`` is the real MNIST, read from the ``mnist.npz`` that Keras caches.  It is
  used whenever that file is present, because it is the dataset the lesson is about.
* ``"digits"`` is scikit-learn's bundled 8x8 digits, re-framed the way MNIST frames
  its digits.  It ships with scikit-learn, so it is the default on machines without
  internet (the grader, exam rooms) and nobody's notebook breaks for lack of a file.
* ``"fashion_mnist"`` is the real Fashion-MNIST (clothes, not digits), read from the four
  ``.gz`` files that Keras caches.  It is only ever used when asked for by name
  (``load_dataset("fashion_mnist")``, ``AUTOGRADER_DATASET``): a cached copy never
  replaces the digits a notebook expects.

This module is copied into the student package, so at import time it uses only the
standard library and numpy.  scipy and scikit-learn are imported when the digits are
first built, and Keras only when a caller explicitly asks to download MNIST or
Fashion-MNIST: importing TensorFlow costs seconds and must never happen just because the
data module was imported.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import pathlib
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DATASETS",
    "DATASET_ENV_VAR",
    "DIGITS_SOURCE",
    "DIGITS_SPLIT_RANDOM_STATE",
    "DIGITS_TEST_SIZE",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_SPLIT",
    "MNIST_SPLIT",
    "Dataset",
    "DatasetError",
    "dataset_cache_paths",
    "fashion_mnist_path",
    "forced_dataset",
    "load_dataset",
    "load_digits_28",
    "load_fashion_mnist",
    "load_mnist",
    "mnist_path",
    "resample_to_mnist_frame",
    "resolve_dataset_name",
]

DATASETS = ("mnist", "digits", "fashion_mnist")
DATASET_ENV_VAR = "AUTOGRADER_DATASET"  # the grader sets it to force a dataset

IMAGE_SIDE = 28
IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)
N_CLASSES = 10

# MNIST's recipe: size-normalise each digit into a 20x20 box, then centre its mass
# in the 28x28 frame.
MNIST_DIGIT_BOX = 20
MNIST_FRAME_CENTRE = (IMAGE_SIDE - 1) / 2  # 13.5: the centre between the middle pixels

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_SPLIT = "MNIST's own split"

# keras.datasets.fashion_mnist.load_data() caches its files in this folder of Keras'
# datasets folder, under these names; by the array each file holds, in the order it reads them.
FASHION_MNIST_DIRNAME = "fashion-mnist"
FASHION_MNIST_FILES = {
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_train": "train-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
}
FASHION_MNIST_SPLIT = "Fashion-MNIST's own split"

DIGITS_SOURCE = "sklearn.datasets.load_digits"
DIGITS_MAX_VALUE = 16.0  # load_digits stores ink as integers 0..16
DIGITS_TEST_SIZE = 0.2
DIGITS_SPLIT_RANDOM_STATE = 0

_DIGITS_HINT = "use load_dataset('digits'), which needs no download"


def _redownload_hint(keras_module: str, files: str = "it", them: str = "it") -> str:
    return (
        f"Delete {files} and let Keras download {them} again with "
        f"keras.datasets.{keras_module}.load_data() on a machine with internet, or "
        f"{_DIGITS_HINT}."
    )


_REDOWNLOAD_HINT = _redownload_hint("mnist")
_FASHION_REDOWNLOAD_HINT = _redownload_hint("fashion_mnist")


class DatasetError(RuntimeError):
    """A dataset cannot be loaded; the message says what is wrong and how to fix it."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split plus the provenance that every notebook run must record.

    ``eq=False`` because element-wise array comparison has no single truth value;
    two datasets are compared through their arrays or their ``summary()``.
    """

    name: str
    X_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    source: str
    split: str

    def summary(self) -> dict:
        """Plain built-in types only, so the grader can write it straight into JSON."""
        return {
            "name": self.name,
            "source": self.source,
            "split": self.split,
            "n_train": len(self.y_train),
            "n_test": len(self.y_test),
            "image_shape": [int(side) for side in self.X_train.shape[1:]],
            "n_classes": _count_classes(self.y_train, self.y_test),
        }

    def describe(self) -> str:
        """One line for the notebook output, so a reader can tell which data was used."""
        info = self.summary()
        shape = "×".join(str(side) for side in info["image_shape"])
        return (
            f"{self.name}: {info['n_train']:,} training and {info['n_test']:,} test "
            f"images of {shape} ({self.split}) from {self.source}"
        )


def _count_classes(*label_arrays: np.ndarray) -> int:
    return int(np.unique(np.concatenate([np.ravel(y) for y in label_arrays])).size)


# ------------------------------------------------------------------- Keras' cache


def mnist_path() -> pathlib.Path:
    """Where Keras 3 keeps ``mnist.npz``, computed without importing Keras.

    Mirrors ``keras.src.backend.config`` (``$KERAS_HOME``, else ``~/.keras``, else
    ``/tmp/.keras`` when the home directory is read-only) and ``get_file`` (which falls
    back to ``/tmp/.keras`` when the cache directory is not writable), so the file we
    look for is exactly the one ``keras.datasets.mnist.load_data()`` writes and reads.
    """
    return (_keras_cache_dir() / "datasets" / "mnist.npz").absolute()


def fashion_mnist_path() -> pathlib.Path:
    """The folder where Keras 3 keeps Fashion-MNIST's four files (``FASHION_MNIST_FILES``).

    The same cache as :func:`mnist_path`: ``keras.datasets.fashion_mnist.load_data()``
    passes ``cache_subdir="datasets/fashion-mnist"`` to ``get_file``.
    """
    return (_keras_cache_dir() / "datasets" / FASHION_MNIST_DIRNAME).absolute()


def dataset_cache_paths(name: str) -> list[pathlib.Path]:
    """What a dataset reads from Keras' cache (nothing for ``digits`` or an unknown name):
    the grader makes exactly these readable to a sandboxed kernel."""
    where = {"mnist": mnist_path, "fashion_mnist": fashion_mnist_path}.get(name.strip().lower())
    return [where()] if where is not None else []


def _keras_cache_dir() -> pathlib.Path:
    if "KERAS_HOME" in os.environ:
        keras_home = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        base = home if os.access(home, os.W_OK) else "/tmp"
        keras_home = os.path.join(base, ".keras")
    cache_dir = os.path.expanduser(keras_home)
    # Keras creates its home on import, but with the path as given: a "~" in
    # KERAS_HOME is not expanded there, so the expanded directory is never created.
    keras_creates_it = cache_dir == keras_home
    if not _keras_could_write_to(cache_dir, keras_creates_it):
        return pathlib.Path("/tmp") / ".keras"
    return pathlib.Path(cache_dir)


def _keras_could_write_to(directory: str, keras_creates_it: bool) -> bool:
    """A missing directory that Keras would create counts as writable if it can be
    created; one that exists but is read-only does not."""
    if not directory:
        return False
    path = pathlib.Path(directory).absolute()
    if not path.exists() and not keras_creates_it:
        return False
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK)


def _require_keras_cache(
    path: pathlib.Path, cache_path: pathlib.Path, absence: str, copy: str, loader: str
) -> None:
    """Keras can only download into its own cache, so a custom path cannot be filled."""
    if path.absolute() != cache_path.absolute():
        raise DatasetError(
            f"{absence}, and download=True can only fill Keras' cache at {cache_path}. "
            f"Call {loader}(download=True) without a path, copy {copy} to {path}, or "
            f"{_DIGITS_HINT}."
        )


def _load_through_keras(keras_module: str, title: str) -> dict[str, np.ndarray]:
    """``keras.datasets.<keras_module>.load_data()``, which downloads what is not cached."""
    import importlib

    module = importlib.import_module(f"keras.datasets.{keras_module}")
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # network errors come in many types
        raise DatasetError(
            f"Downloading {title} with keras.datasets.{keras_module}.load_data() failed "
            f"({type(error).__name__}: {error}); check the internet connection, or "
            f"{_DIGITS_HINT}."
        ) from error
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# ------------------------------------------------------------- checking the files


@dataclass(frozen=True)
class _Container:
    """A kind of file, told by its first bytes, so a web page saved under the right name
    is reported as such instead of by a decoder's baffling message."""

    what: str
    signature_name: str
    signature: bytes


_NPZ = _Container("an .npz archive", "zip", b"PK\x03\x04")
_GZIP = _Container("a gzip file", "gzip", b"\x1f\x8b")

# np.load, zipfile and gzip report damaged files through all of these.
_UNREADABLE_FILE_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _require_signature(path: pathlib.Path, container: _Container, title: str, hint: str) -> None:
    try:
        with open(path, "rb") as file:
            head = file.read(len(container.signature))
    except OSError as error:
        raise DatasetError(
            f"{title} file {path} cannot be opened ({type(error).__name__}: {error}). {hint}"
        ) from error
    if head != container.signature:
        raise DatasetError(
            f"{title} file {path} is not {container.what} (it does not start with the "
            f"{container.signature_name} signature; first bytes: {head!r}). {hint}"
        )


def _damaged(
    title: str, path: pathlib.Path, container: _Container, error: Exception, hint: str
) -> DatasetError:
    return DatasetError(
        f"{title} file {path} is damaged: it starts like {container.what} but cannot be "
        f"read, probably because it is truncated or corrupt "
        f"({type(error).__name__}: {error}). {hint}"
    )


def _check_split(
    arrays: dict[str, np.ndarray],
    where: str,
    hint: str,
    names: Mapping[str, str] | None = None,
) -> None:
    """Catch a wrong file before it turns into a baffling shape error inside Keras.
    ``names``: what to call each array in the message (a file's name), else its key."""
    called = dict(names or {})
    for part in ("train", "test"):
        x_key, y_key = f"x_{part}", f"y_{part}"
        x_name, y_name = called.get(x_key, x_key), called.get(y_key, y_key)
        images, labels = arrays[x_key], arrays[y_key]
        problem = _image_problem(x_name, images) or _label_problem(y_name, labels)
        if problem is None and len(images) != len(labels):
            problem = (
                f"{x_name} has {len(images):,} images but {y_name} has "
                f"{len(labels):,} labels"
            )
        if problem is not None:
            raise DatasetError(f"{where} malformed: {problem}. {hint}")


def _image_problem(key: str, images: np.ndarray) -> str | None:
    if images.dtype != np.uint8:
        return f"{key} has dtype {images.dtype}, expected uint8 pixels 0..255"
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        return f"{key} has shape {images.shape}, expected (n, 28, 28)"
    if len(images) == 0:
        return f"{key} holds no images"
    return None


def _label_problem(key: str, labels: np.ndarray) -> str | None:
    if not np.issubdtype(labels.dtype, np.integer):
        return f"{key} has dtype {labels.dtype}, expected integer labels 0..9"
    if labels.ndim != 1:
        return f"{key} has shape {labels.shape}, expected (n,)"
    out_of_range = (labels < 0) | (labels >= N_CLASSES)
    if out_of_range.any():
        bad = np.unique(labels[out_of_range])[:5].tolist()
        return f"{key} has labels outside 0..9 (e.g. {bad})"
    return None


def _keras_split(
    name: str, arrays: dict[str, np.ndarray], source: str, split: str
) -> Dataset:
    return Dataset(
        name=name,
        X_train=_pixels_to_unit_float(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        X_test=_pixels_to_unit_float(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        source=source,
        split=split,
    )


def _pixels_to_unit_float(images: np.ndarray) -> np.ndarray:
    scaled = images.astype(np.float32)
    scaled /= np.float32(255)
    return scaled[..., np.newaxis]


# --------------------------------------------------------------------------- mnist


def load_mnist(
    path: str | os.PathLike | None = None, *, download: bool = False
) -> Dataset:
    """Read MNIST from the Keras cache file, checking it before anyone trains on it.

    The file is read with ``np.load`` rather than through Keras: Keras would re-download
    any file whose hash differs and would import TensorFlow to do so.  Only a *missing*
    file is ever downloaded, and only when ``download=True``; a damaged file is reported
    so that nobody silently trains on something else.
    """
    npz_path = pathlib.Path(path) if path is not None else mnist_path()
    if not npz_path.exists():
        if not download:
            raise DatasetError(_missing_mnist_message(npz_path))
        return _download_mnist(npz_path)
    arrays = _read_mnist_npz(npz_path)
    return _keras_split("mnist", arrays, source=str(npz_path), split=MNIST_SPLIT)


def _missing_mnist_message(npz_path: pathlib.Path) -> str:
    return (
        f"MNIST file not found: {npz_path} does not exist. "
        "Download it once with keras.datasets.mnist.load_data() (or "
        "load_mnist(download=True)) on a machine with internet; Keras caches it at "
        f"{mnist_path()} (set KERAS_HOME to change where). Or {_DIGITS_HINT}."
    )


def _download_mnist(npz_path: pathlib.Path) -> Dataset:
    cache_path = mnist_path()
    _require_keras_cache(
        npz_path,
        cache_path,
        absence=f"MNIST file not found: {npz_path} does not exist",
        copy="mnist.npz",
        loader="load_mnist",
    )
    arrays = _load_through_keras("mnist", "MNIST")
    _check_split(arrays, f"MNIST file {cache_path} is", _REDOWNLOAD_HINT)
    return _keras_split("mnist", arrays, source=str(cache_path), split=MNIST_SPLIT)


def _read_mnist_npz(npz_path: pathlib.Path) -> dict[str, np.ndarray]:
    """Turn every way a file can be broken into one DatasetError naming the file."""
    # np.load's own message for a non-archive ("contains pickled data") misleads.
    _require_signature(npz_path, _NPZ, "MNIST", _REDOWNLOAD_HINT)
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            _require_mnist_keys(npz, npz_path)
            arrays = {key: npz[key] for key in MNIST_KEYS}
    except _UNREADABLE_FILE_ERRORS as error:
        raise _damaged("MNIST", npz_path, _NPZ, error, _REDOWNLOAD_HINT) from error
    _check_split(arrays, f"MNIST file {npz_path} is", _REDOWNLOAD_HINT)
    return arrays


def _require_mnist_keys(npz: np.lib.npyio.NpzFile, npz_path: pathlib.Path) -> None:
    missing = [key for key in MNIST_KEYS if key not in npz.files]
    if missing:
        raise DatasetError(
            f"MNIST file {npz_path} is missing the key(s) {', '.join(missing)} "
            f"(it has: {', '.join(npz.files) or 'nothing'}). {_REDOWNLOAD_HINT}"
        )


# ------------------------------------------------------------------- fashion_mnist


def load_fashion_mnist(
    path: str | os.PathLike | None = None, *, download: bool = False
) -> Dataset:
    """Read Fashion-MNIST's four files from Keras' cache folder (or the folder ``path``).

    They are read as ``keras.datasets.fashion_mnist.load_data()`` reads them (gzip, then
    the bytes after an 8-byte label or 16-byte image header), without importing Keras,
    and every header is checked first, which Keras does not do.  As with
    :func:`load_mnist`, only *missing* files are downloaded, only when
    ``download=True``; a damaged one is reported, naming it.
    """
    folder = pathlib.Path(path) if path is not None else fashion_mnist_path()
    missing = [name for name in FASHION_MNIST_FILES.values() if not (folder / name).is_file()]
    if missing and not download:
        raise DatasetError(_missing_fashion_message(folder, missing))
    if missing:
        return _download_fashion_mnist(folder, missing)
    arrays = {key: _read_idx_gz(folder / name, key) for key, name in FASHION_MNIST_FILES.items()}
    _check_fashion_split(arrays, folder)
    return _keras_split("fashion_mnist", arrays, source=str(folder), split=FASHION_MNIST_SPLIT)


def _missing_fashion_message(folder: pathlib.Path, missing: list[str]) -> str:
    return (
        f"Fashion-MNIST not found: {folder} lacks {', '.join(missing)} ({len(missing)} of "
        "the four files Keras caches). On a machine with internet, "
        "keras.datasets.fashion_mnist.load_data() (or load_fashion_mnist(download=True)) "
        f"downloads what is missing into {fashion_mnist_path()} (set KERAS_HOME to change "
        f"where). Or {_DIGITS_HINT}."
    )


def _download_fashion_mnist(folder: pathlib.Path, missing: list[str]) -> Dataset:
    cache_path = fashion_mnist_path()
    _require_keras_cache(
        folder,
        cache_path,
        absence=f"Fashion-MNIST not found: {folder} lacks {', '.join(missing)}",
        copy="the four files",
        loader="load_fashion_mnist",
    )
    # Keras downloads the missing files and reads the others unchecked: check them first.
    for key, name in FASHION_MNIST_FILES.items():
        if name not in missing:
            _read_idx_gz(folder / name, key)
    arrays = _load_through_keras("fashion_mnist", "Fashion-MNIST")
    _check_fashion_split(arrays, cache_path)
    return _keras_split(
        "fashion_mnist", arrays, source=str(cache_path), split=FASHION_MNIST_SPLIT
    )


def _check_fashion_split(arrays: dict[str, np.ndarray], folder: pathlib.Path) -> None:
    _check_split(
        arrays,
        f"Fashion-MNIST files in {folder} are",
        _redownload_hint("fashion_mnist", files="the four files", them="them"),
        names=FASHION_MNIST_FILES,
    )


# IDX, the format of MNIST's original files: two zero bytes, the element type (0x08,
# unsigned byte), the number of dimensions, then each dimension as a big-endian 32-bit
# integer, then the values.  Labels have one dimension (an 8-byte header), images
# three (16 bytes).
_IDX_UNSIGNED_BYTE = 0x08
_IDX_DIMENSIONS = {"x": 3, "y": 1}


def _read_idx_gz(path: pathlib.Path, key: str) -> np.ndarray:
    """One gzipped IDX file of unsigned bytes, its header checked against its content."""
    _require_signature(path, _GZIP, "Fashion-MNIST", _FASHION_REDOWNLOAD_HINT)
    try:
        with gzip.open(path, "rb") as file:
            content = file.read()
    except _UNREADABLE_FILE_ERRORS as error:
        raise _damaged("Fashion-MNIST", path, _GZIP, error, _FASHION_REDOWNLOAD_HINT) from error
    ndim = _IDX_DIMENSIONS[key[0]]
    problem = _idx_header_problem(content, ndim)
    if problem is not None:
        raise DatasetError(
            f"Fashion-MNIST file {path} is not a valid IDX file: {problem}. "
            f"{_FASHION_REDOWNLOAD_HINT}"
        )
    shape = _idx_shape(content, ndim)
    return np.frombuffer(content, np.uint8, offset=4 * (1 + ndim)).reshape(shape)


def _idx_shape(content: bytes, ndim: int) -> tuple[int, ...]:
    return tuple(int.from_bytes(content[4 * i : 4 * i + 4], "big") for i in range(1, ndim + 1))


def _idx_header_problem(content: bytes, ndim: int) -> str | None:
    header_size = 4 * (1 + ndim)
    kind = "labels" if ndim == 1 else "images"
    if len(content) < header_size:
        return (
            f"it holds {len(content)} bytes once decompressed, fewer than the "
            f"{header_size}-byte header of a file of {kind}"
        )
    magic = int.from_bytes(content[:4], "big")
    expected = _IDX_UNSIGNED_BYTE << 8 | ndim
    if magic != expected:
        return (
            f"its magic number is {magic} (0x{magic:08x}), expected {expected} "
            f"(0x{expected:08x}: unsigned bytes in {ndim} dimension(s), a file of {kind})"
        )
    count, *sides = _idx_shape(content, ndim)
    announced = count * math.prod(sides)
    present = len(content) - header_size
    if present != announced:
        of_size = f" of {'×'.join(str(side) for side in sides)}" if sides else ""
        return (
            f"its header announces {count:,} {kind}{of_size} ({announced:,} bytes) but "
            f"{present:,} bytes follow" + ("; it was cut short" if present < announced else "")
        )
    return None


# -------------------------------------------------------------------------- digits


def resample_to_mnist_frame(images_8x8: np.ndarray) -> np.ndarray:
    """Frame small digits like MNIST frames its own, so models see the same geometry.

    MNIST size-normalises each digit to fit a 20x20 box (keeping its aspect ratio) and
    then places its centre of mass at the centre of a 28x28 image.  Without that a
    digits-trained model and an MNIST-trained one would learn different things.
    Input ``(n, h, w)`` with ink 0..16 (``load_digits``' scale); output ``float32``
    ``(n, 28, 28)`` in [0, 1].
    """
    images = np.asarray(images_8x8, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(
            f"expected a stack of images with shape (n, 8, 8), got shape {images.shape}"
        )
    framed = np.zeros((len(images), IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    for index, image in enumerate(images):
        framed[index] = _frame_one_digit(np.clip(image / DIGITS_MAX_VALUE, 0.0, 1.0))
    return framed


def _frame_one_digit(image: np.ndarray) -> np.ndarray:
    frame = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    digit = _crop_to_ink(image)
    if digit.size == 0:  # a blank image has no box or centre; leave it blank
        return frame
    digit = _fit_longer_side(digit, MNIST_DIGIT_BOX)
    top, left = _offset_centring_mass(digit)
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return frame


def _crop_to_ink(image: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return image[:0, :0]
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_longer_side(digit: np.ndarray, box: int) -> np.ndarray:
    """Bilinear zoom maps the end pixels onto the end pixels, so ink on the crop's
    edges stays on the edges and the longer side is exactly ``box`` pixels."""
    from scipy import ndimage

    factor = box / max(digit.shape)
    target = tuple(max(1, min(box, round(side * factor))) for side in digit.shape)
    zoom = tuple(t / s for t, s in zip(target, digit.shape))
    resized = ndimage.zoom(digit, zoom, order=1, mode="nearest")
    return np.clip(resized, 0.0, 1.0)


def _offset_centring_mass(digit: np.ndarray) -> tuple[int, int]:
    """Integer shift, as MNIST did: sub-pixel shifts would blur the strokes again."""
    mass_row, mass_col = _centre_of_mass(digit)
    top = _clamped_offset(MNIST_FRAME_CENTRE - mass_row, digit.shape[0])
    left = _clamped_offset(MNIST_FRAME_CENTRE - mass_col, digit.shape[1])
    return top, left


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Same result as scipy.ndimage.center_of_mass, at a fraction of its per-call
    overhead, which dominates for 1,797 tiny images."""
    total = image.sum()
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    cols = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return float(rows), float(cols)


def _clamped_offset(ideal: float, length: int) -> int:
    return int(min(max(round(ideal), 0), IMAGE_SIDE - length))


@functools.lru_cache(maxsize=1)
def _digits_split_cached() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Build once per process; the arrays are read-only so the cache cannot be
    corrupted even by code that reaches in here."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = resample_to_mnist_frame(digits.images)[..., np.newaxis]
    labels = digits.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        images,
        labels,
        test_size=DIGITS_TEST_SIZE,
        random_state=DIGITS_SPLIT_RANDOM_STATE,
        stratify=labels,
    )
    arrays = tuple(np.ascontiguousarray(a) for a in (X_train, y_train, X_test, y_test))
    for array in arrays:
        array.setflags(write=False)
    X_train, y_train, X_test, y_test = arrays
    return X_train, y_train, X_test, y_test, len(labels)


def _digits_split_description(n_images: int) -> str:
    test_percent = round(DIGITS_TEST_SIZE * 100)
    return (
        f"stratified {100 - test_percent}/{test_percent} split of {n_images:,} images, "
        f"random_state={DIGITS_SPLIT_RANDOM_STATE}"
    )


def load_digits_28() -> Dataset:
    """scikit-learn's digits in MNIST's frame: always available, no download.

    Returns fresh copies, so a notebook that normalises or shuffles in place cannot
    change what the next load (or the grader, in the same kernel) sees.
    """
    X_train, y_train, X_test, y_test, n_images = _digits_split_cached()
    return Dataset(
        name="digits",
        X_train=X_train.copy(),
        y_train=y_train.copy(),
        X_test=X_test.copy(),
        y_test=y_test.copy(),
        source=DIGITS_SOURCE,
        split=_digits_split_description(n_images),
    )


# ------------------------------------------------------------------------ choosing


def resolve_dataset_name(name: str | None = None) -> str:
    """Explicit choice, then the grader's override, then MNIST if it is on disk.

    The file check makes the same notebook use real MNIST on a student's laptop and
    fall back to the bundled digits on an offline machine, with no edit.  Fashion-MNIST
    is never chosen this way, even when cached: it holds clothes, not digits, so only a
    name (the argument or the grader's override) selects it.
    """
    if name is not None:
        return _validated_name(name, origin="the name argument")
    return forced_dataset() or ("mnist" if mnist_path().is_file() else "digits")


def forced_dataset() -> str | None:
    """The dataset the grader forces (``AUTOGRADER_DATASET``), validated and normalised, or
    None. The only reader of that variable: the grader's side asks
    ``autograder.config.grading_dataset(assignment)``, which falls back to grading.toml."""
    forced = os.environ.get(DATASET_ENV_VAR, "").strip()
    if forced:
        return _validated_name(forced, origin=f"environment variable {DATASET_ENV_VAR}")
    return None


def _validated_name(name: str, origin: str) -> str:
    normalised = name.strip().lower() if isinstance(name, str) else name
    if normalised not in DATASETS:
        raise DatasetError(
            f"Unknown dataset {name!r} from {origin}; choose one of: "
            f"{', '.join(DATASETS)}."
        )
    return normalised


_LOADERS: dict[str, Callable[[], Dataset]] = {
    "mnist": load_mnist,
    "digits": load_digits_28,
    "fashion_mnist": load_fashion_mnist,
}


def load_dataset(name: str | None = None, *, verbose: bool = True) -> Dataset:
    """The single entry point for notebooks: it never downloads, and it says which
    data it used so that every run's output records it."""
    dataset = _LOADERS[resolve_dataset_name(name)]()
    if verbose:
        print(dataset.describe(), flush=True)
    return dataset
