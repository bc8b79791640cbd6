"""The one loader through which every notebook, test and the grader gets its digits.

Two datasets share one shape so that the same model code runs on either:
images are ``float32`` in [0, 1] with shape ``(n, 28, 28, 1)`` and labels are ``int64``
in 0..9.

* ``"mnist"`` is the real MNIST, read from the ``mnist.npz`` that Keras caches.  It is
  used whenever that file is present, because it is the dataset the lesson is about.
* ``"digits"`` is scikit-learn's bundled 8x8 digits, re-framed the way MNIST frames
  its digits.  It ships with scikit-learn, so it is the default on machines without
  internet (the grader, exam rooms) and nobody's notebook breaks for lack of a file.

This module is copied into the student package, so at import time it uses only the
standard library and numpy.  scipy and scikit-learn are imported when the digits are
first built, and Keras only when a caller explicitly asks to download MNIST: importing
TensorFlow costs seconds and must never happen just because the data module was
imported.
"""

from __future__ import annotations

import functools
import os
import pathlib
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DATASETS",
    "DATASET_ENV_VAR",
    "DIGITS_SOURCE",
    "DIGITS_SPLIT_RANDOM_STATE",
    "DIGITS_TEST_SIZE",
    "MNIST_SPLIT",
    "Dataset",
    "DatasetError",
    "forced_dataset",
    "load_dataset",
    "load_digits_28",
    "load_mnist",
    "mnist_path",
    "resample_to_mnist_frame",
    "resolve_dataset_name",
]

DATASETS = ("mnist", "digits")
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

DIGITS_SOURCE = "sklearn.datasets.load_digits"
DIGITS_MAX_VALUE = 16.0  # load_digits stores ink as integers 0..16
DIGITS_TEST_SIZE = 0.2
DIGITS_SPLIT_RANDOM_STATE = 0

_DIGITS_HINT = "use load_dataset('digits'), which needs no download"
_REDOWNLOAD_HINT = (
    "Delete it and let Keras download it again with keras.datasets.mnist.load_data() "
    "on a machine with internet, or " + _DIGITS_HINT + "."
)


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


# --------------------------------------------------------------------------- mnist


def mnist_path() -> pathlib.Path:
    """Where Keras 3 keeps ``mnist.npz``, computed without importing Keras.

    Mirrors ``keras.src.backend.config`` (``$KERAS_HOME``, else ``~/.keras``, else
    ``/tmp/.keras`` when the home directory is read-only) and ``get_file`` (which falls
    back to ``/tmp/.keras`` when the cache directory is not writable), so the file we
    look for is exactly the one ``keras.datasets.mnist.load_data()`` writes and reads.
    """
    return (_keras_cache_dir() / "datasets" / "mnist.npz").absolute()


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
    return _mnist_dataset(arrays, source=str(npz_path))


def _missing_mnist_message(npz_path: pathlib.Path) -> str:
    return (
        f"MNIST file not found: {npz_path} does not exist. "
        "Download it once with keras.datasets.mnist.load_data() (or "
        "load_mnist(download=True)) on a machine with internet; Keras caches it at "
        f"{mnist_path()} (set KERAS_HOME to change where). Or {_DIGITS_HINT}."
    )


def _download_mnist(npz_path: pathlib.Path) -> Dataset:
    """Keras can only download into its own cache, so a custom path cannot be filled."""
    cache_path = mnist_path()
    if npz_path.absolute() != cache_path.absolute():
        raise DatasetError(
            f"MNIST file not found: {npz_path} does not exist, and download=True can "
            f"only fill Keras' cache at {cache_path}. Call load_mnist(download=True) "
            f"without a path, copy mnist.npz to {npz_path}, or {_DIGITS_HINT}."
        )
    import importlib

    keras_mnist = importlib.import_module("keras.datasets.mnist")
    try:
        (x_train, y_train), (x_test, y_test) = keras_mnist.load_data()
    except Exception as error:  # network errors come in many types
        raise DatasetError(
            f"Downloading MNIST with keras.datasets.mnist.load_data() failed "
            f"({type(error).__name__}: {error}); check the internet connection, or "
            f"{_DIGITS_HINT}."
        ) from error
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    _check_mnist_arrays(arrays, cache_path)
    return _mnist_dataset(arrays, source=str(cache_path))


