"""Checks of assignment 4 (Chapter 4, LSTM and GRU): step and sequence, forward and backward.

The backward functions receive the reference caches (:class:`~rnncourse.lstm.LSTMStepCache`,
:class:`~rnncourse.lstm.LSTMCache`, :class:`~rnncourse.gru.GRUStepCache`,
:class:`~rnncourse.gru.GRUCache`), as the assignment says.
"""
import numpy as np

from .. import gradcheck, gru, lstm
from .core import (
    TOLERANCE, Case, _fail_if_any, _unpack, numeric_second_opinion, output_error, problem_kind,
    register_references, run_cases,
)

__all__ = [
    "GATED_STEP_SIZES", "GATED_SEQUENCE_SIZES",
    "lstm_step_inputs", "lstm_sequence_inputs", "gru_step_inputs", "gru_sequence_inputs",
    "lstm_step_forward_cases", "lstm_forward_cases", "lstm_step_backward_cases", "lstm_backward_cases",
    "gru_step_forward_cases", "gru_forward_cases", "gru_step_backward_cases", "gru_backward_cases",
    "check_lstm_step_forward", "check_lstm_forward", "check_lstm_step_backward", "check_lstm_backward",
    "check_gru_step_forward", "check_gru_forward", "check_gru_step_backward", "check_gru_backward",
]

register_references(
    lstm.lstm_step_forward, lstm.lstm_step_backward, lstm.lstm_forward, lstm.lstm_backward,
    gru.gru_step_forward, gru.gru_step_backward, gru.gru_forward, gru.gru_backward,
)

GATED_STEP_SIZES = ((3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1))  # (N, D, H): random, then N=1, D=1, H=1
# (N, T, D, H): random, then N=1, T=1, D=1, H=1
GATED_SEQUENCE_SIZES = ((2, 5, 3, 4), (1, 5, 3, 4), (2, 1, 3, 4), (2, 5, 1, 4), (2, 5, 3, 1))

LSTM_STEP_GRADIENTS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
LSTM_GRADIENTS = ("dx", "dh0", "dc0", "dWx", "dWh", "db")
GRU_STEP_GRADIENTS = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")
GRU_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------

def lstm_step_inputs(seed, N, D, H):
    """Seeded inputs of one LSTM step: dict with x (N, D), h_prev, c_prev (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, D)),
        "h_prev": rng.uniform(-1, 1, (N, H)),
        "c_prev": rng.standard_normal((N, H)),
        "Wx": rng.standard_normal((D, 4 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
        "b": rng.standard_normal(4 * H) * 0.5,
    }


def lstm_sequence_inputs(seed, N, T, D, H):
    """Seeded inputs of an LSTM sequence: dict with x (N, T, D), h0, c0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "c0": rng.standard_normal((N, H)),
        "Wx": rng.standard_normal((D, 4 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
        "b": rng.standard_normal(4 * H) * 0.5,
    }


def gru_step_inputs(seed, N, D, H):
    """Seeded inputs of one GRU step: dict with x (N, D), h_prev (N, H), Wx (D, 3H), Wh (H, 3H), bx, bh (3H,)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, D)),
        "h_prev": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, 3 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "bx": rng.standard_normal(3 * H) * 0.5,
        "bh": rng.standard_normal(3 * H) * 0.5,
    }


def gru_sequence_inputs(seed, N, T, D, H):
    """Seeded inputs of a GRU sequence: dict with x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), bx, bh (3H,)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, 3 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "bx": rng.standard_normal(3 * H) * 0.5,
        "bh": rng.standard_normal(3 * H) * 0.5,
    }


# ----------------------------------------------------------------------------
# Judging
# ----------------------------------------------------------------------------

def _problems(case, got, expected, names):
    return [(k, p) for k in names if (p := output_error(case.function, case.label, k, got[k], expected[k]))]


def _first_wrong_step(problem, got, expected):
    """Add the first wrong time step to a message about an (N, T, H) output."""
    T = expected.shape[1]
    if problem and problem_kind(problem) == "value" and T > 1:
        first = next((t for t in range(T)
                      if gradcheck.rel_error(np.asarray(got)[:, t], expected[:, t]) > TOLERANCE), None)
        if first is not None:
            problem = problem.plus(f" The first wrong time step is t={first}.")
    return problem


# ----------------------------------------------------------------------------
# LSTM: forward
# ----------------------------------------------------------------------------

