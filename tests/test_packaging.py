"""The package as pip installs it, away from the repository: a wheel built from pyproject.toml
carries every module and data file of ``autograder/``, each of its modules imports from the
installed copy alone, and every third-party package it imports is a declared dependency.

The wheel is built from a copy of what the build reads (pyproject.toml, README.md and the
package), not in the working tree: setuptools writes build/ and an egg-info beside its input,
and a stale build/lib would put deleted modules into the wheel.
"""

from __future__ import annotations

import ast
import json
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "autograder"
BUILD_INPUTS = ("pyproject.toml", "README.md", PACKAGE)
NOT_SHIPPED = ("__pycache__", "*.pyc")
# data the code reads beside its modules (Path(__file__)…), checked in the installed copy too
DATA_FILES = ("autograder/report/templates/report.html.j2",)

# Runs in a fresh interpreter (-I -S: no PYTHON* variables, no current folder, no .pth files,
# so not the editable install's finder that maps ``autograder`` to the repository); its path
# is the installed copy, the standard library and the venv's site-packages (third-party only).
# Then, in every module imported, the files the code names beside itself (a module-level Path
# inside the package, as report.html's TEMPLATES; a tuple of package-relative names, as the
# modules the build copies into the zip): each that exists in the source copy must exist in the
# installed one.
IMPORT_EVERYTHING = r'''
import importlib, json, pkgutil, sys, traceback
from pathlib import Path
target, source, *site_dirs = sys.argv[1:]
sys.path[:] = [target] + [p for p in sys.path if p] + site_dirs
failures = {}
def record(name):
    failures[name] = traceback.format_exc()
import autograder
names = ["autograder"]
try:
    names += [info.name for info in pkgutil.walk_packages(autograder.__path__, "autograder.", onerror=record)]
except BaseException:
    record("(walking the package)")
for name in names:
    try:
        importlib.import_module(name)
    except BaseException:
        record(name)
installed, original = Path(autograder.__file__).resolve().parent, Path(source) / "autograder"
checked, missing = {}, []
for name in names:
    for attribute, value in list(getattr(sys.modules.get(name), "__dict__", {}).items()):
        if isinstance(value, Path) and value.is_absolute() and installed in value.resolve().parents:
            relative = [value.resolve().relative_to(installed).as_posix()]
        elif isinstance(value, (tuple, list, frozenset)) and value and all(isinstance(v, str) for v in value):
            relative = [v for v in value if v and not v.startswith("/") and (original / v).exists()]
        else:
            continue
        for path in relative:
            if (original / path).exists():
                checked.setdefault(f"{name}.{attribute}", []).append(path)
                if not (installed / path).exists():
                    missing.append(f"{path} ({name}.{attribute})")
print(json.dumps({"names": names, "failures": failures, "path": sys.path, "package_dir": str(installed),
                  "checked": checked, "missing": missing,
                  "files": {name: getattr(sys.modules.get(name), "__file__", None) for name in names}}))
'''


@dataclass
class Installed:
    source: Path  # the copy the wheel was built from
    wheel: Path
    target: Path
    report: dict


