"""Correct answers written in other styles earn full marks.

A student's right answer need not look like the solution: it may keep its own cache
(a dict, a dataclass, a helper class, a plain tuple), loop element by element, use
``np.dot`` or ``np.einsum``, store its outputs in float32 buffers, or return a list
where a tuple was asked for. This file holds such implementations of every function of
assignments 1 to 6, written for this test (several styles per assignment, each one
complete), as the code a student would type into the notebook's solution cells. Assignment 6's
samplers draw in three different ways (Generator.choice, the Gumbel-max trick, numpy's legacy
global state with a multinomial draw); its checks judge them by the frequencies of their draws.

Each style is graded like a notebook: the source notebook's cells run in order in one
namespace, with the solution cells replaced by the style's code, and every graded test
cell (visible and hidden tests) earns its points when it runs without an exception.
Every style must score full marks. One style also goes through nbgrader end to end
(generate, submit, autograde), as ``tests/test_nbgrader_end_to_end.py`` does.
"""
import contextlib
import io
import json
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from test_nbgrader_end_to_end import nbgrader

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"


def cells(**code):
    """{solution cell grade_id: code} with the code dedented."""
    return {grade_id: textwrap.dedent(source).strip() + "\n" for grade_id, source in code.items()}


# ============================================================================
# Assignment 1: activations, one step, the forward pass
# ============================================================================

PS1 = {
    # Element by element with the math module, a dict as cache, results in float32 buffers
    # (the values are computed in float64 and rounded once when stored).
    "loops_dict_float32": cells(
        tanh="""
            import math

            def tanh(a):
                a = np.asarray(a, dtype=np.float64)
                out = np.empty(a.shape, dtype=np.float32)
                for index in np.ndindex(a.shape):
                    out[index] = math.tanh(a[index])
                return out
        """,
        sigmoid="""
            def sigmoid(a):
                a = np.asarray(a, dtype=np.float64)
                out = np.empty(a.shape, dtype=np.float32)
                for index in np.ndindex(a.shape):
                    v = a[index]
                    if v >= 0:
                        out[index] = 1.0 / (1.0 + math.exp(-v))
                    else:
                        e = math.exp(v)
                        out[index] = e / (1.0 + e)
                return out
        """,
        relu="""
            def relu(a):
                a = np.asarray(a, dtype=np.float64)
                out = np.empty(a.shape, dtype=np.float32)
                for index in np.ndindex(a.shape):
                    out[index] = a[index] if a[index] > 0 else 0.0
                return out
        """,
        rnn_step_forward="""
            def _act(name, v):
                if name == "tanh":
                    return math.tanh(v)
                if name == "sigmoid":
                    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))
                return max(v, 0.0)

            def _step64(x, h_prev, Wx, Wh, b, activation):
                N, D = x.shape
                H = Wh.shape[0]
                h_next = np.zeros((N, H))
                for n in range(N):
                    for j in range(H):
                        total = b[j]
                        for k in range(D):
                            total += x[n, k] * Wx[k, j]
                        for i in range(H):
                            total += h_prev[n, i] * Wh[i, j]
                        h_next[n, j] = _act(activation, total)
                return h_next

            def rnn_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
                h_next = _step64(x, h_prev, Wx, Wh, b, activation)
                cache = {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "h_next": h_next, "activation": activation}
                return h_next.astype(np.float32), cache
        """,
        rnn_forward="""
            def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
                N, T, D = x.shape
                out = np.zeros((N, T, h0.shape[1]), dtype=np.float32)
                state = np.array(h0, dtype=np.float64)  # the state itself stays float64
                steps = []
                for t in range(T):
                    state = _step64(x[:, t, :], state, Wx, Wh, b, activation)
                    out[:, t, :] = state
                    steps.append({"t": t, "h": state})
                return out, {"steps": steps, "activation": activation}
        """,
    ),
    # Whole-array numpy with einsum, a dataclass as cache.
    "einsum_dataclass": cells(
        tanh="""
            def tanh(a):
                m = np.expm1(-2.0 * np.abs(a))  # e^(-2|a|) - 1, in [-1, 0]: no overflow, no cancellation
                return np.sign(a) * -m / (2.0 + m)
        """,
        sigmoid="""
            def sigmoid(a):
                return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(a, dtype=float))
        """,
        relu="""
            def relu(a):
                a = np.asarray(a, dtype=float)
                return a * (a > 0)
        """,
        rnn_step_forward="""
            from dataclasses import dataclass

            @dataclass
            class StepRecord:
                x: np.ndarray
                h_prev: np.ndarray
                Wx: np.ndarray
                Wh: np.ndarray
                h_next: np.ndarray
                activation: str

            NONLINEAR = {"tanh": tanh, "sigmoid": sigmoid, "relu": relu}

            def rnn_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
                pre = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", h_prev, Wh) + b[None, :]
                h_next = NONLINEAR[activation](pre)
                return h_next, StepRecord(x, h_prev, Wx, Wh, h_next, activation)
        """,
        rnn_forward="""
            def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
                # the input part of every step at once, then the recurrence
                from_input = np.einsum("ntd,dh->nth", x, Wx) + b
                states, records = [], []
                h = h0
                for t in range(x.shape[1]):
                    h = NONLINEAR[activation](from_input[:, t] + np.einsum("nk,kh->nh", h, Wh))
                    states.append(h)
                    records.append(StepRecord(x[:, t], states[-2] if t else h0, Wx, Wh, h, activation))
                return np.stack(states, axis=1), records
        """,
    ),
    # A helper class for the cell, np.dot, a tuple of objects as cache.
    "helper_class_dot": cells(
        tanh="""
            def tanh(a):
                return np.tanh(a)
        """,
        sigmoid="""
            def sigmoid(a):
                a = np.asarray(a, dtype=float)
                out = np.empty_like(a)
                positive = a >= 0
                out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
                e = np.exp(a[~positive])
                out[~positive] = e / (1.0 + e)
                return out
        """,
        relu="""
            def relu(a):
                return np.clip(a, 0.0, None)
        """,
        rnn_step_forward="""
            class ElmanCell:
                \"\"\"The recurrent cell with its parameters: cell(x, h) is the next state.\"\"\"

                functions = {"tanh": tanh, "sigmoid": sigmoid, "relu": relu}

                def __init__(self, Wx, Wh, b, activation):
                    self.Wx, self.Wh, self.b = Wx, Wh, b
                    self.f = self.functions[activation]

                def __call__(self, x, h):
                    return self.f(np.dot(x, self.Wx) + np.dot(h, self.Wh) + self.b)

            def rnn_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
                cell = ElmanCell(Wx, Wh, b, activation)
                h_next = cell(x, h_prev)
                return h_next, (cell, x, h_prev, h_next)
        """,
        rnn_forward="""
            def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
                cell = ElmanCell(Wx, Wh, b, activation)
                h = [h0]
                for x_t in np.moveaxis(x, 1, 0):  # (T, N, D): one x_t per step
                    h.append(cell(x_t, h[-1]))
                return np.stack(h[1:], axis=1), (cell, x, h)
        """,
    ),
}


# ============================================================================
# Assignment 2: numeric gradients and backpropagation through time
# ============================================================================

