"""``autograder similarity``: pairs of submissions whose own code is unusually similar (SPEC §8).

Course staff run it after ``autograder grade`` on the same files. For each pair of submissions it
measures how much of each one's *own* code (the student version's starter code removed) the other
one also has, and lists the pairs at or above a threshold, with the shared fragments side by side,
for a person to read. It is evidence to look at, never a verdict: short answers the question
dictates (a set of four names, a lesson's CNN) are alike in every class.

How a pair is measured, and why:

* The code is every code cell of the notebook, in order (IPython's ``%magic`` and ``!shell``
  lines blanked). Fingerprints are copydetect's (``CodeFingerprint``, ``compare_files``): the
  code is tokenized (Pygments), each name becomes ``V``, each function name ``F``, each string
  ``S``, comments and white space go; every run of ``NOISE`` characters of that is hashed, and
  winnowing keeps fingerprints (MOSS's algorithm). Renaming variables, reordering functions and
  rewriting comments therefore change nothing that is compared.
* The built student notebook (``dist/<assignment>/student/<assignment>.ipynb``) is boilerplate:
  every fingerprint of its code is dropped from each submission (copydetect's ``boilerplate``),
  and every line the starter has too (comments and spacing aside) is left out of the code
  fingerprinted, so that the runs of tokens straddling a starter line and the student's next
  line (which independent students share as often as not) count neither. Two students who only
  ran the starter code share nothing, and a student's share is of their own code only.
* A pair's ``similarity`` is the larger of the two shares (copydetect's: the share of a
  submission's remaining tokens that lie in fragments the other submission has too): a student
  who copied three answers and wrote nothing else is 100 % alike, whatever the other wrote
  besides. A pair is listed when it is identical (the same notebook bytes, or the same code once
  comments, blank lines and spacing are normalised, some of it their own), or when all of:
  the similarity reaches the threshold (``DEFAULT_THRESHOLD``, or ``--threshold``); at least
  ``MIN_SHARED_TOKENS`` tokens are shared (a couple of lines alike are no evidence); and the
  larger share of fingerprints in common reaches ``FINGERPRINT_SHARE`` of the threshold.
  copydetect's similarity counts each shared run of ``NOISE`` tokens as ``NOISE`` tokens, so
  twenty idioms every solution has (``for V in V:``…) add up to as much as one copied
  function; in fingerprints they stay twenty, and copied code is as much in fingerprints as in
  tokens (measured: 0.69–1.0 for disguised copies, at most 0.06 for independent solutions).
  Pairs are sorted by similarity, identical ones first.
* Scale: ``compare_files`` costs 0.5–1 ms a pair, one to two minutes for the 125,000 pairs of
  500 submissions. The fingerprint criterion is computed for every pair at once instead (one
  sparse matrix product: occurrences per submission and hash, times has-the-hash transposed)
  and ``compare_files`` is called only for the pairs that meet it. ``exhaustive=True`` calls it
  for every pair and computes the criterion pair by pair (the tests check both list the same).
* ``WINDOW`` is 1: every k-gram is a fingerprint. copydetect hashes with Python's ``hash``,
  whose seed changes with each process, and a wider window would choose different fingerprints
  on every run; with 1, the same files give the same numbers every time. All fingerprints of a
  run are made in one process (hashes from two processes cannot be compared).

It writes ``similarity.html`` (the pairs, their fragments side by side, the files skipped and
why), ``similarity.csv`` (a row per pair listed) and ``similarity.json`` (the same, for the
grading report to list the pairs among the submissions that need a human; its shape is
``SimilarityRun.to_dict``'s).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import tokenize
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import nbformat
import nbformat.reader
import numpy as np
from copydetect import CodeFingerprint, compare_files
from scipy import sparse

from autograder.grade.intake import collect_submissions, read_submitted_notebook
from autograder.report import write_atomically
from autograder.report.html import TEMPLATES

DEFAULT_THRESHOLD = 0.5  # measured (benchmarks/similarity.py): disguised copies 0.94–1.0, independent solutions ≤ 0.16
MIN_SHARED_TOKENS = 80   # tokens of the filtered code (about three lines) a listed pair must share at least
NOISE = 25               # k: shorter common runs of filtered code are noise (copydetect's default)
WINDOW = 1               # winnowing window: every k-gram a fingerprint (deterministic, see above)
FINGERPRINT_SHARE = 0.5  # a listed pair's fingerprints in common reach this share of the threshold (see above)
TOUCHED = 3              # tokens of a line a fragment must cover for the line to be shown in it (or all)
MAX_SHOWN = 100          # pairs shown with their fragments in similarity.html; the CSV and JSON list all
SAME_BYTES = "same bytes"
SAME_CODE = "same code"
OUTPUT_FILES = ("similarity.html", "similarity.csv", "similarity.json")
CSV_COLUMNS = ("submission_a", "submission_b", "similarity", "share_a", "share_b", "shared_tokens",
               "fingerprint_share", "identical")


class SimilaritySetupError(RuntimeError):
    """The comparison cannot start: the student version is not built where --dist says."""


@dataclass(frozen=True)
class Line:
    """One line of a submission's code, where a person finds it in the notebook."""
    cell: int    # the cell's position in the notebook, from 1 at the top, text cells counted
    number: int  # the line's number in that cell, from 1
    text: str
    starter: bool = False  # the starter code has this line too (shown, never counted)


