"""The command line: ``python -m rnncourse.autograde ASSIGNMENT [options]``, run in the course directory."""
import argparse
import sys

from . import sandbox
from .batch import autograde_assignment


def parse_arguments(argv=None):
    """The command line's options (argparse Namespace)."""
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
    parser.add_argument("--disk-mb", type=int, default=sandbox.Limits.folder_bytes // 1024**2,
                        help="size of the work folder and of /tmp of one submission (each, in memory), in MiB")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="grade without a sandbox when none is available (only for submissions you trust)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the command line; returns the exit status (0 done, 2 could not grade)."""
    args = parse_arguments(argv)
    limits = sandbox.Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout) + 1,
                            cell_seconds=max(1, int(args.timeout)), probe_seconds=args.probe_timeout,
                            memory_bytes=args.memory_mb * 1024**2,
                            folder_bytes=args.disk_mb * 1024**2, tmp_bytes=args.disk_mb * 1024**2)
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
