"""Small numpy models for chapter 5's input-output configurations, their training loop and decoders.

Every model is a pair of pure functions on a flat parameter dict ``{name: array}``:
``init_*(..., rng) -> params`` and ``*_loss_and_grads(params, batch) -> (loss, grads)``,
with ``grads`` keyed like ``params``. Options that are not parameters (a pooling rule,
the residual connection, ``fast``) are keyword arguments; bind them with
``functools.partial`` before handing the loss to :func:`train`.

The models, one per configuration of chapter 5 (built from :mod:`rnncourse.layers`):

- one-to-one: :func:`init_mlp`, :func:`mlp_loss_and_grads` (a one-hidden-layer network);
- one-to-many: :func:`init_generator`, :func:`generator_loss_and_grads`, decoded with
  :func:`generator_decode` (which calls :func:`rnn_greedy_decode`);
- many-to-one: :func:`init_sequence_model` + :func:`classifier_loss_and_grads` (the last
  state by length, or the masked mean of the states);
- many-to-many, aligned: :func:`init_sequence_model` + :func:`tagger_loss_and_grads`. A
  language model is a tagger whose tags are the next tokens;
- many-to-many, unaligned: :func:`init_seq2seq` + :func:`seq2seq_loss_and_grads` (an
  encoder-decoder trained with teacher forcing, with no attention, additive or dot
  attention), decoded with :func:`greedy_decode` or :func:`beam_search`.

Parameter names. A sequence model has ``W_embed`` (V, E); a unidirectional stack of L layers
has ``rnn0.Wx``, ``rnn0.Wh``, ``rnn0.b``, ..., ``rnn{L-1}.*``; a bidirectional layer has
``fwd.*`` and ``bwd.*``; the output layer is ``W_out``, ``b_out``. A seq2seq model has
``enc.*`` and ``dec.*`` (each with its ``W_embed``), ``att.Wq``, ``att.Wk``, ``att.v`` for additive
attention, and ``W_out``, ``b_out``. The cell is read from the shapes: a GRU has ``bx`` and ``bh``,
an LSTM has ``Wh`` of shape (H, 4H), a plain (tanh) RNN ``Wh`` of shape (H, H).

Token conventions are those of the chapter 5 tasks in :mod:`rnncourse.data`: digits
``0..n_digits-1``, EOS = ``n_digits`` (also the padding), START = ``n_digits + 1``.
"""
import contextlib
import time
from typing import NamedTuple

import numpy as np

from . import layers as L
from ._validate import check_generator, check_positive_int, validate
from .clip import clip_grad_norm
from .optim import adam_init, adam_step
from .rnn import rnn_backward, rnn_forward, rnn_step_forward


# ----------------------------------------------------------------------------
# Small helpers: parameter groups, argument checks
# ----------------------------------------------------------------------------

def _uniform(shape, fan_in, rng):
    """Entries uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)], PyTorch's default for nn.Linear."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


def _group(params, prefix):
    """The parameters whose names start with ``prefix``, with the prefix removed."""
    return {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}


def _prefixed(grads, prefix):
    return {prefix + name: value for name, value in grads.items()}


def _require(params, names, model):
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"params of a {model} must have the keys {missing} (see init for this model), "
                         f"got {sorted(params)}")


def _unpack(batch, names):
    """Check that ``batch`` is a tuple of len(names) arrays and return them as a tuple."""
    if not isinstance(batch, (tuple, list)) or len(batch) != len(names):
        got = type(batch).__name__
        if isinstance(batch, (tuple, list)):
            got += f" of length {len(batch)}"
        raise ValueError(f"batch must be a tuple ({', '.join(names)}), got a {got}")
    return tuple(np.asarray(item) for item in batch)


def cell_of(layer_params):
    """The cell of a parameter dict, read from its keys and shapes.

    Args:
        layer_params: dict with ``Wx`` (D, G*H), ``Wh`` (H, G*H) and ``b`` (G*H,), or ``bx``/``bh`` (GRU)

    Returns:
        cell: ``"gru"`` if it has ``bx``; ``"lstm"`` if G = 4; ``"rnn"`` if G = 1
    """
    if "bx" in layer_params:
        return "gru"
    Wh = np.asarray(layer_params["Wh"])
    if Wh.ndim == 2 and Wh.shape[1] == Wh.shape[0]:
        return "rnn"
    if Wh.ndim == 2 and Wh.shape[1] == 4 * Wh.shape[0]:
        return "lstm"
    raise ValueError(f"Wh must have shape (H, H) (rnn) or (H, 4H) (lstm), got {Wh.shape}")


def _check_option(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


# ----------------------------------------------------------------------------
# One-to-one: a multilayer perceptron
# ----------------------------------------------------------------------------

def init_mlp(input_size, hidden_size, n_classes, rng):
    """Parameters of a one-hidden-layer network ``scores = tanh(x W1 + b1) W2 + b2``.

    Args:
        input_size: int D >= 1; hidden_size: int H >= 1; n_classes: int C >= 2; rng: numpy Generator

    Returns:
        params: dict ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,)
    """
    check_positive_int("input_size", input_size)
    check_positive_int("hidden_size", hidden_size)
    check_positive_int("n_classes", n_classes)
    rng = check_generator(rng)
    return {"W1": _uniform((input_size, hidden_size), input_size, rng), "b1": np.zeros(hidden_size),
            "W2": _uniform((hidden_size, n_classes), hidden_size, rng), "b2": np.zeros(n_classes)}


def mlp_scores(params, x):
    """Class scores of the MLP.

    Args:
        params: dict from :func:`init_mlp`; x: (N, D) inputs

    Returns:
        scores: (N, C) unnormalised class scores
    """
    _require(params, ("W1", "b1", "W2", "b2"), "MLP")
    (x, W1, b1, W2, b2), _ = validate(x=(x, ("N", "D")), W1=(params["W1"], ("D", "H")), b1=(params["b1"], ("H",)),
                                      W2=(params["W2"], ("H", "C")), b2=(params["b2"], ("C",)))
    return np.tanh(x @ W1 + b1) @ W2 + b2


def mlp_loss_and_grads(params, batch):
    """Mean cross-entropy of the MLP and its gradients.

    Args:
        params: dict from :func:`init_mlp`
        batch: tuple ``(x, y)``: x (N, D) float inputs, y (N,) int classes in [0, C)

    Returns:
        loss: float; grads: dict keyed like ``params``
    """
    _require(params, ("W1", "b1", "W2", "b2"), "MLP")
    x, y = _unpack(batch, ("x", "y"))
    (x, W1, b1, W2, b2), sizes = validate(x=(x, ("N", "D")), W1=(params["W1"], ("D", "H")), b1=(params["b1"], ("H",)),
                                          W2=(params["W2"], ("H", "C")), b2=(params["b2"], ("C",)))
    if y.shape != (sizes["N"],):
        raise ValueError(f"y must have shape (N,) = ({sizes['N']},), got {y.shape}")
    hidden = np.tanh(x @ W1 + b1)  # (N, H)
    scores = hidden @ W2 + b2  # (N, C)
    loss, dscores = L.temporal_softmax_loss(scores[:, None, :], y[:, None], np.ones((sizes["N"], 1), dtype=bool))
    dscores = dscores[:, 0, :]
    dhidden = dscores @ W2.T
    dpre = dhidden * (1.0 - hidden**2)
    return loss, {"W1": x.T @ dpre, "b1": dpre.sum(axis=0), "W2": hidden.T @ dscores, "b2": dscores.sum(axis=0)}


# ----------------------------------------------------------------------------
# One-to-many: a vector sets the initial state of an RNN decoder
# ----------------------------------------------------------------------------

def rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token, max_length):
    """Greedy decoding with a tanh RNN: feed each chosen token back as the next input.

    Step t reads the embedding of the previous token (``start_token`` at step 0), updates
    ``h = tanh(W_embed[token] Wx + h Wh + b)``, scores ``h W_out + b_out`` and takes the
    argmax (the lowest index on a tie). It always runs ``max_length`` steps: stopping at an
    end token is the caller's business.

    Args:
        h0: (N, H) initial hidden state
        W_embed: (V, E) embedding of the tokens
        Wx: (E, H), Wh: (H, H), b: (H,) the RNN cell
        W_out: (H, V), b_out: (V,) the output layer
        start_token: int in [0, V), the first input
        max_length: int >= 1, number of tokens to produce

    Returns:
        tokens: (N, max_length) int64 chosen tokens
    """
    (h, W_embed, Wx, Wh, b, W_out, b_out), sizes = validate(
        h0=(h0, ("N", "H")), W_embed=(W_embed, ("V", "E")), Wx=(Wx, ("E", "H")), Wh=(Wh, ("H", "H")),
        b=(b, ("H",)), W_out=(W_out, ("H", "V")), b_out=(b_out, ("V",)))
    if (isinstance(start_token, bool) or not isinstance(start_token, (int, np.integer))
            or not 0 <= start_token < sizes["V"]):
        raise ValueError(f"start_token must be an integer in [0, V) = [0, {sizes['V']}) (V from W_embed "
                         f"{W_embed.shape}), got {start_token!r}")
    check_positive_int("max_length", max_length)
    tokens = np.empty((sizes["N"], max_length), dtype=np.int64)
    previous = np.full(sizes["N"], start_token, dtype=np.int64)
    for t in range(max_length):
        h, _ = rnn_step_forward(W_embed[previous], h, Wx, Wh, b)  # the tanh cell of chapter 1
        previous = np.argmax(h @ W_out + b_out, axis=1)
        tokens[:, t] = previous
    return tokens


_GENERATOR_KEYS = ("W_init", "b_init", "W_embed", "Wx", "Wh", "b", "W_out", "b_out")


def init_generator(input_size, vocab_size, embed_size, hidden_size, rng):
    """Parameters of a one-to-many model: ``h0 = tanh(x W_init + b_init)``, then a tanh RNN decoder.

    Args:
        input_size: int D; vocab_size: int V; embed_size: int E; hidden_size: int H; rng: numpy Generator

    Returns:
        params: dict ``W_init`` (D, H), ``b_init`` (H,), ``W_embed`` (V, E), ``Wx`` (E, H),
        ``Wh`` (H, H), ``b`` (H,), ``W_out`` (H, V), ``b_out`` (V,)
    """
    for name, value in (("input_size", input_size), ("vocab_size", vocab_size),
                        ("embed_size", embed_size), ("hidden_size", hidden_size)):
        check_positive_int(name, value)
    rng = check_generator(rng)
    return {"W_init": _uniform((input_size, hidden_size), input_size, rng), "b_init": np.zeros(hidden_size),
            "W_embed": rng.standard_normal((vocab_size, embed_size)) * 0.3,
            **L.init_cell_params("rnn", embed_size, hidden_size, rng),
            "W_out": _uniform((hidden_size, vocab_size), hidden_size, rng), "b_out": np.zeros(vocab_size)}


def _generator_initial_state(params, x):
    """The decoder's first state from the input vector: x (N, D) as a float array, h0 (N, H)."""
    (x, W_init, b_init), _ = validate(x=(x, ("N", "D")), W_init=(params["W_init"], ("D", "H")),
                                      b_init=(params["b_init"], ("H",)))
    return x, np.tanh(x @ W_init + b_init)


