"""Fast versions of the sequence-level RNN, LSTM and GRU passes, for real workloads.

:mod:`rnncourse.rnn`, :mod:`rnncourse.lstm` and :mod:`rnncourse.gru` are written to be read:
one function per time step, called in a loop. This module computes the same numbers
(same arguments, same returned values and shapes, PyTorch's gate order) with the structure
that makes numpy fast; the appendix *Performance* measures the difference, and
``tests/test_fast.py`` checks every output and gradient against the teaching code.

What is different, and why it is faster:

- **One GEMM for every step's input projection.** ``x_t Wx + b`` does not depend on the
  recurrence, so it is computed for all N*T rows at once: a large matrix product that runs
  near the machine's GEMM rate. Inside the time loop only ``h_{t-1} Wh`` remains.
- **Time-major buffers.** Gates and states are kept as (T, N, .) arrays, so that step t is one
  contiguous (N, .) block; the recurrent product is computed into a scratch buffer made once
  and added into that block (:func:`gemm_accumulate`). It can instead be added by SciPy's
  BLAS in one call (``?gemm`` with ``beta=1``; the C-ordered block goes to the Fortran BLAS as
  its transpose, which is Fortran-ordered, so BLAS gets no copies): ``USE_SCIPY_BLAS``, off by
  default because on the machine measured it gained nothing beyond the noise (SciPy's own
  OpenBLAS computes the product there).
- **One BLAS thread inside the time loops** (threadpoolctl, ``RECURRENCE_THREADS``): a step's
  (N, H) @ (H, G*H) product is too small to share among threads with profit.
- **One exponential per gate, and no other transcendental.** On the machines measured,
  ``np.exp`` costs a fraction of ``np.tanh`` (see the appendix), so every activation is
  written with ``exp``: ``sigmoid(a) = 1 / (1 + exp(-a))`` and
  ``tanh(a) = 2 / (1 + exp(-2a)) - 1``. The factors -1 and -2 are folded into the columns of
  the weights and biases once per call (a multiplication by a power of two is exact), so one
  ``exp`` and one division cover the whole (N, G*H) gate block of a step. ``tanh`` written
  this way is exact to a few units of rounding in absolute terms; close to 0 its *relative*
  error is larger than ``np.tanh``'s. The tests compare with the largest difference relative
  to the largest value, which is what the gradients see.
- **Buffers allocated once, ufuncs with ``out=``.** The loops allocate nothing; each step
  writes into slices of arrays made before the loop.
- **Big GEMMs after the backward loop.** The backward loop carries only the recurrence and
  stores each step's pre-activation gradient in a (T, N, G*H) buffer; the weight and input
  gradients are then single products over all N*T rows. The upstream gradient is copied
  once into a time-major buffer, into which each step adds ``da_t Wh^T`` for the step before.

The returned ``h`` (and ``dx``) are (N, T, .) *views* of the time-major buffers (same values and
shapes, other strides); ``np.ascontiguousarray`` makes a C-ordered copy when one is needed.
The caches are this module's own NamedTuples. Every function validates its arguments with
the course's one idiom (``rnncourse._validate.validate``), keeps float32 as float32 (mixed
dtypes compute in their common dtype), and never writes into its inputs.
"""
from typing import NamedTuple

import numpy as np

from ._validate import as_float_array, validate
from .activations import get_activation

import contextlib

try:  # optional: BLAS that accumulates in place (pip install rnncourse[fast])
    from scipy.linalg import blas as _scipy_blas
except ImportError:  # pragma: no cover - exercised by the tests with the fallback forced
    _scipy_blas = None
try:  # optional: the BLAS thread pools' size (pip install rnncourse[fast])
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

__all__ = [
    "gemm_accumulate",
    "RNNFastCache", "LSTMFastCache", "GRUFastCache",
    "rnn_forward_fast", "rnn_backward_fast",
    "lstm_forward_fast", "lstm_backward_fast",
    "gru_forward_fast", "gru_backward_fast",
]

