"""Pretraining a character model on unlabelled text, then fine-tuning it on labelled sentences (chapter 7).

The experiment of chapter 7's pretraining section, in small functions (PyTorch on the CPU; torch
is imported inside the functions that need it):

- text as characters: :func:`encode_characters` turns sentences into padded arrays of character
  ids between two boundary marks, and :func:`check_disjoint` refuses a pretraining text that
  shares a sentence with a held-out part;
- one model, two heads (:func:`make_char_model`): an embedding and a GRU (the *encoder*), a
  next-character layer (the language model's head) and a class layer on the mean of the states
  (the classifier's head);
- pretraining: :func:`language_model_loss` (mean cross-entropy of the next character, in nats),
  :func:`pretrain_language_model` (Adam with norm clipping over minibatches of sentences);
- fine-tuning: :func:`copy_encoder` (the pretrained encoder's weights into a fresh classifier),
  :func:`classifier_scores`, :func:`fine_tune_classifier` (Adam with clipping for a fixed number
  of steps, keeping the parameters of the best validation check) and :func:`predict_classes`;
- labels never seen: :func:`sentence_log_likelihoods` scores a text under the language model, which
  a zero-shot rule can compare after two cue prefixes.

Conventions: a sentence of ``m`` characters is encoded as ``m + 2`` ids, the start mark, its
characters, the end mark (``BOUNDARY`` both), padded with ``PAD``; ``tokens`` (N, T) int64
and ``lengths`` (N,) ints count both marks. The language model reads ids ``0..length-2`` and
predicts ``1..length-1`` (every character and the end); the classifier reads ids ``0..length-2``
(the start and the characters) and averages the states there.
"""
import numpy as np

from ._validate import check_generator, check_positive_float, check_positive_int

PAD, BOUNDARY, UNKNOWN = 0, 1, 2
FIRST_CHAR = 3  # id of chars[0]


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - torch is installed in the course environment
        raise ImportError("rnncourse.pretraining needs PyTorch: pip install torch") from error
    return torch


def _check_encoded(tokens, lengths, vocab_size=None):
    """tokens (N, T) ints and lengths (N,) ints in [2, T], as numpy arrays."""
    tokens, lengths = np.asarray(tokens), np.asarray(lengths)
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu" or tokens.shape[0] == 0:
        raise ValueError(f"tokens must be a non-empty 2-D int array (N, T), got shape {tokens.shape} "
                         f"and dtype {tokens.dtype}")
    if lengths.shape != (tokens.shape[0],) or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be an int array of shape (N,) = ({tokens.shape[0]},), got shape "
                         f"{lengths.shape} and dtype {lengths.dtype}")
    if lengths.min() < 2 or lengths.max() > tokens.shape[1]:
        raise ValueError(f"lengths must lie in [2, T] = [2, {tokens.shape[1]}] (the two boundary marks "
                         f"count), got values from {lengths.min()} to {lengths.max()}")
    if vocab_size is not None and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"tokens must be ids in [0, V) = [0, {vocab_size}), got values from "
                         f"{tokens.min()} to {tokens.max()}")
    return tokens.astype(np.int64), lengths.astype(np.int64)


def _check_labels(labels, n):
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or (n and labels.min() < 0):
        raise ValueError(f"labels must be non-negative ints of shape (N,) = ({n},), got shape {labels.shape} "
                         f"and dtype {labels.dtype}")
    return labels.astype(np.int64)


# ----------------------------------------------------------------------------
# Text as characters
# ----------------------------------------------------------------------------

