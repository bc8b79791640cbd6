"""Tests for autograder.data: the one loader every notebook and the grader use.

They never touch the network or the real ~/.keras: every test runs with KERAS_HOME in
a temporary directory, small fake mnist.npz files, and (where downloading is the
subject) a stand-in ``keras`` module, so TensorFlow is never imported.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest

from autograder import data
from autograder.data import DatasetError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
N_TRAIN, N_TEST = 50, 20


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """No test may see the developer's real Keras cache or a forced dataset."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(data.DATASET_ENV_VAR, raising=False)


def small_mnist_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    arrays["x_train"][0, 0, :2] = (0, 255)  # both ends of the pixel range
    arrays["y_train"][:10] = np.arange(10)  # every class present
    return arrays


def write_npz(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:  # a file object, so numpy does not append ".npz"
        np.savez(file, **arrays)
    return path


@pytest.fixture
def mnist_arrays() -> dict[str, np.ndarray]:
    return small_mnist_arrays()


@pytest.fixture
def mnist_file(mnist_arrays) -> pathlib.Path:
    """A small but well-formed mnist.npz exactly where Keras would cache it."""
    return write_npz(data.mnist_path(), mnist_arrays)


@pytest.fixture
def fake_keras(monkeypatch):
    """Stand-in for keras.datasets.mnist and keras.datasets.fashion_mnist that records
    calls ("mnist.load_data", "fashion_mnist.load_data") instead of downloading."""
    calls = []
    arrays = small_mnist_arrays(seed=1)
    fake_module = types.SimpleNamespace(calls=calls, arrays=arrays, fail_with=None)
    datasets_module = types.ModuleType("keras.datasets")
    keras_module = types.ModuleType("keras")
    keras_module.datasets = datasets_module
    monkeypatch.setitem(sys.modules, "keras", keras_module)
    monkeypatch.setitem(sys.modules, "keras.datasets", datasets_module)
    for name in ("mnist", "fashion_mnist"):

        def load_data(name=name):
            calls.append(f"{name}.load_data")
            if fake_module.fail_with is not None:
                raise fake_module.fail_with
            return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

        module = types.ModuleType(f"keras.datasets.{name}")
        module.load_data = load_data
        setattr(datasets_module, name, module)
        monkeypatch.setitem(sys.modules, f"keras.datasets.{name}", module)
    return fake_module


@pytest.fixture(scope="module")
def digits() -> data.Dataset:
    return data.load_digits_28()


# ---------------------------------------------------------------------- mnist_path


def test_mnist_path_is_inside_keras_home(tmp_path):
    assert data.mnist_path() == tmp_path / "keras_home" / "datasets" / "mnist.npz"


def test_mnist_path_defaults_to_dot_keras_in_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.mnist_path() == tmp_path / ".keras" / "datasets" / "mnist.npz"


def test_mnist_path_expands_tilde_in_keras_home(tmp_path, monkeypatch):
    (tmp_path / "my_keras").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", "~/my_keras")
    assert data.mnist_path() == tmp_path / "my_keras" / "datasets" / "mnist.npz"


def test_mnist_path_follows_keras_when_a_tilde_home_is_missing(tmp_path, monkeypatch):
    """Keras creates KERAS_HOME unexpanded (a literal "~" folder), finds the expanded
    one missing, hence not writable, and caches in /tmp/.keras instead."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", "~/missing_keras")
    assert data.mnist_path() == pathlib.Path("/tmp/.keras/datasets/mnist.npz")


def test_mnist_path_is_absolute_for_a_relative_keras_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", "relative_keras")
    assert data.mnist_path() == tmp_path / "relative_keras" / "datasets" / "mnist.npz"


def test_mnist_path_falls_back_to_tmp_when_keras_home_is_read_only(tmp_path, monkeypatch):
    """Keras' get_file does the same, so this is where Keras would have put the file."""
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(read_only))
    real_access = os.access

    def access(path, mode, **kwargs):
        if pathlib.Path(path) == read_only and mode == os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    assert data.mnist_path() == pathlib.Path("/tmp/.keras/datasets/mnist.npz")


# ---------------------------------------------------------------------- load_mnist


def test_load_mnist_reads_the_keras_cache_file(mnist_file, mnist_arrays):
    dataset = data.load_mnist()
    assert dataset.name == "mnist"
    assert dataset.source == str(mnist_file)
    assert dataset.split == "MNIST's own split"
    assert dataset.X_train.shape == (N_TRAIN, 28, 28, 1)
    assert dataset.X_test.shape == (N_TEST, 28, 28, 1)
    assert dataset.X_train.dtype == np.float32
    assert dataset.X_test.dtype == np.float32
    assert dataset.y_train.dtype == np.int64
    assert dataset.y_test.dtype == np.int64


