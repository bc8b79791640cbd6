"""Every file given becomes a submission; the ones that cannot be graded say why."""

from __future__ import annotations

import zipfile

import nbformat
import pytest

from autograder.grade.intake import collect_submissions

ASSIGNMENT = "nn_foundations"


def notebook(assignment: str | None = ASSIGNMENT, code: str = "x = 1") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)] if code else [])
    if assignment:
        nb.metadata["otter"] = {"assignment_name": assignment}
    return nbformat.writes(nb)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "good.ipynb").write_text(notebook())
    (tmp_path / "corrupt.ipynb").write_text('{"cells": [')
    (tmp_path / "essay.txt").write_text("not a notebook")
    (tmp_path / "empty.ipynb").write_text(notebook(code=""))
    (tmp_path / "other.ipynb").write_text(notebook(assignment="keras_networks"))
    with zipfile.ZipFile(tmp_path / "nozip.zip", "w") as archive:
        archive.writestr("readme.md", "hello")
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("nn_foundations.ipynb", notebook())
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "twin.ipynb").write_text(notebook())
    (tmp_path / "twin.zip").write_bytes((tmp_path / "export.zip").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.ipynb").write_text(notebook())
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "good-checkpoint.ipynb").write_text(notebook())
    return tmp_path


def by_name(folder):
    return {s.name: s for s in collect_submissions([folder], ASSIGNMENT)}


def test_valid_notebooks_and_exports_are_gradable(folder):
    found = by_name(folder)
    assert found["good"].valid
    assert found["export"].valid
    assert found["sub__deep"].valid


@pytest.mark.parametrize(("name", "reason"), [
    ("corrupt", "not a readable Jupyter notebook"),
    ("essay", "not a notebook"),
    ("empty", "has no code"),
    ("other", "assignment 'keras_networks'"),
    ("nozip", "holds 0 notebooks"),
    ("broken", "not a valid zip"),
    ("twin", "would both be named 'twin'"),
])
def test_each_bad_input_is_invalid_with_a_reason(folder, name, reason):
    found = collect_submissions([folder], ASSIGNMENT)
    matching = [s for s in found if s.name == name]
    assert matching, matching
    assert all(not s.valid for s in matching), matching
    assert all(reason in s.problem for s in matching), matching


def test_nothing_given_is_dropped_and_checkpoints_are_ignored(folder):
    names = [s.name for s in collect_submissions([folder], ASSIGNMENT)]
    assert len(names) == 11
    assert not any("checkpoint" in n for n in names)


def test_a_missing_path_is_reported_not_skipped(tmp_path):
    [missing] = collect_submissions([tmp_path / "nope.ipynb"], ASSIGNMENT)
    assert not missing.valid
    assert "does not exist" in missing.problem


# Hostile files -------------------------------------------------------------------------------

def bomb(path, inflated_mb: int = 1024) -> None:
    """An Otter export whose notebook inflates to ``inflated_mb`` (about 1 MB on disk)."""
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("nn_foundations.ipynb", "w", force_zip64=True) as stream:
            stream.write(b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "pad": "')
            for _ in range(inflated_mb):
                stream.write(chunk)
            stream.write(b'"}')


def test_a_compression_bomb_is_refused_unread_with_memory_bounded(tmp_path):
    """1 GiB of notebook in a ~1 MB zip: invalid with a reason, and the process that read it
    grew by far less than the notebook (it stopped at the limit, or before)."""
    import subprocess
    import sys
    bomb(tmp_path / "bomb.zip")
    assert (tmp_path / "bomb.zip").stat().st_size < 8 << 20
    script = ("import resource, sys\nfrom pathlib import Path\n"
              "from autograder.grade.intake import collect_submissions\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "[s] = collect_submissions([Path(sys.argv[1])], 'nn_foundations')\n"
              "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "print((after - before) >> 10)\nprint(s.problem)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "bomb.zip")],
                          capture_output=True, text=True, timeout=120, check=True)
    grown_mb, problem = done.stdout.strip().split("\n", 1)
    assert "inflates to more than the 100 MB" in problem
    assert "clear the notebook's outputs" in problem
    assert int(grown_mb) < 250, f"the grader's memory grew by {grown_mb} MB"


