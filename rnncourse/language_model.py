"""A character language model in numpy (and the same model in PyTorch), with n-gram baselines.

Chapter 6 trains a recurrent network to predict the next character of a long text, the
character-level language model of Karpathy's char-rnn and of Sutskever, Martens and Hinton
(2011). The pieces:

- the model: an embedding, one recurrent layer (``"rnn"``, ``"gru"`` or ``"lstm"``, run by
  :mod:`rnncourse.fast`) and a temporal affine layer to one score per character; its parameters
  are those of :func:`rnncourse.models.init_sequence_model` with ``output_size = V``
  (:func:`init_language_model`);
- truncated backpropagation through time over one long stream: the text is cut into ``N``
  parallel streams (:func:`batchify`), each read in chunks of ``T`` characters
  (:func:`chunk_starts`); the state is carried from one chunk to the next, the gradient is not
  (:func:`loss_and_grads`); :func:`train_language_model` steps Adam with the gradients' global
  norm clipped and prints one line of progress per group of chunks;
- evaluation in nats per character with the state carried over a whole held-out text, or reset
  every ``k`` characters (:func:`evaluate_loss`); the context ablation (:func:`context_ablation`:
  the loss when the history older than k characters is replaced by zeros or by another passage's
  state);
- sampling: :func:`sample_with_temperature` (one character per row from softmax(logits / T))
  and :func:`generate` (text from a prime);
- baselines: add-alpha smoothed n-gram models (:func:`fit_ngram`, :func:`ngram_next_probabilities`,
  :func:`ngram_log_loss`, :func:`ngram_generate`);
- the same model in PyTorch (``nn.Embedding`` + ``nn.RNN``/``nn.GRU``/``nn.LSTM`` + ``nn.Linear``),
  trained by the same truncated BPTT (:func:`train_torch_language_model`,
  :func:`torch_evaluate_loss`); torch is imported inside these functions only.

Shapes: a text is a 1-D integer array ``tokens`` (L,) in ``0..V-1``; a batch of streams is
``(N, T)``; the state of a model is a tuple of (N, H) arrays: ``(h,)`` for the RNN and the GRU,
``(h, c)`` for the LSTM. Losses are means over the predicted characters, in nats (natural
logarithm); perplexity is ``exp(loss)`` and bits per character ``loss / ln 2``.
"""
import time
from typing import NamedTuple

import numpy as np

from . import fast as _fast
from . import gru as _gru
from . import layers as L
from . import lstm as _lstm
from . import rnn as _rnn
from . import models as _models
from ._validate import check_generator, check_positive_float, check_positive_int
from .clip import clip_grad_norm
from .optim import adam_init, adam_step

CELLS = L.CELLS


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------

def _check_stream(name, tokens, vocab_size, min_length=2):
    """``tokens`` as a 1-D integer array of at least ``min_length`` entries in ``0..vocab_size-1``."""
    tokens = np.asarray(tokens)
    if tokens.dtype.kind not in "iu" or tokens.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer array (L,) of character ids, got dtype "
                         f"{tokens.dtype} with shape {tokens.shape}")
    if tokens.size < min_length:
        raise ValueError(f"{name} must hold at least {min_length} characters, got shape {tokens.shape}")
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise ValueError(f"{name} must be in 0..V-1 = 0..{vocab_size - 1}, got values from "
                         f"{tokens.min()} to {tokens.max()}")
    return tokens


def _layer(params):
    """The recurrent layer's parameter dict and cell of a language model."""
    _models._require(params, ("W_embed", "W_out", "b_out", "rnn0.Wx", "rnn0.Wh"), "language model")
    layer = _models._group(params, "rnn0.")
    return layer, _models.cell_of(layer)


def vocab_size_of(params):
    """V of a language model: the rows of its embedding (V, E)."""
    return np.asarray(params["W_embed"]).shape[0]


def hidden_size_of(params):
    """H of a language model: the rows of its recurrent weights (H, G*H)."""
    return np.asarray(params["rnn0.Wh"]).shape[0]


# ----------------------------------------------------------------------------
# The model and its state
# ----------------------------------------------------------------------------

def init_language_model(vocab_size, embed_size, hidden_size, rng, cell="lstm"):
    """Parameters of a character language model: embedding, one recurrent layer, scores.

    Args:
        vocab_size: int V (characters); embed_size: int E; hidden_size: int H
        rng: numpy Generator; cell: ``"rnn"``, ``"gru"`` or ``"lstm"``

    Returns:
        params: dict ``W_embed`` (V, E), ``rnn0.*`` (the cell's parameters), ``W_out`` (H, V),
        ``b_out`` (V,), as :func:`rnncourse.models.init_sequence_model` makes them
    """
    return _models.init_sequence_model(vocab_size, embed_size, hidden_size, vocab_size, rng, cell=cell)


def zero_state(params, n_streams):
    """The state at the start of a text: zeros.

    Args:
        params: dict from :func:`init_language_model`; n_streams: int N >= 1

    Returns:
        state: tuple of (N, H) arrays, ``(h,)`` or, for an LSTM, ``(h, c)``
    """
    check_positive_int("n_streams", n_streams)
    layer, cell = _layer(params)
    H = hidden_size_of(params)
    dtype = np.asarray(layer["Wh"]).dtype
    return tuple(np.zeros((n_streams, H), dtype=dtype) for _ in range(2 if cell == "lstm" else 1))


