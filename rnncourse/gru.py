"""The GRU layer in numpy: forward and backward passes, in PyTorch's layout.

Shapes follow the course convention (batch first):

- ``x``: (N, T, D) a batch of N sequences of T steps with D features each
- ``h0``: (N, H) initial hidden state; ``h``: (N, T, H) all hidden states
- ``Wx``: (D, 3H), ``Wh``: (H, 3H), ``bx``: (3H,), ``bh``: (3H,)

The 3H columns hold the gates side by side in PyTorch's order r, z, n: columns
``[0, H)`` are the reset gate, ``[H, 2H)`` the update gate and ``[2H, 3H)`` the
candidate state. One step computes (PyTorch's formula)

    r = sigmoid(x Wx_r + bx_r + h_prev Wh_r + bh_r)
    z = sigmoid(x Wx_z + bx_z + h_prev Wh_z + bh_z)
    n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n))
    h_next = (1 - z) * n + z * h_prev

**Two biases.** The course's other layers keep one bias ``b``, the sum of PyTorch's
``bias_ih`` and ``bias_hh``. The GRU cannot: ``bh_n`` sits inside ``r * (...)``, so it
is multiplied by the reset gate while ``bx_n`` is not, and the two are not
interchangeable. The GRU therefore keeps ``bx = bias_ih_l0`` and ``bh = bias_hh_l0``,
both (3H,). (The textbook GRU of Cho et al. applies r before the multiplication,
``n = tanh(x Wx_n + (r * h_prev) Wh_n + b_n)``; it is a different function.)
``Wx = weight_ih_l0.T`` and ``Wh = weight_hh_l0.T`` as for the other layers, so the
same numbers load into ``torch.nn.GRU`` (see :mod:`rnncourse.torch_compat`).

Every function is pure: it returns new arrays and never writes into its inputs.
"""
from typing import NamedTuple

import numpy as np

from ._validate import validate
from .activations import sigmoid, tanh

GATES = ("r", "z", "n")  # the order of the gate blocks in Wx, Wh, bx and bh


class GRUStepCache(NamedTuple):
    """What one forward step keeps for its backward step."""

    x: np.ndarray  # (N, D) input of the step
    h_prev: np.ndarray  # (N, H) hidden state before the step
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    r: np.ndarray  # (N, H) reset gate
    z: np.ndarray  # (N, H) update gate
    n: np.ndarray  # (N, H) candidate state
    hn: np.ndarray  # (N, H) h_prev Wh_n + bh_n, what the reset gate multiplies
    h_next: np.ndarray  # (N, H) hidden state after the step


