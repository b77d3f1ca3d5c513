"""Sandboxed, tamper-proof, parallel autograding of the course's nbgrader assignments.

How one submission is graded (:func:`grade_submission`):

1. The *plan* comes from the instructor's source notebook: its set-up cells, its
   solution cells (by ``grade_id``) and its test cells, each a list of
   ``grading.check_*`` calls that :mod:`rnncourse.grading` turns into cases.
2. From the submission only the student's code is taken: the solution cells,
   matched by ``grade_id`` (the first of duplicates), and the cells the student
   added. Test cells, locked cells and metadata of the submission are ignored, so
   edited, deleted, duplicated or reordered cells change nothing.
3. That code runs in the sandbox (:mod:`rnncourse.sandbox`, via
   :mod:`rnncourse.sandbox_runner`), which calls the student's functions on the
   cases' arguments and hands back the returned arrays as data.
4. Outside the sandbox, the cases' judges compare those arrays with the
   reference. Pass or fail is decided here, where the student's code never ran.

:func:`autograde_assignment` grades every submission of an assignment with a Dask
cluster (a local one by default, or a scheduler address), writes the results,
then lets nbgrader record them: the submissions are staged as valid notebooks, and
``nbgrader autograde`` runs with ``SandboxResults`` in place of its
``Execute`` step, so the gradebook, ``formgrader``, ``generate_feedback`` and
``export`` work as usual. Only this trusted process writes the gradebook.
"""
import ast
import json
import pickle
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

from . import grading, sandbox

EVENTS_LIMIT = 8 * 1024**2  # bytes of sandbox events read back at most


# ----------------------------------------------------------------------------
# The plan: what the source notebook asks for
# ----------------------------------------------------------------------------

def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def parse_test_cell(source):
    """The checks a test cell makes: a list of ``(check name, student function name, kwargs)``.

    A test cell may contain only calls ``grading.check_<name>(<function>, key=literal, ...)``
    (and comments); keyword values are literals or ``grading.<CONSTANT>``. Anything
    else raises ``ValueError``: the sandboxed grader does not run test code.
    """
    checks = []
    for statement in ast.parse(source).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id == "grading"
                and call.func.attr in grading.CASES and len(call.args) >= 1
                and isinstance(call.args[0], ast.Name)):
            raise ValueError(f"unsupported statement in a test cell: {ast.unparse(statement)!r}; "
                             "test cells may only call grading.check_*(<function>, ...)")
        kwargs = {}
        for keyword in call.keywords:
            value = keyword.value
            if (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                    and value.value.id == "grading" and value.attr.isupper()):
                kwargs[keyword.arg] = getattr(grading, value.attr)
            else:
                kwargs[keyword.arg] = ast.literal_eval(value)
        extra_args = [ast.literal_eval(a) for a in call.args[1:]]
        checks.append((call.func.attr, call.args[0].id, extra_args, kwargs))
    return checks


def load_plan(source_notebook):
    """Read the instructor's notebook (a NotebookNode) into a plan.

    Returns a list of cells, each a dict: ``{"kind": "setup" | "solution" | "test",
    "grade_id", "source", "points", "checks"}`` (code cells only, in order).
    """
    plan = []
    for cell in source_notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        entry = {"grade_id": meta.get("grade_id"), "source": cell.source, "points": meta.get("points", 0)}
        if meta.get("solution"):
            entry["kind"] = "solution"
        elif meta.get("grade"):
            entry["kind"] = "test"
            entry["checks"] = parse_test_cell(cell.source)
        else:
            entry["kind"] = "setup"
        plan.append(entry)
    return plan


def plan_cases(plan):
    """Every case of every test cell: a list of ``(grade_id, student function name, Case)``."""
    cases = []
    for entry in plan:
        if entry["kind"] == "test":
            for check, function_name, extra_args, kwargs in entry["checks"]:
                for case in grading.CASES[check](*extra_args, **kwargs):
                    cases.append((entry["grade_id"], function_name, case))
    return cases


# ----------------------------------------------------------------------------
# The student's code
# ----------------------------------------------------------------------------

def read_submission(raw):
    """Parse a submitted notebook (bytes or str). Returns ``(notebook or None, problem or None)``."""
    try:
        notebook = nbformat.reads(raw.decode("utf8", "replace") if isinstance(raw, bytes) else raw, as_version=4)
    except Exception as error:  # invalid JSON, not a notebook, unknown format
        return None, f"the notebook cannot be read ({type(error).__name__}: {str(error)[:200]})"
    return notebook, None