_GATE_ORDER_HINT = ("The blocks of a = x @ Wx + h_prev @ Wh + b (N, 4H) are in PyTorch's order i, f, g, o: "
                    "i = sigmoid(a[:, :H]), f = sigmoid(a[:, H:2H]), g = tanh(a[:, 2H:3H]), o = sigmoid(a[:, 3H:]).")
_LSTM_FORWARD_HINTS = {
    "h_next": "h_next = o * tanh(c_next): the output gate times tanh of the NEW cell state.",
    "c_next": "c_next = f * c_prev + i * g. " + _GATE_ORDER_HINT,
}


def _judge_lstm_step_forward(case, result):
    h_expected, c_expected, _ = lstm.lstm_step_forward(*case.args, **case.kwargs)
    h_next, c_next, _ = _unpack(result, case.function, ("h_next", "c_next", "cache"))
    got, expected = {"h_next": h_next, "c_next": c_next}, {"h_next": h_expected, "c_next": c_expected}
    _fail_if_any(_problems(case, got, expected, ("h_next", "c_next")), _LSTM_FORWARD_HINTS, _GATE_ORDER_HINT)


def lstm_step_forward_cases(seed=0, sizes=GATED_STEP_SIZES):
    """Cases of ``lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)`` for (N, D, H) in ``sizes``."""
    return [Case("lstm_step_forward", f"seed={seed}, N={N}, D={D}, H={H}",
                 tuple(lstm_step_inputs(seed, N, D, H).values()), {}, _judge_lstm_step_forward)
            for N, D, H in sizes]


def check_lstm_step_forward(fn, seed=0, sizes=GATED_STEP_SIZES):
    """Check ``fn(x, h_prev, c_prev, Wx, Wh, b) -> (h_next, c_next, cache)``; sizes: (N, D, H) triples."""
    run_cases(fn, lstm_step_forward_cases(seed, sizes))


def _judge_lstm_forward(case, result):
    expected, _ = lstm.lstm_forward(*case.args, **case.kwargs)
    h, _ = _unpack(result, case.function, ("h", "cache"))
    problem = _first_wrong_step(output_error(case.function, case.label, "h", h, expected), h, expected)
    start = ("c0 is given: start the cell state from it." if case.kwargs.get("c0") is not None
             else "c0 is None here: start the cell state from zeros of shape (N, H).")
    _fail_if_any([("h", problem)] if problem else [], {"h": (
        "h[:, t] is the h_next of step t. Carry both states from step to step: (h, c) = step(x[:, t], h, c). "
        + start + " " + _GATE_ORDER_HINT)})


