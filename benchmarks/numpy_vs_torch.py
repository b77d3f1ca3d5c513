"""numpy against PyTorch CPU: RNN, LSTM and GRU forward + backward, float64 and float32.

For each cell, dtype and size (by default the standard size N=64 T=50 D=H=128; ``--sizes`` adds
small and large) prints the median time of one forward + backward of the fast code
(rnncourse.fast), of torch.nn.RNN/LSTM/GRU with autograd (forward, then backward(dh)) on the same
data and dtype, and with ``--teaching`` of the teaching code (rnncourse.rnn/lstm/gru). The codes
run in interleaved rounds, together with a square GEMM, so that the ratios fast/torch and the
share of the GEMM rate are computed per round; the table gives their median and quartiles.
numpy's BLAS (threadpoolctl) and torch use the same number of threads (``--threads``, default all
cores). FLOPs are counted analytically: 6*N*T*(D+H)*G*H for forward + backward.

Run: .venv/bin/python benchmarks/numpy_vs_torch.py [--repeats 15] [--threads 1] [--json out.json]
"""
import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnncourse.benchmark import SIZES, compare_numpy_torch, format_table, format_targets  # noqa: E402


def machine():
    """A short description of this machine: processor, cores, Python."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    import os
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds per measurement")
    parser.add_argument("--sizes", nargs="*", default=["standard"], choices=sorted(SIZES))
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default all cores)")
    parser.add_argument("--teaching", action="store_true", help="also time the (slow) teaching code")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    result = compare_numpy_torch(sizes=args.sizes, dtypes=(np.float64, np.float32), repeats=args.repeats,
                                 teaching=args.teaching, threads=args.threads)
    result["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result["machine"] = machine()
    print(format_table(result))
    print()
    print(format_targets(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return result


if __name__ == "__main__":
    main()
