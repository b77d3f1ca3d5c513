"""Tests of rnncourse.rnn: values by hand, shapes, gradients, truncated BPTT, validation, purity."""
import math
import re

import numpy as np
import pytest

from rnncourse.gradcheck import numerical_gradient_array, rel_error
from rnncourse.rnn import (
    RNNCache, RNNStepCache, rnn_backward, rnn_backward_truncated, rnn_forward,
    rnn_step_backward, rnn_step_forward,
)

ACTIVATIONS = ("tanh", "relu", "sigmoid")
STEP_ARGS = ("x", "h_prev", "Wx", "Wh", "b")
SEQUENCE_ARGS = ("x", "h0", "Wx", "Wh", "b")
GRAD_TOLERANCE = 1e-7


def step_inputs(seed, N=3, D=4, H=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, D)),
        "h_prev": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": rng.standard_normal(H) * 0.5,
    }


def sequence_inputs(seed, N=2, T=4, D=3, H=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": rng.standard_normal(H) * 0.5,
    }


def sequence_preactivations(x, h0, Wx, Wh, b, h):
    """a[:, t] = x[:, t] Wx + h[:, t-1] Wh + b, computed from the stored states h."""
    previous = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    return x @ Wx + previous @ Wh + b


def copies(inputs):
    return {name: np.array(value, copy=True) for name, value in inputs.items()}


def assert_unchanged(inputs, before):
    for name, value in inputs.items():
        np.testing.assert_array_equal(value, before[name], err_msg=f"{name} was modified")


# ================================================================ values by hand

def test_step_forward_by_hand_D2_H2():
    x = np.array([[1.0, 2.0]])
    h_prev = np.array([[0.5, -1.0]])
    Wx = np.array([[0.1, 0.2], [0.3, 0.4]])
    Wh = np.array([[0.5, -1.0], [2.0, 0.0]])
    b = np.array([0.05, 0.5])
    # x Wx      = [1*0.1 + 2*0.3, 1*0.2 + 2*0.4]             = [0.7, 1.0]
    # h_prev Wh = [0.5*0.5 + (-1)*2, 0.5*(-1) + (-1)*0]      = [-1.75, -0.5]
    # a = x Wx + h_prev Wh + b = [0.7 - 1.75 + 0.05, 1.0 - 0.5 + 0.5] = [-1.0, 1.0]
    expected = {
        "relu": [[0.0, 1.0]],
        "tanh": [[-math.tanh(1.0), math.tanh(1.0)]],
        "sigmoid": [[1 / (1 + math.e), 1 / (1 + 1 / math.e)]],
    }
    for activation, values in expected.items():
        h_next, cache = rnn_step_forward(x, h_prev, Wx, Wh, b, activation=activation)
        np.testing.assert_allclose(h_next, values, rtol=1e-14, atol=1e-15, err_msg=activation)
        assert isinstance(cache, RNNStepCache)


def test_step_forward_default_activation_is_tanh():
    inputs = step_inputs(0)
    np.testing.assert_array_equal(rnn_step_forward(**inputs)[0],
                                  rnn_step_forward(**inputs, activation="tanh")[0])


def test_step_backward_by_hand_relu_D2_H2():
    x = np.array([[1.0, 2.0]])
    h_prev = np.array([[0.5, -1.0]])
    Wx = np.array([[0.1, 0.2], [0.3, 0.4]])
    Wh = np.array([[0.5, -1.0], [2.0, 0.0]])
    b = np.array([0.05, 0.5])
    _, cache = rnn_step_forward(x, h_prev, Wx, Wh, b, activation="relu")  # a = [-1, 1], h = [0, 1]
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(np.array([[2.0, 3.0]]), cache)
    # da = dh_next * relu'(a) = [2*0, 3*1] = [0, 3]
    np.testing.assert_allclose(dx, [[0.6, 1.2]], rtol=1e-14)  # da Wx.T = [3*0.2, 3*0.4]
    np.testing.assert_allclose(dh_prev, [[-3.0, 0.0]], rtol=1e-14)  # da Wh.T = [3*(-1), 3*0]
    np.testing.assert_allclose(dWx, [[0.0, 3.0], [0.0, 6.0]], rtol=1e-14)  # x.T da
    np.testing.assert_allclose(dWh, [[0.0, 1.5], [0.0, -3.0]], rtol=1e-14)  # h_prev.T da
    np.testing.assert_allclose(db, [0.0, 3.0], rtol=1e-14)


