"""The course's data: synthetic tasks generated on the spot and real data read from this machine.

Nothing is downloaded. Synthetic sequence tasks for long-range memory:

- :func:`adding_problem`: Hochreiter & Schmidhuber (1997), in the form of Le et al. (2015).
- :func:`copy_task`: remember a short sequence of symbols over a long delay.

Toy tasks of chapter 5, one per input-output configuration (see the section below):
:func:`modular_sum_task` (one-to-one), :func:`countdown_task` (one-to-many),
:func:`sorted_sequence_task` (many-to-one), :func:`local_maximum_task` (many-to-many,
aligned), :func:`seq2seq_task` (many-to-many, unaligned) and :func:`markov_language_task`
(next-token prediction), with :func:`pad_sequences` and :func:`bag_of_tokens`.

Real data of chapter 6 (see the sections below): the text corpora shipped with the package
(:func:`load_shakespeare`, :func:`load_sentiment_sentences`), time series from optional
packages (:func:`load_daily_stock`, :func:`load_monthly_stocks`, :func:`load_seattle_weather`,
:func:`load_co2`, :func:`load_sunspots`, :func:`load_nile`), text to tokens
(:func:`char_vocabulary`, :func:`encode_text`, :func:`decode_tokens`, :func:`tokenize_words`,
:func:`word_vocabulary`, :func:`encode_sentences`) and forecasting windows split in time
order (:func:`make_windows`, :func:`split_windows_in_time_order`).
"""
import collections
import gzip
import importlib
import importlib.resources
import re

import numpy as np

from ._validate import as_float_array, check_fraction, check_generator, check_positive_int
from .layers import length_mask


def adding_problem(n, T, rng):
    """The adding problem: add the two marked numbers of a long sequence.

    Feature 0 of every step is uniform in [0, 1); feature 1 is a marker, 1 at exactly two
    steps (one in the first half ``[0, T//2)``, one in the second half ``[T//2, T)``) and 0
    elsewhere. The target is the sum of the two marked values. Predicting the mean 1 always
    gives a mean squared error of ``Var(U1 + U2) = 1/6``: a model must beat that to have learnt.

    Args:
        n: int >= 1, number of sequences
        T: int >= 2, sequence length
        rng: numpy Generator

    Returns:
        x: (n, T, 2) float64 inputs
        y: (n,) float64 targets in [0, 2)
    """
    n, T, rng = check_positive_int("n", n), check_positive_int("T", T, minimum=2), check_generator(rng)
    values = rng.uniform(0.0, 1.0, (n, T))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2)
    y = values[rows, first] + values[rows, second]
    return x, y


def copy_task(n, length, delay, n_symbols, rng):
    """The copy task: read ``length`` symbols, wait ``delay`` steps, then write them back.

    Symbols ``0 .. n_symbols-1`` are data, ``n_symbols`` is blank, ``n_symbols + 1`` is
    the cue that asks for the output. Inputs are one-hot.

    Args:
        n: int >= 1, number of sequences
        length: int >= 1, number of symbols to remember
        delay: int >= 0, blank steps between reading and the cue
        n_symbols: int >= 1, size of the data alphabet
        rng: numpy Generator

    Returns:
        x: (n, T, n_symbols + 2) one-hot inputs with ``T = 2 * length + delay + 1``
        y: (n, T) int64 target symbols: blank everywhere except the last ``length`` steps,
            which hold the symbols that were read
    """
    n, length = check_positive_int("n", n), check_positive_int("length", length)
    delay, n_symbols = check_positive_int("delay", delay, minimum=0), check_positive_int("n_symbols", n_symbols)
    rng = check_generator(rng)
    blank, cue = n_symbols, n_symbols + 1
    T = 2 * length + delay + 1
    symbols = rng.integers(0, n_symbols, (n, length))
    tokens = np.full((n, T), blank, dtype=np.int64)
    tokens[:, :length] = symbols
    tokens[:, length + delay] = cue
    y = np.full((n, T), blank, dtype=np.int64)
    y[:, T - length:] = symbols
    x = np.eye(n_symbols + 2)[tokens]
    return x, y


# ---------------------------------------------------------------------------
# Chapter 5: toy tasks for the input-output configurations
#
# Token conventions shared by these tasks: digits are the tokens 0 .. n_digits-1;
# ``n_digits`` is the end-of-sequence symbol (EOS), which is also the padding value;
# ``n_digits + 1`` is the start symbol (START) that a decoder reads first. So a model
# of these tasks needs a vocabulary of ``n_digits + 2`` tokens at most. Padding is
# always at the end of a row: positions ``t >= lengths[n]`` are padding.
# ---------------------------------------------------------------------------


def eos_token(n_digits):
    """The end-of-sequence (and padding) token of the chapter 5 tasks: ``n_digits``."""
    return check_positive_int("n_digits", n_digits, minimum=2)