@dataclass(frozen=True)
class Fragment:
    """Code both submissions have: the lines of the first and the matching lines of the second."""
    first: tuple[Line, ...]
    second: tuple[Line, ...]


@dataclass(frozen=True)
class SimilarPair:
    """Two submissions whose own code is alike (names in sorted order)."""
    first: str
    second: str
    similarity: float    # the larger of the two shares: what ranks the pair
    first_share: float   # the share of first's own code (tokens) that second has too
    second_share: float
    shared_tokens: int   # tokens of first's filtered code in shared fragments
    fingerprint_share: float  # the larger share of a side's fingerprints (occurrences) the other side has
    identical: str | None = None  # SAME_BYTES, SAME_CODE, or None
    fragments: tuple[Fragment, ...] = ()  # filled for the MAX_SHOWN first pairs

    def to_dict(self) -> dict[str, Any]:
        return {"submissions": [self.first, self.second], "similarity": round(self.similarity, 4),
                "shares": {self.first: round(self.first_share, 4), self.second: round(self.second_share, 4)},
                "shared_tokens": self.shared_tokens, "fingerprint_share": round(self.fingerprint_share, 4),
                "identical": self.identical,
                "fragments": [{self.first: _where(f.first), self.second: _where(f.second)}
                              for f in self.fragments]}


@dataclass(frozen=True)
class Skipped:
    """A file given that was not compared, and what to do about it."""
    submission: str
    path: Path
    reason: str


@dataclass
class SimilarityRun:
    """What one ``autograder similarity`` found."""
    assignment: str
    threshold: float
    compared: list[str]
    pairs: list[SimilarPair]
    skipped: list[Skipped] = field(default_factory=list)
    comparisons: int = 0   # pairs compared exactly (the others shared too few fingerprints)
    seconds: float = 0.0
    shown: int = MAX_SHOWN  # the first pairs, which carry their fragments
    min_shared: int = MIN_SHARED_TOKENS

    def groups(self) -> list[list[str]]:
        """Submissions linked by listed pairs, directly or through others (two or more each):
        one leaked notebook copied by five students is one group, not ten pairs to read."""
        parent = {name: name for pair in self.pairs for name in (pair.first, pair.second)}

        def root(name: str) -> str:
            while parent[name] != name:
                parent[name] = parent[parent[name]]
                name = parent[name]
            return name
        for pair in self.pairs:
            parent[root(pair.first)] = root(pair.second)
        members: dict[str, list[str]] = {}
        for name in parent:
            members.setdefault(root(name), []).append(name)
        return sorted((sorted(group) for group in members.values()), key=lambda g: (-len(g), g))

    def to_dict(self) -> dict[str, Any]:
        """similarity.json. ``pairs`` in rank order; every name is a submission name as the
        gradebook spells it (intake's: the file's path below the folder given, no suffix)."""
        return {"assignment": self.assignment, "threshold": self.threshold,
                "min_shared_tokens": self.min_shared,
                "min_fingerprint_share": round(FINGERPRINT_SHARE * self.threshold, 4),
                "fingerprints": {"library": f"copydetect {_version('copydetect')}", "noise": NOISE,
                                 "window": WINDOW},
                "compared": sorted(self.compared), "comparisons": self.comparisons,
                "seconds": round(self.seconds, 2),
                "pairs": [pair.to_dict() for pair in self.pairs],
                "groups": self.groups(),
                "skipped": [{"submission": s.submission, "path": str(s.path), "reason": s.reason}
                            for s in self.skipped]}