def encode_characters(sentences, chars, max_chars):
    """Character ids of sentences between two boundary marks, padded into one array.

    A sentence longer than ``max_chars`` keeps its first ``max_chars`` characters. A character
    not in ``chars`` becomes ``UNKNOWN``.

    Args:
        sentences: list of N str
        chars: str or sequence of distinct characters; ``chars[k]`` gets id ``FIRST_CHAR + k``
        max_chars: int >= 1, the most characters kept per sentence

    Returns:
        tokens: (N, max_chars + 2) int64, row n = BOUNDARY, the ids of its characters, BOUNDARY, PAD...
        lengths: (N,) int64, the characters kept plus 2
    """
    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
        raise ValueError("sentences must be a list of str (one per sentence), got "
                         f"{type(sentences).__name__}")
    if len(sentences) == 0:
        raise ValueError("sentences must hold at least one sentence, got 0")
    max_chars = check_positive_int("max_chars", max_chars)
    chars = list(chars)
    if len(set(chars)) != len(chars) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise ValueError(f"chars must be distinct single characters, got {len(chars)} entries of which "
                         f"{len(set(chars))} distinct")
    index = {c: FIRST_CHAR + k for k, c in enumerate(chars)}
    tokens = np.full((len(sentences), max_chars + 2), PAD, dtype=np.int64)
    lengths = np.empty(len(sentences), dtype=np.int64)
    for n, sentence in enumerate(sentences):
        ids = [index.get(c, UNKNOWN) for c in sentence[:max_chars]]
        tokens[n, 0] = BOUNDARY
        tokens[n, 1:len(ids) + 1] = ids
        tokens[n, len(ids) + 1] = BOUNDARY
        lengths[n] = len(ids) + 2
    return tokens, lengths


def check_disjoint(pretraining_sentences, held_out_sentences, name="held_out_sentences"):
    """Refuse a pretraining text that holds any sentence of a held-out part (compared as text).

    Two rows of a corpus can hold the same sentence; comparing the text, not the row numbers,
    makes sure that no held-out sentence is read during pretraining, not even as a duplicate.

    Args:
        pretraining_sentences: list of str; held_out_sentences: list of str
        name: the held-out part's name, for the message

    Returns:
        n_checked: int, the number of held-out sentences checked (for a caller to report)

    Raises:
        ValueError: naming how many held-out sentences occur in the pretraining text, and the first
    """
    shared = set(pretraining_sentences) & set(held_out_sentences)
    if shared:
        raise ValueError(f"{name}: {len(shared)} sentence(s) also occur in the pretraining text, e.g. "
                         f"{sorted(shared)[0]!r}")
    return len(held_out_sentences)


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------

def make_char_model(vocab_size, embed_size, hidden_size, n_classes, seed):
    """An embedding and a GRU (the encoder) with two heads: next character and class.

    PyTorch's default initialisation after ``torch.manual_seed(seed)``.

    Args:
        vocab_size: int V (ids, marks included); embed_size: int E; hidden_size: int H
        n_classes: int C; seed: int

    Returns:
        model: a ``torch.nn.Module`` with ``embed`` (V, E), ``gru`` (``nn.GRU``, batch first),
        ``next_char`` (``nn.Linear`` H -> V) and ``classes`` (``nn.Linear`` H -> C); its
        ``states(tokens (N, T) long)`` returns the GRU states (N, T, H)
    """
    for name, value in (("vocab_size", vocab_size), ("embed_size", embed_size), ("hidden_size", hidden_size),
                        ("n_classes", n_classes)):
        check_positive_int(name, value)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    torch = _torch()
    nn = torch.nn

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed_size)
            self.gru = nn.GRU(embed_size, hidden_size, batch_first=True)
            self.next_char = nn.Linear(hidden_size, vocab_size)
            self.classes = nn.Linear(hidden_size, n_classes)

        def states(self, tokens):
            return self.gru(self.embed(tokens))[0]

    torch.manual_seed(int(seed))
    return CharModel()


def _encoder_parameters(model):
    return [*model.embed.parameters(), *model.gru.parameters()]