# Whether gemm_accumulate adds with SciPy's ?gemm(beta=1) instead of np.matmul + "+=". Off:
# on this project's machine (benchmarks/ablation.py, the Performance appendix) it gained nothing
# beyond the noise; SciPy's own OpenBLAS then computes the product. Switch it on where it pays.
USE_SCIPY_BLAS = False
# BLAS threads for the time loops' small products (None: leave the caller's setting). The
# products over all N*T rows before and after the loops keep the caller's setting.
RECURRENCE_THREADS = 1
_controller = None


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def _fortran_operand(matrix):
    """``(array, trans)`` such that Fortran BLAS reads ``matrix`` without a copy.

    matrix: (m, k) view that is C- or Fortran-contiguous. A Fortran-ordered matrix goes as it
    is (trans 0); a C-ordered one goes as its transpose, which is Fortran-ordered (trans 1).
    """
    if matrix.flags.f_contiguous:
        return matrix, 0
    return matrix.T, 1


def gemm_accumulate(a, b, c, scratch=None):
    """``c += a @ b`` in place; returns ``c``.

    Args:
        a: (m, k); b: (k, n)
        c: (m, n), the same float dtype as ``a`` and ``b``; overwritten
        scratch: optional (m, n) buffer of that dtype that receives ``a @ b`` (no allocation)

    By default numpy computes ``a @ b`` into ``scratch`` and adds it. With ``USE_SCIPY_BLAS``
    (off by default, see below) SciPy's ``?gemm(alpha=1, beta=1, overwrite_c=1)`` adds the
    product into a C-contiguous ``c`` in one call, without the scratch: Fortran BLAS sees ``c``
    as the Fortran-ordered ``c.T = b.T @ a.T + c.T``, and C- or Fortran-ordered ``a`` and ``b``
    go through ``_fortran_operand``, so that no operand is copied.
    """
    if USE_SCIPY_BLAS and _scipy_blas is not None and c.dtype in (np.float32, np.float64) \
            and c.flags.c_contiguous:
        gemm = _scipy_blas.dgemm if c.dtype == np.float64 else _scipy_blas.sgemm
        left, trans_left = _fortran_operand(b.T)
        right, trans_right = _fortran_operand(a.T)
        gemm(1.0, left, right, 1.0, c.T, trans_a=trans_left, trans_b=trans_right, overwrite_c=1)
        return c
    c += np.matmul(a, b, out=scratch)
    return c


def _recurrence_threads():
    """Context for a time loop: BLAS limited to ``RECURRENCE_THREADS`` threads (threadpoolctl).

    A step's (N, H) @ (H, G*H) product is too small to share among threads with profit: the
    threads' hand-over costs more than it saves, and far more on a machine whose cores are busy.
    """
    global _controller
    if RECURRENCE_THREADS is None or ThreadpoolController is None:
        return contextlib.nullcontext()
    if _controller is None:  # made once; it sees the BLAS libraries loaded by then (numpy's, scipy's)
        _controller = ThreadpoolController()
    return _controller.limit(limits=RECURRENCE_THREADS, user_api="blas")


def _time_major(array, dtype):
    """(N, T, K) array as a C-contiguous (T, N, K) copy of ``dtype``."""
    return np.ascontiguousarray(np.swapaxes(array, 0, 1), dtype=dtype)


def _c(array, dtype):
    """``array`` as a C-contiguous array of ``dtype`` (no copy when it already is one)."""
    return np.ascontiguousarray(array, dtype=dtype)


def _scaled_columns(scale, *arrays):
    """Copies of ``arrays`` (..., G*H) with their last dimension multiplied by ``scale`` (G*H,).

    The scales are -1 or -2 (or 1), powers of two, so the products are exact.
    """
    return [np.ascontiguousarray(array * scale) for array in arrays]


def _activate_(block, numerator):
    """In place: ``block <- numerator / (1 + exp(block))``. block: (N, K); numerator: scalar or (K,).

    With ``block = -a`` and numerator 1 this is sigmoid(a); with ``block = -2a`` and numerator 2
    it is ``1 + tanh(a)`` (subtract 1 afterwards). exp overflows to inf for large arguments,
    where ``numerator / inf = 0`` is the exact limit; the caller silences that warning.
    """
    np.exp(block, out=block)
    block += 1
    np.divide(numerator, block, out=block)
    return block


def _tanh_into(a, out):
    """``out <- tanh(a)`` as ``2 / (1 + exp(-2a)) - 1``. a, out: (N, H); a is left unchanged."""
    np.multiply(a, -2, out=out)
    _activate_(out, 2)
    out -= 1
    return out


