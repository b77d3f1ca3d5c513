"""Sentence sentiment with a bag-of-words baseline and many-to-one recurrent classifiers (chapter 6).

The pieces, each a small function:

- splits: :func:`stratified_split` (fixed train/validation/test parts with the classes in the
  same proportions) and :func:`stratified_subset` (a smaller training set for a learning curve);
- the baseline: :func:`bag_of_words` (counts of each word of a sentence, order thrown away) and
  a logistic regression on them, computed from the tokens as a sum of one weight per word
  (:func:`init_logistic_regression`, :func:`bag_of_words_scores`, :func:`logistic_loss_and_grads`:
  mean binary cross-entropy with an optional L2 penalty, :func:`logistic_probabilities`,
  :func:`fit_logistic_regression`);
- the recurrent classifiers are chapter 5's :func:`rnncourse.models.init_sequence_model` with
  :func:`rnncourse.models.classifier_loss_and_grads`; added here: :func:`with_weight_decay` (an L2
  penalty on the weight matrices of any ``loss_and_grads``), :func:`length_batches` (minibatches cut
  to their longest sentence), :func:`train_early_stopping` (Adam with clipping, keeping the
  parameters of the epoch with the best validation score) and :func:`predict_classes`;
- word order: :func:`shuffle_within_lengths` permutes the real tokens of each sentence and keeps
  the padding, so that a trained model can be asked the same sentences in a random order;
- :func:`learning_curve`: train and score a model on growing training sets.

Conventions: sentences are encoded as ``tokens`` (N, T) ints with 0 the padding, and ``lengths``
(N,) ints in [1, T]: the real tokens of sentence n are ``tokens[n, :lengths[n]]``. Labels are
(N,) ints in {0, 1} (1 = positive).
"""
import numpy as np

from . import layers as L
from . import models
from ._validate import check_fraction, check_generator, check_non_negative, check_positive_int
from .activations import sigmoid


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------

def _labels(labels, n_classes=2, name="labels"):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iub":
        raise ValueError(f"{name} must be a non-empty 1-D int array (N,), got shape {labels.shape} "
                         f"and dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"{name} must hold ints in [0, {n_classes}), got values from {labels.min()} "
                         f"to {labels.max()}")
    return labels.astype(np.int64)


def _tokens_and_lengths(tokens, lengths):
    tokens, lengths = np.asarray(tokens), np.asarray(lengths)
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must be a 2-D int array (N, T), got shape {tokens.shape} and dtype {tokens.dtype}")
    L.length_mask(lengths, tokens.shape[1])  # lengths (N,) ints in [1, T], or a ValueError naming them
    if lengths.shape != (tokens.shape[0],):
        raise ValueError(f"lengths must have shape (N,) = ({tokens.shape[0]},) like tokens {tokens.shape}, "
                         f"got {lengths.shape}")
    return tokens, lengths


# ----------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------

def stratified_split(labels, fractions, rng):
    """Indices of disjoint parts of a data set, each with the classes in the data's proportions.

    Each class's indices are shuffled and cut by ``fractions`` (rounded down; the last part takes
    the rest), so every part holds about the same share of every class.

    Args:
        labels: (N,) ints in [0, C)
        fractions: tuple of floats in (0, 1) for all parts but the last, summing to < 1
            (e.g. ``(0.7, 0.15)`` gives train, validation and test parts of 70, 15 and 15 %)
        rng: numpy Generator

    Returns:
        parts: list of len(fractions) + 1 sorted int arrays of indices, together a partition of range(N)
    """
    labels = _labels(labels, n_classes=int(np.max(labels)) + 1 if np.size(labels) else 1)
    if not isinstance(fractions, (tuple, list)) or len(fractions) == 0:
        raise ValueError(f"fractions must be a non-empty tuple of numbers in (0, 1), got {fractions!r}")
    fractions = [check_fraction(f"fractions[{i}]", f) for i, f in enumerate(fractions)]
    if sum(fractions) >= 1:
        raise ValueError(f"fractions must sum to less than 1 (the last part takes the rest), got {sum(fractions)}")
    rng = check_generator(rng)
    parts = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        # rounded down, but not below an integer that floating point misses by a hair:
        # 0.7 + 0.1 is 0.7999999999999999, and 10 examples must still cut at 8, not 7
        cuts = np.floor(np.cumsum(fractions) * members.size + 1e-9).astype(int)
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.append(chunk)
    return [np.sort(np.concatenate(part)) for part in parts]


