"""The ``autograder`` command: ``build`` for instructors, ``grade`` for TAs, ``leaks`` for anyone."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from autograder import __version__
from autograder.grade.runners import DEFAULT_RUNNER, RUNNER_CHOICES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__)
def main() -> None:
    """Build and grade the neural-networks course assignments (Otter-based)."""


@main.command()
@click.argument("assignments", nargs=-1)
@click.option("--dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="Where to write dist/<assignment>/{student,autograder,solutions}.")
@click.option("--no-verify", is_flag=True,
              help="Skip grading the solutions with the built zip (faster, but nothing proves the zip works).")
@click.option("--secret", "secret_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The course secret that draws each submission's hidden inputs (made on first use; "
                   "keep it for the whole term, never share it). Default: .course_secret beside "
                   "the assignments folder.")
def build(assignments: tuple[str, ...], dist: Path, no_verify: bool, secret_file: Path | None) -> None:
    """Build the student version, autograder zip and solutions of ASSIGNMENTS (default: all)."""
    from autograder.build import BuildError, build_assignment, list_assignments
    names = list(assignments) or list_assignments()
    for name in names:
        click.echo(f"building {name} …")
        try:
            result = build_assignment(name, dist, verify=not no_verify, secret_file=secret_file)
        except BuildError as error:
            raise click.ClickException(f"{name}: {error}") from error
        score = (f"; solutions score {result.solution_score[0]:g}/{result.solution_score[1]:g}"
                 if result.solution_score else "")
        click.echo(f"  student version: {result.student_dir}\n"
                   f"  autograder zip:  {result.autograder_zip}\n"
                   f"  solutions:       {result.solutions_notebook}\n"
                   f"  built in {result.seconds:.1f} s{score}")


@main.command()
@click.argument("assignment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for gradebook.csv, results/, feedback/ and report.html.")
@click.option("--dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="Where `autograder build` wrote the autograder zip.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once (default: one per core).")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds one submission may run (default: the assignment's grading.toml).")
@click.option("--force", is_flag=True,
              help="Grade every submission again, even those already graded into --out.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Grade on this machine, or on the workers of a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS",
              help="The Dask scheduler's address (tcp://host:8786), with --executor dask.")
@click.option("--runner", type=click.Choice(RUNNER_CHOICES), default=DEFAULT_RUNNER, show_default=True,
              help="split: the student's kernel only answers probes and the judges run in a process its "
                   "code never touches. otter: Otter runs the hidden tests in the student's kernel (for "
                   "plain Otter tests only). auto: split when the tests are probes and judges.")
@click.option("--only", "only", multiple=True, metavar="QUESTION[,QUESTION…]",
              help="Grade only these questions' checks again (after a judge was corrected and the assignment "
                   "rebuilt), for every submission already graded into --out, keeping every other question's "
                   "results; a submission without an earlier result is graded in full. With --force, also "
                   "those whose record says these questions were graded by this autograder zip already.")
def grade(assignment: str, paths: tuple[Path, ...], out_dir: Path, dist: Path, jobs: int | None,
          timeout: float | None, force: bool, executor: str, scheduler: str | None, runner: str,
          only: tuple[str, ...]) -> None:
    """Grade the notebooks and Otter zips found in PATHS for ASSIGNMENT.

    Interrupted? Run the same command again: results already in --out for unchanged files
    are kept, and only the rest is graded (with --only too: only what is not merged yet).
    """
    from tqdm import tqdm

    from autograder.batch import BatchInterrupted, GradingSetupError, OutputWriteError, grade_submissions
    from autograder.batch.executors import ExecutorSetupError
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # as Ctrl-C: stop the grading children, keep the journal
    with tqdm(total=None, unit="submission", file=sys.stderr, dynamic_ncols=True) as bar:
        statuses: dict[str, int] = {}

        def start(total: int) -> None:
            bar.total = total
            bar.refresh()

        def advance(result) -> None:
            statuses[result.status] = statuses.get(result.status, 0) + 1
            bar.set_postfix(statuses)
            bar.update()

        try:
            run = grade_submissions(assignment, list(paths), out_dir, dist=dist, jobs=jobs,
                                    timeout=timeout, force=force, executor=executor,
                                    scheduler=scheduler, runner=runner, on_result=advance,
                                    on_start=start, only=only)
        except (GradingSetupError, ExecutorSetupError, OutputWriteError) as error:
            raise click.ClickException(str(error)) from error
        except BatchInterrupted as error:
            bar.close()
            click.echo(str(error), err=True)
            raise SystemExit(130) from None
    counts = ", ".join(f"{n} {status}" for status, n in sorted(run.counts().items()))
    resumed = f", {run.resumed} kept from an earlier run" if run.resumed else ""
    if run.only:  # the kept ones: their record says these questions were graded by this zip already
        full = run.graded - run.regraded
        resumed += (f"; --only {','.join(run.only)}: {run.regraded} regraded with their other questions kept, "
                    f"{full} graded in full (no earlier graded result to keep)")
    click.echo(f"{len(run.results)} submissions ({counts}{resumed}) in {time.monotonic() - started:.0f} s; "
               f"gradebook: {out_dir / 'gradebook.csv'}; report: {out_dir / 'report.html'}")
    if run.earlier_zip_questions and not run.only:
        older = sorted({question for names in run.earlier_zip_questions.values() for question in names})
        click.echo(f"note: {len(run.earlier_zip_questions)} result(s) kept from an earlier run hold "
                   f"{', '.join(older)} as an earlier autograder zip judged them (an --only run regraded "
                   "the other questions with this one); --force grades them again in full", err=True)
    weaker = sorted({r.sandbox for r in run.results if r.sandbox and r.sandbox != "view"})
    if weaker:
        click.echo(f"note: student code ran without a private view here (isolation: {', '.join(weaker)}); "
                   "each result lists what held it under `protections`, and the README's 'Isolation by "
                   "platform' says what to change", err=True)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a line per notebook and its evidence indented below; json: one document for scripts.")
@click.option("--final-model", "final_models", multiple=True, metavar="NAME",
              help="A model the notebook may score once on the test set besides the others (the final "
                   "model of another question, like `mlp` and `cnn`); repeat for several.")
def leaks(paths: tuple[Path, ...], output_format: str, final_models: tuple[str, ...]) -> None:
    """Find test-set leaks (SPEC §5, L1-L5) in any notebooks, without running them.

    One line per notebook: `PATH: clean` or `PATH: leak L1,L5`, then the evidence (rule,
    cell, line, code, why), and code reached through reflection, for a person to read.
    Folders are searched for .ipynb files. Exit status 0 whatever is found, 2 when a file
    could not be read.
    """
    import json

    from autograder.checks.leakage.notebooks import analyse_notebook_file, notebook_paths
    verdicts = [analyse_notebook_file(path, final_models) for path in notebook_paths(list(paths))]
    if output_format == "json":
        click.echo(json.dumps([verdict.to_dict() for verdict in verdicts], indent=2))
    else:
        for verdict in verdicts:
            click.echo(verdict.headline())
            for line in verdict.evidence():
                click.echo(f"    {line}")
    if not verdicts or any(verdict.error for verdict in verdicts):
        if not verdicts:
            click.echo("no notebook found in the paths given", err=True)
        raise SystemExit(2)


@main.command()
@click.argument("assignment")
@click.argument("out_dir", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option("--roster", "roster", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="canvas: the gradebook export; gradescope: the roster download; csv: columns `student` and `file`.")
@click.option("--format", "export_format", required=True, type=click.Choice(["canvas", "gradescope", "csv"]),
              help="The LMS: how files are matched to students and which import file is written.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The import file to write; what is unmatched goes to <out>.unmatched.csv beside it.")
@click.option("--metadata", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="gradescope: the export's submission_metadata.yml (default: the one beside the graded folders).")
@click.option("--column", default=None, metavar="TITLE",
              help="The score column's title (canvas default: the roster's column titled like ASSIGNMENT; "
                   "gradescope: Total Score; csv: ASSIGNMENT).")
def export(assignment: str, out_dir: Path, roster: Path, export_format: str, out: Path,
           metadata: Path | None, column: str | None) -> None:
    """Write DIR's scores (an `autograder grade` folder) in an LMS's import format (SPEC §8).

    Files are matched to students by Canvas' download names, Gradescope's
    submission_metadata.yml, or the roster's `file` column. Files without a student and students
    without a submission are printed and listed in <out>.unmatched.csv. A malformed roster stops
    the command with its file and line, and nothing is written.
    """
    from autograder.course.export import export_scores
    from autograder.course.roster import ExportError, ExportFormat
    try:
        report = export_scores(assignment, out_dir, roster, ExportFormat(export_format), out,
                               metadata=metadata, column=column)
    except ExportError as error:
        raise click.ClickException(str(error)) from error
    for line in report.lines():
        click.echo(f"  {line}")
    click.echo(report.summary())


@main.command()
@click.argument("assignment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for similarity.html, similarity.csv and similarity.json (the grading folder).")
@click.option("--dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="Where `autograder build` wrote the student version, whose starter code is not counted.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="List pairs where at least this share of one submission's own code is in the other's "
                   "[default: 0.5]. Identical files are listed whatever it is.")
def similarity(assignment: str, paths: tuple[Path, ...], out_dir: Path, dist: Path, threshold: float | None) -> None:
    """Pairs of submissions in PATHS whose own code is unusually similar (SPEC §8).

    Compares every pair of the notebooks and Otter zips found in PATHS, the student version's
    starter code removed, and writes the pairs at or above the threshold, most similar first,
    with the shared fragments side by side, to DIR/similarity.html (and .csv, .json). Files
    that cannot be read are listed as skipped with the reason. Similar is not copied: read the
    fragments.
    """
    from autograder.course.similarity import (
        DEFAULT_THRESHOLD,
        SimilaritySetupError,
        find_similar_pairs,
        write_similarity,
    )
    try:
        run = find_similar_pairs(assignment, list(paths), dist=dist,
                                 threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    except SimilaritySetupError as error:
        raise click.ClickException(str(error)) from error
    try:
        files = write_similarity(run, out_dir)
    except OSError as error:
        raise click.ClickException(f"could not write to {out_dir} ({error}); free space or choose another "
                                   "--out, then run again") from error
    for skipped in run.skipped:
        click.echo(f"skipped {skipped.path}: {skipped.reason}", err=True)
    identical = sum(1 for pair in run.pairs if pair.identical)
    click.echo(f"{len(run.compared)} submissions compared ({len(run.skipped)} skipped) in {run.seconds:.0f} s; "
               f"{len(run.pairs)} pairs at or above {run.threshold:g} or identical ({identical} identical); "
               f"report: {files['similarity.html']}")


@main.command()
@click.argument("assignment")
@click.argument("out_dir", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option("--names", is_flag=True,
              help="Label each answer with its submission's name instead of an anonymous id.")
@click.option("--dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="Where `autograder build` wrote the student version, which says where each answer is.")
def manual(assignment: str, out_dir: Path, names: bool, dist: Path) -> None:
    """Gather the answers to ASSIGNMENT's manual questions in DIR for a TA to score (SPEC §8).

    DIR is the folder `autograder grade … --out DIR` wrote. Writes DIR/manual/<question>.html
    (every submission's answer and the figures near it, labelled by an anonymous id unless
    --names) and adds a row with empty points to DIR/manual_scores.csv for each submission and
    question it lacks, never changing a row already there. Fill in `points` and `comment`, then
    run `autograder grade` on DIR again.
    """
    from autograder.course.manual import ManualSetupError, write_manual_pages
    try:
        run = write_manual_pages(assignment, out_dir, dist=dist, names=names)
    except ManualSetupError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"could not write to {out_dir} ({error.strerror or error}); free space "
                                   "there, then run again") from error
    for question in run.pages:
        click.echo(f"  {run.summary(question)}")
    click.echo(f"{run.scores_file}: {run.appended} row{'' if run.appended == 1 else 's'} added "
               "(points empty); fill in points and comment, then run `autograder grade` on the folder again")


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
