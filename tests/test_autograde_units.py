"""Unit tests of the sandboxed autograder's trusted parts (no sandbox needed)."""
import json
from pathlib import Path

import nbformat
import pytest

from rnncourse import autograde, grading, sandbox, similarity

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "assignments" / "source" / "ps1_rnn_forward" / "ps1_rnn_forward.ipynb"


@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE, as_version=4)


def test_parse_test_cell_reads_checks_and_constants():
    checks = autograde.parse_test_cell(
        "# a comment\ngrading.check_rnn_forward(my_forward, seed=3, sizes=grading.SEQUENCE_SIZES)\n"
        "grading.check_activation(relu, 'relu', seed=4)")
    assert checks == [("check_rnn_forward", "my_forward", [], {"seed": 3, "sizes": grading.SEQUENCE_SIZES}),
                      ("check_activation", "relu", ["relu"], {"seed": 4})]


@pytest.mark.parametrize("code", [
    "assert rnn_forward(1) == 2",
    "import os",
    "grading.check_rnn_forward(lambda *a: 0)",
    "grading.not_a_check(rnn_forward)",
    "grading.check_rnn_forward(rnn_forward, seed=__import__('os').getpid())",
])
def test_parse_test_cell_refuses_anything_but_check_calls(code):
    with pytest.raises(ValueError):
        autograde.parse_test_cell(code)


def test_plan_of_assignment_one(source):
    plan = autograde.load_plan(source)
    kinds = [entry["kind"] for entry in plan]
    assert kinds.count("solution") == 5 and kinds.count("test") == 11 and kinds[0] == "setup"
    assert sum(entry["points"] for entry in plan if entry["kind"] == "test") == 11
    cases = autograde.plan_cases(plan)
    assert {name for _, name, _ in cases} == {"tanh", "sigmoid", "relu", "rnn_step_forward", "rnn_forward"}


def test_released_version_matches_nbgrader_release(source):
    cell = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step_forward")
    stub = autograde.released_version(cell.source)
    assert "raise NotImplementedError()" in stub and "x @ Wx" not in stub
    assert "ACTIVATIONS = " in stub and "def rnn_step_forward(" in stub


def test_student_cells_take_answers_by_id_and_ignore_test_cells(source):
    plan = autograde.load_plan(source)
    submission = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in submission.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "tanh":
            cell.source = "def tanh(a):\n    return 'mine'"
        elif meta.get("grade") and not meta.get("solution"):
            cell.source = "raise SystemExit"  # an edited test cell never runs
    submission.cells.append(nbformat.v4.new_code_cell("helper = 1"))
    codes, answers, notes = autograde.student_cells(plan, submission)
    assert answers["tanh"] == "def tanh(a):\n    return 'mine'"
    assert not any("SystemExit" in code for code in codes)
    assert codes[-1] == "helper = 1" and notes == []


def test_student_cells_restore_a_deleted_solution_as_released(source):
    plan = autograde.load_plan(source)
    submission = nbformat.from_dict(json.loads(json.dumps(source)))
    submission.cells = [c for c in submission.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "relu"]
    codes, answers, notes = autograde.student_cells(plan, submission)
    assert "relu" not in answers and any("def relu" in c and "NotImplementedError" in c for c in codes)
    assert notes == ["solution cell 'relu' is missing from the submission"]


def test_unreadable_submission_is_reported():
    notebook, problem = autograde.read_submission(b"{ not json")
    assert notebook is None and "cannot be read" in problem


def test_staged_notebook_is_the_release_with_the_students_answers(source):
    release = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = autograde.released_version(cell.source)
    submission = nbformat.from_dict(json.loads(json.dumps(source)))
    submission.cells = list(reversed(submission.cells))  # order does not matter
    staged = autograde.staged_notebook(release, submission)
    nbformat.validate(staged)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in staged.cells]
    assert ids == [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]
    tanh = next(c for c in staged.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "tanh")
    assert "np.tanh(a)" in tanh.source


def test_grading_refuses_without_a_sandbox(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "sandbox_available", lambda: "no bubblewrap here")
    with pytest.raises(sandbox.SandboxUnavailable, match="--allow-unsandboxed"):
        autograde.autograde_assignment(tmp_path, "ps1_rnn_forward")
    assert autograde.main(["ps1_rnn_forward", "--course", str(tmp_path)]) == 2


def test_normalisation_ignores_names_comments_and_docstrings():
    a = "def f(x, h):\n    '''doc'''\n    # comment\n    y = x @ h\n    return np.tanh(y)\n"
    b = "def g(inp, state):\n    z = inp @ state  # other comment\n\n    return np.tanh(z)\n"
    c = "def g(inp, state):\n    return np.maximum(inp @ state, 0)\n"
    assert similarity.normalized_tokens(a) == similarity.normalized_tokens(b)
    assert similarity.similarity(similarity.normalized_tokens(a), similarity.normalized_tokens(c)) < 1
    assert similarity.normalized_tokens("def broken(:") == []


def test_short_code_is_not_flagged():
    code = "def tanh(a):\n    return np.tanh(a)\n"
    assert similarity.find_copies({"a": {"tanh": code}, "b": {"tanh": code}}, {}) == []