def shipped_files(folder: Path) -> set[str]:
    """The package's files under ``folder``, as paths relative to it (no bytecode)."""
    return {path.relative_to(folder).as_posix() for path in (folder / PACKAGE).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def build_wheel(source: Path, out: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=120, cwd=source)
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def install(wheel: Path, target: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                           "--disable-pip-version-check", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def import_everything(target: Path, source: Path, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-I", "-S", "-c", IMPORT_EVERYTHING, str(target), str(source),
                           *site.getsitepackages()],
                          capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, f"the import run crashed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The project built into a wheel, installed with ``pip install --target``, and every module
    of it imported from there (one run for the tests below)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        else:
            shutil.copy(REPO / name, source / name)
    wheel = build_wheel(source, root / "wheel")
    target = root / "installed"
    install(wheel, target)
    cwd = root / "elsewhere"
    cwd.mkdir()
    return Installed(source, wheel, target, import_everything(target, source, cwd))


def test_the_wheel_carries_every_module_and_data_file_of_the_package(installed):
    """A module the package discovery misses ([tool.setuptools.packages.find]), or a data file no
    [tool.setuptools.package-data] pattern matches, is left out of the wheel without a word."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        in_wheel = {name for name in wheel.namelist() if name.startswith(f"{PACKAGE}/")}
    in_source = shipped_files(installed.source)
    assert not in_source - in_wheel, f"missing from the wheel: {sorted(in_source - in_wheel)}"
    assert set(DATA_FILES) <= in_wheel
    assert not in_source - shipped_files(installed.target), "pip install --target left files out"


def test_every_module_imports_from_the_installed_wheel_alone(installed):
    """Each module of the installed copy imports with nothing of the repository on the path: no
    import of a module that was moved or left out, none that reads the repository's folders."""
    report = installed.report
    failures = report["failures"]
    assert not failures, "these modules do not import from the installed wheel:\n" + "\n".join(
        f"  {name}: {trace.strip().splitlines()[-1]}" for name, trace in failures.items()
    ) + f"\nthe first one's traceback:\n{next(iter(failures.values()))[-3000:]}"
    target = installed.target.resolve()
    elsewhere = [p for p in report["path"] if Path(p).resolve() != target
                 and ((Path(p) / PACKAGE).exists() or (Path(p) / f"{PACKAGE}.py").exists())]
    assert not elsewhere, f"another {PACKAGE} is on the import run's path: {elsewhere}"
    strays = {name: file for name, file in report["files"].items()
              if not file or target not in Path(file).resolve().parents}
    assert not strays, f"imported from outside the installed copy: {strays}"
    expected = {path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
                for path in shipped_files(installed.source) if path.endswith(".py")}
    unseen = sorted(expected - set(report["names"]))
    assert not unseen, f"not found as modules of the installed package (a folder without __init__.py?): {unseen}"


def test_the_installed_package_finds_the_files_it_reads_beside_its_modules(installed):
    """What the code names through Path(__file__) or as package-relative names: the report's
    template folder, the modules the build copies into the student folder and the zip, the probe
    modules the split runner sends to the kernel."""
    report = installed.report
    assert Path(report["package_dir"]) == (installed.target / PACKAGE).resolve()
    assert not report["missing"], f"missing beside the installed modules: {report['missing']}"
    named = {f"{PACKAGE}/{path}" for paths in report["checked"].values() for path in paths}
    unnamed = [data for data in DATA_FILES if data not in named and Path(data).parent.as_posix() not in named]
    assert not unnamed, f"no module names these (or their folder) any more: {unnamed}; named: {report['checked']}"
    assert any(path.endswith(".py") for path in named), f"no module names its modules any more: {report['checked']}"


# Declared dependencies ---------------------------------------------------------------------------

def third_party_imports(package: Path) -> dict[str, set[str]]:
    """Top-level name -> the files importing it, for every absolute import of a module that is
    neither the standard library's nor the package's own."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, set()).add(path.relative_to(package.parent).as_posix())
    return found


def declared_distributions(pyproject: Path) -> set[str]:
    """The [project] dependencies, and what their extras pull in (``dask[distributed]`` declares
    ``distributed``), as canonical distribution names."""
    declared = set()
    for line in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        declared.add(canonicalize_name(requirement.name))
        for extra in requirement.extras:
            for pulled in metadata.requires(requirement.name) or []:
                pulled = Requirement(pulled)
                if pulled.marker is not None and pulled.marker.evaluate({"extra": extra}):
                    declared.add(canonicalize_name(pulled.name))
    return declared


def undeclared_imports(package: Path, pyproject: Path) -> dict[str, str]:
    """Imported name -> what is wrong with it: not installed, or installed by no declared distribution."""
    providers = metadata.packages_distributions()
    declared = declared_distributions(pyproject)
    problems = {}
    for name, files in sorted(third_party_imports(package).items()):
        distributions = {canonicalize_name(d) for d in providers.get(name, [])}
        if not distributions:
            problems[name] = f"no installed distribution provides it (imported by {', '.join(sorted(files))})"
        elif not distributions & declared:
            problems[name] = (f"provided by {', '.join(sorted(distributions))}, not in pyproject's "
                              f"[project] dependencies (imported by {', '.join(sorted(files))})")
    return problems


def test_every_third_party_import_of_the_package_is_a_declared_dependency():
    problems = undeclared_imports(REPO / PACKAGE, REPO / "pyproject.toml")
    assert not problems, "\n".join(f"{name}: {why}" for name, why in problems.items())
