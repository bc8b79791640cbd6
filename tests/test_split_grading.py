"""The split runner (`autograder grade --runner split`): the student's kernel only answers
probes, the judges run in the grading process. Each adversarial submission here is the
bundled `partial` sample (honest score in submissions/nn_foundations/expected.csv) plus an
attack; none may score more than the honest part, and the honest part must survive."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import ASSIGNMENT, BATCH_JOBS, SAMPLES_DIR, SUITE_CELL_LIMIT

pytestmark = pytest.mark.slow

SURVIVOR_MARKER = "autograder-survivor-marker"
PLANTED_MARKER = "/tmp/autograder-planted-module-ran"  # outside the kernel's view
HOST_PORT = "__HOST_PORT__"  # replaced by the port ``split_graded`` listens on
NEEDLES = "__NEEDLES__"      # replaced by what reads_its_own_memory searches for (see there)
CLASSMATE = "aaa_classmate_5f3e9c"  # graded first: the name an attack must not find in memory
PLANT = f"open({PLANTED_MARKER!r}, 'w').write(str(__import__('os').getuid()))\n"
_REPO = Path(__file__).resolve().parent.parent
GRADER_TOKEN = "CANVAS_API_TOKEN"  # in the grader's environment during the corpus: never the kernel's
IPC_KEYS = (0x5EED0001, 0x5EED0002)  # the System V queue and segment an attack makes
# what a student may keep aside: correct versions of the two functions the `partial` sample
# leaves unanswered (forward, mlp_param_count), for the attacks that answer with them
TRUE_FUNCTIONS = (
    "import numpy as _np\n"
    "def _true_forward(x, layers):\n    a = _np.asarray(x, dtype=float)\n"
    "    for W, b, act in layers:\n        z = a @ _np.asarray(W, dtype=float) + _np.asarray(b, dtype=float)\n"
    "        if act == 'relu':\n            a = _np.maximum(z, 0)\n"
    "        elif act == 'sigmoid':\n            a = 1 / (1 + _np.exp(-z))\n"
    "        elif act == 'softmax':\n            e = _np.exp(z - z.max(axis=-1, keepdims=True))\n"
    "            a = e / e.sum(axis=-1, keepdims=True)\n        else:\n            a = z\n    return a\n"
    "def _true_count(n_inputs, hidden, n_outputs):\n    sizes = [n_inputs, *hidden, n_outputs]\n"
    "    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))\n"
    "_TRUE = {'forward': _true_forward, 'mlp_param_count': _true_count}\n")

ATTACKS = {
    # the attack in Otter 7 that lifted a one-in-three score to full marks under `otter run`
    "patches_otter_checker": (
        "import otter.test_files.abstract_test as abstract_test\n"
        "for cls in vars(abstract_test).values():\n"
        "    if isinstance(cls, type):\n"
        "        for attr in ('passed', 'score'):\n"
        "            if hasattr(cls, attr):\n"
        "                try:\n"
        "                    setattr(cls, attr, property(lambda self: True if attr == 'passed' else 1.0))\n"
        "                except Exception:\n"
        "                    pass\n"),
    "prints_and_writes_fake_results": (
        "import json\nfake = {'score': 29, 'tests': [{'name': 'all', 'score': 29, 'max_score': 29}]}\n"
        "print(json.dumps(fake))\n"
        "for path in ('results.json', '../results.json', 'grade.json', '../grade.json',\n"
        "             '/autograder/results/results.json', '.answers/1.out', '.answers/2.out'):\n"
        "    try:\n        open(path, 'w').write(json.dumps(fake))\n    except OSError:\n        pass\n"),
    "exits_at_the_end": "import os\nos._exit(0)\n",
    "calls_sys_exit": "import sys\nsys.exit(0)\n",
    "registers_an_atexit_hook": (
        "import atexit, json\n"
        "atexit.register(lambda: open('results.json', 'w').write(json.dumps({'score': 29})))\n"
        "atexit.register(lambda: print(json.dumps({'score': 29, 'tests': []})))\n"),
    "kills_its_kernel_when_probed": (
        "import os, signal\n_honest_unrolled_length = unrolled_length\n"
        "def unrolled_length(shape):\n    os.kill(os.getpid(), signal.SIGKILL)\n"),
    "patches_numpy": (
        "import numpy as np\n"
        "np.allclose = np.array_equal = np.array_equiv = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)\n"
        "np.testing.assert_allclose = np.testing.assert_array_equal = lambda *a, **k: None\n"),
    "breaks_python_for_the_grader": (
        "import builtins\ndel __autograder_restore__\n_real_import = builtins.__import__\n"
        "def _no_grader_imports(name, *args, **kwargs):\n"
        "    if name.startswith(('autograder', 'types')):\n        raise ImportError('not today')\n"
        "    return _real_import(name, *args, **kwargs)\n"
        "builtins.__import__ = _no_grader_imports\n"),
    "patches_builtins": (
        "import builtins, types\n_real_import = builtins.__import__\n"
        "def _import(name, *args, **kwargs):\n"
        "    if name.startswith(('otter', 'autograder.checks')):\n"
        "        fake = types.ModuleType(name)\n"
        "        fake.run_check = lambda *a, **k: None\n"
        "        return fake\n"
        "    return _real_import(name, *args, **kwargs)\n"
        "builtins.__import__ = _import\n"
        "builtins.round = lambda x, *a: x\n"),
    # reads whatever grader or solution files it can reach and runs the solutions' code: if
    # any were visible, this would score full marks
    "reads_grader_files_and_solutions": (
        "import glob, json, os, zipfile\n"
        f"_paths = [{str(_REPO / 'dist')!r}, {str(_REPO / 'assignments')!r}, {str(_REPO / 'solutions')!r}]\n"
        "_notebooks = [p for base in _paths for p in glob.glob(base + '/**/*.ipynb', recursive=True)]\n"
        "_notebooks += glob.glob('/tmp/**/*.ipynb', recursive=True) + glob.glob('/proc/*/cwd/**/*.ipynb')\n"
        "_notebooks += glob.glob('/proc/*/root/tmp/*/*.ipynb') + glob.glob('/proc/*/root/tmp/*/*/*.ipynb')\n"
        "_secrets = {}\n"
        "for _zip in glob.glob('/tmp/**/*.zip', recursive=True) + glob.glob('/proc/*/root/tmp/*/*.zip'):\n"
        "    try:\n        _secrets[_zip] = zipfile.ZipFile(_zip).namelist()\n    except Exception:\n        pass\n"
        "for _path in _notebooks:\n"
        "    if os.path.abspath(_path) == os.path.abspath('nn_foundations.ipynb'):\n        continue\n"
        "    try:\n        _cells = json.load(open(_path))['cells']\n    except Exception:\n        continue\n"
        "    for _cell in _cells:\n"
        "        _code = ''.join(_cell['source'])\n"
        "        if _cell['cell_type'] == 'code' and 'grader' not in _code and 'otter' not in _code:\n"
        "            try:\n                exec(_code, globals())\n            except Exception:\n                pass\n"),
    "loops_forever_when_probed": (
        "def unroll(images):\n    while True:\n        pass\n"),
    # forks until refused (an exponential bomb in a child was killed before it got far, so it
    # showed nothing about the limit): the cell ends only once the limit has stopped it. The
    # bomb is a small interpreter the cell starts: each fork of the kernel itself copies page
    # tables of several hundred MB, CPU time that counts against the cell's limit, so on a
    # loaded machine that limit, not the process cap, could end the cell first
    "fork_bomb": (
        "import subprocess, sys\n"
        "_bomb = ('import os, time\\nforked = 0\\ntry:\\n    for _ in range(5000):\\n'\n"
        "         '        if os.fork() == 0:\\n            os.close(1)\\n            os.close(2)\\n            time.sleep(600)\\n'\n"
        "         '            os._exit(0)\\n        forked += 1\\nexcept OSError:\\n    pass\\nprint(forked)\\n')\n"
        "_forked = int(subprocess.run([sys.executable, '-c', _bomb], capture_output=True, text=True).stdout)\n"
        "assert _forked < 512, f'forked {_forked} processes: no process limit'\n"),
    "memory_bomb": (
        "import os\n_hoard = []\n"
        "if os.fork() == 0:\n"
        "    while True:\n        try:\n            os.fork()\n            _hoard.append(bytearray(256 << 20))\n"
        "        except (OSError, MemoryError):\n            pass\n"
        "try:\n    while True:\n        _hoard.append(bytearray(256 << 20))\nexcept MemoryError:\n    pass\n"),
    "fills_the_disk": (
        "import os\n_chunk = b'x' * (64 << 20)\n_written = {}\n"
        "for _folder in ('.', '/tmp', os.path.expanduser('~'), '/dev/shm'):\n"
        "    _written[_folder] = 0\n"
        "    for _i in range(10_000):\n"
        "        try:\n            open(os.path.join(_folder, f'fill{_i}'), 'wb').write(_chunk)\n"
        "            _written[_folder] += 64\n"
        "        except OSError:\n            break\n"
        # evidence that the limit fired: no folder took more than disk_mb (512 MB)
        "assert max(_written.values()) <= 512, f'wrote {_written} MB: no disk limit'\n"),
    "opens_network_connections": (
        "import socket\n_reached = []\n"
        # a server the test listens with on the machine's loopback, then the outside world
        f"for _host, _port in (('127.0.0.1', {HOST_PORT!r}), ('1.1.1.1', 53), ('pypi.org', 443)):\n"
        "    try:\n        socket.create_connection((_host, _port), timeout=3).close()\n"
        "        _reached.append(_host)\n    except OSError:\n        pass\n"
        "assert not _reached, f'reached {_reached}'\n"),
    "prints_a_gigabyte": "_line = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(_line)\n",
    "ignores_sigterm": (
        "import signal, subprocess, sys\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(15, signal.SIG_IGN); '\n"
        f"                  'time.sleep(3600)  # {SURVIVOR_MARKER}'], start_new_session=True)\n"),
    # right after the first question's answer: a loop that ignores the interrupt and SIGTERM
    "ignores_the_interrupt": (
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"),
    # searches every byte of its own memory that is not a file's (heap, stack, anonymous maps)
    # for the course secret (raw and as the zip stores it) and for another student's file name:
    # a kernel forked from a process that had read them would hold them. Each needle is split
    # in two halves matched side by side, so the search itself never builds it. The last needle
    # is a control the kernel does hold (its notebook's first cell), so a search that sees
    # nothing fails too.
    "reads_its_own_memory": (
        f"_needles = {NEEDLES!r}\n"
        "_pieces = [(bytes.fromhex(_h), bytes.fromhex(_t)) for _h, _t in _needles]\n"
        "_found = set()\n"
        "with open('/proc/self/maps') as _maps, open('/proc/self/mem', 'rb', 0) as _mem:\n"
        "    for _line in list(_maps):\n"
        "        _fields = _line.split()\n"
        "        if 'r' not in _fields[1] or (len(_fields) > 5 and not _fields[5].startswith('[')):\n"
        "            continue\n"
        "        _start, _end = (int(_x, 16) for _x in _fields[0].split('-'))\n"
        "        for _at in range(_start, _end, 1 << 24):\n"
        "            try:\n                _mem.seek(_at)\n"
        "                _chunk = _mem.read(min((1 << 24) + 256, _end - _at))\n"
        "            except (OSError, ValueError, OverflowError):\n                continue\n"
        "            for _i, (_head, _tail) in enumerate(_pieces):\n"
        "                _pos = _chunk.find(_head)\n"
        "                while _pos >= 0:\n"
        "                    if _chunk[_pos + len(_head):_pos + len(_head) + len(_tail)] == _tail:\n"
        "                        _found.add(_i)\n"
        "                    _pos = _chunk.find(_head, _pos + 1)\n"
        "            del _chunk\n"
        "assert _found == {3}, f'found needles {sorted(_found)} in its own memory (3 is the control)'\n"),
    # replaces the package in its own folder, then ends its kernel: the kernel's next start
    # must not run it as root (the jail starts in that folder)
    "plants_a_module_for_the_grader": (
        "import os, pathlib, shutil\n"
        f"_plant = {PLANT!r}\n"
        "os.rename('autograder', '_shipped')  # root's files, but the folder is the kernel's\n"
        "shutil.copytree('_shipped', 'autograder')\n"
        "for _name in ('autograder/__init__.py', 'autograder/grade/__init__.py', 'autograder/grade/isolation/__init__.py',\n"
        "              'autograder/grade/isolation/jail.py'):\n"
        "    _path = pathlib.Path(_name)\n    _path.parent.mkdir(parents=True, exist_ok=True)\n"
        "    _path.write_text(_plant + (_path.read_text() if _path.exists() else ''))\n"
        "os._exit(0)\n"),
    # -- what the process design of kernels forked from a template opened (issue 21) --
    # correct code the notebook keeps aside, answered in place of its own through an IPython
    # event: the callback swaps the grader's answering function for one that lends the probes
    # the correct functions (29 against the honest 22 on the old design)
    "rewrites_answers_from_an_ipython_hook": (
        TRUE_FUNCTIONS
        + "def _forge(*_):\n    _ip = get_ipython()\n    _answer = _ip.user_ns.get('__autograder_answer__')\n"
        "    if _answer is None or getattr(_answer, '_forged', False):\n        return\n"
        "    def _forged(*args):\n        _saved = {k: _ip.user_ns.get(k) for k in _TRUE}\n"
        "        _ip.user_ns.update(_TRUE)\n        try:\n            return _answer(*args)\n"
        "        finally:\n            _ip.user_ns.update(_saved)\n"
        "    _forged._forged = True\n    _ip.user_ns['__autograder_answer__'] = _forged\n"
        "for _event in ('post_run_cell', 'post_execute', 'pre_execute'):\n"
        "    get_ipython().events.register(_event, _forge)\n"),
    # an audit hook sees the probes arrive and makes their lookup of the student's functions
    # return the correct ones (keras_networks: 26 against the honest 12 on the old design)
    "wraps_the_probes_from_an_audit_hook": (
        TRUE_FUNCTIONS
        + "import sys\n"
        "def _audit(event, args):\n"
        "    _probes = sys.modules.get('autograder.checks.nn_foundations.probes')\n"
        "    _real = getattr(_probes, 'student_function', None)\n"
        "    if _real is None or getattr(_real, '_forged', False):\n        return\n"
        "    def _forged(env, name):\n        return _TRUE[name] if name in _TRUE else _real(env, name)\n"
        "    _forged._forged = True\n    _probes.student_function = _forged\n"
        "sys.addaudithook(_audit)\n"),
    # System V IPC: a queue and a segment that would outlive the kernel and be read by the next
    # submission; the kernel must also start with none of another's
    "leaves_ipc_behind": (
        "import ctypes\n_libc = ctypes.CDLL(None, use_errno=True)\n"
        "_found = [l for f in ('msg', 'shm') for l in open(f'/proc/sysvipc/{f}').read().splitlines()[1:]]\n"
        "assert not _found, f'another notebook left IPC objects: {_found}'\n"
        f"_queue = _libc.msgget({IPC_KEYS[0]}, 0o1666)\n_segment = _libc.shmget({IPC_KEYS[1]}, 1 << 20, 0o1666)\n"
        "assert _queue >= 0 and _segment >= 0, ctypes.get_errno()\n"
        "_message = ctypes.create_string_buffer(b'\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00hidden inputs', 32)\n"
        "_libc.msgsnd(_queue, _message, 16, 0)\n"),
    # the judge reads what the kernel writes: directories, FIFOs and links where replies go
    "puts_traps_where_replies_go": (
        "import os, threading, time\n"
        "for _folder, _suffix in (('.answers', '.out'), ('.requests', '.in')):\n"
        "    for _i in range(1, 60):\n        try:\n            os.mkdir(f'{_folder}/{_i}{_suffix}')\n"
        "        except OSError:\n            pass\n"
        "def _trap():\n    _deadline = time.time() + 600\n    while time.time() < _deadline:\n"
        "        for _name in os.listdir('.answers'):\n            _path = os.path.join('.answers', _name)\n"
        "            if os.path.isdir(_path) or os.path.islink(_path):\n                continue\n"
        "            try:\n                os.unlink(_path)\n"
        "                (os.mkfifo if hash(_name) % 2 else lambda p: os.symlink('/dev/zero', p))(_path)\n"
        "            except OSError:\n                pass\n        time.sleep(0.001)\n"
        "threading.Thread(target=_trap, daemon=True).start()\n"),
    # a display message nbformat refuses, carrying the sentence the grader once retried on
    "displays_a_malformed_output": (
        "get_ipython().display_pub.publish({'text/plain': {'Kernel died before replying to kernel_info': 1}})\n"
        "print('after the malformed output')\n"),
    "reads_the_graders_environment": (
        f"import os\nassert {GRADER_TOKEN!r} not in os.environ, 'the grader passed on its environment'\n"),
    "floods_its_process_stdout": (
        "import os\n_block = b'x' * (1 << 20)\n"
        "for _ in range(256):\n    os.write(1, _block)\n    os.write(2, _block)\n"),
}
# where an attack goes when not at the end: its cell's number in the notebook (from 1)
ATTACK_CELL = {"ignores_the_interrupt": 8}
# attacks that must not cost the honest part either (the others may lose a check they broke)
KEEPS_HONEST_POINTS = ("patches_otter_checker", "prints_and_writes_fake_results", "exits_at_the_end",
                       "calls_sys_exit", "registers_an_atexit_hook", "patches_numpy", "patches_builtins",
                       "reads_grader_files_and_solutions", "fork_bomb", "fills_the_disk",
                       "opens_network_connections", "prints_a_gigabyte", "ignores_sigterm",
                       "ignores_the_interrupt", "plants_a_module_for_the_grader", "reads_its_own_memory",
                       "rewrites_answers_from_an_ipython_hook", "wraps_the_probes_from_an_audit_hook",
                       "leaves_ipc_behind", "displays_a_malformed_output", "reads_the_graders_environment",
                       "floods_its_process_stdout")
# attacks that install interpreter hooks: found, reported, and their gated question withheld
INSTALLS_HOOKS = ("rewrites_answers_from_an_ipython_hook", "wraps_the_probes_from_an_audit_hook",
                  "puts_traps_where_replies_go")


def _foreign_kernelspec(notebook):
    notebook.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    notebook.metadata["language_info"] = {"name": "R"}
    return nbformat.writes(notebook)


def _forty_megabytes_of_outputs(notebook):
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (40 << 20))]
    return nbformat.writes(notebook)


# files that are odd rather than attacks: each must be graded like the honest sample
ODD_FILES = {"foreign_kernelspec": _foreign_kernelspec,
             "forty_megabytes_of_outputs": _forty_megabytes_of_outputs,
             "nbformat_3": lambda notebook: nbformat.writes(nbformat.convert(notebook, 3), version=3)}


def honest_score() -> float:
    with open(SAMPLES_DIR / ASSIGNMENT / "expected.csv", newline="") as stream:
        return next(float(r["total"]) for r in csv.DictReader(stream) if r["submission"] == "partial")


def memory_needles(autograder_zip: Path, notebook) -> list[tuple[str, str]]:
    """What no kernel's memory may hold, each as two hex halves: the course secret, raw and
    as hex text (as the zip stores it), and a classmate's file name; then the control, which
    it must hold: the notebook's first code cell, which it ran."""
    from autograder.bundle import Bundle
    secret = Bundle.read(autograder_zip).course_secret
    assert len(secret) >= 16
    control = next(cell.source for cell in notebook.cells if cell.cell_type == "code")
    halves = lambda data: (data[:len(data) // 2].hex(), data[len(data) // 2:].hex())
    return [halves(secret), halves(secret.hex().encode()), halves(CLASSMATE.encode()),
            halves(control.encode())]


# The corpus grades against the session's build, whose cells may compute for SUITE_CELL_LIMIT
# CPU-seconds instead of the course's 60 (conftest): many attacks run until a limit stops them (a
# probe that loops, a cell that ignores the interrupt), and what they test is that the limit
# holds and what it costs, not its value; the honest sample's cells take a few seconds.
@pytest.fixture(scope="module")
def short_limit_course(suite_course, dist, builds) -> tuple[Path, Path, Path]:
    """``nn_foundations`` built with SUITE_CELL_LIMIT: (assignments folder, dist, zip)."""
    return suite_course, dist, builds(ASSIGNMENT).autograder_zip


@pytest.fixture(scope="module")
def split_graded(short_limit_course, tmp_path_factory):
    from autograder.config import ASSIGNMENTS_DIR_ENV_VAR
    assignments, dist, autograder_zip = short_limit_course
    if os.path.exists(PLANTED_MARKER):
        os.remove(PLANTED_MARKER)
    folder = tmp_path_factory.mktemp("attacks")
    partial = nbformat.read(SAMPLES_DIR / ASSIGNMENT / "partial.ipynb", as_version=4)
    nbformat.write(partial, folder / "honest.ipynb")
    nbformat.write(partial, folder / f"{CLASSMATE}.ipynb")
    listener = socket.create_server(("127.0.0.1", 0))  # reachable only from the machine's own loopback
    needles = repr(memory_needles(autograder_zip, partial))
    for name, attack in ATTACKS.items():
        attack = attack.replace(repr(HOST_PORT), str(listener.getsockname()[1])).replace(repr(NEEDLES), needles)
        notebook = nbformat.from_dict(partial)
        number = ATTACK_CELL.get(name, len(notebook.cells) + 1)
        notebook.cells.insert(number - 1, nbformat.v4.new_code_cell(attack))
        nbformat.write(notebook, folder / f"{name}.ipynb")
    for name, write in ODD_FILES.items():
        (folder / f"{name}.ipynb").write_text(write(nbformat.from_dict(partial)))
    out = tmp_path_factory.mktemp("split-out")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", ASSIGNMENT, str(folder),
                           "--out", str(out), "--dist", str(dist),
                           "--runner", "split", "-j", str(BATCH_JOBS)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, GRADER_TOKEN: "ta-token-0f1e2d", ASSIGNMENTS_DIR_ENV_VAR: str(assignments)})
    listener.close()
    assert done.returncode == 0, done.stderr[-3000:]
    results = {}
    for path in (out / ".journal").glob("*.json"):
        result = json.loads(path.read_text())["result"]
        results[result["submission"]] = result
    return results


