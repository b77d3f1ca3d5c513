"""A catalogue of hostile and broken submissions, graded by the real sandboxed autograde
command (``python -m rnncourse.autograde``) on every assignment.

The rule: a submission whose own code is wrong earns nothing, whatever it imports, loads or
switches off. Two attacks of that kind are in the catalogue: calling the reference with the
notebook's profiler switched off, and loading the package's source files again under another
module name; both fail because the sandbox holds no reference code at all. A disk-filling
submission must have its writes refused everywhere and still earn its points, while the
host's free space does not move.

Many attacks are written as canaries: the submission defines correct functions only if the
attack worked (it could read the gradebook, reach the network, ...), so a leak shows up as
points. For every entry the expectation is stated against plain reference submissions: the
source notebook (full marks), the released notebook (zero), or the source with one function
replaced by a stub ("as if that function were missing"). After grading, the tests check the
scores in the gradebook, that the batch completed with a reason for every broken
submission, that no sandbox process is left, that other students' grades are intact, that
feedback shows no hidden test, and that a parallel run grades exactly as a serial run.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

import rnncourse
from rnncourse.autograde import sandbox

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = tuple(sorted(p.name for p in (ROOT / "assignments" / "source").iterdir() if p.is_dir()))
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
TIMEOUT = 15  # seconds a whole submission may run in these tests
GRADE_ARGS = ["--timeout", str(TIMEOUT), "--probe-timeout", "1"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    sandbox.sandbox_available() is not None, reason=f"no sandbox here: {sandbox.sandbox_available()}")]


# ----------------------------------------------------------------------------
# Building submissions
# ----------------------------------------------------------------------------

def solution_ids(notebook):
    return [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution")]


def replace_cell(notebook, grade_id, source):
    """A copy of ``notebook`` whose cell ``grade_id`` holds ``source``."""
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return notebook
    raise KeyError(grade_id)


def solutions_code(source):
    """All solution code of the source notebook, as one string (what a successful attack obtains)."""
    return "\n\n".join(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution"))


def target(source):
    """The third solution cell and the function it defines (relu / rnn_step_backward)."""
    grade_id = solution_ids(source)[2]
    cell = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    name = cell.source.split("def ", 1)[1].split("(", 1)[0]
    return grade_id, name


def reference_module(function_name):
    """The rnncourse module that holds the reference of ``function_name``."""
    from rnncourse import grading

    return next(f.__module__ for f in grading.REFERENCE_FUNCTIONS if f.__name__ == function_name)


def canary(attack, source):
    """Code that runs ``attack`` (which sets ``leaked`` to True when it succeeds) and, only then,
    defines every function correctly."""
    return (f"leaked = False\ntry:\n" + "\n".join("    " + line for line in attack.strip().splitlines())
            + f"\nexcept BaseException:\n    pass\nif leaked:\n    exec({solutions_code(source)!r})\n")


def graded_functions(source):
    """``[(module, name)]`` of the reference of every function the assignment's solution cells define."""
    from rnncourse import grading

    references = {f.__name__: f.__module__ for f in grading.REFERENCE_FUNCTIONS}
    names = [line.split("def ", 1)[1].split("(", 1)[0] for c in source.cells
             if c.metadata.get("nbgrader", {}).get("solution") for line in c.source.splitlines() if line.startswith("def ")]
    return [(references[name], name) for name in names if name in references]


REFERENCE_WITHOUT_PROFILER = """
import importlib, sys
def _delegate(module, name):
    def wrapper(*args, **kwargs):
        sys.setprofile(None)  # the notebook's checks watch calls with a profiler: switch it off
        sys.settrace(None)
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    return wrapper
for _module, _name in {functions!r}:
    globals()[_name] = _delegate(_module, _name)
"""

