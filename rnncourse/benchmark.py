"""Timing helpers shared by ``benchmarks/`` and the book's appendix *Performance*.

- :func:`time_call`: median wall time of a call, after warm-up calls.
- :func:`gemm_rate`: the machine's measured matrix-multiply rate in GFLOP/s, for given shapes.
- :func:`rnn_flops`: the analytic FLOP count of a layer's forward and backward passes.
- :func:`blas_threads` / :func:`blas_limit`: the BLAS thread pools' size, read and set with
  `threadpoolctl <https://github.com/joblib/threadpoolctl>`_ (numpy's and SciPy's OpenBLAS alike).
- :func:`compare_numpy_torch`: numpy (fast, and optionally teaching) against PyTorch CPU, in
  interleaved rounds; one row per cell, dtype and size, with the median and quartiles of the
  per-round ratios; :func:`format_table` and :func:`format_targets` print them.
- :func:`format_exponents`: the scaling exponents written by ``benchmarks/scaling.py``.

FLOPs are counted for the matrix products only, the part that grows as H**2:
a forward pass over N sequences of T steps makes ``x_t Wx`` (2*D*G*H per row) and
``h_{t-1} Wh`` (2*H*G*H per row), ``2*N*T*(D+H)*G*H`` in all (G = 1 for the RNN, 4 for
the LSTM, 3 for the GRU); the backward makes two products of the same size per weight
(``dx``/``dWx`` and ``dh``/``dWh``), twice that. Forward plus backward: ``6*N*T*(D+H)*G*H``.
The element-wise work (gates, activations) is O(N*T*G*H) and not counted.

torch and threadpoolctl are imported only by the functions that use them.
"""
import os
import statistics
import time

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FLOP_FORMULA = "FLOPs(forward + backward) = 6*N*T*(D+H)*G*H  (forward 2*N*T*(D+H)*G*H, backward twice that; G = 1 RNN, 4 LSTM, 3 GRU)"
SIZES = {
    "small": (8, 20, 32, 32),
    "standard": (64, 50, 128, 128),
    "large": (64, 100, 512, 512),
}
GEMM_REFERENCE = 1024  # the GEMM rate is that of a square (1024, 1024) @ (1024, 1024) product
# Goals of issue 16 at the standard size: fast/torch at most these, and this share of the GEMM rate.
TARGETS = {"float64": 0.7, "float32": 1.0, "share": 0.55}


def rnn_flops(N, T, D, H, cell="rnn", backward=True):
    """Analytic FLOPs of the matrix products: ``2*N*T*(D+H)*G*H`` forward, 3 times that with the backward."""
    forward = 2 * N * T * (D + H) * GATES[cell] * H
    return 3 * forward if backward else forward


def blas_threads():
    """The largest thread count among the loaded BLAS libraries (threadpoolctl), or the core count."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is in requirements/dev.txt
        return os.cpu_count() or 1
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return max(counts, default=os.cpu_count() or 1)


def blas_limit(threads):
    """Context manager: every loaded BLAS library (numpy's, SciPy's) limited to ``threads`` threads."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=threads, user_api="blas")


