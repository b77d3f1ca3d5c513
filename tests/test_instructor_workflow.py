"""The README's instructor workflow, end to end, with nbgrader's local exchange:
generate, release, (student) fetch and submit, collect, sandboxed autograde, feedback, export."""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnncourse.autograde import sandbox

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
ASSIGNMENT = "ps1_rnn_forward"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    sandbox.sandbox_available() is not None, reason=f"no sandbox here: {sandbox.sandbox_available()}")]


def run(cwd, *args):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_release_fetch_submit_collect_autograde_feedback_export(tmp_path):
    course, student_home, exchange = tmp_path / "course", tmp_path / "student", tmp_path / "exchange"
    course.mkdir(), student_home.mkdir(), exchange.mkdir()
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "assignments" / "source", course / "source")
    nbgrader = BIN / "nbgrader"
    exchange_root = f"--Exchange.root={exchange}"

    run(course, nbgrader, "generate_assignment", ASSIGNMENT)
    run(course, nbgrader, "release_assignment", ASSIGNMENT, exchange_root)
    # The student fetches, answers with the solution's code, and submits.
    run(student_home, nbgrader, "fetch_assignment", ASSIGNMENT, "--course", "rnncourse", exchange_root)
    fetched = student_home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(fetched, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and grade_id != "relu":  # everything right but relu, left as released
            cell.source = answers[grade_id]
    nbformat.write(notebook, fetched)
    run(student_home, nbgrader, "submit", ASSIGNMENT, "--course", "rnncourse", exchange_root)
    run(course, nbgrader, "collect", ASSIGNMENT, exchange_root)
    students = [p.name for p in (course / "submitted").iterdir()]
    assert len(students) == 1

    output = run(course, sys.executable, "-m", "rnncourse.autograde", ASSIGNMENT, "--workers", "2")
    assert "graded 1 submissions" in output and "(sandboxed)" in output
    run(course, nbgrader, "generate_feedback", ASSIGNMENT)
    run(course, nbgrader, "export", "--to", "grades.csv")

    with open(course / "grades.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    # relu missing costs its own cell and the four cells that also try the relu activation.
    assert (row["student_id"], float(row["score"]), float(row["max_score"])) == (students[0], 6.0, 11.0)
    feedback = (course / "feedback" / students[0] / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "relu" in feedback and "NotImplementedError" in feedback and "BEGIN HIDDEN TESTS" not in feedback
    report = (course / "reports" / ASSIGNMENT / "report.md").read_text()
    assert "test_relu" in report
    # The formgrader reads the same gradebook through nbgrader's API.
    assert formgrader_scores(course) == [(students[0], 6.0, 11.0)]


def formgrader_scores(course):
    """[(student, score, max score)] of the assignment as nbgrader's formgrader API reports them."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "rnncourse"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    return [(s["student"], s["score"], s["max_score"]) for s in api.get_submissions(ASSIGNMENT)]
