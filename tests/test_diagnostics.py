"""Unit tests of rnncourse.diagnostics: agreement with rnn_backward, a hand-computed case, errors."""
import numpy as np
import pytest

from rnncourse import diagnostics, init
from rnncourse.rnn import rnn_backward, rnn_forward


def _problem(seed, N=3, T=7, D=2, H=4, activation="tanh", scale=1.0):
    rng = np.random.default_rng(seed)
    args = (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)),
            scale * rng.standard_normal((H, H)) / np.sqrt(H), rng.standard_normal(H))
    _, cache = rnn_forward(*args, activation=activation)
    return cache, rng.standard_normal((N, H))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_first_state_gradient_matches_rnn_backward(activation):
    cache, dh_last = _problem(0, activation=activation)
    dh = np.zeros(cache.h.shape)
    dh[:, -1] = dh_last
    dx, dh0, *_ = rnn_backward(dh, cache)
    per_step = diagnostics.hidden_gradients_through_time(dh_last, cache)
    np.testing.assert_array_equal(per_step[:, -1], dh_last)
    # dh_0 of rnn_backward is one more step back from per_step[:, 0]; dx_t = da_t Wx^T at every t
    _, dh_prev = per_step[:, 0], None
    from rnncourse.rnn import rnn_step_backward, step_cache
    dx0, dh_prev, *_ = rnn_step_backward(per_step[:, 0], step_cache(cache, 0))
    np.testing.assert_allclose(dh_prev, dh0, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx0, dx[:, 0], rtol=1e-12, atol=1e-15)


def test_norms_are_mean_per_example_norms():
    cache, dh_last = _problem(1)
    norms = diagnostics.gradient_norms_through_time(dh_last, cache)
    per_step = diagnostics.hidden_gradients_through_time(dh_last, cache)
    assert norms.shape == (cache.h.shape[1],)
    np.testing.assert_allclose(norms, np.linalg.norm(per_step, axis=2).mean(axis=0), rtol=1e-15)
    assert norms[-1] == pytest.approx(np.linalg.norm(dh_last, axis=1).mean())


def test_linear_regime_by_hand():
    # relu with positive states and Wh = 0.5 I: every step multiplies the gradient by 0.5 exactly
    N, T, H = 2, 5, 3
    x = np.ones((N, T, 1))
    _, cache = rnn_forward(x, np.zeros((N, H)), np.ones((1, H)), init.identity(H, 0.5), np.zeros(H), "relu")
    norms = diagnostics.gradient_norms_through_time(np.ones((N, H)), cache)
    np.testing.assert_allclose(norms, np.sqrt(3) * 0.5 ** np.arange(T)[::-1], rtol=1e-15)


def test_bound_holds():
    cache, dh_last = _problem(2, T=30, H=6, scale=2.0)
    norms = diagnostics.gradient_norms_through_time(dh_last, cache)
    sigma = np.linalg.norm(cache.Wh, 2)
    per_example = np.linalg.norm(diagnostics.hidden_gradients_through_time(dh_last, cache), axis=2)
    for t in range(30):
        assert np.all(per_example[:, t] <= per_example[:, -1] * sigma ** (29 - t) * (1 + 1e-12))
    assert norms.shape == (30,)


def test_no_mutation_and_errors():
    cache, dh_last = _problem(3)
    copies = [a.copy() for a in (dh_last, cache.x, cache.h, cache.Wh)]
    diagnostics.gradient_norms_through_time(dh_last, cache)
    for a, b in zip((dh_last, cache.x, cache.h, cache.Wh), copies):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dh_last must have shape"):
        diagnostics.gradient_norms_through_time(np.zeros((3, 5)), cache)
    with pytest.raises(ValueError, match="dh_last must have 2 dimensions"):
        diagnostics.hidden_gradients_through_time(np.zeros(4), cache)


def _delay_line(H, T, seed):
    """A ReLU RNN whose Wh shifts the state by one unit: with inputs in [0, 1), h_t[i] = u_{t-i} exactly."""
    u = np.random.default_rng(seed).uniform(0, 1, T)
    shift = np.eye(H, k=1)  # (h @ shift)[j] = h[j - 1]
    h, _ = rnn_forward(u[None, :, None], np.zeros((1, H)), np.eye(1, H), shift, np.zeros(H), "relu")
    return h[0], u


def test_delay_line_holds_exactly_its_last_H_inputs():
    H = 5
    states, u = _delay_line(H, 3000, seed=4)
    np.testing.assert_allclose(states[10], u[10 - np.arange(H)], rtol=0, atol=0)
    r2 = diagnostics.delay_recall(states, u, max_delay=12, n_train=1000)
    assert r2.shape == (13,)
    np.testing.assert_allclose(r2[:H], 1.0, atol=1e-12)
    assert np.all(r2[H:] < 0.02)  # independent inputs: nothing linear left beyond H steps
    assert diagnostics.memory_capacity(r2) == pytest.approx(H, abs=0.1)


def test_delay_recall_of_a_contracting_state_decays():
    H, T = 8, 3000
    rng = np.random.default_rng(5)
    u = rng.uniform(-1, 1, T)
    Wh = init.orthogonal(H, rng, gain=0.5)
    h, _ = rnn_forward(u[None, :, None], np.zeros((1, H)), 0.1 * rng.standard_normal((1, H)), Wh, np.zeros(H), "tanh")
    r2 = diagnostics.delay_recall(h[0], u, max_delay=20, n_train=1500)
    assert r2[0] > 0.99 and r2[-1] < 0.02
    assert diagnostics.memory_capacity(r2) < H


def test_delay_recall_errors():
    states, u = _delay_line(3, 200, seed=6)
    with pytest.raises(ValueError, match="inputs must have shape"):
        diagnostics.delay_recall(states, u[:-1], 5, 50)
    with pytest.raises(ValueError, match="n_train must be an integer >= 4"):
        diagnostics.delay_recall(states, u, 5, 3)
    with pytest.raises(ValueError, match="steps; max_delay"):
        diagnostics.delay_recall(states, u, 100, 98)
    with pytest.raises(ValueError, match="r2 must have 1 dimensions"):
        diagnostics.memory_capacity(np.zeros((2, 2)))