def stratified_subset(labels, size, rng):
    """Indices of ``size`` examples drawn without replacement, the classes in the data's proportions.

    Class c gets ``size * N_c / N`` examples rounded down, and the examples this leaves over go
    one each to the classes with the largest remainders (the first class on ties), so that
    exactly ``size`` are drawn.

    Args:
        labels: (N,) ints in [0, C); size: int in [C, N]; rng: numpy Generator

    Returns:
        indices: (size,) sorted ints into ``labels``
    """
    labels = _labels(labels, n_classes=int(np.max(labels)) + 1 if np.size(labels) else 1)
    size = check_positive_int("size", size)
    classes, counts = np.unique(labels, return_counts=True)
    if not classes.size <= size <= labels.size:
        raise ValueError(f"size must lie in [C, N] = [{classes.size}, {labels.size}], got {size}")
    if size == labels.size:
        return np.arange(labels.size)
    rng = check_generator(rng)
    # each class's share of size, rounded down; the few left over go to the largest remainders
    shares = size * counts / labels.size
    taken = np.floor(shares).astype(int)
    taken[np.argsort(taken - shares, kind="stable")[:size - taken.sum()]] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, taken)]
    return np.sort(np.concatenate(chosen))


# ----------------------------------------------------------------------------
# The bag-of-words baseline: logistic regression on word counts
# ----------------------------------------------------------------------------

def bag_of_words(tokens, lengths, vocab_size):
    """Word counts of each sentence: the order of the words is thrown away.

    Args:
        tokens: (N, T) ints in [0, V); lengths: (N,) ints in [1, T] (padding is not counted)
        vocab_size: int V

    Returns:
        counts: (N, V) float64, ``counts[n, v]`` = how often word v occurs in sentence n
    """
    tokens, lengths = _tokens_and_lengths(tokens, lengths)
    check_positive_int("vocab_size", vocab_size)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"tokens must be ints in [0, vocab_size={vocab_size}), got values from "
                         f"{tokens.min()} to {tokens.max()}")
    mask = L.length_mask(lengths, tokens.shape[1])
    rows = np.broadcast_to(np.arange(tokens.shape[0])[:, None], tokens.shape)
    counts = np.zeros((tokens.shape[0], vocab_size))
    np.add.at(counts, (rows[mask], tokens[mask]), 1.0)
    return counts


def init_logistic_regression(vocab_size):
    """Zero parameters of a bag-of-words logistic regression (its loss is convex: any start reaches the optimum).

    Args:
        vocab_size: int V

    Returns:
        params: dict ``W`` (V,) one weight per word, ``b`` (1,)
    """
    check_positive_int("vocab_size", vocab_size)
    return {"W": np.zeros(vocab_size), "b": np.zeros(1)}


def bag_of_words_scores(params, tokens, lengths):
    """Scores ``z = counts @ W + b`` of a logistic regression on word counts, from the tokens.

    Summing each real token's weight gives the same number as ``bag_of_words(...) @ W`` without
    building the (N, V) count matrix: a bag-of-words model adds one score per word, in any order.

    Args:
        params: dict ``W`` (V,), ``b`` (1,); tokens: (N, T) ints in [0, V); lengths: (N,) ints in [1, T]

    Returns:
        z: (N,) floats, the log-odds of the positive class
    """
    tokens, lengths = _tokens_and_lengths(tokens, lengths)
    W, b = params["W"], params["b"]
    if tokens.size and (tokens.min() < 0 or tokens.max() >= W.shape[0]):
        raise ValueError(f"tokens must be ints in [0, V={W.shape[0]}) for W {W.shape}, got values from "
                         f"{tokens.min()} to {tokens.max()}")
    mask = L.length_mask(lengths, tokens.shape[1])
    return np.where(mask, W[tokens], 0.0).sum(axis=1) + b[0]


