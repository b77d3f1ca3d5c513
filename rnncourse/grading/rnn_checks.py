"""Checks of assignments 1 and 2: activations, the forward pass, BPTT and numeric gradients."""
import numpy as np

from .. import activations, gradcheck, rnn
from ..autograde.sandboxed.smooth_functions import SmoothFunction  # a leaf module: the sandbox rebuilds these
from .core import (
    TOLERANCE, Case, _fail_if_any, _unpack, numeric_second_opinion, output_error, problem_kind,
    register_references, run_cases,
)

register_references(
    activations.tanh, activations.sigmoid, activations.relu,
    activations.tanh_derivative, activations.sigmoid_derivative, activations.relu_derivative,
    rnn.rnn_step_forward, rnn.rnn_forward, rnn.rnn_step_backward, rnn.rnn_backward,
    rnn.rnn_backward_truncated,
    gradcheck.numerical_gradient, gradcheck.numerical_gradient_array,
)

STEP_SIZES = ((3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1))  # (N, D, H): random, then N=1, D=1, H=1
SEQUENCE_SIZES = ((2, 5, 3, 4), (1, 5, 3, 4), (2, 1, 3, 4), (2, 5, 3, 1))  # (N, T, D, H)

_STEP_GRADIENT_HINTS = {
    "dx": "dx = da @ Wx.T, where da = dh_next * f'(a) is the gradient at the pre-activation a.",
    "dh_prev": "dh_prev = da @ Wh.T.",
    "dWx": "dWx = x.T @ da (shape (D, H)).",
    "dWh": "dWh = h_prev.T @ da (shape (H, H)).",
    "db": "db = da.sum(axis=0): the bias is shared by every example of the batch.",
}
_DA_HINT = ("Several gradients are wrong at once: check da = dh_next * f'(a). With the cache you "
            "have the output h_next = f(a): tanh' = 1 - h_next**2, sigmoid' = h_next * (1 - h_next), "
            "relu' = (h_next > 0).")
_SEQUENCE_GRADIENT_HINTS = {
    "dx": "dx[:, t] is the dx of step t.",
    "dh0": "dh0 is the dh_prev that comes out of step 0.",
    "dWx": "dWx is the sum of the dWx of all steps (the weights are shared in time).",
    "dWh": "dWh is the sum of the dWh of all steps.",
    "db": "db is the sum of the db of all steps.",
}
_FLOW_HINT = ("Going backwards, the gradient reaching h_t is dh[:, t] plus the dh_prev that step t+1 "
              "sent back; start from zeros at t = T-1.")


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------

def step_inputs(seed, N, D, H):
    """Seeded inputs of one step: dict with x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, D)),
        "h_prev": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": rng.standard_normal(H) * 0.5,
    }


def sequence_inputs(seed, N, T, D, H):
    """Seeded inputs of a sequence: dict with x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": rng.standard_normal(H) * 0.5,
    }


# ----------------------------------------------------------------------------
# Assignment 1: activations and the forward pass
# ----------------------------------------------------------------------------

_ACTIVATION_HINTS = {
    "tanh": {"value": "tanh(a) = (e^a - e^-a) / (e^a + e^-a); np.tanh is allowed.",
             ("value", "nonfinite"): "e^a overflows for large |a|: use np.tanh, or 1 - 2 / (e^(2a) + 1)."},
    "sigmoid": {"value": "sigmoid(a) = 1 / (1 + e^-a).",
                ("value", "nonfinite"): "e^-a overflows for a = -1000: for a < 0 use the equal form "
                                        "e^a / (1 + e^a), so nothing overflows."},
    "relu": {"value": "relu(a) = max(a, 0) element-wise: np.maximum(a, 0)."},
}


def _judge_activation(case, result):
    reference, _ = activations.get_activation(case.function)
    problem = output_error(case.function, case.label, "value", result, reference(case.args[0]))
    _fail_if_any([("value", problem)] if problem else [], _ACTIVATION_HINTS[case.function])


def activation_cases(name, seed=0):
    """Cases of the activation ``name`` ("tanh", "sigmoid" or "relu") on arrays of several shapes."""
    activations.get_activation(name)  # ValueError for an unknown name
    rng = np.random.default_rng(seed)
    inputs = {
        "random (4, 5)": rng.standard_normal((4, 5)) * 3,
        "one value (1,)": rng.standard_normal(1),
        "large values": np.array([-1000.0, -30.0, -1e-9, 0.0, 1e-9, 30.0, 1000.0]),
        "(2, 3, 4)": rng.standard_normal((2, 3, 4)),
    }
    return [Case(name, f"'{label}' (seed={seed})", (a,), {}, _judge_activation) for label, a in inputs.items()]