def test_load_mnist_scales_pixels_to_unit_range(mnist_file, mnist_arrays):
    dataset = data.load_mnist()
    for part in ("train", "test"):
        images = getattr(dataset, f"X_{part}")[..., 0]
        raw = mnist_arrays[f"x_{part}"]
        np.testing.assert_array_equal(images, raw.astype(np.float32) / np.float32(255))
        np.testing.assert_allclose(images, raw / 255.0, rtol=1e-6)
    assert dataset.X_train.min() == 0.0
    assert dataset.X_train.max() == 1.0


def test_load_mnist_keeps_labels(mnist_file, mnist_arrays):
    dataset = data.load_mnist()
    np.testing.assert_array_equal(dataset.y_train, mnist_arrays["y_train"])
    np.testing.assert_array_equal(dataset.y_test, mnist_arrays["y_test"])


def test_load_mnist_accepts_an_explicit_path(tmp_path, mnist_arrays):
    path = write_npz(tmp_path / "elsewhere" / "digits.npz", mnist_arrays)
    dataset = data.load_mnist(str(path))
    assert dataset.source == str(path)
    assert dataset.X_test.shape == (N_TEST, 28, 28, 1)


# ----------------------------------------------------------------- broken files


def write_text_file(path: pathlib.Path) -> None:
    path.write_text("<html>404 Not Found</html>\n")


def write_truncated_zip(path: pathlib.Path) -> None:
    write_npz(path, small_mnist_arrays())
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def write_without_key(key: str):
    def write(path: pathlib.Path) -> None:
        arrays = small_mnist_arrays()
        del arrays[key]
        write_npz(path, arrays)

    return write


def write_with(**changes):
    def write(path: pathlib.Path) -> None:
        arrays = small_mnist_arrays()
        for key, change in changes.items():
            arrays[key] = change(arrays[key])
        write_npz(path, arrays)

    return write


def set_first_label(value: int):
    def change(labels: np.ndarray) -> np.ndarray:
        labels = labels.copy()
        labels[0] = value
        return labels

    return change


BROKEN_FILES = {
    "text file": (write_text_file, ["not an .npz archive"]),
    "truncated zip": (write_truncated_zip, ["truncated"]),
    "missing key": (write_without_key("y_test"), ["missing the key(s) y_test"]),
    "float64 images": (
        write_with(x_train=lambda x: x.astype(np.float64) / 255),
        ["x_train has dtype float64", "uint8"],
    ),
    "flat images": (
        write_with(x_test=lambda x: x.reshape(len(x), 784)),
        ["x_test has shape (20, 784)", "(n, 28, 28)"],
    ),
    "mismatched lengths": (
        write_with(y_train=lambda y: y[:-1]),
        ["x_train has 50 images but y_train has 49 labels"],
    ),
    "label out of range": (
        write_with(y_test=set_first_label(10)),
        ["y_test has labels outside 0..9", "10"],
    ),
    "float labels": (
        write_with(y_train=lambda y: y.astype(np.float32)),
        ["y_train has dtype float32"],
    ),
}


@pytest.mark.parametrize(("writer", "expected"), BROKEN_FILES.values(), ids=BROKEN_FILES.keys())
def test_broken_mnist_file_names_the_file_the_problem_and_the_fix(writer, expected):
    path = data.mnist_path()
    path.parent.mkdir(parents=True)
    writer(path)
    with pytest.raises(DatasetError) as caught:
        data.load_mnist()
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message
    assert "keras.datasets.mnist.load_data()" in message
    assert "load_dataset('digits')" in message


def test_missing_mnist_file_says_it_is_not_there_and_how_to_get_it():
    with pytest.raises(DatasetError) as caught:
        data.load_mnist()
    message = str(caught.value)
    assert str(data.mnist_path()) in message
    assert "does not exist" in message
    assert "keras.datasets.mnist.load_data()" in message
    assert "load_dataset('digits')" in message


def test_missing_explicit_path_is_named_in_the_error(tmp_path):
    path = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(DatasetError, match="does not exist") as caught:
        data.load_mnist(path)
    assert str(path) in str(caught.value)


def test_dataset_error_is_a_runtime_error():
    assert issubclass(DatasetError, RuntimeError)


# ---------------------------------------------------------------------- downloading


def test_missing_file_is_not_downloaded_unless_asked(fake_keras):
    with pytest.raises(DatasetError):
        data.load_mnist()
    assert fake_keras.calls == []


def test_download_true_fetches_a_missing_file_through_keras(fake_keras):
    dataset = data.load_mnist(download=True)
    assert fake_keras.calls == ["mnist.load_data"]
    assert dataset.source == str(data.mnist_path())
    np.testing.assert_array_equal(dataset.y_test, fake_keras.arrays["y_test"])
    np.testing.assert_array_equal(
        dataset.X_train[..., 0], fake_keras.arrays["x_train"].astype(np.float32) / 255
    )


