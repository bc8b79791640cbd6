"""Grading on the machines course staff have: a container without CAP_SYS_ADMIN (with and
without Docker's seccomp policy, with Python under a private folder as in Otter's
Gradescope image), and an ordinary user's account. Each grades real notebooks and checks
the score and the isolation recorded in the result (README: 'Isolation by platform')."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import platforms
import pytest
from helpers import ASSIGNMENT, DIAGNOSTICS, SAMPLES_DIR
from test_split_grading import ATTACKS, IPC_KEYS, honest_score

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="the platforms are reproduced as root")]

PARTIAL = SAMPLES_DIR / ASSIGNMENT / "partial.ipynb"
FULL_SCORE = 29.0
VIEW = "private view (mount and PID namespaces)"
NO_NETWORK = "no network (namespace with loopback only)"
# attacks whose defence differs by platform (IPC namespace or removal by owner; reply folders on
# tmpfs as root, plain folders of the TA's; the kernel-side refusal of audit hooks): graded on each
PLATFORM_ATTACKS = ("leaves_ipc_behind", "puts_traps_where_replies_go", "wraps_the_probes_from_an_audit_hook")


def journal(out: Path, name: str) -> dict:
    return json.loads((out / ".journal" / f"{name}.json").read_text())["result"]


@pytest.fixture(scope="module")
def course(built) -> Path:
    """The submissions and the autograder zip, where every user may read them."""
    folder = platforms.open_folder("course")
    (folder / "submissions").mkdir()
    shutil.copy(built.solutions_notebook, folder / "submissions" / "solutions.ipynb")
    shutil.copy(PARTIAL, folder / "submissions" / "partial.ipynb")
    import nbformat
    for name in PLATFORM_ATTACKS:
        attacked = nbformat.read(PARTIAL, as_version=4)
        attacked.cells.append(nbformat.v4.new_code_cell(ATTACKS[name]))
        nbformat.write(attacked, folder / "submissions" / f"{name}.ipynb")
    zip_dir = folder / "dist" / ASSIGNMENT / "autograder"
    zip_dir.mkdir(parents=True)
    shutil.copy(built.autograder_zip, zip_dir)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def assert_the_attacks_cost_nothing_more(out: Path) -> None:
    """Each platform-sensitive attack is graded, scores no more than the honest part, leaves
    no IPC object in the machine's namespace, and its hooks are found."""
    cell = len(nbformat_cells(PARTIAL)) + 1
    ipc, traps, audit = (journal(out, name) for name in PLATFORM_ATTACKS)
    assert (ipc["status"], ipc["score"]) == ("graded", honest_score()), ipc["message"]
    assert not [note for note in ipc["notes"] if note.startswith(f"Cell {cell} ")], ipc["notes"]
    assert traps["status"] == "graded", traps["message"]
    assert traps["score"] <= honest_score(), traps["message"]
    assert (audit["status"], audit["score"]) == ("graded", honest_score())
    assert audit["hooks"]
    keys = {int(line.split()[0]) for kind in ("msg", "shm")
            for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]}
    assert not keys & set(IPC_KEYS)


def nbformat_cells(path: Path) -> list:
    import nbformat
    return nbformat.read(path, as_version=4).cells


def grade_command(python: Path | str, course: Path, out: Path) -> list[str]:
    return [str(python), "-m", "autograder.cli", "grade", ASSIGNMENT, str(course / "submissions"),
            "--out", str(out), "--dist", str(course / "dist"), "-j", "2"]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          **kwargs)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """Debian's Python with this checkout's packages, outside /root: reachable by any user."""
    reason = platforms.standalone_python_available()
    if reason:
        pytest.skip(reason)
    folder = platforms.open_folder("env")
    python = platforms.standalone_python(folder)
    (folder / "course").chmod(0o700)  # the grader's own code and masters: root's alone
    yield python
    shutil.rmtree(folder, ignore_errors=True)


# root without CAP_SYS_ADMIN, user namespaces allowed (setpriv) -----------------------------

