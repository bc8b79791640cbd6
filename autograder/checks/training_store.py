"""The grader's training results, shared by the grading children of one batch.

A judge that trains a student's architecture (``keras_networks``' accuracy checks) pays tens
of seconds per run. A class writes few architectures: most correct answers are a reference
one (recorded by the build), and the wrong ones repeat (a missing Flatten, a sigmoid output).
Each grading child is a process of its own, forked for one submission and gone after it, so a
cache in memory dies with it. This store, a folder the batch gives every grading child of the
split runner, keeps one result per training key (``judges.training_key``: the architecture's
fingerprint, the budget, the settings, the seed, the dataset, the versions), so each distinct
architecture is trained once per batch:

* only the judge side writes it: the folder's path reaches the grading child (the judge)
  through its environment, never the student's kernel (whose environment is an allow-list and
  whose view of the file system does not contain the folder); the Otter runner, where student
  code and judges share a process, is never given it;
* a record is believed only if its MAC, under a key kept in the folder (mode 0600, the folder
  0700), is right: a record written by anyone without the key is ignored and trained again;
* one child trains a key while the others wait for it (``flock`` on the key's lock file), so a
  batch of thirty identical mistakes pays one training run, not thirty at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

TRAINING_STORE_ENV_VAR = "AUTOGRADER_TRAINING_STORE"
KEY_FILE = ".key"


class TrainingStore:
    """Accuracies by training key, written atomically, each under the store's MAC."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._key = _key_of(self.folder)

    @classmethod
    def from_environment(cls) -> TrainingStore | None:
        """The batch's store, in a grading child it was given to; None elsewhere."""
        folder = os.environ.get(TRAINING_STORE_ENV_VAR)
        if not folder:
            return None
        try:
            return cls(Path(folder))
        except OSError:
            return None  # unusable: every run trains for itself, as without a store

    def recorded(self, key: str) -> float | None:
        try:
            record = json.loads((self.folder / f"{_safe(key)}.json").read_text())
            accuracy, mac = float(record["accuracy"]), str(record["mac"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return accuracy if hmac.compare_digest(mac, self._mac(key, accuracy)) else None

    def accuracy(self, key: str, train: Callable[[], float]) -> float:
        """The recorded accuracy for ``key``, else ``train()``'s, recorded for the others: one
        child trains while the others wait. A run that raises records nothing."""
        if (known := self.recorded(key)) is not None:
            return known
        with self._locked(key):
            if (known := self.recorded(key)) is not None:
                return known  # trained by another child while this one waited
            accuracy = float(train())
            self._record(key, accuracy)
            return accuracy

    def _mac(self, key: str, accuracy: float) -> str:
        return hmac.new(self._key, f"{key}:{accuracy!r}".encode(), hashlib.sha256).hexdigest()

    def _record(self, key: str, accuracy: float) -> None:
        path = self.folder / f"{_safe(key)}.json"
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        temporary.write_text(json.dumps({"accuracy": accuracy, "mac": self._mac(key, accuracy)}))
        os.replace(temporary, path)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        descriptor = os.open(self.folder / f"{_safe(key)}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def create_store(folder: Path) -> Path:
    """Make (or keep) a batch's store: the folder only its owner can enter, and its key."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    _key_of(folder)
    return folder


def _key_of(folder: Path) -> bytes:
    path = folder / KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != 32:
            raise OSError(f"{path} is not a training store's key") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key)
    return key


def _safe(key: str) -> str:
    """A file name for a key (training keys are hex digests already)."""
    return key if key.isalnum() else hashlib.sha256(key.encode()).hexdigest()