def test_the_split_runner_scores_the_honest_sample_as_otter_does(split_graded):
    assert (split_graded["honest"]["status"], split_graded["honest"]["score"]) == ("graded", honest_score())


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_scores_no_more_than_its_honest_part(split_graded, attack):
    result = split_graded[attack]
    assert result["status"] == "graded", result["message"]
    assert result["score"] <= honest_score(), result


@pytest.mark.parametrize("attack", KEEPS_HONEST_POINTS)
def test_attacks_that_break_nothing_they_are_graded_on_keep_the_honest_points(split_graded, attack):
    assert split_graded[attack]["score"] == honest_score(), split_graded[attack]


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_but_honest_files_are_graded_like_the_honest_sample(split_graded, name):
    """A kernelspec of another language (graded with the course's kernel), 40 MB of stored
    outputs (dropped before the kernel runs the code), the old nbformat 3."""
    result = split_graded[name]
    assert (result["status"], result["score"]) == ("graded", honest_score()), result["message"]


@pytest.mark.parametrize("attack", ["fills_the_disk", "opens_network_connections", "fork_bomb",
                                    "leaves_ipc_behind", "reads_the_graders_environment"])
def test_the_limit_an_attack_meets_fires(split_graded, attack):
    """These attacks end by asserting what the limit did (no folder past disk_mb; no connection,
    not even to a server on the machine's loopback; fewer forks than max_processes); had the
    limit not fired, the cell would raise and the student's notes would name it."""
    cell = len(nbformat.read(SAMPLES_DIR / ASSIGNMENT / "partial.ipynb", as_version=4).cells) + 1
    assert not [note for note in split_graded[attack]["notes"] if note.startswith(f"Cell {cell} ")]


