"""The LSTM layer in numpy: forward and backward passes, in PyTorch's layout.

Shapes follow the course convention (batch first):

- ``x``: (N, T, D) a batch of N sequences of T steps with D features each
- ``h0``, ``c0``: (N, H) initial hidden and cell states; ``h``: (N, T, H) all hidden states
- ``Wx``: (D, 4H), ``Wh``: (H, 4H), ``b``: (4H,)

The 4H columns hold the four gates side by side in PyTorch's order i, f, g, o:
columns ``[0, H)`` are the input gate, ``[H, 2H)`` the forget gate, ``[2H, 3H)``
the candidate cell ``g`` and ``[3H, 4H)`` the output gate. One step computes

    a = x_t Wx + h_{t-1} Wh + b                  (N, 4H)
    i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

``Wx`` and ``Wh`` are the transposes of ``torch.nn.LSTM``'s ``weight_ih_l0`` and
``weight_hh_l0``, and ``b = bias_ih_l0 + bias_hh_l0``, so the same numbers load into
``torch.nn.LSTM`` (see :mod:`rnncourse.torch_compat`).

Every function is pure: it returns new arrays and never writes into its inputs.
"""
from typing import NamedTuple

import numpy as np

from ._validate import validate
from .activations import sigmoid, tanh

GATES = ("i", "f", "g", "o")  # the order of the gate blocks in Wx, Wh and b


class LSTMStepCache(NamedTuple):
    """What one forward step keeps for its backward step."""

    x: np.ndarray  # (N, D) input of the step
    h_prev: np.ndarray  # (N, H) hidden state before the step
    c_prev: np.ndarray  # (N, H) cell state before the step
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    i: np.ndarray  # (N, H) input gate, sigmoid(a_i)
    f: np.ndarray  # (N, H) forget gate, sigmoid(a_f)
    g: np.ndarray  # (N, H) candidate cell, tanh(a_g)
    o: np.ndarray  # (N, H) output gate, sigmoid(a_o)
    c_next: np.ndarray  # (N, H) cell state after the step
    h_next: np.ndarray  # (N, H) hidden state after the step


