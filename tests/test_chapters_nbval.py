"""Every chapter re-executes to the same outputs (nbval).

The chapters are MyST Markdown notebooks with no stored outputs. For nbval, each chapter is
converted to .ipynb and executed once to record its outputs; nbval then executes it again and
compares every output, after sanitising memory addresses and numpy scalar reprs
(tests/nbval_sanitize.cfg). Cells tagged ``nbval-ignore-output`` (timings, the device name) run
but are not compared. (The build's own executed notebooks cannot serve as the reference: the
build strips the outputs of ``glue``.)
"""
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))
ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
pytestmark = pytest.mark.slow


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