RELOADED_SOURCES = """
import importlib.util, os, sys
def _package_folders():
    # Where the package was on the grading machine, and wherever an import could find a copy of it.
    yield {package!r}
    for entry in sys.path + ["/grader", "/work", "/tmp"]:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if os.path.isfile(os.path.join(entry or ".", name, "rnn.py")):
                yield os.path.join(entry or ".", name)
def _load(folder):
    # The package's files again, under another name, so no check that looks for `rnncourse` sees it.
    spec = importlib.util.spec_from_file_location("course_copy", os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules["course_copy"] = module
    spec.loader.exec_module(module)
    return module
for _folder in _package_folders():
    try:
        _load(_folder)
        for _module, _name in {functions!r}:
            globals()[_name] = getattr(importlib.import_module("course_copy" + _module[len("rnncourse"):]), _name)
        break
    except Exception:
        continue
"""

FILL_DISK = """
import os
_refused = []  # every place it could write to must have refused before 1 GiB
for _folder in (os.getcwd(), os.path.expanduser("~"), "/tmp", "/dev/shm", "/var/tmp"):
    _written = 0
    try:
        for _i in range(64):  # files of 16 MiB, under the per-file size limit
            with open(os.path.join(_folder, f"fill_{{_i}}.bin"), "wb") as _handle:
                for _ in range(16):
                    _handle.write(b"x" * 1024**2)
                    _written += 1024**2
        _refused.append(False)
    except OSError:
        _refused.append(True)
    print(_folder, _written // 1024**2, "MiB written")
if all(_refused):
    exec({solutions!r})
"""