@pytest.mark.parametrize(("attack", "limit"), [("memory_bomb", "memory"), ("fork_bomb", "processes")])
def test_the_cgroup_limit_a_bomb_meets_is_recorded_and_explained(split_graded, attack, limit):
    """From the cgroup's own counters (memory.failcnt, pids.events), not from the notebook: the
    bomb did reach the limit, and the student is told which and what it is."""
    result = split_graded[attack]
    assert limit in result["limits_reached"], result["limits_reached"]
    assert any(f"reached the {limit} limit" in note or ("limit of" in note and limit in note)
               for note in result["notes"]), result["notes"]
    assert split_graded["honest"]["limits_reached"] == []


@pytest.mark.parametrize("attack", INSTALLS_HOOKS)
def test_a_notebook_that_hooks_into_the_interpreter_is_found_and_its_gated_question_withheld(split_graded, attack):
    """Read from the file by the judge (cell and line), or reported by the kernel; the tuning
    question, whose leak gates rest on the student's process, waits for a person."""
    result = split_graded[attack]
    cell = len(nbformat.read(SAMPLES_DIR / ASSIGNMENT / "partial.ipynb", as_version=4).cells) + 1
    assert result["hooks"], result
    if attack != "puts_traps_where_replies_go":  # its thread is seen only while it runs
        assert any(item.startswith(f"cell {cell}, line ") for item in result["hooks"]), result["hooks"]
    withheld = [case for case in result["cases"] if case["question"] == "q5_tuning" and case["points"]]
    assert withheld, withheld
    assert all(case["message"].startswith("Withheld for a person to review") for case in withheld), withheld
    assert not any(case["passed"] for case in withheld), withheld
    assert not split_graded["honest"]["hooks"]


