"""A real PostgreSQL gradebook: the README's instructor workflow on Postgres grades exactly as on SQLite.

Two copies of the course directory get the same submissions of assignment 1: the solution, the untouched
release, realistic bugs (from tests/assignment_bugs/), and a submission that tries to reach the Postgres
server from inside the sandbox. One copy keeps nbgrader's SQLite gradebook; the other points
``c.CourseDirectory.db_url`` at a PostgreSQL server started for the test. Both run ``nbgrader
generate_assignment``, the sandboxed ``python -m rnncourse.autograde`` (only its command line is used),
``nbgrader generate_feedback`` and ``nbgrader export``; every student's grades, per test cell and in the
exported CSV, must be equal, and the Postgres copy must hold them in Postgres (no SQLite file appears).

The server is a private cluster (``pg_createcluster`` on a free port, dropped with its data afterwards)
rather than Debian's ``main`` cluster: the test then starts, stops and writes into nothing that may already
be in use on the machine (``main`` may hold someone's databases, port 5432 may be taken), it cannot collide
with another run, and it leaves no role, database or running server behind. It needs Debian's
``postgresql`` package (``make postgres`` installs it as root) and root (to run the cluster as the
``postgres`` user); otherwise it is skipped with the reason.
"""
import csv
import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

psycopg = pytest.importorskip("psycopg", reason="the Postgres gradebook needs psycopg (pip install 'psycopg[binary]')")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
ASSIGNMENT = "ps1_rnn_forward"
BUG_FILE = Path(__file__).with_name("assignment_bugs") / f"{ASSIGNMENT}.py"
pytestmark = pytest.mark.slow


# ----------------------------------------------------------------------------
# A private PostgreSQL cluster
# ----------------------------------------------------------------------------

def postgres_missing():
    """Why no private cluster can be started here, or None when one can."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root (the cluster runs as the postgres user, created with pg_createcluster)"
    if shutil.which("pg_createcluster") is None or not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        return "needs Debian's postgresql package (make postgres, or apt-get install postgresql)"
    return None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_postgres(*args):
    result = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120,
                            cwd="/")
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def postgres_url():
    """``postgresql://...`` of an empty database owned by a password role, on a private cluster."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    version = max((Path(p).parts[4] for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")), key=float)
    name, port, password = f"rnncourse_test_{os.getpid()}", free_port(), secrets.token_hex(16)
    created = subprocess.run(["pg_createcluster", version, name, "-p", str(port), "--start-conf", "manual"],
                             capture_output=True, text=True, timeout=300)
    if created.returncode != 0:
        pytest.skip(f"pg_createcluster {version} failed: {created.stderr.strip()}")
    try:
        started = subprocess.run(["pg_ctlcluster", version, name, "start"], capture_output=True, text=True,
                                 timeout=120)
        if started.returncode != 0:
            pytest.skip(f"pg_ctlcluster {version} {name} start failed: {started.stderr.strip()}")
        as_postgres("psql", "-p", str(port), "-v", "ON_ERROR_STOP=1", "-qc",
                    f"CREATE ROLE rnncourse_grader LOGIN PASSWORD '{password}'")
        as_postgres("createdb", "-p", str(port), "-O", "rnncourse_grader", "rnncourse")
        # The README's form of the URL: SQLAlchemy's postgresql dialect with the psycopg (3) driver.
        yield f"postgresql+psycopg://rnncourse_grader:{password}@127.0.0.1:{port}/rnncourse"
    finally:
        subprocess.run(["pg_dropcluster", version, name, "--stop"], capture_output=True, timeout=120)


# ----------------------------------------------------------------------------
# The same submissions, graded on both gradebooks
# ----------------------------------------------------------------------------

def run(course, *args):
    result = subprocess.run([str(a) for a in args], cwd=course, env=ENV, capture_output=True, text=True, timeout=900)
    return result


def checked(course, *args):
    result = run(course, *args)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def load_bugs():
    namespace = {}
    exec(BUG_FILE.read_text(), namespace)
    return {student: (old, new, must_fail, must_pass) for student, old, new, must_fail, must_pass in namespace["BUGS"]}


def submissions(source, release, port):
    """{student: notebook}: the solution, the untouched release, every realistic bug of assignment 1, and a
    release whose last answer cell defines correct functions only if it can connect to the Postgres port."""
    def copy(notebook):
        return nbformat.from_dict(json.loads(json.dumps(notebook)))

    def with_bug(old, new):
        notebook = copy(source)
        cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution") and old in c.source)
        cell.source = cell.source.replace(old, new, 1)
        return notebook

    answers = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    all_answers = "\n\n".join(c.source for c in answers)
    reach_postgres = copy(release)
    last = next(c for c in reversed(reach_postgres.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == answers[-1].metadata["nbgrader"]["grade_id"])
    last.source = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
                   f"    exec({all_answers!r})\nexcept OSError:\n    pass\n")
    students = {"solution": copy(source), "untouched": copy(release), "reach_postgres": reach_postgres}
    students.update({student: with_bug(old, new) for student, (old, new, _, _) in load_bugs().items()})
    return students