PS2 = {
    # Flat index loops, explicit per-example loops with np.outer, float32 output buffers
    # (accumulated in float64, rounded once).
    "loops_float32": cells(
        numerical_gradient="""
            def numerical_gradient(f, x, h=1e-5):
                work = np.array(x, dtype=np.float64).ravel()  # a flat copy; reshaped for each call
                grad = np.zeros(work.size, dtype=np.float32)
                for i in range(work.size):
                    keep = work[i]
                    work[i] = keep + h
                    up = float(f(work.reshape(np.shape(x))))
                    work[i] = keep - h
                    down = float(f(work.reshape(np.shape(x))))
                    work[i] = keep
                    grad[i] = (up - down) / (2 * h)
                return grad.reshape(np.shape(x))
        """,
        numerical_gradient_array="""
            def numerical_gradient_array(f, x, dout, h=1e-5):
                work = np.array(x, dtype=np.float64).ravel()
                grad = np.zeros(work.size, dtype=np.float32)
                for i in range(work.size):
                    keep = work[i]
                    work[i] = keep + h
                    up = np.array(f(work.reshape(np.shape(x))), dtype=np.float64)
                    work[i] = keep - h
                    down = np.array(f(work.reshape(np.shape(x))), dtype=np.float64)
                    work[i] = keep
                    grad[i] = np.sum((up - down) * dout) / (2 * h)
                return grad.reshape(np.shape(x))
        """,
        rnn_step_backward="""
            def _slope(activation, y):
                if activation == "tanh":
                    return 1.0 - y * y
                if activation == "sigmoid":
                    return y * (1.0 - y)
                return np.where(y > 0, 1.0, 0.0)

            def _step_grads64(dh_next, x, h_prev, Wx, Wh, y, activation):
                da = dh_next * _slope(activation, y)
                N = x.shape[0]
                dWx = np.zeros(Wx.shape)
                dWh = np.zeros(Wh.shape)
                db = np.zeros(Wh.shape[0])
                for n in range(N):
                    dWx += np.outer(x[n], da[n])
                    dWh += np.outer(h_prev[n], da[n])
                    db += da[n]
                return np.dot(da, Wx.T), np.dot(da, Wh.T), dWx, dWh, db

            def rnn_step_backward(dh_next, cache):
                grads = _step_grads64(dh_next, cache.x, cache.h_prev, cache.Wx, cache.Wh, cache.h_next,
                                      cache.activation)
                return tuple(g.astype(np.float32) for g in grads)
        """,
        rnn_backward="""
            def _bptt64(dh, cache, k):
                N, T, H = dh.shape
                dx = np.zeros(cache.x.shape)
                dWx, dWh, db = np.zeros(cache.Wx.shape), np.zeros(cache.Wh.shape), np.zeros(H)
                carried = np.zeros((N, H))
                for t in range(T - 1, -1, -1):
                    h_before = cache.h0 if t == 0 else cache.h[:, t - 1]
                    dx[:, t], carried, gWx, gWh, gb = _step_grads64(
                        dh[:, t] + carried, cache.x[:, t], h_before, cache.Wx, cache.Wh, cache.h[:, t],
                        cache.activation)
                    dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
                    if k is not None and t % k == 0 and t > 0:
                        carried = np.zeros((N, H))
                return dx, carried, dWx, dWh, db

            def rnn_backward(dh, cache):
                return tuple(g.astype(np.float32) for g in _bptt64(dh, cache, None))
        """,
        rnn_backward_truncated="""
            def rnn_backward_truncated(dh, cache, truncation):
                return [g.astype(np.float32) for g in _bptt64(dh, cache, truncation)]  # a list, not a tuple
        """,
    ),
    # einsum over all steps at once: the recurrence only for the gradient at the pre-activations.
    "einsum_all_steps": cells(
        numerical_gradient="""
            def numerical_gradient(f, x, h=1e-5):
                point = np.copy(np.asarray(x, dtype=float))
                grad = np.zeros_like(point)
                with np.nditer(point, flags=["multi_index"], op_flags=["readwrite"]) as it:
                    for value in it:
                        start = float(value)
                        value[...] = start + h
                        plus = f(point)
                        value[...] = start - h
                        minus = f(point)
                        value[...] = start
                        grad[it.multi_index] = (plus - minus) / (2 * h)
                return grad
        """,
        numerical_gradient_array="""
            def numerical_gradient_array(f, x, dout, h=1e-5):
                return numerical_gradient(lambda v: np.sum(np.asarray(f(v)) * dout), x, h)
        """,
        rnn_step_backward="""
            DERIVATIVE = {
                "tanh": lambda y: 1 - y**2,
                "sigmoid": lambda y: y - y**2,
                "relu": lambda y: (y > 0) * 1.0,
            }

            def rnn_step_backward(dh_next, cache):
                x, h_prev, Wx, Wh, h_next, activation = cache
                da = dh_next * DERIVATIVE[activation](h_next)
                return (np.einsum("nh,dh->nd", da, Wx), np.einsum("nh,kh->nk", da, Wh),
                        np.einsum("nd,nh->dh", x, da), np.einsum("nk,nh->kh", h_prev, da),
                        np.einsum("nh->h", da))
        """,
        rnn_backward="""
            def _pre_activation_grads(dh, cache, cut_every=None):
                \"\"\"da (N, T, H) of every step and dh0, going backwards through time.\"\"\"
                N, T, H = dh.shape
                da = np.zeros((N, T, H))
                back = np.zeros((N, H))
                for t in reversed(range(T)):
                    da[:, t] = (dh[:, t] + back) * DERIVATIVE[cache.activation](cache.h[:, t])
                    back = np.einsum("nh,kh->nk", da[:, t], cache.Wh)
                    if cut_every and t % cut_every == 0 and t > 0:
                        back = np.zeros((N, H))
                return da, back

            def _parameter_grads(da, dh0, cache):
                h_before = np.concatenate([cache.h0[:, None], cache.h[:, :-1]], axis=1)  # (N, T, H)
                return (np.einsum("nth,dh->ntd", da, cache.Wx), dh0, np.einsum("ntd,nth->dh", cache.x, da),
                        np.einsum("ntk,nth->kh", h_before, da), np.einsum("nth->h", da))

            def rnn_backward(dh, cache):
                return _parameter_grads(*_pre_activation_grads(dh, cache), cache)
        """,
        rnn_backward_truncated="""
            def rnn_backward_truncated(dh, cache, truncation):
                return _parameter_grads(*_pre_activation_grads(dh, cache, truncation), cache)
        """,
    ),
    # A helper class that accumulates the gradients in a dict; chunks by slicing.
    "helper_class_chunks": cells(
        numerical_gradient="""
            def numerical_gradient(f, x, h=1e-5):
                base = np.array(x, dtype=np.float64)
                grad = np.empty_like(base)
                for i in range(base.size):
                    step = np.zeros(base.size)
                    step[i] = h
                    step = step.reshape(base.shape)
                    grad.flat[i] = (f(base + step) - f(base - step)) / (2 * h)
                return grad
        """,
        numerical_gradient_array="""
            def numerical_gradient_array(f, x, dout, h=1e-5):
                base = np.array(x, dtype=np.float64)
                grad = np.empty_like(base)
                for i in range(base.size):
                    step = np.zeros_like(base)
                    step.flat[i] = h
                    grad.flat[i] = np.vdot(np.asarray(f(base + step)) - np.asarray(f(base - step)), dout) / (2 * h)
                return grad
        """,
        rnn_step_backward="""
            class Accumulator:
                \"\"\"Sums the parameter gradients of several steps.\"\"\"

                def __init__(self, Wx, Wh):
                    self.grads = {"Wx": np.zeros_like(Wx), "Wh": np.zeros_like(Wh), "b": np.zeros(Wh.shape[0])}

                def add(self, x, h_prev, da):
                    self.grads["Wx"] = self.grads["Wx"] + np.dot(x.T, da)
                    self.grads["Wh"] = self.grads["Wh"] + np.dot(h_prev.T, da)
                    self.grads["b"] = self.grads["b"] + np.sum(da, axis=0)

            def local_slope(activation, y):
                return {"tanh": 1 - y * y, "sigmoid": y * (1 - y), "relu": np.greater(y, 0).astype(float)}[activation]

            def rnn_step_backward(dh_next, cache):
                acc = Accumulator(cache.Wx, cache.Wh)
                da = dh_next * local_slope(cache.activation, cache.h_next)
                acc.add(cache.x, cache.h_prev, da)
                return np.dot(da, cache.Wx.T), np.dot(da, cache.Wh.T), acc.grads["Wx"], acc.grads["Wh"], acc.grads["b"]
        """,
        rnn_backward="""
            def _backward_range(dh, cache, start, stop, acc):
                \"\"\"BPTT over steps [start, stop) with nothing coming from after stop; returns (dx, dh_start).\"\"\"
                N, _, H = dh.shape
                dx = np.zeros((N, stop - start, cache.x.shape[2]))
                back = np.zeros((N, H))
                for t in range(stop - 1, start - 1, -1):
                    h_before = cache.h[:, t - 1] if t > 0 else cache.h0
                    da = (dh[:, t] + back) * local_slope(cache.activation, cache.h[:, t])
                    acc.add(cache.x[:, t], h_before, da)
                    dx[:, t - start] = np.dot(da, cache.Wx.T)
                    back = np.dot(da, cache.Wh.T)
                return dx, back

            def rnn_backward(dh, cache):
                acc = Accumulator(cache.Wx, cache.Wh)
                dx, dh0 = _backward_range(dh, cache, 0, dh.shape[1], acc)
                return dx, dh0, acc.grads["Wx"], acc.grads["Wh"], acc.grads["b"]
        """,
        rnn_backward_truncated="""
            def rnn_backward_truncated(dh, cache, truncation):
                acc = Accumulator(cache.Wx, cache.Wh)
                T = dh.shape[1]
                pieces, dh0 = [], None
                for start in range(0, T, truncation):
                    dx_chunk, dh_start = _backward_range(dh, cache, start, min(start + truncation, T), acc)
                    pieces.append(dx_chunk)
                    dh0 = dh_start if dh0 is None else dh0
                return np.concatenate(pieces, axis=1), dh0, acc.grads["Wx"], acc.grads["Wh"], acc.grads["b"]
        """,
    ),
}