@dataclass
class _Code:
    """One submission's code as compared: the cells joined, and where each line came from."""
    name: str
    digest: str                       # of the notebook's bytes (an export's notebook, not its zip)
    text: str                         # the code cells joined, as written (what a person reads)
    lines: list[tuple[int, int]]      # per line of text: (cell position from 1, line in the cell from 1)
    compared: str                     # the lines fingerprinted: text's, without the starter's or blank ones
    kept: list[int]                   # per line of compared: its line in text
    own: tuple[str, ...]              # normalised cells that are not the starter's
    sources: tuple[str, ...] = ()     # the code cells as written
    fingerprint: Any = None           # copydetect's CodeFingerprint, once made
    occurrences: int = 0              # of its fingerprints (a hash found twice counts twice)

    def line_of(self, offset: int) -> int:
        """The line of compared an offset in it is on."""
        return self.compared.count("\n", 0, offset)


@dataclass(frozen=True)
class _Starter:
    """The student version's code, as the submissions are read against it."""
    sources: frozenset[str]  # each code cell as written
    cells: frozenset[str]    # each code cell, normalised
    lines: frozenset[str]    # each line's _line_key


def starter_notebook(assignment: str, dist: Path) -> Path:
    """The built student version, whose code is every student's starting point."""
    path = Path(dist) / assignment / "student" / f"{assignment}.ipynb"
    if not path.is_file():
        raise SimilaritySetupError(
            f"no student version at {path}: run `autograder build {assignment}` first (or give --dist, "
            "the folder `autograder build` wrote to), so its starter code is not counted as the students'")
    return path


