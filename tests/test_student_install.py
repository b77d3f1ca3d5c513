"""The students' path of the README ("For students"), tested as a student takes it.

A fresh virtual environment (no system site-packages, nothing of the repository's ``.venv``) builds the
repository's wheel with ``pip wheel --no-deps``, installs it (non-editable, with its dependency numpy) and
``ipykernel`` from the package index, and registers its kernel. Each assignment's released notebook, with the
solution written into its answer cells, then runs in that kernel: every visible test cell must pass; the
untouched release must fail every one of them. The package the kernel imports must be the installed copy
(inside the fresh environment's site-packages, not this source tree) and hold every module of the source.

The wheel is built from a copy of the working tree, so that the build leaves nothing (``build/``,
``*.egg-info``) in the repository. The kernel is registered with ``--prefix`` instead of the README's
``--user`` so that the test does not write into the home folder.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = tuple(sorted(p.name for p in (ROOT / "assignments" / "source").iterdir() if p.is_dir()))
BIN = Path(sys.executable).parent
KERNEL = "rnncourse-student"
# Left out of the copy the wheel is built from: environments, build outputs, caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "_build", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".ipynb_checkpoints", "release", "submitted", "autograded",
                                    "feedback", "gradebook.db")
pytestmark = pytest.mark.slow

# Run with the fresh environment's python: what the student's kernel sees of the package.
INSPECT = """
import importlib, json, pathlib, sys, sysconfig
import rnncourse
package = pathlib.Path(rnncourse.__file__).parent
subpackages = sorted(".".join(("rnncourse",) + p.parent.relative_to(package).parts)
                     for p in package.rglob("__init__.py") if p.parent != package)
for name in subpackages:
    importlib.import_module(name)
from rnncourse import grading
print(json.dumps({
    "file": rnncourse.__file__, "purelib": sysconfig.get_paths()["purelib"], "prefix": sys.prefix,
    "modules": sorted(str(p.relative_to(package)) for p in package.rglob("*.py")),
    "subpackages": subpackages, "grading_checks": sorted(n for n in dir(grading) if n.startswith("check_")),
}))
"""


def clean_env():
    """The environment of the student's commands: no PYTHONPATH or active venv leaking this repository in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != BIN)
    return env


def run(cwd, *args, timeout=900):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A fresh venv with the wheel and ipykernel installed and its kernel registered under ``jupyter/``."""
    root = tmp_path_factory.mktemp("student")
    snapshot, venv, jupyter = root / "repository", root / "venv", root / "jupyter"
    shutil.copytree(ROOT, snapshot, ignore=NOT_COPIED)
    python = venv / "bin" / "python"
    run(root, sys.executable, "-m", "venv", venv)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    run(snapshot, python, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", ".")
    wheels = list((root / "dist").glob("rnncourse-*.whl"))
    assert len(wheels) == 1, wheels
    run(root, python, "-m", "pip", "install", "--quiet", "-c", ROOT / "requirements" / "constraints.txt",
        wheels[0], "ipykernel")
    run(root, python, "-m", "ipykernel", "install", "--prefix", jupyter, "--name", KERNEL,
        "--display-name", "rnncourse")
    inspected = json.loads(run(root, python, "-c", INSPECT))
    source_modules = sorted(str(p.relative_to(snapshot / "rnncourse")) for p in (snapshot / "rnncourse").rglob("*.py")
                            if "__pycache__" not in p.parts)
    return {"root": root, "venv": venv, "jupyter": jupyter / "share" / "jupyter", "wheel": wheels[0],
            "inspected": inspected, "source_modules": source_modules}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The course's assignments released by nbgrader in a copy of the course directory."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "assignments" / "source", course / "source")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    for assignment in ASSIGNMENTS:
        result = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", assignment, "--log-level=ERROR"],
                                cwd=course, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
    return course


def test_the_installed_package_is_the_wheel_with_every_module(student):
    inspected, venv = student["inspected"], student["venv"]
    installed = Path(inspected["file"]).resolve()
    assert Path(inspected["prefix"]).resolve() == venv.resolve()
    assert installed.is_relative_to(Path(inspected["purelib"]).resolve())
    assert installed.is_relative_to(venv.resolve()) and not installed.is_relative_to(ROOT)
    assert inspected["modules"] == student["source_modules"], "the wheel lacks or adds modules"
    assert "grading" in {name.split(".")[1] for name in inspected["subpackages"]}
    assert "check_rnn_forward" in inspected["grading_checks"]


def visible_test_ids(notebook):
    """grade_ids of the test cells that still call a check in the released notebook (hidden ones are empty)."""
    return [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
            and "grading.check_" in c.source]


def with_solution(release, source):
    """The released notebook with every answer cell holding the source notebook's solution."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


def run_in_student_kernel(notebook, student, workdir, monkeypatch):
    """Execute ``notebook`` in the fresh venv's kernel (cwd ``workdir``) and return
    ({grade_id: error name} of the cells that raised, {"prefix", "rnncourse"} seen by the kernel)."""
    monkeypatch.setenv("JUPYTER_PATH", str(student["jupyter"]))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json, sys, rnncourse\nprint(json.dumps({'prefix': sys.prefix, 'rnncourse': rnncourse.__file__}))"))
    workdir.mkdir()
    NotebookClient(notebook, kernel_name=KERNEL, timeout=600, allow_errors=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    errors = {c.metadata.get("nbgrader", {}).get("grade_id", f"cell {i}"): output["ename"]
              for i, c in enumerate(notebook.cells) if c.cell_type == "code"
              for output in c.outputs if output.output_type == "error"}
    seen = json.loads(next(o["text"] for o in notebook.cells[-1].outputs if o.output_type == "stream"))
    return errors, seen


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_passes_its_visible_tests_in_the_student_kernel(student, released, assignment,
                                                                          tmp_path, monkeypatch):
    release = nbformat.read(released / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(released / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    tests = visible_test_ids(release)
    assert tests, f"{assignment} has no visible test cell"

    errors, seen = run_in_student_kernel(with_solution(release, source), student, tmp_path / "solved", monkeypatch)
    assert errors == {}, f"visible tests failed with the solution in the student's kernel: {errors}"
    assert Path(seen["prefix"]).resolve() == student["venv"].resolve(), seen
    assert Path(seen["rnncourse"]).resolve() == Path(student["inspected"]["file"]).resolve(), seen

    # The same cells have the power to fail: untouched, every visible test cell raises.
    errors, _ = run_in_student_kernel(release, student, tmp_path / "untouched", monkeypatch)
    assert set(tests) <= set(errors), f"visible tests that pass on the untouched release: {set(tests) - set(errors)}"
