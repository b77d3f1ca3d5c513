"""Tests of rnncourse.layers: gradients, masks and padding, bidirectional and stacked layers, attention, validation."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncourse import layers as L
from rnncourse.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

GRAD_TOLERANCE = 1e-7
# Bidirectional and stacked layers and additive attention: several nonlinear maps in a row make some
# gradient entries small (1e-6 to 1e-4), where the centred difference's rounding (~1e-11 absolute) alone is a
# relative error above 1e-7 (measured: up to 5.2e-7 at a GRU entry of 1e-6, an absolute difference of
# 3e-12; the same gradients' norm-wise errors are below 2e-9).
COMPOSITE_TOLERANCE = 1e-6


def padded_lengths(rng, N, T):
    """(N,) lengths in 1..T with one full-length and one length-1 sequence when N allows."""
    lengths = rng.integers(1, T + 1, N)
    lengths[0] = T
    if N > 1:
        lengths[1] = 1
    return lengths


def check_gradient(f, x, dout, analytic, tolerance=GRAD_TOLERANCE):
    """Compare an analytic gradient with the centred difference of sum(f(x) * dout)."""
    numeric = numerical_gradient_array(f, x, dout)
    error = rel_error(analytic, numeric)
    assert error < tolerance, error
    return error


def assert_unchanged(before, after):
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=f"{name} was modified")


# ================================================================ length_mask and reverse_padded

def test_length_mask_values():
    mask = L.length_mask(np.array([3, 1, 2]), 4)
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]])
    assert mask.dtype == bool


def test_reverse_padded_values():
    x = np.arange(2 * 4).reshape(2, 4)  # integers: the dtype is kept
    out = L.reverse_padded(x, [3, 4])
    np.testing.assert_array_equal(out, [[2, 1, 0, 3], [7, 6, 5, 4]])
    assert out.dtype == x.dtype


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(N=st.integers(1, 5), T=st.integers(1, 7), F=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_reverse_padded_is_its_own_inverse(N, T, F, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T) + (2,) * F)
    lengths = rng.integers(1, T + 1, N)
    x_copy = x.copy()
    once = L.reverse_padded(x, lengths)
    np.testing.assert_array_equal(L.reverse_padded(once, lengths), x)
    np.testing.assert_array_equal(x, x_copy)  # input untouched
    mask = L.length_mask(lengths, T)
    np.testing.assert_array_equal(once[~mask], x[~mask])  # padding stays in place
    for n in range(N):  # real steps reversed
        np.testing.assert_array_equal(once[n, :lengths[n]], x[n, :lengths[n]][::-1])


# ================================================================ embedding

def test_embedding_forward_is_a_lookup():
    W = np.arange(12.0).reshape(4, 3)
    out, _ = L.embedding_forward(np.array([[0, 3], [3, 3]]), W)
    np.testing.assert_array_equal(out, [[W[0], W[3]], [W[3], W[3]]])


def test_embedding_backward_accumulates_repeated_tokens():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 3))
    tokens = np.array([[1, 1, 4], [1, 0, 4]])
    dout = rng.standard_normal((2, 3, 3))
    _, cache = L.embedding_forward(tokens, W)
    dW = L.embedding_backward(dout, cache)
    np.testing.assert_allclose(dW[1], dout[0, 0] + dout[0, 1] + dout[1, 0], rtol=1e-14)
    np.testing.assert_array_equal(dW[2], 0)  # unused token
    check_gradient(lambda W_: L.embedding_forward(tokens, W_)[0], W, dout, dW)


# ================================================================ temporal affine

def test_temporal_affine_gradients():
    rng = np.random.default_rng(1)
    h, W, b = rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((2, 4, 5))
    out, cache = L.temporal_affine_forward(h, W, b)
    np.testing.assert_allclose(out[1, 2], h[1, 2] @ W + b, rtol=1e-14)
    dh, dW, db = L.temporal_affine_backward(dout, cache)
    check_gradient(lambda v: L.temporal_affine_forward(v, W, b)[0], h, dout, dh)
    check_gradient(lambda v: L.temporal_affine_forward(h, v, b)[0], W, dout, dW)
    check_gradient(lambda v: L.temporal_affine_forward(h, W, v)[0], b, dout, db)


# ================================================================ masked softmax loss

def loss_case(seed, N=3, T=5, V=6):
    rng = np.random.default_rng(seed)
    lengths = padded_lengths(rng, N, T)
    return rng.standard_normal((N, T, V)) * 2, rng.integers(0, V, (N, T)), L.length_mask(lengths, T)


def test_log_softmax_by_hand_and_for_large_scores():
    scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    by_hand = np.log(np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True))
    assert rel_error(L.log_softmax(scores), by_hand) < 1e-12
    large = np.array([[1000.0, 0.0, -1000.0]])  # np.exp(1000.0) is inf: only the shifted form is finite
    got = L.log_softmax(large)
    assert np.all(np.isfinite(got[:, :2])) and got[0, 0] == 0.0 and got[0, 1] == -1000.0
    assert np.isclose(np.exp(got).sum(), 1.0)


def test_softmax_loss_by_hand():
    # one real token, uniform scores over 4 classes: loss = log 4, gradient 1/4 - one_hot
    scores, targets, mask = np.zeros((1, 2, 4)), np.array([[2, 0]]), np.array([[True, False]])
    loss, dscores = L.temporal_softmax_loss(scores, targets, mask)
    assert loss == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(dscores[0, 0], [0.25, 0.25, -0.75, 0.25], rtol=1e-15)
    np.testing.assert_array_equal(dscores[0, 1], 0)


def test_softmax_loss_gradient():
    scores, targets, mask = loss_case(2)
    _, dscores = L.temporal_softmax_loss(scores, targets, mask)
    numeric = numerical_gradient(lambda s: L.temporal_softmax_loss(s, targets, mask)[0], scores)
    assert rel_error(dscores, numeric) < GRAD_TOLERANCE


def test_softmax_loss_ignores_padded_positions():
    scores, targets, mask = loss_case(3)
    loss, dscores = L.temporal_softmax_loss(scores, targets, mask)
    assert (~mask).any()
    np.testing.assert_array_equal(dscores[~mask], 0)
    rng = np.random.default_rng(99)
    other_scores = np.where(mask[..., None], scores, rng.standard_normal(scores.shape) * 50)
    odd_targets = np.where(mask, targets, rng.choice([-100, -1, 6, 10**6], targets.shape))  # out of range
    loss2, dscores2 = L.temporal_softmax_loss(other_scores, odd_targets, mask)
    assert loss2 == loss
    np.testing.assert_array_equal(dscores2, dscores)


def test_softmax_loss_is_the_mean_over_real_tokens():
    scores, targets, mask = loss_case(4)
    loss, _ = L.temporal_softmax_loss(scores, targets, mask)
    per_token = [-np.log(np.exp(scores[n, t, targets[n, t]]) / np.exp(scores[n, t]).sum())
                 for n, t in zip(*np.nonzero(mask))]
    assert loss == pytest.approx(np.mean(per_token), rel=1e-13)


def test_softmax_loss_does_not_overflow():
    scores = np.array([[[1000.0, 0.0, -1000.0]]])
    loss, dscores = L.temporal_softmax_loss(scores, np.array([[1]]), np.array([[True]]))
    assert loss == pytest.approx(1000.0, rel=1e-15)
    assert np.isfinite(dscores).all()


def test_softmax_loss_rejects_an_empty_mask():
    with pytest.raises(ValueError, match="mask must select at least one token"):
        L.temporal_softmax_loss(np.zeros((1, 2, 3)), np.zeros((1, 2), int), np.zeros((1, 2), bool))


# ================================================================ many-to-one heads

def test_last_state_by_length():
    rng = np.random.default_rng(5)
    h, lengths = rng.standard_normal((3, 4, 2)), np.array([4, 1, 2])
    last, cache = L.last_state_by_length(h, lengths)
    np.testing.assert_array_equal(last, [h[0, 3], h[1, 0], h[2, 1]])
    dlast = rng.standard_normal((3, 2))
    dh = L.last_state_by_length_backward(dlast, cache)
    check_gradient(lambda v: L.last_state_by_length(v, lengths)[0], h, dlast, dh)


def test_masked_mean_pool():
    rng = np.random.default_rng(6)
    h, lengths = rng.standard_normal((3, 4, 2)), np.array([4, 1, 2])
    mask = L.length_mask(lengths, 4)
    pooled, cache = L.masked_mean_pool(h, mask)
    np.testing.assert_allclose(pooled, [h[0].mean(0), h[1, 0], h[2, :2].mean(0)], rtol=1e-14)
    dpooled = rng.standard_normal((3, 2))
    dh = L.masked_mean_pool_backward(dpooled, cache)
    np.testing.assert_array_equal(dh[~mask], 0)
    check_gradient(lambda v: L.masked_mean_pool(v, mask)[0], h, dpooled, dh)
    other = np.where(mask[..., None], h, 1e6)  # padded states do not change the mean
    np.testing.assert_array_equal(L.masked_mean_pool(other, mask)[0], pooled)


# ================================================================ inputs are not modified

def test_no_input_is_modified():
    rng = np.random.default_rng(7)
    scores, targets, mask = loss_case(7)
    h = rng.standard_normal((3, 5, 4))
    lengths = np.array([5, 1, 3])
    args = {"scores": scores, "targets": targets, "mask": mask, "h": h, "lengths": lengths}
    before = {k: v.copy() for k, v in args.items()}
    L.temporal_softmax_loss(scores, targets, mask)
    _, c = L.last_state_by_length(h, lengths)
    L.last_state_by_length_backward(np.ones((3, 4)), c)
    _, c = L.masked_mean_pool(h, mask)
    L.masked_mean_pool_backward(np.ones((3, 4)), c)
    L.reverse_padded(h, lengths)
    assert_unchanged(before, args)


# ================================================================ recurrent layers by name

def cell_params(cell, D, H, seed):
    return L.init_cell_params(cell, D, H, np.random.default_rng(seed))


def with_param(params, name, value):
    return {**params, name: value}


@pytest.mark.parametrize("cell", L.CELLS)
def test_init_cell_params_shapes_and_bound(cell):
    params = cell_params(cell, 3, 5, 0)
    G = L.GATES[cell]
    expected = {"Wx": (3, G * 5), "Wh": (5, G * 5), "b": (G * 5,), "bx": (G * 5,), "bh": (G * 5,)}
    assert set(params) == set(L.PARAM_NAMES[cell])
    for name, value in params.items():
        assert value.shape == expected[name]
        assert np.abs(value).max() <= 1 / np.sqrt(5)
    assert all(np.array_equal(params[k], cell_params(cell, 3, 5, 0)[k]) for k in params)  # seeded


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("cell", L.CELLS)
def test_recurrent_gradients(cell, fast):
    rng = np.random.default_rng(10)
    N, T, D, H = 2, 4, 3, 3
    x, h0, params = rng.standard_normal((N, T, D)), rng.uniform(-1, 1, (N, H)), cell_params(cell, D, H, 1)
    dh = rng.standard_normal((N, T, H))
    _, cache = L.recurrent_forward(cell, x, h0, params, fast=fast)
    dx, dh0, grads = L.recurrent_backward(dh, cache)
    assert set(grads) == set(params)
    check_gradient(lambda v: L.recurrent_forward(cell, v, h0, params, fast)[0], x, dh, dx)
    check_gradient(lambda v: L.recurrent_forward(cell, x, v, params, fast)[0], h0, dh, dh0)
    for name in params:
        check_gradient(lambda v: L.recurrent_forward(cell, x, h0, with_param(params, name, v), fast)[0],
                       params[name], dh, grads[name])


@pytest.mark.parametrize("cell", L.CELLS)
def test_recurrent_dispatches_to_the_cell_module(cell):
    from rnncourse import gru, lstm, rnn
    rng = np.random.default_rng(11)
    x, h0, p = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5)), cell_params(cell, 4, 5, 2)
    h, _ = L.recurrent_forward(cell, x, h0, p)
    want = {"rnn": lambda: rnn.rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])[0],
            "gru": lambda: gru.gru_forward(x, h0, p["Wx"], p["Wh"], p["bx"], p["bh"])[0],
            "lstm": lambda: lstm.lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])[0]}[cell]()
    np.testing.assert_array_equal(h, want)


def assert_close_relative_to_max(got, want, tolerance=1e-12):
    """Largest difference relative to the largest value (how tests/test_fast.py compares fast code)."""
    scale = max(np.abs(want).max(), 1e-300)
    assert np.abs(np.asarray(got) - want).max() / scale < tolerance


@pytest.mark.parametrize("cell", L.CELLS)
def test_fast_equals_teaching_code(cell):
    rng = np.random.default_rng(12)
    N, T, D, H = 3, 6, 4, 5
    x, lengths = rng.standard_normal((N, T, D)), np.array([6, 2, 4])
    p_f, p_b = cell_params(cell, D, H, 3), cell_params(cell, D, H, 4)
    dh = rng.standard_normal((N, T, 2 * H))
    results = {}
    for fast in (False, True):
        h, cache = L.bidirectional_forward(x, lengths, p_f, p_b, cell, fast=fast)
        dx, g_f, g_b = L.bidirectional_backward(dh, cache)
        hs, cache_s = L.stacked_forward(x, [p_f, cell_params(cell, H, H, 5)], cell, residual=True, fast=fast)
        dxs, gs = L.stacked_backward(dh[..., :H], cache_s)
        results[fast] = [h, dx, *g_f.values(), *g_b.values(), hs, dxs, *gs[0].values(), *gs[1].values()]
    for slow, quick in zip(results[False], results[True]):
        assert_close_relative_to_max(quick, slow)


# ================================================================ bidirectional on a padded batch

def bidirectional_case(cell, seed, N=4, T=5, D=3, H=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    lengths = padded_lengths(rng, N, T)
    return x, lengths, cell_params(cell, D, H, seed + 1), cell_params(cell, D, H, seed + 2)


@pytest.mark.parametrize("cell", L.CELLS)
def test_bidirectional_padded_batch_equals_each_sequence_alone(cell):
    x, lengths, p_f, p_b = bidirectional_case(cell, 20)
    H = p_f["Wh"].shape[0]
    x_padded = x.copy()
    x_padded[~L.length_mask(lengths, x.shape[1])] = 7.0  # whatever the padding holds
    h, _ = L.bidirectional_forward(x_padded, lengths, p_f, p_b, cell)
    for n, length in enumerate(lengths):
        alone = x[n:n + 1, :length]  # the sequence without padding
        zero = np.zeros((1, H))
        forward, _ = L.recurrent_forward(cell, alone, zero, p_f)
        backward, _ = L.recurrent_forward(cell, alone[:, ::-1], zero, p_b)  # read from its own end
        np.testing.assert_allclose(h[n, :length, :H], forward[0], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(h[n, :length, H:], backward[0, ::-1], rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(h[n, length:], 0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cell=st.sampled_from(L.CELLS), N=st.integers(1, 4), T=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_bidirectional_rows_do_not_see_padding_or_each_other(cell, N, T, seed):
    # random sizes and lengths: each row's output is what that row alone, unpadded, gives
    rng = np.random.default_rng(seed)
    x, lengths = rng.standard_normal((N, T, 2)), rng.integers(1, T + 1, N)
    p_f, p_b = L.init_cell_params(cell, 2, 3, rng), L.init_cell_params(cell, 2, 3, rng)
    h, _ = L.bidirectional_forward(x, lengths, p_f, p_b, cell)
    for n, length in enumerate(lengths):
        alone, _ = L.bidirectional_forward(x[n:n + 1, :length], np.array([length]), p_f, p_b, cell)
        np.testing.assert_allclose(h[n, :length], alone[0], rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(h[n, length:], 0)


def test_bidirectional_is_not_the_naive_flip():
    # the test above has power: flipping the whole padded batch gives other backward states
    x, lengths, p_f, p_b = bidirectional_case("rnn", 21)
    h, _ = L.bidirectional_forward(x, lengths, p_f, p_b, "rnn")
    H = p_f["Wh"].shape[0]
    naive, _ = L.recurrent_forward("rnn", x[:, ::-1], np.zeros((x.shape[0], H)), p_b)
    n = int(np.argmin(lengths))
    assert np.abs(naive[n, ::-1][:lengths[n]] - h[n, :lengths[n], H:]).max() > 1e-3


@pytest.mark.parametrize("cell", L.CELLS)
def test_bidirectional_gradients(cell):
    x, lengths, p_f, p_b = bidirectional_case(cell, 22, N=3, T=4, D=2, H=2)
    dh = np.random.default_rng(23).standard_normal((3, 4, 4))
    _, cache = L.bidirectional_forward(x, lengths, p_f, p_b, cell)
    dx, g_f, g_b = L.bidirectional_backward(dh, cache)
    np.testing.assert_array_equal(dx[~L.length_mask(lengths, 4)], 0)  # padding gets no gradient
    check_gradient(lambda v: L.bidirectional_forward(v, lengths, p_f, p_b, cell)[0], x, dh, dx,
                   COMPOSITE_TOLERANCE)
    for name in p_f:
        check_gradient(lambda v: L.bidirectional_forward(x, lengths, with_param(p_f, name, v), p_b, cell)[0],
                       p_f[name], dh, g_f[name], COMPOSITE_TOLERANCE)
        check_gradient(lambda v: L.bidirectional_forward(x, lengths, p_f, with_param(p_b, name, v), cell)[0],
                       p_b[name], dh, g_b[name], COMPOSITE_TOLERANCE)


# ================================================================ stacked layers

@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("cell", L.CELLS)
def test_stacked_gradients(cell, residual):
    rng = np.random.default_rng(30)
    N, T, D, H = 2, 3, 2, 3
    x = rng.standard_normal((N, T, D))
    params_list = [cell_params(cell, D, H, 31), cell_params(cell, H, H, 32), cell_params(cell, H, H, 33)]
    dh = rng.standard_normal((N, T, H))
    h_top, cache = L.stacked_forward(x, params_list, cell, residual=residual)
    assert len(cache.states) == 3 and cache.states[-1] is h_top
    dx, grads_list = L.stacked_backward(dh, cache)
    check_gradient(lambda v: L.stacked_forward(v, params_list, cell, residual)[0], x, dh, dx, COMPOSITE_TOLERANCE)
    for l, params in enumerate(params_list):
        for name in params:
            def f(v, l=l, name=name):
                changed = [with_param(p, name, v) if k == l else p for k, p in enumerate(params_list)]
                return L.stacked_forward(x, changed, cell, residual)[0]
            check_gradient(f, params[name], dh, grads_list[l][name], COMPOSITE_TOLERANCE)


@pytest.mark.parametrize("cell", L.CELLS)
def test_stacked_states_layer_by_layer(cell):
    rng = np.random.default_rng(34)
    x = rng.standard_normal((2, 4, 3))
    params_list = [cell_params(cell, 3, 5, 35), cell_params(cell, 5, 5, 36)]
    zero = np.zeros((2, 5))
    first, _ = L.recurrent_forward(cell, x, zero, params_list[0])
    second, _ = L.recurrent_forward(cell, first, zero, params_list[1])
    plain, cache = L.stacked_forward(x, params_list, cell)
    np.testing.assert_array_equal(cache.states[0], first)
    np.testing.assert_array_equal(plain, second)
    with_skip, cache = L.stacked_forward(x, params_list, cell, residual=True)
    np.testing.assert_array_equal(with_skip, second + first)  # f(h_1) + h_1
    np.testing.assert_array_equal(cache.states[0], first)  # layer 1 has no skip (its input is x)


def test_stacked_residual_needs_equal_sizes():
    params_list = [cell_params("rnn", 3, 5, 0), cell_params("rnn", 5, 4, 1)]
    with pytest.raises(ValueError, match=re.escape("params_list[1]['Wh'] must have H = 5 rows")):
        L.stacked_forward(np.zeros((1, 2, 3)), params_list, "rnn", residual=True)
    L.stacked_forward(np.zeros((1, 2, 3)), params_list, "rnn")  # fine without the skip


# ================================================================ attention

def attention_case(seed, N=3, S=5, Hq=4, Hk=3, A=6):
    rng = np.random.default_rng(seed)
    mask = L.length_mask(padded_lengths(rng, N, S), S)
    return {"query": rng.standard_normal((N, Hq)), "keys": rng.standard_normal((N, S, Hk)), "mask": mask,
            "Wq": rng.standard_normal((Hq, A)) / 2, "Wk": rng.standard_normal((Hk, A)) / 2,
            "v": rng.standard_normal(A)}


def test_additive_attention_by_hand():
    # v = 0 gives equal scores: the weights are uniform over the real steps, the context their mean
    keys = np.array([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    context, weights, _ = L.additive_attention_forward(np.ones((1, 2)), keys, np.array([[True, True, False]]),
                                                       np.ones((2, 3)), np.ones((2, 3)), np.zeros(3))
    np.testing.assert_array_equal(weights, [[0.5, 0.5, 0.0]])
    np.testing.assert_array_equal(context, [[0.5, 0.5]])


def test_additive_attention_weights_and_context():
    case = attention_case(40)
    context, weights, _ = L.additive_attention_forward(**case)
    mask = case["mask"]
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-14)
    np.testing.assert_array_equal(weights[~mask], 0.0)  # exactly 0
    assert (weights[mask] > 0).all()
    n, s = 0, 2  # one score by the formula
    score = case["v"] @ np.tanh(case["query"][n] @ case["Wq"] + case["keys"][n, s] @ case["Wk"])
    scores = [case["v"] @ np.tanh(case["query"][n] @ case["Wq"] + case["keys"][n, j] @ case["Wk"])
              for j in range(5)]
    assert weights[n, s] == pytest.approx(np.exp(score) / np.exp(scores).sum(), rel=1e-13)
    np.testing.assert_allclose(context, np.einsum("ns,nsh->nh", weights, case["keys"]), rtol=1e-14)
    other_keys = np.where(mask[..., None], case["keys"], 1e3)  # masked steps change nothing
    np.testing.assert_array_equal(L.additive_attention_forward(**{**case, "keys": other_keys})[0], context)


def test_additive_attention_gradients():
    case = attention_case(41)
    dcontext = np.random.default_rng(42).standard_normal((3, 3))
    _, _, cache = L.additive_attention_forward(**case)
    grads = dict(zip(("query", "keys", "Wq", "Wk", "v"), L.additive_attention_backward(dcontext, cache)))
    np.testing.assert_array_equal(grads["keys"][~case["mask"]], 0)
    for name, analytic in grads.items():
        check_gradient(lambda value: L.additive_attention_forward(**{**case, name: value})[0],
                       case[name], dcontext, analytic, COMPOSITE_TOLERANCE)


def test_dot_attention_weights_and_gradients():
    rng = np.random.default_rng(43)
    case = {"query": rng.standard_normal((3, 4)), "keys": rng.standard_normal((3, 5, 4)),
            "mask": L.length_mask(np.array([5, 1, 3]), 5)}
    context, weights, cache = L.dot_attention_forward(**case)
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-14)
    np.testing.assert_array_equal(weights[~case["mask"]], 0.0)
    np.testing.assert_array_equal(weights[1], [1, 0, 0, 0, 0])
    scores = np.einsum("h,sh->s", case["query"][2], case["keys"][2, :3])
    np.testing.assert_allclose(weights[2, :3], np.exp(scores) / np.exp(scores).sum(), rtol=1e-13)
    dcontext = rng.standard_normal((3, 4))
    dquery, dkeys = L.dot_attention_backward(dcontext, cache)
    check_gradient(lambda value: L.dot_attention_forward(value, case["keys"], case["mask"])[0],
                   case["query"], dcontext, dquery)
    check_gradient(lambda value: L.dot_attention_forward(case["query"], value, case["mask"])[0],
                   case["keys"], dcontext, dkeys)


def test_attention_softmax_does_not_overflow():
    query, keys = np.array([[100.0]]), np.array([[[10.0], [-10.0], [1e6]]])  # the masked score is huge
    _, weights, _ = L.dot_attention_forward(query, keys, np.array([[True, True, False]]))
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(weights, [[1.0, 0.0, 0.0]], atol=1e-300)


# ================================================================ bad input

def raises(match, f, *args, **kwargs):
    with pytest.raises(ValueError, match=re.escape(match)):
        f(*args, **kwargs)


def test_bad_tokens_and_lengths():
    W = np.zeros((4, 3))
    raises("tokens must be in 0..V-1 = 0..3 (V from W (4, 3)), got values from 0 to 4",
           L.embedding_forward, np.array([[0, 4]]), W)
    raises("tokens must be in 0..V-1 = 0..3", L.embedding_forward, np.array([[-1, 2]]), W)
    raises("tokens must be an integer array (N, T) in 0..V-1, got dtype float64 with shape (1, 2)",
           L.embedding_forward, np.array([[0.0, 1.0]]), W)
    raises("tokens must have 2 dimensions (N, T), got shape (3,)", L.embedding_forward, np.array([0, 1, 2]), W)
    h = np.zeros((2, 3, 4))
    raises("lengths must be in 1..T = 1..3 (T from h (2, 3, 4)), got values from 0 to 2",
           L.last_state_by_length, h, [0, 2])
    raises("lengths must be in 1..T = 1..3 (T from h (2, 3, 4)), got values from 1 to 4",
           L.last_state_by_length, h, [1, 4])
    raises("lengths must have shape (N,) = (2,) (N from h (2, 3, 4)), got (3,)", L.last_state_by_length, h, [1, 2, 3])
    raises("lengths must be an integer array (N,) in 1..T, got dtype float64 with shape (2,)",
           L.last_state_by_length, h, [1.0, 2.0])
    raises("lengths must be in 1..T = 1..3", L.length_mask, [1, 4], 3)
    raises("T must be an integer >= 1, got 0", L.length_mask, [1], 0)
    raises("lengths must be in 1..T = 1..3 (T from x (2, 3, 4))", L.reverse_padded, h, [3, 0])
    raises("x must have at least 2 dimensions (N, T, ...), got shape (3,)", L.reverse_padded, np.zeros(3), [1])
    raises("lengths must be in 1..T = 1..3 (T from x (2, 3, 4))", L.bidirectional_forward, h, [3, 5],
           cell_params("rnn", 4, 2, 0), cell_params("rnn", 4, 2, 1))


def test_bad_targets_and_masks():
    scores = np.zeros((2, 3, 4))
    mask = np.ones((2, 3), bool)
    raises("targets at the real positions (mask True) must be in 0..V-1 = 0..3 (V from scores (2, 3, 4)), "
           "got values from 0 to 4", L.temporal_softmax_loss, scores, np.array([[0, 0, 4], [0, 0, 0]]), mask)
    raises("targets must be an integer array (N, T), got dtype float64",
           L.temporal_softmax_loss, scores, np.zeros((2, 3)), mask)
    raises("targets must have shape (N, T) = (2, 3) (N=2 from scores (2, 3, 4), T=3 from scores (2, 3, 4)), "
           "got (3, 2)", L.temporal_softmax_loss, scores, np.zeros((3, 2), int), mask)
    raises("mask must be a boolean array (True at real steps), got dtype float64",
           L.temporal_softmax_loss, scores, np.zeros((2, 3), int), np.ones((2, 3)))
    raises("mask must have shape (N, T) = (2, 3)", L.masked_mean_pool, scores, np.ones((2, 4), bool))
    raises("mask must have at least one True entry in every row, rows [1] have none",
           L.masked_mean_pool, scores, np.array([[True, False, False], [False, False, False]]))
    case = attention_case(44)
    raises("mask must have at least one True entry in every row, rows [0] have none",
           L.additive_attention_forward, **{**case, "mask": np.zeros((3, 5), bool) | (np.arange(3) > 0)[:, None]})
    raises("mask must have shape (N, S) = (3, 5)", L.dot_attention_forward, np.zeros((3, 3)),
           case["keys"], np.ones((3, 4), bool))


def test_bad_shapes_and_parameters():
    raises("W must have shape (H, M) = (4, 5) (H=4 from h (2, 3, 4), M=5 from W (3, 5)), got (3, 5)",
           L.temporal_affine_forward, np.zeros((2, 3, 4)), np.zeros((3, 5)), np.zeros(5))
    raises("cell must be one of ('rnn', 'gru', 'lstm'), got 'tanh'", L.recurrent_forward,
           "tanh", np.zeros((1, 2, 3)), np.zeros((1, 4)), cell_params("rnn", 3, 4, 0))
    raises("params for cell 'gru' must be a dict with keys ('Wx', 'Wh', 'bx', 'bh'), got ['Wh', 'Wx', 'b']",
           L.recurrent_forward, "gru", np.zeros((1, 2, 3)), np.zeros((1, 4)), cell_params("rnn", 3, 4, 0))
    raises("params_bwd['Wh'] must have H = 4 rows like params_fwd['Wh'] (4, 4), got shape (2, 2)",
           L.bidirectional_forward, np.zeros((1, 2, 3)), [2], cell_params("rnn", 3, 4, 0), cell_params("rnn", 3, 2, 0))
    raises("params_list[1]: Wx must have shape", L.stacked_forward, np.zeros((1, 2, 3)),
           [cell_params("lstm", 3, 4, 0), cell_params("lstm", 3, 4, 1)], "lstm")
    raises("rng must be a numpy.random.Generator", L.init_cell_params, "rnn", 2, 3, 0)
    case = attention_case(45)
    raises("Wk must have shape (Hk, A) = (3, 6)", L.additive_attention_forward, **{**case, "Wk": np.zeros((4, 6))})
    raises("keys must have shape (N, S, H) = (3, 5, 4)", L.dot_attention_forward, case["query"], case["keys"],
           case["mask"])


def test_bad_upstream_gradients():
    _, cache = L.embedding_forward(np.array([[0, 1]]), np.zeros((3, 4)))
    raises("dout must have shape (N, T, D) = (1, 2, 4)", L.embedding_backward, np.zeros((1, 2, 3)), cache)
    _, cache = L.last_state_by_length(np.zeros((2, 3, 4)), [1, 3])
    raises("dlast must have shape (N, H) = (2, 4)", L.last_state_by_length_backward, np.zeros((4, 2)), cache)
    _, cache = L.bidirectional_forward(np.zeros((2, 3, 1)), [1, 3], cell_params("gru", 1, 2, 0),
                                       cell_params("gru", 1, 2, 1), "gru")
    raises("dh must have shape (N, T, 2H) = (2, 3, 4)", L.bidirectional_backward, np.zeros((2, 3, 2)), cache)
    _, _, cache = L.additive_attention_forward(**attention_case(46))
    raises("dcontext must have shape (N, Hk) = (3, 3)", L.additive_attention_backward, np.zeros((3, 4)), cache)


def test_attention_and_recurrent_inputs_not_modified():
    case = attention_case(47)
    before = {k: v.copy() for k, v in case.items()}
    _, _, cache = L.additive_attention_forward(**case)
    L.additive_attention_backward(np.ones((3, 3)), cache)
    assert_unchanged(before, case)
    x, lengths, p_f, p_b = bidirectional_case("lstm", 48)
    arrays = {"x": x, "lengths": lengths, **{f"f_{k}": v for k, v in p_f.items()},
              **{f"b_{k}": v for k, v in p_b.items()}}
    before = {k: v.copy() for k, v in arrays.items()}
    h, cache = L.bidirectional_forward(x, lengths, p_f, p_b, "lstm")
    L.bidirectional_backward(np.ones_like(h), cache)
    assert_unchanged(before, arrays)


# ----------------------------------------------------------------------------
# Self-attention
# ----------------------------------------------------------------------------

def self_attention_case(seed, N=2, T=6, D=3, A=4, Hv=5):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((N, T, D)), "Wq": rng.standard_normal((D, A)),
            "Wk": rng.standard_normal((D, A)), "Wv": rng.standard_normal((D, Hv))}


def self_attention_loop(x, Wq, Wk, Wv, causal):
    """Reference: one query step at a time, softmax written out, no masking tricks."""
    N, T, _ = x.shape
    out = np.zeros((N, T, Wv.shape[1]))
    for n in range(N):
        for t in range(T):
            visible = range(t + 1) if causal else range(T)
            q = x[n, t] @ Wq
            scores = np.array([q @ (x[n, s] @ Wk) / np.sqrt(Wq.shape[1]) for s in visible])
            weights = np.exp(scores - scores.max())
            weights /= weights.sum()
            out[n, t] = sum(w * (x[n, s] @ Wv) for w, s in zip(weights, visible))
    return out


@pytest.mark.parametrize("causal", [True, False])
def test_self_attention_matches_a_loop(causal):
    case = self_attention_case(60)
    out, weights = L.self_attention_forward(**case, causal=causal)
    assert out.shape == (2, 6, 5) and weights.shape == (2, 6, 6)
    assert rel_error(out, self_attention_loop(**case, causal=causal)) < 1e-12
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    if causal:  # no weight on the future, exactly
        assert np.all(weights[:, np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0)
    else:
        assert np.all(weights > 0)


@pytest.mark.parametrize("causal", [True, False])
def test_self_attention_matches_torch(causal):
    torch = pytest.importorskip("torch")
    case = self_attention_case(61, N=3, T=17, D=8, A=8, Hv=8)
    out, _ = L.self_attention_forward(**case, causal=causal)
    q, k, v = (torch.tensor(case["x"] @ case[name]) for name in ("Wq", "Wk", "Wv"))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal).numpy()
    assert rel_error(out, expected) < 1e-12


def test_self_attention_causal_output_ignores_the_future():
    case = self_attention_case(62)
    out, _ = L.self_attention_forward(**case)
    changed = {**case, "x": case["x"].copy()}
    changed["x"][:, 4:] += 10.0  # change steps 4 and 5
    out_changed, _ = L.self_attention_forward(**changed)
    np.testing.assert_array_equal(out_changed[:, :4], out[:, :4])
    assert not np.allclose(out_changed[:, 4:], out[:, 4:])


def test_self_attention_one_step_returns_its_value():
    case = self_attention_case(63, T=1)
    out, weights = L.self_attention_forward(**case)
    np.testing.assert_array_equal(weights, np.ones((2, 1, 1)))
    np.testing.assert_allclose(out[:, 0], case["x"][:, 0] @ case["Wv"], rtol=1e-14)


def test_self_attention_large_scores_do_not_overflow():
    case = self_attention_case(64)
    out, weights = L.self_attention_forward(**{**case, "Wq": 1e3 * case["Wq"]})
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(weights))


def test_self_attention_validation_and_no_mutation():
    case = self_attention_case(65)
    before = {k: v.copy() for k, v in case.items()}
    L.self_attention_forward(**case)
    assert_unchanged(before, case)
    raises("x must have 3 dimensions (N, T, D), got shape (6, 3)", L.self_attention_forward, **{**case, "x": np.zeros((6, 3))})
    raises("Wk must have shape (D, A) = (3, 4)", L.self_attention_forward, **{**case, "Wk": np.zeros((3, 5))})
    raises("Wv must have shape (D, Hv)", L.self_attention_forward, **{**case, "Wv": np.zeros((4, 5))})
    raises("causal must be True or False, got 'yes'", L.self_attention_forward, **case, causal="yes")
