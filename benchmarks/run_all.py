"""Run every benchmark of this folder and print everything (``make bench``).

1. numpy (rnncourse.fast) against PyTorch CPU at the standard size, float64 and float32, in
   interleaved rounds: ratios and share of the GEMM rate with their quartiles, and the goals.
2. Scaling of time and memory in T and H (exponents).
3. Grading latency of the assignments' test cells.

Run: .venv/bin/python benchmarks/run_all.py [--full] [--threads N] [--out DIR]
``--full`` adds the small and large sizes, the teaching code and more rounds. With ``--out DIR``
the results are also written there as JSON (numpy_vs_torch.json, scaling.json) with a plot.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grading_latency  # noqa: E402
import numpy_vs_torch  # noqa: E402
import scaling  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default all cores)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    vs_torch = ["--repeats", "15"] + (["--sizes", "small", "standard", "large", "--teaching"] if args.full else [])
    vs_torch += ["--threads", str(args.threads)] if args.threads else []
    scale = [] if args.full else ["--quick"]
    if args.out:
        vs_torch += ["--json", str(args.out / "numpy_vs_torch.json")]
        scale += ["--json", str(args.out / "scaling.json"), "--plot", str(args.out / "scaling.png")]
    for title, run in [
        ("numpy vs torch CPU", lambda: numpy_vs_torch.main(vs_torch)),
        ("scaling in T and H", lambda: scaling.main(scale)),
        ("grading latency", lambda: grading_latency.main(["--repeats", "3" if args.full else "1"])),
    ]:
        print(f"\n=== {title} ===", flush=True)
        start = time.perf_counter()
        run()
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