# np.load and zipfile report damaged archives through all of these.
_UNREADABLE_FILE_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
_ZIP_SIGNATURE = b"PK\x03\x04"


def _read_mnist_npz(npz_path: pathlib.Path) -> dict[str, np.ndarray]:
    """Turn every way a file can be broken into one DatasetError naming the file."""
    _require_zip_signature(npz_path)
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            _require_mnist_keys(npz, npz_path)
            arrays = {key: npz[key] for key in MNIST_KEYS}
    except _UNREADABLE_FILE_ERRORS as error:
        raise DatasetError(
            f"MNIST file {npz_path} is damaged: it starts like an .npz archive but "
            f"cannot be read, probably because it is truncated or corrupt "
            f"({type(error).__name__}: {error}). {_REDOWNLOAD_HINT}"
        ) from error
    _check_mnist_arrays(arrays, npz_path)
    return arrays


def _require_zip_signature(npz_path: pathlib.Path) -> None:
    """np.load's own message for a non-archive ("contains pickled data") misleads."""
    try:
        with open(npz_path, "rb") as file:
            head = file.read(len(_ZIP_SIGNATURE))
    except OSError as error:
        raise DatasetError(
            f"MNIST file {npz_path} cannot be opened ({type(error).__name__}: "
            f"{error}). {_REDOWNLOAD_HINT}"
        ) from error
    if head != _ZIP_SIGNATURE:
        raise DatasetError(
            f"MNIST file {npz_path} is not an .npz archive (it does not start with the "
            f"zip signature; first bytes: {head!r}). {_REDOWNLOAD_HINT}"
        )


def _require_mnist_keys(npz: np.lib.npyio.NpzFile, npz_path: pathlib.Path) -> None:
    missing = [key for key in MNIST_KEYS if key not in npz.files]
    if missing:
        raise DatasetError(
            f"MNIST file {npz_path} is missing the key(s) {', '.join(missing)} "
            f"(it has: {', '.join(npz.files) or 'nothing'}). {_REDOWNLOAD_HINT}"
        )


def _check_mnist_arrays(arrays: dict[str, np.ndarray], origin: pathlib.Path) -> None:
    """Catch a wrong file before it turns into a baffling shape error inside Keras."""
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        problem = _image_problem(f"x_{part}", images) or _label_problem(
            f"y_{part}", labels
        )
        if problem is None and len(images) != len(labels):
            problem = (
                f"x_{part} has {len(images):,} images but y_{part} has "
                f"{len(labels):,} labels"
            )
        if problem is not None:
            raise DatasetError(f"MNIST file {origin} is malformed: {problem}. {_REDOWNLOAD_HINT}")


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


def _mnist_dataset(arrays: dict[str, np.ndarray], source: str) -> Dataset:
    return Dataset(
        name="mnist",
        X_train=_pixels_to_unit_float(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        X_test=_pixels_to_unit_float(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        source=source,
        split=MNIST_SPLIT,
    )


def _pixels_to_unit_float(images: np.ndarray) -> np.ndarray:
    scaled = images.astype(np.float32)
    scaled /= np.float32(255)
    return scaled[..., np.newaxis]


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
    fall back to the bundled digits on an offline machine, with no edit.
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


def load_dataset(name: str | None = None, *, verbose: bool = True) -> Dataset:
    """The single entry point for notebooks: it never downloads, and it says which
    data it used so that every run's output records it."""
    resolved = resolve_dataset_name(name)
    dataset = load_mnist() if resolved == "mnist" else load_digits_28()
    if verbose:
        print(dataset.describe(), flush=True)
    return dataset
