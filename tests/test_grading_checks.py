"""Tests of rnncourse.grading's check functions, with student functions written here.

For every check: a correct implementation written in this file (not the package's)
passes; the package's reference and a wrapper around it are refused; a function
that writes into its input is refused; realistic bugs fail with a message that
names the function and the wrong output and gives a hint; NotImplementedError
(what the released notebooks raise) propagates.
"""
import sys

import numpy as np
import pytest

from rnncourse import activations, gradcheck, grading, rnn


# ============================================================================
# Correct student implementations, independent of the package
# ============================================================================

def good_tanh(a):
    return np.tanh(a)


def good_sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # sigmoid(a) = (1 + tanh(a/2)) / 2: no overflow


def good_relu(a):
    return np.where(a > 0, a, 0.0)


FUNCTIONS = {"tanh": good_tanh, "sigmoid": good_sigmoid, "relu": good_relu}
DERIVATIVES = {  # written with the output y = f(a)
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y - y * y,
    "relu": lambda y: np.where(y > 0, 1.0, 0.0),
}


def good_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
    h_next = FUNCTIONS[activation](np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", h_prev, Wh) + b)
    return h_next, (x, h_prev, Wx, Wh, h_next, activation)


def good_forward(x, h0, Wx, Wh, b, activation="tanh"):
    T = x.shape[1]
    states = []
    h = h0
    for t in range(T):
        h, _ = good_step_forward(x[:, t, :], h, Wx, Wh, b, activation)
        states.append(h)
    h_all = np.stack(states, axis=1)
    return h_all, (x, h0, Wx, Wh, h_all, activation)


def good_step_backward(dh_next, cache):
    x, h_prev, Wx, Wh, h_next, activation = cache
    da = dh_next * DERIVATIVES[activation](h_next)
    return (np.einsum("nh,dh->nd", da, Wx), np.einsum("nh,kh->nk", da, Wh),
            np.einsum("nd,nh->dh", x, da), np.einsum("nk,nh->kh", h_prev, da), np.einsum("nh->h", da))


def _chunk_backward(dh, cache, k):
    """BPTT chunk by chunk, [0, k), [k, 2k), ...; nothing flows from a chunk into the one before."""
    x, h0, Wx, Wh, h, activation = cache
    T = x.shape[1]
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    dh0 = None
    for start in range(0, T, k):
        carry = np.zeros_like(h0)
        for t in range(min(start + k, T) - 1, start - 1, -1):
            h_prev = h0 if t == 0 else h[:, t - 1]
            step = (x[:, t], h_prev, Wx, Wh, h[:, t], activation)
            dx[:, t], carry, g_Wx, g_Wh, g_b = good_step_backward(dh[:, t] + carry, step)
            dWx, dWh, db = dWx + g_Wx, dWh + g_Wh, db + g_b
        if start == 0:
            dh0 = carry
    return dx, dh0, dWx, dWh, db


def good_backward(dh, cache):
    return _chunk_backward(dh, cache, dh.shape[1])


def good_backward_truncated(dh, cache, truncation):
    return _chunk_backward(dh, cache, truncation)


def good_numerical_gradient(f, x, h=1e-5):
    point = np.array(x, dtype=np.float64)
    grad = np.zeros_like(point)
    flat, flat_grad = point.reshape(-1), grad.reshape(-1)  # views
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(point)
        flat[i] = old - h
        down = f(point)
        flat[i] = old
        flat_grad[i] = (up - down) / (2 * h)
    return grad


def good_numerical_gradient_array(f, x, dout, h=1e-5):
    return good_numerical_gradient(lambda v: np.sum(np.array(f(v)) * dout), x, h)


# name -> (check, the package's reference, the correct student function)
CHECKS = {
    "tanh": (grading.check_tanh, activations.tanh, good_tanh),
    "sigmoid": (grading.check_sigmoid, activations.sigmoid, good_sigmoid),
    "relu": (grading.check_relu, activations.relu, good_relu),
    "rnn_step_forward": (grading.check_rnn_step_forward, rnn.rnn_step_forward, good_step_forward),
    "rnn_forward": (grading.check_rnn_forward, rnn.rnn_forward, good_forward),
    "rnn_step_backward": (grading.check_rnn_step_backward, rnn.rnn_step_backward, good_step_backward),
    "rnn_backward": (grading.check_rnn_backward, rnn.rnn_backward, good_backward),
    "rnn_backward_truncated": (grading.check_rnn_backward_truncated, rnn.rnn_backward_truncated,
                               good_backward_truncated),
    "numerical_gradient": (grading.check_numerical_gradient, gradcheck.numerical_gradient,
                           good_numerical_gradient),
    "numerical_gradient_array": (grading.check_numerical_gradient_array, gradcheck.numerical_gradient_array,
                                 good_numerical_gradient_array),
}
ALL_ACTIVATIONS = ("tanh", "relu", "sigmoid")


def failure(check, fn, **kwargs):
    """The message of the AssertionError that ``check(fn, **kwargs)`` must raise."""
    with pytest.raises(AssertionError) as info:
        check(fn, **kwargs)
    return str(info.value)


def assert_graded_failure(check, fn, name, output, *fragments, **kwargs):
    """The check fails naming the function and the wrong output; a wrong value gets a hint
    about the formula, a failure of another kind (None, shape, dtype) none."""
    message = failure(check, fn, **kwargs)
    assert name in message, message
    assert f"output {output}" in message, message
    if "is wrong: relative error" in message:
        assert "Hint" in message, message
    if any(kind in message for kind in ("has shape", "is None", "return real numbers", "not an array")):
        assert "Hint" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# ============================================================================
# What every check does
# ============================================================================

@pytest.mark.parametrize("name", CHECKS)
def test_correct_implementation_passes(name):
    check, _, good = CHECKS[name]
    assert check(good) is None
    assert check(good, seed=3) is None


@pytest.mark.parametrize("name", ["rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward",
                                  "rnn_backward_truncated"])
def test_correct_implementation_passes_every_activation_and_other_sizes(name):
    check, _, good = CHECKS[name]
    sizes = ((2, 3, 3),) if "step" in name else ((3, 6, 2, 3), (1, 1, 1, 1))
    assert check(good, seed=7, sizes=sizes, activation_names=ALL_ACTIVATIONS) is None


def test_check_activation_by_name():
    for name, good in FUNCTIONS.items():
        assert grading.check_activation(good, name, seed=5) is None
    assert "relu" in failure(grading.check_activation, good_tanh, name="relu")


@pytest.mark.parametrize("name", CHECKS)
def test_reference_is_refused(name):
    check, reference, _ = CHECKS[name]
    message = failure(check, reference)
    assert "reference" in message and name in message, message


@pytest.mark.parametrize("name", CHECKS)
def test_wrapper_of_reference_is_refused(name):
    check, reference, _ = CHECKS[name]

    def wrapper(*args, **kwargs):
        return reference(*args, **kwargs)

    message = failure(check, wrapper)
    assert "calls the reference implementation" in message, message
    assert f"{reference.__module__}.{reference.__name__}" in message, message


def test_indirect_use_of_a_reference_is_refused():
    def step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
        f, _ = activations.get_activation(activation)  # the package's activation does the work
        h = f(x @ Wx + h_prev @ Wh + b)
        return h, None

    message = failure(grading.check_rnn_step_forward, step_forward)
    assert "rnncourse.activations.tanh" in message, message

    def numerical_gradient(f, x, h=1e-5):
        return gradcheck.numerical_gradient_array(lambda v: np.array(f(v)), x, np.array(1.0), h)

    assert "reference" in failure(grading.check_numerical_gradient, numerical_gradient)


@pytest.mark.parametrize("name", CHECKS)
def test_not_implemented_propagates(name):
    check, _, _ = CHECKS[name]

    def released(*args, **kwargs):
        raise NotImplementedError("write this function")

    profile = sys.getprofile()
    with pytest.raises(NotImplementedError, match="write this function"):
        check(released)
    assert sys.getprofile() is profile  # the check's profiler was removed


def test_profiler_is_removed_after_a_failure():
    profile = sys.getprofile()
    failure(grading.check_relu, np.abs)
    assert sys.getprofile() is profile


# ============================================================================
# Writing into an input is refused
# ============================================================================

def mutating_tanh(a):
    np.tanh(a, out=a)
    return a


def mutating_sigmoid(a):
    a *= -1.0
    return 1.0 / (1.0 + np.exp(a))


def mutating_relu(a):
    a[a < 0] = 0.0
    return a


def mutating_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
    h, cache = good_step_forward(x, h_prev, Wx, Wh, b, activation)
    h_prev[...] = h  # "update the state"
    return h, cache


def mutating_forward(x, h0, Wx, Wh, b, activation="tanh"):
    h_all = np.zeros((x.shape[0], x.shape[1], Wx.shape[1]))
    h = h0
    for t in range(x.shape[1]):
        h[...] = FUNCTIONS[activation](x[:, t] @ Wx + h @ Wh + b)  # writes into h0
        h_all[:, t] = h
    return h_all, None


def mutating_step_backward(dh_next, cache):
    x, h_prev, Wx, Wh, h_next, activation = cache
    dh_next *= DERIVATIVES[activation](h_next)  # da computed in place
    da = dh_next
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _mutating_backward(dh, cache, k):
    x, h0, Wx, Wh, h, activation = cache
    T = x.shape[1]
    dx, dh0 = np.zeros_like(x), np.zeros_like(h0)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else h[:, t - 1]
        dx[:, t], carry, g_Wx, g_Wh, g_b = good_step_backward(dh[:, t], (x[:, t], h_prev, Wx, Wh, h[:, t], activation))
        dWx, dWh, db = dWx + g_Wx, dWh + g_Wh, db + g_b
        if t == 0:
            dh0 = carry
        elif t % k != 0:
            dh[:, t - 1] += carry  # adds the flow into the caller's dh
    return dx, dh0, dWx, dWh, db


def mutating_backward(dh, cache):
    return _mutating_backward(dh, cache, dh.shape[1])


def mutating_backward_truncated(dh, cache, truncation):
    return _mutating_backward(dh, cache, truncation)


def mutating_numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h  # perturbs the caller's array and never puts it back
        up = f(x)
        x[i] -= 2 * h
        grad[i] = (up - f(x)) / (2 * h)
    return grad


def mutating_numerical_gradient_array(f, x, dout, h=1e-5):
    return mutating_numerical_gradient(lambda v: np.sum(f(v) * dout), x, h)


MUTATING = {
    "tanh": mutating_tanh, "sigmoid": mutating_sigmoid, "relu": mutating_relu,
    "rnn_step_forward": mutating_step_forward, "rnn_forward": mutating_forward,
    "rnn_step_backward": mutating_step_backward, "rnn_backward": mutating_backward,
    "rnn_backward_truncated": mutating_backward_truncated,
    "numerical_gradient": mutating_numerical_gradient,
    "numerical_gradient_array": mutating_numerical_gradient_array,
}


@pytest.mark.parametrize("name", CHECKS)
def test_mutating_input_is_refused(name):
    check, _, _ = CHECKS[name]
    message = failure(check, MUTATING[name])
    assert name in message and "modified one of its input arrays in place" in message, message


def test_perturbing_and_restoring_x_is_not_a_mutation():
    # numerical_gradient may perturb x itself as long as it puts every value back exactly
    def in_place_but_restored(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            up = f(x)
            x[i] = old - h
            down = f(x)
            x[i] = old
            grad[i] = (up - down) / (2 * h)
        return grad

    assert grading.check_numerical_gradient(in_place_but_restored) is None


# ============================================================================
# Realistic bugs: activations
# ============================================================================

def test_tanh_bugs():
    # the textbook formula overflows at abs(a) = 1000: inf / inf = NaN
    assert_graded_failure(grading.check_tanh, lambda a: (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a)),
                          "tanh", "value", "NaN or inf", "'large values'")
    # forgets the factor 2: (1 - e^-a) / (1 + e^-a) is tanh(a / 2)
    assert_graded_failure(grading.check_tanh, lambda a: (1 - np.exp(-a)) / (1 + np.exp(-a)),
                          "tanh", "value", "relative error")
    assert_graded_failure(grading.check_tanh, lambda a: np.tanh(a).astype(np.complex128),
                          "tanh", "value", "dtype complex128: return real numbers")


def test_sigmoid_bugs():
    assert_graded_failure(grading.check_sigmoid, lambda a: 1 / (1 + np.exp(a)),  # sign error
                          "sigmoid", "value", "relative error")
    # e^a / (1 + e^a) everywhere: inf / inf = NaN at a = 1000
    assert_graded_failure(grading.check_sigmoid, lambda a: np.exp(a) / (1 + np.exp(a)),
                          "sigmoid", "value", "NaN or inf", "'large values'")
    message = failure(grading.check_sigmoid, lambda a: np.exp(a) / (1 + np.exp(a)))
    assert "Hint (value): e^-a overflows" in message or "Hint (value): e^a" in message, message


def test_relu_bugs():
    assert_graded_failure(grading.check_relu, np.abs, "relu", "value", "relative error")
    assert_graded_failure(grading.check_relu, lambda a: np.where(a > 0, a, 0.01 * a),  # leaky
                          "relu", "value", "relative error")
    assert_graded_failure(grading.check_relu, lambda a: np.minimum(a, 0), "relu", "value")
    assert_graded_failure(grading.check_relu, lambda a: None, "relu", "value", "is None")


# ============================================================================
# Realistic bugs: the forward pass
# ============================================================================

def test_step_forward_bugs():
    def no_bias(x, h_prev, Wx, Wh, b, activation="tanh"):
        return good_step_forward(x, h_prev, Wx, Wh, np.zeros_like(b), activation)

    def Wh_transposed(x, h_prev, Wx, Wh, b, activation="tanh"):
        return good_step_forward(x, h_prev, Wx, Wh.T, b, activation)

    def always_tanh(x, h_prev, Wx, Wh, b, activation="tanh"):
        return good_step_forward(x, h_prev, Wx, Wh, b, "tanh")

    def float32(x, h_prev, Wx, Wh, b, activation="tanh"):
        h, cache = good_step_forward(x, h_prev, Wx, Wh, b, activation)
        return h.astype(np.float32), cache

    check = grading.check_rnn_step_forward
    assert_graded_failure(check, no_bias, "rnn_step_forward", "h_next", "relative error", "N=3, D=4, H=5")
    assert_graded_failure(check, Wh_transposed, "rnn_step_forward", "h_next", "relative error")
    assert_graded_failure(check, always_tanh, "rnn_step_forward", "h_next", "activation='relu'",
                          activation_names=("relu",))
    assert check(float32, activation_names=ALL_ACTIVATIONS) is None  # right values in float32: full marks


def test_step_forward_wrong_return_values():
    def only_h(x, h_prev, Wx, Wh, b, activation="tanh"):
        return good_step_forward(x, h_prev, Wx, Wh, b, activation)[0]

    def returns_nothing(x, h_prev, Wx, Wh, b, activation="tanh"):
        good_step_forward(x, h_prev, Wx, Wh, b, activation)

    message = failure(grading.check_rnn_step_forward, only_h)
    assert "rnn_step_forward must return 2 values (h_next, cache)" in message, message
    message = failure(grading.check_rnn_step_forward, returns_nothing)
    assert "rnn_step_forward must return 2 values" in message and "NoneType" in message, message


def test_forward_bugs():
    def no_carry(x, h0, Wx, Wh, b, activation="tanh"):  # reads h0 at every step
        steps = [good_step_forward(x[:, t], h0, Wx, Wh, b, activation)[0] for t in range(x.shape[1])]
        return np.stack(steps, axis=1), None

    def stores_previous_state(x, h0, Wx, Wh, b, activation="tanh"):  # h[:, t] = state before step t
        h_all, h = np.zeros((x.shape[0], x.shape[1], Wx.shape[1])), h0
        for t in range(x.shape[1]):
            h_all[:, t] = h
            h, _ = good_step_forward(x[:, t], h, Wx, Wh, b, activation)
        return h_all, None

    def no_bias(x, h0, Wx, Wh, b, activation="tanh"):
        return good_forward(x, h0, Wx, Wh, np.zeros_like(b), activation)

    check = grading.check_rnn_forward
    assert_graded_failure(check, no_carry, "rnn_forward", "h", "The first wrong time step is t=1",
                          "N=2, T=5, D=3, H=4")
    assert_graded_failure(check, stores_previous_state, "rnn_forward", "h", "The first wrong time step is t=0")
    assert_graded_failure(check, no_bias, "rnn_forward", "h", "relative error")
    message = failure(check, lambda *args, **kwargs: None)
    assert "rnn_forward must return 2 values (h, cache)" in message, message


def test_forward_returning_float32_passes():
    def float32(x, h0, Wx, Wh, b, activation="tanh"):
        h, cache = good_forward(x, h0, Wx, Wh, b, activation)
        return h.astype(np.float32), cache

    assert grading.check_rnn_forward(float32, activation_names=ALL_ACTIVATIONS) is None


# ============================================================================
# Realistic bugs: backpropagation
# ============================================================================

def test_step_backward_bugs():
    def derivative_of_h_prev(dh_next, cache):  # tanh' taken at h_prev instead of h_next
        x, h_prev, Wx, Wh, h_next, activation = cache
        return good_step_backward(dh_next, (x, h_prev, Wx, Wh, h_prev, activation))

    def db_averaged(dh_next, cache):
        grads = good_step_backward(dh_next, cache)
        return (*grads[:4], grads[4] / dh_next.shape[0])

    def no_activation_derivative(dh_next, cache):
        x, h_prev, Wx, Wh, _, _ = cache
        return dh_next @ Wx.T, dh_next @ Wh.T, x.T @ dh_next, h_prev.T @ dh_next, dh_next.sum(axis=0)

    def missing_transpose(dh_next, cache):
        _, dh_prev, dWx, dWh, db = good_step_backward(dh_next, cache)
        _, _, Wx, _, h_next, activation = cache
        da = dh_next * DERIVATIVES[activation](h_next)
        return da @ Wx, dh_prev, dWx, dWh, db  # runs only when D == H

    def float32(dh_next, cache):
        return tuple(g.astype(np.float32) for g in good_step_backward(dh_next, cache))

    check = grading.check_rnn_step_backward
    message = assert_graded_failure(check, derivative_of_h_prev, "rnn_step_backward", "dx",
                                    "The numeric gradient disagrees with it too", "f'(a)")
    for output in ("dh_prev", "dWx", "dWh", "db"):
        assert f"output {output}" in message
    message = assert_graded_failure(check, db_averaged, "rnn_step_backward", "db", "da.sum(axis=0)")
    assert "output dx" not in message  # only db is blamed
    assert_graded_failure(check, no_activation_derivative, "rnn_step_backward", "dWh", "f'(a)")
    message = assert_graded_failure(check, missing_transpose, "rnn_step_backward", "dx", "Wx.T",
                                    sizes=((3, 4, 4), (1, 2, 2)))
    assert "output dWx" not in message
    assert check(float32, activation_names=ALL_ACTIVATIONS) is None  # right values in float32 pass
    message = failure(check, lambda dh_next, cache: good_step_backward(dh_next, cache)[:4])
    assert "rnn_step_backward must return 5 values (dx, dh_prev, dWx, dWh, db), got a tuple of length 4" in message


def test_backward_bugs():
    def no_flow_from_next_step(dh, cache):  # forgets the dh_prev of step t+1
        return _chunk_backward(dh, cache, 1)

    def dWh_not_accumulated(dh, cache):  # dWh = ... instead of dWh += ...: only step 0 is left
        x, h0, Wx, Wh, h, activation = cache
        dx, carry = np.zeros_like(x), np.zeros_like(h0)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
        for t in reversed(range(x.shape[1])):
            h_prev = h0 if t == 0 else h[:, t - 1]
            dx[:, t], carry, g_Wx, dWh, g_b = good_step_backward(
                dh[:, t] + carry, (x[:, t], h_prev, Wx, Wh, h[:, t], activation))
            dWx, db = dWx + g_Wx, db + g_b
        return dx, carry, dWx, dWh, db

    def dh0_zero(dh, cache):
        dx, dh0, dWx, dWh, db = good_backward(dh, cache)
        return dx, np.zeros_like(dh0), dWx, dWh, db

    check = grading.check_rnn_backward
    message = assert_graded_failure(check, no_flow_from_next_step, "rnn_backward", "dWh",
                                    "dh[:, t] plus the dh_prev that step t+1", "numeric gradient disagrees")
    assert "output dh0" in message and "output db" in message
    message = assert_graded_failure(check, dWh_not_accumulated, "rnn_backward", "dWh",
                                    "dWh is the sum of the dWh of all steps")
    assert "output dWx" not in message
    assert_graded_failure(check, dh0_zero, "rnn_backward", "dh0", "dh0 is the dh_prev that comes out of step 0")
    message = failure(check, lambda dh, cache: None)
    assert "rnn_backward must return 5 values" in message


def test_truncated_backward_bugs():
    def boundary_off_by_one(dh, cache, truncation):
        # cuts after step t when (t + 1) % k == 0: chunks [0, k-1), [k-1, 2k-1), ...
        x, h0, Wx, Wh, h, activation = cache
        T = x.shape[1]
        dx, carry = np.zeros_like(x), np.zeros_like(h0)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
        for t in reversed(range(T)):
            h_prev = h0 if t == 0 else h[:, t - 1]
            dx[:, t], carry, g_Wx, g_Wh, g_b = good_step_backward(
                dh[:, t] + carry, (x[:, t], h_prev, Wx, Wh, h[:, t], activation))
            dWx, dWh, db = dWx + g_Wx, dWh + g_Wh, db + g_b
            if t > 0 and (t + 1) % truncation == 0:
                carry = np.zeros_like(carry)
        return dx, carry, dWx, dWh, db

    def ignores_truncation(dh, cache, truncation):
        return good_backward(dh, cache)

    def dh0_only_when_untruncated(dh, cache, truncation):
        dx, dh0, dWx, dWh, db = good_backward_truncated(dh, cache, truncation)
        return dx, (dh0 if truncation >= dh.shape[1] else np.zeros_like(dh0)), dWx, dWh, db

    check = grading.check_rnn_backward_truncated
    message = assert_graded_failure(check, boundary_off_by_one, "rnn_backward_truncated", "dWh",
                                    "truncation=2", "multiple of k=2")
    assert "truncation=1" not in message  # k = 1 is right by accident; k = 2 is the first wrong case
    assert_graded_failure(check, ignores_truncation, "rnn_backward_truncated", "dWh", "truncation=1",
                          "reset the carried dh_prev to zero")
    assert_graded_failure(check, dh0_only_when_untruncated, "rnn_backward_truncated", "dh0",
                          "only the first chunk")
    message = failure(check, lambda dh, cache, truncation: good_backward(dh, cache)[:3])
    assert "rnn_backward_truncated must return 5 values" in message


# ============================================================================
# Realistic bugs: numeric gradients
# ============================================================================

def test_numerical_gradient_bugs():
    def one_sided(f, x, h=1e-5):
        point, grad = np.array(x, dtype=float), np.zeros_like(x)
        base = f(point)
        for i in np.ndindex(x.shape):
            old = point[i]
            point[i] = old + h
            grad[i] = (f(point) - base) / h
            point[i] = old
        return grad

    def no_restore(f, x, h=1e-5):  # works on a copy, but leaves each element at x[i] - h
        point, grad = np.array(x, dtype=float), np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = point[i]
            point[i] = old + h
            up = f(point)
            point[i] = old - h
            grad[i] = (up - f(point)) / (2 * h)
        return grad

    def divides_by_h(f, x, h=1e-5):
        return 2 * good_numerical_gradient(f, x, h)

    check = grading.check_numerical_gradient
    assert_graded_failure(check, one_sided, "numerical_gradient", "grad", "centred difference")
    # sum(x**3) and sum(sin(x) x) are separable, so the coupled f = sum(tanh(x @ A)) catches it
    assert_graded_failure(check, no_restore, "numerical_gradient", "grad", "sum(tanh(x @ A))", "put x[i] back")
    assert_graded_failure(check, divides_by_h, "numerical_gradient", "grad", "relative error")
    assert_graded_failure(check, lambda f, x, h=1e-5: None, "numerical_gradient", "grad", "is None")
    assert check(lambda f, x, h=1e-5: good_numerical_gradient(f, x, h).astype(np.float32)) is None


def test_numerical_gradient_array_bugs():
    def forgets_dout(f, x, dout, h=1e-5):
        return good_numerical_gradient(lambda v: np.sum(f(v)), x, h)

    def one_sided(f, x, dout, h=1e-5):
        point, grad = np.array(x, dtype=float), np.zeros_like(x)
        base = np.array(f(point))
        for i in np.ndindex(x.shape):
            old = point[i]
            point[i] = old + h
            grad[i] = np.sum((f(point) - base) * dout) / h
            point[i] = old
        return grad

    def no_restore(f, x, dout, h=1e-5):
        point, grad = np.array(x, dtype=float), np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = point[i]
            point[i] = old + h
            up = np.array(f(point))
            point[i] = old - h
            grad[i] = np.sum((up - f(point)) * dout) / (2 * h)
        return grad

    check = grading.check_numerical_gradient_array
    assert_graded_failure(check, forgets_dout, "numerical_gradient_array", "grad", "relative error")
    assert_graded_failure(check, one_sided, "numerical_gradient_array", "grad", "centred difference")
    assert_graded_failure(check, no_restore, "numerical_gradient_array", "grad", "tanh(x @ A)")


# ============================================================================
# Messages claim only what was measured; hints match the kind of failure
# ============================================================================

def test_float16_values_fail_with_the_precision_named():
    def float16(x, h_prev, Wx, Wh, b, activation="tanh"):  # computes in float16 (eps 1e-3)
        args = [np.asarray(a, dtype=np.float16) for a in (x, h_prev, Wx, Wh, b)]
        return np.tanh(args[0] @ args[2] + args[1] @ args[3] + args[4]), None

    message = assert_graded_failure(grading.check_rnn_step_forward, float16, "rnn_step_forward", "h_next",
                                    "relative error", "dtype float16", "compute in float64")
    assert "Hint (h_next)" in message


def test_dtype_failure_of_rnn_forward_gets_no_time_step_hint():
    def complex_h(x, h0, Wx, Wh, b, activation="tanh"):
        h, cache = good_forward(x, h0, Wx, Wh, b, activation)
        return h.astype(np.complex128), cache

    message = failure(grading.check_rnn_forward, complex_h)
    assert "output h has dtype complex128: return real numbers" in message, message
    assert "time step" not in message and "Hint" not in message, message


def test_value_failure_of_rnn_forward_names_the_first_wrong_step():
    def last_step_wrong(x, h0, Wx, Wh, b, activation="tanh"):
        h, cache = good_forward(x, h0, Wx, Wh, b, activation)
        h = h.copy()
        h[:, -1] = 0.0
        return h, cache

    message = failure(grading.check_rnn_forward, last_step_wrong, sizes=[(2, 5, 3, 4)])
    assert "The first wrong time step is t=4." in message, message
    assert "Hint (h): h[:, t] is the hidden state after step t" in message, message


def test_shape_failure_of_a_gradient_gets_no_numeric_opinion_nor_formula_hint():
    def dWx_transposed(dh_next, cache):
        dx, dh_prev, dWx, dWh, db = good_step_backward(dh_next, cache)
        return dx, dh_prev, dWx.T, dWh, db  # (H, D) instead of (D, H)

    message = failure(grading.check_rnn_step_backward, dWx_transposed, sizes=[(3, 4, 5)])
    assert "output dWx has shape (5, 4), expected (4, 5)." in message, message
    assert "numeric gradient" not in message and "Hint" not in message, message


def test_numeric_opinion_says_when_it_agrees_with_the_student():
    def slightly_off(dh_next, cache):  # dWx off by a relative 5e-7: above the tolerance, below numeric noise
        dx, dh_prev, dWx, dWh, db = good_step_backward(dh_next, cache)
        return dx, dh_prev, dWx * (1 + 1e-6), dWh, db

    message = failure(grading.check_rnn_step_backward, slightly_off, sizes=[(3, 4, 5)])
    assert "output dWx is wrong: relative error 5.0e-07" in message, message
    assert "The numeric gradient is close to it" in message, message
    assert "disagrees" not in message, message


def test_numeric_opinion_says_when_it_disagrees_too():
    def db_doubled(dh, cache):
        dx, dh0, dWx, dWh, db = good_backward(dh, cache)
        return dx, dh0, dWx, dWh, 2 * db

    message = failure(grading.check_rnn_backward, db_doubled, sizes=[(2, 5, 3, 4)])
    assert "output db is wrong" in message and "The numeric gradient disagrees with it too" in message, message
    assert "output dWx" not in message  # only the wrong gradient is blamed, and only it gets an opinion


def test_problem_knows_its_kind_and_survives_pickling():
    import pickle

    expected = np.zeros((2, 3))
    kinds = {
        "missing": None, "type": grading.Unreadable("dict"), "shape": np.zeros((3, 2)),
        "dtype": np.zeros((2, 3), dtype=complex), "nonfinite": np.full((2, 3), np.nan), "value": np.ones((2, 3)),
    }
    for kind, got in kinds.items():
        problem = grading.output_error("f", "c", "out", got, expected)
        assert grading.problem_kind(problem) == kind, (kind, problem)
        assert pickle.loads(pickle.dumps(problem)).kind == kind
    assert grading.output_error("f", "c", "out", np.zeros((2, 3), dtype=np.float32), expected) is None
    assert grading.output_error("f", "c", "out", np.zeros((2, 3), dtype=int), expected) is None
