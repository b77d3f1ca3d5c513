"""Grading speed: plain ``nbgrader autograde`` against the sandboxed parallel autograder.

Builds a temporary course with N submissions of assignment 1 (a mix of the solution,
the untouched release and realistic bugs), grades it once with plain nbgrader (serial,
one Jupyter kernel per notebook, no sandbox) and once with ``python -m rnncourse.autograde``
(sandboxed, Dask workers), and prints both times, their ratio, and the sandbox's own
overhead per submission (the same submission graded with and without the sandbox).

Run: .venv/bin/python benchmarks/grading_speed.py [--submissions 20] [--workers 2]
(as root, with bubblewrap installed: ``make sandbox``).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps1_rnn_forward"
BUGS = [("f(x @ Wx + h_prev @ Wh + b)", "f(x @ Wx + h_prev @ Wh)"),
        ("f = ACTIVATIONS[activation]", "f = tanh"),
        ("rnn_step_forward(x[:, t], h_prev, Wx, Wh, b, activation)", "rnn_step_forward(x[:, t], h0, Wx, Wh, b, activation)")]


def run(course, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = time.perf_counter()
    subprocess.run(args, cwd=course, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def make_course(folder, submissions):
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "assignments" / "source", folder / "source")
    run(folder, Path(sys.executable).parent / "nbgrader", "generate_assignment", ASSIGNMENT)
    source_text = (folder / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    release_text = (folder / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    variants = [source_text, release_text] + [source_text.replace(old, new) for old, new in BUGS]
    for i in range(submissions):
        target = folder / "submitted" / f"student{i:03d}" / ASSIGNMENT
        target.mkdir(parents=True)
        (target / f"{ASSIGNMENT}.ipynb").write_text(variants[i % len(variants)])
    return source_text


def sandbox_overhead(source_text, repeats):
    """Median seconds of grading one submission with and without the sandbox."""
    from rnncourse.autograde.grade import grade_submission

    times = {True: [], False: []}
    for _ in range(repeats):
        for sandboxed in (True, False):
            started = time.perf_counter()
            grade_submission(source_text, source_text.encode(), sandboxed=sandboxed)
            times[sandboxed].append(time.perf_counter() - started)
    return statistics.median(times[True]), statistics.median(times[False])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, ours = Path(tmp, "plain"), Path(tmp, "ours")
        plain.mkdir(), ours.mkdir()
        make_course(plain, args.submissions)
        source_text = make_course(ours, args.submissions)
        nbgrader = Path(sys.executable).parent / "nbgrader"
        plain_seconds = run(plain, nbgrader, "autograde", ASSIGNMENT)
        our_seconds = run(ours, sys.executable, "-m", "rnncourse.autograde", ASSIGNMENT,
                          "--workers", str(args.workers))
        with_sandbox, without = sandbox_overhead(source_text, repeats=5)
    print(f"{args.submissions} submissions of {ASSIGNMENT}, {os.cpu_count()} cores")
    print(f"  plain nbgrader autograde (serial, no sandbox):      {plain_seconds:7.1f} s "
          f"({plain_seconds / args.submissions:.2f} s per submission)")
    print(f"  rnncourse.autograde ({args.workers} workers, sandboxed):         {our_seconds:7.1f} s "
          f"({our_seconds / args.submissions:.2f} s per submission)")
    print(f"  speed-up: {plain_seconds / our_seconds:.2f}x")
    print(f"  one submission: {with_sandbox:.3f} s sandboxed, {without:.3f} s without the sandbox "
          f"-> sandbox overhead {with_sandbox - without:+.3f} s per submission")


if __name__ == "__main__":
    main()
