"""nbgrader end to end on the real course directory: generate, submit, autograde, export.

Each assignment is graded for several "students": the source notebook (full marks), the
released notebook untouched (zero, and the run completes), and realistic bugs, each made
by editing one line of the solution. A bug must lose the points of the test cells that
exercise the broken function, keep the points of the functions it does not touch, and
leave a message with a hint in the graded notebook.
"""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
pytestmark = pytest.mark.slow

# The realistic bugs of each assignment live in tests/assignment_bugs/<assignment>.py.
BUG_FOLDER = Path(__file__).with_name("assignment_bugs")
ASSIGNMENTS = tuple(sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir()))


def load_bugs():
    """[(student, assignment, old, new, must_fail, must_pass)] from every assignment's bug file."""
    bugs = []
    for assignment in ASSIGNMENTS:
        namespace = {}
        exec((BUG_FOLDER / f"{assignment}.py").read_text(), namespace)
        assert len(namespace["BUGS"]) >= 3, f"{assignment} needs at least three realistic bugs"
        bugs += [(student, assignment, *rest) for student, *rest in namespace["BUGS"]]
    return bugs


BUGS = load_bugs()


def nbgrader(course, *args):
    """Run the nbgrader command line in the course directory; fail the test on a non-zero exit."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args, "--log-level=WARN"],
                            cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def submit(course, student, assignment, notebook):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{assignment}.ipynb")


def with_bug(notebook, old, new):
    """A copy of ``notebook`` with ``old`` replaced by ``new`` once, in the solution cells only."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and old in cell.source:
            cell.source = cell.source.replace(old, new, 1)
            return notebook
    raise AssertionError(f"the bug's text {old!r} is not in any solution cell: update BUGS")


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """Copy the course, generate, submit every student, autograde, export to CSV."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copytree(COURSE / "source", course / "source")
    for assignment in ASSIGNMENTS:
        nbgrader(course, "generate_assignment", assignment)
        source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        submit(course, "solution", assignment, source)
        submit(course, "untouched", assignment, release)
        for student, bug_assignment, old, new, _, _ in BUGS:
            if bug_assignment == assignment:
                submit(course, student, assignment, with_bug(source, old, new))
        nbgrader(course, "autograde", assignment)
    nbgrader(course, "export", "--to", "grades.csv")
    return course


def cell_scores(course, assignment, student):
    """{grade cell name: (score, max score)} of one autograded notebook, from the gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        return {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}


def exported(course):
    """{(assignment, student): (score, max score)} from the exported CSV."""
    with open(course / "grades.csv", newline="") as handle:
        return {(row["assignment"], row["student_id"]): (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(handle)}


def failure_message(course, assignment, student, cell_name):
    """The error text of one test cell in the autograded notebook."""
    path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == cell_name:
            return "\n".join(f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.output_type == "error")
    raise AssertionError(f"no cell {cell_name} in {path}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(graded_course, assignment):
    scores = cell_scores(graded_course, assignment, "solution")
    assert len(scores) >= 10, f"too few graded cells: {scores}"
    assert all(score == top for score, top in scores.values()), scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(graded_course, assignment):
    scores = cell_scores(graded_course, assignment, "untouched")
    assert all(score == 0 for score, _ in scores.values()), scores
    # Every test cell ran and failed on the student's NotImplementedError, not on a crash of the run.
    message = failure_message(graded_course, assignment, "untouched", next(iter(scores)))
    assert "NotImplementedError" in message


@pytest.mark.parametrize("student, assignment, old, new, must_fail, must_pass", BUGS, ids=[b[0] for b in BUGS])
def test_bug_loses_points_with_a_hint(graded_course, student, assignment, old, new, must_fail, must_pass):
    scores = cell_scores(graded_course, assignment, student)
    failed = {name for name, (score, _) in scores.items() if score == 0}
    assert must_fail <= failed, f"{student}: cells that should fail but passed: {must_fail - failed}"
    assert not (must_pass & failed), f"{student}: unrelated cells lost points: {must_pass & failed}"
    total, top = sum(s for s, _ in scores.values()), sum(t for _, t in scores.values())
    assert 0 < total < top, f"{student}: expected partial credit, got {total}/{top}"
    for cell in sorted(must_fail):
        message = failure_message(graded_course, assignment, student, cell)
        assert "AssertionError" in message and "Hint" in message, f"{student}/{cell}: {message}"


def test_export_matches_gradebook(graded_course):
    grades = exported(graded_course)
    students = {"solution", "untouched"} | {b[0] for b in BUGS}
    for assignment in ASSIGNMENTS:
        for student in students:
            if student in {b[0] for b in BUGS if b[1] != assignment}:
                continue
            scores = cell_scores(graded_course, assignment, student)
            assert grades[(assignment, student)] == (
                sum(s for s, _ in scores.values()), sum(t for _, t in scores.values()))
    # The points of assignments 1 and 2, as the README states them.
    assert grades[("ps1_rnn_forward", "solution")] == (11.0, 11.0)
    assert grades[("ps2_bptt", "solution")] == (15.0, 15.0)
    assert grades[("ps1_rnn_forward", "untouched")] == (0.0, 11.0)
    assert grades[("ps2_bptt", "untouched")] == (0.0, 15.0)
    # Assignment 5: 32 points (tests/assignment_bugs/ps5_variants_attention.py lists its bugs).
    assert grades[("ps5_variants_attention", "solution")] == (32.0, 32.0)
    assert grades[("ps5_variants_attention", "untouched")] == (0.0, 32.0)
    # Assignment 6: 26 points (tests/assignment_bugs/ps6_applications.py lists its bugs).
    assert grades[("ps6_applications", "solution")] == (26.0, 26.0)
    assert grades[("ps6_applications", "untouched")] == (0.0, 26.0)
