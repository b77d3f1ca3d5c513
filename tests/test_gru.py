"""Tests of rnncourse.gru: values by hand, shapes, gradients, validation, purity, dtypes."""
import math
import pickle
import re

import numpy as np
import pytest

from rnncourse.gradcheck import numerical_gradient_array, rel_error
from rnncourse.gru import (
    GRUCache, GRUStepCache, gru_backward, gru_forward, gru_step_backward, gru_step_cache, gru_step_forward,
)

STEP_ARGS = ("x", "h_prev", "Wx", "Wh", "bx", "bh")
SEQUENCE_ARGS = ("x", "h0", "Wx", "Wh", "bx", "bh")
GRAD_TOLERANCE = 1e-7


def step_inputs(seed, N=3, D=4, H=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, D)),
        "h_prev": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, 3 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "bx": rng.standard_normal(3 * H) * 0.5,
        "bh": rng.standard_normal(3 * H) * 0.5,
    }


def sequence_inputs(seed, N=2, T=4, D=3, H=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.standard_normal((D, 3 * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "bx": rng.standard_normal(3 * H) * 0.5,
        "bh": rng.standard_normal(3 * H) * 0.5,
    }


# ================================================================ values by hand

def _hand_step():
    # N = D = H = 1; the three columns are r, z, n.
    # r = sigmoid(x Wx_r + bx_r + h Wh_r + bh_r) = sigmoid(1 * ln 3) = 3/4
    # z = sigmoid(x Wx_z + bx_z + h Wh_z + bh_z) = sigmoid(-ln 3) = 1/4
    # hn = h Wh_n + bh_n = 0.5 * 2 + 0.2 = 1.2
    # n = tanh(x Wx_n + bx_n + r * hn) = tanh(0 + 0.1 + 0.75 * 1.2) = tanh(1)
    return dict(x=np.array([[1.0]]), h_prev=np.array([[0.5]]),
                Wx=np.array([[math.log(3), 0.0, 0.0]]), Wh=np.array([[0.0, 0.0, 2.0]]),
                bx=np.array([0.0, 0.0, 0.1]), bh=np.array([0.0, -math.log(3), 0.2]))


def test_step_forward_by_hand():
    h_next, cache = gru_step_forward(**_hand_step())
    # h' = (1 - z) n + z h = 0.75 tanh(1) + 0.25 * 0.5
    np.testing.assert_allclose(h_next, [[0.75 * math.tanh(1.0) + 0.125]], rtol=1e-15)
    assert isinstance(cache, GRUStepCache)
    np.testing.assert_allclose([cache.r[0, 0], cache.z[0, 0], cache.n[0, 0], cache.hn[0, 0]],
                               [0.75, 0.25, math.tanh(1.0), 1.2], rtol=1e-15)


def test_bh_n_is_inside_the_reset_product():
    # With bh_n outside r (the other common formula), n would be tanh(0.1 + 0.75 * 1 + 0.2) = tanh(1.05).
    h_next, _ = gru_step_forward(**_hand_step())
    assert abs(h_next[0, 0] - (0.75 * math.tanh(1.05) + 0.125)) > 1e-3


def test_step_backward_by_hand():
    _, cache = gru_step_forward(**_hand_step())
    dx, dh_prev, dWx, dWh, dbx, dbh = gru_step_backward(np.array([[1.0]]), cache)
    n = math.tanh(1.0)
    dn, dz = 0.75, 0.5 - n  # dh' (1 - z), dh' (h - n)
    dan = dn * (1 - n**2)
    dar = dan * 1.2 * 0.75 * 0.25  # dr = dan * hn, times r(1 - r)
    daz = dz * 0.25 * 0.75  # times z(1 - z)
    np.testing.assert_allclose(dbx, [dar, daz, dan], rtol=1e-14)
    np.testing.assert_allclose(dbh, [dar, daz, dan * 0.75], rtol=1e-14)  # the n block through r
    np.testing.assert_allclose(dWx, [[dar, daz, dan]], rtol=1e-14)  # x = 1
    np.testing.assert_allclose(dWh, [[0.5 * dar, 0.5 * daz, 0.5 * dan * 0.75]], rtol=1e-14)  # h = 0.5
    np.testing.assert_allclose(dx, [[dar * math.log(3)]], rtol=1e-14)  # dax . Wx
    np.testing.assert_allclose(dh_prev, [[dan * 0.75 * 2.0 + 0.25]], rtol=1e-14)  # dah . Wh + dh' z


def test_sequence_by_hand_two_steps():
    inputs = _hand_step()
    x = np.array([[[1.0], [0.0]]])
    h, cache = gru_forward(x, inputs["h_prev"], inputs["Wx"], inputs["Wh"], inputs["bx"], inputs["bh"])
    h1 = 0.75 * math.tanh(1.0) + 0.125
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    r, z = sig(0.0), sig(-math.log(3))  # x_2 = 0 and Wh_r = Wh_z = 0: only the biases
    n = math.tanh(0.1 + r * (2.0 * h1 + 0.2))
    np.testing.assert_allclose(h[0, :, 0], [h1, (1 - z) * n + z * h1], rtol=1e-14)
    assert isinstance(cache, GRUCache)


# ================================================================ shapes and structure

@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1), (1, 4, 5), (3, 1, 5), (3, 4, 1)])
def test_step_shapes(N, D, H):
    h_next, cache = gru_step_forward(**step_inputs(1, N, D, H))
    assert h_next.shape == (N, H)
    grads = gru_step_backward(np.ones((N, H)), cache)
    assert [g.shape for g in grads] == [(N, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,)]
    assert all(g.dtype == np.float64 for g in (h_next, *grads))