def start_token(n_digits):
    """The start token of the chapter 5 decoders: ``n_digits + 1``."""
    return check_positive_int("n_digits", n_digits, minimum=2) + 1


def _lengths(n, min_length, max_length, rng, smallest=1):
    min_length = check_positive_int("min_length", min_length, minimum=smallest)
    max_length = check_positive_int("max_length", max_length, minimum=smallest)
    if max_length < min_length:
        raise ValueError(f"max_length must be >= min_length = {min_length}, got {max_length}")
    return rng.integers(min_length, max_length + 1, n)


def pad_sequences(sequences, pad_token):
    """Stack sequences of different lengths into one array, padded at the end.

    Args:
        sequences: list of N 1-d integer arrays, each of length >= 1
        pad_token: int, the value written after each sequence's end

    Returns:
        tokens: (N, T) int64 with ``T = max length``; row n is ``sequences[n]`` then padding
        lengths: (N,) int64, the length of each sequence
    """
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence, got an empty list")
    rows = [np.asarray(s) for s in sequences]
    for i, row in enumerate(rows):
        if row.ndim != 1 or row.size == 0 or row.dtype.kind not in "iu":
            raise ValueError(f"sequences[{i}] must be a non-empty 1-d integer array, "
                             f"got shape {row.shape} dtype {row.dtype}")
    lengths = np.array([row.size for row in rows], dtype=np.int64)
    tokens = np.full((len(rows), int(lengths.max())), pad_token, dtype=np.int64)
    for i, row in enumerate(rows):
        tokens[i, :row.size] = row
    return tokens, lengths


def bag_of_tokens(tokens, lengths, vocab_size):
    """Count how often each token occurs in each sequence: the sequence with its order lost.

    Args:
        tokens: (N, T) ints in [0, vocab_size); lengths: (N,) ints in [1, T]
        vocab_size: int >= 1

    Returns:
        counts: (N, vocab_size) float64, ``counts[n, v]`` = occurrences of v among the
            first ``lengths[n]`` tokens of row n (padding is not counted)
    """
    tokens, lengths = np.asarray(tokens), np.asarray(lengths)
    vocab_size = check_positive_int("vocab_size", vocab_size)
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must be a 2-d integer array (N, T), got shape {tokens.shape} dtype {tokens.dtype}")
    if lengths.shape != (tokens.shape[0],) or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be an integer array of shape (N,) = ({tokens.shape[0]},), "
                         f"got shape {lengths.shape}")
    if np.any(lengths < 1) or np.any(lengths > tokens.shape[1]):
        raise ValueError(f"lengths must lie in [1, T] = [1, {tokens.shape[1]}]")
    real = length_mask(lengths, tokens.shape[1])
    if np.any(tokens[real] < 0) or np.any(tokens[real] >= vocab_size):
        raise ValueError(f"tokens must lie in [0, vocab_size) = [0, {vocab_size}) at real steps")
    counts = np.zeros((tokens.shape[0], vocab_size))
    rows = np.repeat(np.arange(tokens.shape[0]), tokens.shape[1]).reshape(tokens.shape)
    np.add.at(counts, (rows[real], tokens[real]), 1.0)
    return counts


def modular_sum_task(n, n_digits, rng):
    """One-to-one: from two digits a and b, predict ``(a + b) mod n_digits``.

    The input is one fixed-size vector, the output one class: no sequence on either side.
    The target is not a linear function of the one-hot input, so a hidden layer is needed.
    There are only ``n_digits**2`` different inputs: the task measures fitting, not
    generalisation to unseen pairs.

    Args:
        n: int >= 1, number of examples; n_digits: int >= 2; rng: numpy Generator

    Returns:
        x: (n, 2 * n_digits) float64, one-hot of a followed by one-hot of b
        y: (n,) int64 in [0, n_digits)
    """
    n, n_digits = check_positive_int("n", n), check_positive_int("n_digits", n_digits, minimum=2)
    rng = check_generator(rng)
    a, b = rng.integers(0, n_digits, n), rng.integers(0, n_digits, n)
    eye = np.eye(n_digits)
    return np.concatenate([eye[a], eye[b]], axis=1), (a + b) % n_digits