def test_step_by_hand_tanh_and_sigmoid_scalar():
    # N = D = H = 1: a = x Wx + h_prev Wh + b = 1 * ln 2 + 0 * 5 + 0 = ln 2, tanh(ln 2) = 0.6
    x, h_prev, Wh, b = np.array([[1.0]]), np.array([[0.0]]), np.array([[5.0]]), np.array([0.0])
    h, cache = rnn_step_forward(x, h_prev, np.array([[math.log(2)]]), Wh, b, activation="tanh")
    np.testing.assert_allclose(h, [[0.6]], rtol=1e-15)
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(np.array([[1.0]]), cache)
    # da = 1 - 0.6**2 = 0.64; dx = da Wx = 0.64 ln 2; dh_prev = da Wh = 3.2; dWx = x da; dWh = h_prev da = 0
    np.testing.assert_allclose([dx[0, 0], dh_prev[0, 0], dWx[0, 0], dWh[0, 0], db[0]],
                               [0.64 * math.log(2), 3.2, 0.64, 0.0, 0.64], rtol=1e-14)
    # sigmoid(ln 3) = 0.75, sigmoid' = 0.75 * 0.25 = 0.1875
    h, cache = rnn_step_forward(x, h_prev, np.array([[math.log(3)]]), Wh, b, activation="sigmoid")
    np.testing.assert_allclose(h, [[0.75]], rtol=1e-15)
    _, dh_prev, _, _, db = rnn_step_backward(np.array([[2.0]]), cache)
    np.testing.assert_allclose([dh_prev[0, 0], db[0]], [2 * 0.1875 * 5, 2 * 0.1875], rtol=1e-14)


def _hand_sequence():
    # N = D = H = 1, T = 2, relu:
    # a_1 = 2*1 + (-1)*0.5 + 0.5 = 2   -> h_1 = 2
    # a_2 = 2*2 + (-1)*2   + 0.5 = 2.5 -> h_2 = 2.5
    return dict(x=np.array([[[1.0], [2.0]]]), h0=np.array([[0.5]]), Wx=np.array([[2.0]]),
                Wh=np.array([[-1.0]]), b=np.array([0.5]))


def test_sequence_forward_and_backward_by_hand():
    h, cache = rnn_forward(**_hand_sequence(), activation="relu")
    np.testing.assert_allclose(h, [[[2.0], [2.5]]], rtol=1e-15)
    assert isinstance(cache, RNNCache)
    dh = np.array([[[1.0], [3.0]]])
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
    # step 2: da_2 = 3;             dx_2 = 3*2 = 6;   sends 3*(-1) = -3 to h_1; dWx += 2*3; dWh += h_1*3 = 6; db += 3
    # step 1: da_1 = 1 + (-3) = -2; dx_1 = -2*2 = -4; dh0 = -2*(-1) = 2;  dWx += 1*(-2); dWh += 0.5*(-2); db += -2
    np.testing.assert_allclose(dx, [[[-4.0], [6.0]]], rtol=1e-15)
    np.testing.assert_allclose(dh0, [[2.0]], rtol=1e-15)
    np.testing.assert_allclose(dWx, [[6.0 - 2.0]], rtol=1e-15)
    np.testing.assert_allclose(dWh, [[6.0 - 1.0]], rtol=1e-15)
    np.testing.assert_allclose(db, [3.0 - 2.0], rtol=1e-15)


def test_truncated_by_hand():
    _, cache = rnn_forward(**_hand_sequence(), activation="relu")
    dx, dh0, dWx, dWh, db = rnn_backward_truncated(np.array([[[1.0], [3.0]]]), cache, truncation=1)
    # step 2 as in full BPTT (da_2 = 3), but step 1 only sees dh_1 = 1: da_1 = 1
    # dx_1 = 1*2; dh0 = 1*(-1); dWx = 2*3 + 1*1; dWh = 2*3 + 0.5*1; db = 3 + 1
    np.testing.assert_allclose(dx, [[[2.0], [6.0]]], rtol=1e-15)
    np.testing.assert_allclose(dh0, [[-1.0]], rtol=1e-15)
    np.testing.assert_allclose(dWx, [[7.0]], rtol=1e-15)
    np.testing.assert_allclose(dWh, [[6.5]], rtol=1e-15)
    np.testing.assert_allclose(db, [4.0], rtol=1e-15)


