"""Fast versions of the sequence-level RNN, LSTM and GRU passes, for real workloads.

:mod:`rnncourse.rnn`, :mod:`rnncourse.lstm` and :mod:`rnncourse.gru` are written to be read:
one function per time step, called in a loop. This module computes the same numbers
(same arguments, same returned values, same shapes, PyTorch's gate order) with the
structure that makes numpy fast; the appendix *Performance* measures the difference.

What is different, and why it is faster:

- **One GEMM for every step's input projection.** ``x @ Wx`` does not depend on the
  recurrence, so it is computed for all N*T rows at once, ``x.reshape(N*T, D) @ Wx``:
  a large matrix product that runs near the machine's GEMM rate, instead of T small ones.
  Inside the time loop only the recurrent product ``h_{t-1} @ Wh`` remains.
- **Preallocated buffers, ufuncs with ``out=``.** Every array the loop writes is created
  once with ``np.empty``; each step writes its gates and states into slices of those
  buffers, so the loop allocates nothing and concatenates nothing.
- **Big GEMMs after the backward loop.** The loop only carries the recurrence
  (``dh_{t-1} = da_t @ Wh.T``) and stores each step's pre-activation gradient ``da_t`` in
  an (N, T, G*H) buffer. The weight and input gradients are then single products over
  all N*T rows: ``dWx = x2d.T @ da2d``, ``dx = da2d @ Wx.T``, ``dWh = hprev2d.T @ da2d``,
  ``db = da2d.sum(0)``.

The caches are this module's own NamedTuples (they keep, e.g., ``tanh(c)`` so that the
backward does not recompute it). Every function validates its arguments as the teaching
code does (``ValueError`` naming the argument and shapes), keeps float32 as float32
(mixed dtypes compute in their common dtype), and never writes into its inputs.
Additions are done in the teaching code's order, so that both agree to rounding.
"""
from typing import NamedTuple

import numpy as np

from ._validate import as_float_array, check_gated_shapes, check_shapes
from .activations import get_activation

__all__ = [
    "RNNFastCache", "LSTMFastCache", "GRUFastCache",
    "rnn_forward_fast", "rnn_backward_fast",
    "lstm_forward_fast", "lstm_backward_fast",
    "gru_forward_fast", "gru_backward_fast",
]


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def _floats(names, values):
    arrays = [as_float_array(name, value) for name, value in zip(names, values)]
    return arrays, np.result_type(*arrays)


def _c(array, dtype):
    """``array`` as a C-contiguous array of ``dtype`` (no copy when it already is one)."""
    return np.ascontiguousarray(array, dtype=dtype)