def lstm_forward_cases(seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Cases of ``lstm_forward(x, h0, Wx, Wh, b, c0=...)`` for (N, T, D, H) in ``sizes``:
    with a random c0 for every size, and with c0 left out (zeros) for the first."""
    cases = []
    for index, (N, T, D, H) in enumerate(sizes):
        inputs = lstm_sequence_inputs(seed, N, T, D, H)
        c0 = inputs.pop("c0")
        label = f"seed={seed}, N={N}, T={T}, D={D}, H={H}"
        cases.append(Case("lstm_forward", label + ", c0 given", tuple(inputs.values()), {"c0": c0},
                          _judge_lstm_forward))
        if index == 0:
            cases.append(Case("lstm_forward", label + ", c0 left out (zeros)", tuple(inputs.values()), {},
                              _judge_lstm_forward))
    return cases


def check_lstm_forward(fn, seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Check ``fn(x, h0, Wx, Wh, b, c0=None) -> (h, cache)``; sizes: (N, T, D, H) quadruples."""
    run_cases(fn, lstm_forward_cases(seed, sizes))


# ----------------------------------------------------------------------------
# LSTM: backward
# ----------------------------------------------------------------------------

_LSTM_STEP_GRADIENT_HINTS = {
    "dx": "dx = da @ Wx.T, where da (N, 4H) holds the gradients at the four pre-activations, blocks i, f, g, o.",
    "dh_prev": "dh_prev = da @ Wh.T.",
    "dc_prev": ("dc_prev = dc * f, where dc = dc_next + dh_next * o * (1 - tanh(c_next)**2) is all the gradient "
                "reaching c_next: from the next step and through h_next."),
    "dWx": "dWx = x.T @ da (shape (D, 4H)).",
    "dWh": "dWh = h_prev.T @ da (shape (H, 4H)).",
    "db": "db = da.sum(axis=0) (shape (4H,)): the bias is shared by every example of the batch.",
}
_LSTM_DA_HINT = ("Several gradients are wrong at once: check da, blocks in the order i, f, g, o. With "
                 "dc = dc_next + dh_next * o * (1 - tanh(c_next)**2): da_i = dc * g * i * (1 - i), "
                 "da_f = dc * c_prev * f * (1 - f), da_g = dc * i * (1 - g**2), "
                 "da_o = dh_next * tanh(c_next) * o * (1 - o).")
_LSTM_SEQUENCE_HINTS = {
    "dx": "dx[:, t] is the dx of step t.",
    "dh0": "dh0 is the dh_prev that comes out of step 0.",
    "dc0": "dc0 is the dc_prev that comes out of step 0: the cell state carries its own gradient back in time.",
    "dWx": "dWx is the sum of the dWx of all steps (the weights are shared in time).",
    "dWh": "dWh is the sum of the dWh of all steps.",
    "db": "db is the sum of the db of all steps.",
}
_LSTM_FLOW_HINT = ("Going backwards, step t gets dh_next = dh[:, t] + the dh_prev of step t+1 and "
                   "dc_next = the dc_prev of step t+1 (nothing comes from above on c); both start from zeros "
                   "at t = T-1. lstm_step_cache(cache, t) gives the step's cache.")


def _lstm_step_outputs(**inputs):
    h_next, c_next, _ = lstm.lstm_step_forward(**inputs)
    return np.stack([h_next, c_next])


def _judge_lstm_step_backward(case, result):
    dh_next, dc_next, cache = case.args
    expected = dict(zip(LSTM_STEP_GRADIENTS, lstm.lstm_step_backward(dh_next, dc_next, cache)))
    got = dict(zip(LSTM_STEP_GRADIENTS, _unpack(result, case.function, LSTM_STEP_GRADIENTS)))
    problems = numeric_second_opinion(_problems(case, got, expected, LSTM_STEP_GRADIENTS), got,
                                       case.context["inputs"], _lstm_step_outputs, np.stack([dh_next, dc_next]))
    _fail_if_any(problems, _LSTM_STEP_GRADIENT_HINTS, _LSTM_DA_HINT)


def lstm_step_backward_cases(seed=0, sizes=GATED_STEP_SIZES):
    """Cases of ``lstm_step_backward(dh_next, dc_next, cache)``; ``cache`` is the reference
    :class:`~rnncourse.lstm.LSTMStepCache`."""
    cases = []
    for N, D, H in sizes:
        inputs = lstm_step_inputs(seed, N, D, H)
        rng = np.random.default_rng(seed + 1)
        dh_next, dc_next = rng.standard_normal((N, H)), rng.standard_normal((N, H))
        _, _, cache = lstm.lstm_step_forward(**inputs)
        cases.append(Case("lstm_step_backward", f"seed={seed}, N={N}, D={D}, H={H}",
                          (dh_next, dc_next, cache), {}, _judge_lstm_step_backward, {"inputs": inputs}))
    return cases


def check_lstm_step_backward(fn, seed=0, sizes=GATED_STEP_SIZES):
    """Check ``fn(dh_next, dc_next, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``.

    ``cache`` is the :class:`rnncourse.lstm.LSTMStepCache` of the reference forward step.
    """
    run_cases(fn, lstm_step_backward_cases(seed, sizes))


def _lstm_sequence_output(**inputs):
    return lstm.lstm_forward(**inputs)[0]


def _judge_lstm_backward(case, result):
    dh, cache = case.args
    expected = dict(zip(LSTM_GRADIENTS, lstm.lstm_backward(dh, cache)))
    got = dict(zip(LSTM_GRADIENTS, _unpack(result, case.function, LSTM_GRADIENTS)))
    problems = numeric_second_opinion(_problems(case, got, expected, LSTM_GRADIENTS), got,
                                       case.context["inputs"], _lstm_sequence_output, dh)
    _fail_if_any(problems, _LSTM_SEQUENCE_HINTS, _LSTM_FLOW_HINT)


def lstm_backward_cases(seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Cases of ``lstm_backward(dh, cache)``; ``cache`` is the reference :class:`~rnncourse.lstm.LSTMCache`."""
    cases = []
    for N, T, D, H in sizes:
        inputs = lstm_sequence_inputs(seed, N, T, D, H)
        dh = np.random.default_rng(seed + 1).standard_normal((N, T, H))
        _, cache = lstm.lstm_forward(**inputs)
        cases.append(Case("lstm_backward", f"seed={seed}, N={N}, T={T}, D={D}, H={H}",
                          (dh, cache), {}, _judge_lstm_backward, {"inputs": inputs}))
    return cases


def check_lstm_backward(fn, seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Check ``fn(dh, cache) -> (dx, dh0, dc0, dWx, dWh, db)``.

    ``cache`` is the :class:`rnncourse.lstm.LSTMCache` of the reference forward pass (with a random c0).
    """
    run_cases(fn, lstm_backward_cases(seed, sizes))


# ----------------------------------------------------------------------------
# GRU: forward
# ----------------------------------------------------------------------------

_GRU_FORMULA_HINT = ("PyTorch's GRU, blocks r, z, n: r = sigmoid(x Wx_r + bx_r + h_prev Wh_r + bh_r), "
                     "z = sigmoid(x Wx_z + bx_z + h_prev Wh_z + bh_z), "
                     "n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n)) (bh_n is inside the product with r), "
                     "h_next = (1 - z) * n + z * h_prev.")


def _judge_gru_step_forward(case, result):
    expected, _ = gru.gru_step_forward(*case.args, **case.kwargs)
    h_next, _ = _unpack(result, case.function, ("h_next", "cache"))
    problem = output_error(case.function, case.label, "h_next", h_next, expected)
    _fail_if_any([("h_next", problem)] if problem else [], {"h_next": _GRU_FORMULA_HINT})


def gru_step_forward_cases(seed=0, sizes=GATED_STEP_SIZES):
    """Cases of ``gru_step_forward(x, h_prev, Wx, Wh, bx, bh)`` for (N, D, H) in ``sizes``."""
    return [Case("gru_step_forward", f"seed={seed}, N={N}, D={D}, H={H}",
                 tuple(gru_step_inputs(seed, N, D, H).values()), {}, _judge_gru_step_forward)
            for N, D, H in sizes]


def check_gru_step_forward(fn, seed=0, sizes=GATED_STEP_SIZES):
    """Check ``fn(x, h_prev, Wx, Wh, bx, bh) -> (h_next, cache)``; sizes: (N, D, H) triples."""
    run_cases(fn, gru_step_forward_cases(seed, sizes))


def _judge_gru_forward(case, result):
    expected, _ = gru.gru_forward(*case.args, **case.kwargs)
    h, _ = _unpack(result, case.function, ("h", "cache"))
    problem = _first_wrong_step(output_error(case.function, case.label, "h", h, expected), h, expected)
    _fail_if_any([("h", problem)] if problem else [], {"h": (
        "h[:, t] is the h_next of step t, starting from h0. " + _GRU_FORMULA_HINT)})


def gru_forward_cases(seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Cases of ``gru_forward(x, h0, Wx, Wh, bx, bh)`` for (N, T, D, H) in ``sizes``."""
    return [Case("gru_forward", f"seed={seed}, N={N}, T={T}, D={D}, H={H}",
                 tuple(gru_sequence_inputs(seed, N, T, D, H).values()), {}, _judge_gru_forward)
            for N, T, D, H in sizes]


def check_gru_forward(fn, seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Check ``fn(x, h0, Wx, Wh, bx, bh) -> (h, cache)``; sizes: (N, T, D, H) quadruples."""
    run_cases(fn, gru_forward_cases(seed, sizes))


# ----------------------------------------------------------------------------
# GRU: backward
# ----------------------------------------------------------------------------

_GRU_STEP_GRADIENT_HINTS = {
    "dx": "dx = dax @ Wx.T, where dax = [da_r, da_z, da_n] (N, 3H) are the gradients at the pre-activations.",
    "dh_prev": ("dh_prev has two parts: dah @ Wh.T through the gates, with dah = [da_r, da_z, da_n * r], "
                "plus dh_next * z directly through z * h_prev."),
    "dWx": "dWx = x.T @ dax (shape (D, 3H)).",
    "dWh": ("dWh = h_prev.T @ dah (shape (H, 3H)); the n block of dah is da_n * r, because the reset gate "
            "multiplies h_prev Wh_n + bh_n."),
    "dbx": "dbx = dax.sum(axis=0) (shape (3H,)).",
    "dbh": "dbh = dah.sum(axis=0): its n block is (da_n * r).sum(axis=0), not da_n.sum(axis=0).",
}
_GRU_GATES_HINT = ("Several gradients are wrong at once: check the gate gradients. dn = dh_next * (1 - z), "
                   "dz = dh_next * (h_prev - n); da_n = dn * (1 - n**2), da_z = dz * z * (1 - z), "
                   "da_r = da_n * hn * r * (1 - r) with hn = h_prev Wh_n + bh_n (cache.hn).")
_GRU_SEQUENCE_HINTS = {
    "dx": "dx[:, t] is the dx of step t.",
    "dh0": "dh0 is the dh_prev that comes out of step 0.",
    "dWx": "dWx is the sum of the dWx of all steps (the weights are shared in time).",
    "dWh": "dWh is the sum of the dWh of all steps.",
    "dbx": "dbx is the sum of the dbx of all steps.",
    "dbh": "dbh is the sum of the dbh of all steps.",
}
_GRU_FLOW_HINT = ("Going backwards, the gradient reaching h_t is dh[:, t] plus the dh_prev that step t+1 "
                  "sent back; start from zeros at t = T-1. gru_step_cache(cache, t) gives the step's cache.")


def _gru_step_output(**inputs):
    return gru.gru_step_forward(**inputs)[0]


def _judge_gru_step_backward(case, result):
    dh_next, cache = case.args
    expected = dict(zip(GRU_STEP_GRADIENTS, gru.gru_step_backward(dh_next, cache)))
    got = dict(zip(GRU_STEP_GRADIENTS, _unpack(result, case.function, GRU_STEP_GRADIENTS)))
    problems = numeric_second_opinion(_problems(case, got, expected, GRU_STEP_GRADIENTS), got,
                                       case.context["inputs"], _gru_step_output, dh_next)
    _fail_if_any(problems, _GRU_STEP_GRADIENT_HINTS, _GRU_GATES_HINT)


def gru_step_backward_cases(seed=0, sizes=GATED_STEP_SIZES):
    """Cases of ``gru_step_backward(dh_next, cache)``; ``cache`` is the reference
    :class:`~rnncourse.gru.GRUStepCache`."""
    cases = []
    for N, D, H in sizes:
        inputs = gru_step_inputs(seed, N, D, H)
        dh_next = np.random.default_rng(seed + 1).standard_normal((N, H))
        _, cache = gru.gru_step_forward(**inputs)
        cases.append(Case("gru_step_backward", f"seed={seed}, N={N}, D={D}, H={H}",
                          (dh_next, cache), {}, _judge_gru_step_backward, {"inputs": inputs}))
    return cases


def check_gru_step_backward(fn, seed=0, sizes=GATED_STEP_SIZES):
    """Check ``fn(dh_next, cache) -> (dx, dh_prev, dWx, dWh, dbx, dbh)``.

    ``cache`` is the :class:`rnncourse.gru.GRUStepCache` of the reference forward step.
    """
    run_cases(fn, gru_step_backward_cases(seed, sizes))


def _gru_sequence_output(**inputs):
    return gru.gru_forward(**inputs)[0]


def _judge_gru_backward(case, result):
    dh, cache = case.args
    expected = dict(zip(GRU_GRADIENTS, gru.gru_backward(dh, cache)))
    got = dict(zip(GRU_GRADIENTS, _unpack(result, case.function, GRU_GRADIENTS)))
    problems = numeric_second_opinion(_problems(case, got, expected, GRU_GRADIENTS), got,
                                       case.context["inputs"], _gru_sequence_output, dh)
    _fail_if_any(problems, _GRU_SEQUENCE_HINTS, _GRU_FLOW_HINT)


def gru_backward_cases(seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Cases of ``gru_backward(dh, cache)``; ``cache`` is the reference :class:`~rnncourse.gru.GRUCache`."""
    cases = []
    for N, T, D, H in sizes:
        inputs = gru_sequence_inputs(seed, N, T, D, H)
        dh = np.random.default_rng(seed + 1).standard_normal((N, T, H))
        _, cache = gru.gru_forward(**inputs)
        cases.append(Case("gru_backward", f"seed={seed}, N={N}, T={T}, D={D}, H={H}",
                          (dh, cache), {}, _judge_gru_backward, {"inputs": inputs}))
    return cases


def check_gru_backward(fn, seed=0, sizes=GATED_SEQUENCE_SIZES):
    """Check ``fn(dh, cache) -> (dx, dh0, dWx, dWh, dbx, dbh)``.

    ``cache`` is the :class:`rnncourse.gru.GRUCache` of the reference forward pass.
    """
    run_cases(fn, gru_backward_cases(seed, sizes))


# The cases behind every ``check_<name>`` of this module, for the sandboxed autograder.
CASES = {
    "check_lstm_step_forward": lstm_step_forward_cases,
    "check_lstm_forward": lstm_forward_cases,
    "check_lstm_step_backward": lstm_step_backward_cases,
    "check_lstm_backward": lstm_backward_cases,
    "check_gru_step_forward": gru_step_forward_cases,
    "check_gru_forward": gru_forward_cases,
    "check_gru_step_backward": gru_step_backward_cases,
    "check_gru_backward": gru_backward_cases,
}