# ============================================================================
# Assignment 3: gradient norms through time, clipping, initialisation
# ============================================================================

PS3 = {
    # Loops, math.fsum, float32 results, lists instead of tuples.
    "loops_float32_lists": cells(
        gradient_norms_through_time="""
            import math

            def gradient_norms_through_time(dh_last, cache):
                x, h0, Wx, Wh, h, activation = cache
                N, T, H = h.shape
                norms = np.zeros(T, dtype=np.float32)
                g = np.array(dh_last, dtype=np.float64)
                for t in range(T - 1, -1, -1):
                    norms[t] = sum(math.sqrt(math.fsum(v * v for v in g[n])) for n in range(N)) / N
                    y = h[:, t]
                    slope = {"tanh": 1 - y**2, "sigmoid": y * (1 - y), "relu": (y > 0) * 1.0}[activation]
                    g = np.dot(g * slope, Wh.T)
                return norms
        """,
        global_norm="""
            def global_norm(grads):
                return np.float32(math.sqrt(math.fsum(float(v) ** 2 for g in grads for v in np.ravel(g))))
        """,
        clip_grad_norm="""
            def clip_grad_norm(grads, max_norm):
                total = math.sqrt(math.fsum(float(v) ** 2 for g in grads for v in np.ravel(g)))
                factor = max_norm / (total + 1e-6)
                if factor >= 1:
                    return [np.array(g, dtype=np.float32) for g in grads]
                return [(np.asarray(g) * factor).astype(np.float32) for g in grads]
        """,
        clip_grad_value="""
            def clip_grad_value(grads, clip_value):
                clipped = []
                for g in grads:
                    out = np.empty(np.shape(g), dtype=np.float32)
                    for index in np.ndindex(out.shape):
                        out[index] = min(max(g[index], -clip_value), clip_value)
                    clipped.append(out)
                return clipped
        """,
        orthogonal="""
            def orthogonal(n, rng, gain=1.0):
                A = rng.standard_normal((n, n))
                Q, R = np.linalg.qr(A)
                Q = Q.copy()
                for j in range(n):
                    if R[j, j] < 0:
                        Q[:, j] = -Q[:, j]
                return (gain * Q).astype(np.float32)
        """,
        identity="""
            def identity(n, scale=1.0):
                W = np.zeros((n, n), dtype=np.float32)
                for i in range(n):
                    W[i, i] = scale
                return W
        """,
    ),
    # Whole-array numpy with einsum, a generator-free one-liner style.
    "einsum_vectorised": cells(
        gradient_norms_through_time="""
            SLOPES = {"tanh": lambda y: 1 - y * y, "sigmoid": lambda y: y * (1 - y), "relu": lambda y: (y > 0) * 1.0}

            def gradient_norms_through_time(dh_last, cache):
                T = cache.h.shape[1]
                per_step = [None] * T
                g = dh_last
                for t in reversed(range(T)):
                    per_step[t] = np.sqrt(np.einsum("nh,nh->n", g, g)).mean()
                    g = np.einsum("nh,kh->nk", g * SLOPES[cache.activation](cache.h[:, t]), cache.Wh)
                return np.array(per_step)
        """,
        global_norm="""
            def global_norm(grads):
                return np.sqrt(sum(np.einsum("i,i->", np.ravel(g), np.ravel(g)) for g in grads))
        """,
        clip_grad_norm="""
            def clip_grad_norm(grads, max_norm):
                ratio = np.minimum(1.0, max_norm / (global_norm(grads) + 1e-6))
                return tuple(np.multiply(g, ratio) for g in grads)
        """,
        clip_grad_value="""
            def clip_grad_value(grads, clip_value):
                return tuple(np.where(np.abs(g) > clip_value, np.sign(g) * clip_value, g) for g in grads)
        """,
        orthogonal="""
            def orthogonal(n, rng, gain=1.0):
                Q, R = np.linalg.qr(rng.standard_normal((n, n)))
                signs = np.where(np.diag(R) < 0, -1.0, 1.0)
                return gain * np.einsum("ij,j->ij", Q, signs)
        """,
        identity="""
            def identity(n, scale=1.0):
                return np.diag(np.full(n, float(scale)))
        """,
    ),
}


# ============================================================================
# Assignment 4: LSTM and GRU
# ============================================================================