# ================================================================ shapes

@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1), (1, 4, 5), (3, 1, 5), (3, 4, 1)])
def test_step_shapes(N, D, H):
    inputs = step_inputs(1, N, D, H)
    h_next, cache = rnn_step_forward(**inputs)
    assert h_next.shape == (N, H)
    grads = rnn_step_backward(np.ones((N, H)), cache)
    assert [g.shape for g in grads] == [(N, D), (N, H), (D, H), (H, H), (H,)]
    assert all(g.dtype == np.float64 for g in (h_next, *grads))


@pytest.mark.parametrize("N, T, D, H", [(2, 4, 3, 5), (1, 1, 1, 1), (1, 4, 3, 5), (2, 1, 3, 5), (2, 4, 3, 1)])
def test_sequence_shapes(N, T, D, H):
    inputs = sequence_inputs(1, N, T, D, H)
    h, cache = rnn_forward(**inputs)
    assert h.shape == (N, T, H)
    for grads in (rnn_backward(np.ones((N, T, H)), cache), rnn_backward_truncated(np.ones((N, T, H)), cache, 2)):
        assert [g.shape for g in grads] == [(N, T, D), (N, H), (D, H), (H, H), (H,)]
        assert all(g.dtype == np.float64 for g in grads)


# ================================================================ forward = loop of steps

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_is_a_loop_of_steps(activation):
    inputs = sequence_inputs(2, N=3, T=6, D=2, H=4)
    h, _ = rnn_forward(**inputs, activation=activation)
    state = inputs["h0"]
    for t in range(6):
        state, _ = rnn_step_forward(inputs["x"][:, t], state, inputs["Wx"], inputs["Wh"], inputs["b"], activation)
        np.testing.assert_array_equal(h[:, t], state, err_msg=f"step {t}")


def test_forward_starts_from_h0():
    inputs = sequence_inputs(3, N=2, T=3, D=2, H=3)
    other = dict(inputs, h0=inputs["h0"] + 1.0)
    h, _ = rnn_forward(**inputs)
    h_other, _ = rnn_forward(**other)
    assert np.all(np.abs(h[:, 0] - h_other[:, 0]) > 1e-6)  # the first step reads h0


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_is_applied(activation):
    inputs = step_inputs(4)
    a = inputs["x"] @ inputs["Wx"] + inputs["h_prev"] @ inputs["Wh"] + inputs["b"]
    f = {"tanh": np.tanh, "relu": lambda v: np.where(v > 0, v, 0.0),
         "sigmoid": lambda v: 0.5 * (1 + np.tanh(v / 2))}[activation]  # sigmoid = (1 + tanh(a/2)) / 2
    np.testing.assert_allclose(rnn_step_forward(**inputs, activation=activation)[0], f(a), rtol=1e-13, atol=1e-15)


# ================================================================ gradients vs numeric

def _assert_kink_free(a, activation):
    if activation == "relu":
        assert np.min(np.abs(a)) > 1e-4, "a pre-activation is within 1e-4 of relu's kink: choose another seed"


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("wrt", STEP_ARGS)
def test_step_backward_matches_numeric(activation, wrt):
    inputs = step_inputs(5)
    _assert_kink_free(inputs["x"] @ inputs["Wx"] + inputs["h_prev"] @ inputs["Wh"] + inputs["b"], activation)
    dh_next = np.random.default_rng(50).standard_normal((3, 5))
    _, cache = rnn_step_forward(**inputs, activation=activation)
    analytic = dict(zip(STEP_ARGS, rnn_step_backward(dh_next, cache)))[wrt]

    def f(value):
        return rnn_step_forward(**{**inputs, wrt: value}, activation=activation)[0]

    numeric = numerical_gradient_array(f, inputs[wrt], dh_next)
    assert np.any(numeric != 0)
    assert rel_error(analytic, numeric) < GRAD_TOLERANCE