def catalogue(course, assignment, listener_port):
    """``{student: (notebook or raw bytes, expectation)}``; expectation is "full", "zero",
    "as_missing" (the target function counts as missing) or "at_most_missing"."""
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    last = solution_ids(source)[-1]
    target_id, target_fn = target(source)
    target_source = next(c.source for c in source.cells
                         if c.metadata.get("nbgrader", {}).get("grade_id") == target_id)
    gradebook, src = course / "gradebook.db", course / "source" / assignment / f"{assignment}.ipynb"
    other = course / "submitted" / "solution" / assignment / f"{assignment}.ipynb"

    def attack(code):  # an attack placed in the last solution cell of the released notebook
        return replace_cell(release, last, canary(code, source))

    def in_target(body):  # the target function replaced by one with this body
        return replace_cell(source, target_id, f"def {target_fn}(*args, **kwargs):\n" + body)

    entries = {
        "solution": (source, "full"),
        "untouched": (release, "zero"),
        "missing_target": (in_target("    raise NotImplementedError()\n"), "as_missing"),
        "read_gradebook": (attack(f"""
import sqlite3
rows = sqlite3.connect("file:{gradebook}?mode=ro", uri=True).execute("select source from source_cell").fetchall()
leaked = len(rows) > 0"""), "zero"),
        "write_gradebook": (attack(f"""
import sqlite3
db = sqlite3.connect("{gradebook}")
db.execute("update grade set auto_score = 100, manual_score = 100")
db.commit()
open("{gradebook}", "r+b").truncate(0)
leaked = True"""), "zero"),
        "read_source": (attack(f"leaked = 'BEGIN SOLUTION' in open('{src}').read()"), "zero"),
        "read_other_submission": (attack(f"leaked = len(open('{other}').read()) > 0"), "zero"),
        "list_course_directory": (attack(f"import os\nleaked = len(os.listdir('{course}')) > 0"), "zero"),
        "network": (attack(f"""
import socket
socket.create_connection(("127.0.0.1", {listener_port}), timeout=2).close()
leaked = True"""), "zero"),
        "network_outside": (attack("""
import urllib.request
urllib.request.urlopen("http://pypi.org", timeout=3)
leaked = True"""), "zero"),
        "patch_package_on_disk": (attack("""
import rnncourse.grading as g
open(g.__file__, "a").write("\\nTOLERANCE = 1e300\\n")
leaked = True"""), "zero"),
        "monkeypatch_checks": (replace_cell(release, last, """
import builtins, numpy as np
import rnncourse.grading as grading_module
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
for name in dir(grading_module):
    if name.startswith(("check_", "output_error", "_fail", "run_cases")):
        setattr(grading_module, name, lambda *a, **k: None)
grading_module.TOLERANCE = float("inf")
builtins.AssertionError = type("NotAnError", (Exception,), {})
"""), "zero"),
        "forge_results": (replace_cell(release, last, """
import json
with open("events.jsonl", "a") as stream:
    for i in range(500):
        stream.write(json.dumps({"probe": i, "status": "ok", "value": {"kind": "none"}}) + "\\n")
    stream.write(json.dumps({"done": True}) + "\\n")
"""), "zero"),
        "calls_reference": (replace_cell(source, target_id, (
            f"def {target_fn}(*args, **kwargs):\n    from {reference_module(target_fn)} import {target_fn} as _reference\n"
            f"    return _reference(*args, **kwargs)\n")), "as_missing"),
        # The reference called with the notebook's profiler switched off, from wrong own code.
        "reference_profiler_off": (replace_cell(release, last, REFERENCE_WITHOUT_PROFILER.format(
            functions=graded_functions(source))), "zero"),
        # The package's source files loaded again under another module name, from wrong own code.
        "reload_package_sources": (replace_cell(release, last, RELOADED_SOURCES.format(
            package=str(Path(rnncourse.__file__).resolve().parent), functions=graded_functions(source))), "zero"),
        # Fills every writable place; only when all of them refused does it define its (correct) functions.
        "fill_disk": (replace_cell(release, last, FILL_DISK.format(solutions=solutions_code(source))), "full"),
        "os_exit": (replace_cell(source, solution_ids(source)[0],
                                 next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                                      == solution_ids(source)[0]) + "\nimport os\nos._exit(0)\n"), "zero"),
        "endless_loop": (in_target("    while True:\n        pass\n"), "as_missing"),
        "endless_loop_ignoring_timeouts": (in_target(
            "    while True:\n        try:\n            while True:\n                pass\n"
            "        except BaseException:\n            pass\n"), "at_most_missing"),
        "memory_hog": (in_target("    hog = [bytearray(10**8) for _ in range(200)]\n    return hog\n"), "as_missing"),
        "fork_bomb": (replace_cell(source, target_id, "import os\nwhile True:\n    try:\n        os.fork()\n"
                                   "    except OSError:\n        pass\n" + target_source), "at_most_missing"),
        "forks_then_works": (replace_cell(source, target_id, "import os, time\nfor _ in range(300):\n    try:\n"
                                          "        if os.fork() == 0:\n            time.sleep(60)\n"
                                          "            os._exit(0)\n    except OSError:\n        break\n"
                                          + target_source), "full"),
        "huge_output": (replace_cell(source, target_id, "import os\nfor i in range(1_000_000):\n    print('spam', i)\n"
                                     "try:\n    os.write(1, b'x' * 10**8)\nexcept OSError:\n    pass\n"
                                     + target_source), "full"),
        "stderr_warnings": (replace_cell(source, target_id, target_source.replace(
            "### BEGIN SOLUTION", "### BEGIN SOLUTION\n    import sys, warnings\n"
            "    warnings.warn('a harmless warning')\n    print('debug output', file=sys.stderr)")), "full"),
        "invalid_json": (b'{"cells": [ {"cell_type": "code", "source": "def tanh(a):', "zero"),
    }
    # Deleted cells: the target solution cell and two test cells removed.
    deleted = nbformat.from_dict(json.loads(json.dumps(source)))
    tests = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
             if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
    gone = {target_id, tests[0], tests[-1]}
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in gone]
    entries["deleted_cells"] = (deleted, "as_missing")
    # Duplicated cells: every cell twice (solutions and tests): the later copy runs, as in the notebook.
    duplicated = nbformat.from_dict(json.loads(json.dumps(source)))
    duplicated.cells = [c for cell in duplicated.cells
                        for c in (cell, nbformat.from_dict({**json.loads(json.dumps(cell)), "id": f"copy-{cell.id}"}))]
    entries["duplicated_cells"] = (duplicated, "full")
    # Reordered cells: everything in reverse order.
    reordered = nbformat.from_dict(json.loads(json.dumps(source)))
    reordered.cells = list(reversed(reordered.cells))
    entries["reordered_cells"] = (reordered, "full")
    # Changed metadata: test cells claim 100 points and to be solutions; ids changed.
    changed = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in changed.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            meta.update(points=100, solution=True, locked=False)
            cell.source = "pass"
    entries["changed_metadata"] = (changed, "full")
    return entries


