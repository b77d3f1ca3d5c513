"""The layers of chapter 5 in numpy: from a recurrent layer to models of whole sequences.

Chapters 1-4 built one recurrent layer. To put a loss on a sequence, classify one, tag
one or translate one, a model needs the pieces around it, each with its forward and
backward pass:

- tokens in and scores out: :func:`embedding_forward`, :func:`temporal_affine_forward`
  and the masked loss :func:`temporal_softmax_loss` (on :func:`log_softmax`);
- padded batches: :func:`length_mask` and :func:`reverse_padded`;
- many-to-one heads: :func:`last_state_by_length` and :func:`masked_mean_pool`;
- recurrent layers by name (``"rnn"``, ``"gru"``, ``"lstm"``): :func:`recurrent_forward`,
  :func:`bidirectional_forward` (correct on padded batches) and :func:`stacked_forward`
  (deep, with an optional residual connection);
- attention over encoder states: :func:`additive_attention_forward` (Bahdanau et al.,
  2015) and :func:`dot_attention_forward` (Luong et al., 2015);
- self-attention over a whole sequence, the Transformer's layer that chapter 7 sets against
  recurrence: :func:`self_attention_forward` (Vaswani et al., 2017; forward pass only).

Shapes follow the course convention (batch first): ``x`` (N, T, D) inputs, ``h`` (N, T, H)
states, ``tokens`` (N, T) integers in ``0..V-1``, ``lengths`` (N,) integers in ``1..T``.
Padding is always at the end of a sequence: step ``t`` of sequence ``n`` is real when
``t < lengths[n]``, and ``mask`` (N, T) is True exactly there.

Conventions as in :mod:`~rnncourse.rnn`: ``forward(...) -> (out, cache)`` with a NamedTuple
cache, ``backward(dout, cache) -> gradients``, every array argument checked (a ``ValueError``
names the argument, the shape it got and the shape it expected; integer arguments also
their range), and no input is ever modified.
"""
from typing import NamedTuple

import numpy as np

from . import fast as _fast
from . import gru as _gru
from . import lstm as _lstm
from . import rnn as _rnn
from ._validate import check_generator, check_positive_int, check_shapes, validate

CELLS = ("rnn", "gru", "lstm")

# The parameters of each cell, with the names of its module (rnncourse.rnn, .gru, .lstm).
PARAM_NAMES = {"rnn": ("Wx", "Wh", "b"), "gru": ("Wx", "Wh", "bx", "bh"), "lstm": ("Wx", "Wh", "b")}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # blocks of H columns in Wx and Wh


# ----------------------------------------------------------------------------
# Checks of integer and boolean arguments (float arrays go through validate)
# ----------------------------------------------------------------------------

def _integer_array(name, value, expected):
    """``value`` as an integer numpy array; ``ValueError`` naming ``name`` for any other dtype.

    ``expected`` describes the wanted array in the message, e.g. ``"(N,) in 1..T"``.
    """
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array {expected}, got dtype {array.dtype} "
                         f"with shape {array.shape}")
    return array


def _bool_array(name, value):
    """``value`` as a boolean numpy array; ``ValueError`` naming ``name`` for any other dtype."""
    array = np.asarray(value)
    if array.dtype != bool:
        raise ValueError(f"{name} must be a boolean array (True at real steps), got dtype {array.dtype}; "
                         f"length_mask(lengths, T) makes one")
    return array


def _check_range(name, values, low, high, range_text, source=""):
    """``ValueError`` unless every entry of ``values`` is in ``low..high`` (shown as ``range_text``,
    with ``source`` saying where the bound comes from)."""
    if values.size and (values.min() < low or values.max() > high):
        raise ValueError(f"{name} must be in {range_text} = {low}..{high}{source}, "
                         f"got values from {values.min()} to {values.max()}")


def _checked_lengths(lengths, N, T, source):
    """``lengths`` checked as (N,) integers in ``1..T``; ``source`` says where N and T come from."""
    lengths = _integer_array("lengths", lengths, "(N,) in 1..T")
    if lengths.shape != (N,):
        raise ValueError(f"lengths must have shape (N,) = ({N},) (N from {source}), got {lengths.shape}")
    _check_range("lengths", lengths, 1, T, "1..T", f" (T from {source})")
    return lengths


def _check_rows_not_empty(name, mask):
    """``ValueError`` when a row of the (N, T) ``mask`` has no True entry (nothing to average)."""
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise ValueError(f"{name} must have at least one True entry in every row, rows {empty.tolist()} have none")