@pytest.mark.parametrize("size", [(2, 4, 3, 5), (1, 3, 1, 2)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("wrt", SEQUENCE_ARGS)
def test_backward_matches_numeric(activation, wrt, size):
    inputs = sequence_inputs(6, *size)
    h, cache = rnn_forward(**inputs, activation=activation)
    _assert_kink_free(sequence_preactivations(**inputs, h=h), activation)
    dh = np.random.default_rng(60).standard_normal(h.shape)
    analytic = dict(zip(SEQUENCE_ARGS, rnn_backward(dh, cache)))[wrt]

    def f(value):
        return rnn_forward(**{**inputs, wrt: value}, activation=activation)[0]

    numeric = numerical_gradient_array(f, inputs[wrt], dh)
    assert np.any(numeric != 0)
    assert rel_error(analytic, numeric) < GRAD_TOLERANCE


# ================================================================ truncated BPTT

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_truncation_at_least_T_is_full_bptt(activation):
    inputs = sequence_inputs(7, N=2, T=5, D=3, H=4)
    h, cache = rnn_forward(**inputs, activation=activation)
    dh = np.random.default_rng(70).standard_normal(h.shape)
    full = rnn_backward(dh, cache)
    for k in (None, 5, 6, 100, np.int64(5)):
        for got, want in zip(rnn_backward_truncated(dh, cache, k), full):
            np.testing.assert_array_equal(got, want, err_msg=f"truncation={k!r}")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_truncation_one_has_no_recurrent_flow(activation):
    inputs = sequence_inputs(8, N=2, T=5, D=3, H=4)
    h, cache = rnn_forward(**inputs, activation=activation)
    dh = np.random.default_rng(80).standard_normal(h.shape)
    dx, dh0, dWx, dWh, db = rnn_backward_truncated(dh, cache, truncation=1)
    # Independent: each step's backward sees only dh[:, t], nothing from step t+1.
    state = inputs["h0"]
    want_dWx, want_dWh, want_db = 0.0, 0.0, 0.0
    for t in range(5):
        state, step = rnn_step_forward(inputs["x"][:, t], state, inputs["Wx"], inputs["Wh"], inputs["b"], activation)
        g_x, g_hprev, g_Wx, g_Wh, g_b = rnn_step_backward(dh[:, t], step)
        np.testing.assert_allclose(dx[:, t], g_x, rtol=1e-13, atol=1e-15)
        if t == 0:
            np.testing.assert_allclose(dh0, g_hprev, rtol=1e-13, atol=1e-15)
        want_dWx, want_dWh, want_db = want_dWx + g_Wx, want_dWh + g_Wh, want_db + g_b
    np.testing.assert_allclose(dWx, want_dWx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dWh, want_dWh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db, want_db, rtol=1e-12, atol=1e-14)
    # and it differs from full BPTT, so the test can tell the two apart
    assert rel_error(dWh, rnn_backward(dh, cache)[3]) > 1e-3


def truncated_by_chunks(inputs, dh, k, activation):
    """Truncated BPTT as independent backward passes over chunks [0, k), [k, 2k), ...

    Each chunk starts from the previous chunk's last state (a constant: nothing flows
    back into it); only the first chunk's dh0 is the layer's dh0.
    """
    h, _ = rnn_forward(**inputs, activation=activation)
    T = h.shape[1]
    dx = np.zeros_like(inputs["x"])
    dWx, dWh, db = np.zeros_like(inputs["Wx"]), np.zeros_like(inputs["Wh"]), np.zeros_like(inputs["b"])
    dh0 = None
    for start in range(0, T, k):
        stop = min(start + k, T)
        h_start = inputs["h0"] if start == 0 else h[:, start - 1]
        _, cache = rnn_forward(inputs["x"][:, start:stop], h_start, inputs["Wx"], inputs["Wh"], inputs["b"], activation)
        c_dx, c_dh0, c_dWx, c_dWh, c_db = rnn_backward(dh[:, start:stop], cache)
        dx[:, start:stop] = c_dx
        dWx, dWh, db = dWx + c_dWx, dWh + c_dWh, db + c_db
        if start == 0:
            dh0 = c_dh0
    return dx, dh0, dWx, dWh, db


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("T, k", [(7, 2), (7, 3), (6, 3), (6, 5), (9, 4)])
def test_truncation_matches_chunked_backward(activation, T, k):
    inputs = sequence_inputs(9, N=2, T=T, D=3, H=4)
    h, cache = rnn_forward(**inputs, activation=activation)
    dh = np.random.default_rng(90).standard_normal(h.shape)
    got = rnn_backward_truncated(dh, cache, k)
    want = truncated_by_chunks(inputs, dh, k, activation)
    for name, g, w in zip(SEQUENCE_ARGS, got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14, err_msg=f"d{name}, k={k}")
    # truncation changes dWh with respect to full BPTT
    assert rel_error(got[3], rnn_backward(dh, cache)[3]) > 1e-6


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, False, "2", 2.0])
def test_bad_truncation(bad):
    inputs = sequence_inputs(10, N=1, T=3, D=2, H=2)
    h, cache = rnn_forward(**inputs)
    with pytest.raises(ValueError, match="truncation must be None or an integer >= 1"):
        rnn_backward_truncated(np.ones_like(h), cache, bad)


