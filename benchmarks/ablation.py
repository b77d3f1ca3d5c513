"""What each change of issue 16 bought: before/after lines, measured in interleaved rounds.

Variants of one forward + backward at the standard size N=64 T=50 D=H=128, each timed once per
round next to torch CPU, so that every ratio to torch is computed within a round:

1. ``previous``: rnncourse/fast.py as of commit f6351f7 (read from git history);
2. ``previous, sigmoid = tanh(x/2)/2 + 1/2``: the same with the issue's one-tanh sigmoid;
3. ``time-major, one exp, matmul + add``: the present fast.py with SciPy's BLAS switched off
   and the caller's BLAS threads in the time loops;
4. ``+ gemm beta=1 (scipy)``: SciPy's ?gemm adds h_{t-1} Wh into the step's block in place
   (``fast.USE_SCIPY_BLAS``; off by default since it did not pay here);
5. ``matmul + add, 1 BLAS thread in the loops``: the present defaults (threadpoolctl).

With ``--threads 1`` the last line only measures the cost of switching; the thread setting
matters when the caller gives BLAS more threads (``--threads 2`` and more).

It also times the element-wise candidates on one step's LSTM gate block (N, 4H) = (64, 512):
np.tanh, tanh written with exp, the sigmoid with exp, the sigmoid as tanh(x/2)/2 + 1/2, and
(when numexpr is installed) numexpr's fused sigmoid.

Run: .venv/bin/python benchmarks/ablation.py [--threads 1] [--rounds 7] [--json out.json]
"""
import argparse
import datetime
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from numpy_vs_torch import machine  # noqa: E402
from rnncourse import fast  # noqa: E402
from rnncourse.benchmark import _args, _quartiles, _rounds, blas_limit, make_inputs, time_call, torch_step  # noqa: E402

PREVIOUS = "f6351f7"  # the commit that closed the first performance issue


def previous_fast():
    """rnncourse/fast.py of commit PREVIOUS, loaded as the module rnncourse._fast_previous."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{PREVIOUS}:rnncourse/fast.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "fast_previous.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("rnncourse._fast_previous", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def sigmoid_by_tanh_(a):
    """In place: sigmoid(a) = tanh(a / 2) / 2 + 1 / 2 (one tanh)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def variant(module, cell, data, **settings):
    forward, backward = (getattr(module, f"{cell}_{part}_fast") for part in ("forward", "backward"))
    args = _args(cell, data)

    def run():
        for name, value in settings.items():
            setattr(module, name, value)
        _, cache = forward(*args)
        return backward(data["dh"], cache)

    return run


def elementwise(dtype, repeats=7):
    """Microseconds per call on one (64, 512) gate block of ``dtype``, for each candidate."""
    rng = np.random.default_rng(0)
    block = (rng.standard_normal((64, 512)) * 2).astype(dtype)
    out = np.empty_like(block)

    def sigmoid_exp():
        np.multiply(block, -1, out=out)
        fast._activate_(out, 1)

    def sigmoid_tanh():
        np.copyto(out, block)
        sigmoid_by_tanh_(out)

    candidates = {"np.tanh": lambda: np.tanh(block, out=out),
                  "tanh as 2/(1+exp(-2a))-1": lambda: fast._tanh_into(block, out),
                  "sigmoid as 1/(1+exp(-a))": sigmoid_exp,
                  "sigmoid as tanh(a/2)/2+1/2": sigmoid_tanh}
    try:
        import numexpr
        numexpr.set_num_threads(1)
        candidates["numexpr 1/(1+exp(-a))"] = lambda: numexpr.evaluate("1/(1+exp(-a))", local_dict={"a": block}, out=out)
    except ImportError:
        pass

    def hundred(fn):
        return lambda: [fn() for _ in range(100)]

    return {name: time_call(hundred(fn), repeats) * 1e4 for name, fn in candidates.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cells", nargs="*", default=["rnn", "lstm", "gru"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    previous = previous_fast()
    previous_tanh = previous_fast()
    previous_tanh._sigmoid_ = sigmoid_by_tanh_
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(), "threads": args.threads, "rounds": args.rounds,
              "size": {"N": 64, "T": 50, "D": 128, "H": 128}, "rows": [], "elementwise_us": {}}
    with blas_limit(args.threads):
        for dtype in (np.float64, np.float32):
            name = np.dtype(dtype).name
            result["elementwise_us"][name] = elementwise(dtype)
            print(f"{name}: one (64, 512) block, microseconds: " + ", ".join(
                f"{k} {v:.0f}" for k, v in result["elementwise_us"][name].items()), flush=True)
            for cell in args.cells:
                data = make_inputs(cell, 64, 50, 128, 128, dtype)
                codes = {
                    "previous": variant(previous, cell, data),
                    "previous, sigmoid = tanh(x/2)/2 + 1/2": variant(previous_tanh, cell, data),
                    "time-major, one exp, matmul + add": variant(fast, cell, data, USE_SCIPY_BLAS=False,
                                                                 RECURRENCE_THREADS=None),
                    "+ gemm beta=1 (scipy)": variant(fast, cell, data, USE_SCIPY_BLAS=fast._scipy_blas is not None,
                                                     RECURRENCE_THREADS=None),
                    "matmul + add, 1 BLAS thread in the loops": variant(fast, cell, data, USE_SCIPY_BLAS=False,
                                                                        RECURRENCE_THREADS=1),
                    "torch": torch_step(cell, data),
                }
                times = _rounds(codes, args.rounds)
                for label, seconds in times.items():
                    if label == "torch":
                        continue
                    ratio = _quartiles([s / t for s, t in zip(seconds, times["torch"])])
                    result["rows"].append({"cell": cell, "dtype": name, "variant": label,
                                           "ms": statistics.median(seconds) * 1e3, "over_torch": ratio})
                    print(f"  {cell:<5} {name:<8} {label:<40} {statistics.median(seconds) * 1e3:8.1f} ms  "
                          f"/torch {ratio[1]:.2f} ({ratio[0]:.2f}-{ratio[2]:.2f})", flush=True)
                fast.USE_SCIPY_BLAS, fast.RECURRENCE_THREADS = False, 1  # the defaults
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