def test_interpreter_hooks_put_the_submission_before_a_person_in_the_report(split_graded):
    from autograder.report.html import needs_a_human
    from autograder.results import Status, SubmissionResult
    results = [SubmissionResult(ASSIGNMENT, name, name, Status(r["status"]), hooks=r["hooks"])
               for name, r in split_graded.items()]
    flagged = {row["submission"] for row in needs_a_human(ASSIGNMENT, results) if row["why"] == "interpreter hooks"}
    assert set(INSTALLS_HOOKS) <= flagged
    assert "honest" not in flagged


def test_no_ipc_object_a_notebook_made_outlives_its_kernel(split_graded):
    """The kernel has IPC and UTS namespaces of its own (the attack also asserts that it starts
    with no object of another notebook's): what it made is gone with it."""
    assert split_graded["leaves_ipc_behind"]["status"] == "graded"
    keys = {int(line.split()[0]) for name in ("msg", "shm")
            for line in Path(f"/proc/sysvipc/{name}").read_text().splitlines()[1:]}
    assert not keys & set(IPC_KEYS)


def test_traps_where_replies_go_cost_their_checks_never_the_row(split_graded):
    """Directories at the old reply names, FIFOs and links to /dev/zero put where replies land:
    the judge never follows, blocks on or reads them; each costs its check, with a message."""
    result = split_graded["puts_traps_where_replies_go"]
    assert result["status"] == "graded", result["message"]
    failed = [case["message"] for case in result["cases"] if not case["passed"] and case["points"]]
    assert failed, failed
    assert not any("did not return within" in message for message in failed), failed