def time_call(fn, repeats=5, warmup=1):
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_rate(m, k, n, dtype=np.float64, repeats=5, seed=0):
    """Measured GFLOP/s of numpy's ``(m, k) @ (k, n)`` (2*m*k*n FLOPs), median of ``repeats``."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    inner = max(1, int(2e8 // max(1, 2 * m * k * n)))  # ~0.2 GFLOP per timed sample

    def run():
        for _ in range(inner):
            np.matmul(a, b, out=out)

    return 2 * m * k * n * inner / time_call(run, repeats=repeats, warmup=1) / 1e9


def make_inputs(cell, N, T, D, H, dtype=np.float64, seed=0):
    """Random inputs of a layer: dict with x, h0, Wx, Wh, b (and bh for the GRU), dh."""
    rng = np.random.default_rng(seed)
    G = GATES[cell]
    data = {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, G * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, G * H)) / np.sqrt(H),
        "b": rng.standard_normal(G * H) * 0.1,
        "dh": rng.standard_normal((N, T, H)),
    }
    if cell == "gru":
        data["bh"] = rng.standard_normal(G * H) * 0.1
    return {name: value.astype(dtype) for name, value in data.items()}


def _args(cell, d):
    if cell == "gru":
        return d["x"], d["h0"], d["Wx"], d["Wh"], d["b"], d["bh"]
    return d["x"], d["h0"], d["Wx"], d["Wh"], d["b"]


def numpy_step(cell, data, fast=True):
    """A function running the numpy forward and backward once (``fast`` or teaching code)."""
    if fast:
        from . import fast as module
        forward, backward = (getattr(module, f"{cell}_{part}_fast") for part in ("forward", "backward"))
    else:
        from . import gru, lstm, rnn
        module = {"rnn": rnn, "lstm": lstm, "gru": gru}[cell]
        forward, backward = (getattr(module, f"{cell}_{part}") for part in ("forward", "backward"))
    args, dh = _args(cell, data), data["dh"]

    def run():
        _, cache = forward(*args)
        return backward(dh, cache)

    return run


def torch_step(cell, data, threads=None):
    """A function running ``torch.nn.RNN/LSTM/GRU`` forward and ``backward(dh)`` on the CPU once."""
    import torch

    from . import torch_compat

    if threads is not None:
        torch.set_num_threads(threads)
    dtype = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[data["x"].dtype]
    if cell == "rnn":
        module = torch_compat.torch_rnn_from_numpy(data["Wx"], data["Wh"], data["b"], device="cpu", dtype=dtype)
    elif cell == "lstm":
        module = torch_compat.torch_lstm_from_numpy(data["Wx"], data["Wh"], data["b"], device="cpu", dtype=dtype)
    else:
        module = torch_compat.torch_gru_from_numpy(data["Wx"], data["Wh"], data["b"], data["bh"], device="cpu", dtype=dtype)
    x = torch.tensor(data["x"], requires_grad=True)
    h0 = torch.tensor(data["h0"][None], requires_grad=True)
    state = (h0, torch.zeros_like(h0, requires_grad=True)) if cell == "lstm" else h0
    dh = torch.tensor(data["dh"])
    params = list(module.parameters())

    def run():
        for tensor in params + [x, h0]:
            tensor.grad = None
        h, _ = module(x, state)
        h.backward(dh)

    return run


def _quartiles(values):
    """(first quartile, median, third quartile) of ``values``."""
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def compare_numpy_torch(sizes=("small", "standard", "large"), dtypes=(np.float64, np.float32),
                        cells=("rnn", "lstm", "gru"), repeats=5, teaching=True, threads=None, seed=0):
    """Time numpy (fast code, optionally the teaching code) and torch CPU forward+backward on the same data.

    Each measurement is ``repeats`` rounds after a warm-up round; a round calls the fast code,
    torch (and the teaching code) once each, and times a square GEMM of ``GEMM_REFERENCE``, so
    that a burst of other load on the machine falls on all of them alike. Ratios and the share
    of the GEMM rate are computed per round; their median and quartiles are reported.

    Args:
        sizes: names in ``SIZES`` or tuples (N, T, D, H)
        dtypes: numpy float dtypes
        cells: among ``"rnn"``, ``"lstm"``, ``"gru"``
        repeats: timed rounds (at least 1)
        teaching: also time the teaching code (slow at large sizes)
        threads: BLAS threads for numpy (threadpoolctl) and torch's threads; default all cores

    Returns:
        dict with ``threads``, ``versions``, ``formula``, ``gemm`` (median GFLOP/s per dtype) and
        ``rows``, one dict per measurement: cell, dtype, N, T, D, H, flops, median seconds
        ``fast``/``torch``/``teaching``, ``fast_over_torch`` and ``share_of_gemm`` as
        (first quartile, median, third quartile) over the rounds, ``gflops_fast``,
        ``gflops_torch``, ``teaching_over_torch`` (median or None).
    """
    import torch

    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    result = {"threads": {"numpy_blas": threads, "torch": torch.get_num_threads()},
              "versions": {"numpy": np.__version__, "torch": torch.__version__},
              "formula": FLOP_FORMULA, "gemm": {}, "rows": []}
    n = GEMM_REFERENCE
    with blas_limit(threads):
        for dtype in map(np.dtype, dtypes):
            rng = np.random.default_rng(seed)
            a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
            product = np.empty((n, n), dtype=dtype)
            rates = []
            for size in sizes:
                N, T, D, H = SIZES[size] if isinstance(size, str) else size
                for cell in cells:
                    data = make_inputs(cell, N, T, D, H, dtype, seed)
                    codes = {"fast": numpy_step(cell, data, fast=True), "torch": torch_step(cell, data),
                             "gemm": lambda: np.matmul(a, b, out=product)}
                    if teaching:
                        codes["teaching"] = numpy_step(cell, data, fast=False)
                    times = _rounds(codes, repeats)
                    flops = rnn_flops(N, T, D, H, cell)
                    round_rates = [2 * n**3 / s / 1e9 for s in times["gemm"]]
                    rates += round_rates
                    row = {"cell": cell, "dtype": dtype.name, "size": size if isinstance(size, str) else "custom",
                           "N": N, "T": T, "D": D, "H": H, "flops": flops, "rounds": repeats,
                           "fast": statistics.median(times["fast"]), "torch": statistics.median(times["torch"]),
                           "teaching": statistics.median(times["teaching"]) if teaching else None}
                    row["fast_over_torch"] = _quartiles([f / t for f, t in zip(times["fast"], times["torch"])])
                    row["share_of_gemm"] = _quartiles(
                        [flops / f / 1e9 / rate for f, rate in zip(times["fast"], round_rates)])
                    row["teaching_over_torch"] = statistics.median(
                        [s / t for s, t in zip(times["teaching"], times["torch"])]) if teaching else None
                    row["gflops_fast"] = flops / row["fast"] / 1e9
                    row["gflops_torch"] = flops / row["torch"] / 1e9
                    result["rows"].append(row)
            result["gemm"][dtype.name] = statistics.median(rates)
    return result


def _rounds(codes, repeats):
    """``{name: [seconds of each round]}``: one warm-up round, then ``repeats`` rounds of one call each."""
    for fn in codes.values():
        fn()
    times = {name: [] for name in codes}
    for _ in range(max(1, repeats)):
        for name, fn in codes.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def format_table(result):
    """The result of :func:`compare_numpy_torch` as a plain-text table (with its header lines)."""
    lines = [
        f"numpy {result['versions']['numpy']} (BLAS threads {result['threads']['numpy_blas']}), "
        f"torch {result['versions']['torch']} CPU (threads {result['threads']['torch']}); "
        "times: median ms of forward + backward",
        result["formula"],
        f"GEMM rate, square {GEMM_REFERENCE} product timed in every round (median GFLOP/s): " + ", ".join(
            f"{dtype} {rate:.1f}" for dtype, rate in result["gemm"].items()),
        "fast/torch and share (fast GFLOP/s / GEMM GFLOP/s of the same round): median (quartiles) over the rounds",
        "",
        f"{'cell':<5} {'dtype':<8} {'N':>4} {'T':>4} {'D':>4} {'H':>4} {'teach ms':>9} {'fast ms':>9} "
        f"{'torch ms':>9} {'teach/torch':>11} {'fast/torch':>17} {'GFLOP/s fast':>12} {'torch':>6} {'share':>15}",
    ]
    for r in result["rows"]:
        teach = f"{r['teaching'] * 1e3:9.2f}" if r["teaching"] is not None else f"{'-':>9}"
        teach_ratio = f"{r['teaching_over_torch']:11.2f}" if r["teaching"] is not None else f"{'-':>11}"
        q1, q2, q3 = r["fast_over_torch"]
        s1, s2, s3 = r["share_of_gemm"]
        lines.append(
            f"{r['cell']:<5} {r['dtype']:<8} {r['N']:>4} {r['T']:>4} {r['D']:>4} {r['H']:>4} {teach} "
            f"{r['fast'] * 1e3:9.2f} {r['torch'] * 1e3:9.2f} {teach_ratio} "
            f"{q2:5.2f} ({q1:.2f}-{q3:.2f}) {r['gflops_fast']:12.1f} {r['gflops_torch']:6.1f} "
            f"{s2:4.0%} ({s1:.0%}-{s3:.0%})")
    return "\n".join(lines)


def format_targets(result, size=SIZES["standard"]):
    """Lines saying, for each row of ``size``, whether the goals in ``TARGETS`` are met (by the medians)."""
    lines = [f"Goals at N, T, D, H = {size}: fast/torch <= {TARGETS['float64']} in float64 and "
             f"<= {TARGETS['float32']} in float32; share of the GEMM rate >= {TARGETS['share']:.0%}"]
    for r in result["rows"]:
        if (r["N"], r["T"], r["D"], r["H"]) != tuple(size):
            continue
        ratio, share = r["fast_over_torch"][1], r["share_of_gemm"][1]
        goal = TARGETS.get(r["dtype"], 1.0)
        lines.append(f"  {r['cell']:<5} {r['dtype']:<8} fast/torch {ratio:.2f} "
                     f"({'met' if ratio <= goal else 'NOT met'})  share {share:.0%} "
                     f"({'met' if share >= TARGETS['share'] else 'NOT met'})")
    return "\n".join(lines)


def format_exponents(result):
    """The fitted exponents of a ``benchmarks/scaling.py`` result (its JSON) as a plain-text table."""
    s = result["setup"]
    lines = [f"Scaling of forward + backward, {result['date']}, {result['machine']}",
             f"N={s['N']}; against T: D=H={s['H_fixed']}, T={s['T_values']}; against H: T={s['T_fixed']}, "
             f"D=H={s['H_values']}; BLAS threads {result['blas_threads']}",
             f"{'code':<14} {'time~T^':>8} {'time~H^':>8} {'(top 2 H)':>9} {'cache~T^':>9} {'cache~H^':>9} "
             f"{'peak~T^':>8} {'peak~H^':>8}    expected: time T^1 H^2, memory T^1 H^1"]
    for name, cell in result["cells"].items():
        e = cell["exponents"]
        lines.append(f"{name:<14} {e['time_T']:8.2f} {e['time_H']:8.2f} {e['time_H_top']:9.2f} "
                     f"{e['cache_T']:9.2f} {e['cache_H']:9.2f} {e['peak_T']:8.2f} {e['peak_H']:8.2f}")
    return "\n".join(lines)