# ================================================================ purity

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_step_functions_do_not_modify_inputs(activation):
    inputs = step_inputs(11)
    before = copies(inputs)
    h_next, cache = rnn_step_forward(**inputs, activation=activation)
    assert_unchanged(inputs, before)
    dh_next = np.random.default_rng(110).standard_normal(h_next.shape)
    saved = (dh_next.copy(), [np.copy(a) for a in cache[:5]])
    rnn_step_backward(dh_next, cache)
    np.testing.assert_array_equal(dh_next, saved[0])
    for a, b in zip(cache[:5], saved[1]):
        np.testing.assert_array_equal(a, b)
    assert_unchanged(inputs, before)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_sequence_functions_do_not_modify_inputs(activation):
    inputs = sequence_inputs(12)
    before = copies(inputs)
    h, cache = rnn_forward(**inputs, activation=activation)
    assert_unchanged(inputs, before)
    h_saved = h.copy()
    dh = np.random.default_rng(120).standard_normal(h.shape)
    dh_saved = dh.copy()
    for call in (lambda: rnn_backward(dh, cache), lambda: rnn_backward_truncated(dh, cache, 2)):
        call()
        np.testing.assert_array_equal(dh, dh_saved)
        np.testing.assert_array_equal(cache.h, h_saved)
        assert_unchanged(inputs, before)
        assert_unchanged({"x": cache.x, "h0": cache.h0, "Wx": cache.Wx, "Wh": cache.Wh}, before)


# ================================================================ validation

def _raises(fn, kwargs, fragments):
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
        fn(**kwargs)
    for fragment in fragments[1:]:
        assert fragment in str(info.value), (fragment, str(info.value))


def _shape_inputs_step():
    return {"x": np.zeros((2, 3)), "h_prev": np.zeros((2, 4)), "Wx": np.zeros((3, 4)),
            "Wh": np.zeros((4, 4)), "b": np.zeros(4)}


def _shape_inputs_sequence():
    return {"x": np.zeros((2, 5, 3)), "h0": np.zeros((2, 4)), "Wx": np.zeros((3, 4)),
            "Wh": np.zeros((4, 4)), "b": np.zeros(4)}


# (argument given a bad shape, that shape, fragments the message must contain)
STEP_SHAPE_CASES = [
    ("x", (2, 3, 1), ["x must have 2 dimensions (N, D)", "got shape (2, 3, 1)"]),
    ("x", (3,), ["x must have 2 dimensions (N, D)", "got shape (3,)"]),
    ("x", (2, 5), ["Wx must have shape (D, H) = (5, 4)", "D=5 from x (2, 5)", "got (3, 4)"]),
    ("x", (1, 3), ["h_prev must have shape (N, H) = (1, 4)", "N=1 from x (1, 3)", "got (2, 4)"]),
    ("h_prev", (3, 4), ["h_prev must have shape (N, H) = (2, 4)", "N=2 from x (2, 3)", "got (3, 4)"]),
    ("h_prev", (2, 6), ["Wx must have shape (D, H) = (3, 6)", "H=6 from h_prev (2, 6)", "got (3, 4)"]),
    ("h_prev", (4,), ["h_prev must have 2 dimensions (N, H)", "got shape (4,)"]),
    ("Wx", (3, 5), ["Wx must have shape (D, H) = (3, 4)", "got (3, 5)"]),
    ("Wx", (4, 3), ["Wx must have shape (D, H) = (3, 4)", "got (4, 3)"]),
    ("Wx", (3, 4, 1), ["Wx must have 2 dimensions (D, H)", "got shape (3, 4, 1)"]),
    ("Wh", (4, 5), ["Wh must have shape (H, H) = (4, 4)", "got (4, 5)"]),
    ("Wh", (4,), ["Wh must have 2 dimensions (H, H)", "got shape (4,)"]),
    ("b", (5,), ["b must have shape (H,) = (4,)", "H=4 from h_prev (2, 4)", "got (5,)"]),
    ("b", (1, 4), ["b must have 1 dimension", "(H,)", "got shape (1, 4)"]),
    ("b", (), ["b must have 1 dimension", "(H,)", "got shape ()"]),
]