@pytest.mark.parametrize("N, T, D, H", [(2, 4, 3, 5), (1, 1, 1, 1), (1, 4, 3, 5), (2, 1, 3, 5), (2, 4, 3, 1)])
def test_sequence_shapes(N, T, D, H):
    h, cache = gru_forward(**sequence_inputs(1, N, T, D, H))
    assert h.shape == (N, T, H)
    assert all(getattr(cache, k).shape == (N, T, H) for k in ("r", "z", "n", "hn", "h"))
    grads = gru_backward(np.ones((N, T, H)), cache)
    assert [g.shape for g in grads] == [(N, T, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,)]


def test_forward_is_a_loop_of_steps():
    inputs = sequence_inputs(2, N=3, T=6, D=2, H=4)
    h, cache = gru_forward(**inputs)
    state = inputs["h0"]
    params = {k: inputs[k] for k in ("Wx", "Wh", "bx", "bh")}
    for t in range(6):
        state, step = gru_step_forward(inputs["x"][:, t], state, **params)
        np.testing.assert_array_equal(h[:, t], state, err_msg=f"step {t}")
        for got, want in zip(gru_step_cache(cache, t), step):
            np.testing.assert_array_equal(got, want, err_msg=f"step cache {t}")


def test_step_matches_independent_formula():
    inputs = step_inputs(4)
    H = 5
    sig = lambda v: 0.5 * (1 + np.tanh(v / 2))  # noqa: E731
    Wx, Wh, bx, bh = (inputs[k] for k in ("Wx", "Wh", "bx", "bh"))
    x, h = inputs["x"], inputs["h_prev"]
    block = lambda k: slice(k * H, (k + 1) * H)  # noqa: E731
    r = sig(x @ Wx[:, block(0)] + bx[block(0)] + h @ Wh[:, block(0)] + bh[block(0)])
    z = sig(x @ Wx[:, block(1)] + bx[block(1)] + h @ Wh[:, block(1)] + bh[block(1)])
    n = np.tanh(x @ Wx[:, block(2)] + bx[block(2)] + r * (h @ Wh[:, block(2)] + bh[block(2)]))
    np.testing.assert_allclose(gru_step_forward(**inputs)[0], (1 - z) * n + z * h, rtol=1e-13, atol=1e-15)