def test_download_true_reads_an_existing_file_without_keras(fake_keras, mnist_file, mnist_arrays):
    """Keras would re-download any file whose hash differs; we must not."""
    dataset = data.load_mnist(download=True)
    assert fake_keras.calls == []
    np.testing.assert_array_equal(dataset.y_train, mnist_arrays["y_train"])


def test_failed_download_becomes_a_dataset_error(fake_keras):
    fake_keras.fail_with = OSError("no route to host")
    with pytest.raises(DatasetError, match="no route to host") as caught:
        data.load_mnist(download=True)
    assert "load_dataset('digits')" in str(caught.value)


def test_download_cannot_fill_a_custom_path(fake_keras, tmp_path):
    path = tmp_path / "custom" / "mnist.npz"
    with pytest.raises(DatasetError, match="only fill Keras' cache") as caught:
        data.load_mnist(path, download=True)
    assert str(path) in str(caught.value)
    assert fake_keras.calls == []


@pytest.mark.parametrize(("name", "says"), [("mnist", "does not exist"), ("fashion_mnist", "Fashion-MNIST not found")])
def test_load_dataset_never_downloads(fake_keras, monkeypatch, name, says):
    monkeypatch.setenv(data.DATASET_ENV_VAR, name)
    with pytest.raises(DatasetError, match=says):
        data.load_dataset()
    assert fake_keras.calls == []


# -------------------------------------------------------------- choosing a dataset


def test_resolve_picks_mnist_when_the_file_exists(mnist_file):
    assert data.resolve_dataset_name() == "mnist"


def test_resolve_picks_digits_when_mnist_is_absent():
    assert data.resolve_dataset_name() == "digits"


def test_resolve_ignores_a_directory_named_like_the_file():
    data.mnist_path().mkdir(parents=True)
    assert data.resolve_dataset_name() == "digits"


def test_environment_variable_overrides_the_file_check(mnist_file, monkeypatch):
    monkeypatch.setenv(data.DATASET_ENV_VAR, "digits")
    assert data.resolve_dataset_name() == "digits"


def test_environment_variable_can_force_mnist(monkeypatch):
    monkeypatch.setenv(data.DATASET_ENV_VAR, "mnist")
    assert data.resolve_dataset_name() == "mnist"


def test_explicit_name_beats_the_environment_variable(monkeypatch):
    monkeypatch.setenv(data.DATASET_ENV_VAR, "digits")
    assert data.resolve_dataset_name("mnist") == "mnist"


def test_names_are_case_and_space_insensitive():
    assert data.resolve_dataset_name(" MNIST ") == "mnist"


def test_unknown_name_lists_the_choices():
    with pytest.raises(DatasetError) as caught:
        data.resolve_dataset_name("fashion")
    message = str(caught.value)
    assert "'fashion'" in message
    assert all(name in message for name in data.DATASETS)


def test_unknown_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(data.DATASET_ENV_VAR, "cifar")
    with pytest.raises(DatasetError) as caught:
        data.resolve_dataset_name()
    assert data.DATASET_ENV_VAR in str(caught.value)
    assert "'cifar'" in str(caught.value)


def test_public_constants():
    assert data.DATASETS == ("mnist", "digits", "fashion_mnist")
    assert data.DATASET_ENV_VAR == "AUTOGRADER_DATASET"
    assert data.DIGITS_TEST_SIZE == 0.2
    assert data.DIGITS_SPLIT_RANDOM_STATE == 0


# -------------------------------------------------------------------- load_dataset


def test_load_dataset_mnist_prints_one_line_naming_the_file(mnist_file, capsys):
    dataset = data.load_dataset("mnist")
    printed = capsys.readouterr().out
    assert printed == dataset.describe() + "\n"
    assert printed.startswith("mnist: 50 training and 20 test images of 28×28×1")
    assert str(mnist_file) in printed
    assert dataset.X_train.shape == (N_TRAIN, 28, 28, 1)


def test_load_dataset_defaults_to_mnist_when_present(mnist_file, capsys):
    assert data.load_dataset().name == "mnist"


def test_load_dataset_defaults_to_digits_without_mnist(capsys):
    dataset = data.load_dataset()
    assert dataset.name == "digits"
    assert capsys.readouterr().out.startswith("digits: 1,437 training and 360 test")


def test_load_dataset_quiet_prints_nothing(capsys):
    data.load_dataset("digits", verbose=False)
    assert capsys.readouterr().out == ""


def test_broken_mnist_is_reported_not_silently_replaced_by_digits():
    path = data.mnist_path()
    path.parent.mkdir(parents=True)
    write_text_file(path)
    with pytest.raises(DatasetError, match=r"not an \.npz archive"):
        data.load_dataset()


# -------------------------------------------------------------------------- digits


def test_digits_shapes_and_dtypes(digits):
    assert digits.X_train.shape == (1437, 28, 28, 1)
    assert digits.X_test.shape == (360, 28, 28, 1)
    assert digits.y_train.shape == (1437,)
    assert digits.y_test.shape == (360,)
    assert digits.X_train.dtype == np.float32
    assert digits.X_test.dtype == np.float32
    assert digits.y_train.dtype == np.int64
    assert digits.y_test.dtype == np.int64