def _check_state(state, params, N):
    layer, cell = _layer(params)
    H, parts = hidden_size_of(params), (2 if cell == "lstm" else 1)
    ok = isinstance(state, tuple) and len(state) == parts and all(np.shape(s) == (N, H) for s in state)
    if not ok:
        got = [np.shape(s) for s in state] if isinstance(state, tuple) else type(state).__name__
        names = "(h, c)" if parts == 2 else "(h,)"
        raise ValueError(f"state must be a tuple {names} of arrays of shape (N, H) = ({N}, {H}) for a "
                         f"{cell} model (zero_state(params, N) makes one), got {got}")
    return cell, layer


def _recurrent(cell, layer, x, state):
    """Run the layer over x (N, T, E) from ``state``; returns h (N, T, H), the cache, the last state."""
    if cell == "lstm":
        h, cache = _fast.lstm_forward_fast(x, state[0], layer["Wx"], layer["Wh"], layer["b"], c0=state[1])
        return h, cache, (h[:, -1].copy(), cache.c[-1].copy())
    forward = _fast.gru_forward_fast if cell == "gru" else _fast.rnn_forward_fast
    h, cache = forward(x, state[0], *(layer[name] for name in L.PARAM_NAMES[cell]))
    return h, cache, (h[:, -1].copy(),)


def _recurrent_backward(cell, dh, cache):
    """Backward pass of :func:`_recurrent`; the gradient into the carried state is dropped.

    Returns dx (N, T, E) and the layer's gradients keyed like its parameters."""
    if cell == "lstm":
        dx, _, _, dWx, dWh, db = _fast.lstm_backward_fast(dh, cache)
        return dx, {"Wx": dWx, "Wh": dWh, "b": db}
    backward = _fast.gru_backward_fast if cell == "gru" else _fast.rnn_backward_fast
    dx, _, *grads = backward(dh, cache)
    return dx, dict(zip(L.PARAM_NAMES[cell], grads))


def _output_backward(dscores, h, W_out):
    """Backward pass of the output layer ``scores = h W_out + b_out``, as two GEMMs over the N*T rows.

    The same numbers as :func:`rnncourse.layers.temporal_affine_backward`, whose ``einsum`` for dW
    took about a fifth of a training step here. Returns dh (N, T, H), dW_out (H, V), db_out (V,).
    """
    N, T, V = dscores.shape
    flat = dscores.reshape(N * T, V)
    dW_out = h.reshape(N * T, -1).T @ flat
    return (flat @ W_out.T).reshape(N, T, -1), dW_out, flat.sum(axis=0)


def _check_chunk(params, inputs, targets):
    V = vocab_size_of(params)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    for name, value in (("inputs", inputs), ("targets", targets)):
        if value.dtype.kind not in "iu" or value.ndim != 2:
            raise ValueError(f"{name} must be an integer array (N, T), got dtype {value.dtype} "
                             f"with shape {value.shape}")
    if targets.shape != inputs.shape:
        raise ValueError(f"targets must have the shape of inputs (N, T) = {inputs.shape}, got {targets.shape}")
    if targets.min() < 0 or targets.max() >= V:
        raise ValueError(f"targets must be in 0..V-1 = 0..{V - 1} (V from W_embed), got values from "
                         f"{targets.min()} to {targets.max()}")
    return inputs, targets


def chunk_scores(params, inputs, state):
    """Scores of the next character at every step of a chunk, from a given state (forward only).

    Args:
        params: dict from :func:`init_language_model`
        inputs: (N, T) integers in 0..V-1
        state: tuple of (N, H) arrays (see :func:`zero_state`)

    Returns:
        scores: (N, T, V); new_state: the state after the last step, a tuple like ``state``
    """
    inputs = np.asarray(inputs)
    if inputs.ndim != 2:
        raise ValueError(f"inputs must be an integer array (N, T), got shape {inputs.shape}")
    cell, layer = _check_state(state, params, inputs.shape[0])
    x, _ = L.embedding_forward(inputs, params["W_embed"])
    h, _, new_state = _recurrent(cell, layer, x, state)
    scores, _ = L.temporal_affine_forward(h, params["W_out"], params["b_out"])
    return scores, new_state