def test_the_two_biases_are_not_interchangeable():
    inputs = step_inputs(5)
    merged = dict(inputs, bx=inputs["bx"] + inputs["bh"], bh=np.zeros_like(inputs["bh"]))
    assert rel_error(gru_step_forward(**inputs)[0], gru_step_forward(**merged)[0]) > 1e-4
    # but r and z only see the sum: moving only their blocks changes nothing
    H = 5
    moved = dict(inputs)
    moved["bx"] = np.concatenate([inputs["bx"][:2 * H] + inputs["bh"][:2 * H], inputs["bx"][2 * H:]])
    moved["bh"] = np.concatenate([np.zeros(2 * H), inputs["bh"][2 * H:]])
    np.testing.assert_allclose(gru_step_forward(**moved)[0], gru_step_forward(**inputs)[0], rtol=1e-13)


# ================================================================ gradients vs numeric

@pytest.mark.parametrize("wrt", STEP_ARGS)
def test_step_backward_matches_numeric(wrt):
    inputs = step_inputs(5)
    dh_next = np.random.default_rng(50).standard_normal((3, 5))
    _, cache = gru_step_forward(**inputs)
    analytic = dict(zip(STEP_ARGS, gru_step_backward(dh_next, cache)))[wrt]

    def f(value):
        return gru_step_forward(**{**inputs, wrt: value})[0]

    numeric = numerical_gradient_array(f, inputs[wrt], dh_next)
    assert np.any(numeric != 0)
    assert rel_error(analytic, numeric) < GRAD_TOLERANCE


@pytest.mark.parametrize("size", [(2, 4, 3, 5), (1, 3, 1, 1)])
@pytest.mark.parametrize("wrt", SEQUENCE_ARGS)
def test_backward_matches_numeric(wrt, size):
    inputs = sequence_inputs(6, *size)
    h, cache = gru_forward(**inputs)
    dh = np.random.default_rng(60).standard_normal(h.shape)
    analytic = dict(zip(SEQUENCE_ARGS, gru_backward(dh, cache)))[wrt]

    def f(value):
        return gru_forward(**{**inputs, wrt: value})[0]

    numeric = numerical_gradient_array(f, inputs[wrt], dh)
    assert np.any(numeric != 0)
    assert rel_error(analytic, numeric) < GRAD_TOLERANCE


# ================================================================ purity, pickling, dtypes

def test_functions_do_not_modify_inputs():
    inputs = step_inputs(8)
    before = {k: v.copy() for k, v in inputs.items()}
    h_next, cache = gru_step_forward(**inputs)
    saved_cache = [a.copy() for a in cache]
    dh_next = np.ones_like(h_next)
    gru_step_backward(dh_next, cache)
    assert np.all(dh_next == 1)
    for a, b in zip(cache, saved_cache):
        np.testing.assert_array_equal(a, b)
    sequence = sequence_inputs(9)
    seq_before = {k: v.copy() for k, v in sequence.items()}
    h, cache = gru_forward(**sequence)
    saved_cache = [a.copy() for a in cache]
    dh = np.random.default_rng(90).standard_normal(h.shape)
    dh_before = dh.copy()
    gru_backward(dh, cache)
    np.testing.assert_array_equal(dh, dh_before)
    for a, b in zip(cache, saved_cache):
        np.testing.assert_array_equal(a, b)
    for name in inputs:
        np.testing.assert_array_equal(inputs[name], before[name], err_msg=name)
    for name in sequence:
        np.testing.assert_array_equal(sequence[name], seq_before[name], err_msg=name)


def test_caches_pickle():
    _, step = gru_step_forward(**step_inputs(10))
    _, cache = gru_forward(**sequence_inputs(10))
    for original in (step, cache):
        copy = pickle.loads(pickle.dumps(original))
        assert type(copy) is type(original)
        for a, b in zip(copy, original):
            np.testing.assert_array_equal(a, b)