def test_digits_pixels_fill_the_unit_range(digits):
    for images in (digits.X_train, digits.X_test):
        assert images.min() == 0.0
        assert images.max() == pytest.approx(1.0)
        assert np.isfinite(images).all()


def test_digits_split_is_stratified(digits):
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(digits.y_test, minlength=10)
    train_counts = np.bincount(digits.y_train, minlength=10)
    np.testing.assert_array_equal(train_counts + test_counts, per_class)
    assert np.all(np.abs(test_counts - 0.2 * per_class) <= 1)


def test_digits_split_is_sklearns_seeded_split(digits):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    target = load_digits().target
    y_train, y_test = train_test_split(target, test_size=0.2, random_state=0, stratify=target)
    np.testing.assert_array_equal(digits.y_train, y_train)
    np.testing.assert_array_equal(digits.y_test, y_test)


def test_digits_images_match_their_framed_sources(digits):
    """Images and labels must travel together through the split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    source = load_digits()
    indices = np.arange(len(source.target))
    train_idx, _ = train_test_split(
        indices, test_size=0.2, random_state=0, stratify=source.target
    )
    framed = data.resample_to_mnist_frame(source.images[train_idx[:25]])
    np.testing.assert_array_equal(digits.X_train[:25, ..., 0], framed)


def test_digits_are_deterministic_even_when_rebuilt(digits):
    data._digits_split_cached.cache_clear()
    rebuilt = data.load_digits_28()
    np.testing.assert_array_equal(rebuilt.X_train, digits.X_train)
    np.testing.assert_array_equal(rebuilt.y_test, digits.y_test)


def test_digits_loads_are_independent_copies():
    first = data.load_digits_28()
    original_pixel = first.X_train[0, 14, 14, 0].copy()
    original_label = first.y_train[0]
    first.X_train[0] = 0.5
    X_train = first.X_train
    X_train /= 2  # the in-place normalisation a student might try
    first.y_train[0] = 99
    second = data.load_digits_28()
    assert second.X_train[0, 14, 14, 0] == original_pixel
    assert second.y_train[0] == original_label
    assert second.X_train.max() == pytest.approx(1.0)


def test_cached_digits_load_is_fast(digits):
    start = time.perf_counter()
    data.load_digits_28()
    assert time.perf_counter() - start < 0.5


def centres_of_mass(images: np.ndarray) -> np.ndarray:
    images = images.reshape(len(images), 28, 28).astype(np.float64)
    total = images.sum(axis=(1, 2))
    rows = np.einsum("nij,i->n", images, np.arange(28)) / total
    cols = np.einsum("nij,j->n", images, np.arange(28)) / total
    return np.stack([rows, cols], axis=1)


def longer_ink_side(image: np.ndarray) -> int:
    image = image.reshape(28, 28)
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


@pytest.mark.parametrize("part", ["X_train", "X_test"])
def test_digits_centre_of_mass_is_at_the_frame_centre(digits, part):
    centres = centres_of_mass(getattr(digits, part))
    assert np.abs(centres - 13.5).max() <= 1.0


@pytest.mark.parametrize("part", ["X_train", "X_test"])
def test_digits_fit_a_20_pixel_box(digits, part):
    sides = [longer_ink_side(image) for image in getattr(digits, part)]
    assert min(sides) >= 18
    assert max(sides) <= 21


def test_digits_summary_is_json_ready_and_complete(digits):
    summary = digits.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary == {
        "name": "digits",
        "source": "sklearn.datasets.load_digits",
        "split": "stratified 80/20 split of 1,797 images, random_state=0",
        "n_train": 1437,
        "n_test": 360,
        "image_shape": [28, 28, 1],
        "n_classes": 10,
    }


def test_digits_describe_is_one_informative_line(digits):
    line = digits.describe()
    assert "\n" not in line
    assert line.startswith("digits: 1,437 training and 360 test images of 28×28×1")
    assert "stratified 80/20" in line
    assert "random_state=0" in line
    assert line.endswith("from sklearn.datasets.load_digits")


def test_mnist_summary_counts_the_file(mnist_file):
    summary = data.load_mnist().summary()
    assert summary["n_train"] == N_TRAIN
    assert summary["n_test"] == N_TEST
    assert summary["source"] == str(mnist_file)
    assert summary["split"] == "MNIST's own split"
    assert summary["n_classes"] == 10
    assert all(type(value) in (str, int, list) for value in summary.values())


def test_dataset_is_frozen(digits):
    with pytest.raises(dataclasses.FrozenInstanceError):
        digits.name = "mnist"


# ------------------------------------------------------------ resample_to_mnist_frame


def test_resample_centres_an_off_centre_block():
    image = np.zeros((1, 8, 8))
    image[0, 0:3, 5:8] = 16  # a 3x3 blob in the top-right corner
    framed = data.resample_to_mnist_frame(image)
    assert framed.shape == (1, 28, 28)
    assert framed.dtype == np.float32
    assert np.abs(centres_of_mass(framed) - 13.5).max() <= 0.5
    assert longer_ink_side(framed[0]) == 20


def test_resample_keeps_the_aspect_ratio():
    image = np.zeros((1, 8, 8))
    image[0, 1:7, 3:5] = 16  # 6 tall, 2 wide
    framed = data.resample_to_mnist_frame(image)[0]
    rows = np.flatnonzero(framed.any(axis=1))
    cols = np.flatnonzero(framed.any(axis=0))
    assert rows[-1] - rows[0] + 1 == 20
    assert 6 <= cols[-1] - cols[0] + 1 <= 8  # 2 * 20 / 6 ≈ 6.7


def test_resample_scales_ink_from_0_16_to_unit_range():
    image = np.zeros((2, 8, 8))
    image[0, 2:6, 2:6] = 8  # half ink
    image[1, 2:6, 2:6] = 40  # beyond the scale: clipped
    framed = data.resample_to_mnist_frame(image)
    assert framed[0].max() == pytest.approx(0.5)
    assert framed[1].max() == pytest.approx(1.0)
    assert framed.min() == 0.0


def test_resample_interpolates_instead_of_repeating_pixels():
    """MNIST digits are anti-aliased: enlarged strokes get grey edges, not blocky steps."""
    image = np.zeros((1, 8, 8))
    image[0, 1:7, 1:7] = np.indices((6, 6)).sum(axis=0) % 2 * 16  # a checkerboard
    framed = data.resample_to_mnist_frame(image)[0]
    grey = framed[(framed > 0.05) & (framed < 0.95)]
    assert grey.size > 100


def test_resample_leaves_a_blank_image_blank():
    framed = data.resample_to_mnist_frame(np.zeros((1, 8, 8)))
    assert np.array_equal(framed, np.zeros((1, 28, 28), dtype=np.float32))


def test_resample_rejects_a_single_image():
    with pytest.raises(ValueError, match=r"\(n, 8, 8\)"):
        data.resample_to_mnist_frame(np.zeros((8, 8)))


# -------------------------------------------------------------------- fashion_mnist

FASHION_FILES = data.FASHION_MNIST_FILES


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file as the original ones are: magic 2049 (labels) or 2051 (images), the
    sizes as big-endian 32-bit integers, then the unsigned bytes."""
    magic = 0x0800 | array.ndim if magic is None else magic
    sizes = b"".join(int(side).to_bytes(4, "big") for side in array.shape)
    return magic.to_bytes(4, "big") + sizes + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_fashion_files(folder: pathlib.Path, arrays: dict[str, np.ndarray], **contents: bytes) -> pathlib.Path:
    """The four .gz files; ``contents`` replaces a file's bytes (by its array's key)."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in FASHION_FILES.items():
        (folder / name).write_bytes(contents.get(key, gzip.compress(idx_bytes(arrays[key]))))
    return folder


@pytest.fixture
def fashion_arrays() -> dict[str, np.ndarray]:
    return small_mnist_arrays(seed=2)


@pytest.fixture
def fashion_folder(fashion_arrays) -> pathlib.Path:
    """Small but well-formed Fashion-MNIST files exactly where Keras would cache them."""
    return write_fashion_files(data.fashion_mnist_path(), fashion_arrays)


def test_fashion_mnist_path_is_keras_cache_subfolder(tmp_path):
    assert data.fashion_mnist_path() == tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    assert list(FASHION_FILES.values()) == [
        "train-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ]


def test_fashion_mnist_path_defaults_to_dot_keras_in_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.fashion_mnist_path() == tmp_path / ".keras" / "datasets" / "fashion-mnist"


def test_load_fashion_mnist_reads_the_four_cached_files(fashion_folder, fashion_arrays):
    dataset = data.load_fashion_mnist()
    assert dataset.name == "fashion_mnist"
    assert dataset.source == str(fashion_folder)
    assert dataset.split == "Fashion-MNIST's own split"
    for part, n in (("train", N_TRAIN), ("test", N_TEST)):
        images, labels = getattr(dataset, f"X_{part}"), getattr(dataset, f"y_{part}")
        assert images.shape == (n, 28, 28, 1)
        assert images.dtype == np.float32
        assert labels.shape == (n,)
        assert labels.dtype == np.int64
        raw = fashion_arrays[f"x_{part}"]
        np.testing.assert_array_equal(images[..., 0], raw.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(labels, fashion_arrays[f"y_{part}"])
    assert dataset.X_train.min() == 0.0
    assert dataset.X_train.max() == 1.0
    assert set(np.unique(dataset.y_train)) == set(range(10))


def test_load_fashion_mnist_arrays_are_writable_copies(fashion_folder):
    """np.frombuffer gives read-only views; a notebook that normalises in place must work."""
    dataset = data.load_fashion_mnist()
    X_train = dataset.X_train
    X_train /= 2
    dataset.y_test[0] = 3
    assert dataset.X_train.max() == 0.5


def test_load_fashion_mnist_accepts_an_explicit_folder(tmp_path, fashion_arrays):
    folder = write_fashion_files(tmp_path / "elsewhere", fashion_arrays)
    dataset = data.load_fashion_mnist(str(folder))
    assert dataset.source == str(folder)
    np.testing.assert_array_equal(dataset.y_test, fashion_arrays["y_test"])


def test_fashion_summary_and_describe(fashion_folder):
    dataset = data.load_fashion_mnist()
    summary = dataset.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary == {
        "name": "fashion_mnist",
        "source": str(fashion_folder),
        "split": "Fashion-MNIST's own split",
        "n_train": N_TRAIN,
        "n_test": N_TEST,
        "image_shape": [28, 28, 1],
        "n_classes": 10,
    }
    assert dataset.describe().startswith("fashion_mnist: 50 training and 20 test images of 28×28×1")


def test_fashion_reader_matches_keras_own_loading_code(tmp_path, fashion_arrays):
    """The same files through keras.datasets.fashion_mnist.load_data() (in a fresh process,
    where Keras reads KERAS_HOME, with downloading made impossible) give the same arrays:
    so the folder, the names and the reading are Keras' own."""
    keras_home = tmp_path / "real_keras_home"
    folder = write_fashion_files(keras_home / "datasets" / "fashion-mnist", fashion_arrays)
    script = textwrap.dedent(
        """
        import json, sys, urllib.request

        def no_network(*args, **kwargs):
            raise RuntimeError("the test tried to download " + repr(args[:1]))

        urllib.request.urlretrieve = no_network
        urllib.request.urlopen = no_network
        from keras.datasets import fashion_mnist

        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
        print(json.dumps({key: [str(value.dtype), value.ravel().tolist(), list(value.shape)]
                          for key, value in (("x_train", x_train), ("y_train", y_train),
                                             ("x_test", x_test), ("y_test", y_test))}))
        """
    )
    env = {**os.environ, "KERAS_HOME": str(keras_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    from_keras = json.loads(result.stdout.strip().splitlines()[-1])
    ours = data.load_fashion_mnist(folder)
    for part in ("train", "test"):
        dtype, values, shape = from_keras[f"x_{part}"]
        assert dtype == "uint8"
        keras_images = np.array(values, dtype=np.uint8).reshape(shape)
        np.testing.assert_array_equal(getattr(ours, f"X_{part}")[..., 0] * 255, keras_images)
        np.testing.assert_array_equal(keras_images, fashion_arrays[f"x_{part}"])
        dtype, values, shape = from_keras[f"y_{part}"]
        np.testing.assert_array_equal(getattr(ours, f"y_{part}"), np.array(values).reshape(shape))


# A broken file: which array's file, its new bytes (from the good arrays), what the message says.
def _gz(content: bytes) -> bytes:
    return gzip.compress(content)


def _truncated_gzip(arrays):
    good = _gz(idx_bytes(arrays["x_train"]))
    return good[: len(good) // 2]


def _corrupt_gzip(arrays):
    good = bytearray(_gz(idx_bytes(arrays["y_test"])))
    good[-6] ^= 0xFF  # inside the CRC-32 trailer
    return bytes(good)


BROKEN_FASHION_FILES = {
    "web page": ("x_test", lambda a: b"<html>404 Not Found</html>\n", ["is not a gzip file", "first bytes"]),
    "uncompressed idx": ("y_train", lambda a: idx_bytes(a["y_train"]), ["is not a gzip file"]),
    "truncated gzip": ("x_train", _truncated_gzip, ["is damaged", "truncated or corrupt", "EOFError"]),
    "corrupt gzip": ("y_test", _corrupt_gzip, ["is damaged", "truncated or corrupt", "CRC"]),
    "images with a label magic": (
        "x_train",
        lambda a: _gz(idx_bytes(a["x_train"], magic=2049)),
        ["not a valid IDX file", "magic number is 2049", "expected 2051", "images"],
    ),
    "labels with an image magic": (
        "y_test",
        lambda a: _gz(idx_bytes(a["y_test"], magic=2051)),
        ["magic number is 2051", "expected 2049", "labels"],
    ),
    "gzip of something else": (
        "x_test",
        lambda a: _gz(b"PK\x03\x04" + bytes(100)),
        ["magic number is 1347093252", "expected 2051"],
    ),
    "short header": ("y_train", lambda a: _gz(b"\x00\x00\x08"), ["holds 3 bytes", "8-byte header"]),
    "cut short inside the gzip": (
        "x_test",
        lambda a: _gz(idx_bytes(a["x_test"])[:-28]),
        ["header announces 20 images of 28×28 (15,680 bytes) but 15,652 bytes follow", "cut short"],
    ),
    "header counts more labels": (
        "y_train",
        lambda a: _gz((2049).to_bytes(4, "big") + (51).to_bytes(4, "big") + a["y_train"].tobytes()),
        ["header announces 51 labels (51 bytes) but 50 bytes follow"],
    ),
    "wrong image size": (
        "x_train",
        lambda a: _gz(idx_bytes(np.zeros((N_TRAIN, 32, 32), np.uint8))),
        ["train-images-idx3-ubyte.gz has shape (50, 32, 32), expected (n, 28, 28)"],
    ),
    "fewer labels than images": (
        "y_train",
        lambda a: _gz(idx_bytes(a["y_train"][:-1])),
        ["train-images-idx3-ubyte.gz has 50 images but train-labels-idx1-ubyte.gz has 49 labels"],
    ),
    "fewer test images than labels": (
        "x_test",
        lambda a: _gz(idx_bytes(a["x_test"][:-2])),
        ["t10k-images-idx3-ubyte.gz has 18 images but t10k-labels-idx1-ubyte.gz has 20 labels"],
    ),
    "label out of range": (
        "y_test",
        lambda a: _gz(idx_bytes(set_first_label(10)(a["y_test"]))),
        ["t10k-labels-idx1-ubyte.gz has labels outside 0..9", "10"],
    ),
    "no images": (
        "x_test",
        lambda a: _gz(idx_bytes(np.zeros((0, 28, 28), np.uint8))),
        ["t10k-images-idx3-ubyte.gz holds no images"],
    ),
}


@pytest.mark.parametrize(
    ("key", "content", "expected"), BROKEN_FASHION_FILES.values(), ids=BROKEN_FASHION_FILES.keys()
)
def test_broken_fashion_file_names_the_file_the_problem_and_the_fix(fashion_arrays, key, content, expected):
    folder = write_fashion_files(data.fashion_mnist_path(), fashion_arrays, **{key: content(fashion_arrays)})
    with pytest.raises(DatasetError) as caught:
        data.load_fashion_mnist()
    message = str(caught.value)
    assert str(folder) in message
    assert FASHION_FILES[key] in message
    for fragment in expected:
        assert fragment in message
    assert "Delete" in message
    assert "keras.datasets.fashion_mnist.load_data()" in message
    assert "load_dataset('digits')" in message


@pytest.mark.parametrize("key", FASHION_FILES)
def test_missing_fashion_file_is_named_with_how_to_get_it(fashion_arrays, fake_keras, key):
    folder = write_fashion_files(data.fashion_mnist_path(), fashion_arrays)
    (folder / FASHION_FILES[key]).unlink()
    with pytest.raises(DatasetError) as caught:
        data.load_fashion_mnist()
    message = str(caught.value)
    assert f"{folder} lacks {FASHION_FILES[key]} (1 of the four files" in message
    for other in FASHION_FILES.values():
        if other != FASHION_FILES[key]:
            assert other not in message
    assert "keras.datasets.fashion_mnist.load_data()" in message
    assert "load_dataset('digits')" in message
    assert fake_keras.calls == []


def test_nothing_cached_lists_all_four_files(fake_keras):
    with pytest.raises(DatasetError) as caught:
        data.load_fashion_mnist()
    message = str(caught.value)
    assert str(data.fashion_mnist_path()) in message
    assert ", ".join(FASHION_FILES.values()) + " (4 of the four files" in message
    assert fake_keras.calls == []


def test_fashion_download_true_fetches_through_keras(fake_keras):
    dataset = data.load_fashion_mnist(download=True)
    assert fake_keras.calls == ["fashion_mnist.load_data"]
    assert dataset.name == "fashion_mnist"
    assert dataset.source == str(data.fashion_mnist_path())
    np.testing.assert_array_equal(dataset.y_train, fake_keras.arrays["y_train"])
    np.testing.assert_array_equal(dataset.X_test[..., 0], fake_keras.arrays["x_test"].astype(np.float32) / 255)


def test_fashion_download_true_reads_cached_files_without_keras(fake_keras, fashion_folder, fashion_arrays):
    dataset = data.load_fashion_mnist(download=True)
    assert fake_keras.calls == []
    np.testing.assert_array_equal(dataset.y_test, fashion_arrays["y_test"])


def test_fashion_download_checks_the_cached_files_keras_would_read_unchecked(fake_keras, fashion_arrays):
    folder = write_fashion_files(data.fashion_mnist_path(), fashion_arrays, y_test=_corrupt_gzip(fashion_arrays))
    (folder / FASHION_FILES["x_train"]).unlink()
    with pytest.raises(DatasetError, match="is damaged") as caught:
        data.load_fashion_mnist(download=True)
    assert str(folder / FASHION_FILES["y_test"]) in str(caught.value)
    assert fake_keras.calls == []


def test_fashion_download_result_is_checked(fake_keras):
    fake_keras.arrays["y_test"] = fake_keras.arrays["y_test"][:-1]
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz has 20 images but t10k-labels"):
        data.load_fashion_mnist(download=True)


def test_failed_fashion_download_becomes_a_dataset_error(fake_keras):
    fake_keras.fail_with = OSError("no route to host")
    with pytest.raises(DatasetError, match="no route to host") as caught:
        data.load_fashion_mnist(download=True)
    assert "keras.datasets.fashion_mnist.load_data() failed" in str(caught.value)
    assert "load_dataset('digits')" in str(caught.value)
    assert fake_keras.calls == ["fashion_mnist.load_data"]


def test_fashion_download_cannot_fill_a_custom_folder(fake_keras, tmp_path):
    folder = tmp_path / "custom"
    with pytest.raises(DatasetError, match="only fill Keras' cache") as caught:
        data.load_fashion_mnist(folder, download=True)
    assert str(folder) in str(caught.value)
    assert "load_fashion_mnist(download=True) without a path" in str(caught.value)
    assert fake_keras.calls == []


def test_load_dataset_fashion_mnist_by_name_prints_its_line(fashion_folder, capsys):
    dataset = data.load_dataset(" Fashion_MNIST ")
    assert dataset.name == "fashion_mnist"
    assert capsys.readouterr().out == dataset.describe() + "\n"


def test_the_grader_can_force_fashion_mnist(fashion_folder, mnist_file, monkeypatch, capsys):
    monkeypatch.setenv(data.DATASET_ENV_VAR, "fashion_mnist")
    assert data.forced_dataset() == "fashion_mnist"
    assert data.load_dataset(verbose=False).name == "fashion_mnist"


def test_cached_fashion_mnist_is_never_chosen_by_default(fashion_folder, capsys):
    assert data.resolve_dataset_name() == "digits"
    assert data.load_dataset().name == "digits"


def test_cached_fashion_mnist_does_not_displace_mnist(fashion_folder, mnist_file):
    assert data.resolve_dataset_name() == "mnist"


def test_dataset_cache_paths_are_what_each_dataset_reads():
    assert data.dataset_cache_paths("mnist") == [data.mnist_path()]
    assert data.dataset_cache_paths(" Fashion_MNIST ") == [data.fashion_mnist_path()]
    assert data.dataset_cache_paths("digits") == []
    assert data.dataset_cache_paths("") == []


def test_the_split_runner_lets_the_kernel_read_the_fashion_folder(tmp_path, monkeypatch):
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.runners.split import kernel_view

    def readable(dataset: str) -> tuple[str, ...]:
        monkeypatch.setenv(data.DATASET_ENV_VAR, dataset)
        return kernel_view(tmp_path / "private", tmp_path / "work", Limits(), None).readable

    assert readable("fashion_mnist") == (str(data.fashion_mnist_path()),)
    assert readable("mnist") == (str(data.mnist_path()),)
    assert readable("digits") == ()


def test_grading_toml_accepts_fashion_mnist(tmp_path, monkeypatch):
    from autograder.config import AssignmentConfig, grading_dataset

    values = {
        "grading": {"dataset": "fashion_mnist", "seed": 0, "submission_timeout": 60},
        "thresholds": {"fashion_mnist": {"mlp_16x16_accuracy": 0.8}, "digits": {"mlp_16x16_accuracy": 0.85}},
    }
    config = AssignmentConfig.from_toml(values, tmp_path / "grading.toml")
    assert config.dataset() == "fashion_mnist"
    assert config.threshold("fashion_mnist", "mlp_16x16_accuracy") == 0.8
    monkeypatch.setenv(data.DATASET_ENV_VAR, "fashion_mnist")
    assert grading_dataset("nn_foundations") == "fashion_mnist"



# --------------------------------------------------------------- student package


def test_student_package_imports_without_tensorflow_or_keras(tmp_path):
    """The bare student copy must import and load fast: TensorFlow costs seconds."""
    package = tmp_path / "student" / "autograder"
    package.mkdir(parents=True)
    for name in ("__init__.py", "data.py", "seeding.py"):
        source = REPO_ROOT / "autograder" / name
        if source.exists():
            shutil.copy(source, package / name)
    script = textwrap.dedent(
        """
        import json, sys

        def heavy():
            return sorted(m for m in sys.modules if m.split(".")[0] in {"tensorflow", "keras"})

        import autograder.data as data
        after_import = heavy()
        data.load_dataset("digits", verbose=False)
        for load in (data.load_mnist, data.load_fashion_mnist):
            try:
                load()
            except data.DatasetError:
                pass
        print(json.dumps({"file": data.__file__, "after_import": after_import,
                          "after_loading": heavy()}))
        """
    )
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "empty_keras_home")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=package.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert pathlib.Path(report["file"]).resolve() == (package / "data.py").resolve()
    assert report["after_import"] == []
    assert report["after_loading"] == []