PS4 = {
    # np.split into gates, dict caches, per-step dicts rebuilt from the package's caches by
    # field name, float32 outputs.
    "split_dicts_float32": cells(
        lstm_step_forward="""
            def sigmoid(a):
                return 0.5 * (1 + np.tanh(0.5 * a))

            def _lstm_step64(x, h_prev, c_prev, Wx, Wh, b):
                a_i, a_f, a_g, a_o = np.split(np.dot(x, Wx) + np.dot(h_prev, Wh) + b, 4, axis=1)
                gates = {"i": sigmoid(a_i), "f": sigmoid(a_f), "g": np.tanh(a_g), "o": sigmoid(a_o)}
                c_next = gates["f"] * c_prev + gates["i"] * gates["g"]
                h_next = gates["o"] * np.tanh(c_next)
                return h_next, c_next, dict(gates, x=x, h_prev=h_prev, c_prev=c_prev, c_next=c_next)

            def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
                h_next, c_next, memo = _lstm_step64(x, h_prev, c_prev, Wx, Wh, b)
                return h_next.astype(np.float32), c_next.astype(np.float32), memo
        """,
        lstm_forward="""
            def lstm_forward(x, h0, Wx, Wh, b, c0=None):
                N, T, _ = x.shape
                h, c = h0, (np.zeros_like(h0) if c0 is None else c0)
                out = np.empty((N, T, h0.shape[1]), dtype=np.float32)
                memos = []
                for t in range(T):
                    h, c, memo = _lstm_step64(x[:, t], h, c, Wx, Wh, b)
                    out[:, t] = h
                    memos.append(memo)
                return out, memos
        """,
        lstm_step_backward="""
            def _lstm_step_grads64(dh_next, dc_next, s, Wx, Wh):
                tc = np.tanh(s["c_next"])
                dc = dc_next + dh_next * s["o"] * (1 - tc * tc)
                da = np.hstack([dc * s["g"] * s["i"] * (1 - s["i"]), dc * s["c_prev"] * s["f"] * (1 - s["f"]),
                                dc * s["i"] * (1 - s["g"] ** 2), dh_next * tc * s["o"] * (1 - s["o"])])
                return (np.dot(da, Wx.T), np.dot(da, Wh.T), dc * s["f"], np.dot(s["x"].T, da),
                        np.dot(s["h_prev"].T, da), da.sum(axis=0))

            def lstm_step_backward(dh_next, dc_next, cache):
                s = cache._asdict()
                grads = _lstm_step_grads64(dh_next, dc_next, s, cache.Wx, cache.Wh)
                return tuple(g.astype(np.float32) for g in grads)
        """,
        lstm_backward="""
            def lstm_backward(dh, cache):
                N, T, H = dh.shape
                total = {"dx": np.zeros(cache.x.shape), "dWx": 0.0, "dWh": 0.0, "db": 0.0}
                dh_carry, dc_carry = np.zeros((N, H)), np.zeros((N, H))
                for t in reversed(range(T)):
                    s = {"x": cache.x[:, t], "h_prev": cache.h[:, t - 1] if t else cache.h0,
                         "c_prev": cache.c[:, t - 1] if t else cache.c0, "c_next": cache.c[:, t],
                         "i": cache.i[:, t], "f": cache.f[:, t], "g": cache.g[:, t], "o": cache.o[:, t]}
                    dx_t, dh_carry, dc_carry, dWx_t, dWh_t, db_t = _lstm_step_grads64(
                        dh[:, t] + dh_carry, dc_carry, s, cache.Wx, cache.Wh)
                    total["dx"][:, t] = dx_t
                    total["dWx"] = total["dWx"] + dWx_t
                    total["dWh"] = total["dWh"] + dWh_t
                    total["db"] = total["db"] + db_t
                grads = (total["dx"], dh_carry, dc_carry, total["dWx"], total["dWh"], total["db"])
                return tuple(np.asarray(g, dtype=np.float32) for g in grads)
        """,
        gru_step_forward="""
            def _gru_step64(x, h_prev, Wx, Wh, bx, bh):
                xr, xz, xn = np.split(np.dot(x, Wx) + bx, 3, axis=1)
                hr, hz, hn = np.split(np.dot(h_prev, Wh) + bh, 3, axis=1)
                r, z = sigmoid(xr + hr), sigmoid(xz + hz)
                n = np.tanh(xn + r * hn)
                return z * h_prev + (1 - z) * n, {"r": r, "z": z, "n": n, "hn": hn}

            def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
                h_next, memo = _gru_step64(x, h_prev, Wx, Wh, bx, bh)
                return h_next.astype(np.float32), memo
        """,
        gru_forward="""
            def gru_forward(x, h0, Wx, Wh, bx, bh):
                h, states = h0, []
                for t in range(x.shape[1]):
                    h, _ = _gru_step64(x[:, t], h, Wx, Wh, bx, bh)
                    states.append(h)
                return np.stack(states, axis=1).astype(np.float32), {"states": states}
        """,
        gru_step_backward="""
            def _gru_step_grads64(dh_next, x, h_prev, Wx, Wh, r, z, n, hn):
                da_n = dh_next * (1 - z) * (1 - n * n)
                da_z = dh_next * (h_prev - n) * z * (1 - z)
                da_r = da_n * hn * r * (1 - r)
                dax, dah = np.hstack([da_r, da_z, da_n]), np.hstack([da_r, da_z, da_n * r])
                return (np.dot(dax, Wx.T), np.dot(dah, Wh.T) + dh_next * z, np.dot(x.T, dax),
                        np.dot(h_prev.T, dah), dax.sum(axis=0), dah.sum(axis=0))

            def gru_step_backward(dh_next, cache):
                grads = _gru_step_grads64(dh_next, cache.x, cache.h_prev, cache.Wx, cache.Wh,
                                          cache.r, cache.z, cache.n, cache.hn)
                return tuple(g.astype(np.float32) for g in grads)
        """,
        gru_backward="""
            def gru_backward(dh, cache):
                N, T, H = dh.shape
                dx = np.zeros(cache.x.shape)
                sums = [np.zeros(cache.Wx.shape), np.zeros(cache.Wh.shape), np.zeros(3 * H), np.zeros(3 * H)]
                carry = np.zeros((N, H))
                for t in range(T - 1, -1, -1):
                    h_prev = cache.h[:, t - 1] if t else cache.h0
                    dx[:, t], carry, *parts = _gru_step_grads64(
                        dh[:, t] + carry, cache.x[:, t], h_prev, cache.Wx, cache.Wh,
                        cache.r[:, t], cache.z[:, t], cache.n[:, t], cache.hn[:, t])
                    sums = [s + p for s, p in zip(sums, parts)]
                return tuple(np.asarray(g, dtype=np.float32) for g in (dx, carry, *sums))
        """,
    ),
    # Gated cells as helper classes with einsum, dataclass caches.
    "classes_einsum": cells(
        lstm_step_forward="""
            from dataclasses import dataclass

            def sigmoid(a):
                out = np.empty_like(a)
                pos = a >= 0
                out[pos] = 1 / (1 + np.exp(-a[pos]))
                out[~pos] = np.exp(a[~pos]) / (1 + np.exp(a[~pos]))
                return out

            @dataclass
            class LSTMState:
                h: np.ndarray
                c: np.ndarray

            class LSTMCell:
                def __init__(self, Wx, Wh, b):
                    self.Wx, self.Wh, self.b = Wx, Wh, b
                    self.H = Wh.shape[0]

                def step(self, x, state):
                    a = np.einsum("nd,dg->ng", x, self.Wx) + np.einsum("nk,kg->ng", state.h, self.Wh) + self.b
                    H = self.H
                    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
                    c = f * state.c + i * np.tanh(a[:, 2 * H:3 * H])
                    return LSTMState(o * np.tanh(c), c)

            def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
                new = LSTMCell(Wx, Wh, b).step(x, LSTMState(h_prev, c_prev))
                return new.h, new.c, new
        """,
        lstm_forward="""
            def lstm_forward(x, h0, Wx, Wh, b, c0=None):
                cell = LSTMCell(Wx, Wh, b)
                state = LSTMState(h0, np.zeros(h0.shape) if c0 is None else c0)
                trace = []
                for t in range(x.shape[1]):
                    state = cell.step(x[:, t], state)
                    trace.append(state)
                return np.stack([s.h for s in trace], axis=1), trace
        """,
        lstm_step_backward="""
            def lstm_step_backward(dh_next, dc_next, cache):
                x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next, h_next = cache
                tc = np.tanh(c_next)
                dc = dc_next + dh_next * o * (1 - tc**2)
                da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g**2),
                                     dh_next * tc * o * (1 - o)], axis=-1)
                return (np.einsum("ng,dg->nd", da, Wx), np.einsum("ng,kg->nk", da, Wh), dc * f,
                        np.einsum("nd,ng->dg", x, da), np.einsum("nk,ng->kg", h_prev, da), np.einsum("ng->g", da))
        """,
        lstm_backward="""
            def lstm_backward(dh, cache):
                N, T, H = dh.shape
                h_before = np.concatenate([cache.h0[:, None], cache.h[:, :-1]], axis=1)
                c_before = np.concatenate([cache.c0[:, None], cache.c[:, :-1]], axis=1)
                da = np.zeros((N, T, 4 * H))
                dh_carry, dc_carry = np.zeros((N, H)), np.zeros((N, H))
                for t in reversed(range(T)):
                    i, f, g, o = cache.i[:, t], cache.f[:, t], cache.g[:, t], cache.o[:, t]
                    dh_t = dh[:, t] + dh_carry
                    tc = np.tanh(cache.c[:, t])
                    dc = dc_carry + dh_t * o * (1 - tc**2)
                    da[:, t] = np.concatenate([dc * g * i * (1 - i), dc * c_before[:, t] * f * (1 - f),
                                               dc * i * (1 - g**2), dh_t * tc * o * (1 - o)], axis=-1)
                    dh_carry = np.einsum("ng,kg->nk", da[:, t], cache.Wh)
                    dc_carry = dc * f
                return (np.einsum("ntg,dg->ntd", da, cache.Wx), dh_carry, dc_carry,
                        np.einsum("ntd,ntg->dg", cache.x, da), np.einsum("ntk,ntg->kg", h_before, da),
                        np.einsum("ntg->g", da))
        """,
        gru_step_forward="""
            class GRUCell:
                def __init__(self, Wx, Wh, bx, bh):
                    self.Wx, self.Wh, self.bx, self.bh = Wx, Wh, bx, bh

                def step(self, x, h):
                    H = h.shape[1]
                    ax = np.einsum("nd,dg->ng", x, self.Wx) + self.bx
                    ah = np.einsum("nk,kg->ng", h, self.Wh) + self.bh
                    r = sigmoid(ax[:, :H] + ah[:, :H])
                    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
                    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
                    return n + z * (h - n)

            def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
                return GRUCell(Wx, Wh, bx, bh).step(x, h_prev), ("gru", x, h_prev)
        """,
        gru_forward="""
            def gru_forward(x, h0, Wx, Wh, bx, bh):
                cell, h, out = GRUCell(Wx, Wh, bx, bh), h0, []
                for x_t in np.moveaxis(x, 1, 0):
                    h = cell.step(x_t, h)
                    out.append(h)
                return np.stack(out, axis=1), cell
        """,
        gru_step_backward="""
            def gru_step_backward(dh_next, cache):
                x, h_prev, Wx, Wh, r, z, n, hn, h_next = cache
                da_n = dh_next * (1 - z) * (1 - n**2)
                da_z = dh_next * (h_prev - n) * z * (1 - z)
                da_r = da_n * hn * r * (1 - r)
                dax = np.concatenate([da_r, da_z, da_n], axis=-1)
                dah = np.concatenate([da_r, da_z, da_n * r], axis=-1)
                return (np.einsum("ng,dg->nd", dax, Wx), np.einsum("ng,kg->nk", dah, Wh) + dh_next * z,
                        np.einsum("nd,ng->dg", x, dax), np.einsum("nk,ng->kg", h_prev, dah),
                        np.einsum("ng->g", dax), np.einsum("ng->g", dah))
        """,
        gru_backward="""
            def gru_backward(dh, cache):
                N, T, H = dh.shape
                h_before = np.concatenate([cache.h0[:, None], cache.h[:, :-1]], axis=1)
                dax, dah = np.zeros((N, T, 3 * H)), np.zeros((N, T, 3 * H))
                carry = np.zeros((N, H))
                for t in reversed(range(T)):
                    r, z, n, hn = cache.r[:, t], cache.z[:, t], cache.n[:, t], cache.hn[:, t]
                    d = dh[:, t] + carry
                    da_n = d * (1 - z) * (1 - n**2)
                    da_z = d * (h_before[:, t] - n) * z * (1 - z)
                    da_r = da_n * hn * r * (1 - r)
                    dax[:, t] = np.concatenate([da_r, da_z, da_n], axis=-1)
                    dah[:, t] = np.concatenate([da_r, da_z, da_n * r], axis=-1)
                    carry = np.einsum("ng,kg->nk", dah[:, t], cache.Wh) + d * z
                return (np.einsum("ntg,dg->ntd", dax, cache.Wx), carry, np.einsum("ntd,ntg->dg", cache.x, dax),
                        np.einsum("ntk,ntg->kg", h_before, dah), np.einsum("ntg->g", dax), np.einsum("ntg->g", dah))
        """,
    ),
}

