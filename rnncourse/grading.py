"""Checks that grade a student's re-implementation of the course functions.

Each ``check_<function>(fn, ...)`` runs the student's ``fn`` on seeded random
inputs and edge cases (N=1, T=1, D=1, H=1), and compares every output with the
reference implementation in this package. It also checks the shape and dtype of
each output, that ``fn`` did not modify its inputs, and that ``fn`` is not the
reference itself (nor calls it). When the reference disagrees with a backward
function, the numeric gradient is computed as a second opinion.

A check returns ``None`` when everything is right and raises ``AssertionError``
with a message a student can act on otherwise: which function, which output,
which case (with the seed and sizes to reproduce it), how large the error is,
and a hint. The nbgrader test cells of the assignments call these checks.
"""
import sys
import warnings

import numpy as np

from . import activations, gradcheck, rnn

TOLERANCE = 1e-7  # largest relative error accepted against the float64 reference

# Every reference function a student re-implements: calling one of them from a
# submission does not earn the point.
REFERENCE_FUNCTIONS = (
    activations.tanh, activations.sigmoid, activations.relu,
    activations.tanh_derivative, activations.sigmoid_derivative, activations.relu_derivative,
    rnn.rnn_step_forward, rnn.rnn_forward, rnn.rnn_step_backward, rnn.rnn_backward,
    rnn.rnn_backward_truncated,
    gradcheck.numerical_gradient, gradcheck.numerical_gradient_array,
)
_REFERENCE_CODE = {f.__code__: f"{f.__module__}.{f.__name__}" for f in REFERENCE_FUNCTIONS}

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
# Calling the student's function
# ----------------------------------------------------------------------------

def _refuse_reference(fn, name):
    code = getattr(fn, "__code__", None)
    if code in _REFERENCE_CODE or getattr(fn, "__module__", "").startswith("rnncourse"):
        raise AssertionError(
            f"{name}: this is the reference implementation from the rnncourse package. "
            "The assignment asks you to write the function yourself, in the notebook."
        )


