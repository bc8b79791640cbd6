"""What the grader does so that a probe's answer comes from the student's functions and from
nothing else the notebook installed (grade/kernel/bootstrap.py, StudentKernel.evaluate), and
how the judge reads what comes back (kernel.probe_client.ProbeFolders): each protection with a test
that fails without it."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from autograder.grade.isolation.limits import Limits
from autograder.grade.kernel.bootstrap import SNAPSHOT_CELL
from autograder.grade.kernel.probe_client import MAX_ANSWER_BYTES, ProbeFolders, ReplyUnreadable, _kernel_report
from autograder.grade.kernel.student_kernel import CappedOutput, RunStatus, StudentKernel
from autograder.grade.runners.split import KERNEL_VARIABLES, kernel_environment

# what a notebook installs: each hook, and the hooks libraries install, which are not its
HOOKS = """
import sys, threading, time
def _callback(*args):
    global _callback_ran
    _callback_ran = _callback_ran + 1
_callback_ran = 0
for _event in ('pre_execute', 'post_execute', 'pre_run_cell', 'post_run_cell'):
    get_ipython().events.register(_event, _callback)
class _Shout:
    def __call__(self, lines):
        return [line.replace('1 + 1', '41 + 1') for line in lines]
get_ipython().input_transformers_cleanup.append(_Shout())
sys.addaudithook(lambda event, args: None)
sys.settrace(lambda *args: None)
class _Finder:
    @classmethod
    def find_spec(cls, *args):
        return None
sys.meta_path.insert(0, _Finder)
threading.Thread(target=lambda: time.sleep(60), daemon=True).start()
"""
LIBRARY_HOOKS = "%load_ext autoreload\n%autoreload 2\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    """A kernel that ran the snapshot, then a notebook's hooks and a library's."""
    kernel = StudentKernel(workdir=tmp_path_factory.mktemp("guard"), limits=Limits(cell_timeout=30),
                           env=kernel_environment())
    kernel.start()
    assert kernel.run(SNAPSHOT_CELL).status == RunStatus.OK
    assert kernel.run(LIBRARY_HOOKS).status == RunStatus.OK
    assert kernel.run(HOOKS).status == RunStatus.OK
    assert kernel.run("_via_a_cell = 1 + 1").status == RunStatus.OK
    via_a_cell = kernel.evaluate("_via_a_cell")
    evaluated = kernel.evaluate("1 + 1")  # before the reset: the notebook's hooks are still there
    report = kernel.evaluate("__autograder_restore__()")
    yield kernel, (via_a_cell, evaluated), _kernel_report(report.value)
    kernel.shutdown()


def test_a_grader_expression_escapes_the_notebooks_transformers_and_run_cell_events(hooked):
    kernel, (via_a_cell, evaluated), _ = hooked
    assert via_a_cell.value == "42"  # the notebook's transformer rewrites what runs as a cell
    assert (evaluated.status, evaluated.value) == (RunStatus.OK, "2")  # and never the grader's expression
    ran = kernel.evaluate("_callback_ran")
    before = int(ran.value)
    kernel.evaluate("1")
    assert int(kernel.evaluate("_callback_ran").value) == before  # reset: not even pre/post_execute now


def test_every_hook_the_notebook_installed_is_reported_and_no_library_hook(hooked):
    _, _, found = hooked
    assert isinstance(found, list)
    text = "\n".join(found)
    for expected in ("audit hook (sys.addaudithook): refused", "event callback on post_run_cell (_callback)",
                     "event callback on pre_execute", "input transformer", "trace function",
                     "import hook (sys.meta_path: _Finder)", "thread the notebook started"):
        assert expected in text, (expected, found)
    assert "autoreload" not in text.lower(), found
    assert "flush_figures" not in text, found


def test_an_audit_hook_is_refused_and_the_reset_holds(hooked):
    kernel, _, _ = hooked
    probe = kernel.run("import sys\n_seen = []\nsys.addaudithook(lambda e, a: _seen.append(e))\n"
                       "open(__file__ if '__file__' in dir() else '/dev/null').close()\nprint(len(_seen))")
    assert probe.status == RunStatus.OK
    assert kernel.evaluate("len(_seen)").value == "0"  # the hook never ran: it was never added
    state = kernel.evaluate("(sys.gettrace(), _Finder in sys.meta_path, "
                            "any(isinstance(t, _Shout) for t in get_ipython().input_transformers_cleanup))")
    assert state.value == "(None, False, False)"


def test_the_snapshot_cell_keeps_nothing_for_the_student_to_read_in_its_history(hooked):
    """The reset and the probes arrive as user expressions: not in ``In``, so a notebook that
    reads its history does not find the grader's requests."""
    kernel, _, _ = hooked
    history = kernel.evaluate("'\\n'.join(In)")
    assert "__autograder_restore__()" not in history.value


# ProbeFolders: what the judge reads --------------------------------------------------------

@pytest.fixture
def folders(tmp_path):
    for name in (".requests", ".answers"):
        (tmp_path / name).mkdir()
    opened = ProbeFolders(tmp_path)
    yield opened, tmp_path / ".answers"
    opened.close()


def test_a_reply_is_read_as_written(folders):
    opened, answers = folders
    (answers / "a.out").write_bytes(b"answer")
    assert opened.read_reply("a.out") == b"answer"