def test_a_probe_that_never_returns_costs_its_checks_with_a_clear_message(split_graded):
    result = split_graded["loops_forever_when_probed"]
    messages = [case["message"] for case in result["cases"] if not case["passed"]]
    assert any("did not return within" in message for message in messages), messages
    assert result["score"] < honest_score()


def test_a_cell_that_ignores_the_interrupt_is_named_and_costs_nothing_else(split_graded):
    """The kernel is replaced, the cells before and after run without it, and the student is
    told which cell was stopped, why, and what to change."""
    result = split_graded["ignores_the_interrupt"]
    assert (result["status"], result["score"]) == ("graded", honest_score()), result["message"]
    stopped = [note for note in result["notes"] if note.startswith("Cell 8 (`import signal`)")]
    assert stopped, result["notes"]
    assert "did not stop when interrupted" in stopped[0], result["notes"]
    assert f"{SUITE_CELL_LIMIT} s" in stopped[0], result["notes"]


def test_a_notebook_that_breaks_python_for_the_grader_is_told_so(split_graded):
    """Every failed check says so, or points to a check that does (a check blocked by a gate
    names the gate; one withheld with the rest of its question names the one with the evidence),
    so that no message is repeated and none is left unexplained."""
    result = split_graded["breaks_python_for_the_grader"]
    failed = {case["name"]: case["message"] for case in result["cases"] if not case["passed"]}
    explained = {name for name, message in failed.items() if "changed Python itself" in message}
    while True:  # the checks that point to an explained one are explained too
        more = {name for name, message in failed.items() if name not in explained
                and any(f"`{other}`" in message or f"under {other}" in message for other in explained)}
        if not more:
            break
        explained |= more
    scored = {name for name, _ in failed.items()
              if next(case["points"] for case in result["cases"] if case["name"] == name)}
    assert explained, failed
    assert all(name in explained or "placeholder" in failed[name] for name in scored), failed


