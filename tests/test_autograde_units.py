"""Unit tests of the sandboxed autograder's parts (no sandbox needed)."""
import ast
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rnncourse import grading, rnn
from rnncourse.autograde import batch, cli, nbgrader_glue, plan, sandbox, similarity, submission
from rnncourse.autograde.sandboxed import calling, protocol
from rnncourse.autograde.sandboxed.smooth_functions import SmoothFunction

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "assignments" / "source"
SOURCE = SOURCES / "ps1_rnn_forward" / "ps1_rnn_forward.ipynb"


@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE, as_version=4)


def test_parse_test_cell_reads_checks_and_constants():
    checks = plan.parse_test_cell(
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
        plan.parse_test_cell(code)


def test_plan_of_assignment_one(source):
    entries = plan.load_plan(source)
    kinds = [entry["kind"] for entry in entries]
    assert kinds.count("solution") == 5 and kinds.count("test") == 11 and kinds[0] == "setup"
    assert sum(entry["points"] for entry in entries if entry["kind"] == "test") == 11
    cases = plan.plan_cases(entries)
    assert {name for _, name, _ in cases} == {"tanh", "sigmoid", "relu", "rnn_step_forward", "rnn_forward"}


def test_set_up_imports_from_the_package_are_sent_as_data():
    code, names = plan.package_names(
        "import numpy as np\nfrom rnncourse import grading\n"
        "from rnncourse.rnn import RNNStepCache, rnn_forward, rnn_step_cache\nx = 1\n")
    assert code == "import numpy as np\nx = 1"
    assert names["grading"]["kind"] == "unavailable"
    assert names["rnn_forward"] == {"kind": "unavailable", "why": "it is a reference implementation of the course"}
    assert names["RNNStepCache"] == {"kind": "record_type", "type": "RNNStepCache",
                                     "fields": list(rnn.RNNStepCache._fields)}
    helper = names["rnn_step_cache"]
    assert helper["kind"] == "helper" and "def rnn_step_cache" in helper["source"]
    assert helper["globals"]["RNNStepCache"]["kind"] == "record_type"
    # Rebuilt from the data alone, the helper slices a cache as the package's does.
    rebuilt = protocol.decode_names(names, {})
    inputs = grading.sequence_inputs(0, 2, 3, 4, 5)
    _, cache = rnn.rnn_forward(**inputs)
    wire = protocol.decode_value(protocol.encode_value(cache, arrays := {}), arrays, {})
    step = rebuilt["rnn_step_cache"](wire, 1)
    expected = rnn.rnn_step_cache(cache, 1)
    assert type(step).__name__ == "RNNStepCache" and step._fields == expected._fields
    assert all(np.array_equal(a, b) for a, b in zip(step[:-1], expected[:-1])) and step[-1] == expected[-1]
    with pytest.raises(RuntimeError, match="not available to graded code"):
        rebuilt["rnn_forward"](1)
    with pytest.raises(RuntimeError, match="not available to graded code"):
        rebuilt["grading"].check_tanh(np.tanh)


def test_every_assignment_plans_and_sends_no_reference_code():
    """Each set-up cell's imports resolve, and no helper sent as source is a registered reference."""
    references = {f.__name__ for f in grading.REFERENCE_FUNCTIONS}
    for path in sorted(SOURCES.glob("*/*.ipynb")):
        for entry in plan.load_plan(nbformat.read(path, as_version=4)):
            if entry["kind"] == "setup":
                assert "rnncourse" not in entry["code"], path
                for name, spec in entry["names"].items():
                    if spec["kind"] == "helper":
                        assert spec["name"] not in references, (path, name)


def test_names_that_cannot_be_sent_stop_the_plan():
    with pytest.raises(ValueError, match="cannot be sent"):
        plan.package_names("from rnncourse.grading import TOLERANCE\n")
    with pytest.raises(ValueError, match="import rnncourse on a line of its own"):
        plan.package_names("import os, rnncourse\n")


def test_protocol_round_trip_of_probe_arguments():
    _, cache = rnn.rnn_step_forward(**grading.step_inputs(0, 2, 3, 4))
    rng = np.random.default_rng(7)
    value = (np.arange(3.0), cache, [1, 2.5, "tanh", None], {"gain": 2.0}, rng, SmoothFunction("tanh_matmul", np.eye(2)))
    arrays = {}
    described = json.loads(json.dumps(protocol.encode_value(value, arrays)))
    back = protocol.decode_value(described, arrays, {})
    assert np.array_equal(back[0], value[0]) and back[2] == value[2] and back[3] == value[3]
    assert type(back[1]).__name__ == "RNNStepCache" and back[1].activation == cache.activation
    assert np.array_equal(back[4].standard_normal(3), np.random.default_rng(7).standard_normal(3))
    assert np.allclose(back[5](np.ones((1, 2))), value[5](np.ones((1, 2))))
    back[0][0] = 99.0  # every decode gives fresh arrays: one call cannot spoil the next
    assert protocol.decode_value(described, arrays, {})[0][0] == 0.0
    with pytest.raises(TypeError, match="cannot be sent"):
        protocol.encode_value(object(), {})


def test_protocol_round_trip_of_results_and_hostile_data():
    def back(value):
        return protocol.decode_result(json.loads(json.dumps(protocol.describe_result(value))), grading.Unreadable)

    h = np.linspace(0, 1, 6).reshape(2, 3).astype(np.float32)
    got = back((h, object()))
    assert isinstance(got, list) and np.array_equal(got[0], h) and got[0].dtype == np.float32
    assert got[1] == grading.Unreadable("object")
    assert np.array_equal(back([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert back(None) is None and back("text") == grading.Unreadable("str")
    assert protocol.decode_result({"kind": "array", "npy": "not base64!"}, grading.Unreadable) == \
        grading.Unreadable("unreadable value")
    assert protocol.decode_result("junk", grading.Unreadable) == grading.Unreadable("value")
    events = protocol.read_events(b'{"probe": 0, "status": "ok"}\nnot json\n[1, 2]\n{"done": true}\n')
    assert events == [{"probe": 0, "status": "ok"}, {"done": True}]


def test_sandboxed_modules_import_nothing_from_the_package():
    """The folder mounted in the sandbox is leaf code: no ``rnncourse`` import, no relative import out of it."""
    folder = Path(sandbox.RUNNER_FOLDER)
    modules = sorted(folder.glob("*.py"))
    assert {p.name for p in modules} >= {"runner.py", "protocol.py", "calling.py", "smooth_functions.py"}
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "rnncourse" for a in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1 and (node.module or "").split(".")[0] != "rnncourse", path


def test_notebook_checks_and_runner_share_the_call_and_its_messages():
    assert grading.core.calling is calling

    def mutating(a):
        a += 1
        return a

    with pytest.raises(AssertionError) as in_notebook:
        grading.call_student(mutating, "mutating", np.zeros(2))
    with pytest.raises(calling.StudentCallError) as in_sandbox:
        calling.call_student(mutating, "mutating", (np.zeros(2),), {})
    assert str(in_notebook.value) == str(in_sandbox.value) == calling.mutation_message("mutating")


def test_released_version_matches_nbgrader_release(source):
    cell = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step_forward")
    stub = submission.released_version(cell.source)
    assert "raise NotImplementedError()" in stub and "x @ Wx" not in stub
    assert "ACTIVATIONS = " in stub and "def rnn_step_forward(" in stub


def test_student_cells_take_answers_by_id_and_ignore_test_cells(source):
    entries = plan.load_plan(source)
    notebook = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "tanh":
            cell.source = "def tanh(a):\n    return 'mine'"
        elif meta.get("grade") and not meta.get("solution"):
            cell.source = "raise SystemExit"  # an edited test cell never runs
    notebook.cells.append(nbformat.v4.new_code_cell("helper = 1"))
    cells, answers, notes = submission.student_cells(entries, notebook)
    assert answers["tanh"] == "def tanh(a):\n    return 'mine'"
    assert not any("SystemExit" in cell["source"] for cell in cells)
    assert cells[-1] == {"kind": "student", "source": "helper = 1", "names": {}} and notes == []
    assert cells[0]["kind"] == "setup" and "rnncourse" not in cells[0]["source"]


def test_student_cells_restore_a_deleted_solution_as_released(source):
    entries = plan.load_plan(source)
    notebook = nbformat.from_dict(json.loads(json.dumps(source)))
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "relu"]
    cells, answers, notes = submission.student_cells(entries, notebook)
    assert "relu" not in answers
    assert any("def relu" in c["source"] and "NotImplementedError" in c["source"] for c in cells)
    assert notes == ["solution cell 'relu' is missing from the submission"]


def test_unreadable_submission_is_reported():
    notebook, problem = submission.read_submission(b"{ not json")
    assert notebook is None and "cannot be read" in problem


def test_staged_notebook_is_the_release_with_the_students_answers(source):
    release = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = submission.released_version(cell.source)
    notebook = nbformat.from_dict(json.loads(json.dumps(source)))
    notebook.cells = list(reversed(notebook.cells))  # order does not matter
    staged = nbgrader_glue.staged_notebook(release, notebook)
    nbformat.validate(staged)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in staged.cells]
    assert ids == [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]
    tanh = next(c for c in staged.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "tanh")
    assert "np.tanh(a)" in tanh.source


def test_autograde_steps_are_nbgraders_with_execute_replaced():
    from nbgrader.converters import Autograde

    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    steps = nbgrader_glue.autograde_steps()
    assert len(steps) == len(defaults) and steps[0] == nbgrader_glue.SANDBOX_RESULTS
    assert "nbgrader.preprocessors.ignorepattern.IgnorePattern" in steps  # nbgrader 0.9's extra step
    assert not any(step.endswith(".Execute") for step in steps)


def test_grading_refuses_without_a_sandbox(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "sandbox_available", lambda: "no bubblewrap here")
    with pytest.raises(sandbox.SandboxUnavailable, match="--allow-unsandboxed"):
        batch.autograde_assignment(tmp_path, "ps1_rnn_forward")
    assert cli.main(["ps1_rnn_forward", "--course", str(tmp_path)]) == 2


def test_the_package_is_hidden_wherever_a_bound_folder_holds_it(tmp_path):
    import rnncourse

    package = str(Path(rnncourse.__file__).resolve().parent)
    assert package in sandbox.package_paths([str(Path(package).parent)])
    assert sandbox.package_paths(["/nonexistent"]) == []
    command = sandbox.bwrap_command(tmp_path, ["python"], 61000)
    assert ["--ro-bind", str(sandbox.RUNNER_FOLDER), sandbox.INSIDE_RUNNER] == \
        command[command.index(str(sandbox.RUNNER_FOLDER)) - 1:][:3]
    assert not any(part == package for part in command), "the package's folder is never mounted"
    sizes = [command[i + 1] for i, part in enumerate(command) if part == "--size"]
    assert str(sandbox.Limits().folder_bytes) in sizes and str(sandbox.Limits().tmp_bytes) in sizes


# ----------------------------------------------------------------------------
# Copy detection
# ----------------------------------------------------------------------------

TEMPLATE = '''def rnn_step_backward(dh_next, cache):
    """Backward pass of one step.

    dh_next: (N, H) gradient of the loss with respect to h_next
    cache: RNNStepCache(x, h_prev, Wx, Wh, h_next, activation) from rnn_step_forward
    Returns dx (N, D), dh_prev (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, h_prev, Wx, Wh, h_next, activation = cache
    # Given: the derivative of each activation, at its output.
    if activation == "tanh":
        derivative = 1 - h_next**2
    elif activation == "sigmoid":
        derivative = h_next * (1 - h_next)
    else:
        derivative = (h_next > 0).astype(float)
    # YOUR CODE HERE
    raise NotImplementedError()
'''
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()\n"
HONEST_A = TEMPLATE.replace(STUB, '''    da = dh_next * derivative
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db
''')
HONEST_B = TEMPLATE.replace(STUB, '''    grad_pre = np.multiply(dh_next, derivative)
    return (np.dot(grad_pre, np.transpose(Wx)), np.dot(grad_pre, np.transpose(Wh)),
            np.dot(np.transpose(x), grad_pre), np.dot(np.transpose(h_prev), grad_pre),
            np.sum(grad_pre, axis=0))
''')
RENAMED_COPY = HONEST_A.replace("    da = ", "    # my own work\n    da = ").replace("da", "g_pre").replace("dh_prev =", "back_h =")


def test_honest_independent_solutions_are_not_flagged():
    flags = similarity.find_copies({"ana": {"step": HONEST_A}, "ben": {"step": HONEST_B}}, {"step": TEMPLATE}, {})
    assert flags == []


def test_a_renamed_copy_is_flagged_with_the_shared_lines():
    flags = similarity.find_copies({"ana": {"step": HONEST_A}, "cleo": {"step": RENAMED_COPY}}, {"step": TEMPLATE}, {})
    assert [(f["student"], f["other"]) for f in flags] == [("ana", "cleo")]
    assert flags[0]["similarity"] >= 0.9
    assert any("dx = da @ Wx.T" in line for line in flags[0]["shared_lines"])
    assert not any("derivative = 1 - h_next**2" in line for line in flags[0]["shared_lines"])  # template left out


def test_template_code_given_to_everyone_is_left_out():
    """Without the template left out, the given lines alone make the two honest answers look alike."""
    answers = {"ana": {"step": HONEST_A}, "ben": {"step": HONEST_B}}
    assert [f["student"] for f in similarity.find_copies(answers, {}, {})] == ["ana"]
    assert similarity.find_copies(answers, {"step": TEMPLATE}, {}) == []


def test_an_honest_sigmoid_is_not_flagged_against_the_reference():
    from rnncourse import activations

    template = 'def sigmoid(a):\n    """Logistic function 1 / (1 + exp(-a)), element-wise, without overflow."""\n'
    honest = template + "    e = np.exp(-np.abs(a))\n    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))\n"
    references = similarity.reference_sources([activations.sigmoid])
    assert similarity.find_copies({"ana": {"sigmoid": honest}}, {"sigmoid": template}, references) == []


def test_a_copy_of_the_reference_is_flagged():
    references = similarity.reference_sources(grading.REFERENCE_FUNCTIONS)
    copied = references["rnn_step_backward"].replace("dh_next", "g").replace("cache", "c")
    flags = similarity.find_copies({"eve": {"rnn_step_backward": copied}}, {}, references)
    assert flags and flags[0]["other"] == "reference:rnn_step_backward" and flags[0]["similarity"] > 0.9
