"""numpy against PyTorch CPU: RNN, LSTM and GRU forward + backward, float64 and float32.

For each cell, dtype and size (small, standard N=64 T=50 D=H=128, large) prints the median time
of one forward + backward of the teaching code (rnncourse.rnn/lstm/gru), of the fast code
(rnncourse.fast) and of torch.nn.RNN/LSTM/GRU with autograd (forward, then backward(dh)) on the
same data and dtype, the ratios to torch, and the fast code's GFLOP/s as a share of the GEMM rate
measured in the same run. torch uses as many threads as numpy's BLAS. FLOPs are counted
analytically: 6*N*T*(D+H)*G*H for forward + backward (see rnncourse.benchmark).

Run: .venv/bin/python benchmarks/numpy_vs_torch.py [--quick] [--repeats 5] [--json out.json]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnncourse.benchmark import SIZES, compare_numpy_torch, format_table  # noqa: E402

QUICK_SIZES = ("small", "standard", (32, 50, 256, 256))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller large size and 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (median)")
    parser.add_argument("--sizes", nargs="*", default=None, choices=sorted(SIZES))
    parser.add_argument("--no-teaching", action="store_true", help="skip the (slow) teaching code")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else ("small", "standard", "large"))
    repeats = args.repeats or (3 if args.quick else 7)
    result = compare_numpy_torch(sizes=sizes, dtypes=(np.float64, np.float32), repeats=repeats,
                                 teaching=not args.no_teaching)
    print(format_table(result))
    standard = [r for r in result["rows"] if (r["N"], r["T"], r["D"], r["H"]) == SIZES["standard"]]
    if standard:
        print("\nGoal at the standard size: fast/torch <= 1.0 and share >= 45 %:")
        for r in standard:
            ok = r["fast_over_torch"] <= 1.0 and r["share_of_gemm"] >= 0.45
            print(f"  {r['cell']:<5} {r['dtype']:<8} fast/torch {r['fast_over_torch']:.2f}  "
                  f"share {r['share_of_gemm']:.0%}  {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return result


if __name__ == "__main__":
    main()