@pytest.mark.parametrize("trap", ["symlink to a host file", "fifo", "directory", "oversized", "missing"])
def test_what_stands_where_a_reply_goes_is_never_followed_nor_waited_on(folders, tmp_path, trap):
    opened, answers = folders
    reply = answers / "a.out"
    if trap == "symlink to a host file":
        secret = tmp_path / "grader-secret"
        secret.write_bytes(b"secret")
        reply.symlink_to(secret)
    elif trap == "fifo":
        os.mkfifo(reply)  # no writer: a plain open would wait for ever
    elif trap == "directory":
        reply.mkdir()
    elif trap == "oversized":
        with open(reply, "wb") as stream:
            stream.truncate(MAX_ANSWER_BYTES + 1)
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(_read(opened)), daemon=True)
    reader.start()
    reader.join(10)
    assert outcome, (trap, outcome)
    assert isinstance(outcome[0], ReplyUnreadable), (trap, outcome)


def _read(opened):
    try:
        return opened.read_reply("a.out")
    except ReplyUnreadable as unreadable:
        return unreadable


def test_a_folder_replaced_by_a_link_after_it_was_opened_is_not_followed(folders, tmp_path):
    opened, answers = folders
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.out").write_bytes(b"planted")
    answers.rename(tmp_path / "moved")
    answers.symlink_to(elsewhere)
    with pytest.raises(ReplyUnreadable):
        opened.read_reply("a.out")


def test_a_request_never_overwrites_what_stands_at_its_name(folders, tmp_path):
    opened, _ = folders
    target = tmp_path / "host-file"
    target.write_bytes(b"keep me")
    (tmp_path / ".requests" / "r.in").symlink_to(target)
    with pytest.raises(FileExistsError):
        opened.write_request("r.in", b"inputs")
    assert target.read_bytes() == b"keep me"


def test_names_are_new_for_every_call(folders):
    opened, _ = folders
    assert len({opened.new_names() for _ in range(100)}) == 100


# the kernel's environment and its process output ---------------------------------------

def test_the_kernel_environment_is_an_allow_list():
    env = kernel_environment({"PATH": "/usr/bin", "LC_ALL": "C", "CANVAS_API_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "k",
                              "AUTOGRADER_ASSIGNMENTS_DIR": "/grader", "OMP_NUM_THREADS": "1"})
    assert env == {"PATH": "/usr/bin", "LC_ALL": "C", "OMP_NUM_THREADS": "1", "USER": "student", "LOGNAME": "student"}
    assert "AUTOGRADER_ASSIGNMENTS_DIR" not in KERNEL_VARIABLES


def test_a_kernel_that_floods_its_process_output_fills_only_the_budget(tmp_path):
    log = tmp_path / "child.log"
    with open(log, "wb") as destination:
        capped = CappedOutput(destination.fileno(), budget=1 << 16)
        block = b"x" * (1 << 20)
        for _ in range(8):
            os.write(capped.write_end, block)
        os.close(capped.write_end)
        deadline = time.monotonic() + 10
        while capped.dropped < 8 * len(block) - (1 << 16) and time.monotonic() < deadline:
            time.sleep(0.01)
    size = log.stat().st_size
    assert (1 << 16) <= size < (1 << 16) + 200, size
    assert b"dropped" in log.read_bytes()[-200:]


def test_the_kernel_report_is_parsed_only_as_json_text():
    assert _kernel_report(repr(json.dumps({"digest": "ab"}))) == {"digest": "ab"}
    for forged in ("__import__('os').system('x')", "{'digest': 1}", "'not json'", ""):
        assert _kernel_report(forged) is None


def test_withheld_questions_carry_the_evidence_once_and_keep_what_each_check_found():
    from autograder.grade.runners.split import withhold_gated_questions
    from autograder.results import CaseResult
    cases = [CaseResult("q1", "a", 2, 2, True, ""),
             CaseResult("q5", "gate", 0, 0, True, ""),
             CaseResult("q5", "picks", 3, 3, True, ""),
             CaseResult("q5", "refit", 2, 0, True, "final_mlp was trained on 80 rows", passed=False)]
    withhold_gated_questions(cases, {"q5": ["gate"]}, ["cell 4, line 2: an audit hook (`sys.addaudithook(f)`)"])
    q1, gate, picks, refit = cases
    assert (q1.score, q1.message) == (2, "")
    assert (picks.score, refit.score) == (0.0, 0.0)
    assert not picks.passed
    text = "\n".join(case.message for case in cases)
    assert text.count("sys.addaudithook") == 1
    assert "cell 4, line 2" in picks.message
    assert refit.message.startswith("Withheld")
    assert "final_mlp was trained on 80 rows" in refit.message
    assert gate.message == ""  # a 0-point gate is not withheld: it has nothing to hold


def test_without_hooks_nothing_is_withheld():
    from autograder.grade.runners.split import withhold_gated_questions
    from autograder.results import CaseResult
    cases = [CaseResult("q5", "picks", 3, 3, True, "")]
    withhold_gated_questions(cases, {"q5": ["gate"]}, [])
    assert (cases[0].score, cases[0].passed) == (3, True)
