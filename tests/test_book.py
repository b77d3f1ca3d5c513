"""The book: every chapter re-executes to the same outputs (nbval), and the whole book builds
with warnings as errors.

The chapters are MyST Markdown notebooks with no stored outputs. For nbval, each chapter is
converted to .ipynb and executed once to record its outputs; nbval then executes it again and
compares every output, after sanitising memory addresses and numpy scalar reprs. Cells tagged
``nbval-ignore-output`` (timings, the device name) run but are not compared.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
pytestmark = pytest.mark.slow


def test_there_are_chapters():
    names = [chapter.stem for chapter in CHAPTERS]
    assert "ch01_recurrent_cell" in names and "ch02_bptt" in names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_reexecutes_to_the_same_outputs(chapter, tmp_path):
    notebook = jupytext.read(chapter)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(chapter.parent)}}).execute()
    executed = tmp_path / f"{chapter.stem}.ipynb"
    nbformat.write(notebook, executed)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(executed), "-p", "no:cacheprovider", "-q",
         "-o", "addopts=", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         "--nbval-current-env", "--rootdir", str(tmp_path)],
        cwd=chapter.parent, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """Build the whole book once, as the README's build command does, into a temporary folder."""
    output = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", "--all", "-W", "-n", "--keep-going", ".", "--path-output", str(output)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1800)
    return result, output / "_build" / "html"


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    log = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    warnings = [line for line in log.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    assert result.returncode == 0 and not warnings, "\n".join(warnings) or log[-5000:]
    assert (html / "index.html").exists()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_page_has_its_figures_and_no_errors(built_book, chapter):
    _, html = built_book
    page = (html / "book" / f"{chapter.stem}.html").read_text(encoding="utf8")
    assert "Traceback (most recent call last)" not in page
    images = re.findall(r"<img [^>]*>", page)
    figures = [img for img in images if "_images/" in img]
    assert figures, f"{chapter.stem} shows no figure computed in the build"
    for img in figures:
        alt = re.search(r'alt="([^"]*)"', img)
        src = re.search(r'src="([^"]*)"', img).group(1)
        assert alt and alt.group(1).strip() and alt.group(1) not in src, f"figure without real alt text: {img}"
        assert (html / "book" / src).resolve().exists(), f"missing image file {src}"