def copy_encoder(source, target):
    """Copy the embedding and GRU weights of ``source`` into ``target`` (heads left as they are).

    Args:
        source, target: models from :func:`make_char_model` with the same V, E and H

    Returns:
        target (modified in place, and returned for convenience)
    """
    torch = _torch()
    for name in ("embed", "gru"):
        a, b = getattr(source, name), getattr(target, name)
        shapes_a = [tuple(p.shape) for p in a.parameters()]
        shapes_b = [tuple(p.shape) for p in b.parameters()]
        if shapes_a != shapes_b:
            raise ValueError(f"source and target must have the same {name} shapes, got {shapes_a} and {shapes_b}")
    with torch.no_grad():
        for p_source, p_target in zip(_encoder_parameters(source), _encoder_parameters(target)):
            p_target.copy_(p_source)
    return target


def _vocab(model):
    return model.embed.num_embeddings


def _batch(tokens, lengths, rows):
    """Rows of tokens cut to their longest sentence, as torch tensors."""
    torch = _torch()
    T = int(lengths[rows].max())
    return torch.from_numpy(tokens[rows, :T]), torch.from_numpy(lengths[rows])


def _next_char_losses(model, tokens, lengths):
    """Per-sentence summed cross-entropy (N,) and predicted-character counts (N,) of a torch batch."""
    torch = _torch()
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    scores = model.next_char(model.states(inputs))  # (N, T-1, V)
    losses = torch.nn.functional.cross_entropy(scores.transpose(1, 2), targets, reduction="none")  # (N, T-1)
    mask = torch.arange(targets.shape[1])[None, :] < (lengths[:, None] - 1)
    return (losses * mask).sum(dim=1), mask.sum(dim=1)


# ----------------------------------------------------------------------------
# Pretraining: the next character
# ----------------------------------------------------------------------------

def language_model_loss(model, tokens, lengths, batch_size=256):
    """Mean loss in nats per predicted character (every character and the end mark) on some sentences.

    Args:
        model: from :func:`make_char_model`
        tokens: (N, T) ids from :func:`encode_characters`; lengths: (N,) ints in [2, T]
        batch_size: int, sentences per forward pass (does not change the result)

    Returns:
        loss: float
    """
    torch = _torch()
    tokens, lengths = _check_encoded(tokens, lengths, _vocab(model))
    check_positive_int("batch_size", batch_size)
    order = np.argsort(lengths, kind="stable")
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, order.size, batch_size):
            x, lens = _batch(tokens, lengths, order[start:start + batch_size])
            loss, n = _next_char_losses(model, x, lens)
            total += float(loss.sum())
            count += int(n.sum())
    return total / count


def _length_batches(lengths, batch_size, rng):
    """Row indices in batches of similar length (shuffled, sorted stably, cut, batches shuffled)."""
    order = rng.permutation(lengths.size)
    order = order[np.argsort(lengths[order], kind="stable")]
    chunks = [order[i:i + batch_size] for i in range(0, order.size, batch_size)]
    return [chunks[k] for k in rng.permutation(len(chunks))]


def pretrain_language_model(model, tokens, lengths, epochs, batch_size, lr, rng, max_norm=1.0):
    """Train the encoder and next-character head on unlabelled sentences (each read from the zero state).

    Per epoch the sentences are cut into minibatches of similar length; per minibatch one Adam
    step on the mean next-character cross-entropy, the gradients' global norm clipped to
    ``max_norm``. The class head is not touched. One CPU thread.

    Args:
        model: from :func:`make_char_model` (trained in place)
        tokens: (N, T) ids from :func:`encode_characters`; lengths: (N,) ints in [2, T]
        epochs: int >= 1; batch_size: int >= 1; lr: float > 0; rng: numpy Generator (batch order)
        max_norm: float > 0

    Returns:
        losses: (epochs,) floats, the mean training loss of each epoch (nats per character)
    """
    torch = _torch()
    tokens, lengths = _check_encoded(tokens, lengths, _vocab(model))
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    lr, max_norm = check_positive_float("lr", lr), check_positive_float("max_norm", max_norm)
    rng = check_generator(rng)
    parameters = [*_encoder_parameters(model), *model.next_char.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for rows in _length_batches(lengths, batch_size, rng):
            x, lens = _batch(tokens, lengths, rows)
            summed, n = _next_char_losses(model, x, lens)
            loss = summed.sum() / n.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_norm)
            optimizer.step()
            total += float(summed.sum().detach())
            count += int(n.sum())
        losses.append(total / count)
    return np.array(losses)


