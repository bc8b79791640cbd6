"""``autograder similarity`` (SPEC §8): disguised copies are found, independent solutions are not,
identical files always are, and bad input is skipped with a reason.

The rates are measured on the labelled corpus of benchmarks/similarity.py (its ``build_corpus``),
built from the session's builds of nn_foundations and keras_networks: every author's disguised
copies must be listed, and no pair of two authors. The other tests use a toy assignment: a
starter notebook written into a temporary dist folder, and students' notebooks beside it.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from helpers import ASSIGNMENT, KERAS

from autograder.cli import main
from autograder.course.similarity import (
    CSV_COLUMNS,
    DEFAULT_THRESHOLD,
    SAME_BYTES,
    SAME_CODE,
    SimilaritySetupError,
    find_similar_pairs,
    write_similarity,
)
from autograder.grade import intake

ROOT = Path(__file__).resolve().parent.parent


def _benchmark():
    spec = importlib.util.spec_from_file_location("similarity_benchmark", ROOT / "benchmarks" / "similarity.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _benchmark()


# The labelled corpus: the rates -----------------------------------------------------------------

@pytest.fixture(scope="module")
def corpora(builds, tmp_path_factory):
    """Each assignment's labelled corpus, built once for the tests below."""
    made = {}

    def corpus(assignment: str):
        if assignment not in made:
            dist = builds(assignment).student_dir.parent.parent
            made[assignment] = (bench.build_corpus(assignment, dist, tmp_path_factory.mktemp(assignment)), dist)
        return made[assignment]
    return corpus


@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_every_disguised_copy_is_found_and_no_independent_pair_is_listed(corpora, assignment):
    corpus, dist = corpora(assignment)
    assert len(corpus.copy_pairs) >= 15, "the corpus is smaller than it says"
    assert len(corpus.independent_pairs) >= 100, "the corpus is smaller than it says"
    rates = bench.measure(corpus, dist)
    assert rates.missed == [], f"disguised copies not listed (detection rate {rates.detection_rate:.2f})"
    assert rates.detection_rate == 1.0
    assert rates.false_positives == [], f"independent solutions listed (rate {rates.false_positive_rate:.3f})"
    assert rates.false_positive_rate == 0.0
    # and not by a hair: the default threshold sits well between the two
    assert rates.weakest_copy >= DEFAULT_THRESHOLD + 0.25, rates
    assert rates.closest_independent <= DEFAULT_THRESHOLD - 0.2, rates


@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_the_disguised_copies_are_disguised(corpora, assignment):
    """Found by their fingerprints, not because they are the same code: no copy is identical to
    its author, and each differs from it in its answer cells' names and comments."""
    corpus, dist = corpora(assignment)
    run = find_similar_pairs(assignment, [corpus.folder], dist=dist)
    for pair in run.pairs:
        if "_copy" in pair.first or "_copy" in pair.second:
            assert pair.identical is None, pair
    author = nbformat.read(corpus.folder / "ada.ipynb", as_version=4)
    copy = nbformat.read(corpus.folder / "ada_copy1.ipynb", as_version=4)
    changed = [(a.source, b.source) for a, b in zip(author.cells, copy.cells) if a.source != b.source]
    assert len(changed) == len(bench.AUTHORS[assignment]["ada"])
    assert any("_val" in b or "_tmp" in b or "2" in b for _, b in changed)


def test_two_notebooks_with_only_the_starter_code_do_not_match(corpora):
    corpus, dist = corpora(ASSIGNMENT)
    run = find_similar_pairs(ASSIGNMENT, [corpus.folder], dist=dist, threshold=0.01)
    assert not [p for p in run.pairs if "starter_only" in p.first or "starter_only" in p.second]