def grade_course(course, db_url, port):
    """Run the README's workflow in ``course``; return its exported rows, per-cell scores and timings."""
    course.mkdir(parents=True)
    shutil.copytree(ROOT / "assignments" / "source", course / "source")
    config = (ROOT / "assignments" / "nbgrader_config.py").read_text()
    if db_url.startswith("postgresql"):
        config += f"\nc.CourseDirectory.db_url = {db_url!r}\n"
    (course / "nbgrader_config.py").write_text(config)
    seconds = {}
    started = time.monotonic()
    checked(course, BIN / "nbgrader", "generate_assignment", ASSIGNMENT, "--log-level=WARN")
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for student, notebook in submissions(source, release, port).items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")
    seconds["generate"] = time.monotonic() - started
    started = time.monotonic()
    graded = run(course, sys.executable, "-m", "rnncourse.autograde", ASSIGNMENT, "--workers", "2", "--timeout", "60")
    if graded.returncode == 2 and "cannot grade untrusted submissions" in graded.stderr:
        pytest.skip(f"no sandbox here: {graded.stderr.strip()}")
    assert graded.returncode == 0, f"autograde failed:\n{graded.stdout}\n{graded.stderr}"
    assert "(sandboxed)" in graded.stdout, graded.stdout
    seconds["autograde"] = time.monotonic() - started
    started = time.monotonic()
    checked(course, BIN / "nbgrader", "generate_feedback", ASSIGNMENT, "--log-level=WARN")
    checked(course, BIN / "nbgrader", "export", "--to", "grades.csv", "--log-level=WARN")
    seconds["feedback_export"] = time.monotonic() - started
    with open(course / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        cells = {submission.student.id: {grade.name: grade.score for notebook in submission.notebooks
                                         for grade in notebook.grades}
                 for submission in gradebook.assignment_submissions(ASSIGNMENT)}
    return {"course": course, "rows": rows, "cells": cells, "seconds": seconds}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, postgres_url):
    root = tmp_path_factory.mktemp("gradebooks")
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    sqlite = grade_course(root / "sqlite", f"sqlite:///{root / 'sqlite' / 'gradebook.db'}", port)
    postgres = grade_course(root / "postgres", postgres_url, port)
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM grade")
        postgres["rows_in_grade_table"] = cursor.fetchone()[0]
    print("\nstudent                SQLite score  Postgres score  (max)")
    for student in sorted(sqlite["rows"]):
        a, b = sqlite["rows"][student], postgres["rows"].get(student, {})
        print(f"{student:22} {a['score']:>12} {b.get('score', '-'):>15}  ({a['max_score']})")
    print("seconds:", {name: {k: round(v, 1) for k, v in run_["seconds"].items()}
                       for name, run_ in (("sqlite", sqlite), ("postgres", postgres))})
    return {"sqlite": sqlite, "postgres": postgres, "url": postgres_url}


def test_postgres_holds_the_gradebook(graded):
    postgres = graded["postgres"]
    assert not (postgres["course"] / "gradebook.db").exists(), "nbgrader wrote an SQLite gradebook instead"
    assert (graded["sqlite"]["course"] / "gradebook.db").exists()
    graded_cells = sum(len(cells) for cells in postgres["cells"].values())
    assert graded_cells > 0 and postgres["rows_in_grade_table"] == graded_cells


def test_grades_on_postgres_equal_grades_on_sqlite(graded):
    sqlite, postgres = graded["sqlite"], graded["postgres"]
    assert set(postgres["rows"]) == set(sqlite["rows"]) == set(sqlite["cells"])
    assert postgres["cells"] == sqlite["cells"]
    assert postgres["rows"] == sqlite["rows"]


def test_the_grades_are_the_expected_ones(graded):
    """Not only equal: the solution has full marks, the untouched release and the submission that tried to
    reach Postgres from the sandbox have zero, and each bug loses exactly the cells it breaks."""
    cells, rows = graded["postgres"]["cells"], graded["postgres"]["rows"]
    assert float(rows["solution"]["score"]) == float(rows["solution"]["max_score"]) > 0
    assert float(rows["untouched"]["score"]) == 0
    assert float(rows["reach_postgres"]["score"]) == 0, "the sandbox reached the Postgres server"
    full = cells["solution"]
    for student, (_, _, must_fail, must_pass) in load_bugs().items():
        assert all(cells[student][cell] == 0 for cell in must_fail), (student, cells[student])
        assert all(cells[student][cell] == full[cell] for cell in must_pass), (student, cells[student])


def test_feedback_for_every_student(graded):
    for run_ in (graded["sqlite"], graded["postgres"]):
        for student in run_["rows"]:
            html = run_["course"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
            assert html.exists(), html
            assert "BEGIN HIDDEN TESTS" not in html.read_text()
