"""Code the analysis cannot follow, reported for a person to read (SPEC §5): data reached by
a name built at run time (``globals()[name]``, ``getattr(obj, name)`` with a computed name,
``vars()``, ``__dict__``) or code run from a string (``exec``, ``eval``). A leak spelled so
is invisible to a static reading, so the verdict names the construct instead of guessing:
the rule "R", with cell and line, never a leak by itself.

A constant name (``getattr(model, "coefs_")``) is not reflection: the analysis reads it as
``model.coefs_``. Neither is a mention in a string or a comment.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from autograder.checks.leakage.cells import constant, parsed_cells, short_source
from autograder.checks.leakage.verdict import Leak

_NAMESPACES = {"globals": "`globals()`", "locals": "`locals()`", "vars": "`vars()`"}
_RUN_STRINGS = {"exec": "`exec`", "eval": "`eval`", "compile": "`compile`", "__import__": "`__import__`"}
_BY_NAME = {"getattr": "`getattr` with a name built at run time", "setattr": "`setattr` with a name built at run time",
            "delattr": "`delattr` with a name built at run time"}
EXPLANATION = ("the leak analysis cannot follow data reached this way, so a person will read this "
               "code. Name your variables directly (`X_test`, `model.fit(...)`) and nobody needs to.")


def find_reflection(cells: Sequence[str | None]) -> list[Leak]:
    """One "R" verdict per line that reaches data or runs code through reflection, in cell order."""
    found: dict[tuple[int, int], Leak] = {}
    for index, tree, lines in parsed_cells(cells):
        for node, what in _constructs(tree):
            key = (index, node.lineno)
            if key not in found:
                code = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else short_source(node)
                found[key] = Leak("R", index, node.lineno, code, f"{what}: {EXPLANATION}")
    return sorted(found.values(), key=lambda leak: (leak.cell, leak.line))


def _constructs(tree: ast.Module) -> Iterator[tuple[ast.expr, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            yield node, "`__dict__`"
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name = node.func.id
        if name in _NAMESPACES:
            yield node, _NAMESPACES[name]
        elif name in _RUN_STRINGS:
            yield node, f"code run from a string ({_RUN_STRINGS[name]})"
        elif name in _BY_NAME and len(node.args) >= 2 and not isinstance(constant(node.args[1]), str):
            yield node, _BY_NAME[name]