def _checked_upstream(name, value, shape, dims, source):
    """The upstream gradient ``value`` as a float array of ``shape``, the shape of ``source`` named ``dims``."""
    (_, value), _ = validate(**{source: (np.broadcast_to(0.0, shape), dims)}, **{name: (value, dims)})
    return value


# ----------------------------------------------------------------------------
# Padded batches
# ----------------------------------------------------------------------------

def length_mask(lengths, T):
    """The mask of real steps of a padded batch.

    Args:
        lengths: (N,) integers in 1..T, the true length of each sequence
        T: int >= 1, the padded length

    Returns:
        mask: (N, T) bool, True at the real steps ``t < lengths[n]``
    """
    check_positive_int("T", T)
    lengths = _integer_array("lengths", lengths, "(N,) in 1..T")
    if lengths.ndim != 1:
        raise ValueError(f"lengths must have 1 dimension (N,), got shape {lengths.shape}")
    _check_range("lengths", lengths, 1, T, "1..T")
    return np.arange(T)[None, :] < lengths[:, None]


def reverse_padded(x, lengths):
    """Reverse each sequence's real steps, leaving the padding where it is.

    Row n becomes ``x[n, lengths[n]-1], ..., x[n, 0], x[n, lengths[n]], ..., x[n, T-1]``.
    Applied twice it gives ``x`` back. Works for any trailing shape and dtype (states,
    gradients, tokens).

    Args:
        x: (N, T, ...) a padded batch
        lengths: (N,) integers in 1..T

    Returns:
        x_rev: (N, T, ...) a new array, same dtype as ``x``
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (N, T, ...), got shape {x.shape}")
    N, T = x.shape[:2]
    lengths = _checked_lengths(lengths, N, T, f"x {x.shape}")
    t = np.arange(T)[None, :]
    last = lengths[:, None] - 1
    source = np.where(t <= last, last - t, t)  # (N, T): step of x that lands at step t
    return x[np.arange(N)[:, None], source]


# ----------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------

class EmbeddingCache(NamedTuple):
    """What :func:`embedding_forward` keeps for :func:`embedding_backward`."""

    tokens: np.ndarray  # (N, T) integers in 0..V-1
    W: np.ndarray  # (V, D) the embedding table


def embedding_forward(tokens, W):
    """Look up a vector for every token.

    Args:
        tokens: (N, T) integers in 0..V-1
        W: (V, D) embedding table, row v is the vector of token v

    Returns:
        out: (N, T, D) ``out[n, t] = W[tokens[n, t]]``
        cache: :class:`EmbeddingCache` for :func:`embedding_backward`
    """
    (W,), sizes = validate(W=(W, ("V", "D")))
    tokens = _integer_array("tokens", tokens, "(N, T) in 0..V-1")
    check_shapes(tokens=(tokens, ("N", "T")))
    _check_range("tokens", tokens, 0, sizes["V"] - 1, "0..V-1", f" (V from W {W.shape})")
    return W[tokens], EmbeddingCache(tokens, W)


def embedding_backward(dout, cache):
    """Gradient of the embedding table.

    Args:
        dout: (N, T, D) gradient of the loss with respect to ``out``
        cache: :class:`EmbeddingCache` from :func:`embedding_forward`

    Returns:
        dW: (V, D); a token that occurs several times gets the sum of its gradients
    """
    tokens, W = cache
    dout = _checked_upstream("dout", dout, tokens.shape + W.shape[1:], ("N", "T", "D"), "embedding out")
    dW = np.zeros_like(W, dtype=np.result_type(W, dout))
    np.add.at(dW, tokens, dout)  # unbuffered: repeated tokens add up (dW[tokens] += dout would not)
    return dW


# ----------------------------------------------------------------------------
# Temporal affine layer and the masked loss
# ----------------------------------------------------------------------------

class TemporalAffineCache(NamedTuple):
    """What :func:`temporal_affine_forward` keeps for :func:`temporal_affine_backward`."""

    h: np.ndarray  # (N, T, H) input
    W: np.ndarray  # (H, M)


def temporal_affine_forward(h, W, b):
    """The same affine map at every time step (e.g. hidden states to vocabulary scores).

    Args:
        h: (N, T, H) states
        W: (H, M) weights
        b: (M,) bias

    Returns:
        out: (N, T, M) ``out[n, t] = h[n, t] W + b``
        cache: :class:`TemporalAffineCache` for :func:`temporal_affine_backward`
    """
    (h, W, b), _ = validate(h=(h, ("N", "T", "H")), W=(W, ("H", "M")), b=(b, ("M",)))
    return h @ W + b, TemporalAffineCache(h, W)


def temporal_affine_backward(dout, cache):
    """Backward pass of :func:`temporal_affine_forward`.

    Args:
        dout: (N, T, M) gradient of the loss with respect to ``out``
        cache: :class:`TemporalAffineCache`

    Returns:
        dh: (N, T, H), dW: (H, M), db: (M,)
    """
    h, W = cache
    dout = _checked_upstream("dout", dout, h.shape[:2] + W.shape[1:], ("N", "T", "M"), "affine out")
    dh = dout @ W.T
    dW = np.einsum("nth,ntm->hm", h, dout)  # sum over every (n, t) row
    db = dout.sum(axis=(0, 1))
    return dh, dW, db


def log_softmax(scores):
    """Logarithm of the softmax over the last axis, without overflow.

    ``log softmax(s) = s - m - log(sum(exp(s - m)))`` with ``m`` the maximum of ``s`` over the
    last axis: every exponent is then <= 0, so large scores do not overflow.

    Args:
        scores: (..., V) array of unnormalised scores

    Returns:
        log_probs: (..., V), same shape; ``exp(log_probs)`` sums to 1 over the last axis
    """
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def temporal_softmax_loss(scores, targets, mask):
    """Cross-entropy of a softmax at every real time step, averaged over the real tokens.

    ``loss = -(1 / R) sum over real (n, t) of log softmax(scores[n, t])[targets[n, t]]``
    with R the number of real tokens (``mask.sum()``). Padded positions contribute
    nothing: their scores get zero gradient and their targets are never read, so they
    may hold anything (a padding id, -100, a number out of range). The log-softmax is
    computed after subtracting each row's maximum, so large scores do not overflow.

    Args:
        scores: (N, T, V) unnormalised scores
        targets: (N, T) integers, in 0..V-1 at the real positions
        mask: (N, T) bool, True at the real positions

    Returns:
        loss: float
        dscores: (N, T, V) gradient of ``loss`` with respect to ``scores``
    """
    (scores,), sizes = validate(scores=(scores, ("N", "T", "V")))
    targets, mask = _integer_array("targets", targets, "(N, T)"), _bool_array("mask", mask)
    check_shapes(scores=(scores, ("N", "T", "V")), targets=(targets, ("N", "T")), mask=(mask, ("N", "T")))
    real_targets = targets[mask]
    if real_targets.size == 0:
        raise ValueError("mask must select at least one token: it is False everywhere, "
                         "so the mean loss is undefined")
    _check_range("targets at the real positions (mask True)", real_targets, 0, sizes["V"] - 1,
                 "0..V-1", f" (V from scores {scores.shape})")
    log_probs = log_softmax(scores)  # (N, T, V)
    safe_targets = np.where(mask, targets, 0)  # padded targets are never used: any index does
    target_log_probs = np.take_along_axis(log_probs, safe_targets[..., None], axis=2)[..., 0]  # (N, T)
    count = real_targets.size
    loss = -target_log_probs[mask].sum() / count
    one_hot = np.zeros_like(log_probs)
    np.put_along_axis(one_hot, safe_targets[..., None], 1.0, axis=2)
    dscores = (np.exp(log_probs) - one_hot) * mask[..., None] / count  # softmax - one_hot at real positions
    return float(loss), dscores


# ----------------------------------------------------------------------------
# Many-to-one heads
# ----------------------------------------------------------------------------

class LastStateCache(NamedTuple):
    """What :func:`last_state_by_length` keeps for :func:`last_state_by_length_backward`."""

    lengths: np.ndarray  # (N,)
    h_shape: tuple  # (N, T, H)
    dtype: np.dtype


def last_state_by_length(h, lengths):
    """The state after each sequence's own last real step (not the last column of the batch).

    Args:
        h: (N, T, H) states of a padded batch
        lengths: (N,) integers in 1..T

    Returns:
        last: (N, H) ``last[n] = h[n, lengths[n] - 1]``
        cache: :class:`LastStateCache` for :func:`last_state_by_length_backward`
    """
    (h,), sizes = validate(h=(h, ("N", "T", "H")))
    lengths = _checked_lengths(lengths, sizes["N"], sizes["T"], f"h {h.shape}")
    last = h[np.arange(sizes["N"]), lengths - 1]
    return last, LastStateCache(lengths, h.shape, h.dtype)


def last_state_by_length_backward(dlast, cache):
    """Backward pass of :func:`last_state_by_length`.

    Args:
        dlast: (N, H) gradient of the loss with respect to ``last``
        cache: :class:`LastStateCache`

    Returns:
        dh: (N, T, H), zero except at each sequence's last real step
    """
    lengths, (N, T, H), dtype = cache
    dlast = _checked_upstream("dlast", dlast, (N, H), ("N", "H"), "last")
    dh = np.zeros((N, T, H), dtype=np.result_type(dtype, dlast))
    dh[np.arange(N), lengths - 1] = dlast
    return dh


class MeanPoolCache(NamedTuple):
    """What :func:`masked_mean_pool` keeps for :func:`masked_mean_pool_backward`."""

    weights: np.ndarray  # (N, T) 1 / lengths[n] at real steps, 0 at padded ones
    H: int


def masked_mean_pool(h, mask):
    """The mean of each sequence's states over its real steps.

    Args:
        h: (N, T, H) states of a padded batch
        mask: (N, T) bool, True at the real steps; every row needs one True entry at least

    Returns:
        pooled: (N, H) ``pooled[n] = mean of h[n, t] over the t where mask[n, t]``
        cache: :class:`MeanPoolCache` for :func:`masked_mean_pool_backward`
    """
    (h,), _ = validate(h=(h, ("N", "T", "H")))
    mask = _bool_array("mask", mask)
    check_shapes(h=(h, ("N", "T", "H")), mask=(mask, ("N", "T")))
    _check_rows_not_empty("mask", mask)
    weights = mask / mask.sum(axis=1, keepdims=True)  # (N, T)
    pooled = np.einsum("nt,nth->nh", weights, h)
    return pooled, MeanPoolCache(weights, h.shape[2])


def masked_mean_pool_backward(dpooled, cache):
    """Backward pass of :func:`masked_mean_pool`.

    Args:
        dpooled: (N, H) gradient of the loss with respect to ``pooled``
        cache: :class:`MeanPoolCache`

    Returns:
        dh: (N, T, H) ``dpooled[n] / lengths[n]`` at real steps, 0 at padded ones
    """
    weights, H = cache
    dpooled = _checked_upstream("dpooled", dpooled, (weights.shape[0], H), ("N", "H"), "pooled")
    return weights[:, :, None] * dpooled[:, None, :]


# ----------------------------------------------------------------------------
# Recurrent layers by name
# ----------------------------------------------------------------------------

# cell -> (forward, backward) of the sequence functions, teaching code and fast code
_SEQUENCE_FUNCTIONS = {
    ("rnn", False): (_rnn.rnn_forward, _rnn.rnn_backward),
    ("gru", False): (_gru.gru_forward, _gru.gru_backward),
    ("lstm", False): (_lstm.lstm_forward, _lstm.lstm_backward),
    ("rnn", True): (_fast.rnn_forward_fast, _fast.rnn_backward_fast),
    ("gru", True): (_fast.gru_forward_fast, _fast.gru_backward_fast),
    ("lstm", True): (_fast.lstm_forward_fast, _fast.lstm_backward_fast),
}


def _check_cell(cell):
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")


def _check_params(name, cell, params):
    """``ValueError`` unless ``params`` is a dict with exactly the parameter names of ``cell``."""
    wanted = PARAM_NAMES[cell]
    if not isinstance(params, dict) or set(params) != set(wanted):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{name} for cell {cell!r} must be a dict with keys {wanted}, got {got}")


def _hidden_size(name, cell, params):
    """H of a parameter dict, read from its Wh (H, G*H)."""
    Wh = np.asarray(params["Wh"])
    if Wh.ndim != 2:
        raise ValueError(f"{name}['Wh'] must have 2 dimensions (H, {GATES[cell]}H), got shape {Wh.shape}")
    return Wh.shape[0]


def init_cell_params(cell, D, H, rng):
    """Random parameters of a cell, drawn as PyTorch draws them.

    Every entry is uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` (``torch.nn.RNN``/``GRU``/``LSTM``'s
    default; the numpy RNN and LSTM have one bias where PyTorch has two, here drawn once).

    Args:
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``
        D: int >= 1 input size
        H: int >= 1 hidden size
        rng: ``numpy.random.Generator``

    Returns:
        params: dict ``{"Wx": (D, G*H), "Wh": (H, G*H), "b": (G*H,)}`` with G = 1 (rnn), 4 (lstm);
        the GRU (G = 3) has ``"bx"`` and ``"bh"`` in place of ``"b"``
    """
    _check_cell(cell)
    check_positive_int("D", D)
    check_positive_int("H", H)
    check_generator(rng)
    G, bound = GATES[cell], 1.0 / np.sqrt(H)
    shapes = {"Wx": (D, G * H), "Wh": (H, G * H), "b": (G * H,), "bx": (G * H,), "bh": (G * H,)}
    return {name: rng.uniform(-bound, bound, shapes[name]) for name in PARAM_NAMES[cell]}


class RecurrentCache(NamedTuple):
    """What :func:`recurrent_forward` keeps for :func:`recurrent_backward`."""

    cell: str
    fast: bool
    layer: tuple  # the cache of the cell module's sequence function (e.g. rnncourse.lstm.LSTMCache)


def recurrent_forward(cell, x, h0, params, fast=False):
    """Run a recurrent layer named by its cell over whole sequences.

    Calls ``rnncourse.rnn.rnn_forward``, ``rnncourse.gru.gru_forward`` or
    ``rnncourse.lstm.lstm_forward`` (with ``fast=True`` their :mod:`rnncourse.fast` versions,
    which compute the same numbers). The LSTM starts from a zero cell state.

    Args:
        cell: ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        params: dict of the cell's parameters, as made by :func:`init_cell_params`
        fast: use :mod:`rnncourse.fast`

    Returns:
        h: (N, T, H) hidden state after every step
        cache: :class:`RecurrentCache` for :func:`recurrent_backward`
    """
    _check_cell(cell)
    _check_params("params", cell, params)
    forward, _ = _SEQUENCE_FUNCTIONS[cell, bool(fast)]
    h, layer_cache = forward(x, h0, *(params[name] for name in PARAM_NAMES[cell]))
    return h, RecurrentCache(cell, bool(fast), layer_cache)


def recurrent_backward(dh, cache):
    """Backpropagation through time of :func:`recurrent_forward`.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state
            (from the layers above, not yet including the path through later steps)
        cache: :class:`RecurrentCache`

    Returns:
        dx: (N, T, D), dh0: (N, H),
        grads: dict keyed like the parameters, each gradient shaped like its parameter
    """
    _, backward = _SEQUENCE_FUNCTIONS[cache.cell, cache.fast]
    dx, dh0, *param_grads = backward(dh, cache.layer)
    if cache.cell == "lstm":
        param_grads = param_grads[1:]  # drop dc0: the cell state starts at zero, not a parameter
    return dx, dh0, dict(zip(PARAM_NAMES[cache.cell], param_grads))


# ----------------------------------------------------------------------------
# Bidirectional layer on a padded batch
# ----------------------------------------------------------------------------

class BidirectionalCache(NamedTuple):
    """What :func:`bidirectional_forward` keeps for :func:`bidirectional_backward`."""

    lengths: np.ndarray  # (N,)
    mask: np.ndarray  # (N, T) bool
    H: int  # hidden size of each direction
    forward: RecurrentCache  # left to right over x
    backward: RecurrentCache  # left to right over reverse_padded(x, lengths)


def bidirectional_forward(x, lengths, params_fwd, params_bwd, cell="rnn", fast=False):
    """A bidirectional recurrent layer that is correct on a padded batch.

    The forward direction reads each sequence left to right. The backward direction must
    start at each sequence's *own* last real step, not at the padded end of the batch
    (starting there would feed it padding first): so it runs left to right over
    ``reverse_padded(x, lengths)`` and its states are put back in order with
    ``reverse_padded`` again. Both start from zero states. Outputs at padded positions
    are 0, as with PyTorch's ``pack_padded_sequence`` / ``pad_packed_sequence``.

    Args:
        x: (N, T, D) padded input sequences
        lengths: (N,) integers in 1..T
        params_fwd: dict of the forward direction's parameters (see :func:`init_cell_params`)
        params_bwd: dict of the backward direction's parameters, same H
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``
        fast: use :mod:`rnncourse.fast`

    Returns:
        h: (N, T, 2H) ``[forward states | backward states]`` at every step, 0 at padded steps
        cache: :class:`BidirectionalCache` for :func:`bidirectional_backward`
    """
    _check_cell(cell)
    _check_params("params_fwd", cell, params_fwd)
    _check_params("params_bwd", cell, params_bwd)
    (x,), sizes = validate(x=(x, ("N", "T", "D")))
    N, T = sizes["N"], sizes["T"]
    lengths = _checked_lengths(lengths, N, T, f"x {x.shape}")
    H = _hidden_size("params_fwd", cell, params_fwd)
    if _hidden_size("params_bwd", cell, params_bwd) != H:
        raise ValueError(f"params_bwd['Wh'] must have H = {H} rows like params_fwd['Wh'] "
                         f"{np.shape(params_fwd['Wh'])}, got shape {np.shape(params_bwd['Wh'])}")
    mask = length_mask(lengths, T)[:, :, None]  # (N, T, 1)
    h0 = np.zeros((N, H), dtype=x.dtype)
    h_fwd, cache_fwd = recurrent_forward(cell, x, h0, params_fwd, fast)
    h_rev, cache_bwd = recurrent_forward(cell, reverse_padded(x, lengths), h0, params_bwd, fast)
    h_bwd = reverse_padded(h_rev, lengths)
    h = np.concatenate([h_fwd * mask, h_bwd * mask], axis=2)
    return h, BidirectionalCache(lengths, mask[:, :, 0], H, cache_fwd, cache_bwd)


def bidirectional_backward(dh, cache):
    """Backward pass of :func:`bidirectional_forward`.

    Args:
        dh: (N, T, 2H) gradient of the loss with respect to ``h`` (its padded steps are ignored)
        cache: :class:`BidirectionalCache`

    Returns:
        dx: (N, T, D) (0 at padded steps), grads_fwd: dict, grads_bwd: dict
        (each keyed like its direction's parameters)
    """
    lengths, mask, H, cache_fwd, cache_bwd = cache
    dh = _checked_upstream("dh", dh, mask.shape + (2 * H,), ("N", "T", "2H"), "h")
    real = mask[:, :, None]
    dx_fwd, _, grads_fwd = recurrent_backward(dh[:, :, :H] * real, cache_fwd)
    dx_rev, _, grads_bwd = recurrent_backward(reverse_padded(dh[:, :, H:] * real, lengths), cache_bwd)
    dx = dx_fwd + reverse_padded(dx_rev, lengths)
    return dx, grads_fwd, grads_bwd


# ----------------------------------------------------------------------------
# Stacked (deep) recurrent layers
# ----------------------------------------------------------------------------

class StackedCache(NamedTuple):
    """What :func:`stacked_forward` keeps for :func:`stacked_backward`."""

    layers: list  # one RecurrentCache per layer, bottom first
    states: list  # each layer's output (N, T, H_l), bottom first; states[-1] is h_top
    residual: bool


def stacked_forward(x, params_list, cell="rnn", residual=False, fast=False):
    """A deep recurrent network: layer l reads the states of layer l - 1.

    Layer 1 reads ``x``; every layer starts from a zero state. With ``residual=True``,
    layer l >= 2 outputs ``f(h_{l-1}) + h_{l-1}``, its recurrent states plus its input
    (a skip connection; all these layers then need the same H).

    Args:
        x: (N, T, D) input sequences
        params_list: list of L parameter dicts, bottom layer first; layer 1 has
            ``Wx`` (D, G*H_1), layer l has ``Wx`` (H_{l-1}, G*H_l)
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``
        residual: add each layer's input to its output, from layer 2 on
        fast: use :mod:`rnncourse.fast`

    Returns:
        h_top: (N, T, H_L) the top layer's output
        cache: :class:`StackedCache`; ``cache.states`` lists every layer's output (N, T, H_l)
    """
    _check_cell(cell)
    if not isinstance(params_list, (list, tuple)) or len(params_list) == 0:
        raise ValueError(f"params_list must be a non-empty list of parameter dicts, got {params_list!r:.80}")
    (x,), sizes = validate(x=(x, ("N", "T", "D")))
    layers, states = [], []
    inputs = x
    for l, params in enumerate(params_list):
        name = f"params_list[{l}]"
        _check_params(name, cell, params)
        H = _hidden_size(name, cell, params)
        if residual and l >= 1 and H != inputs.shape[2]:
            raise ValueError(f"{name}['Wh'] must have H = {inputs.shape[2]} rows (a residual layer outputs "
                             f"f(h) + h, so it keeps its input's size), got shape {np.shape(params['Wh'])}")
        try:
            h, layer_cache = recurrent_forward(cell, inputs, np.zeros((sizes["N"], H)), params, fast)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from error
        if residual and l >= 1:
            h = h + inputs
        layers.append(layer_cache)
        states.append(h)
        inputs = h
    return inputs, StackedCache(layers, states, bool(residual))


def stacked_backward(dh_top, cache):
    """Backward pass of :func:`stacked_forward`.

    Args:
        dh_top: (N, T, H_L) gradient of the loss with respect to the top layer's output
        cache: :class:`StackedCache`

    Returns:
        dx: (N, T, D), grads_list: list of L gradient dicts, bottom layer first
    """
    layers, states, residual = cache
    dh = _checked_upstream("dh_top", dh_top, states[-1].shape, ("N", "T", "H"), "h_top")
    grads_list = [None] * len(layers)
    for l in reversed(range(len(layers))):
        dinputs, _, grads_list[l] = recurrent_backward(dh, layers[l])
        if residual and l >= 1:
            dinputs = dinputs + dh  # the skip connection passes the gradient on unchanged
        dh = dinputs
    return dh, grads_list


# ----------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------

def _masked_softmax(scores, mask):
    """Softmax over the last axis of (N, S) ``scores``, with weight exactly 0 where ``mask`` is False.

    The maximum over the real positions is subtracted first, so no exponential overflows.
    """
    real_max = np.where(mask, scores, -np.inf).max(axis=1, keepdims=True)
    exps = np.where(mask, np.exp(np.where(mask, scores - real_max, 0.0)), 0.0)
    return exps / exps.sum(axis=1, keepdims=True)


def _softmax_backward(dweights, weights):
    """Gradient at the scores of a softmax with outputs ``weights`` (N, S) (0 where masked stays 0)."""
    return weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))


def _checked_source_mask(mask, keys):
    """``mask`` checked as a bool (N, S) array matching ``keys`` (N, S, Hk), with a real step per row."""
    mask = _bool_array("mask", mask)
    check_shapes(keys=(keys, ("N", "S", "Hk")), mask=(mask, ("N", "S")))
    _check_rows_not_empty("mask", mask)
    return mask


class AdditiveAttentionCache(NamedTuple):
    """What :func:`additive_attention_forward` keeps for :func:`additive_attention_backward`."""

    query: np.ndarray  # (N, Hq)
    keys: np.ndarray  # (N, S, Hk)
    Wq: np.ndarray  # (Hq, A)
    Wk: np.ndarray  # (Hk, A)
    v: np.ndarray  # (A,)
    hidden: np.ndarray  # (N, S, A) tanh(query Wq + keys Wk)
    weights: np.ndarray  # (N, S)


def additive_attention_forward(query, keys, mask, Wq, Wk, v):
    """Additive (Bahdanau) attention: a context vector as a weighted mean of the encoder states.

    ``score[n, s] = v . tanh(query[n] Wq + keys[n, s] Wk)``; the weights are the softmax of
    the scores over the real source steps (exactly 0 at masked ones); the keys are also
    the values: ``context[n] = sum_s weights[n, s] keys[n, s]``.

    Args:
        query: (N, Hq) decoder state
        keys: (N, S, Hk) encoder states (keys and values)
        mask: (N, S) bool, True at the real source steps; one True per row at least
        Wq: (Hq, A) query projection
        Wk: (Hk, A) key projection
        v: (A,) scoring vector

    Returns:
        context: (N, Hk)
        weights: (N, S) attention weights, each row sums to 1
        cache: :class:`AdditiveAttentionCache` for :func:`additive_attention_backward`
    """
    (query, keys, Wq, Wk, v), _ = validate(
        query=(query, ("N", "Hq")), keys=(keys, ("N", "S", "Hk")),
        Wq=(Wq, ("Hq", "A")), Wk=(Wk, ("Hk", "A")), v=(v, ("A",)),
    )
    mask = _checked_source_mask(mask, keys)
    hidden = np.tanh((query @ Wq)[:, None, :] + keys @ Wk)  # (N, S, A)
    weights = _masked_softmax(hidden @ v, mask)
    context = np.einsum("ns,nsh->nh", weights, keys)
    return context, weights, AdditiveAttentionCache(query, keys, Wq, Wk, v, hidden, weights)


def additive_attention_backward(dcontext, cache):
    """Backward pass of :func:`additive_attention_forward`.

    Args:
        dcontext: (N, Hk) gradient of the loss with respect to ``context``
        cache: :class:`AdditiveAttentionCache`

    Returns:
        dquery: (N, Hq), dkeys: (N, S, Hk), dWq: (Hq, A), dWk: (Hk, A), dv: (A,)
    """
    query, keys, Wq, Wk, v, hidden, weights = cache
    dcontext = _checked_upstream("dcontext", dcontext, (keys.shape[0], keys.shape[2]), ("N", "Hk"), "context")
    dkeys = weights[:, :, None] * dcontext[:, None, :]  # keys as values
    dscores = _softmax_backward(np.einsum("nh,nsh->ns", dcontext, keys), weights)  # (N, S)
    dv = np.einsum("ns,nsa->a", dscores, hidden)
    dpre = dscores[:, :, None] * v * (1 - hidden**2)  # (N, S, A) at the tanh's input
    dquery_proj = dpre.sum(axis=1)  # query Wq is added at every source step
    dquery = dquery_proj @ Wq.T
    dWq = query.T @ dquery_proj
    dkeys = dkeys + dpre @ Wk.T  # keys as keys
    dWk = np.einsum("nsh,nsa->ha", keys, dpre)
    return dquery, dkeys, dWq, dWk, dv


class DotAttentionCache(NamedTuple):
    """What :func:`dot_attention_forward` keeps for :func:`dot_attention_backward`."""

    query: np.ndarray  # (N, H)
    keys: np.ndarray  # (N, S, H)
    weights: np.ndarray  # (N, S)


def dot_attention_forward(query, keys, mask):
    """Dot-product (Luong) attention: ``score[n, s] = query[n] . keys[n, s]``, no parameters.

    Weights and context as in :func:`additive_attention_forward`.

    Args:
        query: (N, H) decoder state
        keys: (N, S, H) encoder states (keys and values), same H as the query
        mask: (N, S) bool, True at the real source steps; one True per row at least

    Returns:
        context: (N, H)
        weights: (N, S) attention weights, each row sums to 1, 0 at masked steps
        cache: :class:`DotAttentionCache` for :func:`dot_attention_backward`
    """
    (query, keys), _ = validate(query=(query, ("N", "H")), keys=(keys, ("N", "S", "H")))
    mask = _checked_source_mask(mask, keys)
    weights = _masked_softmax(np.einsum("nh,nsh->ns", query, keys), mask)
    context = np.einsum("ns,nsh->nh", weights, keys)
    return context, weights, DotAttentionCache(query, keys, weights)


def dot_attention_backward(dcontext, cache):
    """Backward pass of :func:`dot_attention_forward`.

    Args:
        dcontext: (N, H) gradient of the loss with respect to ``context``
        cache: :class:`DotAttentionCache`

    Returns:
        dquery: (N, H), dkeys: (N, S, H)
    """
    query, keys, weights = cache
    dcontext = _checked_upstream("dcontext", dcontext, (keys.shape[0], keys.shape[2]), ("N", "H"), "context")
    dscores = _softmax_backward(np.einsum("nh,nsh->ns", dcontext, keys), weights)
    dquery = np.einsum("ns,nsh->nh", dscores, keys)
    dkeys = weights[:, :, None] * dcontext[:, None, :] + dscores[:, :, None] * query[:, None, :]
    return dquery, dkeys


# ----------------------------------------------------------------------------
# Self-attention (chapter 7: what came after recurrence)
# ----------------------------------------------------------------------------

def self_attention_forward(x, Wq, Wk, Wv, causal=True):
    """One head of scaled dot-product self-attention over whole sequences (Vaswani et al., 2017).

    Every step of a sequence is a query, a key and a value: ``q = x Wq``, ``k = x Wk``,
    ``v = x Wv``; ``score[n, t, s] = q[n, t] . k[n, s] / sqrt(A)``; the weights are the
    softmax of the scores over ``s``, and ``out[n, t] = sum_s weights[n, t, s] v[n, s]``.
    With ``causal=True`` step ``t`` attends only to steps ``s <= t`` (weight exactly 0 for
    ``s > t``), so ``out[:, t]`` depends on the past and present only, as an RNN's ``h_t``
    does. Unlike a recurrent layer, no step waits for another: the whole sequence is a few
    matrix products, with a (T, T) matrix of scores per sequence. Forward pass only (chapter 7
    times it; it is not trained in this course).

    Args:
        x: (N, T, D) input sequences
        Wq: (D, A) query projection
        Wk: (D, A) key projection
        Wv: (D, Hv) value projection
        causal: bool, True to mask the future (the default)

    Returns:
        out: (N, T, Hv) output at every step
        weights: (N, T, T) attention weights; ``weights[n, t]`` sums to 1
    """
    (x, Wq, Wk, Wv), sizes = validate(
        x=(x, ("N", "T", "D")), Wq=(Wq, ("D", "A")), Wk=(Wk, ("D", "A")), Wv=(Wv, ("D", "Hv")),
    )
    if not isinstance(causal, (bool, np.bool_)):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    N, T, A = sizes["N"], sizes["T"], sizes["A"]
    queries, keys, values = x @ Wq, x @ Wk, x @ Wv
    scores = queries @ np.swapaxes(keys, 1, 2) / np.sqrt(A)  # (N, T, T)
    if causal:
        allowed = np.broadcast_to(np.tril(np.ones((T, T), dtype=bool)), (N, T, T))
    else:
        allowed = np.ones((N, T, T), dtype=bool)
    weights = _masked_softmax(scores.reshape(N * T, T), allowed.reshape(N * T, T)).reshape(N, T, T)
    return weights @ values, weights
