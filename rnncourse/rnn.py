"""The vanilla (Elman) recurrent layer in numpy: forward and backward passes.

Shapes follow the course convention (batch first):

- ``x``: (N, T, D) a batch of N sequences of T steps with D features each
- ``h0``: (N, H) initial hidden state; ``h``: (N, T, H) all hidden states
- ``Wx``: (D, H), ``Wh``: (H, H), ``b``: (H,)

One step computes ``h_t = f(x_t Wx + h_{t-1} Wh + b)``. ``Wx`` and ``Wh`` are the
transposes of PyTorch's ``weight_ih_l0`` and ``weight_hh_l0``, and ``b`` is the sum
of its two biases, so the same numbers load into ``torch.nn.RNN``
(see :mod:`rnncourse.torch_compat`).

Every function is pure: it returns new arrays and never writes into its inputs.
"""
from typing import NamedTuple

import numpy as np

from ._validate import as_float_array, check_shapes
from .activations import get_activation


class StepCache(NamedTuple):
    """What one forward step keeps for its backward step."""

    x: np.ndarray  # (N, D) input of the step
    h_prev: np.ndarray  # (N, H) hidden state before the step
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h_next: np.ndarray  # (N, H) hidden state after the step
    activation: str


class SequenceCache(NamedTuple):
    """What the forward pass over a sequence keeps for the backward pass."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h: np.ndarray  # (N, T, H) every hidden state
    activation: str


def rnn_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
    """Run one time step of the recurrent cell.

    Args:
        x: (N, D) input at one time step
        h_prev: (N, H) hidden state from the previous step
        Wx: (D, H) input-to-hidden weights
        Wh: (H, H) hidden-to-hidden weights
        b: (H,) bias
        activation: ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``

    Returns:
        h_next: (N, H) new hidden state ``f(x Wx + h_prev Wh + b)``
        cache: :class:`StepCache` for :func:`rnn_step_backward`
    """
    x, h_prev, Wx, Wh, b = (
        as_float_array(name, value)
        for name, value in zip(("x", "h_prev", "Wx", "Wh", "b"), (x, h_prev, Wx, Wh, b))
    )
    check_shapes(
        x=(x, ("N", "D")), h_prev=(h_prev, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )
    f, _ = get_activation(activation)
    h_next = f(x @ Wx + h_prev @ Wh + b)
    return h_next, StepCache(x, h_prev, Wx, Wh, h_next, activation)


def rnn_step_backward(dh_next, cache):
    """Backward pass of one time step.

    Args:
        dh_next: (N, H) gradient of the loss with respect to ``h_next``
        cache: :class:`StepCache` from :func:`rnn_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
        gradients of the loss with respect to each input of the step
    """
    x, h_prev, Wx, Wh, h_next, activation = cache
    dh_next = as_float_array("dh_next", dh_next)
    check_shapes(**{"cache.h_next": (h_next, ("N", "H"))}, dh_next=(dh_next, ("N", "H")))
    _, f_derivative = get_activation(activation)
    da = dh_next * f_derivative(h_next)  # (N, H) gradient at the pre-activation
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
    """Run the recurrent layer over whole sequences.

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, H) input-to-hidden weights
        Wh: (H, H) hidden-to-hidden weights
        b: (H,) bias
        activation: ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`SequenceCache` for :func:`rnn_backward`
    """
    x, h0, Wx, Wh, b = (
        as_float_array(name, value)
        for name, value in zip(("x", "h0", "Wx", "Wh", "b"), (x, h0, Wx, Wh, b))
    )
    sizes = check_shapes(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )
    N, T, H = sizes["N"], sizes["T"], sizes["H"]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    h_prev = h0
    for t in range(T):
        h_prev, _ = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b, activation)
        h[:, t] = h_prev
    return h, SequenceCache(x, h0, Wx, Wh, h, activation)


def step_cache(cache, t):
    """The :class:`StepCache` of time step ``t`` inside a :class:`SequenceCache`."""
    h_prev = cache.h0 if t == 0 else cache.h[:, t - 1]
    return StepCache(cache.x[:, t], h_prev, cache.Wx, cache.Wh, cache.h[:, t], cache.activation)


def rnn_backward(dh, cache):
    """Backpropagation through time over whole sequences.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state,
            as it comes from the layers above (not yet including the path
            through later time steps)
        cache: :class:`SequenceCache` from :func:`rnn_forward`

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    """
    return rnn_backward_truncated(dh, cache, truncation=None)


def rnn_backward_truncated(dh, cache, truncation):
    """Truncated backpropagation through time.

    The sequence is cut into chunks of ``truncation`` steps, ``[0, k), [k, 2k), ...``.
    The gradient flows back through time inside a chunk but not from a chunk
    into the one before it: this is what ``h.detach()`` every k steps does in
    PyTorch. With ``truncation=None`` or ``truncation >= T`` it equals full BPTT.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state
        cache: :class:`SequenceCache` from :func:`rnn_forward`
        truncation: chunk length k >= 1, or ``None`` for no truncation

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    """
    if truncation is not None and (isinstance(truncation, bool) or not isinstance(truncation, (int, np.integer)) or truncation < 1):
        raise ValueError(f"truncation must be None or an integer >= 1, got {truncation!r}")
    dh = as_float_array("dh", dh)
    check_shapes(**{"cache.h": (cache.h, ("N", "T", "H"))}, dh=(dh, ("N", "T", "H")))
    x, Wx, Wh = cache.x, cache.Wx, cache.Wh
    T = x.shape[1]
    dx = np.zeros_like(x, dtype=np.result_type(x, dh))
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[0], dtype=Wh.dtype)
    dh_prev = np.zeros_like(dh[:, 0])
    for t in reversed(range(T)):
        # The gradient reaching h_t: from the layers above plus from step t+1.
        dx[:, t], dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_prev, step_cache(cache, t))
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
        if truncation is not None and t > 0 and t % truncation == 0:
            dh_prev = np.zeros_like(dh_prev)  # a chunk starts at t: stop here
    return dx, dh_prev, dWx, dWh, db