def countdown_task(n, n_digits, rng):
    """One-to-many: from one digit d (a one-hot vector), write ``d, d-1, ..., 0`` then EOS.

    Args:
        n: int >= 1, number of examples; n_digits: int >= 2; rng: numpy Generator

    Returns:
        x: (n, n_digits) float64, one-hot of the start digit d
        tgt_in: (n, n_digits + 1) int64, the decoder's input ``START, d, ..., 0`` then padding
        tgt_out: (n, n_digits + 1) int64, the targets ``d, ..., 0, EOS`` then padding
        tgt_lengths: (n,) int64, ``d + 2`` (the digits and the EOS)
    """
    n, n_digits = check_positive_int("n", n), check_positive_int("n_digits", n_digits, minimum=2)
    rng = check_generator(rng)
    d = rng.integers(0, n_digits, n)
    outputs = [np.append(np.arange(k, -1, -1), n_digits) for k in d]
    tgt_out, tgt_lengths = pad_sequences(outputs, n_digits)
    tgt_out = np.pad(tgt_out, ((0, 0), (0, n_digits + 1 - tgt_out.shape[1])), constant_values=n_digits)
    tgt_in = np.concatenate([np.full((n, 1), n_digits + 1), tgt_out[:, :-1]], axis=1)
    tgt_in[np.arange(tgt_in.shape[1])[None, :] >= tgt_lengths[:, None]] = n_digits
    return np.eye(n_digits)[d], tgt_in, tgt_out, tgt_lengths


def sorted_sequence_task(n, min_length, max_length, n_digits, rng):
    """Many-to-one: is the digit sequence sorted (non-decreasing)?

    Half the sequences (labels drawn at random) are sorted, the others are a shuffle of
    the same digits that is not sorted. Each sequence holds at least two different
    digits, so such a shuffle exists. A sorted sequence and its shuffle contain the same
    digits the same number of times, so :func:`bag_of_tokens` carries no information
    about the label: only the order does.

    Args:
        n: int >= 1; min_length, max_length: ints, 2 <= min_length <= max_length
        n_digits: int >= 2; rng: numpy Generator

    Returns:
        tokens: (n, T) int64 digits, padded with EOS = n_digits, ``T = max(lengths)``
        lengths: (n,) int64 in [min_length, max_length]
        labels: (n,) int64, 1 if sorted, 0 if not
    """
    n, n_digits = check_positive_int("n", n), check_positive_int("n_digits", n_digits, minimum=2)
    rng = check_generator(rng)
    lengths = _lengths(n, min_length, max_length, rng, smallest=2)
    labels = rng.integers(0, 2, n)
    sequences = []
    for length, label in zip(lengths, labels):
        digits = rng.integers(0, n_digits, length)
        while np.all(digits == digits[0]):
            digits = rng.integers(0, n_digits, length)
        ordered = np.sort(digits)
        if label == 1:
            sequences.append(ordered)
            continue
        shuffled = rng.permutation(ordered)
        while np.all(np.diff(shuffled) >= 0):
            shuffled = rng.permutation(ordered)
        sequences.append(shuffled)
    tokens, lengths = pad_sequences(sequences, n_digits)
    return tokens, lengths, labels


def local_maximum_task(n, min_length, max_length, n_digits, rng):
    """Many-to-many, aligned: tag each digit 1 if it is larger than both of its neighbours.

    A digit is a local maximum when it is strictly larger than the digit before it and the
    digit after it; at either end of a sequence the missing neighbour does not count. The
    tag of step t depends on step t+1, which a left-to-right RNN has not read yet when it
    must answer: a bidirectional tagger can be exact, a unidirectional one can only guess.

    Args:
        n: int >= 1; min_length, max_length: ints, 1 <= min_length <= max_length
        n_digits: int >= 2; rng: numpy Generator

    Returns:
        tokens: (n, T) int64 digits, padded with EOS = n_digits, ``T = max(lengths)``
        lengths: (n,) int64 in [min_length, max_length]
        tags: (n, T) int64 in {0, 1}; 0 at padded steps
    """
    n, n_digits = check_positive_int("n", n), check_positive_int("n_digits", n_digits, minimum=2)
    rng = check_generator(rng)
    lengths = _lengths(n, min_length, max_length, rng)
    tokens, lengths = pad_sequences([rng.integers(0, n_digits, k) for k in lengths], n_digits)
    real = length_mask(lengths, tokens.shape[1])
    lower = np.where(real, tokens, -1)  # padding is below every digit
    left = np.pad(lower, ((0, 0), (1, 0)), constant_values=-1)[:, :-1]
    right = np.pad(lower, ((0, 0), (0, 1)), constant_values=-1)[:, 1:]
    tags = (real & (lower > left) & (lower > right)).astype(np.int64)
    return tokens, lengths, tags