def sentence_log_likelihoods(model, tokens, lengths, skip=0, batch_size=256):
    """Log-probability (nats) of each sentence under the language model, optionally of a tail only.

    The sum of ``log p(next id | ids before)`` over the predictions ``skip + 1 .. length - 1``:
    with ``skip = k`` the first k predicted ids (e.g. a cue of k characters written before the
    sentence) are read but not counted, so the result is ``log p(rest | start mark, cue)``.

    Args:
        model: from :func:`make_char_model`
        tokens: (N, T) ids; lengths: (N,) ints in [skip + 2, T]
        skip: int >= 0; batch_size: int

    Returns:
        log_likelihoods: (N,) floats (<= 0)
    """
    torch = _torch()
    tokens, lengths = _check_encoded(tokens, lengths, _vocab(model))
    if isinstance(skip, bool) or not isinstance(skip, (int, np.integer)) or skip < 0:
        raise ValueError(f"skip must be an int >= 0, got {skip!r}")
    if lengths.min() < skip + 2:
        raise ValueError(f"lengths must be >= skip + 2 = {skip + 2} (something left to score), got {lengths.min()}")
    check_positive_int("batch_size", batch_size)
    result = np.empty(lengths.size)
    with torch.no_grad():
        for start in range(0, lengths.size, batch_size):
            rows = np.arange(start, min(start + batch_size, lengths.size))
            x, lens = _batch(tokens, lengths, rows)
            inputs, targets = x[:, :-1], x[:, 1:]
            scores = model.next_char(model.states(inputs))
            losses = torch.nn.functional.cross_entropy(scores.transpose(1, 2), targets, reduction="none")
            steps = torch.arange(targets.shape[1])[None, :]
            mask = (steps >= skip) & (steps < lens[:, None] - 1)
            result[rows] = -(losses * mask).sum(dim=1).double().numpy()
    return result


# ----------------------------------------------------------------------------
# Fine-tuning: the class of a sentence
# ----------------------------------------------------------------------------

def _mean_state(model, x, lens):
    """The mean GRU state (N, H) over the start mark and the characters of a batch."""
    torch = _torch()
    h = model.states(x[:, :-1])  # (N, T-1, H); the end mark is not read
    mask = (torch.arange(h.shape[1])[None, :] < (lens[:, None] - 1)).to(h.dtype)
    return (h * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)


def _mean_state_scores(model, x, lens):
    """Class scores (N, C) from the mean GRU state over the start mark and the characters."""
    return model.classes(_mean_state(model, x, lens))


def classifier_scores(model, tokens, lengths, batch_size=256):
    """Class scores of sentences: the class head on the mean of the GRU states.

    Args:
        model: from :func:`make_char_model`
        tokens: (N, T) ids from :func:`encode_characters`; lengths: (N,) ints in [2, T]
        batch_size: int, sentences per forward pass (does not change the result)

    Returns:
        scores: (N, C) floats
    """
    torch = _torch()
    tokens, lengths = _check_encoded(tokens, lengths, _vocab(model))
    check_positive_int("batch_size", batch_size)
    result = np.empty((lengths.size, model.classes.out_features))
    with torch.no_grad():
        for start in range(0, lengths.size, batch_size):
            rows = np.arange(start, min(start + batch_size, lengths.size))
            result[rows] = _mean_state_scores(model, *_batch(tokens, lengths, rows)).double().numpy()
    return result


def predict_classes(model, tokens, lengths):
    """The class of highest score for each sentence: (N,) ints (see :func:`classifier_scores`)."""
    return classifier_scores(model, tokens, lengths).argmax(axis=1)