def _sigmoid_(a):
    """Logistic sigmoid of ``a``, in place: 1 / (1 + exp(-a)).

    exp(-a) overflows to inf for very negative a (a < -709 in float64), where 1 / inf = 0
    is the right answer to the dtype's precision; the warning is silenced by the caller.
    """
    # np.multiply by -1, not np.negative: numpy 2.4's float32 np.negative(a, out=a) gives
    # wrong numbers on some strided views (e.g. a[:, 3:4] of a (2, 4) array).
    np.multiply(a, -1, out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a


def _prev_states(first, states):
    """(N, T, H) states shifted by one step: ``[first, states[:, 0], ..., states[:, T-2]]``."""
    shifted = np.empty_like(states)
    shifted[:, 0] = first
    shifted[:, 1:] = states[:, :-1]
    return shifted


def _upstream(dh, like):
    dh = as_float_array("dh", dh)
    check_shapes(**{"cache.h": (like, ("N", "T", "H"))}, dh=(dh, ("N", "T", "H")))
    return dh


# ----------------------------------------------------------------------------
# vanilla RNN
# ----------------------------------------------------------------------------

class RNNFastCache(NamedTuple):
    """What :func:`rnn_forward_fast` keeps for :func:`rnn_backward_fast`."""

    x: np.ndarray  # (N, T, D), C-contiguous, the common dtype
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h: np.ndarray  # (N, T, H) every hidden state
    activation: str


def rnn_forward_fast(x, h0, Wx, Wh, b, activation="tanh"):
    """Run the recurrent layer over whole sequences; same result as :func:`rnncourse.rnn.rnn_forward`.

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, H) input-to-hidden weights
        Wh: (H, H) hidden-to-hidden weights
        b: (H,) bias
        activation: ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`RNNFastCache` for :func:`rnn_backward_fast`
    """
    (x, h0, Wx, Wh, b), dtype = _floats(("x", "h0", "Wx", "Wh", "b"), (x, h0, Wx, Wh, b))
    sizes = check_shapes(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )
    get_activation(activation)  # ValueError for an unknown name
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    x, h0, Wx, Wh, b = (_c(v, dtype) for v in (x, h0, Wx, Wh, b))
    h = np.empty((N, T, H), dtype=dtype)
    # The input projection of every step in one GEMM; h holds it until step t overwrites it.
    np.matmul(x.reshape(N * T, D), Wx, out=h.reshape(N * T, H))
    a = np.empty((N, H), dtype=dtype)  # the pre-activation of one step
    h_prev = h0
    with np.errstate(over="ignore"):
        for t in range(T):
            np.matmul(h_prev, Wh, out=a)
            np.add(h[:, t], a, out=a)  # x_t Wx + h_{t-1} Wh ...
            a += b  # ... + b, in the teaching code's order
            h_t = h[:, t]
            if activation == "tanh":
                np.tanh(a, out=h_t)
            elif activation == "relu":
                np.maximum(a, 0, out=h_t)
            else:
                h_t[...] = _sigmoid_(a)
            h_prev = h_t
    return h, RNNFastCache(x, h0, Wx, Wh, h, activation)


def rnn_backward_fast(dh, cache):
    """Backpropagation through time; same result as :func:`rnncourse.rnn.rnn_backward`.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state
            (from the layers above, not yet including the path through later steps)
        cache: :class:`RNNFastCache` from :func:`rnn_forward_fast`

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    """
    x, h0, Wx, Wh, h, activation = cache
    dh = _upstream(dh, h)
    N, T, D = x.shape
    H = h.shape[2]
    dtype = np.result_type(h, dh)
    da = np.empty((N, T, H), dtype=dtype)  # gradient at every step's pre-activation
    dh_next = np.zeros((N, H), dtype=dtype)  # what step t+1 sends back to h_t
    mask = np.empty((N, H), dtype=bool) if activation == "relu" else None
    for t in reversed(range(T)):
        da_t, h_t = da[:, t], h[:, t]
        np.add(dh[:, t], dh_next, out=da_t)  # the gradient reaching h_t
        if activation == "tanh":  # da = dh_t * (1 - h_t**2)
            np.multiply(h_t, h_t, out=dh_next)
            np.subtract(1, dh_next, out=dh_next)
            da_t *= dh_next
        elif activation == "relu":
            np.greater(h_t, 0, out=mask)
            da_t *= mask
        else:  # sigmoid: da = dh_t * (h_t * (1 - h_t))
            np.subtract(1, h_t, out=dh_next)
            dh_next *= h_t
            da_t *= dh_next
        np.matmul(da_t, Wh.T, out=dh_next)
    da2d = da.reshape(N * T, H)
    dx = np.matmul(da2d, Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2d
    dWh = _prev_states(h0, h).reshape(N * T, H).T @ da2d
    db = da2d.sum(axis=0)
    return dx, dh_next, dWx, dWh, db


# ----------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------

class LSTMFastCache(NamedTuple):
    """What :func:`lstm_forward_fast` keeps for :func:`lstm_backward_fast`."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    c0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    gates: np.ndarray  # (N, T, 4H) i, f, g, o of every step, side by side
    c: np.ndarray  # (N, T, H) every cell state
    tanh_c: np.ndarray  # (N, T, H) tanh of every cell state
    h: np.ndarray  # (N, T, H) every hidden state


def lstm_forward_fast(x, h0, Wx, Wh, b, c0=None):
    """Run the LSTM over whole sequences; same result as :func:`rnncourse.lstm.lstm_forward`.

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, 4H) input-to-hidden weights, gate blocks i, f, g, o
        Wh: (H, 4H) hidden-to-hidden weights
        b: (4H,) bias
        c0: (N, H) initial cell state; default zeros

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`LSTMFastCache` for :func:`lstm_backward_fast`
    """
    (x, h0, Wx, Wh, b), dtype = _floats(("x", "h0", "Wx", "Wh", "b"), (x, h0, Wx, Wh, b))
    c0 = np.zeros_like(h0) if c0 is None else as_float_array("c0", c0)
    dtype = np.result_type(dtype, c0)
    sizes = check_gated_shapes(
        4, x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), c0=(c0, ("N", "H")),
        Wx=(Wx, ("D", "4H")), Wh=(Wh, ("H", "4H")), b=(b, ("4H",)),
    )
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    x, h0, c0, Wx, Wh, b = (_c(v, dtype) for v in (x, h0, c0, Wx, Wh, b))
    gates = np.empty((N, T, 4 * H), dtype=dtype)
    c, tanh_c, h = (np.empty((N, T, H), dtype=dtype) for _ in range(3))
    np.matmul(x.reshape(N * T, D), Wx, out=gates.reshape(N * T, 4 * H))  # every step's x_t Wx
    a = np.empty((N, 4 * H), dtype=dtype)
    ig = np.empty((N, H), dtype=dtype)
    h_prev, c_prev = h0, c0
    with np.errstate(over="ignore"):
        for t in range(T):
            # the gates are computed in a small contiguous buffer (it stays in the CPU's
            # cache), then stored in the (N, T, 4H) cache with one copy
            np.matmul(h_prev, Wh, out=a)
            gates_t = gates[:, t]
            np.add(gates_t, a, out=a)
            a += b
            i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
            _sigmoid_(a[:, :2 * H])  # i and f are side by side
            np.tanh(g, out=g)
            _sigmoid_(o)
            gates_t[...] = a
            c_t, tanh_c_t, h_t = c[:, t], tanh_c[:, t], h[:, t]
            np.multiply(f, c_prev, out=c_t)
            np.multiply(i, g, out=ig)
            c_t += ig  # c_t = f * c_{t-1} + i * g
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)
            h_prev, c_prev = h_t, c_t
    return h, LSTMFastCache(x, h0, c0, Wx, Wh, gates, c, tanh_c, h)


def lstm_backward_fast(dh, cache):
    """Backpropagation through time for the LSTM; same result as :func:`rnncourse.lstm.lstm_backward`.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state
            (from the layers above; nothing comes from above on the cell states)
        cache: :class:`LSTMFastCache` from :func:`lstm_forward_fast`

    Returns:
        dx: (N, T, D), dh0: (N, H), dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    """
    x, h0, c0, Wx, Wh, gates, c, tanh_c, h = cache
    dh = _upstream(dh, h)
    N, T, D = x.shape
    H = h.shape[2]
    dtype = np.result_type(h, dh)
    da = np.empty((N, T, 4 * H), dtype=dtype)  # gradient at every step's pre-activations
    dh_next = np.zeros((N, H), dtype=dtype)
    dc_next = np.zeros((N, H), dtype=dtype)
    dh_t, dc, tmp = (np.empty((N, H), dtype=dtype) for _ in range(3))
    for t in reversed(range(T)):
        gates_t, da_t = gates[:, t], da[:, t]
        i, f, g, o = (gates_t[:, k * H:(k + 1) * H] for k in range(4))
        di, df, dg, do = (da_t[:, k * H:(k + 1) * H] for k in range(4))
        tanh_c_t = tanh_c[:, t]
        c_prev = c0 if t == 0 else c[:, t - 1]
        np.add(dh[:, t], dh_next, out=dh_t)
        # c_t reaches the loss through step t+1 (dc_next) and through h_t = o * tanh(c_t)
        np.multiply(tanh_c_t, tanh_c_t, out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(dh_t, o, out=dc)
        dc *= tmp
        np.add(dc_next, dc, out=dc)
        np.multiply(dc, f, out=dc_next)  # dc_{t-1}
        # gradients at the pre-activations: sigmoid' = y (1 - y), tanh' = 1 - y**2
        np.multiply(dh_t, tanh_c_t, out=do)
        np.subtract(1, o, out=tmp)
        tmp *= o
        do *= tmp
        np.multiply(dc, g, out=di)
        np.subtract(1, i, out=tmp)
        tmp *= i
        di *= tmp
        np.multiply(dc, c_prev, out=df)
        np.subtract(1, f, out=tmp)
        tmp *= f
        df *= tmp
        np.multiply(dc, i, out=dg)
        np.multiply(g, g, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dg *= tmp
        np.matmul(da_t, Wh.T, out=dh_next)
    da2d = da.reshape(N * T, 4 * H)
    dx = np.matmul(da2d, Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2d
    dWh = _prev_states(h0, h).reshape(N * T, H).T @ da2d
    db = da2d.sum(axis=0)
    return dx, dh_next, dc_next, dWx, dWh, db


# ----------------------------------------------------------------------------
# GRU
# ----------------------------------------------------------------------------

class GRUFastCache(NamedTuple):
    """What :func:`gru_forward_fast` keeps for :func:`gru_backward_fast`."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    gates: np.ndarray  # (N, T, 3H) r, z, n of every step, side by side
    hn: np.ndarray  # (N, T, H) h_{t-1} Wh_n + bh_n of every step
    h: np.ndarray  # (N, T, H) every hidden state


def gru_forward_fast(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over whole sequences; same result as :func:`rnncourse.gru.gru_forward`.

    Args:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, 3H) input-to-hidden weights, gate blocks r, z, n
        Wh: (H, 3H) hidden-to-hidden weights
        bx: (3H,) input bias (PyTorch's bias_ih)
        bh: (3H,) hidden bias (PyTorch's bias_hh)

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`GRUFastCache` for :func:`gru_backward_fast`
    """
    names = ("x", "h0", "Wx", "Wh", "bx", "bh")
    (x, h0, Wx, Wh, bx, bh), dtype = _floats(names, (x, h0, Wx, Wh, bx, bh))
    sizes = check_gated_shapes(3, **{
        "x": (x, ("N", "T", "D")), "h0": (h0, ("N", "H")),
        "Wx": (Wx, ("D", "3H")), "Wh": (Wh, ("H", "3H")), "bx": (bx, ("3H",)), "bh": (bh, ("3H",)),
    })
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    x, h0, Wx, Wh, bx, bh = (_c(v, dtype) for v in (x, h0, Wx, Wh, bx, bh))
    gates = np.empty((N, T, 3 * H), dtype=dtype)
    hn, h = (np.empty((N, T, H), dtype=dtype) for _ in range(2))
    gates2d = gates.reshape(N * T, 3 * H)
    np.matmul(x.reshape(N * T, D), Wx, out=gates2d)
    gates2d += bx  # every step's x_t Wx + bx
    ah = np.empty((N, 3 * H), dtype=dtype)
    tmp = np.empty((N, H), dtype=dtype)
    h_prev = h0
    with np.errstate(over="ignore"):
        for t in range(T):
            np.matmul(h_prev, Wh, out=ah)
            ah += bh  # h_{t-1} Wh + bh
            gates_t = gates[:, t]
            rz = gates_t[:, :2 * H]
            np.add(rz, ah[:, :2 * H], out=rz)
            _sigmoid_(rz)
            r, z, n = (gates_t[:, k * H:(k + 1) * H] for k in range(3))
            hn_t, h_t = hn[:, t], h[:, t]
            hn_t[...] = ah[:, 2 * H:]
            np.multiply(r, hn_t, out=tmp)
            np.add(n, tmp, out=n)
            np.tanh(n, out=n)
            np.subtract(1, z, out=h_t)  # h_t = (1 - z) * n + z * h_{t-1}
            h_t *= n
            np.multiply(z, h_prev, out=tmp)
            h_t += tmp
            h_prev = h_t
    return h, GRUFastCache(x, h0, Wx, Wh, gates, hn, h)


def gru_backward_fast(dh, cache):
    """Backpropagation through time for the GRU; same result as :func:`rnncourse.gru.gru_backward`.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state
            (from the layers above, not yet including the path through later steps)
        cache: :class:`GRUFastCache` from :func:`gru_forward_fast`

    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    """
    x, h0, Wx, Wh, gates, hn, h = cache
    dh = _upstream(dh, h)
    N, T, D = x.shape
    H = h.shape[2]
    dtype = np.result_type(h, dh)
    # bx and bh enter r and z the same way; only the n block differs (dah_n = dax_n * r)
    dax = np.empty((N, T, 3 * H), dtype=dtype)  # gradient at every x_t Wx + bx
    dah = np.empty((N, T, 3 * H), dtype=dtype)  # gradient at every h_{t-1} Wh + bh
    dh_next = np.zeros((N, H), dtype=dtype)
    dh_t, tmp = (np.empty((N, H), dtype=dtype) for _ in range(2))
    for t in reversed(range(T)):
        gates_t, dax_t, dah_t = gates[:, t], dax[:, t], dah[:, t]
        r, z, n = (gates_t[:, k * H:(k + 1) * H] for k in range(3))
        dar, daz, dan = (dax_t[:, k * H:(k + 1) * H] for k in range(3))
        h_prev = h0 if t == 0 else h[:, t - 1]
        np.add(dh[:, t], dh_next, out=dh_t)
        # n: dan = dh_t * (1 - z) * (1 - n**2)
        np.subtract(1, z, out=dan)
        np.multiply(dh_t, dan, out=dan)
        np.multiply(n, n, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dan *= tmp
        # r: dar = dan * hn * r * (1 - r)
        np.multiply(dan, hn[:, t], out=dar)
        dar *= r
        np.subtract(1, r, out=tmp)
        dar *= tmp
        # z: daz = dh_t * (h_prev - n) * z * (1 - z)
        np.subtract(h_prev, n, out=daz)
        np.multiply(dh_t, daz, out=daz)
        daz *= z
        np.subtract(1, z, out=tmp)
        daz *= tmp
        dah_t[:, :2 * H] = dax_t[:, :2 * H]
        np.multiply(dan, r, out=dah_t[:, 2 * H:])
        # dh_{t-1}: through the gates, and directly through z * h_{t-1}
        np.matmul(dah_t, Wh.T, out=dh_next)
        np.multiply(dh_t, z, out=tmp)
        dh_next += tmp
    dax2d, dah2d = dax.reshape(N * T, 3 * H), dah.reshape(N * T, 3 * H)
    dx = np.matmul(dax2d, Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ dax2d
    dWh = _prev_states(h0, h).reshape(N * T, H).T @ dah2d
    dbx = dax2d.sum(axis=0)
    dbh = dah2d.sum(axis=0)
    return dx, dh_next, dWx, dWh, dbx, dbh