def test_float32_in_float32_out():
    step = {k: v.astype(np.float32) for k, v in step_inputs(11).items()}
    h_next, cache = gru_step_forward(**step)
    assert h_next.dtype == np.float32
    assert all(g.dtype == np.float32 for g in gru_step_backward(np.ones_like(h_next), cache))
    sequence = {k: v.astype(np.float32) for k, v in sequence_inputs(11).items()}
    h, cache = gru_forward(**sequence)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in gru_backward(np.ones_like(h), cache))
    assert rel_error(h, gru_forward(**sequence_inputs(11))[0]) < 1e-4


# ================================================================ validation

def _step_shapes():
    return {"x": np.zeros((2, 3)), "h_prev": np.zeros((2, 4)), "Wx": np.zeros((3, 12)),
            "Wh": np.zeros((4, 12)), "bx": np.zeros(12), "bh": np.zeros(12)}


STEP_SHAPE_CASES = [
    ("x", (2,), ["x must have 2 dimensions (N, D)", "got shape (2,)"]),
    ("x", (2, 5), ["Wx must have shape (D, 3H) = (5, 12)", "D=5 from x (2, 5)", "got (3, 12)"]),
    ("h_prev", (3, 4), ["h_prev must have shape (N, H) = (2, 4)", "N=2 from x (2, 3)", "got (3, 4)"]),
    ("Wx", (3, 16), ["Wx must have shape (D, 3H) = (3, 12)", "H=4 from h_prev (2, 4)", "3 gates", "got (3, 16)"]),
    ("Wx", (3, 4), ["Wx must have shape (D, 3H) = (3, 12)", "got (3, 4)"]),
    ("Wh", (4, 16), ["Wh must have shape (H, 3H) = (4, 12)", "3H=12 from Wx (3, 12)", "got (4, 16)"]),
    ("bx", (16,), ["bx must have shape (3H,) = (12,)", "got (16,)"]),
    ("bh", (4,), ["bh must have shape (3H,) = (12,)", "got (4,)"]),
    ("bh", (12, 1), ["bh must have 1 dimension", "(3H,)", "got shape (12, 1)"]),
]


@pytest.mark.parametrize("argument, shape, fragments", STEP_SHAPE_CASES)
def test_step_forward_bad_shapes(argument, shape, fragments):
    inputs = _step_shapes()
    inputs[argument] = np.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
        gru_step_forward(**inputs)
    for fragment in fragments[1:]:
        assert fragment in str(info.value), (fragment, str(info.value))


SEQUENCE_SHAPE_CASES = [
    ("x", (2, 3), ["x must have 3 dimensions (N, T, D)", "got shape (2, 3)"]),
    ("h0", (2, 5), ["Wx must have shape (D, 3H) = (3, 15)", "H=5 from h0 (2, 5)", "got (3, 12)"]),
    ("Wh", (4, 4, 3), ["Wh must have 2 dimensions (H, 3H)", "got shape (4, 4, 3)"]),
    ("bx", (4,), ["bx must have shape (3H,) = (12,)", "got (4,)"]),
]


@pytest.mark.parametrize("argument, shape, fragments", SEQUENCE_SHAPE_CASES)
def test_forward_bad_shapes(argument, shape, fragments):
    inputs = {"x": np.zeros((2, 5, 3)), "h0": np.zeros((2, 4)), "Wx": np.zeros((3, 12)),
              "Wh": np.zeros((4, 12)), "bx": np.zeros(12), "bh": np.zeros(12)}
    inputs[argument] = np.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
        gru_forward(**inputs)
    for fragment in fragments[1:]:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_backward_bad_upstream_shapes():
    _, step = gru_step_forward(**step_inputs(13))
    with pytest.raises(ValueError, match=re.escape("dh_next must have shape (N, H) = (3, 5)")):
        gru_step_backward(np.zeros((3, 4)), step)
    _, cache = gru_forward(**sequence_inputs(13))
    with pytest.raises(ValueError, match=re.escape("dh must have shape (N, T, H) = (2, 4, 5)")):
        gru_backward(np.zeros((2, 4, 4)), cache)
    with pytest.raises(ValueError, match=re.escape("dh must have 3 dimensions (N, T, H), got shape (2, 4)")):
        gru_backward(np.zeros((2, 4)), cache)
