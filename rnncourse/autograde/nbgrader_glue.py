"""Recording the sandboxed grader's verdicts with nbgrader.

The submissions are staged as valid notebooks (the released notebook with the student's
answers put in), and ``nbgrader autograde`` runs with :class:`SandboxResults` in place of
its ``Execute`` step (:func:`autograde_steps`): nothing is executed, the verdicts are
written into the test cells, and nbgrader's gradebook, ``formgrader``,
``generate_feedback`` and ``export`` work as usual. Only this trusted process writes the
gradebook.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from .plan import nbgrader_metadata
from .submission import match_cells, read_submission

STAGING = "autograde_staging"  # inside the course directory; nbgrader reads the staged submissions here
RESULTS = "autograde_results"  # the sandboxed grader's verdicts, one JSON file per notebook
SANDBOX_RESULTS = "rnncourse.autograde.nbgrader_glue.SandboxResults"


def staged_notebook(template, notebook):
    """A valid notebook to hand to ``nbgrader autograde``: the released ``template`` with the
    student's answers (solution cells by grade_id, and the cells they added) put in."""
    solution_ids = {nbgrader_metadata(c).get("grade_id") for c in template.cells if nbgrader_metadata(c).get("solution")}
    known_ids = {nbgrader_metadata(c).get("grade_id") for c in template.cells}
    staged = nbformat.from_dict(template)
    if notebook is None:
        return staged
    answers, added = match_cells(notebook, solution_ids, known_ids, kinds=("code", "markdown"))
    cells = []
    for cell in staged.cells:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        is_solution = nbgrader_metadata(cell).get("solution")
        if is_solution and grade_id in answers:
            cell.source = answers[grade_id]
        cells.append(cell)
        for extra in added.get(grade_id, []) if is_solution else []:
            maker = nbformat.v4.new_code_cell if extra.get("cell_type") == "code" else nbformat.v4.new_markdown_cell
            cells.append(maker(extra.get("source", "")))
    staged.cells = cells
    return staged


try:
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Unicode
except ImportError:  # pragma: no cover - nbgrader is an optional dependency of the package
    NbGraderPreprocessor = None

if NbGraderPreprocessor is not None:
    class SandboxResults(NbGraderPreprocessor):
        """nbgrader preprocessor that writes the sandboxed grader's verdicts into the test cells.

        It replaces nbgrader's ``Execute`` step: nothing of the notebook is executed. A test
        cell that passed gets no output (full points); one that failed gets an
        ``AssertionError`` output with the message (zero points), as if it had run.
        """

        results_dir = Unicode("", help="Folder with the results of rnncourse.autograde").tag(config=True)

        def preprocess(self, nb, resources):
            """Write the verdicts into the test cells of ``nb``; returns ``(nb, resources)``."""
            info = resources["nbgrader"]
            path = Path(self.results_dir, info["assignment"], info["student"], f"{info['notebook']}.json")
            cells = json.loads(path.read_text())["cells"] if path.exists() else {}
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                cell.outputs, cell.execution_count = [], None
                meta = nbgrader_metadata(cell)
                if meta.get("grade") and not meta.get("solution"):
                    verdict = cells.get(meta.get("grade_id"))
                    if verdict is None or not verdict["passed"]:
                        message = verdict["message"] if verdict else "this test cell was not graded"
                        cell.outputs = [nbformat.v4.new_output(
                            "error", ename="AssertionError", evalue=message, traceback=message.splitlines())]
            return nb, resources


def autograde_steps():
    """nbgrader's own autograde preprocessors, as dotted names, with its ``Execute`` step
    replaced by :class:`SandboxResults` (read from the installed nbgrader, so that a step
    it adds, such as ``IgnorePattern`` in 0.9, is kept)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    from traitlets.utils.importstring import import_item

    steps = []
    for step in Autograde.class_traits()["autograde_preprocessors"].default():
        step = import_item(step) if isinstance(step, str) else step
        steps.append(SANDBOX_RESULTS if issubclass(step, Execute) else f"{step.__module__}.{step.__name__}")
    if SANDBOX_RESULTS not in steps:
        raise RuntimeError("nbgrader's autograde steps have no Execute step to replace; this nbgrader is not supported")
    return steps


def submissions(course, assignment):
    """``[(student, notebook name, path)]`` of everything submitted for ``assignment``."""
    found = []
    for folder in sorted((Path(course) / "submitted").glob(f"*/{assignment}")):
        for path in sorted(folder.glob("*.ipynb")):
            found.append((folder.parent.name, path.stem, path))
    return found


def stage_submissions(course, assignment, templates):
    """Write each submission of ``assignment`` as a valid notebook under ``course/STAGING``.

    templates: ``{notebook name: released NotebookNode}``.
    """
    staging = Path(course) / STAGING
    for student, name, path in submissions(course, assignment):
        if name not in templates:
            continue
        notebook, _ = read_submission(path.read_bytes())
        folder = staging / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(staged_notebook(templates[name], notebook), folder / f"{name}.ipynb")
        stamp = path.parent / "timestamp.txt"
        if stamp.exists():
            shutil.copy(stamp, folder / "timestamp.txt")


def run_nbgrader(course, *args):
    """Run this environment's ``nbgrader`` in ``course``; returns the CompletedProcess."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True)


def record_grades(course, assignment, results_root):
    """Let ``nbgrader autograde`` record the verdicts in ``results_root`` for the staged submissions."""
    steps = [f"--Autograde.autograde_preprocessors={step}" for step in autograde_steps()]
    recorded = run_nbgrader(course, "autograde", assignment, "--force", "--log-level=WARN",
                            f"--CourseDirectory.submitted_directory={STAGING}",
                            f"--SandboxResults.results_dir={results_root}", *steps)
    if recorded.returncode != 0:
        raise RuntimeError(f"nbgrader could not record the grades:\n{recorded.stdout}\n{recorded.stderr}")