def _upstream_time_major(dh, shape, dtype):
    """The upstream gradient ``dh`` (N, T, H), checked against the cache's ``shape``, as a
    C-contiguous (T, N, H) copy in the common dtype of ``dtype`` and ``dh``."""
    dh = as_float_array("dh", dh)
    if dh.shape != tuple(shape):
        raise ValueError(f"dh must have shape (N, T, H) = {tuple(shape)} (the forward pass's h), got {dh.shape}")
    # always a copy: the loop adds into it (a view of the caller's dh when N = 1 would be overwritten)
    return np.array(np.swapaxes(dh, 0, 1), dtype=np.result_type(dtype, dh), order="C", copy=True)


# ----------------------------------------------------------------------------
# vanilla RNN
# ----------------------------------------------------------------------------

class RNNFastCache(NamedTuple):
    """What :func:`rnn_forward_fast` keeps for :func:`rnn_backward_fast`."""

    x: np.ndarray  # (T, N, D) inputs, time-major, the common dtype
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h: np.ndarray  # (T, N, H) every hidden state, time-major
    activation: str


# activation -> (scale of the pre-activation, numerator, offset): y = numerator / (1 + exp(scale * a)) - offset
_RNN_EXP_FORM = {"tanh": (-2.0, 2.0, 1.0), "sigmoid": (-1.0, 1.0, 0.0)}


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
        h: (N, T, H) hidden state after every step (a view of a time-major buffer)
        cache: :class:`RNNFastCache` for :func:`rnn_backward_fast`
    """
    (x, h0, Wx, Wh, b), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")),
        Wx=(Wx, ("D", "H")), Wh=(Wh, ("H", "H")), b=(b, ("H",)),
    )
    get_activation(activation)  # ValueError for an unknown name
    dtype = np.result_type(x, h0, Wx, Wh, b)
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    x = _time_major(x, dtype)
    h0, Wx, Wh, b = (_c(v, dtype) for v in (h0, Wx, Wh, b))
    scale, numerator, offset = _RNN_EXP_FORM.get(activation, (1.0, None, None))
    Wx_s, Wh_s, b_s = _scaled_columns(np.asarray(scale, dtype), Wx, Wh, b)
    # h holds every step's (scaled) input projection until step t overwrites it with h_t
    h = np.empty((T, N, H), dtype=dtype)
    np.matmul(x.reshape(T * N, D), Wx_s, out=h.reshape(T * N, H))
    h += b_s
    scratch = np.empty((N, H), dtype=dtype)
    h_prev = h0
    with np.errstate(over="ignore"), _recurrence_threads():
        for t in range(T):
            h_t = gemm_accumulate(h_prev, Wh_s, h[t], scratch)  # scale * (x_t Wx + b + h_{t-1} Wh)
            if activation == "relu":
                np.maximum(h_t, 0, out=h_t)
            else:
                _activate_(h_t, numerator)
                if offset:
                    h_t -= offset
            h_prev = h_t
    return np.swapaxes(h, 0, 1), RNNFastCache(x, h0, Wx, Wh, h, activation)


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
    T, N, D = x.shape
    H = h.shape[2]
    # dh_total[t] is dh_t from above; step t+1 adds what it sends back to h_t
    dh_total = _upstream_time_major(dh, (N, T, H), h.dtype)
    dtype = dh_total.dtype
    da = np.empty((T, N, H), dtype=dtype)  # gradient at every step's pre-activation
    dh0 = np.zeros((N, H), dtype=dtype)
    scratch = np.empty((N, H), dtype=dtype)
    with _recurrence_threads():
        for t in reversed(range(T)):
            da_t, h_t = da[t], h[t]
            if activation == "tanh":  # da = dh_t * (1 - h_t**2)
                np.multiply(h_t, h_t, out=da_t)
                np.subtract(1, da_t, out=da_t)
            elif activation == "relu":  # da = dh_t where h_t > 0
                np.greater(h_t, 0, out=da_t)
            else:  # sigmoid: da = dh_t * h_t * (1 - h_t)
                np.subtract(1, h_t, out=da_t)
                da_t *= h_t
            da_t *= dh_total[t]
            gemm_accumulate(da_t, Wh.T, dh_total[t - 1] if t > 0 else dh0, scratch)
    dx, dWx, db = _input_gradients(da, x, Wx)
    dWh, _ = _recurrent_gradients(da, h0, h, bias=False)
    return dx, dh0, dWx, dWh, db


def _input_gradients(da, x, Wx):
    """The input-side products after the backward loop, over all N*T rows at once.

    Args:
        da: (T, N, K) gradient at every step's pre-activations x_t Wx + b (K = G*H)
        x: (T, N, D) inputs; Wx: (D, K)

    Returns:
        dx: (N, T, D) view of a time-major buffer, dWx: (D, K), db: (K,)
    """
    T, N, K = da.shape
    D = x.shape[2]
    da2d = da.reshape(T * N, K)
    dx = np.matmul(da2d, Wx.T).reshape(T, N, D)
    dWx = x.reshape(T * N, D).T @ da2d
    return np.swapaxes(dx, 0, 1), dWx, da2d.sum(axis=0)


def _recurrent_gradients(da, h0, h, bias=True):
    """``dWh = sum_t h_{t-1}^T da_t`` (and ``dbh = sum da`` if ``bias``), over all N*T rows.

    Args:
        da: (T, N, K) gradient at every step's h_{t-1} Wh (+ bh); h0: (N, H); h: (T, N, H)

    Returns:
        dWh: (H, K), dbh: (K,) or None
    """
    T, N, K = da.shape
    H = h.shape[2]
    # h_{t-1} of steps 1..T-1 is h[0..T-2], step 0's is h0: two products, no shifted copy
    dWh = h[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, K)
    gemm_accumulate(h0.T, da[0], dWh)
    return dWh, (da.reshape(T * N, K).sum(axis=0) if bias else None)


# ----------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------

class LSTMFastCache(NamedTuple):
    """What :func:`lstm_forward_fast` keeps for :func:`lstm_backward_fast`."""

    x: np.ndarray  # (T, N, D) inputs, time-major
    h0: np.ndarray  # (N, H)
    c0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    gates: np.ndarray  # (T, N, 4H) i, f, g, o of every step, side by side
    c: np.ndarray  # (T, N, H) every cell state
    tanh_c: np.ndarray  # (T, N, H) tanh of every cell state
    h: np.ndarray  # (T, N, H) every hidden state


def _gate_columns(dtype, H, blocks):
    """Row vector (len(blocks)*H,) repeating each of ``blocks`` H times, e.g. the scales (-1, -1, -2, -1)."""
    return np.repeat(np.asarray(blocks, dtype=dtype), H)


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
        h: (N, T, H) hidden state after every step (a view of a time-major buffer)
        cache: :class:`LSTMFastCache` for :func:`lstm_backward_fast`
    """
    c0 = np.zeros_like(as_float_array("h0", h0)) if c0 is None else c0
    (x, h0, c0, Wx, Wh, b), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")), c0=(c0, ("N", "H")),
        Wx=(Wx, ("D", "4H")), Wh=(Wh, ("H", "4H")), b=(b, ("4H",)),
    )
    dtype = np.result_type(x, h0, c0, Wx, Wh, b)
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    x = _time_major(x, dtype)
    h0, c0, Wx, Wh, b = (_c(v, dtype) for v in (h0, c0, Wx, Wh, b))
    # sigmoid(a) = 1 / (1 + exp(-a)) for i, f, o; tanh(a) = 2 / (1 + exp(-2a)) - 1 for g
    Wx_s, Wh_s, b_s = _scaled_columns(_gate_columns(dtype, H, (-1, -1, -2, -1)), Wx, Wh, b)
    numerators = _gate_columns(dtype, H, (1, 1, 2, 1))
    gates = np.empty((T, N, 4 * H), dtype=dtype)
    c, tanh_c, h = (np.empty((T, N, H), dtype=dtype) for _ in range(3))
    np.matmul(x.reshape(T * N, D), Wx_s, out=gates.reshape(T * N, 4 * H))
    gates += b_s  # every step's scaled x_t Wx + b
    ig = np.empty((N, H), dtype=dtype)
    scratch = np.empty((N, 4 * H), dtype=dtype)
    h_prev, c_prev = h0, c0
    with np.errstate(over="ignore"), _recurrence_threads():
        for t in range(T):
            gates_t = gemm_accumulate(h_prev, Wh_s, gates[t], scratch)
            _activate_(gates_t, numerators)  # i, f, o done; the g block holds 1 + tanh
            i, f, g, o = (gates_t[:, k * H:(k + 1) * H] for k in range(4))
            g -= 1
            c_t = c[t]
            np.multiply(f, c_prev, out=c_t)
            np.multiply(i, g, out=ig)
            c_t += ig  # c_t = f * c_{t-1} + i * g
            _tanh_into(c_t, tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])
            h_prev, c_prev = h[t], c_t
    return np.swapaxes(h, 0, 1), LSTMFastCache(x, h0, c0, Wx, Wh, gates, c, tanh_c, h)


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
    T, N, D = x.shape
    H = h.shape[2]
    dh_total = _upstream_time_major(dh, (N, T, H), h.dtype)
    dtype = dh_total.dtype
    da = np.empty((T, N, 4 * H), dtype=dtype)  # gradient at every step's pre-activations
    dh0 = np.zeros((N, H), dtype=dtype)
    dc_next = np.zeros((N, H), dtype=dtype)  # what step t+1 sends back to c_t
    dc = np.empty((N, H), dtype=dtype)
    scratch = np.empty((N, H), dtype=dtype)
    with _recurrence_threads():
        for t in reversed(range(T)):
            gates_t, da_t, dh_t, tanh_c_t = gates[t], da[t], dh_total[t], tanh_c[t]
            i, f, g, o = (gates_t[:, k * H:(k + 1) * H] for k in range(4))
            di, df, dg, do = (da_t[:, k * H:(k + 1) * H] for k in range(4))
            c_prev = c0 if t == 0 else c[t - 1]
            # c_t reaches the loss through step t+1 and through h_t = o * tanh(c_t):
            # dc = dc_next + dh_t * o * (1 - tanh(c_t)**2); do serves as scratch first
            np.multiply(tanh_c_t, tanh_c_t, out=do)
            np.subtract(1, do, out=do)
            do *= o
            do *= dh_t
            np.add(dc_next, do, out=dc)
            np.multiply(dc, f, out=dc_next)  # dc_{t-1}
            # gradients at the pre-activations: sigmoid' = y (1 - y), tanh' = 1 - y**2
            np.subtract(1, gates_t[:, :2 * H], out=da_t[:, :2 * H])  # i and f, side by side
            da_t[:, :2 * H] *= gates_t[:, :2 * H]
            di *= g
            df *= c_prev
            np.multiply(g, g, out=dg)
            np.subtract(1, dg, out=dg)
            dg *= i
            ifg = da_t[:, :3 * H].reshape(N, 3, H)  # di, df, dg all carry the factor dc
            ifg *= dc[:, None, :]
            np.subtract(1, o, out=do)
            do *= o
            do *= tanh_c_t
            do *= dh_t
            gemm_accumulate(da_t, Wh.T, dh_total[t - 1] if t > 0 else dh0, scratch)
    dx, dWx, db = _input_gradients(da, x, Wx)
    dWh, _ = _recurrent_gradients(da, h0, h, bias=False)
    return dx, dh0, dc_next, dWx, dWh, db