def test_no_kernel_holds_the_secret_or_a_classmates_name_in_memory(split_graded):
    """The kernels of a batch are forked from a template of the grading child (kernel_template):
    it must have been forked before anything of the zip or of another submission was read."""
    cell = len(nbformat.read(SAMPLES_DIR / ASSIGNMENT / "partial.ipynb", as_version=4).cells) + 1
    result = split_graded["reads_its_own_memory"]
    assert not [note for note in result["notes"] if note.startswith(f"Cell {cell} ")], result["notes"]


def test_a_module_planted_in_the_kernels_folder_never_runs_outside_the_view(split_graded):
    assert split_graded["plants_a_module_for_the_grader"]["status"] == "graded"
    assert not os.path.exists(PLANTED_MARKER), open(PLANTED_MARKER).read()


def test_nothing_a_submission_started_outlives_its_grading(split_graded):
    survivors = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and SURVIVOR_MARKER in open(f"/proc/{entry}/cmdline").read():
                survivors.append(int(entry))
        except OSError:
            continue
    assert survivors == []


def test_student_code_ran_without_network_in_a_view_of_its_own(split_graded):
    assert all(result["network_isolated"] for result in split_graded.values())
    if os.geteuid() == 0:  # the view is built as root here (tests/test_jail.py)
        assert {result["sandbox"] for result in split_graded.values()} == {"view"}


