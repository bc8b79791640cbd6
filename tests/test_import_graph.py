"""No import cycle between any two modules of ``autograder`` (issue 24, "contracts that see
everything").

What counts as an import: every ``import`` and ``from … import`` statement anywhere in a module
of the package: at the top, under ``if TYPE_CHECKING:``, and inside function bodies.

* ``TYPE_CHECKING`` imports count: the type checker reads both modules together, and a cycle
  hidden from the interpreter is still two modules that cannot be read, checked or shipped
  apart (the leak analysis ships to students alone, for instance).
* Imports inside functions count too: a lazy import that closes a cycle only postpones it to
  the first call (and makes the import order of the process decide what works). When a
  function needs a module late, for start-up time or an optional dependency, it may import
  one that does not import it back.
* Not counted: Python's implicit import of a module's parent packages. Importing
  ``autograder.checks.suite`` runs ``autograder/checks/__init__.py`` first, which re-exports
  ``run_check`` from ``suite``; counting that as ``suite → autograder.checks`` would make a
  "cycle" of every package that re-exports its children, whatever the code says. A module
  that names its package explicitly (``from autograder.checks import run_check``) imports the
  package's ``__init__`` like any other module, and that edge counts.
* Not seen: ``importlib.import_module`` with a name built at run time (the suite's loading of
  an assignment's judges, for instance): a string, not an import.

The graph is grimp's (the one import-linter checks its contracts on), built with
``exclude_type_checking_imports=False`` and read for both kinds of imports above; the second
test proves that on a small package, and the third compares grimp's edges with an ``ast`` walk
of every file of the package, so that a grimp that started skipping some kind of import would
fail here rather than hide a cycle.
"""

from __future__ import annotations

import ast
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "autograder"

Graph = Mapping[str, frozenset[str]]


def build_graph(package: str = PACKAGE) -> grimp.ImportGraph:
    # cache_dir=None: nothing written into the working tree
    return grimp.build_graph(package, include_external_packages=False, exclude_type_checking_imports=False,
                             cache_dir=None)