@pytest.mark.parametrize("threshold", [0.3, DEFAULT_THRESHOLD])
def test_the_sparse_prefilter_lists_what_comparing_every_pair_lists(builds, tmp_path, threshold):
    """A class of mosaics (benchmarks/similarity.py's build_class): the pairs listed when
    compare_files runs only on the pairs the sparse product selects are those listed when it runs
    on every pair and the fingerprint criterion is computed pair by pair."""
    dist = builds(KERAS).student_dir.parent.parent
    bench.build_class(KERAS, dist, tmp_path / "class", 60)
    fast = find_similar_pairs(KERAS, [tmp_path / "class"], dist=dist, threshold=threshold, shown=0)
    every = find_similar_pairs(KERAS, [tmp_path / "class"], dist=dist, threshold=threshold, shown=0, exhaustive=True)
    assert every.comparisons == 60 * 59 // 2
    assert fast.comparisons < every.comparisons
    assert len(fast.pairs) >= 5, "too few pairs to tell anything"
    assert fast.pairs == every.pairs


# A toy assignment ---------------------------------------------------------------------------------

TOY = "toy_course"
STARTER = [
    "# Setup\nimport numpy as np\nrng = np.random.default_rng(0)\nvalues = rng.normal(size=100)",
    'def normalise(rows):\n    """Each row scaled to mean 0 and standard deviation 1."""\n    ...\n\n\n'
    "print(normalise(np.ones((2, 3))))",
    'def histogram(values, bins):\n    """How many values fall in each of `bins` equal bins."""\n    ...\n\n\n'
    'def running_mean(values, window):\n    """The mean of each `window` consecutive values."""\n    ...\n',
    'grader.check("q1")',
]
ADA = [
    STARTER[0],
    'def normalise(rows):\n    """Each row scaled to mean 0 and standard deviation 1."""\n'
    "    rows = np.asarray(rows, dtype=float)\n    centred = rows - rows.mean(axis=1, keepdims=True)\n"
    "    spread = rows.std(axis=1, keepdims=True)\n    spread[spread == 0] = 1.0\n    return centred / spread\n\n\n"
    "print(normalise(np.ones((2, 3))))",
    'def histogram(values, bins):\n    """How many values fall in each of `bins` equal bins."""\n'
    "    low, high = min(values), max(values)\n    width = (high - low) / bins or 1.0\n"
    "    counts = [0] * bins\n    for value in values:\n        index = min(int((value - low) / width), bins - 1)\n"
    "        counts[index] += 1\n    return counts\n\n\n"
    'def running_mean(values, window):\n    """The mean of each `window` consecutive values."""\n'
    "    sums = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))\n"
    "    return (sums[window:] - sums[:-window]) / window\n",
    STARTER[3],
]
BO = [
    STARTER[0],
    'def normalise(rows):\n    """Each row scaled to mean 0 and standard deviation 1."""\n'
    "    out = []\n    for row in rows:\n        mu = sum(row) / len(row)\n"
    "        sd = (sum((x - mu) ** 2 for x in row) / len(row)) ** 0.5\n"
    "        out.append([(x - mu) / (sd if sd else 1) for x in row])\n    return np.array(out)\n\n\n"
    "print(normalise(np.ones((2, 3))))",
    'def histogram(values, bins):\n    """How many values fall in each of `bins` equal bins."""\n'
    "    return np.histogram(values, bins=bins)[0].tolist()\n\n\n"
    'def running_mean(values, window):\n    """The mean of each `window` consecutive values."""\n'
    "    kernel = np.full(window, 1 / window)\n    return np.convolve(values, kernel, mode='valid')\n",
    STARTER[3],
]
# ADA's code, disguised: names changed, the two functions swapped, comments changed
ADA_DISGUISED = [
    STARTER[0],
    'def normalise(rows):\n    """my answer"""\n'
    "    r = np.asarray(rows, dtype=float)  # as floats\n    c = r - r.mean(axis=1, keepdims=True)\n"
    "    s = r.std(axis=1, keepdims=True)\n    s[s == 0] = 1.0\n    return c / s\n\n\n"
    "print(normalise(np.ones((2, 3))))",
    'def running_mean(values, window):\n    """The mean of each `window` consecutive values."""\n'
    "    # prefix sums\n    acc = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))\n"
    "    return (acc[window:] - acc[:-window]) / window\n\n\n"
    'def histogram(values, bins):\n    """How many values fall in each of `bins` equal bins."""\n'
    "    lo, hi = min(values), max(values)\n    w = (hi - lo) / bins or 1.0\n"
    "    result = [0] * bins\n    for v in values:\n        k = min(int((v - lo) / w), bins - 1)\n"
    "        result[k] += 1\n    return result\n",
    STARTER[3],
]