SEQUENCE_SHAPE_CASES = [
    ("x", (2, 3), ["x must have 3 dimensions (N, T, D)", "got shape (2, 3)"]),
    ("x", (2, 5, 3, 1), ["x must have 3 dimensions (N, T, D)", "got shape (2, 5, 3, 1)"]),
    ("x", (2, 5, 6), ["Wx must have shape (D, H) = (6, 4)", "D=6 from x (2, 5, 6)", "got (3, 4)"]),
    ("x", (3, 5, 3), ["h0 must have shape (N, H) = (3, 4)", "N=3 from x (3, 5, 3)", "got (2, 4)"]),
    ("h0", (1, 4), ["h0 must have shape (N, H) = (2, 4)", "N=2 from x (2, 5, 3)", "got (1, 4)"]),
    ("h0", (2, 3), ["Wx must have shape (D, H) = (3, 3)", "H=3 from h0 (2, 3)", "got (3, 4)"]),
    ("h0", (2, 5, 4), ["h0 must have 2 dimensions (N, H)", "got shape (2, 5, 4)"]),
    ("Wx", (4, 4), ["Wx must have shape (D, H) = (3, 4)", "got (4, 4)"]),
    ("Wx", (3,), ["Wx must have 2 dimensions (D, H)", "got shape (3,)"]),
    ("Wh", (3, 4), ["Wh must have shape (H, H) = (4, 4)", "got (3, 4)"]),
    ("Wh", (4, 4, 1), ["Wh must have 2 dimensions (H, H)", "got shape (4, 4, 1)"]),
    ("b", (3,), ["b must have shape (H,) = (4,)", "got (3,)"]),
    ("b", (4, 1), ["b must have 1 dimension", "(H,)", "got shape (4, 1)"]),
]


@pytest.mark.parametrize("argument, shape, fragments", STEP_SHAPE_CASES)
def test_step_forward_bad_shapes(argument, shape, fragments):
    inputs = _shape_inputs_step()
    inputs[argument] = np.zeros(shape)
    _raises(rnn_step_forward, inputs, fragments)


@pytest.mark.parametrize("argument, shape, fragments", SEQUENCE_SHAPE_CASES)
def test_forward_bad_shapes(argument, shape, fragments):
    inputs = _shape_inputs_sequence()
    inputs[argument] = np.zeros(shape)
    _raises(rnn_forward, inputs, fragments)


def test_backward_bad_shapes_name_the_gradient():
    _, step = rnn_step_forward(**_shape_inputs_step())
    _raises(lambda **kw: rnn_step_backward(**kw, cache=step), {"dh_next": np.zeros((2, 5))},
            ["dh_next must have shape (N, H) = (2, 4)", "from cache.h_next (2, 4)", "got (2, 5)"])
    _raises(lambda **kw: rnn_step_backward(**kw, cache=step), {"dh_next": np.zeros((2, 4, 1))},
            ["dh_next must have 2 dimensions (N, H)", "got shape (2, 4, 1)"])
    _, cache = rnn_forward(**_shape_inputs_sequence())
    for backward in (rnn_backward, lambda dh, cache: rnn_backward_truncated(dh, cache, 2)):
        _raises(lambda **kw: backward(**kw, cache=cache), {"dh": np.zeros((2, 4, 4))},
                ["dh must have shape (N, T, H) = (2, 5, 4)", "from cache.h (2, 5, 4)", "got (2, 4, 4)"])
        _raises(lambda **kw: backward(**kw, cache=cache), {"dh": np.zeros((2, 4))},
                ["dh must have 3 dimensions (N, T, H)", "got shape (2, 4)"])


