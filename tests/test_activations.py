"""Tests of rnncourse.activations: values by hand, stability, derivatives, lookup."""
import math
import warnings

import numpy as np
import pytest

from rnncourse import activations
from rnncourse.activations import (
    get_activation, relu, relu_derivative, sigmoid, sigmoid_derivative, tanh, tanh_derivative,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


# ---------------------------------------------------------------- values by hand

def test_tanh_by_hand():
    # tanh(a) = (e^a - e^-a) / (e^a + e^-a); at a = ln 2: (2 - 1/2) / (2 + 1/2) = 1.5 / 2.5 = 0.6
    a = np.array([0.0, LN2, -LN2])
    np.testing.assert_allclose(tanh(a), [0.0, 0.6, -0.6], rtol=1e-15, atol=1e-15)


def test_sigmoid_by_hand():
    # sigmoid(a) = 1 / (1 + e^-a); at ln 3: 1 / (1 + 1/3) = 0.75; at -ln 3: 1 / (1 + 3) = 0.25
    a = np.array([0.0, LN3, -LN3])
    np.testing.assert_allclose(sigmoid(a), [0.5, 0.75, 0.25], rtol=1e-15)


def test_relu_by_hand():
    a = np.array([-2.0, -1e-12, 0.0, 1e-12, 3.5])
    np.testing.assert_array_equal(relu(a), [0.0, 0.0, 0.0, 1e-12, 3.5])


def test_derivatives_by_hand():
    # tanh' = 1 - y**2: y = 0.6 -> 0.64, y = 0 -> 1
    np.testing.assert_allclose(tanh_derivative(np.array([0.6, 0.0, -0.6])), [0.64, 1.0, 0.64], rtol=1e-15)
    # sigmoid' = y (1 - y): y = 0.75 -> 0.1875, y = 0.5 -> 0.25
    np.testing.assert_allclose(sigmoid_derivative(np.array([0.75, 0.5, 0.25])), [0.1875, 0.25, 0.1875], rtol=1e-15)
    # relu' = 1 where y > 0, 0 where y = 0 (by convention at the kink)
    np.testing.assert_array_equal(relu_derivative(np.array([0.0, 1e-12, 2.0])), [0.0, 1.0, 1.0])


def test_scalars_are_accepted():
    assert float(tanh(0.0)) == 0.0
    assert float(sigmoid(0.0)) == 0.5
    assert float(relu(-2.0)) == 0.0
    assert float(tanh_derivative(0.0)) == 1.0
    assert float(sigmoid_derivative(0.5)) == 0.25
    assert float(relu_derivative(2.0)) == 1.0
    assert float(relu_derivative(0.0)) == 0.0


@pytest.mark.parametrize("f", [tanh, sigmoid, relu, tanh_derivative, sigmoid_derivative, relu_derivative])
def test_shape_and_dtype_are_kept(f):
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        a = rng.uniform(-0.9, 0.9, (2, 3, 4)).astype(dtype)
        out = f(a)
        assert out.shape == (2, 3, 4)
        assert out.dtype == dtype


@pytest.mark.parametrize("f", [tanh, sigmoid, relu, tanh_derivative, sigmoid_derivative, relu_derivative])
def test_input_is_not_modified(f):
    a = np.array([-3.0, -0.5, 0.0, 0.25, 0.9])
    copy = a.copy()
    f(a)
    np.testing.assert_array_equal(a, copy)


# ---------------------------------------------------------------- stability

def test_sigmoid_is_finite_at_large_inputs_without_warnings():
    a = np.array([-1000.0, -745.0, -30.0, 30.0, 745.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow, invalid) fails the test
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = sigmoid(a)
    assert np.all(np.isfinite(y))
    assert np.all((y >= 0) & (y <= 1))
    assert y[-1] == 1.0 and y[0] == 0.0
    # sigmoid(-30) = e^-30 / (1 + e^-30); sigmoid(30) = 1 / (1 + e^-30)
    e30 = math.exp(-30.0)
    np.testing.assert_allclose(y[[2, 3]], [e30 / (1 + e30), 1 / (1 + e30)], rtol=1e-15)


def test_sigmoid_float32_large_inputs():
    a = np.array([-1000.0, -100.0, 100.0, 1000.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = sigmoid(a)
    assert y.dtype == np.float32
    # e^-100 = 3.7e-44 is a float32 subnormal; e^-1000 rounds to 0
    assert y[0] == 0.0 and 0.0 <= y[1] < 1e-40
    np.testing.assert_array_equal(y[2:], [1.0, 1.0])


def test_tanh_large_inputs_saturate():
    np.testing.assert_array_equal(tanh(np.array([-1000.0, 1000.0])), [-1.0, 1.0])


# ---------------------------------------------------------------- derivatives vs numeric

@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu"])
def test_derivative_matches_centred_difference(name):
    f, f_derivative = get_activation(name)
    a = np.linspace(-4.0, 4.0, 41) + 0.013  # 0.013 keeps every point away from relu's kink at 0
    assert np.min(np.abs(a)) > 1e-3
    h = 1e-5
    numeric = (f(a + h) - f(a - h)) / (2 * h)
    analytic = f_derivative(f(a))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-8, atol=1e-10)


def test_derivatives_against_closed_forms():
    a = np.linspace(-3.0, 3.0, 13)
    # d/da tanh(a) = 1 / cosh(a)**2; d/da sigmoid(a) = e^-a / (1 + e^-a)**2
    np.testing.assert_allclose(tanh_derivative(np.tanh(a)), 1 / np.cosh(a) ** 2, rtol=1e-12)
    np.testing.assert_allclose(sigmoid_derivative(1 / (1 + np.exp(-a))),
                               np.exp(-a) / (1 + np.exp(-a)) ** 2, rtol=1e-12)


# ---------------------------------------------------------------- lookup

def test_get_activation_returns_the_pairs():
    assert get_activation("tanh") == (tanh, tanh_derivative)
    assert get_activation("sigmoid") == (sigmoid, sigmoid_derivative)
    assert get_activation("relu") == (relu, relu_derivative)
    assert set(activations.ACTIVATIONS) == {"tanh", "sigmoid", "relu"}


@pytest.mark.parametrize("bad", ["softmax", "Tanh", "", None, ["tanh"], 3])
def test_get_activation_rejects_unknown_names(bad):
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'sigmoid', 'tanh'\]") as info:
        get_activation(bad)
    assert repr(bad) in str(info.value)