def logistic_probabilities(params, tokens, lengths):
    """Probability of the positive class, ``sigmoid(z)`` with z from :func:`bag_of_words_scores`.

    Args:
        params: dict ``W`` (V,), ``b`` (1,); tokens: (N, T) ints; lengths: (N,) ints in [1, T]

    Returns:
        p: (N,) floats in [0, 1]
    """
    z = bag_of_words_scores(params, tokens, lengths)
    return sigmoid(z)


def logistic_loss_and_grads(params, batch, l2=0.0):
    """Mean binary cross-entropy of a bag-of-words logistic regression plus ``0.5 * l2 * ||W||^2``, and its gradients.

    Args:
        params: dict ``W`` (V,), ``b`` (1,)
        batch: tuple ``(tokens, lengths, labels)``: (N, T) ints, (N,) ints in [1, T], (N,) ints in {0, 1}
        l2: float >= 0, the L2 penalty on ``W`` (the bias is not penalised)

    Returns:
        loss: float; grads: dict ``W`` (V,), ``b`` (1,)
    """
    tokens, lengths, labels = batch
    tokens, lengths = _tokens_and_lengths(tokens, lengths)
    y = _labels(labels, 2)
    if y.shape != lengths.shape:
        raise ValueError(f"labels must have shape (N,) = {lengths.shape} like lengths, got {y.shape}")
    l2 = check_non_negative("l2", l2)
    z = bag_of_words_scores(params, tokens, lengths)  # (N,)
    # log(1 + e^z) - y z is the cross-entropy of sigmoid(z) against y, written without overflow
    loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(params["W"] ** 2)
    dz = (sigmoid(z) - y) / y.size  # (N,)
    mask = L.length_mask(lengths, tokens.shape[1])
    # dW[v] = sum of dz over every real occurrence of word v (bincount adds repeated words)
    dW = np.bincount(tokens[mask], weights=np.broadcast_to(dz[:, None], tokens.shape)[mask],
                     minlength=params["W"].shape[0])
    return float(loss), {"W": dW + l2 * params["W"], "b": np.array([dz.sum()])}


def fit_logistic_regression(tokens, lengths, labels, vocab_size, l2=0.0, steps=300, lr=0.05):
    """Fit a bag-of-words logistic regression with full-batch Adam (deterministic: no sampling).

    Args:
        tokens: (N, T) ints in [0, V); lengths: (N,) ints in [1, T]; labels: (N,) ints in {0, 1}
        vocab_size: int V
        l2: float >= 0, the L2 penalty (see :func:`logistic_loss_and_grads`)
        steps: int >= 1, full-batch steps; lr: float > 0

    Returns:
        params: dict ``W`` (V,), ``b`` (1,)
    """
    check_positive_int("steps", steps)
    loss = lambda params, batch: logistic_loss_and_grads(params, batch, l2)  # noqa: E731
    params, _ = models.train(loss, init_logistic_regression(vocab_size), [(tokens, lengths, labels)], steps, lr,
                             max_norm=1e3, verbose=False)
    return params


# ----------------------------------------------------------------------------
# Recurrent classifiers: regularisation, batches, training with early stopping, prediction
# ----------------------------------------------------------------------------

def is_weight(name):
    """True for a weight matrix (penalised by weight decay), False for a bias.

    Biases are the parameters whose last name part starts with ``b`` (``b``, ``bx``, ``bh``,
    ``b_out``, ``rnn0.b``); the embedding ``W_embed`` counts as a weight.
    """
    return not name.split(".")[-1].startswith("b")


