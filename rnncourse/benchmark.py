"""Timing helpers shared by ``benchmarks/`` and the book's appendix *Performance*.

- :func:`time_call`: median wall time of a call, after warm-up calls.
- :func:`gemm_rate`: the machine's measured matrix-multiply rate in GFLOP/s, for given shapes.
- :func:`rnn_flops`: the analytic FLOP count of a layer's forward and backward passes.
- :func:`blas_threads`: how many threads numpy's BLAS uses (torch is set to the same).
- :func:`compare_numpy_torch`: numpy (teaching and fast) against PyTorch CPU, one row per
  cell, dtype and size; :func:`format_table` prints the rows.

FLOPs are counted for the matrix products only, the part that grows as H**2:
a forward pass over N sequences of T steps makes ``x_t Wx`` (2*D*G*H per row) and
``h_{t-1} Wh`` (2*H*G*H per row), ``2*N*T*(D+H)*G*H`` in all (G = 1 for the RNN, 4 for
the LSTM, 3 for the GRU); the backward makes two products of the same size per weight
(``dx``/``dWx`` and ``dh``/``dWh``), twice that. Forward plus backward: ``6*N*T*(D+H)*G*H``.
The element-wise work (gates, activations) is O(N*T*G*H) and not counted.

torch is imported only by the functions that time it.
"""
import ctypes
import glob
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


def rnn_flops(N, T, D, H, cell="rnn", backward=True):
    """Analytic FLOPs of the matrix products: ``2*N*T*(D+H)*G*H`` forward, 3 times that with the backward."""
    forward = 2 * N * T * (D + H) * GATES[cell] * H
    return 3 * forward if backward else forward


def blas_threads():
    """Number of threads numpy's BLAS (OpenBLAS) uses; falls back to the environment or the core count."""
    try:
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*.so*"))
        for path in libs:
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                         "openblas_get_num_threads"):
                if hasattr(lib, name):
                    return int(getattr(lib, name)())
    except OSError:  # pragma: no cover - depends on the numpy build
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


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


def time_interleaved(functions, repeats=5):
    """Median seconds of each of ``{name: fn}``, timed in rounds of one call each (after one
    warm-up call each), so that a burst of other load on the machine slows all alike."""
    for fn in functions.values():
        fn()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


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


def compare_numpy_torch(sizes=("small", "standard", "large"), dtypes=(np.float64, np.float32),
                        cells=("rnn", "lstm", "gru"), repeats=5, teaching=True, threads=None, seed=0):
    """Time numpy (teaching and fast code) and torch CPU forward+backward on the same data.

    Args:
        sizes: names in ``SIZES`` or tuples (N, T, D, H)
        dtypes: numpy float dtypes
        cells: among ``"rnn"``, ``"lstm"``, ``"gru"``
        repeats: timed rounds (one call of each code per round; the median is kept), after a warm-up
        teaching: also time the teaching code (slow at large sizes)
        threads: torch threads; default :func:`blas_threads`, numpy's BLAS thread count

    Returns:
        dict with ``threads`` (numpy BLAS, torch), ``gemm`` (GFLOP/s per dtype: square 2048
        and the input-projection shape of every size), ``formula`` and ``rows``, one dict per
        measurement: cell, dtype, N, T, D, H, flops, seconds ``teaching``/``fast``/``torch``,
        ``fast_over_torch``, ``teaching_over_torch``, ``gflops_fast``, ``share_of_gemm``.
    """
    import torch

    numpy_threads = blas_threads()
    threads = threads or numpy_threads
    torch.set_num_threads(threads)
    result = {"threads": {"numpy_blas": numpy_threads, "torch": torch.get_num_threads()},
              "versions": {"numpy": np.__version__, "torch": torch.__version__},
              "formula": FLOP_FORMULA, "gemm": {}, "rows": []}
    for dtype in map(np.dtype, dtypes):
        rates = {"square 2048": gemm_rate(2048, 2048, 2048, dtype, repeats=3)}
        for size in sizes:
            N, T, D, H = SIZES[size] if isinstance(size, str) else size
            for cell in cells:
                G = GATES[cell]
                rates[f"({N * T}, {D}) @ ({D}, {G * H})"] = gemm_rate(N * T, D, G * H, dtype, repeats=3)
        result["gemm"][dtype.name] = rates
        peak = rates["square 2048"]
        for size in sizes:
            N, T, D, H = SIZES[size] if isinstance(size, str) else size
            for cell in cells:
                data = make_inputs(cell, N, T, D, H, dtype, seed)
                flops = rnn_flops(N, T, D, H, cell)
                row = {"cell": cell, "dtype": dtype.name, "size": size if isinstance(size, str) else "custom",
                       "N": N, "T": T, "D": D, "H": H, "flops": flops}
                row.update(time_interleaved(
                    {"fast": numpy_step(cell, data, fast=True), "torch": torch_step(cell, data),
                     **({"teaching": numpy_step(cell, data, fast=False)} if teaching else {})}, repeats))
                row.setdefault("teaching", None)
                row["fast_over_torch"] = row["fast"] / row["torch"]
                row["teaching_over_torch"] = row["teaching"] / row["torch"] if teaching else None
                row["gflops_fast"] = flops / row["fast"] / 1e9
                row["gflops_torch"] = flops / row["torch"] / 1e9
                row["gflops_teaching"] = flops / row["teaching"] / 1e9 if teaching else None
                row["share_of_gemm"] = row["gflops_fast"] / peak
                row["share_of_gemm_teaching"] = row["gflops_teaching"] / peak if teaching else None
                result["rows"].append(row)
    return result


def format_table(result):
    """The result of :func:`compare_numpy_torch` as a plain-text table (with its header lines)."""
    lines = [
        f"numpy {result['versions']['numpy']} (BLAS threads {result['threads']['numpy_blas']}), "
        f"torch {result['versions']['torch']} CPU (threads {result['threads']['torch']}); "
        "times: median ms of forward + backward",
        result["formula"],
        "GEMM rate measured in this run (GFLOP/s): " + "; ".join(
            f"{dtype}: " + ", ".join(f"{shape} {rate:.0f}" for shape, rate in rates.items())
            for dtype, rates in result["gemm"].items()),
        "share = fast numpy GFLOP/s / square-2048 GEMM GFLOP/s of the same dtype",
        "",
        f"{'cell':<5} {'dtype':<8} {'N':>4} {'T':>4} {'D':>4} {'H':>4} {'teach ms':>9} {'fast ms':>9} "
        f"{'torch ms':>9} {'teach/torch':>11} {'fast/torch':>10} {'GFLOP/s fast':>12} {'torch':>6} {'share':>6}",
    ]
    for r in result["rows"]:
        teach = f"{r['teaching'] * 1e3:9.2f}" if r["teaching"] is not None else f"{'-':>9}"
        teach_ratio = f"{r['teaching_over_torch']:11.2f}" if r["teaching"] is not None else f"{'-':>11}"
        lines.append(
            f"{r['cell']:<5} {r['dtype']:<8} {r['N']:>4} {r['T']:>4} {r['D']:>4} {r['H']:>4} {teach} "
            f"{r['fast'] * 1e3:9.2f} {r['torch'] * 1e3:9.2f} {teach_ratio} {r['fast_over_torch']:10.2f} "
            f"{r['gflops_fast']:12.1f} {r['gflops_torch']:6.1f} {r['share_of_gemm']:6.0%}")
    return "\n".join(lines)