# ----------------------------------------------------------------------------
# GRU
# ----------------------------------------------------------------------------

class GRUFastCache(NamedTuple):
    """What :func:`gru_forward_fast` keeps for :func:`gru_backward_fast`."""

    x: np.ndarray  # (T, N, D) inputs, time-major
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    gates: np.ndarray  # (T, N, 3H) r, z, n of every step, side by side
    hn: np.ndarray  # (T, N, H) h_{t-1} Wh_n + bh_n of every step
    h: np.ndarray  # (T, N, H) every hidden state


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
        h: (N, T, H) hidden state after every step (a view of a time-major buffer)
        cache: :class:`GRUFastCache` for :func:`gru_backward_fast`
    """
    (x, h0, Wx, Wh, bx, bh), sizes = validate(
        x=(x, ("N", "T", "D")), h0=(h0, ("N", "H")),
        Wx=(Wx, ("D", "3H")), Wh=(Wh, ("H", "3H")), bx=(bx, ("3H",)), bh=(bh, ("3H",)),
    )
    dtype = np.result_type(x, h0, Wx, Wh, bx, bh)
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    x = _time_major(x, dtype)
    h0, Wx, Wh, bx, bh = (_c(v, dtype) for v in (h0, Wx, Wh, bx, bh))
    # r and z: sigmoid(a) = 1 / (1 + exp(-a)), and bh's r, z blocks add like bx's;
    # n = tanh(a_n) = 2 / (1 + exp(-2 a_n)) - 1 with a_n = x Wx_n + bx_n + r * (h Wh_n + bh_n)
    scale = _gate_columns(dtype, H, (-1, -1, -2))
    b_s = bx * scale
    b_s[:2 * H] -= bh[:2 * H]
    Wx_s, Wh_rz = _scaled_columns(scale, Wx)[0], -Wh[:, :2 * H]
    gates = np.empty((T, N, 3 * H), dtype=dtype)
    hn, h = (np.empty((T, N, H), dtype=dtype) for _ in range(2))
    np.matmul(x.reshape(T * N, D), Wx_s, out=gates.reshape(T * N, 3 * H))
    gates += b_s  # every step's scaled x_t Wx + bx (+ bh for r and z)
    ah = np.empty((N, 3 * H), dtype=dtype)
    Wh_s = np.ascontiguousarray(np.concatenate([Wh_rz, Wh[:, 2 * H:]], axis=1))
    tmp = np.empty((N, H), dtype=dtype)
    h_prev = h0
    with np.errstate(over="ignore"), _recurrence_threads():
        for t in range(T):
            np.matmul(h_prev, Wh_s, out=ah)  # -h Wh_r, -h Wh_z, h Wh_n
            gates_t = gates[t]
            rz = gates_t[:, :2 * H]
            rz += ah[:, :2 * H]
            _activate_(rz, 1)
            r, z, n = (gates_t[:, k * H:(k + 1) * H] for k in range(3))
            hn_t, h_t = hn[t], h[t]
            np.add(ah[:, 2 * H:], bh[2 * H:], out=hn_t)
            np.multiply(r, hn_t, out=tmp)
            tmp *= -2
            n += tmp  # -2 a_n
            _activate_(n, 2)
            n -= 1
            np.subtract(h_prev, n, out=h_t)  # h_t = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
            h_t *= z
            h_t += n
            h_prev = h_t
    return np.swapaxes(h, 0, 1), GRUFastCache(x, h0, Wx, Wh, gates, hn, h)


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
    T, N, D = x.shape
    H = h.shape[2]
    dh_total = _upstream_time_major(dh, (N, T, H), h.dtype)
    dtype = dh_total.dtype
    # bx and bh enter r and z the same way; only the n block differs (dah_n = dax_n * r)
    dax = np.empty((T, N, 3 * H), dtype=dtype)  # gradient at every x_t Wx + bx
    dah = np.empty((T, N, 3 * H), dtype=dtype)  # gradient at every h_{t-1} Wh + bh
    dh0 = np.zeros((N, H), dtype=dtype)
    tmp = np.empty((N, H), dtype=dtype)
    with _recurrence_threads():
        for t in reversed(range(T)):
            gates_t, dax_t, dah_t, dh_t = gates[t], dax[t], dah[t], dh_total[t]
            r, z, n = (gates_t[:, k * H:(k + 1) * H] for k in range(3))
            dar, daz, dan = (dax_t[:, k * H:(k + 1) * H] for k in range(3))
            h_prev = h0 if t == 0 else h[t - 1]
            dh_prev = dh_total[t - 1] if t > 0 else dh0
            # n: dan = dh_t * (1 - z) * (1 - n**2); dar serves as scratch
            np.multiply(n, n, out=dar)
            np.subtract(1, dar, out=dar)
            np.subtract(1, z, out=dan)
            dan *= dar
            dan *= dh_t
            # r: dar = dan * hn * r * (1 - r);  z: daz = dh_t * (h_prev - n) * z * (1 - z)
            np.subtract(1, gates_t[:, :2 * H], out=dax_t[:, :2 * H])  # r and z, side by side
            dax_t[:, :2 * H] *= gates_t[:, :2 * H]
            dar *= hn[t]
            dar *= dan
            np.subtract(h_prev, n, out=dah_t[:, :H])  # scratch
            daz *= dah_t[:, :H]
            daz *= dh_t
            dah_t[:, :2 * H] = dax_t[:, :2 * H]
            np.multiply(dan, r, out=dah_t[:, 2 * H:])
            # dh_{t-1}: directly through z * h_{t-1}, and through the gates
            np.multiply(dh_t, z, out=tmp)
            dh_prev += tmp
            gemm_accumulate(dah_t, Wh.T, dh_prev, tmp)
    dx, dWx, dbx = _input_gradients(dax, x, Wx)
    dWh, dbh = _recurrent_gradients(dah, h0, h)
    return dx, dh0, dWx, dWh, dbx, dbh