def find_similar_pairs(assignment: str, paths: Sequence[Path], *, dist: Path = Path("dist"),
                       threshold: float = DEFAULT_THRESHOLD, min_shared: int = MIN_SHARED_TOKENS,
                       exhaustive: bool = False, shown: int = MAX_SHOWN) -> SimilarityRun:
    """Every pair of the submissions found in ``paths`` that is alike enough to read, ranked.

    Files intake refuses (corrupt, empty, another assignment's, a hostile zip) and notebooks
    that cannot be read are skipped with the reason, not compared; they never stop the run.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    started = time.perf_counter()
    starter_code = _read_code("starter", starter_notebook(assignment, dist).read_bytes(), None)
    starter = _Starter(sources=frozenset(starter_code.sources), cells=frozenset(starter_code.own),
                       lines=frozenset(map(_line_key, starter_code.text.splitlines())) - {""})
    boilerplate = np.array(sorted(_fingerprint(starter_code, None).hashes), dtype=np.int64)
    codes: list[_Code] = []
    skipped: list[Skipped] = []
    for submission in collect_submissions(list(paths), assignment):
        if not submission.valid:
            skipped.append(Skipped(submission.name, submission.path, str(submission.problem)))
            continue
        try:
            code = _read_code(submission.name, read_submitted_notebook(submission.path), starter)
        except (OSError, ValueError, KeyError, IndexError, AttributeError, zipfile.BadZipFile,
                nbformat.ValidationError) as error:  # changed since intake read it, or unreadable after all
            skipped.append(Skipped(submission.name, submission.path,
                                   f"{submission.path.name} could not be read ({type(error).__name__}: "
                                   f"{error}); check the file is in place and readable, then run again"))
            continue
        code.fingerprint = _fingerprint(code, boilerplate)
        code.occurrences = sum(len(places) for places in code.fingerprint.hash_idx.values())
        codes.append(code)
    pairs, comparisons = _listed_pairs(codes, threshold, min_shared, exhaustive)
    by_name = {code.name: code for code in codes}
    pairs = [replace(pair, fragments=_fragments(by_name[pair.first], by_name[pair.second], starter))
             if rank < shown else pair for rank, pair in enumerate(pairs)]
    return SimilarityRun(assignment=assignment, threshold=threshold, compared=[c.name for c in codes],
                         pairs=pairs, skipped=skipped, comparisons=comparisons, shown=shown,
                         min_shared=min_shared, seconds=time.perf_counter() - started)


def _read_code(name: str, data: bytes, starter: _Starter | None) -> _Code:
    """A notebook's code cells joined, and the lines of it that are fingerprinted: not those the
    starter code has too. copydetect's boilerplate drops the runs of tokens inside the starter
    code, but not the runs that straddle a starter line and the student's next one (the end of
    any function body and the starter's `tiny_layers = …` below it), which two independent
    students share as often as not. (A marker token in a starter line's place was tried: runs of
    markers, and runs across them, made the starter-only notebooks alike and cut the copies'
    scores, 0.94 → 0.80.) Blank lines go too: Pygments' time is per token, and a blank line is
    one (a third less time per notebook); the filtered code is the same without them. A line
    with an odd number of triple quotes stays, whatever it is: it opens or closes a string."""
    notebook = nbformat.reader.reads(data.decode("utf-8"))  # intake validated it: not again
    if notebook.nbformat != 4:
        notebook = nbformat.convert(notebook, 4)
    parts: list[str] = []
    compared: list[str] = []
    kept: list[int] = []
    lines: list[tuple[int, int]] = []
    own: list[str] = []
    sources: list[str] = []
    for position, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in cell.source.splitlines())
        parts.append(source + "\n\n")
        sources.append(source)
        for number, line in enumerate(source.split("\n"), start=1):
            if line.strip() and (starter is None or _line_key(line) not in starter.lines
                                 or line.count('"""') % 2 or line.count("'''") % 2):
                compared.append(line)
                kept.append(len(lines))
            lines.append((position, number))
        lines.append((position, 0))  # the blank line between two cells
        if starter is None or source not in starter.sources:
            normalised = _normalised(source)
            if normalised and (starter is None or normalised not in starter.cells):
                own.append(normalised)
    return _Code(name=name, digest=hashlib.sha256(data).hexdigest(), text="".join(parts), lines=lines,
                 compared="\n".join(compared), kept=kept, own=tuple(own), sources=tuple(sources))


def _line_key(line: str) -> str:
    """A line as it is matched against the starter's: without its comment (a student who deletes
    the starter's `# compare it with your trace` has not written that line) and with its spacing
    collapsed. The comment is cut at a `#` with an even number of quotes before it (not inside a
    string, on one line)."""
    for n, char in enumerate(line):
        if char == "#" and line.count('"', 0, n) % 2 == 0 and line.count("'", 0, n) % 2 == 0:
            line = line[:n]
            break
    return " ".join(line.split())


def _normalised(source: str) -> str:
    """A cell's code without comments, blank lines or spacing: the tokens, with the statement
    and block boundaries kept (a line moved out of a loop is other code)."""
    kept = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER):
                continue
            kept.append({tokenize.NEWLINE: ";", tokenize.INDENT: "{", tokenize.DEDENT: "}"}.get(token.type,
                                                                                               token.string))
    except (tokenize.TokenError, SyntaxError):  # not Python (an unfinished cell): its lines, stripped
        return "\n".join(line.strip() for line in source.splitlines() if line.strip()
                         and not line.strip().startswith("#"))
    return " ".join(kept)


def _fingerprint(code: _Code, boilerplate: np.ndarray | None) -> CodeFingerprint:
    return CodeFingerprint(f"{code.name}.py", NOISE, WINDOW, boilerplate=boilerplate, language="python",
                           fp=io.StringIO(code.compared))