def released_version(source):
    """A solution cell as the released notebook has it: each solution region replaced by a stub."""
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + "# YOUR CODE HERE", indent + "raise NotImplementedError()"]
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def student_cells(plan, notebook):
    """The student's code in run order, with notes on what was missing.

    Returns ``(codes, answers, notes)``: ``codes`` is a list of source strings: the plan's
    set-up cells and, for each solution cell, the student's version (the first cell
    with that grade_id) followed by the code cells the student added after it;
    ``answers`` maps each solution grade_id the student answered to their code.
    """
    solution_ids = {e["grade_id"] for e in plan if e["kind"] == "solution"}
    known_ids = {e["grade_id"] for e in plan}
    answers, added, current = {}, {}, None
    for cell in notebook.cells if notebook else []:
        if cell.get("cell_type") != "code":
            continue
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in solution_ids and grade_id not in answers:
            answers[grade_id] = cell.get("source", "")
            current = grade_id
        elif grade_id not in known_ids or grade_id in answers:
            # A cell the student added, or a copy of a solution cell: it runs where it stands,
            # as in the notebook (nbgrader keeps the first cell of a duplicated id).
            added.setdefault(current, []).append(cell.get("source", ""))
    codes, notes = list(added.get(None, [])), []
    for entry in plan:
        if entry["kind"] == "setup":
            codes.append(entry["source"])
        elif entry["kind"] == "solution":
            if entry["grade_id"] in answers:
                codes.append(answers[entry["grade_id"]])
            else:  # restored as released: the student's function raises NotImplementedError
                codes.append(released_version(entry["source"]))
                if notebook is not None:
                    notes.append(f"solution cell {entry['grade_id']!r} is missing from the submission")
            codes.extend(added.get(entry["grade_id"], []))
    return codes, answers, notes


# ----------------------------------------------------------------------------
# Running the student's code and judging what comes back
# ----------------------------------------------------------------------------

def _forbidden():
    return [(f.__module__, f.__name__) for f in grading.REFERENCE_FUNCTIONS]


def _decode(description, arrays):
    """Rebuild a returned value from the sandbox's description (arrays, None, placeholders)."""
    kind = description.get("kind") if isinstance(description, dict) else None
    if kind == "none":
        return None
    if kind == "array" and description.get("key") in arrays:
        return arrays[description["key"]]
    if kind == "sequence" and isinstance(description.get("items"), list):
        return [_decode(item, arrays) for item in description["items"]]
    return grading.Unreadable(str(description.get("type", "value")) if isinstance(description, dict) else "value")


