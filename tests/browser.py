"""Headless Chromium for the tests that open a page as a user would (report.html, the feedback
pages, the manual-grading pages): Debian's ``chromium``, which scripts/bootstrap.sh installs as
root. Without it a test skips, unless this machine could have installed it (root with apt-get):
then it fails, saying how to install it."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

WINDOW = (1200, 1600)


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail("no chromium, though this machine can install it: run `bash scripts/bootstrap.sh` "
                    "(as root it installs Debian's chromium with apt-get)")
    pytest.skip("no chromium here, and no way to install it (not root, or no apt-get): "
                "the report's pages were not opened in a browser")


def chromium(url: str, *arguments: str, profile: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                           f"--user-data-dir={profile}", *arguments, url],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def dump_dom(url: str, tmp_path: Path) -> Page:
    """The document as Chromium built it (after its parser, and any script, ran)."""
    page = Page()
    page.feed(chromium(url, "--dump-dom", profile=tmp_path / "profile").stdout)
    return page


def screenshot(url: str, tmp_path: Path) -> Image.Image:
    shot = tmp_path / "shot.png"
    chromium(url, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", profile=tmp_path / "profile")
    return Image.open(shot).convert("RGB")


def drawn_share(image: Image.Image) -> float:
    """The share of pixels that are not the white background."""
    grey = image.convert("L")
    histogram = grey.histogram()
    return 1 - sum(histogram[250:]) / (grey.width * grey.height)


class Page(HTMLParser):
    """What the tests read in a DOM: elements with their attributes, the links and images with
    the table they are in, the text of each element outside <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.links: list[dict[str, str]] = []
        self.texts: list[str] = []
        self.title = ""
        self._open: list[tuple[str, dict[str, str]]] = []
        self._link: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "a":
            table = next((a.get("class", "") for t, a in reversed(self._open) if t == "table"), "")
            self._link = {**attributes, "table": table, "text": ""}
            self.links.append(self._link)
        if tag not in ("img", "br", "meta", "link", "input", "hr"):
            self._open.append((tag, attributes))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break
        if tag == "a":
            self._link = None

    def handle_data(self, data):
        inside = [t for t, _ in self._open]
        if "style" in inside or "script" in inside:
            return
        if "title" in inside:
            self.title += data
        self.texts.append(data)
        if self._link is not None:
            self._link["text"] += data

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attributes for tag, attributes in self.elements if tag == name]

    def text(self) -> str:
        return "".join(self.texts)