def _arrays_in(value):
    """The numpy arrays inside an argument (an array, or a tuple such as a cache)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, tuple):
        return [a for item in value for a in _arrays_in(item)]
    return []


def call_student(fn, name, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` as a check does and return what it returns.

    Raises ``AssertionError`` if ``fn`` is or calls a reference function of this
    package, or writes into any of its array arguments. Floating-point warnings
    are silenced: the values are what gets graded.
    """
    _refuse_reference(fn, name)
    arrays = [a for value in (*args, *kwargs.values()) for a in _arrays_in(value)]
    before = [a.copy() for a in arrays]
    called = []

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in _REFERENCE_CODE:
            called.append(_REFERENCE_CODE[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    if called:
        raise AssertionError(
            f"{name} calls the reference implementation {called[0]}. Write the computation "
            "yourself with numpy; calling the package's version does not earn the point."
        )
    for array, copy in zip(arrays, before):
        if not np.array_equal(array, copy, equal_nan=True):
            raise AssertionError(
                f"{name} modified one of its input arrays in place. Compute new arrays instead "
                "(write `a = a + b`, not `a += b`; copy before assigning into an input)."
            )
    return result


def _unpack(result, name, output_names):
    if len(output_names) == 1:
        return [result]
    if not isinstance(result, (tuple, list)) or len(result) != len(output_names):
        got = f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else repr(type(result).__name__)
        raise AssertionError(
            f"{name} must return {len(output_names)} values ({', '.join(output_names)}), got {got}."
        )
    return list(result)


def output_error(name, case, output_name, got, expected, tolerance=TOLERANCE):
    """Describe what is wrong with one output, or return None when it is right.

    ``got`` is the student's value, ``expected`` the reference's array; the
    relative error must stay below ``tolerance``.
    """
    where = f"{name}, case {case}: output {output_name}"
    if got is None:
        return f"{where} is None. Did you forget a `return`?"
    try:
        got = np.asarray(got)
    except Exception:
        return f"{where} is a {type(got).__name__}, not an array."
    if got.shape != expected.shape:
        return f"{where} has shape {got.shape}, expected {expected.shape}."
    if got.dtype != expected.dtype:
        return f"{where} has dtype {got.dtype}, expected {expected.dtype}. Compute in {expected.dtype}; do not cast."
    if not np.all(np.isfinite(got)):
        return f"{where} contains NaN or inf."
    error = gradcheck.rel_error(got, expected)
    if error > tolerance:
        return f"{where} is wrong: relative error {error:.1e} (must be below {tolerance:.0e})."
    return None


def _fail_if_any(problems, hints, extra_hint=None):
    """Raise one AssertionError listing every (output name, message) in ``problems``."""
    if not problems:
        return
    lines = [message for _, message in problems]
    lines += [f"Hint ({output}): {hints[output]}" for output, _ in problems if output in hints]
    if extra_hint and len(problems) > 1:
        lines.append("Hint: " + extra_hint)
    raise AssertionError("\n".join(lines))


# ----------------------------------------------------------------------------
# Assignment 1: activations and the forward pass
# ----------------------------------------------------------------------------

_ACTIVATION_HINTS = {
    "tanh": "tanh(a) = (e^a - e^-a) / (e^a + e^-a); np.tanh is allowed.",
    "sigmoid": "sigmoid(a) = 1 / (1 + e^-a); for a < 0 use e^a / (1 + e^a) so nothing overflows.",
    "relu": "relu(a) = max(a, 0) element-wise: np.maximum(a, 0).",
}


def check_activation(fn, name, seed=0):
    """Check an activation function ``name`` in ("tanh", "sigmoid", "relu") on arrays of several shapes."""
    reference, _ = activations.get_activation(name)
    rng = np.random.default_rng(seed)
    cases = {
        "random (4, 5)": rng.standard_normal((4, 5)) * 3,
        "one value (1,)": rng.standard_normal(1),
        "large values": np.array([-1000.0, -30.0, -1e-9, 0.0, 1e-9, 30.0, 1000.0]),
        "(2, 3, 4)": rng.standard_normal((2, 3, 4)),
    }
    for case, a in cases.items():
        got = call_student(fn, name, a)
        problem = output_error(name, f"'{case}' (seed={seed})", "value", got, reference(a))
        _fail_if_any([("value", problem)] if problem else [], {"value": _ACTIVATION_HINTS[name]})


def check_tanh(fn, seed=0):
    """Check a student's ``tanh(a)``."""
    check_activation(fn, "tanh", seed)


def check_sigmoid(fn, seed=0):
    """Check a student's ``sigmoid(a)``, including abs(a) = 1000 (no overflow, values in [0, 1])."""
    check_activation(fn, "sigmoid", seed)


def check_relu(fn, seed=0):
    """Check a student's ``relu(a)``."""
    check_activation(fn, "relu", seed)


def check_rnn_step_forward(fn, seed=0, sizes=STEP_SIZES, activation_names=("tanh",)):
    """Check ``fn(x, h_prev, Wx, Wh, b, activation=...) -> (h_next, cache)``.

    sizes: (N, D, H) triples to try; activation_names: activations to try.
    """
    for N, D, H in sizes:
        inputs = step_inputs(seed, N, D, H)
        for activation in activation_names:
            case = f"seed={seed}, N={N}, D={D}, H={H}, activation={activation!r}"
            expected, _ = rnn.rnn_step_forward(**inputs, activation=activation)
            result = call_student(fn, "rnn_step_forward", *inputs.values(), activation=activation)
            h_next, _ = _unpack(result, "rnn_step_forward", ("h_next", "cache"))
            problem = output_error("rnn_step_forward", case, "h_next", h_next, expected)
            _fail_if_any([("h_next", problem)] if problem else [], {"h_next": (
                "h_next = f(x @ Wx + h_prev @ Wh + b) with f the activation named by `activation`. "
                "Wx multiplies x from the right, Wh multiplies h_prev from the right.")})


def check_rnn_forward(fn, seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",)):
    """Check ``fn(x, h0, Wx, Wh, b, activation=...) -> (h, cache)``.

    sizes: (N, T, D, H) quadruples to try; activation_names: activations to try.
    """
    for N, T, D, H in sizes:
        inputs = sequence_inputs(seed, N, T, D, H)
        for activation in activation_names:
            case = f"seed={seed}, N={N}, T={T}, D={D}, H={H}, activation={activation!r}"
            expected, _ = rnn.rnn_forward(**inputs, activation=activation)
            result = call_student(fn, "rnn_forward", *inputs.values(), activation=activation)
            h, _ = _unpack(result, "rnn_forward", ("h", "cache"))
            problem = output_error("rnn_forward", case, "h", h, expected)
            if problem and np.shape(h) == expected.shape and T > 1:
                first_wrong = next(t for t in range(T) if gradcheck.rel_error(np.asarray(h)[:, t], expected[:, t]) > TOLERANCE)
                problem += f" The first wrong time step is t={first_wrong}."
            _fail_if_any([("h", problem)] if problem else [], {"h": (
                "h[:, t] is the hidden state after step t; step t reads x[:, t] and the state of "
                "step t-1 (h0 for t = 0), not h0 at every step.")})


# ----------------------------------------------------------------------------
# Assignment 2: backpropagation through time and gradient checking
# ----------------------------------------------------------------------------

STEP_GRADIENTS = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQUENCE_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db")


def _numeric_second_opinion(problems, gradients, inputs, forward, upstream):
    """Add the numeric gradient's verdict to each wrong gradient's message."""
    with_numeric = []
    for output, message in problems:
        name = output[1:]  # "dWx" -> "Wx", "dh_prev" -> "h_prev"

        def f(value, name=name):
            return forward(**{**inputs, name: value})

        numeric = gradcheck.numerical_gradient_array(f, inputs[name], upstream)
        got = np.asarray(gradients[output])
        if got.shape == numeric.shape:
            message += f" The numeric gradient disagrees with it too: relative error {gradcheck.rel_error(got, numeric):.1e}."
        with_numeric.append((output, message))
    return with_numeric


def check_rnn_step_backward(fn, seed=0, sizes=STEP_SIZES, activation_names=("tanh",)):
    """Check ``fn(dh_next, cache) -> (dx, dh_prev, dWx, dWh, db)``.

    ``cache`` is the :class:`rnncourse.rnn.StepCache` of the reference forward step.
    """
    for N, D, H in sizes:
        inputs = step_inputs(seed, N, D, H)
        dh_next = np.random.default_rng(seed + 1).standard_normal((N, H))
        for activation in activation_names:
            case = f"seed={seed}, N={N}, D={D}, H={H}, activation={activation!r}"
            _, cache = rnn.rnn_step_forward(**inputs, activation=activation)
            expected = dict(zip(STEP_GRADIENTS, rnn.rnn_step_backward(dh_next, cache)))
            result = call_student(fn, "rnn_step_backward", dh_next, cache)
            got = dict(zip(STEP_GRADIENTS, _unpack(result, "rnn_step_backward", STEP_GRADIENTS)))
            problems = [(k, p) for k in STEP_GRADIENTS
                        if (p := output_error("rnn_step_backward", case, k, got[k], expected[k]))]
            problems = _numeric_second_opinion(
                problems, got, inputs, lambda **kw: rnn.rnn_step_forward(**kw, activation=activation)[0], dh_next)
            _fail_if_any(problems, _STEP_GRADIENT_HINTS, _DA_HINT)


def _check_sequence_backward(fn, name, seed, sizes, activation_names, truncations):
    for N, T, D, H in sizes:
        inputs = sequence_inputs(seed, N, T, D, H)
        dh = np.random.default_rng(seed + 1).standard_normal((N, T, H))
        for activation in activation_names:
            _, cache = rnn.rnn_forward(**inputs, activation=activation)
            for k in truncations:
                case = f"seed={seed}, N={N}, T={T}, D={D}, H={H}, activation={activation!r}"
                if k is None:
                    expected = rnn.rnn_backward(dh, cache)
                    result = call_student(fn, name, dh, cache)
                else:
                    case += f", truncation={k}"
                    expected = rnn.rnn_backward_truncated(dh, cache, k)
                    result = call_student(fn, name, dh, cache, k)
                expected = dict(zip(SEQUENCE_GRADIENTS, expected))
                got = dict(zip(SEQUENCE_GRADIENTS, _unpack(result, name, SEQUENCE_GRADIENTS)))
                problems = [(g, p) for g in SEQUENCE_GRADIENTS
                            if (p := output_error(name, case, g, got[g], expected[g]))]
                if k is None:
                    problems = _numeric_second_opinion(
                        problems, got, inputs, lambda **kw: rnn.rnn_forward(**kw, activation=activation)[0], dh)
                hints = dict(_SEQUENCE_GRADIENT_HINTS)
                if k is not None:
                    hints["dh0"] = ("dh0 is the gradient leaving step 0; only the first chunk "
                                    "[0, k) reaches it when k < T.")
                    flow = (f"No gradient may flow from step t back to step t-1 when t is a multiple of "
                            f"k={k} (t > 0): reset the carried dh_prev to zero there.")
                else:
                    flow = _FLOW_HINT
                _fail_if_any(problems, hints, flow)


def check_rnn_backward(fn, seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",)):
    """Check ``fn(dh, cache) -> (dx, dh0, dWx, dWh, db)``.

    ``cache`` is the :class:`rnncourse.rnn.SequenceCache` of the reference forward pass.
    """
    _check_sequence_backward(fn, "rnn_backward", seed, sizes, activation_names, (None,))


def check_rnn_backward_truncated(fn, seed=0, sizes=SEQUENCE_SIZES, activation_names=("tanh",),
                                 truncations=(1, 2, 3, 100)):
    """Check ``fn(dh, cache, truncation) -> (dx, dh0, dWx, dWh, db)`` for each truncation length."""
    _check_sequence_backward(fn, "rnn_backward_truncated", seed, sizes, activation_names, truncations)


def _scalar_test_functions(rng):
    """Smooth scalar functions with known gradients: list of (label, f, grad)."""
    A = rng.standard_normal((3, 3))
    return [
        ("f(x) = sum(x**3)", lambda x: np.sum(x**3), lambda x: 3 * x**2),
        ("f(x) = sum(sin(x) * x)", lambda x: np.sum(np.sin(x) * x), lambda x: np.cos(x) * x + np.sin(x)),
        ("f(x) = sum(tanh(x @ A))", lambda x: np.sum(np.tanh(x @ A)),
         lambda x: (1 - np.tanh(x @ A) ** 2) @ A.T),
    ]


_NUMERIC_HINT = ("Use the centred difference (f(x + h e_i) - f(x - h e_i)) / (2h) for every element i, "
                 "and put x[i] back to its original value after each evaluation; the one-sided "
                 "difference is only accurate to about h.")
NUMERIC_TOLERANCE = 1e-6  # centred differences with h=1e-5 on these functions stay below 1e-8


def _check_numeric(got, expected, name, case):
    problem = output_error(name, case, "grad", got, expected, NUMERIC_TOLERANCE)
    _fail_if_any([("grad", problem)] if problem else [], {"grad": _NUMERIC_HINT})


def check_numerical_gradient(fn, seed=0):
    """Check ``fn(f, x, h=1e-5) -> grad`` against analytic gradients of smooth functions."""
    rng = np.random.default_rng(seed)
    for shape in ((3, 3), (1, 3), (2, 3)):
        for label, f, grad in _scalar_test_functions(rng):
            x = rng.standard_normal(shape)
            got = call_student(fn, "numerical_gradient", f, x)
            _check_numeric(got, grad(x), "numerical_gradient", f"{label}, x of shape {shape}, seed={seed}")


def check_numerical_gradient_array(fn, seed=0):
    """Check ``fn(f, x, dout, h=1e-5) -> grad`` where grad is the gradient of sum(f(x) * dout)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 3))
    cases = [
        ("f(x) = tanh(x @ A)", lambda x: np.tanh(x @ A), (2, 4), lambda x, d: (d * (1 - np.tanh(x @ A) ** 2)) @ A.T),
        ("f(x) = x**2", lambda x: x**2, (3, 2), lambda x, d: 2 * x * d),
        ("f(x) = sin(x) (one element)", lambda x: np.sin(x), (1, 1), lambda x, d: np.cos(x) * d),
    ]
    for label, f, shape, grad in cases:
        x = rng.standard_normal(shape)
        dout = rng.standard_normal(np.shape(f(x)))
        got = call_student(fn, "numerical_gradient_array", f, x, dout)
        _check_numeric(got, grad(x, dout), "numerical_gradient_array",
                       f"{label}, x of shape {shape}, seed={seed}")