def seq2seq_task(n, min_length, max_length, n_digits, rng, kind="reverse"):
    """Many-to-many, unaligned: read a digit string, write it reversed (or sorted), then EOS.

    Args:
        n: int >= 1; min_length, max_length: ints, 1 <= min_length <= max_length
        n_digits: int >= 2; rng: numpy Generator
        kind: ``"reverse"`` or ``"sort"``

    Returns:
        src: (n, S) int64 source digits, padded with EOS = n_digits, ``S = max(src_lengths)``
        src_lengths: (n,) int64 in [min_length, max_length]
        tgt_in: (n, S + 1) int64 decoder input ``START, y_1, ..., y_L`` then padding
        tgt_out: (n, S + 1) int64 targets ``y_1, ..., y_L, EOS`` then padding
        tgt_lengths: (n,) int64, ``src_lengths + 1``
    """
    if kind not in ("reverse", "sort"):
        raise ValueError(f"kind must be 'reverse' or 'sort', got {kind!r}")
    n, n_digits = check_positive_int("n", n), check_positive_int("n_digits", n_digits, minimum=2)
    rng = check_generator(rng)
    lengths = _lengths(n, min_length, max_length, rng)
    sources = [rng.integers(0, n_digits, k) for k in lengths]
    outputs = [s[::-1] if kind == "reverse" else np.sort(s) for s in sources]
    src, src_lengths = pad_sequences(sources, n_digits)
    tgt_out, tgt_lengths = pad_sequences([np.append(y, n_digits) for y in outputs], n_digits)
    tgt_in = np.concatenate([np.full((n, 1), n_digits + 1), tgt_out[:, :-1]], axis=1)
    tgt_in[np.arange(tgt_in.shape[1])[None, :] >= tgt_lengths[:, None]] = n_digits
    return src, src_lengths, tgt_in, tgt_out, tgt_lengths


def markov_language_task(n, length, n_digits, rng, concentration=0.3):
    """Next-token prediction on digit strings drawn from a random Markov chain.

    A transition matrix is drawn once (each row from a Dirichlet distribution with the
    given concentration: small values give peaked rows, so the next digit is partly
    predictable). Each string starts from a uniform digit and follows the chain. The
    task is a language model's: at step t, read ``inputs[:, :t+1]`` and predict
    ``targets[:, t] = inputs[:, t+1]``. :func:`markov_optimal_loss` is the smallest
    expected loss a model that reads only the past can reach.

    Args:
        n: int >= 1, number of strings; length: int >= 2, digits per string
        n_digits: int >= 2; rng: numpy Generator
        concentration: float > 0, the Dirichlet parameter of each row

    Returns:
        inputs: (n, length - 1) int64, the digits 0 .. length-2 of each string
        lengths: (n,) int64, all ``length - 1`` (the strings are not padded)
        targets: (n, length - 1) int64, the digits 1 .. length-1 (the next digit)
        transitions: (n_digits, n_digits) float64, row i = P(next digit | digit i)
    """
    n, length = check_positive_int("n", n), check_positive_int("length", length, minimum=2)
    n_digits, rng = check_positive_int("n_digits", n_digits, minimum=2), check_generator(rng)
    if isinstance(concentration, bool) or not np.isscalar(concentration) or not concentration > 0:
        raise ValueError(f"concentration must be a positive number, got {concentration!r}")
    transitions = rng.dirichlet(np.full(n_digits, float(concentration)), n_digits)
    cumulative = np.cumsum(transitions, axis=1)
    digits = np.empty((n, length), dtype=np.int64)
    digits[:, 0] = rng.integers(0, n_digits, n)
    for t in range(1, length):
        u = rng.uniform(0.0, 1.0, n)
        nxt = (u[:, None] > cumulative[digits[:, t - 1]]).sum(axis=1)
        digits[:, t] = np.minimum(nxt, n_digits - 1)  # guards a rounding error of the last cumulative sum
    return digits[:, :-1], np.full(n, length - 1, dtype=np.int64), digits[:, 1:], transitions


def markov_optimal_loss(transitions, length):
    """The smallest expected next-token loss (nats per token) of a causal model on
    :func:`markov_language_task` strings.

    The best a model that reads only the past can do is to predict with the true
    transition row, so its expected loss at step t is the entropy of that row averaged over
    the distribution of the current digit, ``p_t = uniform @ P^t``. The function averages
    this over the ``length - 1`` predictions of a string.

    Args:
        transitions: (V, V) float, rows summing to 1; length: int >= 2, digits per string

    Returns:
        loss: float, ``mean over t = 0..length-2 of sum_i p_t[i] * H(P[i])``
    """
    P = np.asarray(transitions, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or not np.allclose(P.sum(axis=1), 1.0) or np.any(P < 0):
        raise ValueError(f"transitions must be a square (V, V) matrix of probability rows, got shape {P.shape}")
    length = check_positive_int("length", length, minimum=2)
    row_entropy = -np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0), axis=1)
    p = np.full(P.shape[0], 1.0 / P.shape[0])
    losses = []
    for _ in range(length - 1):
        losses.append(p @ row_entropy)
        p = p @ P
    return float(np.mean(losses))