def _listed_pairs(codes: list[_Code], threshold: float, min_shared: int,
                  exhaustive: bool) -> tuple[list[SimilarPair], int]:
    identical: dict[tuple[int, int], str] = {}
    for key, kind in ((lambda c: c.digest, SAME_BYTES), (lambda c: c.own, SAME_CODE)):
        groups: dict[Any, list[int]] = {}
        for index, code in enumerate(codes):
            if kind == SAME_BYTES or code.own:
                groups.setdefault(key(code), []).append(index)
        for members in groups.values():
            for a, i in enumerate(members):
                for j in members[a + 1:]:
                    identical.setdefault((i, j), kind)
    candidates = set(identical)
    if exhaustive:
        candidates |= {(i, j) for i in range(len(codes)) for j in range(i + 1, len(codes))}
    else:  # the pairs that can meet the fingerprint criterion (the float sums' rounding aside)
        candidates |= _candidates(codes, FINGERPRINT_SHARE * threshold - 1e-9)
    pairs = []
    for i, j in sorted(candidates):
        pair = _compare(codes[i], codes[j], identical.get((i, j)))
        if pair.identical or (pair.similarity >= threshold and pair.shared_tokens >= min_shared
                              and pair.fingerprint_share >= FINGERPRINT_SHARE * threshold):
            pairs.append(pair)
    pairs.sort(key=lambda p: (p.identical is None, p.identical != SAME_BYTES, -p.similarity, p.first, p.second))
    return pairs, len(candidates)


def _candidates(codes: list[_Code], floor: float) -> set[tuple[int, int]]:
    """Pairs (i < j) where, for one side, the fingerprint occurrences of hashes the other side has
    too make at least ``floor`` of all its occurrences: one sparse product, W (occurrences per
    submission and hash) times B (has the hash, 0 or 1) transposed, over the hashes two or more
    submissions have."""
    if len(codes) < 2:
        return set()
    keys, counts, rows = [], [], []
    for row, code in enumerate(codes):
        index = code.fingerprint.hash_idx
        keys.append(np.fromiter(index.keys(), dtype=np.int64, count=len(index)))
        counts.append(np.fromiter((len(v) for v in index.values()), dtype=np.int64, count=len(index)))
        rows.append(np.full(len(index), row, dtype=np.int64))
    all_keys, all_counts, all_rows = np.concatenate(keys), np.concatenate(counts), np.concatenate(rows)
    totals = np.bincount(all_rows, weights=all_counts, minlength=len(codes))
    _, columns = np.unique(all_keys, return_inverse=True)
    common = np.bincount(columns)[columns] >= 2
    shape = (len(codes), int(columns.max()) + 1 if len(columns) else 0)
    occurrences = sparse.csr_matrix((all_counts[common].astype(np.float64), (all_rows[common], columns[common])),
                                    shape=shape)
    present = sparse.csr_matrix((np.ones(int(common.sum())), (all_rows[common], columns[common])), shape=shape)
    shared = (occurrences @ present.T).tocoo()  # [i, j]: occurrences in i of hashes j has
    share = shared.data / np.maximum(totals[shared.row], 1)
    keep = (share >= floor) & (shared.row != shared.col)
    return {(int(min(i, j)), int(max(i, j))) for i, j in zip(shared.row[keep], shared.col[keep])}


def _compare(a: _Code, b: _Code, identical: str | None) -> SimilarPair:
    first, second = (a, b) if a.name <= b.name else (b, a)
    overlap, (share_first, share_second), _ = compare_files(first.fingerprint, second.fingerprint)
    share_first, share_second = float(share_first), float(share_second)
    return SimilarPair(first=first.name, second=second.name, similarity=max(share_first, share_second),
                       first_share=share_first, second_share=share_second, shared_tokens=int(overlap),
                       fingerprint_share=_fingerprint_share(first, second), identical=identical)


def _fingerprint_share(a: _Code, b: _Code) -> float:
    """The larger of: the share of a's fingerprint occurrences whose hash b has, and b's of a's
    (what ``_candidates`` computes for all pairs at once)."""
    shared = a.fingerprint.hashes & b.fingerprint.hashes
    in_a = sum(len(a.fingerprint.hash_idx[value]) for value in shared)
    in_b = sum(len(b.fingerprint.hash_idx[value]) for value in shared)
    return max(in_a / max(a.occurrences, 1), in_b / max(b.occurrences, 1))