def toy_notebook(cells: list[str], assignment: str | None = TOY, outputs: str | None = None) -> str:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Toy assignment")])
    for n, source in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source)
        if outputs is not None:
            cell.execution_count = n
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{outputs} {n}\n")]
        notebook.cells.append(cell)
    if assignment:
        notebook.metadata["otter"] = {"assignment_name": assignment}
    return nbformat.writes(notebook)


@pytest.fixture
def toy_dist(tmp_path) -> Path:
    dist = tmp_path / "dist"
    (dist / TOY / "student").mkdir(parents=True)
    (dist / TOY / "student" / f"{TOY}.ipynb").write_text(toy_notebook(STARTER))
    return dist


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


def by_pair(run) -> dict[frozenset[str], object]:
    return {frozenset((p.first, p.second)): p for p in run.pairs}


def test_a_disguised_copy_is_found_with_its_fragments_side_by_side(toy_dist, folder):
    (folder / "ada.ipynb").write_text(toy_notebook(ADA, outputs="ada"))
    (folder / "bo.ipynb").write_text(toy_notebook(BO, outputs="bo"))
    (folder / "cy.ipynb").write_text(toy_notebook(ADA_DISGUISED, outputs="cy"))
    run = find_similar_pairs(TOY, [folder], dist=toy_dist)
    pairs = by_pair(run)
    assert set(pairs) == {frozenset(("ada", "cy"))}, run.pairs
    pair = pairs[frozenset(("ada", "cy"))]
    assert pair.identical is None
    assert pair.similarity >= 0.9
    assert pair.fingerprint_share >= 0.5
    # the histogram moved below running_mean: its fragment is beside ada's, wherever it went
    histogram = [f for f in pair.fragments if any("counts[index] += 1" in line.text for line in f.first)]
    assert len(histogram) == 1
    (fragment,) = histogram
    assert any("result[k] += 1" in line.text for line in fragment.second)
    assert fragment.first[0].cell == fragment.second[0].cell == 4  # cells counted from 1, markdown included
    assert fragment.first[0].number < fragment.second[0].number
    # lines the starter has too are marked (shown grey, never counted), and only those
    starter_lines = {line.strip() for cell in STARTER for line in cell.splitlines() if line.strip()}
    for line in (line for f in pair.fragments for line in (*f.first, *f.second)):
        assert line.starter == (line.text.strip() in starter_lines), line


def test_identical_files_are_listed_whatever_the_threshold(toy_dist, folder):
    (folder / "ada.ipynb").write_text(toy_notebook(ADA, outputs="ada"))
    (folder / "ada_again.ipynb").write_bytes((folder / "ada.ipynb").read_bytes())
    recommented = [cell.replace("    low, high", "    # the range\n\n    low,   high") for cell in ADA]
    (folder / "ada_recommented.ipynb").write_text(toy_notebook(recommented, outputs="other run"))
    (folder / "starter_a.ipynb").write_text(toy_notebook(STARTER))
    (folder / "starter_b.ipynb").write_bytes((folder / "starter_a.ipynb").read_bytes())
    with zipfile.ZipFile(folder / "ada_export.zip", "w") as archive:  # an Otter export: its notebook counts
        archive.writestr(f"{TOY}.ipynb", (folder / "ada.ipynb").read_bytes())
    run = find_similar_pairs(TOY, [folder], dist=toy_dist, threshold=1.0)
    kinds = {pair: p.identical for pair, p in by_pair(run).items()}
    assert kinds[frozenset(("ada", "ada_again"))] == SAME_BYTES
    assert kinds[frozenset(("ada", "ada_export"))] == SAME_BYTES
    assert kinds[frozenset(("ada", "ada_recommented"))] == SAME_CODE
    assert kinds[frozenset(("ada_again", "ada_recommented"))] == SAME_CODE
    assert kinds[frozenset(("starter_a", "starter_b"))] == SAME_BYTES  # the same file, even if untouched
    assert all(kind is not None for kind in kinds.values()), kinds
    assert [p.identical for p in run.pairs][:2] == [SAME_BYTES, SAME_BYTES]  # same bytes first