def check_activation(fn, name, seed=0):
    """Check an activation function ``name`` in ("tanh", "sigmoid", "relu") on arrays of several shapes."""
    run_cases(fn, activation_cases(name, seed))


def tanh_cases(seed=0):
    """Cases of ``tanh(a)``."""
    return activation_cases("tanh", seed)


def sigmoid_cases(seed=0):
    """Cases of ``sigmoid(a)``, including abs(a) = 1000."""
    return activation_cases("sigmoid", seed)


def relu_cases(seed=0):
    """Cases of ``relu(a)``."""
    return activation_cases("relu", seed)


def check_tanh(fn, seed=0):
    """Check a student's ``tanh(a)``."""
    run_cases(fn, tanh_cases(seed))


def check_sigmoid(fn, seed=0):
    """Check a student's ``sigmoid(a)``, including abs(a) = 1000 (the values are graded; overflow warnings are not)."""
    run_cases(fn, sigmoid_cases(seed))


def check_relu(fn, seed=0):
    """Check a student's ``relu(a)``."""
    run_cases(fn, relu_cases(seed))


def _judge_step_forward(case, result):
    expected, _ = rnn.rnn_step_forward(*case.args, **case.kwargs)
    h_next, _ = _unpack(result, case.function, ("h_next", "cache"))
    problem = output_error(case.function, case.label, "h_next", h_next, expected)
    _fail_if_any([("h_next", problem)] if problem else [], {"h_next": (
        "h_next = f(x @ Wx + h_prev @ Wh + b) with f the activation named by `activation`. "
        "Wx multiplies x from the right, Wh multiplies h_prev from the right.")})


def rnn_step_forward_cases(seed=0, sizes=STEP_SIZES, activation_names=("tanh",)):
    """Cases of ``rnn_step_forward(x, h_prev, Wx, Wh, b, activation=...)`` for (N, D, H) in ``sizes``."""
    return [Case("rnn_step_forward", f"seed={seed}, N={N}, D={D}, H={H}, activation={activation!r}",
                 tuple(step_inputs(seed, N, D, H).values()), {"activation": activation}, _judge_step_forward)
            for N, D, H in sizes for activation in activation_names]


def check_rnn_step_forward(fn, seed=0, sizes=STEP_SIZES, activation_names=("tanh",)):
    """Check ``fn(x, h_prev, Wx, Wh, b, activation=...) -> (h_next, cache)``.

    sizes: (N, D, H) triples to try; activation_names: activations to try.
    """
    run_cases(fn, rnn_step_forward_cases(seed, sizes, activation_names))


def _judge_forward(case, result):
    expected, _ = rnn.rnn_forward(*case.args, **case.kwargs)
    h, _ = _unpack(result, case.function, ("h", "cache"))
    problem = output_error(case.function, case.label, "h", h, expected)
    T = expected.shape[1]
    if problem_kind(problem) == "value" and problem and T > 1:
        first_wrong = next((t for t in range(T)
                            if gradcheck.rel_error(np.asarray(h)[:, t], expected[:, t]) > TOLERANCE), None)
        if first_wrong is not None:
            problem = problem.plus(f" The first wrong time step is t={first_wrong}.")
    _fail_if_any([("h", problem)] if problem else [], {"h": (
        "h[:, t] is the hidden state after step t; step t reads x[:, t] and the state of "
        "step t-1 (h0 for t = 0), not h0 at every step.")})


