"""Tests of rnncourse.lstm: values by hand, shapes, gradients, validation, purity, dtypes."""
import math
import pickle
import re

import numpy as np
import pytest

from rnncourse.gradcheck import numerical_gradient_array, rel_error
from rnncourse.lstm import (
    LSTMCache, LSTMStepCache, lstm_backward, lstm_forward, lstm_step_backward, lstm_step_cache,
    lstm_step_forward,
)

STEP_ARGS = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")
SEQUENCE_ARGS = ("x", "h0", "c0", "Wx", "Wh", "b")
GRAD_TOLERANCE = 1e-7


def step_inputs(seed, N=3, D=4, H=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, D)),
        "h_prev": rng.uniform(-1, 1, (N, H)),
        "c_prev": rng.standard_normal((N, H)),
        "Wx": rng.standard_normal((D, 4 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
        "b": rng.standard_normal(4 * H) * 0.5,
    }


def sequence_inputs(seed, N=2, T=4, D=3, H=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "c0": rng.standard_normal((N, H)),
        "Wx": rng.standard_normal((D, 4 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
        "b": rng.standard_normal(4 * H) * 0.5,
    }


# ================================================================ values by hand

def _hand_step():
    # N = D = H = 1. The four columns are the gates i, f, g, o.
    # a = x Wx + h_prev Wh + b = 1*[ln 3, 0, 0, 0] + 0.5*[0, 0, 2 ln 2, 0] + [0, 0, 0, -ln 3]
    #   = [ln 3, 0, ln 2, -ln 3]
    # i = sigmoid(ln 3) = 3/4, f = sigmoid(0) = 1/2, g = tanh(ln 2) = (2 - 1/2)/(2 + 1/2) = 0.6,
    # o = sigmoid(-ln 3) = 1/4
    return dict(x=np.array([[1.0]]), h_prev=np.array([[0.5]]), c_prev=np.array([[2.0]]),
                Wx=np.array([[math.log(3), 0.0, 0.0, 0.0]]), Wh=np.array([[0.0, 0.0, 2 * math.log(2), 0.0]]),
                b=np.array([0.0, 0.0, 0.0, -math.log(3)]))


def test_step_forward_by_hand():
    h_next, c_next, cache = lstm_step_forward(**_hand_step())
    # c_next = f c_prev + i g = 0.5*2 + 0.75*0.6 = 1.45; h_next = o tanh(c_next) = 0.25 tanh(1.45)
    np.testing.assert_allclose(c_next, [[1.45]], rtol=1e-15)
    np.testing.assert_allclose(h_next, [[0.25 * math.tanh(1.45)]], rtol=1e-15)
    assert isinstance(cache, LSTMStepCache)
    np.testing.assert_allclose([cache.i[0, 0], cache.f[0, 0], cache.g[0, 0], cache.o[0, 0]],
                               [0.75, 0.5, 0.6, 0.25], rtol=1e-15)


def test_step_backward_by_hand():
    _, _, cache = lstm_step_forward(**_hand_step())
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(np.array([[1.0]]), np.array([[0.0]]), cache)
    tc = math.tanh(1.45)
    dc = 0.25 * (1 - tc**2)  # dh_next * o * tanh'(c_next); dc_next = 0
    da = [dc * 0.6 * 0.75 * 0.25,  # i: dc * g * i(1 - i)
          dc * 2.0 * 0.5 * 0.5,  # f: dc * c_prev * f(1 - f)
          dc * 0.75 * (1 - 0.36),  # g: dc * i * (1 - g^2)
          tc * 0.25 * 0.75]  # o: dh_next * tanh(c_next) * o(1 - o)
    np.testing.assert_allclose(db, da, rtol=1e-14)
    np.testing.assert_allclose(dWx, [da], rtol=1e-14)  # x = 1
    np.testing.assert_allclose(dWh, [[0.5 * v for v in da]], rtol=1e-14)  # h_prev = 0.5
    np.testing.assert_allclose(dx, [[da[0] * math.log(3)]], rtol=1e-14)  # da . Wx
    np.testing.assert_allclose(dh_prev, [[da[2] * 2 * math.log(2)]], rtol=1e-14)  # da . Wh
    np.testing.assert_allclose(dc_prev, [[dc * 0.5]], rtol=1e-14)  # dc * f


def test_step_backward_dc_next_flows_only_through_the_cell():
    _, _, cache = lstm_step_forward(**_hand_step())
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(np.array([[0.0]]), np.array([[1.0]]), cache)
    # dc = 1: da = [g i(1-i), c_prev f(1-f), i (1-g^2), 0] = [0.1125, 0.5, 0.48, 0]
    np.testing.assert_allclose(db, [0.6 * 0.1875, 0.5, 0.48, 0.0], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(dc_prev, [[0.5]], rtol=1e-15)


def test_sequence_by_hand_two_steps():
    # T = 2 with x_2 = 0: the second step's a = h_1 Wh + b; its states follow from the first by hand.
    inputs = _hand_step()
    x = np.array([[[1.0], [0.0]]])
    h, cache = lstm_forward(x, inputs["h_prev"], inputs["Wx"], inputs["Wh"], inputs["b"], c0=inputs["c_prev"])
    h1, c1 = 0.25 * math.tanh(1.45), 1.45
    a = [0.0, 0.0, h1 * 2 * math.log(2), -math.log(3)]
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    c2 = sig(a[1]) * c1 + sig(a[0]) * math.tanh(a[2])
    np.testing.assert_allclose(h[0, :, 0], [h1, sig(a[3]) * math.tanh(c2)], rtol=1e-14)
    np.testing.assert_allclose(cache.c[0, :, 0], [c1, c2], rtol=1e-14)


# ================================================================ shapes and structure

@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1), (1, 4, 5), (3, 1, 5), (3, 4, 1)])
def test_step_shapes(N, D, H):
    h_next, c_next, cache = lstm_step_forward(**step_inputs(1, N, D, H))
    assert h_next.shape == c_next.shape == (N, H)
    grads = lstm_step_backward(np.ones((N, H)), np.ones((N, H)), cache)
    assert [g.shape for g in grads] == [(N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)]
    assert all(g.dtype == np.float64 for g in (h_next, c_next, *grads))


@pytest.mark.parametrize("N, T, D, H", [(2, 4, 3, 5), (1, 1, 1, 1), (1, 4, 3, 5), (2, 1, 3, 5), (2, 4, 3, 1)])
def test_sequence_shapes(N, T, D, H):
    h, cache = lstm_forward(**sequence_inputs(1, N, T, D, H))
    assert h.shape == (N, T, H)
    assert isinstance(cache, LSTMCache)
    assert all(getattr(cache, k).shape == (N, T, H) for k in ("i", "f", "g", "o", "c", "h"))
    grads = lstm_backward(np.ones((N, T, H)), cache)
    assert [g.shape for g in grads] == [(N, T, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)]


def test_forward_is_a_loop_of_steps():
    inputs = sequence_inputs(2, N=3, T=6, D=2, H=4)
    h, cache = lstm_forward(**inputs)
    state, cell = inputs["h0"], inputs["c0"]
    for t in range(6):
        state, cell, step = lstm_step_forward(inputs["x"][:, t], state, cell, inputs["Wx"], inputs["Wh"], inputs["b"])
        np.testing.assert_array_equal(h[:, t], state, err_msg=f"step {t}")
        np.testing.assert_array_equal(cache.c[:, t], cell, err_msg=f"step {t}")
        for got, want in zip(lstm_step_cache(cache, t), step):
            np.testing.assert_array_equal(got, want, err_msg=f"step cache {t}")


def test_c0_defaults_to_zeros_and_matters():
    inputs = sequence_inputs(3, N=2, T=3, D=2, H=3)
    c0 = inputs.pop("c0")
    h_default, cache = lstm_forward(**inputs)
    h_zeros, _ = lstm_forward(**inputs, c0=np.zeros_like(c0))
    np.testing.assert_array_equal(h_default, h_zeros)
    np.testing.assert_array_equal(cache.c0, np.zeros_like(c0))
    h_other, _ = lstm_forward(**inputs, c0=c0)
    assert np.all(np.abs(h_other[:, 0] - h_default[:, 0]) > 1e-8)


def test_step_matches_independent_formula():
    inputs = step_inputs(4)
    H = 5
    a = inputs["x"] @ inputs["Wx"] + inputs["h_prev"] @ inputs["Wh"] + inputs["b"]
    gates = a.reshape(3, 4, H)  # (N, gate, H): gates i, f, g, o
    sig = lambda v: 0.5 * (1 + np.tanh(v / 2))  # noqa: E731
    c = sig(gates[:, 1]) * inputs["c_prev"] + sig(gates[:, 0]) * np.tanh(gates[:, 2])
    h = sig(gates[:, 3]) * np.tanh(c)
    h_next, c_next, _ = lstm_step_forward(**inputs)
    np.testing.assert_allclose(c_next, c, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_next, h, rtol=1e-13, atol=1e-15)


# ================================================================ gradients vs numeric

@pytest.mark.parametrize("wrt", STEP_ARGS)
def test_step_backward_matches_numeric(wrt):
    inputs = step_inputs(5)
    rng = np.random.default_rng(50)
    dh_next, dc_next = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    _, _, cache = lstm_step_forward(**inputs)
    analytic = dict(zip(STEP_ARGS, lstm_step_backward(dh_next, dc_next, cache)))[wrt]

    def f(value):
        h_next, c_next, _ = lstm_step_forward(**{**inputs, wrt: value})
        return np.stack([h_next, c_next])

    numeric = numerical_gradient_array(f, inputs[wrt], np.stack([dh_next, dc_next]))
    assert np.any(numeric != 0)
    assert rel_error(analytic, numeric) < GRAD_TOLERANCE


@pytest.mark.parametrize("size", [(2, 4, 3, 5), (1, 3, 1, 1)])
@pytest.mark.parametrize("wrt", SEQUENCE_ARGS)
def test_backward_matches_numeric(wrt, size):
    inputs = sequence_inputs(6, *size)
    h, cache = lstm_forward(**inputs)
    dh = np.random.default_rng(60).standard_normal(h.shape)
    analytic = dict(zip(SEQUENCE_ARGS, lstm_backward(dh, cache)))[wrt]

    def f(value):
        return lstm_forward(**{**inputs, wrt: value})[0]

    numeric = numerical_gradient_array(f, inputs[wrt], dh)
    assert np.any(numeric != 0)
    assert rel_error(analytic, numeric) < GRAD_TOLERANCE


def test_backward_is_a_loop_of_step_backwards():
    inputs = sequence_inputs(7, N=2, T=3, D=2, H=3)
    h, cache = lstm_forward(**inputs)
    dh = np.random.default_rng(70).standard_normal(h.shape)
    dx, dh0, dc0, dWx, dWh, db = lstm_backward(dh, cache)
    carry_h, carry_c, total_b = np.zeros((2, 3)), np.zeros((2, 3)), 0.0
    for t in (2, 1, 0):
        g_x, carry_h, carry_c, _, _, g_b = lstm_step_backward(dh[:, t] + carry_h, carry_c, lstm_step_cache(cache, t))
        np.testing.assert_allclose(dx[:, t], g_x, rtol=1e-13, atol=1e-15)
        total_b = total_b + g_b
    np.testing.assert_allclose(dh0, carry_h, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dc0, carry_c, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(db, total_b, rtol=1e-12, atol=1e-14)


# ================================================================ purity, pickling, dtypes

def test_functions_do_not_modify_inputs():
    inputs = step_inputs(8)
    before = {k: v.copy() for k, v in inputs.items()}
    h_next, c_next, cache = lstm_step_forward(**inputs)
    saved_cache = [a.copy() for a in cache]
    dh_next, dc_next = np.ones_like(h_next), np.ones_like(c_next)
    lstm_step_backward(dh_next, dc_next, cache)
    assert np.all(dh_next == 1) and np.all(dc_next == 1)
    for a, b in zip(cache, saved_cache):
        np.testing.assert_array_equal(a, b)
    sequence = sequence_inputs(9)
    seq_before = {k: v.copy() for k, v in sequence.items()}
    h, cache = lstm_forward(**sequence)
    saved_cache = [a.copy() for a in cache]
    dh = np.random.default_rng(90).standard_normal(h.shape)
    dh_before = dh.copy()
    lstm_backward(dh, cache)
    np.testing.assert_array_equal(dh, dh_before)
    for a, b in zip(cache, saved_cache):
        np.testing.assert_array_equal(a, b)
    for name in inputs:
        np.testing.assert_array_equal(inputs[name], before[name], err_msg=name)
    for name in sequence:
        np.testing.assert_array_equal(sequence[name], seq_before[name], err_msg=name)


def test_caches_pickle():
    _, _, step = lstm_step_forward(**step_inputs(10))
    _, cache = lstm_forward(**sequence_inputs(10))
    for original in (step, cache):
        copy = pickle.loads(pickle.dumps(original))
        assert type(copy) is type(original)
        for a, b in zip(copy, original):
            np.testing.assert_array_equal(a, b)


def test_float32_in_float32_out():
    step = {k: v.astype(np.float32) for k, v in step_inputs(11).items()}
    h_next, c_next, cache = lstm_step_forward(**step)
    assert h_next.dtype == c_next.dtype == np.float32
    grads = lstm_step_backward(np.ones_like(h_next), np.ones_like(c_next), cache)
    assert all(g.dtype == np.float32 for g in grads)
    sequence = {k: v.astype(np.float32) for k, v in sequence_inputs(11).items()}
    h, cache = lstm_forward(**sequence)
    assert h.dtype == np.float32
    grads = lstm_backward(np.ones_like(h), cache)
    assert all(g.dtype == np.float32 for g in grads)
    # and float32 agrees with float64 to float32 precision
    h64, _ = lstm_forward(**sequence_inputs(11))
    assert rel_error(h, h64) < 1e-4


def test_integer_input_becomes_float64():
    inputs = step_inputs(12, N=2, D=3, H=2)
    h_next, _, _ = lstm_step_forward(**{**inputs, "x": np.ones((2, 3), dtype=int)})
    assert h_next.dtype == np.float64


# ================================================================ validation

def _step_shapes():
    return {"x": np.zeros((2, 3)), "h_prev": np.zeros((2, 4)), "c_prev": np.zeros((2, 4)),
            "Wx": np.zeros((3, 16)), "Wh": np.zeros((4, 16)), "b": np.zeros(16)}


def _sequence_shapes():
    return {"x": np.zeros((2, 5, 3)), "h0": np.zeros((2, 4)), "Wx": np.zeros((3, 16)),
            "Wh": np.zeros((4, 16)), "b": np.zeros(16), "c0": np.zeros((2, 4))}


STEP_SHAPE_CASES = [
    ("x", (2, 3, 1), ["x must have 2 dimensions (N, D)", "got shape (2, 3, 1)"]),
    ("x", (2, 5), ["Wx must have shape (D, 4H) = (5, 16)", "D=5 from x (2, 5)", "got (3, 16)"]),
    ("h_prev", (3, 4), ["h_prev must have shape (N, H) = (2, 4)", "N=2 from x (2, 3)", "got (3, 4)"]),
    ("c_prev", (2, 5), ["c_prev must have shape (N, H) = (2, 4)", "H=4 from h_prev (2, 4)", "got (2, 5)"]),
    ("c_prev", (4,), ["c_prev must have 2 dimensions (N, H)", "got shape (4,)"]),
    ("Wx", (3, 4), ["Wx must have shape (D, 4H) = (3, 16)", "H=4 from h_prev (2, 4)", "4 gates", "got (3, 4)"]),
    ("Wx", (3, 12), ["Wx must have shape (D, 4H) = (3, 16)", "got (3, 12)"]),
    ("Wh", (4, 12), ["Wh must have shape (H, 4H) = (4, 16)", "4H=16 from Wx (3, 16)", "got (4, 12)"]),
    ("Wh", (4, 4), ["Wh must have shape (H, 4H) = (4, 16)", "got (4, 4)"]),
    ("b", (4,), ["b must have shape (4H,) = (16,)", "got (4,)"]),
    ("b", (1, 16), ["b must have 1 dimension", "(4H,)", "got shape (1, 16)"]),
]


@pytest.mark.parametrize("argument, shape, fragments", STEP_SHAPE_CASES)
def test_step_forward_bad_shapes(argument, shape, fragments):
    inputs = _step_shapes()
    inputs[argument] = np.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
        lstm_step_forward(**inputs)
    for fragment in fragments[1:]:
        assert fragment in str(info.value), (fragment, str(info.value))


SEQUENCE_SHAPE_CASES = [
    ("x", (2, 3), ["x must have 3 dimensions (N, T, D)", "got shape (2, 3)"]),
    ("h0", (1, 4), ["h0 must have shape (N, H) = (2, 4)", "N=2 from x (2, 5, 3)", "got (1, 4)"]),
    ("c0", (2, 3), ["c0 must have shape (N, H) = (2, 4)", "H=4 from h0 (2, 4)", "got (2, 3)"]),
    ("Wx", (3, 20), ["Wx must have shape (D, 4H) = (3, 16)", "H=4 from h0 (2, 4)", "got (3, 20)"]),
    ("Wh", (5, 16), ["Wh must have shape (H, 4H) = (4, 16)", "got (5, 16)"]),
    ("b", (12,), ["b must have shape (4H,) = (16,)", "got (12,)"]),
]


@pytest.mark.parametrize("argument, shape, fragments", SEQUENCE_SHAPE_CASES)
def test_forward_bad_shapes(argument, shape, fragments):
    inputs = _sequence_shapes()
    inputs[argument] = np.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
        lstm_forward(**inputs)
    for fragment in fragments[1:]:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_backward_bad_upstream_shapes():
    _, _, step = lstm_step_forward(**step_inputs(13))
    with pytest.raises(ValueError, match=re.escape("dh_next must have shape (N, H) = (3, 5)")):
        lstm_step_backward(np.zeros((3, 4)), np.zeros((3, 5)), step)
    with pytest.raises(ValueError, match=re.escape("dc_next must have shape (N, H) = (3, 5)")):
        lstm_step_backward(np.zeros((3, 5)), np.zeros((2, 5)), step)
    h, cache = lstm_forward(**sequence_inputs(13))
    with pytest.raises(ValueError, match=re.escape("dh must have shape (N, T, H) = (2, 4, 5)")):
        lstm_backward(np.zeros((2, 3, 5)), cache)


def test_non_numeric_input_is_refused():
    inputs = step_inputs(14)
    with pytest.raises(ValueError, match="c_prev must be a numeric array"):
        lstm_step_forward(**{**inputs, "c_prev": np.array([["a"]])})