@pytest.mark.parametrize("argument", STEP_ARGS)
@pytest.mark.parametrize("bad", ["text", "object"])
def test_step_forward_non_numeric(argument, bad):
    inputs = _shape_inputs_step()
    shape = inputs[argument].shape
    inputs[argument] = np.full(shape, "a") if bad == "text" else np.full(shape, None, dtype=object)
    with pytest.raises(ValueError, match=f"^{argument} must be a numeric array, got dtype"):
        rnn_step_forward(**inputs)


@pytest.mark.parametrize("argument", SEQUENCE_ARGS)
def test_forward_non_numeric(argument):
    inputs = _shape_inputs_sequence()
    inputs[argument] = np.full(inputs[argument].shape, "a")
    with pytest.raises(ValueError, match=f"^{argument} must be a numeric array, got dtype"):
        rnn_forward(**inputs)


def test_backward_non_numeric():
    _, step = rnn_step_forward(**_shape_inputs_step())
    with pytest.raises(ValueError, match="^dh_next must be a numeric array"):
        rnn_step_backward(np.full((2, 4), "a"), step)
    _, cache = rnn_forward(**_shape_inputs_sequence())
    with pytest.raises(ValueError, match="^dh must be a numeric array"):
        rnn_backward(np.full((2, 5, 4), "a"), cache)


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        rnn_step_forward(**_shape_inputs_step(), activation="softmax")
    with pytest.raises(ValueError, match="activation must be one of"):
        rnn_forward(**_shape_inputs_sequence(), activation="Tanh")


# ================================================================ dtypes

def test_integer_inputs_are_converted_to_float64():
    x, h_prev = np.array([[1, 2]]), np.array([[0, -1]])
    Wx, Wh, b = np.array([[1, 0], [0, -1]]), np.array([[2, 1], [0, 1]]), np.array([0, 1])
    h_next, _ = rnn_step_forward(x, h_prev, Wx, Wh, b, activation="relu")
    # a = [1, -2] + [0, -1] + [0, 1] = [1, -2]  ->  relu = [1, 0]
    assert h_next.dtype == np.float64
    np.testing.assert_array_equal(h_next, [[1.0, 0.0]])
    h, cache = rnn_forward(x[:, None], h_prev, Wx, Wh, b, activation="relu")
    assert h.dtype == np.float64 and cache.x.dtype == np.float64
    np.testing.assert_array_equal(h[:, 0], h_next)
    grads = rnn_backward(np.ones((1, 1, 2), dtype=np.int64), cache)
    assert all(g.dtype == np.float64 for g in grads)


def test_nested_lists_are_accepted():
    inputs = sequence_inputs(13, N=1, T=2, D=2, H=2)
    h_list, _ = rnn_forward(**{k: v.tolist() for k, v in inputs.items()})
    np.testing.assert_array_equal(h_list, rnn_forward(**inputs)[0])
    step = step_inputs(13, N=1, D=2, H=2)
    np.testing.assert_array_equal(rnn_step_forward(**{k: v.tolist() for k, v in step.items()})[0],
                                  rnn_step_forward(**step)[0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_in_float32_out(activation):
    inputs64 = sequence_inputs(14)
    inputs32 = {k: v.astype(np.float32) for k, v in inputs64.items()}
    h32, cache32 = rnn_forward(**inputs32, activation=activation)
    h64, cache64 = rnn_forward(**inputs64, activation=activation)
    assert h32.dtype == np.float32
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-5)
    dh = np.random.default_rng(140).standard_normal(h64.shape)
    for backward in (rnn_backward, lambda d, c: rnn_backward_truncated(d, c, 2)):
        grads32 = backward(dh.astype(np.float32), cache32)
        grads64 = backward(dh, cache64)
        for name, g32, g64 in zip(SEQUENCE_ARGS, grads32, grads64):
            assert g32.dtype == np.float32, name
            np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4, err_msg=name)
    step32 = {k: v.astype(np.float32) for k, v in step_inputs(14).items()}
    h_next, step = rnn_step_forward(**step32, activation=activation)
    assert h_next.dtype == np.float32
    grads = rnn_step_backward(np.ones(h_next.shape, dtype=np.float32), step)
    assert all(g.dtype == np.float32 for g in grads)