class LSTMCache(NamedTuple):
    """What the forward pass over a sequence keeps for the backward pass."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    c0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    i: np.ndarray  # (N, T, H) input gate of every step
    f: np.ndarray  # (N, T, H) forget gate of every step
    g: np.ndarray  # (N, T, H) candidate cell of every step
    o: np.ndarray  # (N, T, H) output gate of every step
    c: np.ndarray  # (N, T, H) every cell state
    h: np.ndarray  # (N, T, H) every hidden state


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """Run one time step of the LSTM.

    Args:
        x: (N, D) input at one time step
        h_prev: (N, H) hidden state from the previous step
        c_prev: (N, H) cell state from the previous step
        Wx: (D, 4H) input-to-hidden weights, gate blocks i, f, g, o
        Wh: (H, 4H) hidden-to-hidden weights, gate blocks i, f, g, o
        b: (4H,) bias, gate blocks i, f, g, o

    Returns:
        h_next: (N, H) new hidden state ``o * tanh(c_next)``
        c_next: (N, H) new cell state ``f * c_prev + i * g``
        cache: :class:`LSTMStepCache` for :func:`lstm_step_backward`
    """
    (x, h_prev, c_prev, Wx, Wh, b), sizes = validate(
        x=(x, ("N", "D")), h_prev=(h_prev, ("N", "H")), c_prev=(c_prev, ("N", "H")),
        Wx=(Wx, ("D", "4H")), Wh=(Wh, ("H", "4H")), b=(b, ("4H",)),
    )
    H = sizes["H"]
    a = x @ Wx + h_prev @ Wh + b  # (N, 4H) pre-activations of the four gates
    i = sigmoid(a[:, 0 * H:1 * H])  # input gate: how much of g to write
    f = sigmoid(a[:, 1 * H:2 * H])  # forget gate: how much of c_prev to keep
    g = tanh(a[:, 2 * H:3 * H])  # candidate cell
    o = sigmoid(a[:, 3 * H:4 * H])  # output gate: how much of the cell to show
    c_next = f * c_prev + i * g
    h_next = o * tanh(c_next)
    return h_next, c_next, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next, h_next)


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step.

    Args:
        dh_next: (N, H) gradient of the loss with respect to ``h_next``
        dc_next: (N, H) gradient of the loss with respect to ``c_next``
            (what the next step sends back through the cell state)
        cache: :class:`LSTMStepCache` from :func:`lstm_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dc_prev: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
        gradients of the loss with respect to each input of the step
    """
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next, h_next = cache
    (_, dh_next, dc_next), _ = validate(**{"cache.h_next": (h_next, ("N", "H"))},
                                        dh_next=(dh_next, ("N", "H")), dc_next=(dc_next, ("N", "H")))
    tanh_c = tanh(c_next)
    do = dh_next * tanh_c
    # c_next reaches the loss directly (dc_next) and through h_next = o * tanh(c_next)
    dc = dc_next + dh_next * o * (1 - tanh_c**2)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    da = np.concatenate([  # (N, 4H) gradient at the pre-activations, blocks i, f, g, o
        di * i * (1 - i),
        df * f * (1 - f),
        dg * (1 - g**2),
        do * o * (1 - o),
    ], axis=1)
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run the LSTM over whole sequences.

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, 4H) input-to-hidden weights, gate blocks i, f, g, o
        Wh: (H, 4H) hidden-to-hidden weights
        b: (4H,) bias
        c0: (N, H) initial cell state; default zeros

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`LSTMCache` for :func:`lstm_backward`
    """
    if c0 is None:
        c0 = np.zeros_like(np.asarray(h0))  # same shape and dtype as h0; validated with it below
    (x, h0, c0, Wx, Wh, b), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), c0=(c0, ("N", "H")),
        Wx=(Wx, ("D", "4H")), Wh=(Wh, ("H", "4H")), b=(b, ("4H",)),
    )
    N, T, H = sizes["N"], sizes["T"], sizes["H"]
    dtype = np.result_type(x, h0, c0, Wx, Wh, b)
    i, f, g, o, c, h = (np.empty((N, T, H), dtype=dtype) for _ in range(6))
    h_prev, c_prev = h0, c0
    for t in range(T):
        h_prev, c_prev, step = lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
        i[:, t], f[:, t], g[:, t], o[:, t] = step.i, step.f, step.g, step.o
        c[:, t], h[:, t] = c_prev, h_prev
    return h, LSTMCache(x, h0, c0, Wx, Wh, i, f, g, o, c, h)


def lstm_step_cache(cache, t):
    """The :class:`LSTMStepCache` of time step ``t`` inside an :class:`LSTMCache`."""
    h_prev = cache.h0 if t == 0 else cache.h[:, t - 1]
    c_prev = cache.c0 if t == 0 else cache.c[:, t - 1]
    return LSTMStepCache(cache.x[:, t], h_prev, c_prev, cache.Wx, cache.Wh,
                         cache.i[:, t], cache.f[:, t], cache.g[:, t], cache.o[:, t],
                         cache.c[:, t], cache.h[:, t])


def lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state,
            as it comes from the layers above (not yet including the path
            through later time steps); nothing comes from above on the cell states
        cache: :class:`LSTMCache` from :func:`lstm_forward`

    Returns:
        dx: (N, T, D), dh0: (N, H), dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    """
    (_, dh), _ = validate(**{"cache.h": (cache.h, ("N", "T", "H"))}, dh=(dh, ("N", "T", "H")))
    x, Wx, Wh = cache.x, cache.Wx, cache.Wh
    T = x.shape[1]
    dx = np.zeros_like(x, dtype=np.result_type(x, dh))
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[1], dtype=Wh.dtype)
    dh_prev = np.zeros_like(dh[:, 0])
    dc_prev = np.zeros_like(dh[:, 0])
    for t in reversed(range(T)):
        # h_t gets dh[:, t] from above plus what step t+1 sent back; c_t only the latter.
        dx[:, t], dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_prev, dc_prev, lstm_step_cache(cache, t))
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_prev, dc_prev, dWx, dWh, db
