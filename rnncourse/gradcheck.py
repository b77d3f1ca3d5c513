"""Numeric gradients by centred differences, and the relative error used to compare them.

The centred difference ``(f(x + h) - f(x - h)) / (2h)`` has a truncation error of
order ``h**2`` (the one-sided form only ``h``), so with float64 and ``h = 1e-5`` an
analytic gradient that is right agrees with it to about 1e-8 or better.
"""
import numpy as np


def rel_error(x, y):
    """Largest element-wise relative error ``|x - y| / max(1e-8, |x| + |y|)``.

    x, y: arrays of the same shape. Returns a float (0.0 for identical arrays).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got x {x.shape} and y {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _float_copy(name, x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"{name} must be a float array to be perturbed, got dtype {x.dtype}")
    return x.copy()


def numerical_gradient(f, x, h=1e-5):
    """Numeric gradient of a scalar function by centred differences.

    Args:
        f: function taking an array shaped like ``x`` and returning a scalar
        x: (any shape) float point at which to differentiate; not modified
        h: step size

    Returns:
        grad: same shape as ``x``, ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)``
    """
    point = _float_copy("x", x)
    grad = np.zeros_like(point)
    for i in np.ndindex(point.shape):
        original = point[i]
        point[i] = original + h
        f_plus = float(f(point))
        point[i] = original - h
        f_minus = float(f(point))
        point[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Numeric gradient of ``sum(f(x) * dout)`` for an array-valued ``f``.

    This is what a backward pass computes when ``dout`` is the gradient that
    arrives from above.

    Args:
        f: function taking an array shaped like ``x`` and returning an array
            shaped like ``dout``
        x: (any shape) float point at which to differentiate; not modified
        dout: (shape of f(x)) upstream gradient
        h: step size

    Returns:
        grad: same shape as ``x``
    """
    point = _float_copy("x", x)
    dout = np.asarray(dout)
    grad = np.zeros_like(point)
    for i in np.ndindex(point.shape):
        original = point[i]
        point[i] = original + h
        f_plus = np.array(f(point), dtype=np.float64)  # a copy: f may return a view of its input
        point[i] = original - h
        f_minus = np.array(f(point), dtype=np.float64)
        point[i] = original
        if f_plus.shape != dout.shape:
            raise ValueError(f"dout must have the shape of f(x), {f_plus.shape}, got {dout.shape}")
        grad[i] = np.sum((f_plus - f_minus) * dout) / (2 * h)
    return grad


def check_model_gradients(loss_and_grads, params, batch, rtol=1e-5, atol=1e-8):
    """Check every analytic gradient of a model's loss against centred differences.

    Args:
        loss_and_grads: function ``(params, batch) -> (loss, grads)``, as the models of
            :mod:`rnncourse.models` have
        params: dict name -> float array (not modified); batch: whatever ``loss_and_grads`` takes
        rtol, atol: tolerances of ``numpy.testing.assert_allclose``

    Raises:
        AssertionError: naming the first parameter whose gradient differs, or listing both
            sets of names if ``grads`` and ``params`` do not have the same keys.
    """
    _, grads = loss_and_grads(params, batch)
    assert set(grads) == set(params), f"gradients for {sorted(grads)}, parameters {sorted(params)}"
    for name in params:
        def loss_at(value, name=name):
            return loss_and_grads({**params, name: value}, batch)[0]
        np.testing.assert_allclose(grads[name], numerical_gradient(loss_at, params[name]),
                                   rtol=rtol, atol=atol, err_msg=name)
