"""Run every benchmark of this folder and print everything.

Quick settings by default (a few minutes on 2 cores); ``--full`` uses the full sizes and repeats.
Run: .venv/bin/python benchmarks/run_all.py [--full] [--out DIR]
(DIR receives numpy_vs_torch.json and scaling.png; default a temporary folder)
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grading_latency  # noqa: E402
import numpy_vs_torch  # noqa: E402
import scaling  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="rnncourse-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    quick = [] if args.full else ["--quick"]
    for title, run in [
        ("numpy vs torch CPU", lambda: numpy_vs_torch.main(quick + ["--json", str(out / "numpy_vs_torch.json")])),
        ("scaling in T and H", lambda: scaling.main([str(out / "scaling.png")] + quick)),
        ("grading latency", lambda: grading_latency.main(["--repeats", "3" if args.full else "1"])),
    ]:
        print(f"\n=== {title} ===", flush=True)
        start = time.perf_counter()
        run()
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
