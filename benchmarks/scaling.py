"""How time and memory of forward + backward grow with T and with H; the exponents as data.

For the teaching and the fast numpy RNN, LSTM and GRU: the median time of one forward + backward,
the bytes of the forward's cache, and the peak of the memory numpy allocates during forward +
backward (tracemalloc), for T = 10..160 (N=16, D=H=64) and H = 16..256 (N=16, T=20, D=H).
The exponent is the slope of a least-squares fit of log(value) on log(T) or log(H). The analysis
expects time O(T*H**2) (exponent 1 in T; 2 in H once the H**2 matrix products outweigh the O(H)
element-wise work and the per-step overhead, so the slope over the two largest H is given too),
and memory O(N*T*H) (exponent 1 in T and 1 in H; the weights add O(H**2)).
BLAS runs on one thread (threadpoolctl) so that other load on the machine disturbs it least.

Run: .venv/bin/python benchmarks/scaling.py [--json benchmarks/results/scaling-DATE.json] [--plot scaling.png] [--quick]
"""
import argparse
import datetime
import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from numpy_vs_torch import machine  # noqa: E402
from rnncourse import fast, gru, lstm, rnn  # noqa: E402
from rnncourse.benchmark import _args, blas_limit, format_exponents, make_inputs, numpy_step, time_call  # noqa: E402

FORWARD = {
    ("rnn", False): rnn.rnn_forward, ("lstm", False): lstm.lstm_forward, ("gru", False): gru.gru_forward,
    ("rnn", True): fast.rnn_forward_fast, ("lstm", True): fast.lstm_forward_fast, ("gru", True): fast.gru_forward_fast,
}


def cache_bytes(cache):
    """Bytes of the distinct arrays a cache holds (a cache of caches is walked)."""
    seen = {}

    def walk(value):
        if isinstance(value, np.ndarray):
            base = value if value.base is None else value.base
            seen[id(base)] = getattr(base, "nbytes", value.nbytes)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)

    walk(cache)
    return sum(seen.values())


def peak_bytes(step):
    """Peak bytes allocated (numpy's buffers included) while ``step()`` runs once."""
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(cell, is_fast, N, T, D, H, repeats):
    data = make_inputs(cell, N, T, D, H)
    step = numpy_step(cell, data, fast=is_fast)
    seconds = time_call(step, repeats)
    _, cache = FORWARD[cell, is_fast](*_args(cell, data))
    return {"seconds": seconds, "cache_bytes": cache_bytes(cache), "peak_bytes": peak_bytes(step)}


def slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def exponents(Ts, Hs, by_T, by_H):
    """Fitted exponents of time, cache and peak memory against T and H."""
    out = {}
    for key in ("seconds", "cache_bytes", "peak_bytes"):
        name = {"seconds": "time", "cache_bytes": "cache", "peak_bytes": "peak"}[key]
        out[f"{name}_T"] = slope(Ts, [m[key] for m in by_T])
        out[f"{name}_H"] = slope(Hs, [m[key] for m in by_H])
    out["time_H_top"] = slope(Hs[-2:], [m["seconds"] for m in by_H[-2:]])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the measurements and exponents here")
    parser.add_argument("--plot", type=Path, help="save a log-log plot here (png, svg, pdf)")
    parser.add_argument("--quick", action="store_true", help="fewer points and repeats")
    args = parser.parse_args(argv)
    Ts = [10, 20, 40, 80] if args.quick else [10, 20, 40, 80, 160]
    Hs = [16, 32, 64, 128] if args.quick else [16, 32, 64, 128, 256]
    repeats = 3 if args.quick else 5
    N, H_fixed, T_fixed = 16, 64, 20
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(), "numpy": np.__version__, "blas_threads": 1,
              "setup": {"N": N, "T_values": Ts, "H_fixed": H_fixed, "H_values": Hs, "T_fixed": T_fixed,
                        "repeats": repeats, "time": "median seconds of forward + backward"},
              "expected": {"time_T": 1, "time_H": 2, "cache_T": 1, "cache_H": 1, "peak_T": 1, "peak_H": 1},
              "cells": {}}
    with blas_limit(1):
        for cell in ("rnn", "lstm", "gru"):
            for is_fast in (False, True):
                by_T = [measure(cell, is_fast, N, T, H_fixed, H_fixed, repeats) for T in Ts]
                by_H = [measure(cell, is_fast, N, T_fixed, H, H, repeats) for H in Hs]
                result["cells"][f"{cell} {'fast' if is_fast else 'teaching'}"] = {
                    "by_T": by_T, "by_H": by_H, "exponents": exponents(Ts, Hs, by_T, by_H)}
    print(format_exponents(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    if args.plot:
        plot(result, args.plot)
        print(f"saved {args.plot}")
    return result


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s = result["setup"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for name, cell in result["cells"].items():
        style = dict(marker="o", linestyle="-" if "fast" in name else "--", label=name)
        axes[0].loglog(s["T_values"], [m["seconds"] * 1e3 for m in cell["by_T"]], **style)
        axes[1].loglog(s["H_values"], [m["seconds"] * 1e3 for m in cell["by_H"]], **style)
        axes[2].loglog(s["H_values"], [m["peak_bytes"] / 2**20 for m in cell["by_H"]], **style)
    axes[0].set(xlabel="T", ylabel="ms, forward + backward", title=f"time against T (H={s['H_fixed']})")
    axes[1].set(xlabel="H (= D)", ylabel="ms, forward + backward", title=f"time against H (T={s['T_fixed']})")
    axes[2].set(xlabel="H (= D)", ylabel="MiB", title="peak memory against H")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    main()