PS5 = {
    # Loops over examples and steps with the math module, results stored in float32 buffers
    # (computed in float64, rounded once), lists where tuples are asked, a list of lists of ints.
    "loops_float32_lists": cells(
        embedding_forward="""
            def embedding_forward(tokens, W):
                N, T = tokens.shape
                out = np.empty((N, T, W.shape[1]), dtype=np.float32)
                for n in range(N):
                    for t in range(T):
                        out[n, t] = W[int(tokens[n, t])]
                return out
        """,
        embedding_backward="""
            def embedding_backward(dout, tokens, V):
                rows = [np.zeros(dout.shape[2]) for _ in range(V)]
                for n in range(tokens.shape[0]):
                    for t in range(tokens.shape[1]):
                        rows[int(tokens[n, t])] = rows[int(tokens[n, t])] + dout[n, t]
                return np.array(rows, dtype=np.float32)
        """,
        temporal_affine_forward="""
            def temporal_affine_forward(h, W, b):
                out = np.empty((h.shape[0], h.shape[1], W.shape[1]), dtype=np.float32)
                for t in range(h.shape[1]):
                    out[:, t] = np.dot(h[:, t], W) + b
                return out
        """,
        temporal_affine_backward="""
            def temporal_affine_backward(dout, h, W):
                dh = np.empty(h.shape)
                dW, db = np.zeros(W.shape), np.zeros(W.shape[1])
                for t in range(h.shape[1]):
                    dh[:, t] = np.dot(dout[:, t], W.T)
                    dW = dW + np.dot(h[:, t].T, dout[:, t])
                    db = db + dout[:, t].sum(axis=0)
                return [dh.astype(np.float32), dW.astype(np.float32), db.astype(np.float32)]
        """,
        temporal_softmax_loss="""
            import math

            def log_softmax(scores, axis=-1):
                scores = np.moveaxis(np.asarray(scores, dtype=float), axis, -1)
                out = np.empty(scores.shape)
                for index in np.ndindex(scores.shape[:-1]):
                    row = scores[index]
                    top = max(row)
                    total = math.fsum(math.exp(s - top) for s in row) if top > -math.inf else 1.0
                    out[index] = [s - top - math.log(total) for s in row]
                return np.moveaxis(out, -1, axis)

            def temporal_softmax_loss(scores, targets, mask):
                N, T, V = scores.shape
                real = [(n, t) for n in range(N) for t in range(T) if mask[n, t]]
                loss, dscores = 0.0, np.zeros((N, T, V))
                for n, t in real:
                    log_p = log_softmax(scores[n, t])
                    loss -= log_p[targets[n, t]]
                    dscores[n, t] = np.exp(log_p)
                    dscores[n, t, targets[n, t]] -= 1.0
                return [loss / len(real), (dscores / len(real)).astype(np.float32)]
        """,
        last_state_by_length="""
            def last_state_by_length(h, lengths):
                last = np.empty((h.shape[0], h.shape[2]), dtype=np.float32)
                for n in range(h.shape[0]):
                    last[n] = h[n, int(lengths[n]) - 1]
                return last
        """,
        bidirectional_rnn_forward="""
            def run_tanh_rnn(steps, Wx, Wh, b):
                # one sequence (L, D), without its padding: a list of states
                state, states = np.zeros(Wh.shape[0]), []
                for x_t in steps:
                    state = np.tanh(np.dot(x_t, Wx) + np.dot(state, Wh) + b)
                    states.append(state)
                return states

            def bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
                N, T, _ = x.shape
                H = Wh_f.shape[0]
                h = np.zeros((N, T, 2 * H), dtype=np.float32)
                for n in range(N):
                    steps = list(x[n, :int(lengths[n])])
                    forward = run_tanh_rnn(steps, Wx_f, Wh_f, b_f)
                    backward = run_tanh_rnn(steps[::-1], Wx_b, Wh_b, b_b)[::-1]
                    for t in range(len(steps)):
                        h[n, t, :H], h[n, t, H:] = forward[t], backward[t]
                return h
        """,
        additive_attention_forward="""
            def _attend64(query, keys, mask, Wq, Wk, v):
                N, S, Hk = keys.shape
                weights, contexts, hidden = np.zeros((N, S)), np.zeros((N, Hk)), np.zeros((N, S, Wq.shape[1]))
                for n in range(N):
                    real = [s for s in range(S) if mask[n, s]]
                    scores = {}
                    for s in real:
                        hidden[n, s] = np.tanh(np.dot(query[n], Wq) + np.dot(keys[n, s], Wk))
                        scores[s] = float(np.dot(hidden[n, s], v))
                    top = max(scores.values())
                    total = math.fsum(math.exp(e - top) for e in scores.values())
                    for s in real:
                        weights[n, s] = math.exp(scores[s] - top) / total
                        contexts[n] += weights[n, s] * keys[n, s]
                return contexts, weights, hidden

            def additive_attention_forward(query, keys, mask, Wq, Wk, v):
                contexts, weights, _ = _attend64(query, keys, mask, Wq, Wk, v)
                return [contexts.astype(np.float32), weights.astype(np.float32)]
        """,
        additive_attention_backward="""
            def additive_attention_backward(dcontext, query, keys, mask, Wq, Wk, v):
                _, weights, hidden = _attend64(query, keys, mask, Wq, Wk, v)
                N, S, Hk = keys.shape
                dquery, dkeys = np.zeros(query.shape), np.zeros(keys.shape)
                dWq, dWk, dv = np.zeros(Wq.shape), np.zeros(Wk.shape), np.zeros(v.shape)
                for n in range(N):
                    dweights = [float(np.dot(keys[n, s], dcontext[n])) for s in range(S)]
                    mean = math.fsum(weights[n, s] * dweights[s] for s in range(S))
                    for s in range(S):
                        dscore = weights[n, s] * (dweights[s] - mean)
                        dpre = dscore * v * (1 - hidden[n, s] ** 2)
                        dquery[n] += np.dot(Wq, dpre)
                        dkeys[n, s] = weights[n, s] * dcontext[n] + np.dot(Wk, dpre)
                        dWq += np.outer(query[n], dpre)
                        dWk += np.outer(keys[n, s], dpre)
                        dv += dscore * hidden[n, s]
                return [dquery, dkeys, dWq, dWk, dv]
        """,
        rnn_greedy_decode="""
            def rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
                sequences = []
                for n in range(h0.shape[0]):
                    h, token, produced = h0[n], start_token, []
                    for _ in range(max_length):
                        h = np.tanh(np.dot(W_embed[token], Wx) + np.dot(h, Wh) + b)
                        scores = list(np.dot(h, W_out) + b_out)
                        token = scores.index(max(scores))
                        produced.append(token)
                    sequences.append(produced)
                return sequences  # a list of lists of ints
        """,
    ),
    # Whole-batch numpy: one-hot matrices, einsum, a helper class for the RNN, index arrays
    # for the per-sequence reversal, log-sum-exp with np.logaddexp.
    "einsum_onehot_classes": cells(
        embedding_forward="""
            def one_hot(tokens, V):
                return (tokens[..., None] == np.arange(V)).astype(np.float64)

            def embedding_forward(tokens, W):
                return np.einsum("ntv,vd->ntd", one_hot(tokens, W.shape[0]), W)
        """,
        embedding_backward="""
            def embedding_backward(dout, tokens, V):
                return np.einsum("ntv,ntd->vd", one_hot(tokens, V), dout)
        """,
        temporal_affine_forward="""
            def temporal_affine_forward(h, W, b):
                return np.einsum("nth,hm->ntm", h, W) + b[None, None, :]
        """,
        temporal_affine_backward="""
            def temporal_affine_backward(dout, h, W):
                return np.einsum("ntm,hm->nth", dout, W), np.einsum("nth,ntm->hm", h, dout), np.einsum("ntm->m", dout)
        """,
        temporal_softmax_loss="""
            def log_softmax(scores, axis=-1):
                return scores - np.logaddexp.reduce(scores, axis=axis, keepdims=True)

            def temporal_softmax_loss(scores, targets, mask):
                V = scores.shape[-1]
                real = mask.astype(np.float64)
                chosen = one_hot(np.where(mask, targets, 0), V) * real[..., None]
                log_p = log_softmax(scores)
                count = real.sum()
                loss = -np.einsum("ntv,ntv->", chosen, log_p) / count
                dscores = (np.exp(log_p) * real[..., None] - chosen) / count
                return loss, dscores
        """,
        last_state_by_length="""
            def last_state_by_length(h, lengths):
                picker = (np.arange(h.shape[1])[None, :] == (lengths - 1)[:, None]).astype(np.float64)  # (N, T)
                return np.einsum("nt,nth->nh", picker, h)
        """,
        bidirectional_rnn_forward="""
            class TanhRNN:
                \"\"\"A tanh RNN with its weights; rnn(x) gives the states (N, T, H) from zeros.\"\"\"

                def __init__(self, Wx, Wh, b):
                    self.Wx, self.Wh, self.b = Wx, Wh, b

                def __call__(self, x):
                    inputs = np.einsum("ntd,dh->nth", x, self.Wx) + self.b
                    state, states = np.zeros((x.shape[0], self.Wh.shape[0])), []
                    for t in range(x.shape[1]):
                        state = np.tanh(inputs[:, t] + state @ self.Wh)
                        states.append(state)
                    return np.stack(states, axis=1)

            def flip_real_steps(a, lengths):
                t = np.arange(a.shape[1])[None, :]
                last = lengths[:, None] - 1
                source = np.where(t <= last, last - t, t)
                return a[np.arange(a.shape[0])[:, None], source]

            def bidirectional_rnn_forward(x, lengths, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b):
                real = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]
                forward = TanhRNN(Wx_f, Wh_f, b_f)(x)
                backward = flip_real_steps(TanhRNN(Wx_b, Wh_b, b_b)(flip_real_steps(x, lengths)), lengths)
                return np.where(real, np.concatenate([forward, backward], axis=-1), 0.0)
        """,
        additive_attention_forward="""
            def attention_parts(query, keys, mask, Wq, Wk, v):
                u = np.tanh(np.einsum("nq,qa->na", query, Wq)[:, None, :] + np.einsum("nsk,ka->nsa", keys, Wk))
                scores = np.where(mask, np.einsum("nsa,a->ns", u, v), -np.inf)
                weights = np.exp(log_softmax(scores, axis=1))
                return u, weights

            def additive_attention_forward(query, keys, mask, Wq, Wk, v):
                _, weights = attention_parts(query, keys, mask, Wq, Wk, v)
                return np.einsum("ns,nsk->nk", weights, keys), weights
        """,
        additive_attention_backward="""
            def additive_attention_backward(dcontext, query, keys, mask, Wq, Wk, v):
                u, weights = attention_parts(query, keys, mask, Wq, Wk, v)
                dweights = np.einsum("nsk,nk->ns", keys, dcontext)
                dscores = weights * (dweights - np.einsum("ns,ns->n", weights, dweights)[:, None])
                dpre = np.einsum("ns,a,nsa->nsa", dscores, v, 1 - u**2)
                return (np.einsum("nsa,qa->nq", dpre, Wq),
                        np.einsum("ns,nk->nsk", weights, dcontext) + np.einsum("nsa,ka->nsk", dpre, Wk),
                        np.einsum("nq,nsa->qa", query, dpre), np.einsum("nsk,nsa->ka", keys, dpre),
                        np.einsum("ns,nsa->a", dscores, u))
        """,
        rnn_greedy_decode="""
            def rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
                step = TanhRNN(Wx, Wh, b)
                token_inputs = np.einsum("vd,dh->vh", W_embed, Wx) + b  # every token's input term at once
                h, token, out = h0, np.full(h0.shape[0], start_token), []
                for _ in range(max_length):
                    h = np.tanh(np.take(token_inputs, token, axis=0) + h @ step.Wh)
                    token = np.argmax(np.einsum("nh,hv->nv", h, W_out) + b_out, axis=1)
                    out.append(token)
                return np.stack(out, axis=1)
        """,
    ),
}

