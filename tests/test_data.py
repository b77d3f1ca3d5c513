"""Unit tests of rnncourse.data: the adding problem and the copy task."""
import numpy as np
import pytest

from rnncourse import data


def test_adding_problem_structure():
    x, y = data.adding_problem(500, 12, np.random.default_rng(0))
    assert x.shape == (500, 12, 2) and y.shape == (500,) and x.dtype == y.dtype == np.float64
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :6].sum(axis=1) == 1) and np.all(markers[:, 6:].sum(axis=1) == 1)
    np.testing.assert_allclose(y, (x[:, :, 0] * markers).sum(axis=1), rtol=1e-15)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] < 1))


def test_adding_problem_baseline_and_determinism():
    x, y = data.adding_problem(200_000, 4, np.random.default_rng(1))
    assert np.var(y) == pytest.approx(1 / 6, rel=0.02)
    a = data.adding_problem(3, 5, np.random.default_rng(2))
    b = data.adding_problem(3, 5, np.random.default_rng(2))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_copy_task():
    x, y = data.copy_task(4, length=3, delay=2, n_symbols=5, rng=np.random.default_rng(0))
    T = 2 * 3 + 2 + 1
    assert x.shape == (4, T, 7) and y.shape == (4, T)
    np.testing.assert_array_equal(x.sum(axis=2), 1)
    tokens = x.argmax(axis=2)
    np.testing.assert_array_equal(y[:, -3:], tokens[:, :3])
    assert np.all(y[:, :-3] == 5) and np.all(tokens[:, 5] == 6)


@pytest.mark.parametrize("call, match", [
    (lambda: data.adding_problem(0, 5, np.random.default_rng()), "n must be"),
    (lambda: data.adding_problem(3, 1, np.random.default_rng()), "T must be"),
    (lambda: data.adding_problem(3, 5, 42), "rng must be"),
    (lambda: data.copy_task(2, 0, 1, 3, np.random.default_rng()), "length must be"),
    (lambda: data.copy_task(2, 1, -1, 3, np.random.default_rng()), "delay must be"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