@pytest.fixture(scope="module")
def setpriv_graded(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("setpriv-out")
    run(platforms.setpriv_container(grade_command(sys.executable, course, out)))
    return out


def test_without_cap_sys_admin_grading_gets_full_marks_and_the_full_view(setpriv_graded):
    solutions, partial = journal(setpriv_graded, "solutions"), journal(setpriv_graded, "partial")
    assert (solutions["status"], solutions["score"]) == ("graded", FULL_SCORE), solutions["message"]
    assert (partial["status"], partial["score"]) == ("graded", honest_score())
    for result in (solutions, partial):
        assert result["sandbox"] == "view"
        assert result["network_isolated"]
        assert {VIEW, NO_NETWORK, "a user of its own", "pids cgroup", "IPC and UTS namespaces of its own",
                "seccomp filter"} <= set(result["protections"])
    assert_the_attacks_cost_nothing_more(setpriv_graded)


@pytest.mark.parametrize("assignment", [ASSIGNMENT, DIAGNOSTICS])
def test_the_gradescope_entry_point_without_cap_sys_admin(builds, assignment, tmp_path):
    """The solutions get every autograded point of the zip's manifest, in the private view."""
    from autograder.bundle import Bundle
    build = builds(assignment)
    root = gradescope_tree(build, tmp_path, build.solutions_notebook)
    run(platforms.setpriv_container([sys.executable, "-m", "autograder.gradescope", str(root)]),
        cwd=root / "source" / "files", env=_without_test_settings())
    results = json.loads((root / "results" / "results.json").read_text())
    possible = sum(points for _, _, points in Bundle.read(build.autograder_zip).hidden_checks())
    assert possible > 0
    assert results["score"] == possible, results["output"]
    assert results["extra_data"]["sandbox"] == "view"
    assert {VIEW, NO_NETWORK, "a user of its own"} <= set(results["extra_data"]["protections"])


def gradescope_tree(built, folder: Path, notebook: Path) -> Path:
    """Gradescope's folders: the unzipped zip in source/, the upload in submission/."""
    root = folder / "autograder"
    with zipfile.ZipFile(built.autograder_zip) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    shutil.copy(notebook, root / "submission" / f"{built.assignment}.ipynb")
    return root


def _without_test_settings() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "AUTOGRADER_DATASET")}


# Docker's default: no CAP_SYS_ADMIN, seccomp refuses namespaces ------------------------------

needs_seccomp = pytest.mark.skipif(not platforms.docker_default_supported(),
                                   reason="the seccomp filter is written for x86_64, as root")


@needs_seccomp
def test_the_docker_default_filter_refuses_namespaces_and_allows_the_rest():
    refused = subprocess.run(platforms.docker_default(["unshare", "--user", "--map-root-user", "true"]),
                             capture_output=True, text=True)
    allowed = subprocess.run(platforms.docker_default([sys.executable, "-c", "import subprocess; "
                                                       "subprocess.run(['true'], check=True)"]))
    assert refused.returncode != 0
    assert "Operation not permitted" in refused.stderr
    assert allowed.returncode == 0


@needs_seccomp
def test_docker_default_with_python_in_a_private_folder_fails_closed_saying_what_to_change(
        course, standalone, tmp_path):
    """As Otter's image keeps Python under /root (0700): the kernel's own user could not
    start Python, so nothing runs, and the message names the folder and the fix."""
    private = standalone.parent.parent.parent
    private.chmod(0o700)
    try:
        out = tmp_path / "out"
        run(platforms.docker_default(grade_command(standalone, course, out)))
    finally:
        private.chmod(0o755)
    for name in ("solutions", "partial"):
        result = journal(out, name)
        assert result["status"] == "error"
        assert f"`chmod o+x {private}`" in result["message"]
        assert "No student code was run" in result["message"]


@needs_seccomp
def test_docker_default_with_a_reachable_python_grades_as_a_user_of_its_own(course, standalone, tmp_path):
    out = tmp_path / "out"
    run(platforms.docker_default(grade_command(standalone, course, out)))
    solutions, partial = journal(out, "solutions"), journal(out, "partial")
    assert (solutions["status"], solutions["score"]) == ("graded", FULL_SCORE), solutions["message"]
    assert (partial["status"], partial["score"]) == ("graded", honest_score())
    for result in (solutions, partial):
        assert result["sandbox"] == "user"
        assert not result["network_isolated"]
        assert "a user of its own" in result["protections"]
        assert VIEW not in result["protections"]
        assert "seccomp filter" in result["protections"]
    assert_the_attacks_cost_nothing_more(out)