def generator_loss_and_grads(params, batch, fast=False):
    """Teacher-forced loss of the one-to-many model and its gradients.

    Args:
        params: dict from :func:`init_generator`
        batch: tuple ``(x, tgt_in, tgt_out, tgt_lengths)``: x (N, D) the input vector,
            tgt_in (N, T) decoder inputs (START then the targets shifted), tgt_out (N, T)
            targets, tgt_lengths (N,) real steps of each target
        fast: run the recurrence with :mod:`rnncourse.fast`

    Returns:
        loss: float, mean cross-entropy per real target token; grads: dict keyed like ``params``
    """
    _require(params, _GENERATOR_KEYS, "generator")
    x, tgt_in, tgt_out, tgt_lengths = _unpack(batch, ("x", "tgt_in", "tgt_out", "tgt_lengths"))
    x, h0 = _generator_initial_state(params, x)
    embedded, embed_cache = L.embedding_forward(tgt_in, params["W_embed"])
    cell = {k: params[k] for k in ("Wx", "Wh", "b")}
    h, rnn_cache = L.recurrent_forward("rnn", embedded, h0, cell, fast)
    scores, out_cache = L.temporal_affine_forward(h, params["W_out"], params["b_out"])
    loss, dscores = L.temporal_softmax_loss(scores, tgt_out, L.length_mask(tgt_lengths, tgt_out.shape[1]))
    dh, dW_out, db_out = L.temporal_affine_backward(dscores, out_cache)
    dembedded, dh0, cell_grads = L.recurrent_backward(dh, rnn_cache)
    dpre = dh0 * (1.0 - h0**2)
    grads = {"W_init": x.T @ dpre, "b_init": dpre.sum(axis=0), "W_embed": L.embedding_backward(dembedded, embed_cache),
             **cell_grads, "W_out": dW_out, "b_out": db_out}
    return loss, grads


def generator_decode(params, x, start_token, max_length):
    """Greedy output of the one-to-many model for each input vector.

    Args:
        params: dict from :func:`init_generator`; x: (N, D) input vectors
        start_token: int, the decoder's first input; max_length: int >= 1

    Returns:
        tokens: (N, max_length) int64 (see :func:`rnn_greedy_decode`)
    """
    _require(params, _GENERATOR_KEYS, "generator")
    _, h0 = _generator_initial_state(params, x)
    return rnn_greedy_decode(h0, params["W_embed"], params["Wx"], params["Wh"], params["b"],
                             params["W_out"], params["b_out"], start_token, max_length)


# ----------------------------------------------------------------------------
# Sequence models: embedding -> recurrent encoder -> head (classifier, tagger, language model)
# ----------------------------------------------------------------------------

