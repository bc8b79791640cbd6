"""The batch's training store: each architecture trained once per batch, and only by a judge."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from autograder.checks.training_store import TRAINING_STORE_ENV_VAR, TrainingStore, create_store

KEY = "ab" * 32


def test_a_result_is_trained_once_then_read(tmp_path):
    store = TrainingStore(create_store(tmp_path / "store"))
    calls = []
    assert store.accuracy(KEY, lambda: calls.append(1) or 0.91) == 0.91
    assert TrainingStore(tmp_path / "store").accuracy(KEY, lambda: calls.append(1) or 0.5) == 0.91
    assert calls == [1]


def test_a_record_without_the_stores_mac_is_not_believed(tmp_path):
    """What a submission could write if it ever reached the folder: a flattering accuracy."""
    folder = create_store(tmp_path / "store")
    (folder / f"{KEY}.json").write_text(json.dumps({"accuracy": 0.99, "mac": "0" * 64}))
    assert TrainingStore(folder).recorded(KEY) is None
    assert TrainingStore(folder).accuracy(KEY, lambda: 0.42) == 0.42
    # nor a true record copied to another key, nor one whose accuracy was edited
    record = json.loads((folder / f"{KEY}.json").read_text())
    (folder / f"{'cd' * 32}.json").write_text(json.dumps(record))
    assert TrainingStore(folder).recorded("cd" * 32) is None
    (folder / f"{KEY}.json").write_text(json.dumps({**record, "accuracy": 0.99}))
    assert TrainingStore(folder).recorded(KEY) is None


def test_the_folder_and_its_key_are_the_owners_alone(tmp_path):
    folder = create_store(tmp_path / "store")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / ".key").stat().st_mode & 0o777 == 0o600
    key = (folder / ".key").read_bytes()
    assert create_store(folder) == folder
    assert (folder / ".key").read_bytes() == key, "a store made again keeps its key and its records"


def _train_in_child(folder: str, counter: str, results: multiprocessing.Queue) -> None:
    def train() -> float:
        with open(counter, "a") as stream:
            stream.write("trained\n")
        time.sleep(0.5)  # long enough for the other children to arrive while this one trains
        return 0.875
    results.put(TrainingStore(Path(folder)).accuracy(KEY, train))


def test_children_grading_at_once_train_an_architecture_once(tmp_path):
    folder, counter = create_store(tmp_path / "store"), tmp_path / "counter"
    results: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    children = [multiprocessing.get_context("fork").Process(target=_train_in_child, args=(str(folder), str(counter), results))
                for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    assert [results.get(timeout=5) for _ in children] == [0.875] * 4
    assert counter.read_text().count("trained") == 1


def test_a_run_that_fails_records_nothing(tmp_path):
    store = TrainingStore(create_store(tmp_path / "store"))

    def stopped() -> float:
        raise RuntimeError("out of CPU time")
    with pytest.raises(RuntimeError, match="out of CPU time"):
        store.accuracy(KEY, stopped)
    assert store.recorded(KEY) is None


def test_only_a_split_runners_child_is_given_the_store_and_never_its_kernel(tmp_path, monkeypatch):
    from autograder.config import Limits
    from autograder.grade.processes.grading_child import child_environment
    from autograder.grade.runners.split import kernel_environment
    monkeypatch.setenv(TRAINING_STORE_ENV_VAR, "/somewhere/a/notebook/set")
    judge = child_environment(None, None, Limits(), tmp_path)
    assert judge[TRAINING_STORE_ENV_VAR] == str(tmp_path)
    assert TRAINING_STORE_ENV_VAR not in child_environment(None, None, Limits(), None), \
        "a store in the grader's own environment is not passed on"
    assert TRAINING_STORE_ENV_VAR not in kernel_environment(judge)


def test_the_otter_runner_never_receives_the_store(tmp_path, monkeypatch):
    """Otter runs student code in the judges' process: a store there would be writable by it."""
    from autograder.grade.processes import grading_child
    seen = {}

    def run(job, timeout, cpus):
        seen.update(job.env)
        return 0, "", False
    monkeypatch.setattr(grading_child, "_run_in_own_session", run)
    monkeypatch.setattr(grading_child, "choose_runner", lambda zip_path, runner: runner)
    for runner, expected in (("otter", None), ("split", str(tmp_path))):
        seen.clear()
        grading_child._grade_once(tmp_path / "s.ipynb", tmp_path / "a.zip", 10, None, None,
                                  grading_child.Limits(), runner, False, tmp_path)
        assert seen.get(TRAINING_STORE_ENV_VAR) == expected, runner