def _read_events(workdir):
    path = Path(workdir) / "events.jsonl"
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        raw = handle.read(EVENTS_LIMIT)
    events = []
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _load_arrays(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception:
        return {}


def _outcome(case, function_name, event, workdir, index, limits):
    """``None`` when the case passed, else the message a student reads."""
    status = event.get("status") if event else None
    if status is None:
        return f"{function_name} was not called: the notebook stopped before this test ran (crash, exit or time limit)."
    if status == "missing":
        return f"{function_name} is not defined: did its cell run without errors?"
    if status == "timeout":
        return f"{function_name}, case {case.label}: did not return within {limits.probe_seconds:g} s."
    if status == "error":
        return f"{function_name}, case {case.label}: raised {str(event.get('error'))[:1000]}"
    if event.get("called_reference"):
        return (f"{function_name} calls the reference implementation rnncourse "
                f"{', '.join(map(str, event['called_reference']))}: write the computation yourself.")
    if event.get("mutated"):
        return f"{function_name} modified one of its input arrays in place. Compute new arrays instead."
    value = event.get("value", {})
    arrays = _load_arrays(Path(workdir) / f"probe_{index}.npz")
    result = _decode(value, arrays)
    if isinstance(result, list) and any(isinstance(item, grading.Unreadable) for item in result):
        # Nested lists of numbers: read them as np.asarray would, when they form one array.
        whole = _decode(value.get("whole") or {}, arrays)
        result = whole if isinstance(whole, np.ndarray) else result
    try:
        case.judge(case, result)
    except AssertionError as error:
        return str(error)
    except Exception as error:  # a returned value so odd that the judge itself fails
        return f"{function_name}, case {case.label}: the returned value cannot be checked ({type(error).__name__}: {error})"
    return None


def grade_submission(source_json, submission_raw, limits=sandbox.Limits(), sandboxed=True):
    """Grade one submitted notebook against the source notebook. Safe to run on any worker.

    Args:
        source_json: the instructor's source notebook, as JSON text
        submission_raw: the submitted notebook's bytes, exactly as submitted
        limits: :class:`rnncourse.sandbox.Limits` of the sandboxed run
        sandboxed: False runs the student's code without the sandbox (only for trusted code)

    Returns:
        dict (JSON-serialisable): ``cells`` {grade_id: {"passed", "message", "points"}},
        ``problems`` (notes for the instructor), ``seconds``, ``sandbox`` (how the run ended)
    """
    started = time.monotonic()
    plan = load_plan(nbformat.reads(source_json, as_version=4))
    notebook, problem = read_submission(submission_raw)
    codes, answers, notes = student_cells(plan, notebook)
    problems = [problem] if problem else []
    problems += notes
    cases = plan_cases(plan)
    probes = [(name, case.args, case.kwargs, limits.probe_seconds) for _, name, case in cases]
    with tempfile.TemporaryDirectory(prefix="rnncourse-grade-") as workdir:
        Path(workdir, "cells.json").write_text(json.dumps(codes))
        with open(Path(workdir, "probes.pkl"), "wb") as handle:
            pickle.dump((probes, limits.cell_seconds, _forbidden()), handle)
        run = sandbox.run_python(workdir, ["-m", "rnncourse.sandbox_runner", workdir], limits, sandboxed)
        events = _read_events(workdir)
        probe_events = {e["probe"]: e for e in events if isinstance(e.get("probe"), int)}
        cell_errors = [e for e in events if "cell" in e and e.get("status") == "error"]
        hidden = {e["grade_id"] for e in plan if e["kind"] == "test" and "BEGIN HIDDEN TESTS" in e["source"]}
        cells = {e["grade_id"]: {"passed": True, "message": None, "detail": None, "points": e["points"],
                                 "failed": 0, "cases": 0} for e in plan if e["kind"] == "test"}
        for index, (grade_id, name, case) in enumerate(cases):
            detail = _outcome(case, name, probe_events.get(index), workdir, index, limits)
            cell = cells[grade_id]
            cell["cases"] += 1
            if detail is not None:
                cell["failed"] += 1
                if cell["passed"]:
                    # The student reads which function and output failed, not a hidden case's seed and sizes.
                    message = detail.replace(case.label, "(a hidden case)") if grade_id in hidden else detail
                    cell["passed"], cell["message"], cell["detail"] = False, message, detail
    for cell in cells.values():
        if cell["failed"]:
            cell["message"] += f"\n({cell['failed']} of {cell['cases']} cases in this test cell failed.)"
    if run.timed_out:
        problems.append(f"stopped at the time limit of {limits.wall_seconds:.0f} s")
    elif not any(e.get("done") for e in events) and notebook is not None:
        problems.append(f"the student's code ended the run early (exit code {run.returncode})")
    if cell_errors:
        problems.append(f"{len(cell_errors)} of the student's cells raised an error")
    return {"cells": cells, "problems": problems, "seconds": round(time.monotonic() - started, 3),
            "sandbox": {"sandboxed": sandboxed, "returncode": run.returncode, "timed_out": run.timed_out},
            "answers": answers}


# ----------------------------------------------------------------------------
# Recording the results with nbgrader
# ----------------------------------------------------------------------------

def staged_notebook(template, notebook):
    """A valid notebook to hand to ``nbgrader autograde``: the released ``template`` with the
    student's answers (solution cells by grade_id, and the cells they added) put in."""
    plan_ids = {_nbgrader(c).get("grade_id") for c in template.cells}
    solution_ids = {_nbgrader(c).get("grade_id") for c in template.cells if _nbgrader(c).get("solution")}
    staged = nbformat.from_dict(template)
    if notebook is None:
        return staged
    answers, added, current = {}, {}, None
    for cell in notebook.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in solution_ids and grade_id not in answers:
            answers[grade_id] = cell.get("source", "")
            current = grade_id
        elif (grade_id not in plan_ids or grade_id in answers) and cell.get("cell_type") in ("code", "markdown"):
            added.setdefault(current, []).append(cell)
    cells = []
    for cell in staged.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if _nbgrader(cell).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
        cells.append(cell)
        for extra in added.get(grade_id, []) if _nbgrader(cell).get("solution") else []:
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
            info = resources["nbgrader"]
            path = Path(self.results_dir, info["assignment"], info["student"], f"{info['notebook']}.json")
            cells = json.loads(path.read_text())["cells"] if path.exists() else {}
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                cell.outputs, cell.execution_count = [], None
                meta = _nbgrader(cell)
                if meta.get("grade") and not meta.get("solution"):
                    verdict = cells.get(meta.get("grade_id"))
                    if verdict is None or not verdict["passed"]:
                        message = verdict["message"] if verdict else "this test cell was not graded"
                        cell.outputs = [nbformat.v4.new_output(
                            "error", ename="AssertionError", evalue=message, traceback=message.splitlines())]
            return nb, resources


AUTOGRADE_STEPS = [  # nbgrader's autograde steps, with SandboxResults in place of Execute
    "rnncourse.autograde.SandboxResults",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
STAGING = "autograde_staging"  # inside the course directory; nbgrader reads the staged submissions here
RESULTS = "autograde_results"  # the sandboxed grader's verdicts, one JSON file per notebook
REPORTS = "reports"


def _submissions(course, assignment):
    """``[(student, notebook name, path)]`` of everything submitted for ``assignment``."""
    found = []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        for path in sorted(folder.glob("*.ipynb")):
            found.append((folder.parent.name, path.stem, path))
    return found


def _grade_all(tasks, workers, scheduler, limits, sandboxed, progress):
    """Grade ``{key: (source_json, raw)}``; yield ``(key, result or None, error or None)`` as they finish."""
    if workers == 1 and not scheduler:
        for key, (source_json, raw) in tasks.items():
            try:
                yield key, grade_submission(source_json, raw, limits, sandboxed), None
            except Exception as error:
                yield key, None, f"{type(error).__name__}: {error}"
        return
    import logging

    from distributed import Client, LocalCluster, as_completed

    # Each task spends its time in a sandboxed subprocess, so a local cluster of threads is
    # enough (and starts in a fraction of a second).
    cluster = None if scheduler else LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None,
        silence_logs=logging.ERROR)
    with Client(scheduler or cluster) as client:
        futures = {client.submit(grade_submission, source_json, raw, limits, sandboxed, pure=False): key
                   for key, (source_json, raw) in tasks.items()}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as error:
                yield futures[future], None, f"{type(error).__name__}: {error}"
    if cluster is not None:
        cluster.close()


def _run_nbgrader(course, *args):
    import os
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True)