def init_sequence_model(vocab_size, embed_size, hidden_size, output_size, rng, cell="rnn",
                        num_layers=1, bidirectional=False):
    """Parameters of an embedding, a recurrent encoder and an output layer.

    The same parameters serve a many-to-one classifier (:func:`classifier_loss_and_grads`),
    a tagger and a language model (:func:`tagger_loss_and_grads`).

    Args:
        vocab_size: int V; embed_size: int E; hidden_size: int H (per direction);
        output_size: int C (classes, tags or next tokens); rng: numpy Generator
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``
        num_layers: int >= 1, stacked unidirectional layers (must be 1 if bidirectional)
        bidirectional: one bidirectional layer instead of a unidirectional stack

    Returns:
        params: dict ``W_embed`` (V, E); ``rnn{l}.*`` per layer (or ``fwd.*`` and ``bwd.*``);
        ``W_out`` (H or 2H, C), ``b_out`` (C,)
    """
    for name, value in (("vocab_size", vocab_size), ("embed_size", embed_size), ("hidden_size", hidden_size),
                        ("output_size", output_size), ("num_layers", num_layers)):
        check_positive_int(name, value)
    _check_option("cell", cell, L.CELLS)
    if bidirectional and num_layers != 1:
        raise ValueError(f"num_layers must be 1 for a bidirectional model, got {num_layers}")
    rng = check_generator(rng)
    params = {"W_embed": rng.standard_normal((vocab_size, embed_size)) * 0.3}
    if bidirectional:
        params.update(_prefixed(L.init_cell_params(cell, embed_size, hidden_size, rng), "fwd."))
        params.update(_prefixed(L.init_cell_params(cell, embed_size, hidden_size, rng), "bwd."))
    else:
        for layer in range(num_layers):
            D = embed_size if layer == 0 else hidden_size
            params.update(_prefixed(L.init_cell_params(cell, D, hidden_size, rng), f"rnn{layer}."))
    width = 2 * hidden_size if bidirectional else hidden_size
    params["W_out"] = _uniform((width, output_size), width, rng)
    params["b_out"] = np.zeros(output_size)
    return params


def _stack_groups(params):
    """The layer dicts ``rnn0.*, rnn1.*, ...`` of a unidirectional model, bottom first."""
    groups, layer = [], 0
    while f"rnn{layer}.Wx" in params:
        groups.append(_group(params, f"rnn{layer}."))
        layer += 1
    return groups


def is_bidirectional(params):
    """True if ``params`` (from :func:`init_sequence_model`) hold a bidirectional layer."""
    return "fwd.Wx" in params


class EncoderCache(NamedTuple):
    """What :func:`encode` keeps for :func:`encode_backward`."""

    kind: str  # "stacked" or "bidirectional"
    embedding: tuple  # rnncourse.layers.EmbeddingCache
    recurrent: tuple  # rnncourse.layers.StackedCache or BidirectionalCache


def encode(params, tokens, lengths, residual=False, fast=False):
    """Embed the tokens and run the recurrent encoder of a sequence model.

    Args:
        params: dict from :func:`init_sequence_model`
        tokens: (N, T) ints in [0, V); lengths: (N,) ints in [1, T]
        residual: residual connections between stacked layers (unidirectional only)
        fast: run the recurrences with :mod:`rnncourse.fast`

    Returns:
        h: (N, T, H) top-layer states (bidirectional: (N, T, 2H), zero at padded steps;
            unidirectional: padded steps hold states that no head reads)
        cache: :class:`EncoderCache` for :func:`encode_backward`
    """
    _require(params, ("W_embed", "W_out", "b_out"), "sequence model")
    x, embed_cache = L.embedding_forward(tokens, params["W_embed"])
    if is_bidirectional(params):
        if residual:
            raise ValueError("residual must be False for a bidirectional model (it has a single layer)")
        fwd, bwd = _group(params, "fwd."), _group(params, "bwd.")
        h, rnn_cache = L.bidirectional_forward(x, lengths, fwd, bwd, cell_of(fwd), fast)
        return h, EncoderCache("bidirectional", embed_cache, rnn_cache)
    groups = _stack_groups(params)
    if not groups:
        raise ValueError(f"params must hold rnn0.* or fwd.*/bwd.* layer parameters, got {sorted(params)}")
    L.length_mask(lengths, x.shape[1])  # checks lengths, which a unidirectional stack does not read
    h, rnn_cache = L.stacked_forward(x, groups, cell_of(groups[0]), residual, fast)
    return h, EncoderCache("stacked", embed_cache, rnn_cache)


def encode_backward(dh, cache):
    """Backward pass of :func:`encode`.

    Args:
        dh: (N, T, H) (or (N, T, 2H)) gradient with respect to the encoder's states
        cache: :class:`EncoderCache` from :func:`encode`

    Returns:
        grads: dict of the embedding's and the recurrent layers' gradients, keyed like ``params``
    """
    if cache.kind == "bidirectional":
        dx, grads_fwd, grads_bwd = L.bidirectional_backward(dh, cache.recurrent)
        grads = {**_prefixed(grads_fwd, "fwd."), **_prefixed(grads_bwd, "bwd.")}
    else:
        dx, grads_list = L.stacked_backward(dh, cache.recurrent)
        grads = {}
        for layer, layer_grads in enumerate(grads_list):
            grads.update(_prefixed(layer_grads, f"rnn{layer}."))
    grads["W_embed"] = L.embedding_backward(dx, cache.embedding)
    return grads


def _pool(h, lengths, pooling):
    if pooling == "last":
        return L.last_state_by_length(h, lengths)
    return L.masked_mean_pool(h, L.length_mask(lengths, h.shape[1]))


def _pool_backward(dpooled, cache, pooling):
    if pooling == "last":
        return L.last_state_by_length_backward(dpooled, cache)
    return L.masked_mean_pool_backward(dpooled, cache)


def classifier_scores(params, tokens, lengths, pooling="last", residual=False, fast=False):
    """Class scores of a many-to-one classifier.

    Args:
        params: dict from :func:`init_sequence_model`; tokens: (N, T); lengths: (N,)
        pooling: ``"last"`` (the state at each sequence's last real step) or ``"mean"``
            (the mean of the states over the real steps)
        residual, fast: as in :func:`encode`

    Returns:
        scores: (N, C)
    """
    _check_option("pooling", pooling, ("last", "mean"))
    h, _ = encode(params, tokens, lengths, residual, fast)
    pooled, _ = _pool(h, lengths, pooling)
    return pooled @ params["W_out"] + params["b_out"]


def classifier_loss_and_grads(params, batch, pooling="last", residual=False, fast=False):
    """Mean cross-entropy of a many-to-one classifier and its gradients.

    Args:
        params: dict from :func:`init_sequence_model`
        batch: tuple ``(tokens, lengths, labels)``: (N, T) ints, (N,) ints in [1, T], (N,) ints in [0, C)
        pooling, residual, fast: as in :func:`classifier_scores`

    Returns:
        loss: float; grads: dict keyed like ``params``
    """
    _check_option("pooling", pooling, ("last", "mean"))
    tokens, lengths, labels = _unpack(batch, ("tokens", "lengths", "labels"))
    h, encoder_cache = encode(params, tokens, lengths, residual, fast)
    pooled, pool_cache = _pool(h, lengths, pooling)  # (N, H)
    scores, out_cache = L.temporal_affine_forward(pooled[:, None, :], params["W_out"], params["b_out"])
    if labels.shape != (tokens.shape[0],):
        raise ValueError(f"labels must have shape (N,) = ({tokens.shape[0]},), got {labels.shape}")
    loss, dscores = L.temporal_softmax_loss(scores, labels[:, None], np.ones((tokens.shape[0], 1), dtype=bool))
    dpooled, dW_out, db_out = L.temporal_affine_backward(dscores, out_cache)
    grads = encode_backward(_pool_backward(dpooled[:, 0, :], pool_cache, pooling), encoder_cache)
    grads.update(W_out=dW_out, b_out=db_out)
    return loss, grads