class GRUCache(NamedTuple):
    """What the forward pass over a sequence keeps for the backward pass."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    r: np.ndarray  # (N, T, H) reset gate of every step
    z: np.ndarray  # (N, T, H) update gate of every step
    n: np.ndarray  # (N, T, H) candidate state of every step
    hn: np.ndarray  # (N, T, H) h_{t-1} Wh_n + bh_n of every step
    h: np.ndarray  # (N, T, H) every hidden state


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """Run one time step of the GRU.

    Args:
        x: (N, D) input at one time step
        h_prev: (N, H) hidden state from the previous step
        Wx: (D, 3H) input-to-hidden weights, gate blocks r, z, n
        Wh: (H, 3H) hidden-to-hidden weights, gate blocks r, z, n
        bx: (3H,) input bias (PyTorch's bias_ih), gate blocks r, z, n
        bh: (3H,) hidden bias (PyTorch's bias_hh), gate blocks r, z, n

    Returns:
        h_next: (N, H) new hidden state ``(1 - z) * n + z * h_prev``
        cache: :class:`GRUStepCache` for :func:`gru_step_backward`
    """
    (x, h_prev, Wx, Wh, bx, bh), sizes = validate(
        x=(x, ("N", "D")), h_prev=(h_prev, ("N", "H")),
        Wx=(Wx, ("D", "3H")), Wh=(Wh, ("H", "3H")), bx=(bx, ("3H",)), bh=(bh, ("3H",)),
    )
    H = sizes["H"]
    ax = x @ Wx + bx  # (N, 3H) input part of the three pre-activations
    ah = h_prev @ Wh + bh  # (N, 3H) recurrent part
    r = sigmoid(ax[:, 0 * H:1 * H] + ah[:, 0 * H:1 * H])  # reset gate
    z = sigmoid(ax[:, 1 * H:2 * H] + ah[:, 1 * H:2 * H])  # update gate: how much of h_prev to keep
    hn = ah[:, 2 * H:3 * H]  # h_prev Wh_n + bh_n
    n = tanh(ax[:, 2 * H:3 * H] + r * hn)  # candidate state
    h_next = (1 - z) * n + z * h_prev
    return h_next, GRUStepCache(x, h_prev, Wx, Wh, r, z, n, hn, h_next)


def gru_step_backward(dh_next, cache):
    """Backward pass of one GRU step.

    Args:
        dh_next: (N, H) gradient of the loss with respect to ``h_next``
        cache: :class:`GRUStepCache` from :func:`gru_step_forward`

    Returns:
        dx: (N, D), dh_prev: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
        gradients of the loss with respect to each input of the step
    """
    x, h_prev, Wx, Wh, r, z, n, hn, h_next = cache
    (_, dh_next), _ = validate(**{"cache.h_next": (h_next, ("N", "H"))}, dh_next=(dh_next, ("N", "H")))
    dn = dh_next * (1 - z)
    dz = dh_next * (h_prev - n)
    dan = dn * (1 - n**2)  # gradient at n's pre-activation
    dr = dan * hn
    dar = dr * r * (1 - r)
    daz = dz * z * (1 - z)
    # bx and bh enter r and z the same way; for n, the recurrent part is multiplied by r
    dax = np.concatenate([dar, daz, dan], axis=1)  # (N, 3H) gradient at x Wx + bx
    dah = np.concatenate([dar, daz, dan * r], axis=1)  # (N, 3H) gradient at h_prev Wh + bh
    dx = dax @ Wx.T
    dh_prev = dah @ Wh.T + dh_next * z  # through the gates, and directly through z * h_prev
    dWx = x.T @ dax
    dWh = h_prev.T @ dah
    dbx = dax.sum(axis=0)
    dbh = dah.sum(axis=0)
    return dx, dh_prev, dWx, dWh, dbx, dbh


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over whole sequences.

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, 3H) input-to-hidden weights, gate blocks r, z, n
        Wh: (H, 3H) hidden-to-hidden weights
        bx: (3H,) input bias (PyTorch's bias_ih)
        bh: (3H,) hidden bias (PyTorch's bias_hh)

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`GRUCache` for :func:`gru_backward`
    """
    (x, h0, Wx, Wh, bx, bh), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")),
        Wx=(Wx, ("D", "3H")), Wh=(Wh, ("H", "3H")), bx=(bx, ("3H",)), bh=(bh, ("3H",)),
    )
    N, T, H = sizes["N"], sizes["T"], sizes["H"]
    dtype = np.result_type(x, h0, Wx, Wh, bx, bh)
    r, z, n, hn, h = (np.empty((N, T, H), dtype=dtype) for _ in range(5))
    h_prev = h0
    for t in range(T):
        h_prev, step = gru_step_forward(x[:, t], h_prev, Wx, Wh, bx, bh)
        r[:, t], z[:, t], n[:, t], hn[:, t], h[:, t] = step.r, step.z, step.n, step.hn, h_prev
    return h, GRUCache(x, h0, Wx, Wh, r, z, n, hn, h)


def gru_step_cache(cache, t):
    """The :class:`GRUStepCache` of time step ``t`` inside a :class:`GRUCache`."""
    h_prev = cache.h0 if t == 0 else cache.h[:, t - 1]
    return GRUStepCache(cache.x[:, t], h_prev, cache.Wx, cache.Wh, cache.r[:, t], cache.z[:, t],
                        cache.n[:, t], cache.hn[:, t], cache.h[:, t])


def gru_backward(dh, cache):
    """Backpropagation through time for the GRU.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state,
            as it comes from the layers above (not yet including the path
            through later time steps)
        cache: :class:`GRUCache` from :func:`gru_forward`

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    """
    (_, dh), _ = validate(**{"cache.h": (cache.h, ("N", "T", "H"))}, dh=(dh, ("N", "T", "H")))
    x, Wx, Wh = cache.x, cache.Wx, cache.Wh
    T = x.shape[1]
    dx = np.zeros_like(x, dtype=np.result_type(x, dh))
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    dbx = np.zeros(Wh.shape[1], dtype=Wh.dtype)
    dbh = np.zeros(Wh.shape[1], dtype=Wh.dtype)
    dh_prev = np.zeros_like(dh[:, 0])
    for t in reversed(range(T)):
        # The gradient reaching h_t: from the layers above plus from step t+1.
        dx[:, t], dh_prev, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dh[:, t] + dh_prev, gru_step_cache(cache, t))
        dWx += dWx_t
        dWh += dWh_t
        dbx += dbx_t
        dbh += dbh_t
    return dx, dh_prev, dWx, dWh, dbx, dbh
