"""Optimisers as pure functions: they return new parameters and a new state.

``params`` and ``grads`` are dicts ``{name: array}`` with the same keys and shapes.
"""
import numpy as np


def sgd_step(params, grads, lr):
    """One step of gradient descent.

    Args:
        params: dict name -> array; grads: dict name -> array of the same shape; lr: float > 0

    Returns:
        new_params: dict name -> array, ``params - lr * grads``
    """
    _check(params, grads, lr)
    return {k: params[k] - lr * grads[k] for k in params}


def adam_init(params):
    """The initial state of Adam for ``params``: zero moments, step 0."""
    return {"step": 0, "m": {k: np.zeros_like(v) for k, v in params.items()},
            "v": {k: np.zeros_like(v) for k, v in params.items()}}


def adam_step(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam (Kingma & Ba 2015), with bias correction.

    Args:
        params: dict name -> array; grads: dict name -> array of the same shape
        state: dict from :func:`adam_init` or a previous call (not modified)
        lr: float > 0, the step size

    Returns:
        new_params: dict name -> array
        new_state: dict, to pass to the next call
    """
    _check(params, grads, lr)
    step = state["step"] + 1
    m = {k: beta1 * state["m"][k] + (1 - beta1) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    new_params = {}
    for k in params:
        m_hat = m[k] / (1 - beta1**step)
        v_hat = v[k] / (1 - beta2**step)
        new_params[k] = params[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return new_params, {"step": step, "m": m, "v": v}


def _check(params, grads, lr):
    if set(params) != set(grads):
        raise ValueError(f"params and grads must have the same keys, got {sorted(params)} and {sorted(grads)}")
    for k in params:
        if np.shape(params[k]) != np.shape(grads[k]):
            raise ValueError(f"grads[{k!r}] must have the shape of params[{k!r}] {np.shape(params[k])}, got {np.shape(grads[k])}")
    if isinstance(lr, bool) or not np.isscalar(lr) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
