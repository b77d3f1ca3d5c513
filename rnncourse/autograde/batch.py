"""Grading every submission of an assignment: in parallel with Dask, then recorded with
nbgrader, then the instructor's report."""
import json
import logging
import os
import shutil
import time
from pathlib import Path

import nbformat

from .. import grading
from . import nbgrader_glue, report, sandbox, similarity
from .grade import grade_submission
from .plan import load_plan, nbgrader_metadata
from .submission import released_version

REPORTS = "reports"


def _grade_all(tasks, workers, scheduler, limits, sandboxed):
    """Grade ``{key: (source_json, raw)}``; yield ``(key, result or None, error or None)`` as they finish."""
    if workers == 1 and not scheduler:
        for key, (source_json, raw) in tasks.items():
            try:
                yield key, grade_submission(source_json, raw, limits, sandboxed), None
            except Exception as error:
                yield key, None, f"{type(error).__name__}: {error}"
        return
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


def templates_of(sources):
    """``{grade_id: released code}`` of every solution cell of the source notebooks (JSON texts)."""
    templates = {}
    for source in sources.values():
        for cell in nbformat.reads(source, as_version=4).cells:
            meta = nbgrader_metadata(cell)
            if meta.get("solution"):
                templates[meta.get("grade_id")] = released_version(cell.source)
    return templates


def autograde_assignment(course, assignment, workers=None, scheduler=None, limits=sandbox.Limits(),
                         allow_unsandboxed=False, progress=print):
    """Grade every submission of ``assignment`` in the nbgrader course directory ``course``.

    Args:
        course: the course directory (with nbgrader_config.py, source/, release/, submitted/)
        assignment: assignment name
        workers: parallel workers of the local Dask cluster (default: number of cores); 1 = serial
        scheduler: address of a Dask scheduler to use instead of a local cluster
        limits: per-submission :class:`rnncourse.autograde.sandbox.Limits`
        allow_unsandboxed: grade without the sandbox when it is unavailable (trusted code only)
        progress: function called with one line of text per graded submission

    Returns:
        dict with ``results`` {student: result}, ``failures`` {student: reason}, ``copies``,
        ``seconds``, ``report`` (folder of the report), ``sandboxed``, ``phases``
    """
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
        load_plan(nbformat.reads(source, as_version=4))  # an unsupported cell stops us before any grading
    templates = {}
    for name in sources:
        release = course / "release" / assignment / f"{name}.ipynb"
        if not release.exists():
            raise FileNotFoundError(f"{release} is missing: run `nbgrader generate_assignment {assignment}` first")
        templates[name] = nbformat.read(release, as_version=4)
    found = nbgrader_glue.submissions(course, assignment)
    tasks = {(student, name): (sources[name], path.read_bytes()) for student, name, path in found if name in sources}
    results_root = course / nbgrader_glue.RESULTS
    shutil.rmtree(results_root / assignment, ignore_errors=True)
    results, failures = {}, {}
    for done, ((student, name), result, error) in enumerate(
            _grade_all(tasks, workers, scheduler, limits, sandboxed), start=1):
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
    nbgrader_glue.stage_submissions(course, assignment, templates)
    nbgrader_glue.record_grades(course, assignment, results_root)
    recorded_at = time.monotonic()
    copies = similarity.find_copies(
        {student: result.get("answers", {}) for student, result in results.items()},
        templates_of(sources), similarity.reference_sources(grading.REFERENCE_FUNCTIONS))
    seconds = time.monotonic() - started
    folder = report.write_report(course / REPORTS / assignment, assignment, results, failures, copies, seconds)
    return {"results": results, "failures": failures, "copies": copies, "seconds": seconds, "report": folder,
            "sandboxed": sandboxed, "phases": {"grading": graded_at - started, "recording": recorded_at - graded_at,
                                               "report": time.monotonic() - recorded_at}}