def test_a_kernel_killed_by_a_probe_costs_that_check_only_with_a_clear_message(split_graded):
    result = split_graded["kills_its_kernel_when_probed"]
    failed = {case["name"]: case["message"] for case in result["cases"] if not case["passed"]}
    assert "ended the Python process" in failed["unrolled_length_counts_every_value"]
    assert "unroll_grayscale_batches" not in failed  # the kernel came back with the definitions
    assert result["score"] == honest_score() - 1


@pytest.fixture
def kernel(tmp_path):
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.kernel.student_kernel import StudentKernel
    student = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=60), env=dict(os.environ))
    student.start()
    yield student
    student.shutdown()


def kept_text(kernel, run) -> str:
    return "".join(o.get("text", "") for o in kernel.client.nb.cells[run.index].outputs)


def test_a_cell_that_floods_its_output_keeps_only_the_budget(kernel):
    """The kernel batches stream output, so whole messages past the budget are dropped; the
    budget is per cell, so the next cell's output is kept."""
    from autograder.grade.kernel.student_kernel import OUTPUT_BUDGET
    flood = kernel.run("for _ in range(50):\n    print('x' * 100_000)")  # 5 M characters
    after = kernel.run("print('still here')")
    assert flood.status == "ok"
    assert len(kept_text(kernel, flood)) <= OUTPUT_BUDGET
    assert kept_text(kernel, after) == "still here\n"


@pytest.mark.parametrize("flood", [
    "for _ in range(40):\n    print('x' * 500_000)",  # 20 M characters through sys.stdout
    # through the file descriptor, which ipykernel's watcher thread reads into the stream: the
    # cell waits for it, or the output would land in the next cell
    "import os, time\nfor _ in range(40):\n    os.write(1, b'x' * 500_000)\ntime.sleep(2)",
])
def test_the_kernel_stops_sending_a_cells_output_past_the_budget_and_says_so(tmp_path, flood):
    """The grader's budget keeps the kept output small; the kernel's cap (the snapshot cell's
    ``cap_cell_output``) keeps the traffic small too: the grader receives about the budget,
    not the 20 M characters printed, and the kept text ends with the note."""
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.kernel.bootstrap import KERNEL_OUTPUT_BUDGET, SNAPSHOT_CELL
    from autograder.grade.kernel.student_kernel import OUTPUT_BUDGET, CappedOutput, StudentKernel
    # ipykernel redirects the file descriptors only outside pytest, which it tells by this variable
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_CURRENT_TEST"}
    student = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=60), env=env,
                            output=CappedOutput(destination=os.open(os.devnull, os.O_WRONLY)))
    student.start()
    try:
        assert student.run(SNAPSHOT_CELL).status == "ok"
        run = student.run(flood)
        after = student.run("print('still here')")
        received = student.client._output_used[run.index]
        assert run.status == "ok"
        assert received <= OUTPUT_BUDGET, f"the grader was sent {received:,} characters of one cell's output"
        text = kept_text(student, run)
        assert len(text) >= KERNEL_OUTPUT_BUDGET
        assert "the grader keeps no more" in text[-200:]
        assert kept_text(student, after) == "still here\n"
    finally:
        student.shutdown()