def test_notebooks_that_only_ran_the_starter_code_match_nothing(toy_dist, folder):
    (folder / "ran_a.ipynb").write_text(toy_notebook(STARTER, outputs="a"))
    (folder / "ran_b.ipynb").write_text(toy_notebook(STARTER, outputs="b"))
    (folder / "ada.ipynb").write_text(toy_notebook(ADA, outputs="ada"))
    partial = [STARTER[0], STARTER[1], ADA[2], STARTER[3]]  # ada's histogram, the rest untouched
    (folder / "partial.ipynb").write_text(toy_notebook(partial, outputs="p"))
    run = find_similar_pairs(TOY, [folder], dist=toy_dist, threshold=0.01, min_shared=0)
    assert set(by_pair(run)) == {frozenset(("ada", "partial"))}
    assert by_pair(run)[frozenset(("ada", "partial"))].similarity == pytest.approx(1.0)  # all of partial's own


def test_bad_input_is_skipped_with_the_file_and_what_to_do(toy_dist, folder, monkeypatch):
    (folder / "ada.ipynb").write_text(toy_notebook(ADA))
    (folder / "cy.ipynb").write_text(toy_notebook(ADA_DISGUISED))
    (folder / "corrupt.ipynb").write_text('{"cells": [')
    (folder / "essay.txt").write_text("not a notebook")
    (folder / "other.ipynb").write_text(toy_notebook(ADA, assignment="keras_networks"))
    with zipfile.ZipFile(folder / "nozip.zip", "w") as archive:
        archive.writestr("readme.md", "hello")
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setattr(intake, "MAX_NOTEBOOK_MB", 1)
    with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{TOY}.ipynb", b" " * (3 << 20))  # inflates past the limit
    with zipfile.ZipFile(folder / "climber.zip", "w") as archive:  # read, never extracted
        archive.writestr(f"../../{TOY}.ipynb", toy_notebook(BO))
    run = find_similar_pairs(TOY, [folder], dist=toy_dist)
    reasons = {s.submission: s.reason for s in run.skipped}
    assert set(reasons) == {"corrupt", "essay", "other", "nozip", "broken", "bomb"}
    assert "corrupt.ipynb is not a readable Jupyter notebook" in reasons["corrupt"]
    assert "save it" in reasons["corrupt"]
    assert "not a notebook" in reasons["essay"]
    assert "assignment 'keras_networks'" in reasons["other"]
    assert "holds 0 notebooks" in reasons["nozip"]
    assert "not a valid zip" in reasons["broken"]
    assert "more than the 1 MB" in reasons["bomb"]
    assert sorted(run.compared) == ["ada", "climber", "cy"]
    assert set(by_pair(run)) == {frozenset(("ada", "cy"))}
    files = write_similarity(run, folder.parent / "out")
    html = files["similarity.html"].read_text()
    assert "Skipped" in html
    assert "corrupt.ipynb is not a readable Jupyter notebook" in html
    assert json.loads(files["similarity.json"].read_text())["skipped"][0]["reason"]


def test_the_report_escapes_code_and_names(toy_dist, folder):
    hostile = [cell.replace('"""Each row', '"""</pre><script>alert(1)</script> Each row')
               .replace("    return centred / spread", "    return centred / spread  # <img src=x onerror=alert(2)>")
               for cell in ADA]
    (folder / "<i>ada.ipynb").write_text(toy_notebook(hostile))
    (folder / "bo&co.ipynb").write_text(toy_notebook(hostile, outputs="x"))
    run = find_similar_pairs(TOY, [folder], dist=toy_dist)
    assert len(run.pairs) == 1
    assert run.pairs[0].fragments
    html = write_similarity(run, folder.parent / "out")["similarity.html"].read_text()
    assert "<script>" not in html
    assert "<img" not in html
    assert "<i>ada" not in html
    assert "&lt;i&gt;ada" in html
    assert "bo&amp;co" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # the comment, in the fragment beside its code