def autograde_assignment(course, assignment, workers=None, scheduler=None, limits=sandbox.Limits(),
                         allow_unsandboxed=False, progress=print):
    """Grade every submission of ``assignment`` in the nbgrader course directory ``course``.

    Args:
        course: the course directory (with nbgrader_config.py, source/, release/, submitted/)
        assignment: assignment name
        workers: parallel workers of the local Dask cluster (default: number of cores); 1 = serial
        scheduler: address of a Dask scheduler to use instead of a local cluster
        limits: per-submission :class:`rnncourse.sandbox.Limits`
        allow_unsandboxed: grade without the sandbox when it is unavailable (trusted code only)
        progress: function called with one line of text per graded submission

    Returns:
        dict with ``results`` {student: result}, ``failures`` {student: reason}, ``copies``,
        ``seconds``, ``report`` (folder of the report)
    """
    import os
    import shutil

    from . import report, similarity

    started = time.monotonic()
    course = Path(course).resolve()
    reason = sandbox.sandbox_available()
    if reason and not allow_unsandboxed:
        raise sandbox.SandboxUnavailable(
            f"cannot grade untrusted submissions: {reason}. Pass --allow-unsandboxed to grade "
            "without a sandbox (only for submissions you trust).")
    sandboxed = reason is None
    workers = workers or os.cpu_count() or 1
    sources = {p.stem: p.read_text() for p in sorted((course / "source" / assignment).glob("*.ipynb"))}
    if not sources:
        raise FileNotFoundError(f"no source notebook in {course / 'source' / assignment}")
    for source in sources.values():
        load_plan(nbformat.reads(source, as_version=4))  # an unsupported test cell stops us before any grading
    templates = {}
    for name in sources:
        release = course / "release" / assignment / f"{name}.ipynb"
        if not release.exists():
            raise FileNotFoundError(f"{release} is missing: run `nbgrader generate_assignment {assignment}` first")
        templates[name] = nbformat.read(release, as_version=4)
    submissions = _submissions(course, assignment)
    tasks = {(student, name): (sources[name], path.read_bytes())
             for student, name, path in submissions if name in sources}
    results_root = course / RESULTS
    shutil.rmtree(results_root / assignment, ignore_errors=True)
    results, failures = {}, {}
    for done, ((student, name), result, error) in enumerate(
            _grade_all(tasks, workers, scheduler, limits, sandboxed, progress), start=1):
        if result is None:
            failures[student] = f"grading failed: {error}"
            result = {"cells": {}, "problems": [failures[student]], "seconds": 0.0, "answers": {}}
        elif result["problems"]:
            failures[student] = "; ".join(result["problems"])
        results[student] = result
        target = results_root / assignment / student / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=1))
        points = sum(c["points"] for c in result["cells"].values() if c["passed"])
        total = sum(c["points"] for c in result["cells"].values())
        progress(f"[{done}/{len(tasks)}] {student}/{name}: {points:g}/{total:g} points, {result['seconds']:.2f} s"
                 + (f" ({failures[student]})" if student in failures else ""))
    graded_at = time.monotonic()
    # Stage every submission as a valid notebook and let nbgrader record the verdicts.
    staging = course / STAGING
    shutil.rmtree(staging / "_", ignore_errors=True)
    for student, name, path in submissions:
        if name not in templates:
            continue
        notebook, _ = read_submission(path.read_bytes())
        folder = staging / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(staged_notebook(templates[name], notebook), folder / f"{name}.ipynb")
        stamp = path.parent / "timestamp.txt"
        if stamp.exists():
            shutil.copy(stamp, folder / "timestamp.txt")
    steps = [f"--Autograde.autograde_preprocessors={step}" for step in AUTOGRADE_STEPS]
    recorded = _run_nbgrader(course, "autograde", assignment, "--force", "--log-level=WARN",
                             f"--CourseDirectory.submitted_directory={STAGING}",
                             f"--SandboxResults.results_dir={results_root}", *steps)
    if recorded.returncode != 0:
        raise RuntimeError(f"nbgrader could not record the grades:\n{recorded.stdout}\n{recorded.stderr}")
    recorded_at = time.monotonic()
    copies = similarity.find_copies(
        {student: result.get("answers", {}) for student, result in results.items()},
        similarity.reference_sources(grading.REFERENCE_FUNCTIONS))
    seconds = time.monotonic() - started
    folder = report.write_report(course / REPORTS / assignment, assignment, results, failures, copies, seconds)
    return {"results": results, "failures": failures, "copies": copies, "seconds": seconds, "report": folder,
            "sandboxed": sandboxed, "phases": {"grading": graded_at - started, "recording": recorded_at - graded_at,
                                               "report": time.monotonic() - recorded_at}}