@pytest.mark.parametrize("hang", [
    # breaks the kernel's own machinery: every import fails, so it cannot even flush output
    "import builtins\ndef _no(*a, **k):\n    raise ImportError('no')\n"
    "builtins.__import__ = _no\nprint('broken')\nwhile True:\n    pass\n",
    # ignores the interrupt (and the polite signal that would follow)
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n",
    # swallows KeyboardInterrupt and goes on
    "import time\nwhile True:\n    try:\n        time.sleep(100)\n    except KeyboardInterrupt:\n        pass\n",
])
def test_a_cell_that_will_not_be_interrupted_costs_only_itself(tmp_path, hang):
    """The grader stops waiting at the cell limit, replaces the kernel, replays the cells
    before the one that hung (not that one), and the cells after it run as usual."""
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.kernel.student_kernel import StudentKernel
    # the grace after the interrupt: 2 s rather than production's 10 (these cells never answer)
    student = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=3), env=dict(os.environ),
                            interrupt_grace=2.0)
    student.start()
    try:
        student.run("x = 1")
        hung = student.run(hang)
        after = student.run("x += 1\nassert x == 2")
        assert (hung.status, after.status, student.restarts) == ("stopped", "ok", 1)
        assert student.cells == ["x = 1", "x += 1\nassert x == 2"]
    finally:
        student.shutdown()


def test_a_cell_that_stops_when_interrupted_keeps_its_kernel(kernel):
    kernel.limits = type(kernel.limits)(cell_timeout=3)
    kernel.client.timeout = 3
    kernel.run("x = 1")
    slow = kernel.run("import time\ntime.sleep(100)")
    after = kernel.run("x += 1\nassert x == 2")
    assert (slow.status, after.status, kernel.restarts) == ("timeout", "ok", 0)


def test_cells_the_grader_had_to_stop_are_named_to_the_student():
    import nbformat

    from autograder.grade.kernel.student_kernel import CellRun, cell_notes, notebook_code_cells
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Q1"), nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("while True:\n    pass"), nbformat.v4.new_code_cell("y = z")])
    cells = notebook_code_cells(notebook)
    notes = cell_notes(cells, [CellRun(0, "ok"), CellRun(1, "stopped", "…"),
                               CellRun(2, "error", "NameError: name 'z' is not defined")], 60)
    assert len(notes) == 2
    assert notes[0].startswith("Cell 3 (`while True:`)")
    assert "60 s" in notes[0]
    assert "interrupted" in notes[0]
    assert notes[1].startswith("Cell 4 (`y = z`) raised NameError")


def test_a_cell_that_kills_the_kernel_costs_only_itself(kernel):
    kernel.run("x = 41")
    died = kernel.run("import os\nos._exit(0)")
    after = kernel.run("x += 1\nassert x == 42")
    assert (died.status, after.status, kernel.restarts) == ("died", "ok", 1)


def test_a_kernel_that_dies_before_it_answers_is_reported_as_a_start_failure(tmp_path):
    """The grader retries gradings whose kernel failed to start (grade.processes.grading_child) by this message:
    a kernel that cannot even start Python (1 MB of address space) must produce it, at once."""
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.kernel.student_kernel import KERNEL_START_FAILURE, KernelStartFailed, StudentKernel
    student = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=3, memory_mb=1), env=dict(os.environ))
    try:
        with pytest.raises(KernelStartFailed, match=KERNEL_START_FAILURE):
            student.start()
    finally:
        student.shutdown()


def test_the_first_cells_output_is_never_lost_to_a_kernel_start(tmp_path):
    """The client is ready only once IOPub delivers (PromptKernelClient): the first cell's
    output reaches the grader, kernel after kernel."""
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.kernel.student_kernel import StudentKernel
    for attempt in range(3):
        student = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=30), env=dict(os.environ))
        student.start()
        try:
            assert kept_text(student, student.run(f"print('first output {attempt}')")) == f"first output {attempt}\n"
        finally:
            student.shutdown()


@pytest.mark.parametrize(("retryable", "attempts"), [(True, 3), (False, 1)])
def test_a_grading_is_tried_again_only_for_the_graders_own_reason(monkeypatch, retryable, attempts):
    """The retry follows ``GradingOutcome.retryable``, set by the grader when the kernel failed
    before any student code ran; an error whose text a notebook put the start-failure sentence
    in (a malformed output, an exception message) is graded once."""
    from autograder.grade.kernel.student_kernel import KERNEL_START_FAILURE
    from autograder.grade.processes import grading_child as child
    from autograder.results import GradingOutcome
    calls = []

    def grade_once(*args):
        calls.append(args)
        return GradingOutcome(error=f"NotebookValidationError: {{'{KERNEL_START_FAILURE}': 1}}", retryable=retryable)
    monkeypatch.setattr(child, "_grade_once", grade_once)
    monkeypatch.setattr(child.time, "sleep", lambda seconds: None)
    child.grade_in_child(Path("x.ipynb"), Path("x.zip"))
    assert len(calls) == attempts