def with_weight_decay(loss_and_grads, weight_decay):
    """An L2 penalty ``0.5 * weight_decay * sum ||W||^2`` over the weight matrices, added to a loss.

    With Adam this is the classic coupled L2 penalty (the gradient ``weight_decay * W`` is added
    before Adam's scaling), not AdamW's decoupled decay.

    Args:
        loss_and_grads: function ``(params, batch) -> (loss, grads)``
        weight_decay: float >= 0

    Returns:
        function ``(params, batch) -> (loss + penalty, grads + weight_decay * W)`` (biases untouched)
    """
    if not callable(loss_and_grads):
        raise ValueError(f"loss_and_grads must be a function, got {type(loss_and_grads).__name__}")
    weight_decay = check_non_negative("weight_decay", weight_decay)

    def penalised(params, batch):
        loss, grads = loss_and_grads(params, batch)
        grads = dict(grads)
        for name, value in params.items():
            if is_weight(name):
                loss += 0.5 * weight_decay * float(np.sum(value * value))
                grads[name] = grads[name] + weight_decay * value
        return loss, grads

    return penalised


def length_batches(tokens, lengths, labels, batch_size, rng):
    """Minibatches ``(tokens, lengths, labels)`` of sentences of similar length, each cut to its longest.

    The sentences are shuffled, sorted by length (a stable sort, so equal lengths stay in random
    order), cut into batches of ``batch_size`` and the batches shuffled ("bucketing"). A batch of
    short sentences then does not run over padding, which only costs time: a many-to-one model
    reads each sentence's last real state.

    Args:
        tokens: (N, T) ints; lengths: (N,) ints in [1, T]; labels: (N,) ints
        batch_size: int >= 1; rng: numpy Generator

    Returns:
        batches: list of tuples ``(tokens (B, T_b), lengths (B,), labels (B,))`` with T_b = max(lengths),
        together holding every sentence once
    """
    tokens, lengths = _tokens_and_lengths(tokens, lengths)
    labels = np.asarray(labels)
    if labels.shape != lengths.shape:
        raise ValueError(f"labels must have shape (N,) = {lengths.shape} like lengths, got {labels.shape}")
    check_positive_int("batch_size", batch_size)
    rng = check_generator(rng)
    order = rng.permutation(lengths.size)
    order = order[np.argsort(lengths[order], kind="stable")]
    chunks = [order[i:i + batch_size] for i in range(0, order.size, batch_size)]
    batches = []
    for k in rng.permutation(len(chunks)):
        rows = chunks[k]
        batches.append((tokens[rows, :lengths[rows].max()], lengths[rows], labels[rows]))
    return batches


def train_early_stopping(loss_and_grads, params, batches, epochs, lr, validate, patience=None,
                         max_norm=1.0, verbose=False):
    """Adam with gradient clipping, keeping the parameters of the epoch with the best validation score.

    :func:`rnncourse.models.train` with ``keep_best="max"`` (clip the global norm to ``max_norm``,
    one Adam step per batch); after each epoch ``validate(params)`` is computed. The returned
    parameters are those of the best epoch (the first, on ties). With ``patience`` set, training
    stops once that many epochs in a row have not beaten the best (early stopping).

    Args:
        loss_and_grads: function ``(params, batch) -> (loss, grads)``
        params: dict name -> array, the start (not modified)
        batches: function ``epoch -> list of batches`` (e.g. reshuffled :func:`length_batches`)
        epochs: int >= 1, the most epochs; lr: float > 0; max_norm: float > 0
        validate: function ``params -> float``, higher is better (e.g. validation accuracy)
        patience: None (train all epochs) or int >= 1
        verbose: print ``models.train``'s line per epoch (``eval`` is the validation score)

    Returns:
        best_params: dict, the parameters after the best epoch
        history: dict ``loss`` (per-epoch mean training loss), ``val`` (per-epoch validation
            score), ``best_epoch`` (int, 1-based), ``epochs_run`` (int)
    """
    if not callable(loss_and_grads) or not callable(validate) or not callable(batches):
        raise ValueError("loss_and_grads, validate and batches must be functions")
    best_params, history = models.train(loss_and_grads, params, batches, epochs, lr, max_norm=max_norm,
                                        evaluate=validate, verbose=verbose, keep_best="max", patience=patience)
    return best_params, {"loss": history["loss"], "val": history["eval"], "best_epoch": history["best_epoch"],
                         "epochs_run": len(history["loss"])}