def _fragments(a: _Code, b: _Code, starter: _Starter) -> tuple[Fragment, ...]:
    """The shared fragments, each of a's beside the same code in b, in a's order.

    copydetect's slices (``compare_files``) say where each side's shared code is, not which part
    of one matches which of the other, and merge whatever lies within ``NOISE`` tokens: two
    short functions in swapped order are one slice on each side. So fragments are made from the
    shared fingerprints themselves, as a diff aligns lines: a run is a series of positions in a
    whose matches in b follow at the same distances; runs that continue one another on both
    sides (a gap of less than twice ``NOISE`` tokens each) and stay in one cell on each side are
    one fragment. A function that moved is its own fragment, beside the place it moved to."""
    fa, fb = a.fingerprint, b.fingerprint
    k = fa.k
    matches = sorted((p, fb.hash_idx[value]) for value in fa.hashes & fb.hashes for p in fa.hash_idx[value])
    if not matches:
        return ()
    # a run of NOISE tokens is in the cell its middle is in: its ends may lie in the cells around
    cell_a = dict(zip((p for p, _ in matches), _cells(a, [p + k // 2 for p, _ in matches]).tolist()))
    places_b = sorted({q for _, places in matches for q in places})
    cell_b = dict(zip(places_b, _cells(b, [q + k // 2 for q in places_b]).tolist()))
    runs: list[list[int]] = []  # [first p, last p, first q, last q]
    for p, places in matches:
        if runs and 0 < p - runs[-1][1] < k and cell_a[p] == cell_a[runs[-1][1]]:
            last = runs[-1]
            q = last[3] + (p - last[1])
            if q in places and cell_b[q] == cell_b[last[3]]:
                last[1], last[3] = p, q
                continue
        q = min(places, key=lambda q: abs(q - runs[-1][3] - (p - runs[-1][1]))) if runs else places[0]
        runs.append([p, p, q, q])
    merged: list[list[int]] = []
    for run in runs:  # one fragment per cell on each side: a question is read in its cell
        if merged and run[0] - merged[-1][1] < k + k and 0 < run[2] - merged[-1][3] < k + k \
                and cell_a[run[0]] == cell_a[merged[-1][1]] and cell_b[run[2]] == cell_b[merged[-1][3]]:
            merged[-1][1], merged[-1][3] = run[1], run[3]
        else:
            merged.append(run)
    fragments = (Fragment(first=_lines(a, *_in_text(fa, first_p, last_p + k - 1), cell_a[first_p], starter),
                          second=_lines(b, *_in_text(fb, first_q, last_q + k - 1), cell_b[first_q], starter))
                 for first_p, last_p, first_q, last_q in merged)
    return tuple(fragment for fragment in fragments if fragment.first and fragment.second)


def _cells(code: _Code, positions: Sequence[int]) -> np.ndarray:
    """The cell (position from 1) each position of the filtered code is in."""
    places = np.clip(np.asarray(positions, dtype=np.int64), 0, max(len(code.fingerprint.filtered_code) - 1, 0))
    offsets = code.fingerprint.offsets
    if len(offsets):
        places = places + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], places), 0, offsets.shape[0] - 1)]
    newlines = np.flatnonzero(np.frombuffer(code.compared.encode("utf-32-le"), dtype=np.uint32) == ord("\n"))
    lines = np.searchsorted(newlines, places, side="left")  # the line of compared each is on
    cells = np.array([code.lines[line][0] for line in code.kept], dtype=np.int64)
    return cells[np.clip(lines, 0, len(cells) - 1)]


def _in_text(fingerprint: CodeFingerprint, first: int, last: int) -> tuple[int, int]:
    """The first and last characters of a part of the filtered code, moved into the text
    fingerprinted as compare_files moves its slices (copydetect keeps how many characters
    filtering removed before each position): (start, end) there, end exclusive. The last
    character, not the end: the end would move past the comments and blank lines after it."""
    offsets = fingerprint.offsets
    if len(offsets) == 0:
        return first, last + 1
    moved = np.array([first, last]) + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], [first, last]), 0,
                                                            offsets.shape[0] - 1)]
    return int(moved[0]), int(moved[1]) + 1