# ============================================================================
# Assignment 6: sampling, perplexity, metrics, windows split in time order, a training step
# ============================================================================

PS6 = {
    # Python loops and the math module; the sampler draws with Generator.choice row by row; lists returned.
    "loops_math_choice": cells(
        softmax_with_temperature="""
            import math

            def softmax_with_temperature(logits, temperature):
                if temperature <= 0:
                    raise ValueError("temperature must be positive")
                rows = []
                for row in logits:
                    scaled = [value / temperature for value in row]
                    top = max(scaled)
                    weights = [math.exp(value - top) for value in scaled]
                    total = math.fsum(weights)
                    rows.append([w / total for w in weights])
                return rows  # a list of lists
        """,
        sample_with_temperature="""
            def sample_with_temperature(logits, temperature, seed):
                probs = softmax_with_temperature(logits, temperature)
                rng = np.random.default_rng(seed)
                return [int(rng.choice(len(p), p=np.array(p) / sum(p))) for p in probs]
        """,
        perplexity_from_loss="""
            def perplexity_from_loss(mean_loss_nats):
                return math.e ** mean_loss_nats
        """,
        bits_per_char="""
            def bits_per_char(mean_loss_nats):
                return mean_loss_nats * math.log2(math.e)
        """,
        precision_recall_f1="""
            def safe_ratio(top, bottom):
                return top / bottom if bottom else 0.0

            def precision_recall_f1(y_true, y_pred, positive):
                tp = fp = fn = 0
                for truth, guess in zip(y_true.tolist(), y_pred.tolist()):
                    if guess == positive and truth == positive:
                        tp += 1
                    elif guess == positive:
                        fp += 1
                    elif truth == positive:
                        fn += 1
                precision, recall = safe_ratio(tp, tp + fp), safe_ratio(tp, tp + fn)
                return [precision, recall, safe_ratio(2 * precision * recall, precision + recall)]
        """,
        split_windows_in_time_order="""
            def windows_of(rows, window, horizon):
                inputs, targets = [], []
                for start in range(len(rows) - window - horizon + 1):
                    inputs.append(rows[start:start + window])
                    targets.append(rows[start + window + horizon - 1])
                return np.array(inputs), np.array(targets)

            def split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction):
                rows = [list(np.atleast_1d(value)) for value in series]
                first = round(len(rows) * train_fraction)
                second = round(len(rows) * (train_fraction + val_fraction))
                out = []
                for part in (rows[:first], rows[first:second], rows[second:]):
                    if len(part) - window - horizon + 1 < 1:
                        raise ValueError("a part of the series is shorter than window + horizon")
                    out += list(windows_of(part, window, horizon))
                return out
        """,
        many_to_one_train_step="""
            def many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
                N, T, _ = x.shape
                grads = [np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(b.shape), np.zeros(W_out.shape),
                         np.zeros(b_out.shape)]
                total_loss = 0.0
                for n in range(N):  # one example at a time
                    states = [h0[n]]
                    for t in range(T):
                        states.append(np.tanh(np.dot(x[n, t], Wx) + np.dot(states[-1], Wh) + b))
                    scores = np.dot(states[-1], W_out) + b_out
                    top = max(scores)
                    log_total = top + math.log(math.fsum(math.exp(s - top) for s in scores))
                    total_loss += log_total - scores[y[n]]
                    dscores = np.exp(scores - log_total)
                    dscores[y[n]] -= 1.0
                    dscores /= N
                    grads[3] += np.outer(states[-1], dscores)
                    grads[4] += dscores
                    dh = np.dot(W_out, dscores)
                    for t in range(T - 1, -1, -1):
                        dpre = dh * (1.0 - states[t + 1] ** 2)
                        grads[0] += np.outer(x[n, t], dpre)
                        grads[1] += np.outer(states[t], dpre)
                        grads[2] += dpre
                        dh = np.dot(Wh, dpre)
                norm = math.sqrt(math.fsum(float(np.sum(g * g)) for g in grads))
                factor = max_norm / norm if norm > max_norm else 1.0
                params = [Wx, Wh, b, W_out, b_out]
                return [total_loss / N] + [p - lr * factor * g for p, g in zip(params, grads)]
        """,
    ),
    # Whole-array numpy: log-sum-exp, Gumbel-max sampling, sliding_window_view, a confusion table,
    # the step in einsum with PyTorch's clipping (1e-6 added to the norm) and a dict of gradients.
    "vectorised_gumbel_einsum": cells(
        softmax_with_temperature="""
            def softmax_with_temperature(logits, temperature):
                if not np.isfinite(temperature) or temperature <= 0:
                    raise ValueError(f"temperature must be a positive number, got {temperature!r}")
                scaled = np.asarray(logits, dtype=np.float64) / temperature
                return np.exp(scaled - np.logaddexp.reduce(scaled, axis=-1, keepdims=True))
        """,
        sample_with_temperature="""
            def sample_with_temperature(logits, temperature, seed):
                if temperature <= 0:
                    raise ValueError("temperature must be positive")
                gumbel = np.random.default_rng(seed).gumbel(size=np.shape(logits))
                return np.argmax(np.asarray(logits) / temperature + gumbel, axis=1)  # the Gumbel-max trick
        """,
        perplexity_from_loss="""
            def perplexity_from_loss(mean_loss_nats):
                return np.power(np.e, mean_loss_nats)
        """,
        bits_per_char="""
            def bits_per_char(mean_loss_nats):
                return np.float64(mean_loss_nats) / np.log(2.0)
        """,
        precision_recall_f1="""
            def precision_recall_f1(y_true, y_pred, positive):
                table = np.zeros((2, 2))  # [truly positive?][predicted positive?]
                np.add.at(table, ((y_true == positive).astype(int), (y_pred == positive).astype(int)), 1)
                tp, fp, fn = table[1, 1], table[0, 1], table[1, 0]
                with np.errstate(invalid="ignore", divide="ignore"):
                    precision = np.nan_to_num(tp / (tp + fp))
                    recall = np.nan_to_num(tp / (tp + fn))
                    f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))  # the harmonic mean, simplified
                return precision, recall, f1
        """,
        split_windows_in_time_order="""
            from numpy.lib.stride_tricks import sliding_window_view

            def split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction):
                series = series.reshape(len(series), -1)
                T = len(series)
                edges = np.rint([T * train_fraction, T * (train_fraction + val_fraction)]).astype(int)
                parts = np.split(series, edges)
                if min(len(p) for p in parts) < window + horizon:
                    raise ValueError(f"window + horizon = {window + horizon} does not fit in every part")
                arrays = []
                for part in parts:
                    views = sliding_window_view(part, window, axis=0)  # (L - window + 1, D, window)
                    count = len(part) - window - horizon + 1
                    arrays += [views[:count].transpose(0, 2, 1).copy(), part[window + horizon - 1:].copy()]
                return tuple(arrays)
        """,
        many_to_one_train_step="""
            def many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
                N, T, _ = x.shape
                pre = np.einsum("ntd,dh->nth", x, Wx) + b
                h = [h0]
                for t in range(T):
                    h.append(np.tanh(pre[:, t] + h[-1] @ Wh))
                h = np.stack(h, axis=1)  # (N, T + 1, H), h[:, 0] = h0
                scores = np.einsum("nh,hc->nc", h[:, -1], W_out) + b_out
                log_p = scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)
                onehot = np.eye(W_out.shape[1])[y]
                loss = -np.einsum("nc,nc->", onehot, log_p) / N
                dscores = (np.exp(log_p) - onehot) / N
                g = {"W_out": np.einsum("nh,nc->hc", h[:, -1], dscores), "b_out": dscores.sum(0),
                     "Wx": 0.0, "Wh": 0.0, "b": 0.0}
                dh = np.einsum("nc,hc->nh", dscores, W_out)
                for t in range(T, 0, -1):
                    dpre = dh * (1 - h[:, t] ** 2)
                    g["Wx"] = g["Wx"] + np.einsum("nd,nh->dh", x[:, t - 1], dpre)
                    g["Wh"] = g["Wh"] + np.einsum("nk,nh->kh", h[:, t - 1], dpre)
                    g["b"] = g["b"] + dpre.sum(0)
                    dh = dpre @ Wh.T
                norm = np.sqrt(sum(np.vdot(v, v) for v in g.values()))
                scale = min(1.0, max_norm / (norm + 1e-6))  # as torch.nn.utils.clip_grad_norm_
                new = {k: p - lr * scale * g[k] for k, p in dict(Wx=Wx, Wh=Wh, b=b, W_out=W_out, b_out=b_out).items()}
                return loss, new["Wx"], new["Wh"], new["b"], new["W_out"], new["b_out"]
        """,
    ),
    # numpy's legacy global random state and a multinomial draw per row; float32 kept where precision allows.
    "legacy_random_multinomial": cells(
        softmax_with_temperature="""
            def softmax_with_temperature(logits, temperature):
                if temperature <= 0.0:
                    raise ValueError("softmax_with_temperature: temperature <= 0")
                z = logits / temperature
                z = z - np.max(z, axis=1)[:, np.newaxis]
                return np.exp(z) / np.sum(np.exp(z), axis=1)[:, np.newaxis]
        """,
        sample_with_temperature="""
            def sample_with_temperature(logits, temperature, seed):
                probs = softmax_with_temperature(logits, temperature)
                np.random.seed(seed)
                draws = np.zeros(len(probs), dtype=np.int32)
                for n, p in enumerate(probs):
                    draws[n] = np.argmax(np.random.multinomial(1, p / p.sum()))
                return draws
        """,
        perplexity_from_loss="""
            def perplexity_from_loss(mean_loss_nats):
                return np.exp2(mean_loss_nats / np.log(2))  # 2 ** (loss in bits): the same number
        """,
        bits_per_char="""
            def bits_per_char(mean_loss_nats):
                return np.log2(np.e) * mean_loss_nats
        """,
        precision_recall_f1="""
            def precision_recall_f1(y_true, y_pred, positive):
                hit = np.count_nonzero((y_true == positive) & (y_pred == positive))
                said = np.count_nonzero(y_pred == positive)
                real = np.count_nonzero(y_true == positive)
                precision = hit / said if said > 0 else 0.0
                recall = hit / real if real > 0 else 0.0
                if hit == 0:  # precision, recall and F1 are all 0 (or 0/0, taken as 0)
                    return 0.0, 0.0, 0.0
                return precision, recall, 2.0 / (1.0 / precision + 1.0 / recall)
        """,
        split_windows_in_time_order="""
            def split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction):
                data = series[:, None] if series.ndim == 1 else series
                n_train = int(len(data) * train_fraction + 0.5)  # rounded half up (no step count here ends in .5)
                n_seen = int(len(data) * (train_fraction + val_fraction) + 0.5)
                bounds = [(0, n_train), (n_train, n_seen), (n_seen, len(data))]
                result = ()
                for lo, hi in bounds:
                    n = hi - lo - window - horizon + 1
                    if n <= 0:
                        raise ValueError(f"the part [{lo}, {hi}) cannot hold a window of {window} and horizon {horizon}")
                    index = lo + np.arange(n)[:, None] + np.arange(window)[None, :]  # (n, window)
                    result += (data[index], data[lo + np.arange(n) + window + horizon - 1])
                return result
        """,
        many_to_one_train_step="""
            def rnn_forward(x, h0, Wx, Wh, b):
                cache = {"h": [h0]}
                for t in range(x.shape[1]):
                    cache["h"].append(np.tanh(x[:, t].dot(Wx) + cache["h"][-1].dot(Wh) + b))
                return cache

            def many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
                N = x.shape[0]
                cache = rnn_forward(x, h0, Wx, Wh, b)
                last = cache["h"][-1]
                scores = last.dot(W_out) + b_out
                scores = scores - scores.max(axis=1, keepdims=True)
                probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
                loss = np.mean(-np.log(probs[range(N), y]))
                delta = probs.copy()
                delta[range(N), y] -= 1
                delta = delta / N
                dW_out, db_out = last.T.dot(delta), delta.sum(axis=0)
                dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
                dh = delta.dot(W_out.T)
                for t in reversed(range(x.shape[1])):
                    dz = (1 - cache["h"][t + 1] ** 2) * dh
                    dWx = dWx + x[:, t].T.dot(dz)
                    dWh = dWh + cache["h"][t].T.dot(dz)
                    db = db + dz.sum(axis=0)
                    dh = dz.dot(Wh.T)
                grads = (dWx, dWh, db, dW_out, db_out)
                norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads]))
                if norm > max_norm:
                    grads = tuple(g * (max_norm / norm) for g in grads)
                return (loss,) + tuple(p - lr * g for p, g in zip((Wx, Wh, b, W_out, b_out), grads))
        """,
    ),
}


