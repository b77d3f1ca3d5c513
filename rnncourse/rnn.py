"""The vanilla (Elman) recurrent layer in numpy: forward and backward passes.

Shapes follow the course convention (batch first):

- ``x``: (N, T, D) a batch of N sequences of T steps with D features each
- ``h0``: (N, H) initial hidden state; ``h``: (N, T, H) all hidden states
- ``Wx``: (D, H), ``Wh``: (H, H), ``b``: (H,)

One step computes ``h_t = f(x_t Wx + h_{t-1} Wh + b)``. ``Wx`` and ``Wh`` are the
transposes of PyTorch's ``weight_ih_l0`` and ``weight_hh_l0``, and ``b`` is the sum
of its two biases, so the same numbers load into ``torch.nn.RNN``
(see :mod:`rnncourse.torch_compat`).

Caches are named as in :mod:`~rnncourse.lstm` and :mod:`~rnncourse.gru`: :class:`RNNStepCache`
for one step, :class:`RNNCache` for a sequence, and :func:`rnn_step_cache` picks step ``t``
out of a sequence cache. :func:`rnn_backward` is plain backpropagation through time;
:func:`rnn_backward_truncated` runs it on each chunk of the sequence.

Every function is pure: it returns new arrays and never writes into its inputs.
"""
from typing import NamedTuple

import numpy as np

from ._validate import check_positive_int, validate
from .activations import get_activation


class RNNStepCache(NamedTuple):
    """What one forward step keeps for its backward step."""

    x: np.ndarray  # (N, D) input of the step
    h_prev: np.ndarray  # (N, H) hidden state before the step
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h_next: np.ndarray  # (N, H) hidden state after the step
    activation: str


class RNNCache(NamedTuple):
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
        cache: :class:`RNNStepCache` for :func:`rnn_step_backward`
    """
    (x, h_prev, Wx, Wh, b), _ = validate(
        x=(x, ("N", "D")), h_prev=(h_prev, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )
    f, _ = get_activation(activation)
    h_next = f(x @ Wx + h_prev @ Wh + b)
    return h_next, RNNStepCache(x, h_prev, Wx, Wh, h_next, activation)


def rnn_step_backward(dh_next, cache):
    """Backward pass of one time step.

    Args:
        dh_next: (N, H) gradient of the loss with respect to ``h_next``
        cache: :class:`RNNStepCache` from :func:`rnn_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
        gradients of the loss with respect to each input of the step
    """
    x, h_prev, Wx, Wh, h_next, activation = cache
    (_, dh_next), _ = validate(**{"cache.h_next": (h_next, ("N", "H"))}, dh_next=(dh_next, ("N", "H")))
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
        cache: :class:`RNNCache` for :func:`rnn_backward`
    """
    (x, h0, Wx, Wh, b), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )
    N, T, H = sizes["N"], sizes["T"], sizes["H"]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    h_prev = h0
    for t in range(T):
        h_prev, _ = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b, activation)
        h[:, t] = h_prev
    return h, RNNCache(x, h0, Wx, Wh, h, activation)


def rnn_step_cache(cache, t):
    """The :class:`RNNStepCache` of time step ``t`` inside an :class:`RNNCache`."""
    h_prev = cache.h0 if t == 0 else cache.h[:, t - 1]
    return RNNStepCache(cache.x[:, t], h_prev, cache.Wx, cache.Wh, cache.h[:, t], cache.activation)


def rnn_backward(dh, cache):
    """Backpropagation through time over whole sequences.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state,
            as it comes from the layers above (not yet including the path
            through later time steps)
        cache: :class:`RNNCache` from :func:`rnn_forward`

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    """
    (_, dh), _ = validate(**{"cache.h": (cache.h, ("N", "T", "H"))}, dh=(dh, ("N", "T", "H")))
    x, Wx, Wh = cache.x, cache.Wx, cache.Wh
    T = x.shape[1]
    dx = np.zeros_like(x, dtype=np.result_type(x, dh))
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[0], dtype=Wh.dtype)
    dh_prev = np.zeros_like(dh[:, 0])  # nothing comes back from after the last step
    for t in reversed(range(T)):
        # The gradient reaching h_t: from the layers above plus from step t+1.
        dx[:, t], dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_prev, rnn_step_cache(cache, t))
        dWx += dWx_t  # the weights are shared by every step: their gradients add up
        dWh += dWh_t
        db += db_t
    return dx, dh_prev, dWx, dWh, db


def rnn_chunk_cache(cache, start, stop):
    """The :class:`RNNCache` of steps ``[start, stop)`` of a sequence, starting from the state before ``start``."""
    h_start = cache.h0 if start == 0 else cache.h[:, start - 1]
    return RNNCache(cache.x[:, start:stop], h_start, cache.Wx, cache.Wh, cache.h[:, start:stop], cache.activation)


def rnn_backward_truncated(dh, cache, truncation):
    """Truncated backpropagation through time: :func:`rnn_backward` on each chunk.

    The sequence is cut into chunks of ``truncation`` steps, ``[0, k), [k, 2k), ...``.
    The gradient flows back through time inside a chunk but not from a chunk
    into the one before it: this is what ``h.detach()`` every k steps does in
    PyTorch. So each chunk is a short sequence of its own, starting from the
    hidden state the forward pass left before it, and gets full BPTT
    (:func:`rnn_backward`); the weights' gradients of the chunks add up, and
    ``dh0`` is what leaves the first chunk. With ``truncation=None`` or
    ``truncation >= T`` it equals :func:`rnn_backward`.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state
        cache: :class:`RNNCache` from :func:`rnn_forward`
        truncation: chunk length k >= 1, or ``None`` for no truncation

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    """
    check_positive_int("truncation", truncation, allow_none=True)
    (_, dh), sizes = validate(**{"cache.h": (cache.h, ("N", "T", "H"))}, dh=(dh, ("N", "T", "H")))
    T = sizes["T"]
    k = T if truncation is None else min(truncation, max(T, 1))
    dx = np.zeros_like(cache.x, dtype=np.result_type(cache.x, dh))
    dWx, dWh = np.zeros_like(cache.Wx), np.zeros_like(cache.Wh)
    db = np.zeros(cache.Wh.shape[0], dtype=cache.Wh.dtype)
    dh0 = np.zeros_like(dh[:, 0])
    for start in range(0, T, k):
        stop = min(start + k, T)
        dx[:, start:stop], dh_start, dWx_c, dWh_c, db_c = rnn_backward(
            dh[:, start:stop], rnn_chunk_cache(cache, start, stop))
        dWx += dWx_c
        dWh += dWh_c
        db += db_c
        if start == 0:
            dh0 = dh_start  # only the first chunk reaches h0
    return dx, dh0, dWx, dWh, db


# The name of the first release, kept because the released notebook of assignment 2 imports it.
step_cache = rnn_step_cache
