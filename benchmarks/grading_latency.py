"""Latency of each visible test cell of the assignments, with the instructor's solutions.

For every assignment in assignments/source/*/: reads the source notebook, runs its set-up and
solution cells into one namespace, then for each test cell (hidden-test regions removed: what a
student runs) parses it with rnncourse.autograde.plan.parse_test_cell and times its checks, i.e.
rnncourse.grading.CASES[check](...) + run_cases with the namespace's function. Prints the
latency of every cell and the median per assignment (goal: median < 0.5 s).

Run: .venv/bin/python benchmarks/grading_latency.py [--repeats 3]
"""
import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_SECONDS = 0.5


def visible(source):
    """A test cell as released: the lines between the hidden-test markers removed."""
    lines, hidden = [], False
    for line in source.splitlines():
        if line.strip() == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif line.strip() == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def assignment_latencies(notebook_path, repeats):
    """[(grade_id, seconds)] for the visible part of each test cell of one source notebook."""
    import matplotlib
    matplotlib.use("Agg")
    import nbformat

    from rnncourse import grading
    from rnncourse.autograde.plan import load_plan, parse_test_cell

    plan = load_plan(nbformat.read(notebook_path, as_version=4))
    namespace = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(notebook_path.parent)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for entry in plan:
                if entry["kind"] in ("setup", "solution"):
                    exec(compile(entry["source"], f"{notebook_path.name}:{entry['grade_id']}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    latencies = []
    for entry in plan:
        if entry["kind"] != "test":
            continue
        checks = parse_test_cell(visible(entry["source"]))
        if not checks:  # a cell of hidden tests only: students see nothing to run
            continue

        def run():
            for check, function_name, extra_args, kwargs in checks:
                grading.run_cases(namespace[function_name], grading.CASES[check](*extra_args, **kwargs))

        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        latencies.append((entry["grade_id"], statistics.median(times), len(checks)))
    return latencies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell (median)")
    args = parser.parse_args(argv)
    summary = {}
    for folder in sorted((ROOT / "assignments" / "source").iterdir()):
        notebooks = sorted(folder.glob("*.ipynb"))
        if not notebooks:
            continue
        latencies = assignment_latencies(notebooks[0], args.repeats)
        print(f"{folder.name}: {len(latencies)} test cells")
        for grade_id, seconds, n_checks in latencies:
            print(f"  {grade_id:<40} {seconds * 1e3:8.1f} ms  ({n_checks} check{'s' * (n_checks != 1)})")
        median = statistics.median(s for _, s, _ in latencies) if latencies else float("nan")
        summary[folder.name] = (median, max((s for _, s, _ in latencies), default=float("nan")))
    print(f"\nmedian latency of a visible test cell per assignment (goal < {GOAL_SECONDS} s):")
    for name, (median, worst) in summary.items():
        print(f"  {name:<20} median {median * 1e3:7.1f} ms   slowest {worst * 1e3:7.1f} ms   "
              f"{'met' if median < GOAL_SECONDS else 'NOT met'}")
    return summary


if __name__ == "__main__":
    main()