@needs_seccomp
def test_gradescope_under_docker_default_makes_python_reachable_and_grades(built, standalone, tmp_path):
    """Gradescope as it is: seccomp, no CAP_SYS_ADMIN, Python below a 0700 folder. The entry
    point opens the way (execute bit only) in its throwaway container, and grades."""
    private = standalone.parent.parent.parent
    private.chmod(0o700)
    try:
        root = gradescope_tree(built, tmp_path, built.solutions_notebook)
        run(platforms.docker_default([str(standalone), "-m", "autograder.gradescope", str(root)]),
            cwd=root / "source" / "files", env=_without_test_settings())
        mode = private.stat().st_mode & 0o777
    finally:
        private.chmod(0o755)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == FULL_SCORE, results["output"]
    assert results["extra_data"]["sandbox"] == "user"
    assert mode == 0o701  # passable, still not listable


def test_the_zips_setup_opens_the_way_to_python_for_other_users(built, tmp_path):
    """The lines the build adds to the zip's setup.sh, run on a 0700 folder holding an
    environment: another user can then pass through to it, and still not list it."""
    with zipfile.ZipFile(built.autograder_zip) as archive:
        setup = archive.read("setup.sh").decode()
    from autograder.build import SETUP_MARKER
    lines = setup[setup.index(SETUP_MARKER):]
    private = tmp_path / "root"
    env = private / "miniforge3" / "envs" / "otter-env"
    (env / "bin").mkdir(parents=True)
    private.chmod(0o700)
    subprocess.run(["bash", "-c", lines], env={**os.environ, "AUTOGRADER_ENV_PREFIX": str(env)}, check=True)
    stranger = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    assert subprocess.run([*stranger, "test", "-d", str(env / "bin")]).returncode == 0
    assert subprocess.run([*stranger, "ls", str(private)], capture_output=True).returncode != 0


# an ordinary user (a TA's account) ------------------------------------------------------------

@pytest.fixture(scope="module")
def ta_graded(course, standalone, tmp_path_factory):
    uid, gid = platforms.ordinary_user()
    out = platforms.open_folder("ta-out")
    os.chown(out, uid, gid)
    course_copy = standalone.parent.parent.parent / "course"
    course_copy.chmod(0o755)  # the TA's own copy of the grader: readable by the TA
    as_ta = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    env = {**_without_test_settings(), "HOME": str(out), "AUTOGRADER_DATASET": "digits"}
    run([*as_ta, *grade_command(standalone, course, out / "graded")], env=env)
    yield out / "graded"
    shutil.rmtree(out, ignore_errors=True)


def test_an_ordinary_user_grades_with_full_marks(ta_graded):
    solutions, partial = journal(ta_graded, "solutions"), journal(ta_graded, "partial")
    assert (solutions["status"], solutions["score"]) == ("graded", FULL_SCORE), solutions["message"]
    assert (partial["status"], partial["score"]) == ("graded", honest_score())
    assert_the_attacks_cost_nothing_more(ta_graded)


def test_an_ordinary_user_gets_a_view_and_no_network_through_a_user_namespace(ta_graded):
    """What a TA's account obtains here, as recorded in each result: the view and the network
    namespace through a user namespace; no user of its own and no cgroups (not delegated to
    this user), which the result says by leaving them out."""
    for name in ("solutions", "partial"):
        result = journal(ta_graded, name)
        assert result["sandbox"] == "view"
        assert result["network_isolated"]
        assert {VIEW, NO_NETWORK, "rlimits", "IPC and UTS namespaces of its own",
                "seccomp filter"} <= set(result["protections"])
        assert "a user of its own" not in result["protections"]
        assert not any("cgroup" in protection for protection in result["protections"])
    report = (ta_graded / "report.html").read_text()
    assert f'<td title="{"; ".join(result["protections"])}">view</td>' in report