# ----------------------------------------------------------------------------
# Grading the catalogue
# ----------------------------------------------------------------------------

class Listener:
    """A TCP server on the host's loopback that records every connection it receives."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.port, self.connections, self.running = self.server.getsockname()[1], 0, True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
                self.connections += 1
                connection.close()
            except OSError:
                continue

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


def run(course, *args):
    result = subprocess.run(args, cwd=course, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def make_course(folder):
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "assignments" / "source", folder / "source")
    for assignment in ASSIGNMENTS:
        run(folder, BIN / "nbgrader", "generate_assignment", assignment, "--log-level=ERROR")
    return folder


def submit_all(course, assignment, entries):
    for student, (notebook, _) in entries.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{assignment}.ipynb"
        if isinstance(notebook, bytes):
            path.write_bytes(notebook)
        else:
            nbformat.write(notebook, path)


def cell_scores(course, assignment):
    """``{student: {grade cell: score}}`` from the gradebook."""
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                scores[submission.student.id] = {grade.name: grade.score for grade in notebook.grades}
    return scores


def sandbox_processes():
    """Processes still running under a sandbox user id."""
    out = subprocess.run(["ps", "-eo", "uid=,pid=,comm="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split() and int(line.split()[0]) >= sandbox.BASE_UID]


class FreeSpace:
    """Samples the free space of the filesystem that holds ``folder`` while grading runs."""

    def __init__(self, folder):
        self.folder, self.before = folder, shutil.disk_usage(folder).free
        self.lowest, self.running = self.before, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            self.lowest = min(self.lowest, shutil.disk_usage(self.folder).free)
            time.sleep(0.05)

    def close(self):
        self.running = False
        self.thread.join()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Both assignments graded in parallel (2 Dask workers); ps1 also graded serially."""
    listener = Listener()
    root = tmp_path_factory.mktemp("hostile")
    parallel, serial = make_course(root / "parallel"), make_course(root / "serial")
    # The "solution" student must exist before the others are built (one attack reads it).
    outputs, entries, seconds = {}, {}, {}
    for assignment in ASSIGNMENTS:
        entries[assignment] = catalogue(parallel, assignment, listener.port)
        submit_all(parallel, assignment, entries[assignment])
    free_space = FreeSpace(parallel)
    for assignment in ASSIGNMENTS:
        started = time.monotonic()
        outputs[assignment] = run(parallel, sys.executable, "-m", "rnncourse.autograde", assignment,
                                  "--workers", "2", *GRADE_ARGS).stdout
        seconds[assignment] = time.monotonic() - started
    free_space.close()
    submit_all(serial, ASSIGNMENTS[0], catalogue(serial, ASSIGNMENTS[0], listener.port))
    started = time.monotonic()
    run(serial, sys.executable, "-m", "rnncourse.autograde", ASSIGNMENTS[0], "--workers", "1", *GRADE_ARGS)
    seconds["serial"] = time.monotonic() - started
    listener.close()
    print("grading times (s):", {k: round(v, 1) for k, v in seconds.items()})
    return {"parallel": parallel, "serial": serial, "entries": entries, "outputs": outputs,
            "listener": listener, "seconds": seconds, "free_space": free_space}