def test_a_zip_whose_header_hides_its_size_is_still_bounded(tmp_path):
    """A header that declares a small size: zipfile stops at the declared size and the CRC
    check fails, so the bytes past it are never inflated."""
    from autograder.grade.intake import MAX_NOTEBOOK_MB
    bomb(tmp_path / "liar.zip", inflated_mb=MAX_NOTEBOOK_MB + 20)
    data = bytearray((tmp_path / "liar.zip").read_bytes())
    with zipfile.ZipFile(tmp_path / "liar.zip") as archive:
        info = archive.getinfo("nn_foundations.ipynb")
    real = (MAX_NOTEBOOK_MB + 20) * (1 << 20) + len(b'{"cells": [], "metadata": {}, "nbformat": 4, '
                                                    b'"nbformat_minor": 5, "pad": "') + 2
    assert info.file_size == real
    for width in (8, 4):  # the local header's zip64 field, the central directory's own
        assert data.count(real.to_bytes(width, "little")) >= 1
        data = data.replace(real.to_bytes(width, "little"), (1000).to_bytes(width, "little"))
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    with zipfile.ZipFile(tmp_path / "liar.zip") as archive:
        assert archive.getinfo("nn_foundations.ipynb").file_size == 1000
    [liar] = collect_submissions([tmp_path / "liar.zip"], ASSIGNMENT)
    assert not liar.valid, liar.problem
    assert "not a valid zip" in liar.problem or "not a readable" in liar.problem, liar.problem


def test_path_traversal_names_in_an_export_reach_no_folder(tmp_path):
    """Members are read, never extracted: `../../evil.ipynb` is just a name."""
    with zipfile.ZipFile(tmp_path / "traversal.zip", "w") as archive:
        archive.writestr("../../../../tmp/evil.ipynb", notebook())
    [found] = collect_submissions([tmp_path / "traversal.zip"], ASSIGNMENT)
    assert found.valid
    from autograder.grade.runners.split import submitted_notebook
    assert submitted_notebook(tmp_path / "traversal.zip")[0].cells[0].source == "x = 1"
    assert not (tmp_path.parent / "evil.ipynb").exists()


def test_symbolic_links_are_listed_and_not_followed(tmp_path):
    secret = tmp_path / "solutions.ipynb"
    secret.write_text(notebook(code="answer = 42"))
    folder = tmp_path / "submissions"
    (folder / "linked_folder_target").mkdir(parents=True)
    (folder / "honest.ipynb").write_text(notebook())
    (folder / "sneaky.ipynb").symlink_to(secret)
    (folder / "elsewhere").symlink_to(tmp_path)
    found = by_name(folder)
    assert found["honest"].valid
    assert not found["sneaky"].valid
    assert "symbolic link" in found["sneaky"].problem
    assert not found["elsewhere"].valid
    assert "symbolic link" in found["elsewhere"].problem
    assert "elsewhere__solutions" not in found


def test_a_notebook_too_large_on_disk_is_refused_before_it_is_read(tmp_path):
    from autograder.grade.intake import MAX_NOTEBOOK_MB
    big = tmp_path / "big.ipynb"
    with open(big, "wb") as stream:
        stream.truncate((MAX_NOTEBOOK_MB + 1) << 20)  # sparse: no disk used
    [found] = collect_submissions([big], ASSIGNMENT)
    assert not found.valid
    assert f"more than the {MAX_NOTEBOOK_MB} MB" in found.problem


def test_a_notebook_in_nbformat_3_is_accepted(tmp_path):
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(
        cells=[nbformat.v3.new_code_cell(input="x = 1")])])
    (tmp_path / "old.ipynb").write_text(nbformat.writes(old, version=3))
    [found] = collect_submissions([tmp_path / "old.ipynb"], ASSIGNMENT)
    assert found.valid, found.problem


def test_a_pipe_named_like_a_notebook_is_refused_without_being_read(tmp_path):
    import os
    os.mkfifo(tmp_path / "pipe.ipynb")  # reading it would wait forever
    [found] = collect_submissions([tmp_path], ASSIGNMENT)
    assert not found.valid
    assert "not a regular file" in found.problem
