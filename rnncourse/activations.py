"""Activation functions of the recurrent cell and their derivatives.

The derivatives are written in terms of the activation's *output* ``y``,
because that is what the forward pass keeps in its cache:

========  ======================  =========================
name      y = f(a)                f'(a) written with y
========  ======================  =========================
tanh      tanh(a)                 1 - y**2
sigmoid   1 / (1 + exp(-a))       y * (1 - y)
relu      max(a, 0)               1 where y > 0, else 0
========  ======================  =========================
"""
import numpy as np


def tanh(a):
    """Hyperbolic tangent. a: any shape; returns the same shape, values in (-1, 1)."""
    return np.tanh(a)


def sigmoid(a):
    """Logistic sigmoid, computed without overflow for large abs(a).

    a: any shape; returns the same shape, values in [0, 1].
    """
    a = np.asarray(a)
    # exp(-|a|) never overflows; pick the algebraically equal form for each sign.
    z = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def relu(a):
    """Rectified linear unit max(a, 0). a: any shape; returns the same shape."""
    return np.maximum(a, 0.0)


def tanh_derivative(y):
    """Derivative of tanh at the point where tanh gave ``y``. y: any shape."""
    return 1.0 - y**2


def sigmoid_derivative(y):
    """Derivative of the sigmoid at the point where it gave ``y``. y: any shape."""
    return y * (1.0 - y)


def relu_derivative(y):
    """Derivative of ReLU at the point where it gave ``y`` (0 at y = 0). y: any shape."""
    y = np.asarray(y)
    return (y > 0).astype(np.result_type(y, np.float32))


ACTIVATIONS = {
    "tanh": (tanh, tanh_derivative),
    "sigmoid": (sigmoid, sigmoid_derivative),
    "relu": (relu, relu_derivative),
}


def get_activation(name):
    """Return ``(f, f_derivative_from_output)`` for the activation called ``name``."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        ) from None