def main(argv=None):
    """Command line: ``python -m rnncourse.autograde ASSIGNMENT [options]`` (run in the course directory)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m rnncourse.autograde", description=(
        "Grade every submission of an nbgrader assignment in a sandbox, in parallel, and record the "
        "grades in the course's gradebook."))
    parser.add_argument("assignment")
    parser.add_argument("--course", default=".", help="the nbgrader course directory (default: .)")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: number of cores; 1 = serial)")
    parser.add_argument("--scheduler", default=None, help="address of a Dask scheduler (default: a local cluster)")
    parser.add_argument("--timeout", type=float, default=sandbox.Limits.wall_seconds,
                        help="seconds one submission may run in all")
    parser.add_argument("--probe-timeout", type=float, default=sandbox.Limits.probe_seconds,
                        help="seconds one call of a student's function may take")
    parser.add_argument("--memory-mb", type=int, default=sandbox.Limits.memory_bytes // 1024**2,
                        help="address-space limit of one submission, in MiB")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="grade without a sandbox when none is available (only for submissions you trust)")
    args = parser.parse_args(argv)
    limits = sandbox.Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout) + 1,
                            cell_seconds=max(1, int(args.timeout)), probe_seconds=args.probe_timeout,
                            memory_bytes=args.memory_mb * 1024**2)
    try:
        outcome = autograde_assignment(args.course, args.assignment, args.workers, args.scheduler, limits,
                                       args.allow_unsandboxed)
    except (sandbox.SandboxUnavailable, FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"graded {len(outcome['results'])} submissions in {outcome['seconds']:.1f} s "
          f"({'sandboxed' if outcome['sandboxed'] else 'NOT sandboxed'}); "
          f"{len(outcome['failures'])} with problems; {len(outcome['copies'])} possible copies")
    print("time: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in outcome["phases"].items()))
    for student, reason in sorted(outcome["failures"].items()):
        print(f"  {student}: {reason}")
    print(f"report: {outcome['report'] / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