def adjacency(graph: grimp.ImportGraph) -> dict[str, frozenset[str]]:
    return {module: frozenset(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def strongly_connected_components(edges: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit), components in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return sorted(components)


def cycles(edges: Graph) -> list[list[str]]:
    """The groups of modules that import one another, directly or not (components of more than
    one module, or a module that imports itself)."""
    return [component for component in strongly_connected_components(edges)
            if len(component) > 1 or component[0] in edges.get(component[0], ())]


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    members = set(component)
    lines = [" ⇄ ".join(component)]
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(f"    {importer}:{detail['line_number']}: {detail['line_contents']}")
    return "\n".join(lines)


def test_no_import_cycle():
    graph = build_graph()
    found = cycles(adjacency(graph))
    assert not found, ("import cycles (TYPE_CHECKING and function-level imports included; break each by "
                       "moving what both sides need into a module both import):\n"
                       + "\n".join(describe(graph, component) for component in found))


def test_the_graph_counts_type_checking_and_function_level_imports(tmp_path, monkeypatch):
    package = tmp_path / "cyclic_example"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(textwrap.dedent("""
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from cyclic_example.b import B
    """))
    (package / "b.py").write_text(textwrap.dedent("""
        def late():
            from cyclic_example import a
            return a
    """))
    (package / "c.py").write_text("import cyclic_example.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = build_graph("cyclic_example")
    assert cycles(adjacency(graph)) == [["cyclic_example.a", "cyclic_example.b"]]


def test_the_graph_has_every_import_the_source_states():
    """Every import statement of every file, resolved to the package's module it names, is an
    edge of grimp's graph: nothing the cycle test relies on is skipped."""
    stated = stated_imports(ROOT / PACKAGE, PACKAGE)
    graph = adjacency(build_graph())
    missing = sorted((importer, imported) for importer, targets in stated.items() for imported in targets
                     if imported not in graph.get(importer, ()))
    assert not missing, f"imports the graph does not have: {missing}"
    assert set(stated) == set(graph), "the graph and the files disagree on the package's modules"


def stated_imports(folder: Path, package: str) -> dict[str, frozenset[str]]:
    files = {module_name(path, folder, package): path for path in sorted(folder.rglob("*.py"))}
    return {name: frozenset(imports_in(path, name, files)) for name, path in files.items()}


def module_name(path: Path, folder: Path, package: str) -> str:
    parts = [package, *path.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(path: Path, name: str, modules: Mapping[str, Path]) -> Iterable[str]:
    """The package's modules a file imports, wherever the statement is."""
    own_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own_package.rsplit(".", node.level - 1)[0] if node.level > 1 else own_package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # ``from package import module`` imports the submodule; ``from module import name`` the module
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import autograder.checks.suite.x``: the module part
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


# the kernel side (pyproject.toml's forbidden contract, run by lint-imports in test_code_quality.py)

KERNEL_CONTRACT = "kernel side: what runs in the student's kernel imports nothing of the grader"


def kernel_side(graph: grimp.ImportGraph) -> set[str]:
    """The contract's source modules: what runs inside the student's kernel."""
    with open(ROOT / "pyproject.toml", "rb") as stream:
        contracts = tomllib.load(stream)["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"] == KERNEL_CONTRACT]
    assert contract["type"] == "forbidden"
    assert contract["as_packages"] is False
    modules: set[str] = set()
    for expression in contract["source_modules"]:
        matched = graph.find_matching_modules(expression) if "*" in expression else {expression} & graph.modules
        assert matched, f"{expression!r} (kernel side) names no module of the package"
        modules |= matched
    return modules


def test_the_kernel_side_imports_only_the_kernel_side():
    """What lint-imports cannot say with a list of forbidden modules: the kernel side imports
    nothing outside itself, so a module added to the package later, and forbidden nowhere,
    is refused too (the kernel has none of the grader on its disk)."""
    graph = build_graph()
    allowed = kernel_side(graph)
    outside = sorted(f"{importer}:{detail['line_number']}: {detail['line_contents']}"
                     for importer in allowed
                     for imported in graph.find_modules_directly_imported_by(importer) - allowed
                     for detail in graph.get_import_details(importer=importer, imported=imported))
    assert not outside, "the kernel side imports the grader:\n" + "\n".join(outside)


def test_the_kernel_side_covers_what_reaches_the_kernel():
    """Every module the student runtime ships (``bundle.STUDENT_MODULES``) and every module
    the split runner sends into the kernel (``PROBE_MODULES``, each assignment's probes) is on
    the contract's kernel side, read from the source without importing the grader."""
    graph = build_graph()
    shipped = {*declared_paths("STUDENT_MODULES"), *declared_paths("PROBE_MODULES")}
    sent = set()
    for path in shipped:
        module = ".".join([PACKAGE, *Path(path).with_suffix("").parts]).removesuffix(".__init__")
        assert module in graph.modules, f"{path} is not a module of the package"
        sent |= {module} if path.endswith(".py") else {module, *graph.find_descendants(module)}  # a folder: all of it
    sent |= graph.find_matching_modules(f"{PACKAGE}.checks.*.probes")
    missing = sorted(sent - kernel_side(graph))
    assert not missing, f"reach the kernel but are not on the contract's kernel side (pyproject.toml): {missing}"


def declared_paths(constant: str) -> tuple[str, ...]:
    """A tuple of paths below the package, assigned to ``constant`` in one of its modules."""
    found = [ast.literal_eval(node.value) for path in sorted((ROOT / PACKAGE).rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Assign)
             and any(isinstance(target, ast.Name) and target.id == constant for target in node.targets)]
    assert len(found) == 1, f"{constant}: expected one assignment of a literal tuple, found {len(found)}"
    return found[0]


# the cycle finder itself

@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset()}, []),
    ({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})}, [["a", "b", "c"]]),
    ({"a": frozenset({"b"}), "b": frozenset({"a"}), "c": frozenset({"c", "a"})}, [["a", "b"], ["c"]]),
])
def test_cycles_are_found(edges, expected):
    assert cycles(edges) == expected
