"""How time and cache memory of forward + backward grow with T and with H.

For the teaching and the fast numpy RNN, LSTM and GRU: the median time of one forward + backward
and the bytes of the forward's cache, for T = 10..160 (N=16, D=H=64) and H = 16..256 (N=16, T=20,
D=H). Prints the exponent of a least-squares fit of log(value) on log(T) or log(H) next to what
the analysis expects: time O(T*H**2) (exponent 1 in T, 2 in H, approached only once the H**2
matrix products outweigh the O(H) element-wise work and the per-step overhead), cache O(N*T*H)
(exponent 1 in T and 1 in H; the weights in the cache add O(H**2)). Saves a log-log plot.

Run: .venv/bin/python benchmarks/scaling.py scaling.png [--quick]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnncourse.benchmark import _args, make_inputs, numpy_step, time_call  # noqa: E402
from rnncourse import fast, gru, lstm, rnn  # noqa: E402

FORWARD = {
    ("rnn", False): rnn.rnn_forward, ("lstm", False): lstm.lstm_forward, ("gru", False): gru.gru_forward,
    ("rnn", True): fast.rnn_forward_fast, ("lstm", True): fast.lstm_forward_fast, ("gru", True): fast.gru_forward_fast,
}


def cache_bytes(cache):
    """Bytes of the distinct arrays a cache holds."""
    seen = {}
    for value in cache:
        if isinstance(value, np.ndarray):
            seen[id(value)] = value.nbytes
    return sum(seen.values())


def measure(cell, is_fast, N, T, D, H, repeats):
    data = make_inputs(cell, N, T, D, H)
    seconds = time_call(numpy_step(cell, data, fast=is_fast), repeats)
    _, cache = FORWARD[cell, is_fast](*_args(cell, data))
    return seconds, cache_bytes(cache)


def slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plot", type=Path, help="where to save the log-log plot (png, svg, pdf)")
    parser.add_argument("--quick", action="store_true", help="fewer points and repeats")
    args = parser.parse_args(argv)
    Ts = [10, 20, 40, 80] if args.quick else [10, 20, 40, 80, 160]
    Hs = [16, 32, 64, 128] if args.quick else [16, 32, 64, 128, 256]
    repeats = 3 if args.quick else 5
    N, H_fixed, T_fixed = 16, 64, 20
    results = {}
    for cell in ("rnn", "lstm", "gru"):
        for is_fast in (False, True):
            by_T = [measure(cell, is_fast, N, T, H_fixed, H_fixed, repeats) for T in Ts]
            by_H = [measure(cell, is_fast, N, T_fixed, H, H, repeats) for H in Hs]
            results[cell, is_fast] = by_T, by_H
    print(f"Scaling of forward + backward (N={N}; against T: D=H={H_fixed}; against H: T={T_fixed}, D=H)")
    print(f"{'cell':<5} {'code':<9} {'time~T^':>8} {'time~H^':>8} {'cache~T^':>9} {'cache~H^':>9}"
          "   expected: time T^1 H^2, cache T^1 H^1")
    for (cell, is_fast), (by_T, by_H) in results.items():
        print(f"{cell:<5} {'fast' if is_fast else 'teaching':<9} "
              f"{slope(Ts, [s for s, _ in by_T]):8.2f} {slope(Hs, [s for s, _ in by_H]):8.2f} "
              f"{slope(Ts, [b for _, b in by_T]):9.2f} {slope(Hs, [b for _, b in by_H]):9.2f}")
    print(f"time exponent in H over the two largest H ({Hs[-2]}, {Hs[-1]}), where the H**2 products dominate:")
    for (cell, is_fast), (_, by_H) in results.items():
        print(f"  {cell:<5} {'fast' if is_fast else 'teaching':<9} {slope(Hs[-2:], [s for s, _ in by_H[-2:]]):.2f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for (cell, is_fast), (by_T, by_H) in results.items():
        style = dict(marker="o", linestyle="-" if is_fast else "--", label=f"{cell} {'fast' if is_fast else 'teaching'}")
        axes[0].loglog(Ts, [s * 1e3 for s, _ in by_T], **style)
        axes[1].loglog(Hs, [s * 1e3 for s, _ in by_H], **style)
        axes[2].loglog(Hs, [b / 2**20 for _, b in by_H], **style)
    axes[0].set(xlabel="T", ylabel="ms, forward + backward", title=f"time against T (H={H_fixed})")
    axes[1].set(xlabel="H (= D)", ylabel="ms, forward + backward", title=f"time against H (T={T_fixed})")
    axes[2].set(xlabel="H (= D)", ylabel="MiB", title="cache size against H")
    axes[1].loglog(Hs, [results["lstm", True][1][-1][0] * 1e3 * (h / Hs[-1]) ** 2 for h in Hs], "k:", label="slope 2")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot)
    print(f"saved {args.plot}")
    return results


if __name__ == "__main__":
    main()
