"""Unit tests of rnncourse.init: shapes, statistics, orthogonality, determinism, ValueErrors."""
import numpy as np
import pytest

from rnncourse import init


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_orthogonal_is_orthogonal(n):
    W = init.orthogonal(n, np.random.default_rng(n))
    assert W.shape == (n, n) and W.dtype == np.float64
    assert np.abs(W @ W.T - np.eye(n)).max() < 1e-12
    assert np.abs(W.T @ W - np.eye(n)).max() < 1e-12


def test_orthogonal_gain_and_determinism():
    W = init.orthogonal(6, np.random.default_rng(3), gain=1.5)
    assert np.abs(W @ W.T - 2.25 * np.eye(6)).max() < 1e-12
    np.testing.assert_array_equal(W, init.orthogonal(6, np.random.default_rng(3), gain=1.5))
    assert not np.array_equal(W, init.orthogonal(6, np.random.default_rng(4), gain=1.5))
    assert init.spectral_radius(W) == pytest.approx(1.5, rel=1e-12)


def test_orthogonal_follows_the_recipe_with_sign_fix():
    A = np.random.default_rng(5).standard_normal((4, 4))
    Q, R = np.linalg.qr(A)
    expected = Q * np.sign(np.diag(R))
    np.testing.assert_allclose(init.orthogonal(4, np.random.default_rng(5)), expected, rtol=0, atol=1e-15)
    # after the fix, R's diagonal is positive: Q^T A is upper triangular with a positive diagonal
    assert np.all(np.diag(expected.T @ A) > 0)
    A_copy = A.copy()
    init.orthogonalize(A)
    np.testing.assert_array_equal(A, A_copy)


def test_orthogonal_is_uniform_in_two_dimensions():
    rng = np.random.default_rng(0)
    angles = []
    for _ in range(4000):
        W = init.orthogonal(2, rng)
        if np.linalg.det(W) > 0:
            angles.append(np.arctan2(W[1, 0], W[0, 0]))
    counts = np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0]
    assert counts.min() > 0.8 * counts.mean()


def test_identity():
    np.testing.assert_array_equal(init.identity(3), np.eye(3))
    np.testing.assert_array_equal(init.identity(2, scale=0.5), 0.5 * np.eye(2))
    assert init.identity(1).dtype == np.float64


def test_xavier_statistics_and_shapes():
    rng = np.random.default_rng(0)
    U = init.xavier_uniform(300, 200, rng)
    G = init.xavier_normal(300, 200, rng)
    assert U.shape == G.shape == (300, 200)
    assert np.abs(U).max() <= np.sqrt(6 / 500)
    assert U.var() == pytest.approx(2 / 500, rel=0.03)
    assert G.var() == pytest.approx(2 / 500, rel=0.03)
    np.testing.assert_array_equal(init.xavier_normal(3, 4, np.random.default_rng(1)),
                                  init.xavier_normal(3, 4, np.random.default_rng(1)))


def test_spectral_radius_by_hand():
    assert init.spectral_radius(np.array([[0.0, 2.0], [0.5, 0.0]])) == pytest.approx(1.0)
    assert init.spectral_radius(np.diag([-3.0, 1.0])) == pytest.approx(3.0)


@pytest.mark.parametrize("call, match", [
    (lambda: init.orthogonal(0, np.random.default_rng()), "n must be"),
    (lambda: init.orthogonal(3, 0), "rng must be"),
    (lambda: init.orthogonal(2.5, np.random.default_rng()), "n must be"),
    (lambda: init.identity(-1), "n must be"),
    (lambda: init.xavier_uniform(0, 3, np.random.default_rng()), "fan_in"),
    (lambda: init.xavier_normal(3, True, np.random.default_rng()), "fan_out"),
    (lambda: init.spectral_radius(np.zeros((2, 3))), "W must have shape"),
    (lambda: init.orthogonalize(np.zeros(3)), "A must have 2 dimensions"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