def expected_scores(scores, expectation):
    """What each test cell should score for a submission with this expectation."""
    if expectation == "full":
        return scores["solution"]
    if expectation == "zero":
        return {cell: 0 for cell in scores["solution"]}
    return scores["missing_target"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_submissions(graded, assignment):
    scores = cell_scores(graded["parallel"], assignment)
    assert all(score > 0 for score in scores["solution"].values()), scores["solution"]
    assert all(score == 0 for score in scores["untouched"].values()), scores["untouched"]
    missing = scores["missing_target"]
    assert 0 < sum(missing.values()) < sum(scores["solution"].values()), missing


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_hostile_submission_gets_exactly_what_it_earned(graded, assignment):
    scores = cell_scores(graded["parallel"], assignment)
    entries = graded["entries"][assignment]
    assert set(scores) == set(entries), "every submission, even a broken one, is in the gradebook"
    wrong = {}
    for student, (_, expectation) in entries.items():
        expected = expected_scores(scores, expectation)
        got = scores[student]
        if expectation == "at_most_missing":
            if any(got[cell] > expected[cell] for cell in got):
                wrong[student] = (got, expected)
        elif got != expected:
            wrong[student] = (got, expected)
    assert not wrong, json.dumps(wrong, indent=1)


def test_disk_filling_submission_leaves_the_hosts_disk_alone(graded):
    """Each fill_disk submission tried to write 1 GiB in every writable place (and was refused
    everywhere, else it would not have scored full marks above); the host's free space did not move."""
    free_space = graded["free_space"]
    dropped = free_space.before - free_space.lowest
    print(f"host free space: {free_space.before / 1024**3:.2f} GiB before, lowest {free_space.lowest / 1024**3:.2f} GiB "
          f"while grading (drop {dropped / 1024**2:.0f} MiB)")
    assert dropped < 256 * 1024**2, f"free space of the course's disk dropped by {dropped / 1024**2:.0f} MiB"
    for assignment in ASSIGNMENTS:
        result = json.loads((graded["parallel"] / "autograde_results" / assignment / "fill_disk" / f"{assignment}.json")
                            .read_text())
        assert all(cell["passed"] for cell in result["cells"].values()), result["cells"]


def test_no_connection_left_the_sandbox(graded):
    assert graded["listener"].connections == 0


def test_no_sandbox_process_survives(graded):
    assert sandbox_processes() == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_gradebook_and_course_files_are_intact(graded, assignment):
    course = graded["parallel"]
    source = ROOT / "assignments" / "source" / assignment / f"{assignment}.ipynb"
    assert (course / "source" / assignment / f"{assignment}.ipynb").read_bytes() == source.read_bytes()
    from rnncourse import grading

    assert "1e300" not in Path(grading.__file__).read_text()  # the package on disk is read-only to students
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:  # no score of 100 was written
                    assert grade.score <= grade.max_score, (submission.student.id, grade.name, grade.score)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_broken_submissions_are_reported_with_a_reason(graded, assignment):
    output = graded["outputs"][assignment]
    reasons = {line.split(":", 1)[0].strip(): line for line in output.splitlines() if line.startswith("  ")}
    assert "cannot be read" in reasons["invalid_json"]
    assert "ended the run early" in reasons["os_exit"]
    assert "time limit" in reasons["endless_loop_ignoring_timeouts"]
    assert "missing" in reasons["deleted_cells"]
    report = (graded["parallel"] / "reports" / assignment / "report.md").read_text()
    assert "invalid_json" in report and "Test cells, most often failed first" in report
    assert (graded["parallel"] / "reports" / assignment / "failures.png").stat().st_size > 0


def test_parallel_grades_equal_serial_grades(graded):
    assignment = ASSIGNMENTS[0]
    assert len(graded["entries"][assignment]) >= 20
    assert cell_scores(graded["parallel"], assignment) == cell_scores(graded["serial"], assignment)
    for student in graded["entries"][assignment]:
        results = [json.loads((graded[mode] / "autograde_results" / assignment / student / f"{assignment}.json")
                              .read_text())["cells"] for mode in ("parallel", "serial")]
        assert results[0] == results[1], student


def test_feedback_has_no_hidden_tests_or_expected_values(graded):
    course = graded["parallel"]
    for assignment in ASSIGNMENTS:
        run(course, BIN / "nbgrader", "generate_feedback", assignment, "--force", "--log-level=ERROR")
        source = (course / "source" / assignment / f"{assignment}.ipynb").read_text()
        hidden_calls = [line.strip().strip('",\\n') for line in source.split("BEGIN HIDDEN TESTS")[1].splitlines()[1:3]]
        for student in ("solution", "untouched", "missing_target"):
            html = (course / "feedback" / student / assignment / f"{assignment}.html").read_text()
            assert "BEGIN HIDDEN TESTS" not in html
            assert "seed=101" not in html and "seed=21" not in html, "a hidden test call is in the feedback"
            assert "array([" not in html, "an expected array is in the feedback"
        assert hidden_calls  # the source does have hidden tests to hide