# ---------------------------------------------------------------------------
# Chapter 6: real data, read from files on this machine (nothing is downloaded)
#
# The text corpora ship with the package in ``rnncourse/datasets/`` (gzip files; their
# source, licence and row counts are in ``rnncourse/datasets/README.md``). The time series
# come from three PyPI packages that carry their data inside them (``bokeh_sampledata``,
# ``vega_datasets``, ``statsmodels``): the optional extra ``rnncourse[data]``. They are
# imported inside the loaders, so the rest of the package does not need them.
# ---------------------------------------------------------------------------

_SENTIMENT_SOURCES = ("amazon", "imdb", "yelp")
_SENTIMENT_FILES = {"amazon": "amazon_cells_labelled.txt.gz", "imdb": "imdb_labelled.txt.gz",
                    "yelp": "yelp_labelled.txt.gz"}
DAILY_STOCK_TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")


def _read_shipped_text(filename):
    """The text of the gzip file ``rnncourse/datasets/<filename>``, decoded as UTF-8,
    with its line ends exactly as stored (no newline translation)."""
    resource = importlib.resources.files("rnncourse").joinpath("datasets", filename)
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as text:
        return text.read()


def _import_optional(module, loader):
    """Import ``module`` for ``loader``; if it is missing, say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{loader} reads its data from the optional package {module.split('.')[0]}: "
                          f"pip install rnncourse[data]") from error


def _days(values):
    """A pandas datetime column or index as a (T,) numpy datetime64[D] array."""
    return np.asarray(values.to_numpy(dtype="datetime64[ns]")).astype("datetime64[D]")


def load_shakespeare():
    """Tiny Shakespeare: 1,115,394 characters of Shakespeare's plays, as one string.

    Source: ``data/tinyshakespeare/input.txt`` of Karpathy's char-rnn (MIT licence); the plays
    are in the public domain. Shipped in ``rnncourse/datasets/tinyshakespeare.txt.gz``.

    Returns:
        text: str of 1,115,394 characters (65 different ones), lines separated by ``"\\n"``
    """
    return _read_shipped_text("tinyshakespeare.txt.gz")


def load_sentiment_sentences():
    """UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015): 3000 review sentences.

    1000 sentences each from amazon.com (phones), imdb.com (films) and yelp.com (restaurants),
    500 positive and 500 negative per site, in that order (shuffle before splitting). Licence: CC BY 4.0 (UCI ML
    Repository). Each file line is ``sentence<TAB>label``; the line is split at its last tab
    and whitespace at both ends of the sentence is removed (every imdb line ends its sentence
    with two spaces). Nothing else is changed: eight imdb sentences hold the control
    characters U+0085, U+0096 or U+0097 (Windows-1252 ellipsis and dashes decoded as Latin-1
    upstream), kept as they are.

    Returns:
        sentences: list of N = 3000 str
        labels: (N,) int64, 1 positive, 0 negative
        sources: list of N str, ``"amazon"``, ``"imdb"`` or ``"yelp"``
    """
    sentences, labels, sources = [], [], []
    for source in _SENTIMENT_SOURCES:
        filename = _SENTIMENT_FILES[source]
        lines = _read_shipped_text(filename).split("\n")
        if lines[-1] == "":
            lines.pop()  # the file ends with a newline
        for number, line in enumerate(lines, start=1):
            sentence, tab, label = line.rpartition("\t")
            if not tab or label not in ("0", "1"):
                raise ValueError(f"{filename} line {number}: expected 'sentence<TAB>0 or 1', got {line[-40:]!r}")
            sentences.append(sentence.strip())
            labels.append(int(label))
            sources.append(source)
    return sentences, np.array(labels, dtype=np.int64), sources


def load_daily_stock(ticker):
    """Daily prices and trading volume of one stock, 2000 to 1 March 2013 (Quandl WIKI prices).

    From ``bokeh_sampledata.stocks`` (public domain; optional extra ``rnncourse[data]``).
    Open, high, low, close and volume are as traded, not adjusted: a stock split shows as a
    jump (AAPL closed at $101.25, then $55.63 on 21 June 2000, its 2-for-1 split). ``adj_close`` is the source's closing
    price adjusted for splits and dividends, the series to model returns with.

    Args:
        ticker: one of ``"AAPL"``, ``"FB"``, ``"GOOG"``, ``"IBM"``, ``"MSFT"``

    Returns:
        dict with ``date``: (T,) datetime64[D] trading days in increasing order, and
        ``open``, ``high``, ``low``, ``close``, ``adj_close``, ``volume``: (T,) float64.
        T is 3270 for AAPL, IBM and MSFT (from 1 March 2000), 2148 for GOOG (from
        19 August 2004), 196 for FB (from 18 May 2012).
    """
    if ticker not in DAILY_STOCK_TICKERS:
        raise ValueError(f"ticker must be one of {', '.join(DAILY_STOCK_TICKERS)}, got {ticker!r}")
    stocks = _import_optional("bokeh_sampledata.stocks", "load_daily_stock")
    table = stocks.data
    rows = table[table["ticker"] == ticker].sort_values("date")
    series = {"date": _days(rows["date"])}
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        series[column] = rows[column].to_numpy(dtype=np.float64)
    return series


def load_monthly_stocks():
    """Monthly prices of five stocks, January 2000 to March 2010 (vega-datasets ``stocks``).

    From ``vega_datasets.local_data.stocks`` (the MIT-licensed vega_datasets package, which
    does not name the prices' original source; optional extra ``rnncourse[data]``): one price
    per month, dated the first of the month, of AAPL, AMZN, GOOG, IBM and MSFT.

    Returns:
        dict ticker -> (dates, prices): dates (T,) datetime64[D] in increasing order,
        prices (T,) float64 in dollars; T = 123 months (68 for GOOG, from August 2004)
    """
    local_data = _import_optional("vega_datasets", "load_monthly_stocks").local_data
    table = local_data.stocks()
    result = {}
    for ticker in sorted(set(table["symbol"])):
        rows = table[table["symbol"] == ticker].sort_values("date")
        result[ticker] = (_days(rows["date"]), rows["price"].to_numpy(dtype=np.float64))
    return result


def load_seattle_weather():
    """Daily weather in Seattle, 2012 to 2015 (vega-datasets ``seattle-weather``, from NOAA).

    From ``vega_datasets.local_data.seattle_weather`` (NOAA data, public domain; optional
    extra ``rnncourse[data]``).

    Returns:
        dict with ``date``: (T,) datetime64[D], T = 1461 days; ``precipitation``,
        ``temp_max``, ``temp_min`` (degrees C), ``wind``: (T,) float64 in the units of the
        source; ``weather``: (T,) str, one of drizzle, fog, rain, snow, sun
    """
    local_data = _import_optional("vega_datasets", "load_seattle_weather").local_data
    table = local_data.seattle_weather().sort_values("date")
    series = {"date": _days(table["date"])}
    for column in ("precipitation", "temp_max", "temp_min", "wind"):
        series[column] = table[column].to_numpy(dtype=np.float64)
    series["weather"] = np.array([str(value) for value in table["weather"]])
    return series


def load_co2():
    """Monthly mean CO2 at Mauna Loa, March 1958 to December 2001 (Keeling and Whorf 2004).

    From ``statsmodels.datasets.co2`` (public domain; optional extra ``rnncourse[data]``):
    weekly flask measurements, averaged over each calendar month. Five months have no
    measurement (59 of the 2284 weeks are missing); their values are interpolated linearly
    between the neighbouring months.

    Returns:
        dates: (T,) datetime64[D], the first day of each month, T = 526
        ppm: (T,) float64, CO2 in parts per million
    """
    datasets = _import_optional("statsmodels.datasets", "load_co2")
    weekly = datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate(method="linear")
    return _days(monthly.index), monthly.to_numpy(dtype=np.float64)


def load_sunspots():
    """Yearly mean sunspot number, 1700 to 2008 (statsmodels ``sunspots``, from NOAA NGDC).

    From ``statsmodels.datasets.sunspots`` (public domain; optional extra ``rnncourse[data]``).
    The solar cycle makes the series roughly periodic, about 11 years.

    Returns:
        years: (T,) int64, T = 309
        sunspots: (T,) float64, the yearly sunspot activity
    """
    datasets = _import_optional("statsmodels.datasets", "load_sunspots")
    table = datasets.sunspots.load_pandas().data
    return table["YEAR"].to_numpy(dtype=np.int64), table["SUNACTIVITY"].to_numpy(dtype=np.float64)


def load_nile():
    """Yearly flow of the Nile at Aswan, 1871 to 1970 (statsmodels ``nile``; Cobb 1978).

    From ``statsmodels.datasets.nile`` (public domain; optional extra ``rnncourse[data]``).

    Returns:
        years: (T,) int64, T = 100
        volume: (T,) float64, the yearly flow in 10^8 cubic metres
    """
    datasets = _import_optional("statsmodels.datasets", "load_nile")
    table = datasets.nile.load_pandas().data
    return table["year"].to_numpy(dtype=np.int64), table["volume"].to_numpy(dtype=np.float64)


# ---------------------------------------------------------------------------
# Chapter 6: text to integer tokens
# ---------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # letters or digits, joined by apostrophes inside a word
PAD, UNK = "<pad>", "<unk>"


def char_vocabulary(text):
    """The characters of a text, sorted, and the index of each.

    Args:
        text: non-empty str

    Returns:
        chars: list of V str, the distinct characters in sorted order
        index: dict char -> int in [0, V), ``index[chars[i]] == i``
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty str, got {text!r:.40}")
    chars = sorted(set(text))
    return chars, {char: i for i, char in enumerate(chars)}


def encode_text(text, index):
    """A text as integer tokens, one per character.

    Args:
        text: str of T characters, each a key of ``index``
        index: dict char -> int (from :func:`char_vocabulary`)

    Returns:
        tokens: (T,) int64
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    missing = set(text) - set(index)
    if missing:
        raise ValueError(f"text holds characters that index does not: {sorted(missing)[:10]!r}")
    return np.fromiter((index[char] for char in text), dtype=np.int64, count=len(text))


def decode_tokens(tokens, chars):
    """Integer tokens back to text: the inverse of :func:`encode_text`.

    Args:
        tokens: (T,) integers in [0, V)
        chars: list of V str (from :func:`char_vocabulary`)

    Returns:
        text: str of T characters
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or (tokens.size and tokens.dtype.kind not in "iu"):
        raise ValueError(f"tokens must be a 1-d integer array (T,), got shape {tokens.shape} dtype {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(chars)):
        raise ValueError(f"tokens must lie in [0, len(chars)) = [0, {len(chars)}), "
                         f"got values in [{tokens.min()}, {tokens.max()}]")
    return "".join(chars[token] for token in tokens.tolist())


def tokenize_words(sentence):
    """Split a sentence into lower-case words.

    One rule: a word is a run of letters or digits, possibly joined by apostrophes inside it
    (``"don't"`` is one word); everything else (spaces, punctuation, quotes) separates words.

    >>> tokenize_words("Don't buy it -- NOT worth $20!")
    ["don't", 'buy', 'it', 'not', 'worth', '20']

    Args:
        sentence: str

    Returns:
        words: list of str (empty if the sentence holds no letter or digit)
    """
    if not isinstance(sentence, str):
        raise ValueError(f"sentence must be a str, got {type(sentence).__name__}")
    return _WORD.findall(sentence.lower())


def _check_tokenized(tokenized):
    """Raise ``ValueError`` unless ``tokenized`` is a list of lists of str (a raw sentence, a str,
    would otherwise be read as a list of characters)."""
    if isinstance(tokenized, str) or not isinstance(tokenized, (list, tuple)):
        raise ValueError(f"tokenized must be a list of N lists of words, got {type(tokenized).__name__}")
    for n, words in enumerate(tokenized):
        if not isinstance(words, (list, tuple)) or not all(isinstance(word, str) for word in words):
            raise ValueError(f"tokenized[{n}] must be a list of str words (from tokenize_words), "
                             f"got {type(words).__name__} {words!r:.40}")


def word_vocabulary(tokenized, min_count=1):
    """Index the words seen at least ``min_count`` times; ``<pad>`` is 0 and ``<unk>`` is 1.

    The other words get 2, 3, ... in order of decreasing count, ties in alphabetical order,
    so the index does not depend on the order of the sentences.

    Args:
        tokenized: list of N lists of str (from :func:`tokenize_words`)
        min_count: int >= 1

    Returns:
        index: dict word -> int, of size V = 2 + the number of words kept
    """
    min_count = check_positive_int("min_count", min_count)
    _check_tokenized(tokenized)
    counts = collections.Counter(word for words in tokenized for word in words)
    kept = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
    index = {PAD: 0, UNK: 1}
    index.update((word, i) for i, word in enumerate(kept, start=2))
    return index


def encode_sentences(tokenized, index, max_length):
    """Tokenized sentences as a padded integer array; unknown words become ``<unk>``.

    A sentence longer than ``max_length`` keeps its first ``max_length`` words.

    Args:
        tokenized: list of N non-empty lists of str
        index: dict word -> int with ``"<pad>"`` -> 0 and ``"<unk>"`` -> 1 (from :func:`word_vocabulary`)
        max_length: int >= 1

    Returns:
        tokens: (N, T) int64 with ``T = min(max_length, longest sentence)``, padded with 0 at the end
        lengths: (N,) int64 in [1, T], the number of real words of each row
    """
    max_length = check_positive_int("max_length", max_length)
    if index.get(PAD) != 0 or index.get(UNK) != 1:
        raise ValueError("index must map '<pad>' to 0 and '<unk>' to 1 (use word_vocabulary)")
    _check_tokenized(tokenized)
    if len(tokenized) == 0:
        raise ValueError("tokenized must hold at least one sentence, got an empty list")
    empty = [i for i, words in enumerate(tokenized) if len(words) == 0]
    if empty:
        raise ValueError(f"tokenized sentences must hold at least one word; sentences {empty[:10]} are empty")
    rows = [np.array([index.get(word, 1) for word in words[:max_length]], dtype=np.int64) for words in tokenized]
    return pad_sequences(rows, 0)


# ---------------------------------------------------------------------------
# Chapter 6: forecasting windows, split in time order
# ---------------------------------------------------------------------------


def _as_series(series):
    """A (T,) or (T, D) numeric series as a finite float (T, D) array."""
    values = as_float_array("series", series)
    if values.ndim not in (1, 2) or 0 in values.shape:
        raise ValueError(f"series must have shape (T,) or (T, D) with T, D >= 1, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"series must hold finite numbers, got {int(np.sum(~np.isfinite(values)))} nan or inf")
    return values.reshape(values.shape[0], -1)


def make_windows(series, window, horizon=1):
    """Cut a series into (input window, target) pairs for many-to-one forecasting.

    Window i reads the ``window`` steps ``series[i : i + window]`` and its target is the
    value ``horizon`` steps after the last one it reads, ``series[i + window + horizon - 1]``
    (``horizon=1``: the next step).

    Args:
        series: (T,) or (T, D) numbers; a (T,) series is treated as D = 1
        window: int >= 1, steps read per example
        horizon: int >= 1, how far ahead the target lies

    Returns:
        X: (N, window, D) float inputs with ``N = T - window - horizon + 1`` (the series' float
            dtype; an integer series gives float64)
        y: (N, D) float targets
    """
    values = _as_series(series)
    window, horizon = check_positive_int("window", window), check_positive_int("horizon", horizon)
    T = values.shape[0]
    n = T - window - horizon + 1
    if n < 1:
        raise ValueError(f"series of length T={T} is too short for window={window} and horizon={horizon}: "
                         f"it needs at least window + horizon = {window + horizon} steps")
    X = np.lib.stride_tricks.sliding_window_view(values[:n + window - 1], window, axis=0)  # (N, D, window)
    return np.ascontiguousarray(X.transpose(0, 2, 1)), values[window + horizon - 1:].copy()


def time_split_boundaries(T, train_fraction, val_fraction):
    """Where a series of T steps is cut into training, validation and test parts, in time order.

    Args:
        T: int >= 3, length of the series
        train_fraction, val_fraction: floats > 0 with ``train_fraction + val_fraction < 1``

    Returns:
        train_end, val_end: ints, the parts are ``[0, train_end)``, ``[train_end, val_end)`` and
        ``[val_end, T)``, with ``train_end = round(T * train_fraction)`` and
        ``val_end = round(T * (train_fraction + val_fraction))`` (Python's ``round``: to the
        nearest integer, so that ``0.29 * 100``, which is 28.999999999999996 in floating point,
        gives 29; an exact half goes to the even integer, ``round(2.5) == 2``)
    """
    T = check_positive_int("T", T, minimum=3)
    train_fraction = check_fraction("train_fraction", train_fraction)
    val_fraction = check_fraction("val_fraction", val_fraction)
    if train_fraction + val_fraction >= 1:
        raise ValueError(f"train_fraction + val_fraction must be < 1 to leave a test part, "
                         f"got {train_fraction} + {val_fraction}")
    return round(T * train_fraction), round(T * (train_fraction + val_fraction))


def split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction):
    """Training, validation and test windows of a series, without leakage between them.

    The series is first cut in time order (:func:`time_split_boundaries`), then each part is
    windowed on its own (:func:`make_windows`). So every input and every target of a part lies
    inside that part: no training target lies in the validation or test span, and a
    validation or test window never reads a step of an earlier part. The price: the first
    ``window + horizon - 1`` steps of each part are never a target.

    Args:
        series: (T,) or (T, D) numbers in time order
        window, horizon: ints >= 1, as in :func:`make_windows`
        train_fraction, val_fraction: floats > 0 with a sum < 1; the test part is the rest

    Returns:
        dict with ``X_train`` (N_train, window, D), ``y_train`` (N_train, D), ``X_val``,
        ``y_val``, ``X_test``, ``y_test`` likewise, floats as in :func:`make_windows`; ``N_part = part length - window
        - horizon + 1 >= 1``
    """
    values = _as_series(series)
    window, horizon = check_positive_int("window", window), check_positive_int("horizon", horizon)
    train_end, val_end = time_split_boundaries(values.shape[0], train_fraction, val_fraction)
    parts = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, values.shape[0])}
    result = {}
    for name, (start, stop) in parts.items():
        if stop - start < window + horizon:
            raise ValueError(
                f"the {name} part (steps {start} to {stop - 1} of T={values.shape[0]}, {stop - start} steps) is too "
                f"short for window={window} and horizon={horizon}: each part needs at least window + horizon = "
                f"{window + horizon} steps; use a longer series, a smaller window or a larger {name} part")
        result[f"X_{name}"], result[f"y_{name}"] = make_windows(values[start:stop], window, horizon)
    return result
