"""Tests of rnncourse.gradcheck: rel_error and the two numeric gradients."""
import numpy as np
import pytest

from rnncourse.gradcheck import check_model_gradients, numerical_gradient, numerical_gradient_array, rel_error


# ---------------------------------------------------------------- rel_error

def test_rel_error_identical_arrays_is_zero():
    a = np.random.default_rng(0).standard_normal((3, 4))
    assert rel_error(a, a.copy()) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0  # 0 / max(1e-8, 0) = 0, not NaN


def test_rel_error_by_hand():
    # |1 - 3| / (|1| + |3|) = 2 / 4 = 0.5
    assert rel_error(np.array([1.0]), np.array([3.0])) == 0.5
    # the largest element-wise error: [0, |2 - 1| / 3, |-1 - 1| / 2] -> max = 1
    assert rel_error(np.array([5.0, 2.0, -1.0]), np.array([5.0, 1.0, 1.0])) == 1.0
    # the denominator never falls below 1e-8: |1e-9 - 0| / 1e-8 = 0.1
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(0.1, rel=1e-12)
    # lists and integers are accepted
    assert rel_error([1, 2], [1, 2]) == 0.0
    assert isinstance(rel_error([1.0], [3.0]), float)


def test_rel_error_is_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    assert rel_error(a, b) == rel_error(b, a)


def test_rel_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape.*\(2,\).*\(2, 1\)"):
        rel_error(np.zeros(2), np.zeros((2, 1)))


def test_rel_error_empty():
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


# ---------------------------------------------------------------- numerical_gradient

def test_numerical_gradient_of_sum_of_squares():
    x = np.random.default_rng(2).standard_normal((3, 4))
    grad = numerical_gradient(lambda v: np.sum(v**2), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    # centred differences are exact for a quadratic up to rounding
    np.testing.assert_allclose(grad, 2 * x, rtol=0, atol=1e-8)


def test_numerical_gradient_of_a_known_function():
    # a coupled function: f(x) = sum(tanh(A @ x)), gradient A.T (1 - tanh(A x)^2)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)
    grad = numerical_gradient(lambda v: np.sum(np.tanh(A @ v)), x)
    analytic = A.T @ (1 - np.tanh(A @ x) ** 2)
    assert rel_error(grad, analytic) < 1e-8


def test_numerical_gradient_step_size_and_scalar_point():
    # f(x) = x^3 at x = 2: centred difference = 3 x^2 + h^2 = 12 + h^2 exactly (in exact arithmetic)
    grad = numerical_gradient(lambda v: float(v) ** 3, np.array(2.0), h=1e-2)
    assert grad.shape == ()
    assert grad == pytest.approx(12.0 + 1e-4, rel=1e-10)


def test_numerical_gradient_does_not_modify_x():
    x = np.random.default_rng(4).standard_normal((2, 3))
    before = x.copy()
    seen = []
    numerical_gradient(lambda v: seen.append(v is x) or np.sum(v**3), x)
    np.testing.assert_array_equal(x, before)
    assert not any(seen)  # f is evaluated on a copy, not on x itself


def test_numerical_gradient_restores_each_element():
    # If an element were not restored, f at later elements would see a shifted point;
    # f = product of all entries couples them, so the gradient would be off.
    x = np.array([1.5, -2.0, 0.5, 3.0])
    grad = numerical_gradient(lambda v: np.prod(v), x)
    analytic = np.array([np.prod(np.delete(x, i)) for i in range(4)])
    assert rel_error(grad, analytic) < 1e-9


@pytest.mark.parametrize("x", [np.array([1, 2, 3]), np.array([True, False]), [1, 2]])
def test_numerical_gradient_rejects_integer_x(x):
    with pytest.raises(ValueError, match="x must be a float array"):
        numerical_gradient(lambda v: np.sum(v), x)


# ---------------------------------------------------------------- numerical_gradient_array

def test_numerical_gradient_array_of_matrix_product():
    rng = np.random.default_rng(5)
    x, W = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    dout = rng.standard_normal((3, 5))
    # f(x) = x @ W; d sum(f * dout) / dx = dout @ W.T, d/dW = x.T @ dout
    dx = numerical_gradient_array(lambda v: v @ W, x, dout)
    dW = numerical_gradient_array(lambda v: x @ v, W, dout)
    assert dx.shape == x.shape and dW.shape == W.shape
    assert rel_error(dx, dout @ W.T) < 1e-8
    assert rel_error(dW, x.T @ dout) < 1e-8


def test_numerical_gradient_array_elementwise_function():
    rng = np.random.default_rng(6)
    x, dout = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    grad = numerical_gradient_array(np.sin, x, dout)
    assert rel_error(grad, np.cos(x) * dout) < 1e-8


def test_numerical_gradient_array_when_f_returns_a_view_of_its_input():
    # f(x) = x (a view of the perturbed point) must still give dout, not zeros
    x, dout = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    grad = numerical_gradient_array(lambda v: v, x, dout)
    np.testing.assert_allclose(grad, dout, rtol=1e-9)


def test_numerical_gradient_array_does_not_modify_inputs():
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    x0, dout0 = x.copy(), dout.copy()
    numerical_gradient_array(lambda v: v**2, x, dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, dout0)


def test_numerical_gradient_array_wrong_dout_shape():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"dout must have the shape of f\(x\), \(2, 4\), got \(2, 3\)"):
        numerical_gradient_array(lambda v: v @ np.ones((3, 4)), x, np.ones((2, 3)))


def test_numerical_gradient_array_rejects_integer_x():
    with pytest.raises(ValueError, match="x must be a float array"):
        numerical_gradient_array(lambda v: v, np.arange(3), np.ones(3))


def test_check_model_gradients_passes_a_right_gradient_and_names_a_wrong_one():
    def loss_and_grads(params, x):
        loss = float(np.sum(params["w"] * x) + params["b"][0] ** 2)
        return loss, {"w": x.copy(), "b": 2 * params["b"]}

    params, x = {"w": np.array([0.5, -1.0]), "b": np.array([0.3])}, np.array([2.0, 3.0])
    check_model_gradients(loss_and_grads, params, x)

    def wrong_b(params, x):
        loss, grads = loss_and_grads(params, x)
        return loss, {**grads, "b": params["b"]}  # half the true gradient

    with pytest.raises(AssertionError, match="b"):
        check_model_gradients(wrong_b, params, x)