STYLES = {"ps1_rnn_forward": PS1, "ps2_bptt": PS2, "ps3_gradients": PS3, "ps4_lstm_gru": PS4,
          "ps5_variants_attention": PS5, "ps6_applications": PS6}


# ============================================================================
# Grading a style as nbgrader grades a notebook
# ============================================================================

def source_notebook(assignment):
    return nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def solution_ids(notebook):
    return [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def with_style(notebook, code):
    """A copy of the source notebook whose solution cells hold ``code[grade_id]``."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and cell.metadata["nbgrader"].get("solution"):
            cell.source = code[grade_id]
    return notebook


def grade_in_process(notebook):
    """Run the notebook's code cells in order in one namespace, as a kernel does.

    Returns ({graded cell: (score, points)}, {graded cell: error message}).
    """
    namespace = {"__name__": "__main__"}
    scores, errors = {}, {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<cell {meta.get('grade_id')}>", "exec"), namespace)
            passed = True
        except Exception as error:  # a failing cell, as in a kernel: record it and go on
            passed = False
            errors[meta.get("grade_id")] = f"{type(error).__name__}: {error}"
        if meta.get("grade"):
            scores[meta["grade_id"]] = (meta["points"] if passed else 0, meta["points"])
    return scores, errors


STYLE_CASES = [(assignment, style) for assignment, styles in STYLES.items() for style in styles]


def test_every_style_fills_every_solution_cell():
    for assignment, styles in STYLES.items():
        assert len(styles) >= 2, f"{assignment}: at least two other styles"
        wanted = set(solution_ids(source_notebook(assignment)))
        for style, code in styles.items():
            assert set(code) == wanted, (assignment, style, set(code) ^ wanted)


@pytest.mark.parametrize("assignment, style", STYLE_CASES, ids=[f"{a}-{s}" for a, s in STYLE_CASES])
def test_other_style_scores_full_marks(assignment, style):
    notebook = with_style(source_notebook(assignment), STYLES[assignment][style])
    scores, errors = grade_in_process(notebook)
    assert len(scores) >= 10, scores
    total, top = sum(s for s, _ in scores.values()), sum(t for _, t in scores.values())
    assert not errors, errors
    assert total == top, (total, top, scores)


def test_styles_really_differ_from_the_solution():
    """The styles use what the issue found penalised: float32 buffers, own caches, lists."""
    ps1 = "".join(PS1["loops_dict_float32"].values())
    assert "np.float32" in ps1 and '"h_next": h_next' in ps1  # float32 results, a dict cache
    assert "@dataclass" in PS1["einsum_dataclass"]["rnn_step_forward"]
    assert "class ElmanCell" in PS1["helper_class_dot"]["rnn_step_forward"]
    assert "return [" in PS2["loops_float32"]["rnn_backward_truncated"]  # a list where a tuple is asked
    assert "np.float32" in PS3["loops_float32_lists"]["global_norm"]
    assert "astype(np.float32)" in PS4["split_dicts_float32"]["lstm_step_backward"]
    assert "return sequences  # a list of lists" in PS5["loops_float32_lists"]["rnn_greedy_decode"]
    assert "class TanhRNN" in PS5["einsum_onehot_classes"]["bidirectional_rnn_forward"]
    assert "gumbel" in PS6["vectorised_gumbel_einsum"]["sample_with_temperature"]  # neither choice nor CDF
    assert "np.random.seed(seed)" in PS6["legacy_random_multinomial"]["sample_with_temperature"]
    assert "rng.choice" in PS6["loops_math_choice"]["sample_with_temperature"]
    assert "1e-6" in PS6["vectorised_gumbel_einsum"]["many_to_one_train_step"]  # PyTorch's clipping


# ============================================================================
# One style through nbgrader, end to end
# ============================================================================



@pytest.mark.slow
def test_float32_loop_style_full_marks_through_nbgrader(tmp_path):
    """Assignment 1 in the float32, loops and dict-cache style: full marks from nbgrader itself."""
    from nbgrader.api import Gradebook

    assignment = "ps1_rnn_forward"
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copytree(COURSE / "source" / assignment, course / "source" / assignment)
    nbgrader(course, "generate_assignment", assignment)
    for student, style in (("loops_float32", "loops_dict_float32"), ("helper_class", "helper_class_dot")):
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(with_style(source_notebook(assignment), PS1[style]), folder / f"{assignment}.ipynb")
    nbgrader(course, "autograde", assignment)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("loops_float32", "helper_class"):
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            scores = {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
            assert len(scores) >= 10, scores
            assert all(score == top for score, top in scores.values()), (student, scores)
            assert sum(t for _, t in scores.values()) == 11.0
    autograded = json.loads((course / "autograded" / "loops_float32" / assignment / f"{assignment}.ipynb").read_text())
    errors = [o for c in autograded["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors


def test_in_process_grading_takes_points_from_a_wrong_style():
    """The harness above can fail: the float32 loop style with the bias left out loses points."""
    code = dict(PS1["loops_dict_float32"])
    code["rnn_step_forward"] = code["rnn_step_forward"].replace("total = b[j]", "total = 0.0")
    scores, errors = grade_in_process(with_style(source_notebook("ps1_rnn_forward"), code))
    assert scores["test_rnn_step_forward_main"] == (0, 1) and scores["test_tanh"] == (1, 1), scores
    assert "relative error" in errors["test_rnn_step_forward_main"], errors