def predict_classes(params, tokens, lengths, pooling="last", fast=True):
    """The class of highest score of a many-to-one classifier for each sentence.

    Args:
        params: dict from :func:`rnncourse.models.init_sequence_model`
        tokens: (N, T) ints; lengths: (N,) ints in [1, T]
        pooling: as in :func:`rnncourse.models.classifier_scores`; fast: use :mod:`rnncourse.fast`

    Returns:
        predicted: (N,) ints
    """
    tokens, lengths = _tokens_and_lengths(tokens, lengths)
    with models._blas_limit(1):
        scores = models.classifier_scores(params, tokens[:, :lengths.max()], lengths, pooling=pooling, fast=fast)
    return scores.argmax(axis=1)


# ----------------------------------------------------------------------------
# Word order
# ----------------------------------------------------------------------------

def shuffle_within_lengths(tokens, lengths, rng):
    """The same sentences with their words in a random order; the padding stays where it is.

    Row n's first ``lengths[n]`` tokens are permuted (an independent permutation per row); the
    tokens after them are copied unchanged. The multiset of each row's words and its length are
    kept, so a bag-of-words model gives exactly the same answer on the result.

    Args:
        tokens: (N, T) ints; lengths: (N,) ints in [1, T]; rng: numpy Generator

    Returns:
        shuffled: (N, T) ints, a new array (``tokens`` is not modified)
    """
    tokens, lengths = _tokens_and_lengths(tokens, lengths)
    rng = check_generator(rng)
    shuffled = tokens.copy()
    for n, length in enumerate(lengths):
        shuffled[n, :length] = tokens[n, rng.permutation(length)]
    return shuffled


# ----------------------------------------------------------------------------
# Learning curve
# ----------------------------------------------------------------------------

def learning_curve(fit_and_score, labels, sizes, rng):
    """Scores of a model trained on growing, nested, stratified subsets of a training set.

    The largest subset is drawn first and each smaller one is drawn from the next larger, so
    every training set contains the smaller ones (the curve shows what the added data does).

    Args:
        fit_and_score: function ``indices -> dict of floats`` (e.g. ``{"train": ..., "test": ...}``):
            train on the examples ``indices`` of the training set and score the model
        labels: (N,) ints, the training set's labels (to stratify)
        sizes: increasing ints in [C, N], the training-set sizes
        rng: numpy Generator

    Returns:
        curve: dict ``size`` (K,) ints and, for each key k that ``fit_and_score`` returns, k: (K,) floats
    """
    labels = _labels(labels, n_classes=int(np.max(labels)) + 1 if np.size(labels) else 1)
    sizes = [check_positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]  # 2.5 is refused, not cut to 2
    if not sizes or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes must be a non-empty increasing sequence, got {sizes}")
    if sizes[0] < np.unique(labels).size or sizes[-1] > labels.size:
        raise ValueError(f"sizes must lie in [{np.unique(labels).size}, N = {labels.size}], got {sizes}")
    rng = check_generator(rng)
    subsets, current = {}, np.arange(labels.size)
    for size in reversed(sizes):
        current = current[stratified_subset(labels[current], size, rng)]
        subsets[size] = current
    results = [fit_and_score(subsets[size]) for size in sizes]
    curve = {"size": np.array(sizes)}
    for key in results[0]:
        curve[key] = np.array([float(r[key]) for r in results])
    return curve
