"""Notebook cells as Python syntax trees, and what the analysis asks of the syntax.

A cell is parsed as plain Python first; IPython magics make that fail, so then a copy with
the magics neutralised line by line (same number of lines, so verdicts still point into the
student's cell). The helpers below answer syntactic questions: which names a scope binds,
which names a loop may rebind, how an expression is spelled in a verdict.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

from autograder.checks.leakage.vocabulary import REFIT_METHODS

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "memit", "debug"})
_TIMING_LINE_MAGIC = re.compile(
    r"^%(?:time|timeit|prun|memit|debug)\b(?:\s+-[A-Za-z]+\s*\d*)*\s*(?P<code>.*)$")
_SHELL_ASSIGNMENT = re.compile(r"^(?P<target>[\w.,\s\[\]()]+?)\s*=\s*[!%]")
_HELP_LINE = re.compile(r"^[\w.]+\?{1,2}$")


# Cells ----------------------------------------------------------------------------------------

def cell_text(cell: object) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, (list, tuple)):  # nbformat v3 stores sources as lists of lines
        return "".join(str(part) for part in cell)
    return cell if isinstance(cell, str) else None


def parsed_cells(cells: Iterable[object]) -> Iterator[tuple[int, ast.Module, list[str]]]:
    """(0-based index, syntax tree, source lines) of every cell that parses, in order; None,
    markdown and unparsable cells are skipped but keep their index."""
    for index, cell in enumerate(cells):
        source = cell_text(cell)
        tree = parse_cell(source)
        if tree is not None and source is not None:
            yield index, tree, source.splitlines()


def parse_cell(source: str | None) -> ast.Module | None:
    """Plain Python first; magics make that fail, so then the neutralised text. A cell that
    parses neither way is skipped: a syntax error is the student's to fix, not a leak."""
    if not source or not source.strip():
        return None
    for candidate in (source, _without_magics(source)):
        try:
            return ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
    return None


def _without_magics(source: str) -> str:
    """Same number of lines, so AST line numbers still point into the student's cell."""
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = (lines[first].lstrip()[2:].split() or [""])[0]
        if name not in _PYTHON_CELL_MAGICS:
            return ""  # %%bash, %%writefile, %%html...: the body is not run as Python here
        lines[first] = ""
    return "\n".join(_without_line_magic(line) for line in lines)


def _without_line_magic(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith("%"):
        timed = _TIMING_LINE_MAGIC.match(stripped)
        return indent + (timed.group("code") if timed and timed.group("code") else "pass")
    if stripped.startswith("!") or _HELP_LINE.match(stripped):
        return indent + "pass"
    shell = _SHELL_ASSIGNMENT.match(stripped)
    if shell:
        return f"{indent}{shell.group('target')} = None"
    return line


# Expressions ------------------------------------------------------------------------------------

def short_source(node: ast.AST | None, limit: int = 70) -> str:
    if node is None:
        return "this value"
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # unparse of a synthetic or odd node: still say something
        return "this value"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def constant(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def dotted(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def root_name(node: ast.AST | None) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def reference_keys(node: ast.AST) -> set[str]:
    keys = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Name, ast.Attribute)):
            keys.add(dotted(sub) or "")
    keys.discard("")
    return keys


def contains_call(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.Call) for sub in ast.walk(node))


def single_item_literal(node: ast.expr) -> bool:
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) == 1 \
        and not isinstance(node.elts[0], ast.Starred)


# Scopes -----------------------------------------------------------------------------------------

def scope_nodes(body: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """The nodes that run in this scope: nested functions, classes and lambdas only
    contribute their names and defaults, comprehensions do not leak their loop variables."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend([*node.decorator_list, *node.args.defaults,
                          *(d for d in node.args.kw_defaults if d is not None)])
        elif isinstance(node, ast.ClassDef):
            stack.extend([*node.decorator_list, *node.bases])
        elif isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
        elif isinstance(node, ast.comprehension):
            stack.extend([node.iter, *node.ifs])
        else:
            stack.extend(ast.iter_child_nodes(node))


def bound_names(body: Iterable[ast.AST]) -> set[str]:
    names: set[str] = set()
    for node in scope_nodes(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def declared(body: Iterable[ast.AST], kind: type[ast.Global] | type[ast.Nonlocal]) -> set[str]:
    return {name for node in scope_nodes(body) if isinstance(node, kind) for name in node.names}


def rebound_in_loop(loop: ast.For | ast.AsyncFor | ast.While) -> frozenset[str]:
    """Names and dotted paths that may hold a different model on each pass: assigned in the
    loop (its target included), or refitted / reconfigured there (``model.fit`` in a loop
    makes a new candidate each time even though ``model`` is not rebound)."""
    keys: set[str] = set()
    targets = [loop.target] if isinstance(loop, (ast.For, ast.AsyncFor)) else []
    nodes = [node for target in targets for node in ast.walk(target)]
    for node in [*nodes, *scope_nodes(loop.body + loop.orelse)]:
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            keys.add(dotted(node) or root_name(node) or "")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            keys.add(dotted(node.value) or root_name(node) or "")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in REFIT_METHODS:
            keys.add(dotted(node.func.value) or root_name(node.func.value) or "")
    keys.discard("")
    return frozenset(keys)


def contains_loop(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    loops = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    body = node.body if isinstance(node.body, list) else [node.body]
    return any(isinstance(sub, loops) for sub in scope_nodes(body))