def test_the_three_files_list_the_same_pairs_in_rank_order(toy_dist, folder):
    (folder / "ada.ipynb").write_text(toy_notebook(ADA, outputs="1"))
    (folder / "ada_twin.ipynb").write_bytes((folder / "ada.ipynb").read_bytes())
    (folder / "cy.ipynb").write_text(toy_notebook(ADA_DISGUISED))
    half = [STARTER[0], BO[1], ADA_DISGUISED[2], STARTER[3]]  # bo's normalise, ada's two others
    (folder / "dee.ipynb").write_text(toy_notebook(half))
    (folder / "bo.ipynb").write_text(toy_notebook(BO))
    run = find_similar_pairs(TOY, [folder], dist=toy_dist, threshold=0.4)
    files = write_similarity(run, folder.parent / "out")
    document = json.loads(files["similarity.json"].read_text())
    assert set(document) >= {"assignment", "threshold", "compared", "pairs", "groups", "skipped"}
    assert document["assignment"] == TOY
    assert document["threshold"] == 0.4
    listed = [tuple(p["submissions"]) for p in document["pairs"]]
    assert listed[0] == ("ada", "ada_twin")
    assert document["pairs"][0]["identical"] == SAME_BYTES
    rest = [p["similarity"] for p in document["pairs"] if not p["identical"]]
    assert rest == sorted(rest, reverse=True)
    assert all(s >= 0.4 for s in rest)
    assert ("bo", "dee") in listed or ("ada", "dee") in listed
    assert not any("bo" in pair and "ada" in pair for pair in listed)
    first = document["pairs"][0]
    assert set(first) == {"submissions", "similarity", "shares", "shared_tokens", "fingerprint_share",
                          "identical", "fragments"}
    assert set(first["shares"]) == set(first["submissions"])
    assert {"ada", "ada_twin", "cy", "dee"} <= set(document["groups"][0])
    rows = list(csv.reader(io.StringIO(files["similarity.csv"].read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [tuple(row[:2]) for row in rows[1:]] == listed
    html = files["similarity.html"].read_text()
    assert html.count('<section class="pair"') == len(listed)


def test_the_numbers_do_not_depend_on_the_process_hash_seed(toy_dist, folder, tmp_path):
    """copydetect hashes with Python's salted ``hash``: with a window of 1 the same files give the
    same numbers in every process."""
    (folder / "ada.ipynb").write_text(toy_notebook(ADA))
    (folder / "cy.ipynb").write_text(toy_notebook(ADA_DISGUISED))
    (folder / "bo.ipynb").write_text(toy_notebook(BO))
    documents = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        done = subprocess.run([sys.executable, "-m", "autograder.cli", "similarity", TOY, str(folder), "--out",
                               str(out), "--dist", str(toy_dist), "--threshold", "0.05"],
                              capture_output=True, text=True, timeout=300, cwd=ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        document = json.loads((out / "similarity.json").read_text())
        documents.append([(p["submissions"], p["similarity"], p["shared_tokens"]) for p in document["pairs"]])
    assert documents[0] == documents[1]
    assert len(documents[0]) >= 1


def test_the_command_writes_the_files_and_says_what_is_missing(toy_dist, folder, tmp_path):
    (folder / "ada.ipynb").write_text(toy_notebook(ADA))
    (folder / "cy.ipynb").write_text(toy_notebook(ADA_DISGUISED))
    (folder / "corrupt.ipynb").write_text("{")
    out = tmp_path / "graded"
    result = CliRunner().invoke(main, ["similarity", TOY, str(folder), "--out", str(out), "--dist", str(toy_dist)])
    assert result.exit_code == 0, result.output
    assert "2 submissions compared (1 skipped)" in result.output
    assert "1 pairs at or above 0.5" in result.output
    assert "skipped" in result.output
    assert "corrupt.ipynb" in result.output
    assert {p.name for p in out.iterdir()} >= {"similarity.html", "similarity.csv", "similarity.json"}
    missing = CliRunner().invoke(main, ["similarity", TOY, str(folder), "--out", str(out), "--dist",
                                        str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert f"run `autograder build {TOY}` first" in missing.output
    assert "no student version at" in missing.output
    with pytest.raises(SimilaritySetupError):
        find_similar_pairs(TOY, [folder], dist=tmp_path / "nowhere")


def test_the_help_states_the_default_threshold():
    result = CliRunner().invoke(main, ["similarity", "--help"])
    assert result.exit_code == 0
    assert f"[default: {DEFAULT_THRESHOLD:g}]" in " ".join(result.output.split())  # as the code's default