def loss_and_grads(params, inputs, targets, state):
    """Mean cross-entropy of one chunk and its gradients, truncated at the chunk's start.

    The chunk is read from ``state``, the state left by the previous chunk of the same streams.
    The state is an input and not a parameter: no gradient flows back into the previous chunk
    (truncated BPTT). The state after the last step is returned for the next chunk.

    Args:
        params: dict from :func:`init_language_model`
        inputs: (N, T) integers in 0..V-1, the characters read
        targets: (N, T) integers in 0..V-1, the next characters (``inputs`` shifted by one)
        state: tuple of (N, H) arrays, ``(h,)`` or ``(h, c)`` (LSTM)

    Returns:
        loss: float, mean nats per predicted character
        grads: dict keyed like ``params``
        new_state: tuple like ``state``, the state after the chunk's last step (new arrays)
    """
    inputs, targets = _check_chunk(params, inputs, targets)
    cell, layer = _check_state(state, params, inputs.shape[0])
    x, embed_cache = L.embedding_forward(inputs, params["W_embed"])
    h, rnn_cache, new_state = _recurrent(cell, layer, x, state)
    scores, _ = L.temporal_affine_forward(h, params["W_out"], params["b_out"])
    loss, dscores = L.temporal_softmax_loss(scores, targets, np.ones(targets.shape, dtype=bool))
    dh, dW_out, db_out = _output_backward(dscores, h, params["W_out"])
    dx, layer_grads = _recurrent_backward(cell, dh, rnn_cache)
    grads = {f"rnn0.{name}": value for name, value in layer_grads.items()}
    grads["W_embed"] = L.embedding_backward(dx, embed_cache)
    grads.update(W_out=dW_out, b_out=db_out)
    return loss, grads, new_state


# ----------------------------------------------------------------------------
# Truncated BPTT over one long stream
# ----------------------------------------------------------------------------

def batchify(tokens, n_streams):
    """Cut a text into ``n_streams`` contiguous parallel streams of equal length.

    Stream ``n`` is ``tokens[n*S : (n+1)*S]`` with ``S = L // n_streams``; the last ``L mod N``
    characters are dropped. Reading the columns left to right reads every stream in order, so
    the state of row ``n`` at the end of one chunk is the right start for its next chunk.

    Args:
        tokens: (L,) integers; n_streams: int N >= 1 with ``L // N >= 2``

    Returns:
        streams: (N, S) integers, a copy
    """
    tokens = np.asarray(tokens)
    if tokens.dtype.kind not in "iu" or tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-D integer array (L,), got dtype {tokens.dtype} with shape {tokens.shape}")
    check_positive_int("n_streams", n_streams)
    S = tokens.size // n_streams
    if S < 2:
        raise ValueError(f"tokens must hold at least 2 characters per stream: L = {tokens.size} for "
                         f"n_streams = {n_streams} gives {S}")
    return tokens[:n_streams * S].reshape(n_streams, S).copy()


def chunk_starts(stream_length, chunk_length):
    """The first column of every chunk of a (N, S) batch of streams.

    A chunk reads ``inputs = streams[:, s:s+T]`` and predicts ``targets = streams[:, s+1:s+T+1]``,
    so the S - 1 predictions of a stream are cut into ``ceil((S - 1) / T)`` chunks (the last one
    may be shorter).

    Args:
        stream_length: int S >= 2; chunk_length: int T >= 1

    Returns:
        starts: list of ints ``0, T, 2T, ...`` below S - 1
    """
    check_positive_int("stream_length", stream_length)
    check_positive_int("chunk_length", chunk_length)
    return list(range(0, stream_length - 1, chunk_length))


def train_language_model(params, tokens, n_streams, chunk_length, epochs, lr, max_norm=1.0,
                         print_every=None, verbose=True, blas_threads=1, after_epoch=None):
    """Train a character language model by truncated BPTT with Adam and norm clipping.

    Each epoch cuts ``tokens`` into ``n_streams`` streams (:func:`batchify`), starts every stream
    from the zero state and reads the streams in chunks of ``chunk_length`` characters
    (:func:`chunk_starts`). Per chunk: :func:`loss_and_grads` from the state the previous chunk
    left (the gradient stops at the chunk's start), the gradients' global norm clipped to
    ``max_norm`` (:func:`rnncourse.clip.clip_grad_norm`), one Adam step
    (:func:`rnncourse.optim.adam_step`).

    Args:
        params: dict from :func:`init_language_model` (not modified)
        tokens: (L,) integers in 0..V-1, the training text
        n_streams: int N; chunk_length: int T; epochs: int >= 1; lr: float > 0; max_norm: float > 0
        print_every: int, chunks per line of progress (default: one line per epoch)
        verbose: print ``epoch e/E chunk c/C  loss ...  |g| ...  time`` per group of chunks
        blas_threads: BLAS threads while training (as in :func:`rnncourse.models.train`)
        after_epoch: None or a function ``f(epoch, params) -> value`` called after every epoch
            (epoch counted from 1) with the parameters trained so far, e.g. to measure a
            validation loss; its time is not counted in ``seconds``

    Returns:
        params: the trained parameters
        history: dict of lists, one entry per group of chunks: ``chunks`` (chunks trained so
        far), ``loss`` (mean training loss of the group, nats/char), ``grad_norm`` (mean norm
        before clipping), ``seconds`` (training time so far); and ``after_epoch``, one value
        per epoch returned by ``after_epoch`` (empty when it is None)
    """
    V = vocab_size_of(params)
    tokens = _check_stream("tokens", tokens, V)
    check_positive_int("epochs", epochs)
    check_positive_int("chunk_length", chunk_length)
    check_positive_int("print_every", print_every, allow_none=True)
    lr, max_norm = check_positive_float("lr", lr), check_positive_float("max_norm", max_norm)
    if after_epoch is not None and not callable(after_epoch):
        raise ValueError(f"after_epoch must be None or a function f(epoch, params), got {type(after_epoch).__name__}")
    streams = batchify(tokens, n_streams)
    starts = chunk_starts(streams.shape[1], chunk_length)
    group = print_every or len(starts)
    state_adam = adam_init(params)
    history = {"chunks": [], "loss": [], "grad_norm": [], "seconds": [], "after_epoch": []}
    losses, norms, elapsed, done = [], [], 0.0, 0
    with _models._blas_limit(blas_threads):
        for epoch in range(epochs):
            state = zero_state(params, n_streams)
            for i, s in enumerate(starts):
                begin = time.perf_counter()
                inputs = streams[:, s:s + chunk_length]
                targets = streams[:, s + 1:s + 1 + chunk_length]
                inputs = inputs[:, :targets.shape[1]]
                loss, grads, state = loss_and_grads(params, inputs, targets, state)
                grads, norm = clip_grad_norm(grads, max_norm)
                params, state_adam = adam_step(params, grads, state_adam, lr)
                elapsed += time.perf_counter() - begin
                losses.append(loss)
                norms.append(norm)
                done += 1
                if len(losses) == group or i == len(starts) - 1:
                    _record_progress(history, losses, norms, done, elapsed,
                                     f"epoch {epoch + 1}/{epochs} chunk {i + 1:>4}/{len(starts)}", verbose)
                    losses, norms = [], []
            if after_epoch is not None:
                history["after_epoch"].append(after_epoch(epoch + 1, params))
    return params, history