def mean_states(model, tokens, lengths, batch_size=256):
    """The mean GRU state over each sentence's start mark and characters: (N, H) floats, the class head's input."""
    torch = _torch()
    tokens, lengths = _check_encoded(tokens, lengths, _vocab(model))
    check_positive_int("batch_size", batch_size)
    result = np.empty((lengths.size, model.gru.hidden_size))
    with torch.no_grad():
        for start in range(0, lengths.size, batch_size):
            rows = np.arange(start, min(start + batch_size, lengths.size))
            result[rows] = _mean_state(model, *_batch(tokens, lengths, rows)).double().numpy()
    return result


def fine_tune_classifier(model, tokens, lengths, labels, steps, batch_size, lr, rng, validate=None, checks=4,
                         max_norm=1.0):
    """Train the encoder and the class head on labelled sentences for a fixed number of steps.

    Every step takes the next minibatch of similar-length sentences (a new shuffle once the
    sentences run out), computes the mean cross-entropy of the class scores and makes one Adam
    step with the gradients' global norm clipped. With ``validate`` given, ``validate(model)`` is
    called at ``checks`` evenly spaced steps (the last one included) and the model ends with the
    parameters of the best check (the first, on ties): early stopping on a validation score.
    Without it the model ends as the last step leaves it. One CPU thread.

    Args:
        model: from :func:`make_char_model` (trained in place), e.g. with a pretrained encoder
        tokens: (N, T) ids; lengths: (N,) ints in [2, T]; labels: (N,) ints in [0, C)
        steps: int >= 1; batch_size: int >= 1 (a batch holds min(batch_size, N) sentences)
        lr: float > 0; rng: numpy Generator (batch order)
        validate: None, or a function ``model -> float``, higher is better (e.g. validation accuracy)
        checks: int in [1, steps], the validation checks (unused without ``validate``); max_norm: float > 0

    Returns:
        history: dict ``loss`` (steps,) training losses, ``checked`` (checks,) the step after
        which each check ran, ``val`` (checks,) the scores, ``best_step`` (int; ``steps`` without
        ``validate``)
    """
    torch = _torch()
    tokens, lengths = _check_encoded(tokens, lengths, _vocab(model))
    labels = _check_labels(labels, lengths.size)
    if labels.max() >= model.classes.out_features:
        raise ValueError(f"labels must be in [0, C) = [0, {model.classes.out_features}), got {labels.max()}")
    steps = check_positive_int("steps", steps)
    check_positive_int("batch_size", batch_size)
    checks = check_positive_int("checks", checks)
    if validate is not None and checks > steps:
        raise ValueError(f"checks must be in [1, steps] = [1, {steps}], got {checks}")
    if validate is not None and not callable(validate):
        raise ValueError(f"validate must be None or a function model -> float, got {type(validate).__name__}")
    lr, max_norm = check_positive_float("lr", lr), check_positive_float("max_norm", max_norm)
    rng = check_generator(rng)
    check_steps = set(np.linspace(steps / checks, steps, checks).round().astype(int).tolist()) if validate is not None else set()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches, losses, checked, scores = [], [], [], []
    best, best_state, best_step = -np.inf, None, 0
    for step in range(1, steps + 1):
        if not batches:
            batches = _length_batches(lengths, batch_size, rng)
        rows = batches.pop()
        x, lens = _batch(tokens, lengths, rows)
        loss = torch.nn.functional.cross_entropy(_mean_state_scores(model, x, lens), torch.from_numpy(labels[rows]))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        if step in check_steps:
            score = float(validate(model))
            checked.append(step)
            scores.append(score)
            if score > best:
                best, best_step = score, step
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if validate is None:
        best_step = steps
    else:
        model.load_state_dict(best_state)
    return {"loss": np.array(losses), "checked": np.array(checked), "val": np.array(scores), "best_step": best_step}