def tagger_scores(params, tokens, lengths, residual=False, fast=False):
    """Scores of a tag (or of the next token) at every step.

    Args:
        params: dict from :func:`init_sequence_model`; tokens: (N, T); lengths: (N,)
        residual, fast: as in :func:`encode`

    Returns:
        scores: (N, T, C); rows at padded steps are meaningless
    """
    h, _ = encode(params, tokens, lengths, residual, fast)
    scores, _ = L.temporal_affine_forward(h, params["W_out"], params["b_out"])
    return scores


def tagger_loss_and_grads(params, batch, residual=False, fast=False):
    """Mean cross-entropy per real token of a tagger (or language model) and its gradients.

    A language model is a tagger whose tag at step t is the token at step t + 1: pass
    ``(inputs, lengths, next_tokens)`` as from :func:`rnncourse.data.markov_language_task`.

    Args:
        params: dict from :func:`init_sequence_model`
        batch: tuple ``(tokens, lengths, tags)``: (N, T) ints, (N,) ints in [1, T], (N, T) ints
            in [0, C) at real steps (anything at padded steps)
        residual, fast: as in :func:`encode`

    Returns:
        loss: float; grads: dict keyed like ``params``
    """
    tokens, lengths, tags = _unpack(batch, ("tokens", "lengths", "tags"))
    h, encoder_cache = encode(params, tokens, lengths, residual, fast)
    scores, out_cache = L.temporal_affine_forward(h, params["W_out"], params["b_out"])
    loss, dscores = L.temporal_softmax_loss(scores, tags, L.length_mask(lengths, tokens.shape[1]))
    dh, dW_out, db_out = L.temporal_affine_backward(dscores, out_cache)
    grads = encode_backward(dh, encoder_cache)
    grads.update(W_out=dW_out, b_out=db_out)
    return loss, grads


def layer_states(params, tokens, lengths, residual=False, fast=False):
    """Every layer's states of a unidirectional stacked model.

    Args:
        params: dict from :func:`init_sequence_model` (unidirectional); tokens: (N, T); lengths: (N,)
        residual, fast: as in :func:`encode`

    Returns:
        states: list of L arrays (N, T, H), bottom layer first
    """
    if is_bidirectional(params):
        raise ValueError("params must be a unidirectional stack (rnn0.*, rnn1.*, ...), got a bidirectional model")
    _, cache = encode(params, tokens, lengths, residual, fast)
    return list(cache.recurrent.states)