def _record_progress(history, losses, norms, done, elapsed, where, verbose):
    """Append one group of chunks to ``history`` and print its line if ``verbose``.

    Args:
        history: dict of lists ``chunks``, ``loss``, ``grad_norm``, ``seconds`` (appended to)
        losses, norms: lists of floats, the group's chunk losses and gradient norms before clipping
        done: int, chunks trained so far; elapsed: float, training seconds so far
        where: str, the start of the progress line (epoch and chunk)
    """
    history["chunks"].append(done)
    history["loss"].append(float(np.mean(losses)))
    history["grad_norm"].append(float(np.mean(norms)))
    history["seconds"].append(elapsed)
    if verbose:
        print(f"{where}  loss {history['loss'][-1]:.3f}  |g| {history['grad_norm'][-1]:.2f}  {elapsed:.1f} s")


def evaluate_loss(params, tokens, reset_every=None):
    """Mean loss in nats per character of a model on a held-out text.

    The model predicts ``tokens[1:]`` from the characters before. With ``reset_every=None`` it
    reads the whole text as one stream, the state carried throughout. With ``reset_every=k`` the
    state is set to zero every k characters: the text is cut into windows of k characters, each
    read from the zero state, so that a prediction sees at most the last k characters (the
    first of a window sees one). Every k predicts the same L - 1 characters.

    Args:
        params: dict from :func:`init_language_model`
        tokens: (L,) integers in 0..V-1, L >= 2
        reset_every: None or int k >= 1

    Returns:
        loss: float, nats per predicted character
    """
    tokens = _check_stream("tokens", tokens, vocab_size_of(params))
    check_positive_int("reset_every", reset_every, allow_none=True)
    inputs, targets = tokens[:-1], tokens[1:]
    k = inputs.size if reset_every is None else min(reset_every, inputs.size)
    full = (inputs.size // k) * k
    parts = [(inputs[:full].reshape(-1, k), targets[:full].reshape(-1, k))]
    if full < inputs.size:
        parts.append((inputs[full:][None, :], targets[full:][None, :]))
    total = 0.0
    with _models._blas_limit(1):
        for x, y in parts:
            scores, _ = chunk_scores(params, x, zero_state(params, x.shape[0]))
            total += _token_losses(scores, y).sum()
    return float(total / inputs.size)


def carried_states(params, tokens):
    """The state after every character of a text read as one stream from the zero state.

    Args:
        params: dict from :func:`init_language_model`; tokens: (L,) integers in 0..V-1

    Returns:
        states: tuple like a state, of (L, H) arrays: row t is the state after reading tokens[t]
    """
    tokens = _check_stream("tokens", tokens, vocab_size_of(params), min_length=1)
    cell, layer = _check_state(zero_state(params, 1), params, 1)
    x, _ = L.embedding_forward(tokens[None, :], params["W_embed"])
    with _models._blas_limit(1):
        h, cache, _ = _recurrent(cell, layer, x, zero_state(params, 1))
    if cell == "lstm":
        return (np.ascontiguousarray(h[0]), np.ascontiguousarray(cache.c[:, 0]))
    return (np.ascontiguousarray(h[0]),)


class Ablation(NamedTuple):
    """What :func:`context_ablation` measures (losses in nats per character)."""

    carried: float  # the whole text read with the state carried (no reset)
    reset_zero: list  # per k of ``resets``: the state reset to zeros every k characters
    reset_swapped: list  # per k: reset every k characters to another window's carried state
    by_history_zero: np.ndarray  # (window,) loss of the prediction after j = 1..window characters, from zeros
    by_history_swapped: np.ndarray  # (window,) the same from another window's carried state
    by_history_carried: np.ndarray  # (window,) the same predictions with the state carried


def _window_loss(params, inputs, targets, state):
    """Losses (W, k) of windows inputs/targets (W, k) read from ``state`` (a tuple of (W, H))."""
    scores, _ = chunk_scores(params, inputs, state)
    return _token_losses(scores, targets)


def _token_losses(scores, targets):
    """Cross-entropy in nats of each prediction: scores (..., V), targets (...) ints -> (...)."""
    return -np.take_along_axis(L.log_softmax(scores), targets[..., None], axis=-1)[..., 0]


def context_ablation(params, tokens, resets, window, stride, rng):
    """How much of its history a model uses: its loss when older history is taken away.

    One pass over the text with the state carried gives the reference: every character's loss
    and every state (:func:`carried_states`). Then two measurements, each from two kinds of fresh
    state, the zero state and the carried state at the start of *another* window (drawn by a
    random permutation of the windows; "swapped"):

    - reset every k: the text cut into windows of k characters, each read from a fresh state
      (with zeros this is ``evaluate_loss(params, tokens, reset_every=k)``); every k predicts the
      same L - 1 characters, a prediction with between 1 and k characters of history;
    - by history: windows of ``window`` characters beginning every ``stride`` characters (they may
      overlap), read from a fresh state; the loss of the j-th prediction of a window (made after
      j characters) averaged over the windows, next to the same predictions with the state carried.

    The zero state is one the model rarely meets in training (at the start of an epoch only); a
    swapped state is a usual one that holds the wrong history. Where both agree, the result is not
    an artefact of either.

    Args:
        params: dict from :func:`init_language_model`; tokens: (L,) integers in 0..V-1, L > window + 1
        resets: sequence of ints k >= 1 (``None`` entries mean no reset: the carried loss)
        window: int >= 1; stride: int >= 1
        rng: numpy Generator, drawing the permutations for ``resets`` in order, then the one for
            the by-history windows

    Returns:
        :class:`Ablation`
    """
    tokens = _check_stream("tokens", tokens, vocab_size_of(params))
    check_positive_int("window", window)
    check_positive_int("stride", stride)
    rng = check_generator(rng)
    if tokens.size <= window + 1:
        raise ValueError(f"tokens must be longer than window + 1 = {window + 1}, got shape {tokens.shape}")
    inputs, targets = tokens[:-1], tokens[1:]
    n = inputs.size
    with _models._blas_limit(1):
        states = carried_states(params, inputs)  # row t: after reading inputs[t]
        per_token = _token_losses(states[0] @ params["W_out"] + params["b_out"], targets)  # (n,)
        before = [np.vstack([np.zeros((1, s.shape[1]), s.dtype), s[:-1]]) for s in states]  # state before t

        def fresh(starts, kind, order=None):
            if kind == "zero":
                return zero_state(params, starts.size)
            return tuple(b[starts[order]] for b in before)

        reset_zero, reset_swapped = [], []
        for k in resets:
            check_positive_int("reset_every", k, allow_none=True)
            if k is None or k >= n:
                reset_zero.append(float(per_token.mean()))
                reset_swapped.append(float(per_token.mean()))
                continue
            starts = np.arange(0, n, k)
            order = rng.permutation(starts.size)
            full = n // k
            for kind, out in (("zero", reset_zero), ("swapped", reset_swapped)):
                state = fresh(starts, kind, order)
                total = _window_loss(params, inputs[:full * k].reshape(full, k), targets[:full * k].reshape(full, k),
                                     tuple(s[:full] for s in state)).sum()
                if full < starts.size:
                    total += _window_loss(params, inputs[full * k:][None, :], targets[full * k:][None, :],
                                          tuple(s[full:] for s in state)).sum()
                out.append(float(total / n))
        starts = np.arange(0, n - window + 1, stride)
        rows = starts[:, None] + np.arange(window)  # (W, window)
        order = rng.permutation(starts.size)
        by_history = {kind: _window_loss(params, inputs[rows], targets[rows], fresh(starts, kind, order)).mean(axis=0)
                      for kind in ("zero", "swapped")}
    return Ablation(float(per_token.mean()), reset_zero, reset_swapped, by_history["zero"], by_history["swapped"],
                    per_token[rows].mean(axis=0))


# ----------------------------------------------------------------------------
# Sampling and generation
# ----------------------------------------------------------------------------

def sample_with_temperature(logits, temperature, rng):
    """Draw one index per row from ``softmax(logits / temperature)``.

    ``p = softmax(logits / temperature)`` row by row (computed with a log-softmax, so that
    small temperatures do not overflow). Then one uniform number ``u`` per row
    (``rng.random(N)``, in this order) picks the first index whose cumulative probability
    exceeds ``u`` (inverse-CDF sampling). A temperature below 1 sharpens the distribution
    towards the most probable index (the argmax as the temperature goes to 0), above 1
    flattens it towards uniform.

    Args:
        logits: (N, V) float scores, finite
        temperature: float > 0
        rng: numpy Generator

    Returns:
        indices: (N,) int64 in 0..V-1
    """
    logits = np.asarray(logits)
    if logits.dtype.kind not in "fiu" or logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits must be a float array (N, V), got dtype {logits.dtype} with shape {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits must be finite (no nan or inf)")
    temperature = check_positive_float("temperature", temperature)
    rng = check_generator(rng)
    probs = np.exp(L.log_softmax(logits.astype(np.float64) / temperature))  # (N, V)
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(logits.shape[0])[:, None] * cumulative[:, -1:]  # scaled: rows sum to 1 up to rounding
    return np.minimum((cumulative <= u).sum(axis=1), logits.shape[1] - 1).astype(np.int64)


def _encode_prime(prime_text, chars):
    if not isinstance(prime_text, str) or not prime_text:
        raise ValueError(f"prime_text must be a non-empty str, got {prime_text!r}")
    index = {c: i for i, c in enumerate(chars)}
    unknown = sorted(set(prime_text) - set(index))
    if unknown:
        raise ValueError(f"prime_text has characters that are not in chars (the vocabulary): {unknown}")
    return np.array([index[c] for c in prime_text], dtype=np.int64)


def _step(cell, layer, x, state):
    """One step of the cell (the teaching step functions of chapters 1 and 4): x (N, E) -> new state."""
    if cell == "lstm":
        h, c, _ = _lstm.lstm_step_forward(x, state[0], state[1], layer["Wx"], layer["Wh"], layer["b"])
        return (h, c)
    if cell == "gru":
        return (_gru.gru_step_forward(x, state[0], layer["Wx"], layer["Wh"], layer["bx"], layer["bh"])[0],)
    return (_rnn.rnn_step_forward(x, state[0], layer["Wx"], layer["Wh"], layer["b"])[0],)


def generate(params, prime_text, length, temperature, rng, chars):
    """Text written by a language model after a prime, one sampled character at a time.

    The prime is read first (its state is the start); then each step samples a character from
    the model's scores with :func:`sample_with_temperature` and reads it (one step of the cell,
    ``rnncourse.rnn.rnn_step_forward``, ``gru.gru_step_forward`` or ``lstm.lstm_step_forward``).

    Args:
        params: dict from :func:`init_language_model`
        prime_text: non-empty str of characters in ``chars``
        length: int >= 1, the number of characters to write
        temperature: float > 0; rng: numpy Generator
        chars: list of V one-character str, ``chars[i]`` the character of id i

    Returns:
        text: str of ``length`` characters (the prime not included)
    """
    if len(chars) != vocab_size_of(params):
        raise ValueError(f"chars must have V = {vocab_size_of(params)} entries (V from W_embed), got {len(chars)}")
    prime = _encode_prime(prime_text, chars)
    check_positive_int("length", length)
    check_positive_float("temperature", temperature)
    check_generator(rng)
    layer, cell = _layer(params)
    W_embed, W_out, b_out = params["W_embed"], params["W_out"], params["b_out"]
    written = []
    with _models._blas_limit(1):
        scores, state = chunk_scores(params, prime[None, :], zero_state(params, 1))
        scores = scores[:, -1]  # (1, V)
        for _ in range(length):
            token = sample_with_temperature(scores, temperature, rng)  # (1,)
            written.append(int(token[0]))
            state = _step(cell, layer, W_embed[token], state)
            scores = state[0] @ W_out + b_out
    return "".join(chars[t] for t in written)


# ----------------------------------------------------------------------------
# n-gram baselines with add-alpha smoothing
# ----------------------------------------------------------------------------

class NGramModel(NamedTuple):
    """Counts of an n-gram model (from :func:`fit_ngram`).

    ``keys[m]`` (sorted) and ``counts[m]`` count every (m + 1)-character window of the training
    text, coded as a base-V number; ``context_keys[m]`` and ``context_counts[m]`` count their
    first m characters; m = 0 .. order - 1.
    """

    order: int
    vocab_size: int
    keys: tuple
    counts: tuple
    context_keys: tuple
    context_counts: tuple


def _window_codes(tokens, width, V):
    """Base-V codes of every window of ``width`` consecutive tokens: (L - width + 1,) int64."""
    codes = np.zeros(tokens.size - width + 1, dtype=np.int64)
    for j in range(width):
        codes = codes * V + tokens[j:tokens.size - width + 1 + j]
    return codes


def fit_ngram(train_tokens, order, vocab_size):
    """Count the windows of 1 to ``order`` characters of a training text.

    Args:
        train_tokens: (L,) integers in 0..V-1, L >= order
        order: int n >= 1 (1: unigram, 2: bigram, ...): a prediction reads n - 1 characters
        vocab_size: int V; V ** order must fit in an int64

    Returns:
        model: :class:`NGramModel`
    """
    check_positive_int("order", order)
    check_positive_int("vocab_size", vocab_size)
    if vocab_size ** order >= 2 ** 62:
        raise ValueError(f"order must keep vocab_size ** order below 2**62, got V = {vocab_size}, order = {order}")
    tokens = _check_stream("train_tokens", train_tokens, vocab_size, min_length=order).astype(np.int64)
    keys, counts, context_keys, context_counts = [], [], [], []
    for m in range(order):
        codes = _window_codes(tokens, m + 1, vocab_size)
        k, c = np.unique(codes, return_counts=True)
        ck, cc = np.unique(codes // vocab_size, return_counts=True)  # the first m characters
        keys.append(k)
        counts.append(c)
        context_keys.append(ck)
        context_counts.append(cc)
    return NGramModel(order, vocab_size, tuple(keys), tuple(counts), tuple(context_keys), tuple(context_counts))


def _lookup(keys, counts, codes):
    """The count of every code in ``codes`` (0 where it was never seen)."""
    where = np.searchsorted(keys, codes)
    where = np.minimum(where, keys.size - 1)
    return np.where(keys[where] == codes, counts[where], 0)


def _check_ngram(model):
    if not isinstance(model, NGramModel):
        raise ValueError(f"model must be an NGramModel from fit_ngram, got {type(model).__name__}")


def ngram_next_probabilities(model, context, alpha):
    """The add-alpha smoothed distribution of the next character after ``context``.

    ``p(c | context) = (count(context + c) + alpha) / (count(context) + alpha V)``, with the
    context cut to its last n - 1 characters (fewer if it is shorter). An unseen context gives
    the uniform distribution.

    Args:
        model: :class:`NGramModel`; context: (m,) integers in 0..V-1 (m may be 0); alpha: float > 0

    Returns:
        probs: (V,) floats that sum to 1
    """
    _check_ngram(model)
    alpha = check_positive_float("alpha", alpha)
    V = model.vocab_size
    context = np.asarray(context, dtype=np.int64).reshape(-1)
    if context.size and (context.min() < 0 or context.max() >= V):
        raise ValueError(f"context must be in 0..V-1 = 0..{V - 1}, got values from {context.min()} to {context.max()}")
    context = context[context.size - min(context.size, model.order - 1):]
    m = context.size
    code = 0
    for t in context:  # the base-V code of the m-character context
        code = code * V + int(t)
    counts = _lookup(model.keys[m], model.counts[m], code * V + np.arange(V))
    total = _lookup(model.context_keys[m], model.context_counts[m], np.array([code]))[0]
    return (counts + alpha) / (total + alpha * V)


def ngram_loss(model, test_tokens, alpha):
    """Mean loss in nats per character of an n-gram model on a text.

    Predicts ``test_tokens[1:]`` (the characters a neural model predicts) from the n - 1
    characters before each; the first n - 2 use the shorter context they have.

    Args:
        model: :class:`NGramModel`; test_tokens: (L,) integers in 0..V-1, L >= 2; alpha: float > 0

    Returns:
        loss: float
    """
    _check_ngram(model)
    alpha = check_positive_float("alpha", alpha)
    V = model.vocab_size
    tokens = _check_stream("test_tokens", test_tokens, V).astype(np.int64)
    total, n = 0.0, model.order
    for m in range(n):
        # the predictions at positions t >= 1 that read m characters: m = min(t, n - 1)
        lo = max(m, 1)
        hi = tokens.size if m == n - 1 else min(m + 1, tokens.size)
        if lo >= hi:
            continue
        codes = _window_codes(tokens[lo - m:hi], m + 1, V)  # windows tokens[t-m : t+1], t in lo..hi-1
        counts = _lookup(model.keys[m], model.counts[m], codes)
        totals = _lookup(model.context_keys[m], model.context_counts[m], codes // V)
        total -= np.log((counts + alpha) / (totals + alpha * V)).sum()
    return float(total / (tokens.size - 1))


def ngram_log_loss(train_tokens, test_tokens, order, vocab_size, alpha):
    """Fit an n-gram model on one text and return its mean loss (nats/char) on another.

    Args:
        train_tokens, test_tokens: (L,) integers in 0..V-1; order: int n >= 1; vocab_size: int V;
        alpha: float > 0, the add-alpha smoothing

    Returns:
        loss: float, see :func:`ngram_loss`
    """
    return ngram_loss(fit_ngram(train_tokens, order, vocab_size), test_tokens, alpha)


def ngram_generate(model, prime_tokens, length, alpha, rng, temperature=1.0):
    """Characters sampled from an n-gram model after a prime, with :func:`sample_with_temperature`.

    Args:
        model: :class:`NGramModel`; prime_tokens: (m,) integers, m >= 0; length: int >= 1;
        alpha: float > 0; rng: numpy Generator; temperature: float > 0 (applied to the log-probabilities)

    Returns:
        tokens: (length,) int64, the written characters
    """
    _check_ngram(model)
    check_positive_int("length", length)
    rng = check_generator(rng)
    history = [int(t) for t in np.asarray(prime_tokens, dtype=np.int64).reshape(-1)]
    written = []
    for _ in range(length):
        probs = ngram_next_probabilities(model, np.array(history[-(model.order - 1):] if model.order > 1 else []), alpha)
        token = int(sample_with_temperature(np.log(probs)[None, :], temperature, rng)[0])
        written.append(token)
        history.append(token)
    return np.array(written, dtype=np.int64)


# ----------------------------------------------------------------------------
# The same model in PyTorch (optional dependency, imported inside the functions)
# ----------------------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - torch is installed in the course environment
        raise ImportError("the PyTorch language model needs torch (pip install torch)") from error
    return torch


def make_torch_language_model(cell, vocab_size, embed_size, hidden_size):
    """``nn.Embedding`` + ``nn.RNN``/``nn.GRU``/``nn.LSTM`` (batch first) + ``nn.Linear``, in PyTorch.

    Args:
        cell: ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``; vocab_size: int V; embed_size: int E;
        hidden_size: int H

    Returns:
        model: a ``torch.nn.Module`` whose ``forward(inputs (N, T) long, state)`` returns
        ``(scores (N, T, V), new_state)``; ``state`` is None (zeros) or what the previous call
        returned (``h`` (1, N, H), or ``(h, c)`` for the LSTM)
    """
    _models._check_option("cell", cell, CELLS)
    for name, value in (("vocab_size", vocab_size), ("embed_size", embed_size), ("hidden_size", hidden_size)):
        check_positive_int(name, value)
    nn = _torch().nn
    recurrent = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]

    class CharLanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed_size)
            self.rnn = recurrent(embed_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, vocab_size)

        def forward(self, inputs, state=None):
            h, state = self.rnn(self.embed(inputs), state)
            return self.out(h), state

    return CharLanguageModel()


def _detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def train_torch_language_model(cell, tokens, vocab_size, embed_size, hidden_size, n_streams, chunk_length,
                               epochs, lr, max_norm=1.0, seed=0, print_every=None, verbose=True):
    """Train :func:`make_torch_language_model` by the truncated BPTT of :func:`train_language_model`.

    The same streams (:func:`batchify`), chunks (:func:`chunk_starts`), state carried and
    detached at every chunk's start, mean cross-entropy, ``clip_grad_norm_`` to ``max_norm`` and
    ``torch.optim.Adam(lr)``. float32, one CPU thread (``torch.set_num_threads(1)``, restored
    afterwards), ``torch.manual_seed(seed)`` before the parameters are drawn. PyTorch draws its
    own initial parameters (its defaults), not those of :func:`init_language_model`.

    Args:
        cell, vocab_size, embed_size, hidden_size: as in :func:`make_torch_language_model`
        tokens: (L,) integers in 0..V-1; n_streams: int N; chunk_length: int T; epochs: int >= 1
        lr: float > 0; max_norm: float > 0; seed: int
        print_every, verbose: as in :func:`train_language_model`

    Returns:
        model: the trained module; history: as in :func:`train_language_model`
    """
    torch = _torch()
    tokens = _check_stream("tokens", tokens, vocab_size)
    check_positive_int("epochs", epochs)
    check_positive_int("chunk_length", chunk_length)
    check_positive_int("print_every", print_every, allow_none=True)
    lr, max_norm = check_positive_float("lr", lr), check_positive_float("max_norm", max_norm)
    streams = torch.from_numpy(batchify(tokens, n_streams))
    starts = chunk_starts(streams.shape[1], chunk_length)
    group = print_every or len(starts)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = make_torch_language_model(cell, vocab_size, embed_size, hidden_size)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        history = {"chunks": [], "loss": [], "grad_norm": [], "seconds": []}
        losses, norms, elapsed, done = [], [], 0.0, 0
        for epoch in range(epochs):
            state = None
            for i, s in enumerate(starts):
                begin = time.perf_counter()
                targets = streams[:, s + 1:s + 1 + chunk_length]
                inputs = streams[:, s:s + targets.shape[1]]
                scores, state = model(inputs, state)
                state = _detach(state)  # carried forward, the gradient cut here
                loss = torch.nn.functional.cross_entropy(scores.reshape(-1, vocab_size), targets.reshape(-1))
                optimizer.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                optimizer.step()
                elapsed += time.perf_counter() - begin
                losses.append(float(loss.detach()))
                norms.append(float(norm))
                done += 1
                if len(losses) == group or i == len(starts) - 1:
                    _record_progress(history, losses, norms, done, elapsed,
                                     f"epoch {epoch + 1}/{epochs} chunk {i + 1:>4}/{len(starts)}", verbose)
                    losses, norms = [], []
    finally:
        torch.set_num_threads(threads)
    return model, history


def torch_evaluate_loss(model, tokens, chunk_length=1000):
    """Mean loss in nats per character of a PyTorch model on a text, the state carried throughout.

    As :func:`evaluate_loss` with ``reset_every=None``: one stream predicts ``tokens[1:]``.

    Args:
        model: from :func:`make_torch_language_model`; tokens: (L,) integers in 0..V-1;
        chunk_length: int, characters per forward call (does not change the result)

    Returns:
        loss: float
    """
    torch = _torch()
    V = model.out.out_features
    tokens = torch.from_numpy(_check_stream("tokens", tokens, V).astype(np.int64))[None, :]
    check_positive_int("chunk_length", chunk_length)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        total, state = 0.0, None
        with torch.no_grad():
            for s in range(0, tokens.shape[1] - 1, chunk_length):
                targets = tokens[:, s + 1:s + 1 + chunk_length]
                scores, state = model(tokens[:, s:s + targets.shape[1]], state)
                total += float(torch.nn.functional.cross_entropy(scores.reshape(-1, V), targets.reshape(-1),
                                                                 reduction="sum"))
    finally:
        torch.set_num_threads(threads)
    return total / (tokens.shape[1] - 1)
