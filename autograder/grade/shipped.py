"""What an autograder zip ships for its runners: the test files, the manifest, grading.toml
and the files the build computed beside it, and the course secret; read from the zip, or
from the folder it was unzipped into (Gradescope's ``/autograder/source``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from autograder.assignment import MANIFEST_FILE, Manifest
from autograder.shipping import COURSE_SECRET_MEMBER

BUNDLED_MEMBERS = "files/autograder/_assignments/"  # grading.toml and what the build computed


def autograder_files(source: Path) -> dict[str, bytes]:
    """The manifest, grading.toml and the course secret of an autograder zip, or of the folder
    it was unzipped into (Gradescope's /autograder/source), by their names inside the zip."""
    wanted = lambda name: (name.startswith(BUNDLED_MEMBERS) and name.endswith((".toml", ".json"))  # noqa: E731
                           or name == COURSE_SECRET_MEMBER)
    if source.is_dir():
        return {path.relative_to(source).as_posix(): path.read_bytes()
                for path in sorted(source.rglob("*")) if path.is_file() and wanted(path.relative_to(source).as_posix())}
    with zipfile.ZipFile(source) as archive:
        return {name: archive.read(name) for name in sorted(archive.namelist()) if wanted(name)}


def zip_manifest(files: dict[str, bytes]) -> Manifest | None:
    """The manifest the build shipped (None in zips built before manifests)."""
    for member, text in files.items():
        if member.startswith(BUNDLED_MEMBERS) and member.endswith(f"/{MANIFEST_FILE}"):
            return Manifest.from_json(text.decode())
    return None


def hidden_cases(files: dict[str, bytes]) -> list[tuple[str, str, float]]:
    """(question, check, points) of every hidden check, in the notebook's order; none for a
    zip without a manifest (graded by Otter's runner, which needs none)."""
    manifest = zip_manifest(files)
    return manifest.hidden_checks() if manifest else []


def zip_assignment(files: dict[str, bytes]) -> tuple[str, str]:
    """The assignment's name and its grading.toml, as the zip ships them."""
    for member, text in files.items():
        if member.endswith("grading.toml"):
            return Path(member).parent.name, text.decode()
    raise ValueError("the autograder zip has no files/autograder/_assignments/<name>/grading.toml")


def write_assignment_files(files: dict[str, bytes], assignment: str, folder: Path) -> None:
    """The zip's grading.toml and the files the build computed beside it (the reference
    training), where this process's judges read them: ``folder/<assignment>/``."""
    prefix = f"{BUNDLED_MEMBERS}{assignment}/"
    (folder / assignment).mkdir(parents=True, exist_ok=True)
    for member, data in files.items():
        if member.startswith(prefix) and "/" not in member[len(prefix):]:
            (folder / assignment / member[len(prefix):]).write_bytes(data)


def shipped_course_secret(files: dict[str, bytes]) -> bytes:
    """The secret the build put in the zip; none in zips built before there was one."""
    text = files.get(COURSE_SECRET_MEMBER, b"").decode().strip()
    return bytes.fromhex(text) if text else b""
