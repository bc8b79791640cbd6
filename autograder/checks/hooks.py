"""Interpreter hooks a notebook installs, found by reading its code (the judge's side).

The probes call the student's functions inside the student's own Python process, so code
that runs there on the interpreter's behalf rather than when it is called can answer in
their place: an audit hook sees the probes being compiled and wraps them, an IPython event
callback runs after every request and rewrites the reply, a trace function edits a probe's
locals, an import hook hands the probes a module of its own. The kernel refuses or resets
what it can (``grade/kernel/bootstrap.py``) and reports what it found, but that report comes
from the student's process. This module decides from the submitted file alone, in the judge,
so nothing the notebook does at run time can hide it.

A finding costs the points of the questions that have gates (their verdict rests on the
student's process telling the truth) and puts the submission before a person. Removing a
hook (``sys.settrace(None)``) or reading a hook list is not a finding, and neither is code
that merely mentions these names in a string or a comment.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from autograder.checks.leakage.cells import parsed_cells

# sys / threading functions that install a hook for everything the interpreter runs next
_INSTALLERS = {
    "addaudithook": "an audit hook (sys.addaudithook)",
    "settrace": "a trace function (sys.settrace)",
    "setprofile": "a profile function (sys.setprofile)",
    "settrace_all_threads": "a trace function (threading.settrace_all_threads)",
    "setprofile_all_threads": "a profile function (threading.setprofile_all_threads)",
    "set_hook": "an IPython hook (set_hook)",
    "set_custom_exc": "an IPython exception handler (set_custom_exc)",
}
# IPython's lists of code that runs on every cell, and the import system's
_HOOK_LISTS = {
    "input_transformers_cleanup": "an IPython input transformer",
    "input_transformers_post": "an IPython input transformer",
    "ast_transformers": "an IPython AST transformer",
    "input_transformer_manager": "IPython's input transformer manager",
    "meta_path": "an import hook (sys.meta_path)",
    "path_hooks": "an import hook (sys.path_hooks)",
}
_EVENTS = frozenset({"pre_execute", "pre_run_cell", "post_execute", "post_run_cell", "shell_initialized"})
_GRADER_PREFIX = "__autograder"  # the names the grader defines in the kernel
_HOOK_MODULES = frozenset({"sys", "threading", "builtins", "get_ipython"})


@dataclass(frozen=True)
class HookFinding:
    """One place where the notebook installs a hook, as the student finds it."""

    cell: int   # the notebook's cell number, from 1, as Jupyter lists them
    line: int   # the line within that cell, from 1
    what: str   # what it installs
    code: str   # the line's code, shortened

    def describe(self) -> str:
        return f"cell {self.cell}, line {self.line}: {self.what} (`{self.code}`)"


def find_interpreter_hooks(cells: Sequence[object]) -> list[HookFinding]:
    """``cells``: every notebook cell's source in order, None for markdown and raw cells (so
    numbers match the notebook). Cells that do not parse are skipped (magics are neutralised
    first, as the leak analysis does)."""
    findings: list[HookFinding] = []
    for index, tree, lines in parsed_cells(cells):
        number = index + 1
        for node, what in _hooks_in(tree):
            line = getattr(node, "lineno", 1)
            code = " ".join(lines[line - 1].split()) if 0 < line <= len(lines) else ""
            findings.append(HookFinding(number, line, what, code[:80]))
    return sorted(set(findings), key=lambda f: (f.cell, f.line, f.what))


def _hooks_in(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found = _installing_call(node)
            if found:
                yield node, found
        elif isinstance(node, ast.Attribute) and node.attr in _HOOK_LISTS and _is_changed(node, tree):
            yield node, _HOOK_LISTS[node.attr]
        elif isinstance(node, ast.Name) and node.id.startswith(_GRADER_PREFIX):
            yield node, f"a reference to the grader's own `{node.id}`"
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and _is_sys_modules(node.value):
            yield node, "a module of its own put in sys.modules"
        elif isinstance(node, ast.Subscript) and _constant(node.slice) in _EVENTS:
            yield node, f"an IPython event callback ({_constant(node.slice)})"
        elif isinstance(node, ast.ImportFrom) and node.module in _HOOK_MODULES:
            for alias in node.names:
                if alias.name in _INSTALLERS:
                    yield node, _INSTALLERS[alias.name]


def _installing_call(call: ast.Call) -> str | None:
    name = _called_name(call.func)
    if name == "getattr" and len(call.args) >= 2 and _called_name(call.args[0]) in _HOOK_MODULES:
        attribute = _constant(call.args[1])
        if attribute in _INSTALLERS or attribute in _HOOK_LISTS:
            return _INSTALLERS.get(str(attribute)) or _HOOK_LISTS[str(attribute)]
        if not isinstance(attribute, str):  # a name built at run time: the grader cannot tell which
            return f"an attribute of {_called_name(call.args[0])} reached through a computed name"
    if name in _INSTALLERS and not _removes(call):
        return _INSTALLERS[name]
    if name == "register" and call.args and _constant(call.args[0]) in _EVENTS:
        return f"an IPython event callback ({_constant(call.args[0])})"
    if name == "register" and isinstance(call.func, ast.Attribute) and _called_name(call.func.value) == "events":
        return "an IPython event callback"
    if name in ("update", "setdefault") and isinstance(call.func, ast.Attribute) and _is_sys_modules(call.func.value):
        return "a module of its own put in sys.modules"
    return None


def _called_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Attribute):
        return function.attr
    if isinstance(function, ast.Name):
        return function.id
    return None


def _removes(call: ast.Call) -> bool:
    """``sys.settrace(None)``: taking a hook away is what the grader does too."""
    return len(call.args) == 1 and isinstance(call.args[0], ast.Constant) and call.args[0].value is None


def _constant(node: ast.expr) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _is_sys_modules(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "modules" and _called_name(node.value) == "sys"


def _is_changed(attribute: ast.Attribute, tree: ast.AST) -> bool:
    """Is the hook list assigned, or changed through a method (append, insert, extend, ...),
    or an item of it assigned? Reading it is not a finding."""
    if isinstance(attribute.ctx, (ast.Store, ast.Del)):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.value is attribute and isinstance(node.ctx, ast.Load) \
                and node.attr in ("append", "insert", "extend", "__setitem__", "__iadd__", "remove", "pop", "clear"):
            return True
        if isinstance(node, ast.Subscript) and node.value is attribute and isinstance(node.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(node, ast.AugAssign) and node.target is attribute:
            return True
    return False
