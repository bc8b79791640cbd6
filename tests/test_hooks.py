"""Interpreter hooks read from the submitted file (checks/hooks.py): every spelling of an
install is found with its cell and line; removing a hook, reading a hook list, or a library's
own callbacks and a Keras ``callbacks=`` are not."""

from __future__ import annotations

import pytest

from autograder.checks.hooks import find_interpreter_hooks

INSTALLS = {
    "audit_hook": "import sys\nsys.addaudithook(lambda e, a: None)\n",
    "audit_hook_imported": "from sys import addaudithook as _a\n_a(print)\n",
    "trace": "import sys\nsys.settrace(lambda *a: None)\n",
    "profile": "import sys\nsys.setprofile(print)\n",
    "thread_trace": "import threading\nthreading.settrace(print)\n",
    "post_run_cell": "ip = get_ipython()\nip.events.register('post_run_cell', print)\n",
    "events_in_a_loop": "for e in ('post_run_cell', 'post_execute'):\n    get_ipython().events.register(e, print)\n",
    "post_execute_direct": "get_ipython().events.callbacks['post_execute'].append(print)\n",
    "input_transformer": "get_ipython().input_transformers_cleanup.append(lambda lines: lines)\n",
    "post_transformer": "shell = get_ipython()\nshell.input_transformers_post.insert(0, lambda l: l)\n",
    "ast_transformer": "get_ipython().ast_transformers += [object()]\n",
    "ast_transformer_assigned": "get_ipython().ast_transformers = [object()]\n",
    "meta_path": "import sys\nsys.meta_path.insert(0, object())\n",
    "path_hooks": "import sys\nsys.path_hooks.append(lambda p: None)\n",
    "sys_modules": "import sys, types\nsys.modules['autograder.seeding'] = types.ModuleType('x')\n",
    "grader_names": "del __autograder_restore__\n",
    "ipython_hook": "get_ipython().set_hook('pre_run_code_hook', print)\n",
    "getattr_constant": "import sys\ngetattr(sys, 'settrace')(print)\n",
    "getattr_computed": "import sys\nname = 'add' + 'audithook'\ngetattr(sys, name)(print)\n",
}

HARMLESS = {
    "trace_removed": "import sys\nsys.settrace(None)\nsys.setprofile(None)\n",
    "lists_read": "import sys\nprint(len(sys.meta_path), sys.path_hooks)\nprint(get_ipython().ast_transformers)\n",
    "keras_callbacks": ("import keras\ncallbacks = [keras.callbacks.EarlyStopping()]\n"
                        "model.fit(x, y, callbacks=callbacks)\nhistory.callbacks\n"),
    "strings_and_comments": "# sys.addaudithook(hook)\nprint('sys.settrace(f)')\n",
    "register_other": "atexit.register(print)\nregistry.register('loss', f)\n",
    "magic_cells": "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nimport numpy as np\n",
    "sys_modules_read": "import sys\n'keras' in sys.modules\nsys.modules.get('numpy')\n",
}


@pytest.mark.parametrize("name", sorted(INSTALLS))
def test_each_way_of_installing_a_hook_is_found_with_its_cell_and_line(name):
    cells = ["import numpy as np", None, INSTALLS[name]]
    findings = find_interpreter_hooks(cells)
    assert findings, name
    assert {f.cell for f in findings} == {3}
    last_line = len(INSTALLS[name].splitlines())
    assert all(1 <= f.line <= last_line for f in findings)
    assert all(f"cell 3, line {f.line}" in f.describe() for f in findings)


@pytest.mark.parametrize("name", sorted(HARMLESS))
def test_what_installs_nothing_is_not_a_finding(name):
    assert find_interpreter_hooks([HARMLESS[name]]) == []


def test_a_cell_that_does_not_parse_is_skipped_and_the_others_still_read():
    cells = ["def broken(:\n", "import sys\nsys.addaudithook(print)\n"]
    assert [(f.cell, f.line) for f in find_interpreter_hooks(cells)] == [(2, 2)]


def test_the_finding_names_what_was_installed():
    (finding,) = find_interpreter_hooks(["get_ipython().events.register('post_run_cell', _rewrite)"])
    assert "post_run_cell" in finding.what
    assert "_rewrite" in finding.code