def layer_timescales(params, tokens, residual=False, eps=1e-6, rng=None):
    """Each layer's effective timescale: how many steps its response to an input impulse lasts.

    Definition. Embed ``tokens`` (full-length sequences, no padding), add a small impulse
    ``eps * u_n`` to the embedded input at step 0 only (``u_n`` a random unit vector per
    sequence) and run the stack with and without it. The sensitivity of layer l at lag k is
    ``s_l(k) = mean over n of ||h^l_k(x + impulse) - h^l_k(x)|| / eps`` (a finite-difference
    estimate of the Jacobian norm along ``u``). The timescale ``tau_l`` is the lag, after
    the peak of ``s_l``, at which ``s_l`` first falls below ``max_k s_l(k) / e``,
    interpolated linearly in ``log s`` between the two lags around the crossing (so it is a
    real number). If ``s_l`` stays above that level up to lag T - 1, ``tau_l`` is ``inf``:
    the window was too short to see it decay.

    Args:
        params: dict from :func:`init_sequence_model`, unidirectional
        tokens: (N, T) ints in [0, V), T >= 2, every sequence full length
        residual: as in :func:`encode`
        eps: float > 0, size of the impulse (small: the response is then linear)
        rng: numpy Generator for the directions u (default: ``np.random.default_rng(0)``)

    Returns:
        timescales: (L,) float, lags in steps (``inf`` where no decay was seen)
        sensitivity: (L, T) float, ``s_l(k)`` for k = 0..T-1
    """
    if is_bidirectional(params):
        raise ValueError("params must be a unidirectional stack, got a bidirectional model "
                         "(its backward direction reads the future, so a lag has no meaning)")
    if isinstance(eps, bool) or not np.isscalar(eps) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    rng = np.random.default_rng(0) if rng is None else check_generator(rng)
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or tokens.shape[1] < 2:
        raise ValueError(f"tokens must have shape (N, T) with T >= 2, got {tokens.shape}")
    x, _ = L.embedding_forward(tokens, params["W_embed"])
    groups = _stack_groups(params)
    if not groups:
        raise ValueError(f"params must hold rnn0.* layer parameters, got {sorted(params)}")
    u = rng.standard_normal((x.shape[0], x.shape[2]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    kicked = x.copy()
    kicked[:, 0, :] += eps * u
    _, base = L.stacked_forward(x, groups, cell_of(groups[0]), residual)
    _, moved = L.stacked_forward(kicked, groups, cell_of(groups[0]), residual)
    sensitivity = np.stack([np.linalg.norm(b - m, axis=2).mean(axis=0) / eps
                            for b, m in zip(base.states, moved.states)])  # (L, T)
    return np.array([_decay_lag(s) for s in sensitivity]), sensitivity


def _decay_lag(s):
    """Lag after the peak of ``s`` (T,) where it first drops below max/e (log-linear interpolation)."""
    peak = int(np.argmax(s))
    level = s[peak] / np.e
    below = np.nonzero(s[peak:] < level)[0]
    if below.size == 0 or s[peak] <= 0:
        return np.inf
    k = peak + int(below[0])
    before, after = np.log(s[k - 1]), np.log(max(s[k], 1e-300))
    return float(k - 1 + (before - np.log(level)) / (before - after))


# ----------------------------------------------------------------------------
# Many-to-many, unaligned: encoder-decoder with optional attention
# ----------------------------------------------------------------------------

ATTENTIONS = (None, "additive", "dot")


def init_seq2seq(vocab_size, embed_size, hidden_size, rng, cell="gru", attention="additive", attention_size=None):
    """Parameters of an encoder-decoder (seq2seq) model.

    The encoder reads the source; its state at each sequence's last real step starts the
    decoder. At each target step the decoder state ``s_t`` is scored by ``W_out``; with
    attention, the scores read ``[s_t | c_t]`` where the context ``c_t`` is the
    attention-weighted mean of the encoder states with ``s_t`` as the query (Luong et al.
    2015's order: attention after the recurrent step, no input feeding).

    Args:
        vocab_size: int V (source and target share it); embed_size: int E; hidden_size: int H
        rng: numpy Generator
        cell: ``"rnn"`` or ``"gru"`` (the decoder is stepped one token at a time, which
            :func:`rnncourse.layers.recurrent_forward` allows for cells without a cell state)
        attention: None (the fixed-size context: the decoder sees only the encoder's last
            state), ``"additive"`` (Bahdanau) or ``"dot"`` (Luong dot product)
        attention_size: int A of the additive attention (default H)

    Returns:
        params: dict ``enc.W_embed`` (V, E), ``enc.*`` cell, ``dec.W_embed`` (V, E), ``dec.*`` cell,
        additive only: ``att.Wq`` (H, A), ``att.Wk`` (H, A), ``att.v`` (A,);
        ``W_out`` (H, V) without attention or (2H, V) with it, ``b_out`` (V,)
    """
    for name, value in (("vocab_size", vocab_size), ("embed_size", embed_size), ("hidden_size", hidden_size)):
        check_positive_int(name, value)
    _check_option("cell", cell, ("rnn", "gru"))
    _check_option("attention", attention, ATTENTIONS)
    check_positive_int("attention_size", attention_size, allow_none=True)
    rng = check_generator(rng)
    H, A = hidden_size, attention_size or hidden_size
    params = {"enc.W_embed": rng.standard_normal((vocab_size, embed_size)) * 0.3}
    params.update(_prefixed(L.init_cell_params(cell, embed_size, H, rng), "enc."))
    params["dec.W_embed"] = rng.standard_normal((vocab_size, embed_size)) * 0.3
    params.update(_prefixed(L.init_cell_params(cell, embed_size, H, rng), "dec."))
    if attention == "additive":
        params.update({"att.Wq": _uniform((H, A), H, rng), "att.Wk": _uniform((H, A), H, rng),
                       "att.v": _uniform((A,), A, rng)})
    width = H if attention is None else 2 * H
    params["W_out"] = _uniform((width, vocab_size), width, rng)
    params["b_out"] = np.zeros(vocab_size)
    return params


def attention_of(params):
    """The attention of a seq2seq model, read from its parameters: None, ``"additive"`` or ``"dot"``."""
    _require(params, ("enc.Wx", "dec.Wx", "W_out", "b_out"), "seq2seq model")
    if "att.v" in params:
        return "additive"
    H = np.shape(params["dec.Wh"])[0]
    return "dot" if np.shape(params["W_out"])[0] == 2 * H else None


def _attend(params, kind, query, keys, mask):
    """Attention of (M, H) queries over (M, S, H) keys: (context, weights, cache)."""
    if kind == "additive":
        return L.additive_attention_forward(query, keys, mask, params["att.Wq"], params["att.Wk"], params["att.v"])
    return L.dot_attention_forward(query, keys, mask)


class SourceCache(NamedTuple):
    """What the seq2seq encoder keeps for its backward pass."""

    embedding: tuple  # rnncourse.layers.EmbeddingCache of the source tokens
    recurrent: tuple  # rnncourse.layers.RecurrentCache of the encoder
    last: tuple  # rnncourse.layers.LastStateCache: the state that starts the decoder


class Seq2SeqCache(NamedTuple):
    """What :func:`seq2seq_forward` keeps for the backward pass in :func:`seq2seq_loss_and_grads`."""

    attention: str  # None, "additive" or "dot"
    source: SourceCache
    keys_shape: tuple  # (N, S, H) encoder states
    target_embedding: tuple  # rnncourse.layers.EmbeddingCache of the decoder inputs
    decoder: tuple  # rnncourse.layers.RecurrentCache of the decoder
    attention_cache: tuple  # the attention's cache over the N*T decoder steps (None without attention)
    output: tuple  # rnncourse.layers.TemporalAffineCache


def _encode_source(params, src, src_lengths, fast=False):
    """Encoder states (N, S, H), the decoder's initial state (N, H), the source mask (N, S), a SourceCache."""
    enc = _group(params, "enc.")
    enc.pop("W_embed")
    cell = cell_of(enc)
    x, embed_cache = L.embedding_forward(src, params["enc.W_embed"])
    h0 = np.zeros((x.shape[0], np.shape(enc["Wh"])[0]))
    keys, rnn_cache = L.recurrent_forward(cell, x, h0, enc, fast)
    last, last_cache = L.last_state_by_length(keys, src_lengths)
    mask = L.length_mask(src_lengths, x.shape[1])
    return keys, last, mask, SourceCache(embed_cache, rnn_cache, last_cache)


def _decoder_params(params):
    dec = _group(params, "dec.")
    dec.pop("W_embed")
    return dec


def seq2seq_forward(params, batch, fast=False):
    """Teacher-forced forward pass of the seq2seq model.

    Args:
        params: dict from :func:`init_seq2seq`
        batch: tuple ``(src, src_lengths, tgt_in, tgt_out, tgt_lengths)``: src (N, S) ints,
            src_lengths (N,), tgt_in (N, T) decoder inputs, tgt_out (N, T) targets, tgt_lengths (N,)
        fast: run the recurrences with :mod:`rnncourse.fast`

    Returns:
        scores: (N, T, V); weights: (N, T, S) attention weights (None without attention);
        cache: :class:`Seq2SeqCache`
    """
    src, src_lengths, tgt_in, tgt_out, tgt_lengths = _unpack(
        batch, ("src", "src_lengths", "tgt_in", "tgt_out", "tgt_lengths"))
    kind = attention_of(params)
    keys, h0, src_mask, source_cache = _encode_source(params, src, src_lengths, fast)
    dec = _decoder_params(params)
    y, dec_embed_cache = L.embedding_forward(tgt_in, params["dec.W_embed"])
    states, dec_cache = L.recurrent_forward(cell_of(dec), y, h0, dec, fast)  # (N, T, H)
    N, T, H = states.shape
    weights = att_cache = None
    features = states
    if kind is not None:
        S = keys.shape[1]
        context, weights, att_cache = _attend(params, kind, states.reshape(N * T, H),
                                              np.repeat(keys, T, axis=0), np.repeat(src_mask, T, axis=0))
        features = np.concatenate([states, context.reshape(N, T, H)], axis=2)
        weights = weights.reshape(N, T, S)
    scores, out_cache = L.temporal_affine_forward(features, params["W_out"], params["b_out"])
    cache = Seq2SeqCache(kind, source_cache, keys.shape, dec_embed_cache, dec_cache, att_cache, out_cache)
    return scores, weights, cache


def seq2seq_loss_and_grads(params, batch, fast=False):
    """Teacher-forced mean cross-entropy per real target token of the seq2seq model, and its gradients.

    Args:
        params: dict from :func:`init_seq2seq`
        batch: tuple ``(src, src_lengths, tgt_in, tgt_out, tgt_lengths)`` (see :func:`seq2seq_forward`)
        fast: run the recurrences with :mod:`rnncourse.fast`

    Returns:
        loss: float; grads: dict keyed like ``params``
    """
    scores, _, cache = seq2seq_forward(params, batch, fast)
    tgt_out, tgt_lengths = np.asarray(batch[3]), np.asarray(batch[4])
    loss, dscores = L.temporal_softmax_loss(scores, tgt_out, L.length_mask(tgt_lengths, scores.shape[1]))
    N, T, _ = scores.shape
    N, S, H = cache.keys_shape
    # output layer: scores = [states | context] W_out + b_out
    dfeatures, dW_out, db_out = L.temporal_affine_backward(dscores, cache.output)
    grads = {"W_out": dW_out, "b_out": db_out}
    dstates = dfeatures[:, :, :H]  # (N, T, H)
    dkeys = np.zeros((N, S, H))
    # attention: the decoder states are the queries, the encoder states the keys (repeated T times)
    if cache.attention is not None:
        dcontext = dfeatures[:, :, H:].reshape(N * T, H)
        if cache.attention == "additive":
            dquery, drepeated, dWq, dWk, dv = L.additive_attention_backward(dcontext, cache.attention_cache)
            grads.update({"att.Wq": dWq, "att.Wk": dWk, "att.v": dv})
        else:
            dquery, drepeated = L.dot_attention_backward(dcontext, cache.attention_cache)
        dstates = dstates + dquery.reshape(N, T, H)
        dkeys += drepeated.reshape(N, T, S, H).sum(axis=1)  # each source row was used by T queries
    # decoder, then the encoder through the decoder's initial state and through the keys
    dy, dh0, dec_grads = L.recurrent_backward(dstates, cache.decoder)
    grads.update(_prefixed(dec_grads, "dec."))
    grads["dec.W_embed"] = L.embedding_backward(dy, cache.target_embedding)
    dkeys += L.last_state_by_length_backward(dh0, cache.source.last)
    dx, _, enc_grads = L.recurrent_backward(dkeys, cache.source.recurrent)
    grads.update(_prefixed(enc_grads, "enc."))
    grads["enc.W_embed"] = L.embedding_backward(dx, cache.source.embedding)
    return loss, grads


def attention_map(params, src, src_lengths, tgt_in):
    """Attention weights of the teacher-forced decoder, for a heat map.

    Args:
        params: dict from :func:`init_seq2seq` with attention
        src: (N, S); src_lengths: (N,); tgt_in: (N, T) decoder inputs

    Returns:
        weights: (N, T, S), ``weights[n, t]`` the distribution over source steps when the
        decoder emits output t (exactly 0 at padded source steps)
    """
    if attention_of(params) is None:
        raise ValueError("params must be a model with attention (init_seq2seq(attention='additive' or 'dot'))")
    tgt_in = np.asarray(tgt_in)
    lengths = np.full(tgt_in.shape[0], tgt_in.shape[1])
    _, weights, _ = seq2seq_forward(params, (src, src_lengths, tgt_in, tgt_in, lengths))
    return weights


def _decoder_step(params, kind, keys, src_mask, previous, state):
    """One decoder step for M hypotheses: (log-probabilities (M, V), new state (M, H))."""
    dec = _decoder_params(params)
    y = params["dec.W_embed"][previous][:, None, :]  # (M, 1, E)
    states, _ = L.recurrent_forward(cell_of(dec), y, state, dec)
    state = states[:, 0, :]
    features = state
    if kind is not None:
        context, _, _ = _attend(params, kind, state, keys, src_mask)
        features = np.concatenate([state, context], axis=1)
    return L.log_softmax(features @ params["W_out"] + params["b_out"]), state


def _check_tokens(start_token, eos_token, V, max_length):
    for name, value in (("start_token", start_token), ("eos_token", eos_token)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < V:
            raise ValueError(f"{name} must be an integer in [0, V) = [0, {V}) (V from W_out), got {value!r}")
    check_positive_int("max_length", max_length)


def greedy_decode(params, src, src_lengths, max_length, start_token, eos_token):
    """Decode each source by taking the most probable token at every step.

    After a sequence emits ``eos_token`` it keeps emitting ``eos_token`` (padding).

    Args:
        params: dict from :func:`init_seq2seq`; src: (N, S); src_lengths: (N,)
        max_length: int >= 1, tokens to produce; start_token, eos_token: ints in [0, V)

    Returns:
        tokens: (N, max_length) int64
    """
    kind = attention_of(params)
    _check_tokens(start_token, eos_token, np.shape(params["W_out"])[1], max_length)
    keys, state, src_mask, _ = _encode_source(params, src, src_lengths)
    N = keys.shape[0]
    tokens = np.full((N, max_length), eos_token, dtype=np.int64)
    previous = np.full(N, start_token, dtype=np.int64)
    done = np.zeros(N, dtype=bool)
    for t in range(max_length):
        log_probs, state = _decoder_step(params, kind, keys, src_mask, previous, state)
        previous = np.where(done, eos_token, np.argmax(log_probs, axis=1))
        tokens[:, t] = previous
        done |= previous == eos_token
        if done.all():
            break
    return tokens


def beam_search(params, src, src_lengths, beam_width, max_length, start_token, eos_token):
    """Beam search: keep the ``beam_width`` most probable prefixes at every step.

    Each step extends every live prefix by every token and keeps the ``beam_width`` best
    by total log-probability (ties to the lower index, so width 1 is greedy decoding). A
    prefix that has emitted ``eos_token`` is finished: it is carried on unchanged (padded
    with ``eos_token``) with its score. The search stops when every kept prefix is finished
    or after ``max_length`` tokens, and returns the best kept sequence. Scores are plain
    sums of log-probabilities (no length normalisation). Beam search is a heuristic: a wider
    beam usually finds a sequence at least as probable as greedy decoding, but this is not
    guaranteed.

    Args:
        params: dict from :func:`init_seq2seq`; src: (N, S); src_lengths: (N,)
        beam_width: int >= 1
        max_length: int >= 1; start_token, eos_token: ints in [0, V)

    Returns:
        tokens: (N, max_length) int64, the best sequence per source
        log_probs: (N,) float, its log-probability (through its first EOS, if any)
    """
    check_positive_int("beam_width", beam_width)
    kind = attention_of(params)
    V = np.shape(params["W_out"])[1]
    _check_tokens(start_token, eos_token, V, max_length)
    keys, state, src_mask, _ = _encode_source(params, src, src_lengths)
    N, B = keys.shape[0], beam_width
    # Hypotheses are laid out as N groups of B rows; at the start only row 0 of a group is live.
    keys, src_mask, state = (np.repeat(a, B, axis=0) for a in (keys, src_mask, state))
    scores = np.full((N, B), -np.inf)
    scores[:, 0] = 0.0
    sequences = np.full((N, B, max_length), eos_token, dtype=np.int64)
    finished = np.zeros((N, B), dtype=bool)
    previous = np.full(N * B, start_token, dtype=np.int64)
    for t in range(max_length):
        log_probs, state = _decoder_step(params, kind, keys, src_mask, previous, state)
        log_probs = log_probs.reshape(N, B, V)
        carried = np.full(V, -np.inf)
        carried[eos_token] = 0.0  # a finished hypothesis only continues with EOS, at no cost
        log_probs = np.where(finished[:, :, None], carried, log_probs)
        candidates = (scores[:, :, None] + log_probs).reshape(N, B * V)
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :B]  # (N, B)
        parent, token = best // V, best % V
        rows = np.arange(N)[:, None]
        scores = candidates[rows, best]
        sequences = sequences[rows, parent]
        sequences[:, :, t] = token
        finished = finished[rows, parent] | (token == eos_token)
        state = state.reshape(N, B, -1)[rows, parent].reshape(N * B, -1)
        previous = token.reshape(N * B)
        if finished.all():
            break
    winner = np.argmax(scores, axis=1)
    return sequences[np.arange(N), winner], scores[np.arange(N), winner]


def sequence_log_prob(params, src, src_lengths, tokens, start_token, eos_token):
    """Log-probability of given output sequences under the seq2seq model.

    A sequence counts through its first ``eos_token`` (or all of its tokens if it has none),
    as in :func:`beam_search`.

    Args:
        params: dict from :func:`init_seq2seq`; src: (N, S); src_lengths: (N,)
        tokens: (N, T) int output sequences; start_token, eos_token: ints in [0, V)

    Returns:
        log_probs: (N,) float
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must be a 2-d integer array (N, T), got shape {tokens.shape} dtype {tokens.dtype}")
    _check_tokens(start_token, eos_token, np.shape(params["W_out"])[1], tokens.shape[1])
    N, T = tokens.shape
    is_eos = tokens == eos_token
    lengths = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1) + 1, T)
    tgt_in = np.concatenate([np.full((N, 1), start_token), tokens[:, :-1]], axis=1)
    scores, _, _ = seq2seq_forward(params, (src, src_lengths, tgt_in, tokens, lengths))
    picked = np.take_along_axis(L.log_softmax(scores), tokens[:, :, None], axis=2)[:, :, 0]
    return (picked * L.length_mask(lengths, T)).sum(axis=1)


# ----------------------------------------------------------------------------
# Training and evaluation
# ----------------------------------------------------------------------------

def minibatches(arrays, batch_size, rng):
    """Shuffle a data set and cut it into minibatches.

    Args:
        arrays: tuple of arrays with the same first dimension N (e.g. ``(tokens, lengths, labels)``)
        batch_size: int >= 1; rng: numpy Generator

    Returns:
        batches: list of tuples, each holding the same rows of every array (the last may be smaller)
    """
    if not isinstance(arrays, (tuple, list)) or len(arrays) == 0:
        raise ValueError(f"arrays must be a non-empty tuple of arrays, got {type(arrays).__name__}")
    arrays = tuple(np.asarray(a) for a in arrays)
    N = arrays[0].shape[0]
    for i, a in enumerate(arrays):
        if a.shape[:1] != (N,):
            raise ValueError(f"arrays[{i}] must have N = {N} rows like arrays[0] {arrays[0].shape}, "
                             f"got shape {a.shape}")
    check_positive_int("batch_size", batch_size)
    order = check_generator(rng).permutation(N)
    return [tuple(a[order[i:i + batch_size]] for a in arrays) for i in range(0, N, batch_size)]


def train(loss_and_grads, params, batches, epochs, lr, max_norm=1.0, evaluate=None, verbose=True,
          blas_threads=1, keep_best=None, patience=None):
    """Train with Adam and gradient-norm clipping, one line of progress per epoch.

    Each step: ``loss, grads = loss_and_grads(params, batch)``; clip the gradients' global
    norm to ``max_norm`` (:func:`rnncourse.clip.clip_grad_norm`); take an Adam step
    (:func:`rnncourse.optim.adam_step`).

    Args:
        loss_and_grads: function ``(params, batch) -> (loss, grads)``
        params: dict name -> array, the starting point (not modified)
        batches: a list of batches used every epoch, or a function ``epoch -> iterable of
            batches`` (e.g. ``lambda epoch: minibatches(data, 64, rng)`` to reshuffle)
        epochs: int >= 1; lr: float > 0; max_norm: float > 0
        evaluate: optional function ``params -> float`` (e.g. a validation accuracy), run after
            every epoch
        verbose: print ``epoch  e/E  loss ...  |g| ...  eval ...  time`` once per epoch
        blas_threads: int >= 1, the BLAS threads while training, or None to leave BLAS as it
            is. The products of these small models are too small to share among threads: on
            the course's 2-core machine one thread made training 1.2-2.6x faster than the
            default pool with ``fast=True`` (whose large after-loop products go multi-threaded).
            The limit needs ``threadpoolctl`` (the ``fast`` extra); without it BLAS is left as it is,
            as :mod:`rnncourse.fast` does.
        keep_best: None (return the last epoch's parameters), ``"max"`` or ``"min"``: return the
            parameters of the epoch whose ``evaluate`` score is the highest (lowest), the first
            one on ties; needs ``evaluate``
        patience: None (run all epochs) or int >= 1: with ``keep_best``, stop once that many
            epochs in a row have not beaten the best score (early stopping)

    Returns:
        params: dict, the trained parameters (those of the best epoch with ``keep_best``)
        history: dict of per-epoch lists: ``loss`` (mean over the epoch's steps), ``grad_norm``
            (mean norm before clipping), ``seconds`` (training time so far, evaluation excluded),
            and ``eval`` if ``evaluate`` was given; with ``keep_best`` also ``best_epoch``
            (int, 1-based; 0 if no epoch's score was a number)
    """
    if not callable(loss_and_grads):
        raise ValueError("loss_and_grads must be a function (params, batch) -> (loss, grads), "
                         f"got {type(loss_and_grads).__name__}")
    if not callable(batches) and not (isinstance(batches, (list, tuple)) and len(batches) > 0):
        raise ValueError("batches must be a non-empty list of batches or a function epoch -> batches")
    check_positive_int("epochs", epochs)
    check_positive_int("blas_threads", blas_threads, allow_none=True)
    if keep_best not in (None, "max", "min"):
        raise ValueError(f"keep_best must be None, 'max' or 'min', got {keep_best!r}")
    if keep_best is not None and evaluate is None:
        raise ValueError("keep_best needs evaluate, the function params -> score of each epoch")
    check_positive_int("patience", patience, allow_none=True)
    if patience is not None and keep_best is None:
        raise ValueError("patience needs keep_best ('max' or 'min'): it counts epochs without a better score")
    with _blas_limit(blas_threads):
        return _train_loop(loss_and_grads, params, batches, epochs, lr, max_norm, evaluate, verbose,
                           keep_best, patience)


def _blas_limit(threads):
    """A context that limits the BLAS thread pools to ``threads`` (a no-op for None)."""
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional dependency: without it the pool is left as it is
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _train_loop(loss_and_grads, params, batches, epochs, lr, max_norm, evaluate, verbose, keep_best, patience):
    """The loop of :func:`train`, arguments as there."""
    state = adam_init(params)
    history = {"loss": [], "grad_norm": [], "seconds": []}
    if evaluate is not None:
        history["eval"] = []
    if keep_best is not None:
        history["best_epoch"] = 0
        best_params, since_best = params, 0
        best_score = -np.inf if keep_best == "max" else np.inf
    elapsed = 0.0
    for epoch in range(epochs):
        start = time.perf_counter()
        losses, norms = [], []
        for batch in (batches(epoch) if callable(batches) else batches):
            loss, grads = loss_and_grads(params, batch)
            grads, norm = clip_grad_norm(grads, max_norm)
            params, state = adam_step(params, grads, state, lr)
            losses.append(loss)
            norms.append(norm)
        elapsed += time.perf_counter() - start
        if not losses:
            raise ValueError(f"batches gave no batch in epoch {epoch}")
        history["loss"].append(float(np.mean(losses)))
        history["grad_norm"].append(float(np.mean(norms)))
        history["seconds"].append(elapsed)
        line = f"epoch {epoch + 1:>3}/{epochs}  loss {history['loss'][-1]:.4f}  |g| {history['grad_norm'][-1]:.2f}"
        if evaluate is not None:
            history["eval"].append(float(evaluate(params)))
            line += f"  eval {history['eval'][-1]:.3f}"
        if verbose:
            print(f"{line}  {elapsed:.1f} s")
        if keep_best is not None:
            score = history["eval"][-1]
            better = (score > best_score) if keep_best == "max" else (score < best_score)  # nan never is
            if better:
                best_params, best_score, since_best, history["best_epoch"] = params, score, 0, epoch + 1
            else:
                since_best += 1
                if patience is not None and since_best >= patience:
                    break
    return (best_params if keep_best is not None else params), history


def accuracy(predicted, target, mask=None):
    """Fraction of positions where ``predicted == target`` (only where ``mask`` is True).

    Args:
        predicted, target: int arrays of the same shape; mask: bool array of that shape, or None

    Returns:
        accuracy: float in [0, 1]
    """
    predicted, target = np.asarray(predicted), np.asarray(target)
    if predicted.shape != target.shape:
        raise ValueError(f"predicted must have the shape of target {target.shape}, got {predicted.shape}")
    hits = predicted == target
    if mask is None:
        return float(hits.mean())
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != target.shape or not mask.any():
        raise ValueError(f"mask must be a bool array of shape {target.shape} with at least one True, "
                         f"got shape {mask.shape}")
    return float(hits[mask].mean())


def sequence_accuracy(predicted, tgt_out, tgt_lengths):
    """Fraction of sequences whose first ``tgt_lengths[n]`` predicted tokens are all right.

    Args:
        predicted: (N, T') int, T' >= T; tgt_out: (N, T) int targets (with their EOS); tgt_lengths: (N,)

    Returns:
        accuracy: float in [0, 1]
    """
    predicted, tgt_out = np.asarray(predicted), np.asarray(tgt_out)
    if predicted.ndim != 2 or tgt_out.ndim != 2 or predicted.shape[0] != tgt_out.shape[0] \
            or predicted.shape[1] < tgt_out.shape[1]:
        raise ValueError(f"predicted must have shape (N, T') with N = {tgt_out.shape[0]} and T' >= T = "
                         f"{tgt_out.shape[1]} (from tgt_out {tgt_out.shape}), got {predicted.shape}")
    mask = L.length_mask(tgt_lengths, tgt_out.shape[1])
    wrong = (predicted[:, :tgt_out.shape[1]] != tgt_out) & mask
    return float((~wrong.any(axis=1)).mean())


def sequence_accuracy_by_length(predicted, tgt_out, tgt_lengths, lengths):
    """:func:`sequence_accuracy` separately for each value of ``lengths`` (e.g. the source lengths).

    Args:
        predicted: (N, T') int, T' >= T; tgt_out: (N, T) int; tgt_lengths: (N,)
        lengths: (N,) int, the length to group by

    Returns:
        by_length: dict ``{length: (accuracy, number of sequences)}`` for each length present, ascending
    """
    lengths = np.asarray(lengths)
    if lengths.shape != (np.shape(tgt_out)[0],):
        raise ValueError(f"lengths must have shape (N,) = ({np.shape(tgt_out)[0]},) (N from tgt_out), "
                         f"got {lengths.shape}")
    predicted, tgt_out, tgt_lengths = np.asarray(predicted), np.asarray(tgt_out), np.asarray(tgt_lengths)
    return {int(k): (sequence_accuracy(predicted[lengths == k], tgt_out[lengths == k], tgt_lengths[lengths == k]),
                     int(np.sum(lengths == k))) for k in np.unique(lengths)}


# ----------------------------------------------------------------------------
# One training step of a small many-to-one classifier (assignment 6's reference)
# ----------------------------------------------------------------------------

def many_to_one_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out):
    """Loss and gradients of a tanh RNN classifier that reads its last state.

    ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)`` from ``h0``; scores ``h_T W_out + b_out``; the loss
    is the softmax cross-entropy averaged over the N examples.

    Args:
        x: (N, T, D) input sequences (all T steps real)
        y: (N,) int class labels in [0, C)
        h0: (N, H) initial state
        Wx: (D, H), Wh: (H, H), b: (H,) the RNN cell
        W_out: (H, C), b_out: (C,) the output layer

    Returns:
        loss: float, mean cross-entropy in nats
        grads: dict with "Wx" (D, H), "Wh" (H, H), "b" (H,), "W_out" (H, C), "b_out" (C,)
    """
    (W_out, b_out), sizes = validate(W_out=(W_out, ("H", "C")), b_out=(b_out, ("C",)))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    N, T, H = h.shape
    if W_out.shape[0] != H:
        raise ValueError(f"W_out must have shape (H, C) with H = {H} (from Wh {np.shape(Wh)}), got {W_out.shape}")
    y = np.asarray(y)
    if y.shape != (N,) or y.dtype.kind not in "iu" or (N and (y.min() < 0 or y.max() >= sizes["C"])):
        raise ValueError(f"y must be an integer array of shape (N,) = ({N},) with labels in [0, C) = "
                         f"[0, {sizes['C']}) (C from W_out {W_out.shape}), got shape {y.shape}, dtype {y.dtype}")
    last = h[:, -1]
    log_p = L.log_softmax(last @ W_out + b_out)  # (N, C)
    loss = float(-log_p[np.arange(N), y].mean())
    dscores = np.exp(log_p)
    dscores[np.arange(N), y] -= 1.0
    dscores /= N
    dh = np.zeros_like(h)
    dh[:, -1] = dscores @ W_out.T  # only the last state reaches the loss
    _, _, dWx, dWh, db = rnn_backward(dh, cache)
    return loss, {"Wx": dWx, "Wh": dWh, "b": db, "W_out": last.T @ dscores, "b_out": dscores.sum(axis=0)}


def many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
    """One SGD step of :func:`many_to_one_loss_and_grads`'s classifier, with global-norm clipping.

    The five gradients are clipped together (:func:`rnncourse.clip.clip_grad_norm`: all scaled by
    ``min(1, max_norm / (norm + 1e-6))``, ``norm`` their joint L2 norm), then each parameter moves
    by ``-lr`` times its clipped gradient. The inputs are not modified.

    Args:
        x: (N, T, D), y: (N,) int labels, h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,),
        W_out: (H, C), b_out: (C,) as in :func:`many_to_one_loss_and_grads`
        lr: positive float, the learning rate
        max_norm: positive float, the largest joint gradient norm allowed

    Returns:
        loss: float, the loss at the parameters *before* the step
        Wx, Wh, b, W_out, b_out: new arrays, the parameters after the step (same shapes)
    """
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    loss, grads = many_to_one_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out)
    clipped, _ = clip_grad_norm(grads, max_norm)
    params = {"Wx": Wx, "Wh": Wh, "b": b, "W_out": W_out, "b_out": b_out}
    return (loss, *(np.asarray(params[k], dtype=np.float64) - lr * clipped[k] for k in params))