def rnn_forward_cases(seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",)):
    """Cases of ``rnn_forward(x, h0, Wx, Wh, b, activation=...)`` for (N, T, D, H) in ``sizes``."""
    return [Case("rnn_forward", f"seed={seed}, N={N}, T={T}, D={D}, H={H}, activation={activation!r}",
                 tuple(sequence_inputs(seed, N, T, D, H).values()), {"activation": activation}, _judge_forward)
            for N, T, D, H in sizes for activation in activation_names]


def check_rnn_forward(fn, seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",)):
    """Check ``fn(x, h0, Wx, Wh, b, activation=...) -> (h, cache)``.

    sizes: (N, T, D, H) quadruples to try; activation_names: activations to try.
    """
    run_cases(fn, rnn_forward_cases(seed, sizes, activation_names))


# ----------------------------------------------------------------------------
# Assignment 2: backpropagation through time and gradient checking
# ----------------------------------------------------------------------------

STEP_GRADIENTS = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQUENCE_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db")


def _judge_step_backward(case, result):
    dh_next, cache = case.args
    expected = dict(zip(STEP_GRADIENTS, rnn.rnn_step_backward(dh_next, cache)))
    got = dict(zip(STEP_GRADIENTS, _unpack(result, case.function, STEP_GRADIENTS)))
    problems = [(k, p) for k in STEP_GRADIENTS if (p := output_error(case.function, case.label, k, got[k], expected[k]))]
    problems = numeric_second_opinion(
        problems, got, case.context["inputs"],
        lambda **kw: rnn.rnn_step_forward(**kw, activation=cache.activation)[0], dh_next)
    _fail_if_any(problems, _STEP_GRADIENT_HINTS, _DA_HINT)


def rnn_step_backward_cases(seed=0, sizes=STEP_SIZES, activation_names=("tanh",)):
    """Cases of ``rnn_step_backward(dh_next, cache)``; ``cache`` is the reference :class:`~rnncourse.rnn.RNNStepCache`."""
    cases = []
    for N, D, H in sizes:
        inputs = step_inputs(seed, N, D, H)
        dh_next = np.random.default_rng(seed + 1).standard_normal((N, H))
        for activation in activation_names:
            _, cache = rnn.rnn_step_forward(**inputs, activation=activation)
            cases.append(Case("rnn_step_backward", f"seed={seed}, N={N}, D={D}, H={H}, activation={activation!r}",
                              (dh_next, cache), {}, _judge_step_backward, {"inputs": inputs}))
    return cases


def check_rnn_step_backward(fn, seed=0, sizes=STEP_SIZES, activation_names=("tanh",)):
    """Check ``fn(dh_next, cache) -> (dx, dh_prev, dWx, dWh, db)``.

    ``cache`` is the :class:`rnncourse.rnn.RNNStepCache` of the reference forward step.
    """
    run_cases(fn, rnn_step_backward_cases(seed, sizes, activation_names))


def _judge_sequence_backward(case, result):
    dh, cache = case.args[:2]
    truncation = case.args[2] if len(case.args) > 2 else None
    expected = dict(zip(SEQUENCE_GRADIENTS, rnn.rnn_backward_truncated(dh, cache, truncation)))
    got = dict(zip(SEQUENCE_GRADIENTS, _unpack(result, case.function, SEQUENCE_GRADIENTS)))
    problems = [(g, p) for g in SEQUENCE_GRADIENTS
                if (p := output_error(case.function, case.label, g, got[g], expected[g]))]
    hints = dict(_SEQUENCE_GRADIENT_HINTS)
    if truncation is None:
        problems = numeric_second_opinion(
            problems, got, case.context["inputs"],
            lambda **kw: rnn.rnn_forward(**kw, activation=cache.activation)[0], dh)
        flow = _FLOW_HINT
    else:
        hints["dh0"] = "dh0 is the gradient leaving step 0; only the first chunk [0, k) reaches it when k < T."
        flow = (f"No gradient may flow from step t back to step t-1 when t is a multiple of "
                f"k={truncation} (t > 0): reset the carried dh_prev to zero there.")
    _fail_if_any(problems, hints, flow)


def _sequence_backward_cases(name, seed, sizes, activation_names, truncations):
    cases = []
    for N, T, D, H in sizes:
        inputs = sequence_inputs(seed, N, T, D, H)
        dh = np.random.default_rng(seed + 1).standard_normal((N, T, H))
        for activation in activation_names:
            _, cache = rnn.rnn_forward(**inputs, activation=activation)
            for k in truncations:
                label = f"seed={seed}, N={N}, T={T}, D={D}, H={H}, activation={activation!r}"
                args = (dh, cache) if k is None else (dh, cache, k)
                label += "" if k is None else f", truncation={k}"
                cases.append(Case(name, label, args, {}, _judge_sequence_backward, {"inputs": inputs}))
    return cases


def rnn_backward_cases(seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",)):
    """Cases of ``rnn_backward(dh, cache)``; ``cache`` is the reference :class:`~rnncourse.rnn.RNNCache`."""
    return _sequence_backward_cases("rnn_backward", seed, sizes, activation_names, (None,))


def check_rnn_backward(fn, seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",)):
    """Check ``fn(dh, cache) -> (dx, dh0, dWx, dWh, db)``.

    ``cache`` is the :class:`rnncourse.rnn.RNNCache` of the reference forward pass.
    """
    run_cases(fn, rnn_backward_cases(seed, sizes, activation_names))


def rnn_backward_truncated_cases(seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",),
                                 truncations=(1, 2, 3, 100)):
    """Cases of ``rnn_backward_truncated(dh, cache, truncation)`` for each truncation length."""
    return _sequence_backward_cases("rnn_backward_truncated", seed, sizes, activation_names, truncations)


def check_rnn_backward_truncated(fn, seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",),
                                 truncations=(1, 2, 3, 100)):
    """Check ``fn(dh, cache, truncation) -> (dx, dh0, dWx, dWh, db)`` for each truncation length."""
    run_cases(fn, rnn_backward_truncated_cases(seed, sizes, activation_names, truncations))


_NUMERIC_HINT = ("Use the centred difference (f(x + h e_i) - f(x - h e_i)) / (2h) for every element i, "
                 "and put x[i] back to its original value after each evaluation; the one-sided "
                 "difference is only accurate to about h.")
NUMERIC_TOLERANCE = 1e-6  # centred differences with h=1e-5 on these functions stay below 1e-8


def _judge_numeric(case, result):
    f, x = case.args[0], case.args[1]
    expected = f.gradient(x) if len(case.args) == 2 else f.gradient(x, case.args[2])
    problem = output_error(case.function, case.label, "grad", result, expected, NUMERIC_TOLERANCE)
    _fail_if_any([("grad", problem)] if problem else [], {"grad": _NUMERIC_HINT})


def numerical_gradient_cases(seed=0):
    """Cases of ``numerical_gradient(f, x)`` on smooth scalar functions with known gradients."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 3))
    cases = []
    for shape in ((3, 3), (1, 3), (2, 3)):
        for f in (SmoothFunction("cube_sum"), SmoothFunction("x_sin_x_sum"), SmoothFunction("tanh_matmul_sum", A)):
            x = rng.standard_normal(shape)
            label = f"{SmoothFunction.FORMULAS[f.kind]}, x of shape {shape}, seed={seed}"
            cases.append(Case("numerical_gradient", label, (f, x), {}, _judge_numeric))
    return cases


def check_numerical_gradient(fn, seed=0):
    """Check ``fn(f, x, h=1e-5) -> grad`` against analytic gradients of smooth functions."""
    run_cases(fn, numerical_gradient_cases(seed))


def numerical_gradient_array_cases(seed=0):
    """Cases of ``numerical_gradient_array(f, x, dout)`` on array functions with known gradients."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 3))
    cases = []
    for f, shape in ((SmoothFunction("tanh_matmul", A), (2, 4)), (SmoothFunction("square"), (3, 2)),
                     (SmoothFunction("sin"), (1, 1))):
        x = rng.standard_normal(shape)
        dout = rng.standard_normal(np.shape(f(x)))
        label = f"{SmoothFunction.FORMULAS[f.kind]}, x of shape {shape}, seed={seed}"
        cases.append(Case("numerical_gradient_array", label, (f, x, dout), {}, _judge_numeric))
    return cases


def check_numerical_gradient_array(fn, seed=0):
    """Check ``fn(f, x, dout, h=1e-5) -> grad`` where grad is the gradient of sum(f(x) * dout)."""
    run_cases(fn, numerical_gradient_array_cases(seed))


# The cases behind every ``check_<name>`` of this module, for the sandboxed autograder.
CASES = {
    "check_activation": activation_cases,
    "check_tanh": tanh_cases,
    "check_sigmoid": sigmoid_cases,
    "check_relu": relu_cases,
    "check_rnn_step_forward": rnn_step_forward_cases,
    "check_rnn_forward": rnn_forward_cases,
    "check_rnn_step_backward": rnn_step_backward_cases,
    "check_rnn_backward": rnn_backward_cases,
    "check_rnn_backward_truncated": rnn_backward_truncated_cases,
    "check_numerical_gradient": numerical_gradient_cases,
    "check_numerical_gradient_array": numerical_gradient_array_cases,
}
