"""Grading one submission: plan, student's code, sandboxed run, judges.

1. The plan comes from the source notebook (:mod:`.plan`); the student's code from the
   submission (:mod:`.submission`).
2. That code runs in the sandbox (:mod:`.sandbox`), where the runner
   (:mod:`.sandboxed.runner`) calls the student's functions on the cases' arguments and
   sends back what they returned, as data (:mod:`.sandboxed.protocol`).
3. Here, outside the sandbox, the cases' judges compare those values with the reference.
   Pass or fail is decided where the student's code never ran.
"""
import tempfile
import time

import nbformat

from .. import grading
from . import plan as planning
from . import sandbox
from .sandboxed import protocol
from .submission import read_submission, student_cells


def outcome(case, function_name, event, limits):
    """``None`` when the case passed, else the message a student reads.

    event: the runner's event of this case's probe (a dict from untrusted data), or None.
    """
    status = event.get("status") if event else None
    if status is None:
        return f"{function_name} was not called: the notebook stopped before this test ran (crash, exit or time limit)."
    if status == "missing":
        return f"{function_name} is not defined: did its cell run without errors?"
    if status == "timeout":
        return f"{function_name}, case {case.label}: did not return within {limits.probe_seconds:g} s."
    if status == "refused":  # a rule of the checks, worded as in the notebook
        return str(event.get("error"))[:protocol.MAX_MESSAGE]
    if status == "error" and getattr(case, "raises", False):  # a case whose right answer is an exception
        result = grading.raised_from_text(event.get("error"))
    elif status != "ok":
        return f"{function_name}, case {case.label}: raised {str(event.get('error'))[:1000]}"
    else:
        result = protocol.decode_result(event.get("value", {}), grading.Unreadable)
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
        limits: :class:`rnncourse.autograde.sandbox.Limits` of the sandboxed run
        sandboxed: False runs the student's code without the sandbox (only for trusted code)

    Returns:
        dict (JSON-serialisable): ``cells`` {grade_id: {"passed", "message", "detail", "points",
        "failed", "cases"}}, ``problems`` (notes for the instructor), ``seconds``, ``sandbox``
        (how the run ended), ``answers`` {grade_id: the student's code}
    """
    started = time.monotonic()
    plan = planning.load_plan(nbformat.reads(source_json, as_version=4))
    notebook, problem = read_submission(submission_raw)
    cells, answers, notes = student_cells(plan, notebook)
    problems = ([problem] if problem else []) + notes
    cases = planning.plan_cases(plan)
    probes = [(name, case.args, case.kwargs, limits.probe_seconds) for _, name, case in cases]
    with tempfile.TemporaryDirectory(prefix="rnncourse-inputs-") as inputs:
        protocol.write_inputs(inputs, [{"source": c["source"], "names": c["names"]} for c in cells],
                              probes, limits.cell_seconds)
        run = sandbox.run_runner(inputs, limits, sandboxed)
    events = protocol.read_events(run.events)
    probe_events = {e["probe"]: e for e in events if isinstance(e.get("probe"), int)}
    student_errors = [e for e in events if isinstance(e.get("cell"), int) and e.get("status") == "error"
                      and 0 <= e["cell"] < len(cells) and cells[e["cell"]]["kind"] == "student"]
    hidden = {e["grade_id"] for e in plan if e["kind"] == "test" and "BEGIN HIDDEN TESTS" in e["source"]}
    verdicts = {e["grade_id"]: {"passed": True, "message": None, "detail": None, "points": e["points"],
                                "failed": 0, "cases": 0} for e in plan if e["kind"] == "test"}
    for index, (grade_id, name, case) in enumerate(cases):
        detail = outcome(case, name, probe_events.get(index), limits)
        verdict = verdicts[grade_id]
        verdict["cases"] += 1
        if detail is not None:
            verdict["failed"] += 1
            if verdict["passed"]:
                # The student reads which function and output failed, not a hidden case's seed and sizes.
                message = detail.replace(case.label, "(a hidden case)") if grade_id in hidden else detail
                verdict["passed"], verdict["message"], verdict["detail"] = False, message, detail
    for verdict in verdicts.values():
        if verdict["failed"]:
            verdict["message"] += f"\n({verdict['failed']} of {verdict['cases']} cases in this test cell failed.)"
    if run.timed_out:
        problems.append(f"stopped at the time limit of {limits.wall_seconds:.0f} s")
    elif not any(e.get("done") for e in events) and notebook is not None:
        problems.append(f"the student's code ended the run early (exit code {run.returncode})")
    if student_errors:
        problems.append(f"{len(student_errors)} of the student's cells raised an error")
    return {"cells": verdicts, "problems": problems, "seconds": round(time.monotonic() - started, 3),
            "sandbox": {"sandboxed": sandboxed, "returncode": run.returncode, "timed_out": run.timed_out},
            "answers": answers}
