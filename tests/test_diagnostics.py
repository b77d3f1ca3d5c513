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