def _lines(code: _Code, start: int, end: int, cell: int, starter: _Starter) -> tuple[Line, ...]:
    """The lines of ``cell`` a part of the text fingerprinted covers, as a person reads them. A
    run of ``NOISE`` tokens starts and ends anywhere: a line it only touches (its last token or
    its first: ``_touched``) is left out, and so are the lines of other cells, the starter's
    lines, blank lines and comments at either end (none of them is compared)."""
    text = code.compared
    end = min(end, len(text))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    first, last = code.line_of(start), code.line_of(max(start, end - 1))
    line_start, line_end = text.rfind("\n", 0, start) + 1, text.find("\n", start)
    if last > first and _touched(text[start:line_end], text[line_start:line_end]):
        first += 1
    line_start, line_end = text.rfind("\n", 0, end) + 1, text.find("\n", end)
    if last > first and _touched(text[line_start:end], text[line_start:line_end if line_end >= 0 else None]):
        last -= 1
    first, last = code.kept[first], code.kept[last]  # lines of text from here on
    texts = code.text.split("\n")
    lines = [Line(cell=code.lines[n][0], number=code.lines[n][1], text=texts[n],
                  starter=_line_key(texts[n]) in starter.lines)
             for n in range(first, last + 1) if code.lines[n][1] and code.lines[n][0] == cell]
    own = [n for n, line in enumerate(lines)
           if line.text.strip() and not line.starter and not line.text.lstrip().startswith("#")]
    return tuple(lines[own[0]:own[-1] + 1]) if own else ()


def _touched(covered: str, line: str) -> bool:
    """Does a fragment cover only a token or two of this line, not all of it?"""
    count = lambda part: len(re.findall(r"\w+|[^\w\s]", part.split("#")[0]))
    return count(covered) < TOUCHED and count(covered) < count(line)


def _where(lines: Iterable[Line]) -> list[dict[str, int]]:
    """Lines as ranges per cell: [{"cell": 6, "first_line": 3, "last_line": 9}, …]."""
    ranges: list[dict[str, int]] = []
    for line in lines:
        if ranges and ranges[-1]["cell"] == line.cell and ranges[-1]["last_line"] + 1 >= line.number:
            ranges[-1]["last_line"] = line.number
        else:
            ranges.append({"cell": line.cell, "first_line": line.number, "last_line": line.number})
    return ranges


def describe_where(lines: Iterable[Line]) -> str:
    """'cell 6, lines 3–9; cell 8, line 2', for a person."""
    return "; ".join(f"cell {r['cell']}, " + (f"line {r['first_line']}" if r["first_line"] == r["last_line"]
                                               else f"lines {r['first_line']}–{r['last_line']}")
                     for r in _where(lines))


# Writing -----------------------------------------------------------------------------------------

def write_similarity(run: SimilarityRun, out_dir: Path) -> dict[str, Path]:
    """similarity.html, .csv and .json in ``out_dir`` (each written whole, then renamed)."""
    out_dir = Path(out_dir)
    files = {name: out_dir / name for name in OUTPUT_FILES}
    write_atomically(files["similarity.json"], json.dumps(run.to_dict(), indent=2, ensure_ascii=False))
    write_atomically(files["similarity.csv"], similarity_csv(run))
    write_atomically(files["similarity.html"], render_similarity(run))
    return files


def similarity_csv(run: SimilarityRun) -> str:
    """similarity.csv: a row per pair listed, in rank order, for a spreadsheet or a script."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for pair in run.pairs:
        writer.writerow([pair.first, pair.second, f"{pair.similarity:.4f}", f"{pair.first_share:.4f}",
                         f"{pair.second_share:.4f}", pair.shared_tokens, f"{pair.fingerprint_share:.4f}",
                         pair.identical or ""])
    return stream.getvalue()


def render_similarity(run: SimilarityRun) -> str:
    """similarity.html, Jinja's autoescape on: the code and the file names are the students'."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=jinja2.select_autoescape(["html", "j2"]))
    environment.filters["where"] = describe_where
    return environment.get_template("similarity.html.j2").render(
        run=run, groups=[g for g in run.groups() if len(g) > 2], shown=run.shown,
        min_shared=run.min_shared, min_fingerprints=FINGERPRINT_SHARE * run.threshold, noise=NOISE,
        library=f"copydetect {_version('copydetect')}")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"
