"""Unit tests of rnncourse.data: the synthetic tasks, the text-to-token helpers and the forecasting windows."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnncourse import data


def test_adding_problem_structure():
    x, y = data.adding_problem(500, 12, np.random.default_rng(0))
    assert x.shape == (500, 12, 2) and y.shape == (500,) and x.dtype == y.dtype == np.float64
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :6].sum(axis=1) == 1) and np.all(markers[:, 6:].sum(axis=1) == 1)
    np.testing.assert_allclose(y, (x[:, :, 0] * markers).sum(axis=1), rtol=1e-15)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] < 1))


def test_adding_problem_baseline_and_determinism():
    x, y = data.adding_problem(200_000, 4, np.random.default_rng(1))
    assert np.var(y) == pytest.approx(1 / 6, rel=0.02)
    a = data.adding_problem(3, 5, np.random.default_rng(2))
    b = data.adding_problem(3, 5, np.random.default_rng(2))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_copy_task():
    x, y = data.copy_task(4, length=3, delay=2, n_symbols=5, rng=np.random.default_rng(0))
    T = 2 * 3 + 2 + 1
    assert x.shape == (4, T, 7) and y.shape == (4, T)
    np.testing.assert_array_equal(x.sum(axis=2), 1)
    tokens = x.argmax(axis=2)
    np.testing.assert_array_equal(y[:, -3:], tokens[:, :3])
    assert np.all(y[:, :-3] == 5) and np.all(tokens[:, 5] == 6)


@pytest.mark.parametrize("call, match", [
    (lambda: data.adding_problem(0, 5, np.random.default_rng()), "n must be"),
    (lambda: data.adding_problem(3, 1, np.random.default_rng()), "T must be"),
    (lambda: data.adding_problem(3, 5, 42), "rng must be"),
    (lambda: data.copy_task(2, 0, 1, 3, np.random.default_rng()), "length must be"),
    (lambda: data.copy_task(2, 1, -1, 3, np.random.default_rng()), "delay must be"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- chapter 5 toy tasks: each target checked against a plain loop over the digits ----

def _rows(tokens, lengths):
    return [list(tokens[n, :lengths[n]]) for n in range(len(lengths))]


def test_pad_sequences_and_bag_of_tokens():
    tokens, lengths = data.pad_sequences([np.array([3, 1]), np.array([2]), np.array([1, 1, 0])], pad_token=9)
    np.testing.assert_array_equal(tokens, [[3, 1, 9], [2, 9, 9], [1, 1, 0]])
    np.testing.assert_array_equal(lengths, [2, 1, 3])
    counts = data.bag_of_tokens(tokens, lengths, 4)  # padding (9) is not counted
    np.testing.assert_array_equal(counts, [[0, 1, 0, 1], [0, 0, 1, 0], [1, 2, 0, 0]])


def test_modular_sum_task():
    x, y = data.modular_sum_task(300, 7, np.random.default_rng(0))
    assert x.shape == (300, 14) and y.shape == (300,)
    a, b = x[:, :7].argmax(axis=1), x[:, 7:].argmax(axis=1)
    np.testing.assert_array_equal(x.sum(axis=1), 2)
    assert all(y[n] == (a[n] + b[n]) % 7 for n in range(300))


def test_countdown_task():
    x, tgt_in, tgt_out, lengths = data.countdown_task(50, 6, np.random.default_rng(1))
    assert x.shape == (50, 6) and tgt_in.shape == tgt_out.shape == (50, 7)
    for n in range(50):
        d = int(x[n].argmax())
        expected = list(range(d, -1, -1)) + [6]  # 6 = EOS
        assert lengths[n] == d + 2 and list(tgt_out[n, :lengths[n]]) == expected
        assert list(tgt_in[n, :lengths[n]]) == [7] + expected[:-1]  # 7 = START
        assert np.all(tgt_out[n, lengths[n]:] == 6) and np.all(tgt_in[n, lengths[n]:] == 6)


def test_sorted_sequence_task():
    tokens, lengths, labels = data.sorted_sequence_task(400, 2, 8, 5, np.random.default_rng(2))
    assert tokens.shape == (400, lengths.max()) and lengths.min() >= 2 and lengths.max() <= 8
    assert 0.4 < labels.mean() < 0.6
    for row, label in zip(_rows(tokens, lengths), labels):
        assert all(0 <= v < 5 for v in row) and len(set(row)) >= 2
        assert int(row == sorted(row)) == label
    assert np.all(tokens[np.arange(tokens.shape[1]) >= lengths[:, None]] == 5)
    # a sorted row and a shuffled row have the same digit counts: the bag of tokens cannot tell them apart
    counts = data.bag_of_tokens(tokens, lengths, 5)
    np.testing.assert_array_equal(counts.sum(axis=1), lengths)


def test_local_maximum_task_against_a_loop():
    tokens, lengths, tags = data.local_maximum_task(300, 1, 9, 6, np.random.default_rng(3))
    for n, row in enumerate(_rows(tokens, lengths)):
        for t, v in enumerate(row):
            left = row[t - 1] if t > 0 else -1
            right = row[t + 1] if t + 1 < len(row) else -1
            assert tags[n, t] == int(v > left and v > right)
        assert np.all(tags[n, len(row):] == 0) and np.all(tokens[n, len(row):] == 6)


@pytest.mark.parametrize("kind", ["reverse", "sort"])
def test_seq2seq_task(kind):
    src, src_lengths, tgt_in, tgt_out, tgt_lengths = data.seq2seq_task(200, 1, 7, 8, np.random.default_rng(4), kind)
    np.testing.assert_array_equal(tgt_lengths, src_lengths + 1)
    assert tgt_out.shape == tgt_in.shape == (200, src.shape[1] + 1)
    for n, row in enumerate(_rows(src, src_lengths)):
        expected = (row[::-1] if kind == "reverse" else sorted(row)) + [8]
        assert list(tgt_out[n, :tgt_lengths[n]]) == expected
        assert list(tgt_in[n, :tgt_lengths[n]]) == [9] + expected[:-1]


def test_markov_language_task_follows_its_chain():
    inputs, lengths, targets, P = data.markov_language_task(3000, 6, 4, np.random.default_rng(5), concentration=0.5)
    assert inputs.shape == targets.shape == (3000, 5) and np.all(lengths == 5)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    counts = np.zeros((4, 4))
    np.add.at(counts, (inputs.ravel(), targets.ravel()), 1)
    empirical = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(empirical, P, atol=0.03)


def test_markov_optimal_loss_against_sampling():
    rng = np.random.default_rng(6)
    inputs, _, targets, P = data.markov_language_task(20000, 5, 3, rng)
    sampled = -np.log(P[inputs, targets]).mean()  # the loss of a model that predicts with the true rows
    assert data.markov_optimal_loss(P, 5) == pytest.approx(sampled, rel=0.02)
    assert data.markov_optimal_loss(np.full((3, 3), 1 / 3), 4) == pytest.approx(np.log(3))


@pytest.mark.parametrize("call, match", [
    (lambda: data.sorted_sequence_task(5, 1, 4, 3, np.random.default_rng()), "min_length must be"),
    (lambda: data.local_maximum_task(5, 4, 2, 3, np.random.default_rng()), "max_length must be >= min_length"),
    (lambda: data.seq2seq_task(5, 1, 4, 3, np.random.default_rng(), kind="copy"), "kind must be"),
    (lambda: data.modular_sum_task(5, 1, np.random.default_rng()), "n_digits must be"),
    (lambda: data.markov_language_task(5, 4, 3, np.random.default_rng(), concentration=0), "concentration must be"),
    (lambda: data.pad_sequences([], 0), "sequences must hold"),
    (lambda: data.bag_of_tokens(np.zeros((2, 3), dtype=int), np.array([1, 4]), 3), "lengths must lie"),
])
def test_chapter5_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- chapter 6: text to tokens


def test_char_vocabulary_encode_decode_round_trip():
    chars, index = data.char_vocabulary("hello, world")
    assert chars == [" ", ",", "d", "e", "h", "l", "o", "r", "w"]
    assert all(index[c] == i for i, c in enumerate(chars))
    tokens = data.encode_text("hello", index)
    assert tokens.dtype == np.int64
    np.testing.assert_array_equal(tokens, [4, 3, 5, 5, 6])
    assert data.decode_tokens(tokens, chars) == "hello"
    assert data.decode_tokens(np.array([], dtype=np.int64), chars) == ""


def test_tokenize_words_rule():
    assert data.tokenize_words("Don't buy it -- NOT worth $20!") == ["don't", "buy", "it", "not", "worth", "20"]
    assert data.tokenize_words("'Quoted' words, rock'n'roll... 10/10") == ["quoted", "words", "rock'n'roll", "10", "10"]
    assert data.tokenize_words("Crêpe au café") == ["crêpe", "au", "café"]
    assert data.tokenize_words(" -- !") == []


def test_word_vocabulary_order_and_min_count():
    tokenized = [["b", "a", "c"], ["a", "b", "d"], ["a"]]
    assert data.word_vocabulary(tokenized) == {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3, "c": 4, "d": 5}
    assert data.word_vocabulary(tokenized, min_count=2) == {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3}
    assert data.word_vocabulary(tokenized[::-1], min_count=2) == data.word_vocabulary(tokenized, min_count=2)


def test_encode_sentences_pads_truncates_and_marks_unknown_words():
    index = {"<pad>": 0, "<unk>": 1, "good": 2, "film": 3}
    tokens, lengths = data.encode_sentences([["good", "film"], ["bad", "film", "good", "good"], ["good"]], index, 3)
    np.testing.assert_array_equal(tokens, [[2, 3, 0], [1, 3, 2], [2, 0, 0]])
    np.testing.assert_array_equal(lengths, [2, 3, 1])
    assert tokens.dtype == lengths.dtype == np.int64
    tokens, lengths = data.encode_sentences([["good"], ["film"]], index, 10)
    assert tokens.shape == (2, 1)  # T is the longest sentence when that is shorter than max_length


@pytest.mark.parametrize("call, match", [
    (lambda: data.char_vocabulary(""), "text must be a non-empty str"),
    (lambda: data.encode_text("abz", {"a": 0, "b": 1}), r"text holds characters that index does not: \['z'\]"),
    (lambda: data.decode_tokens(np.array([0, 3]), ["a", "b"]), r"tokens must lie in \[0, len\(chars\)\) = \[0, 2\)"),
    (lambda: data.decode_tokens(np.zeros((2, 2), dtype=int), ["a"]), r"tokens must be a 1-d integer array \(T,\), got shape \(2, 2\)"),
    (lambda: data.tokenize_words(["a"]), "sentence must be a str, got list"),
    (lambda: data.word_vocabulary([["a"]], min_count=0), "min_count must be an integer >= 1, got 0"),
    (lambda: data.encode_sentences([["a"], []], {"<pad>": 0, "<unk>": 1}, 3), r"sentences \[1\] are empty"),
    (lambda: data.encode_sentences([["a"]], {"a": 0}, 3), "index must map '<pad>' to 0"),
    # raw sentences instead of word lists would be read character by character
    (lambda: data.word_vocabulary(["good film", "bad film"]), r"tokenized\[0\] must be a list of str words"),
    (lambda: data.word_vocabulary("good film"), "tokenized must be a list of N lists of words, got str"),
    (lambda: data.encode_sentences(["good film"], {"<pad>": 0, "<unk>": 1}, 3), r"tokenized\[0\] must be a list"),
    (lambda: data.encode_text(["a", "b"], {"a": 0, "b": 1}), "text must be a str, got list"),
    (lambda: data.encode_sentences([["a"]], {"<pad>": 0, "<unk>": 1}, 0), "max_length must be an integer >= 1"),
])
def test_text_helpers_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- chapter 6: forecasting windows in time order


def test_make_windows_by_hand():
    X, y = data.make_windows([10, 11, 12, 13, 14, 15], window=3, horizon=2)
    assert X.shape == (2, 3, 1) and y.shape == (2, 1) and X.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(X[:, :, 0], [[10, 11, 12], [11, 12, 13]])
    np.testing.assert_array_equal(y[:, 0], [14, 15])  # series[i + window + horizon - 1]
    series = np.arange(12.0).reshape(6, 2)  # (T, D) = (6, 2)
    X, y = data.make_windows(series, window=2)
    assert X.shape == (4, 2, 2) and y.shape == (4, 2)
    np.testing.assert_array_equal(X[1], series[1:3])
    np.testing.assert_array_equal(y[1], series[3])
    X[0, 0, 0] = -1.0
    assert series[0, 0] == 0.0  # the windows are a copy, not a view of the series


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 60), st.integers(1, 6), st.integers(1, 4), st.integers(1, 3))
def test_make_windows_every_target_follows_its_window(T, window, horizon, D):
    if T < window + horizon:
        with pytest.raises(ValueError, match="too short"):
            data.make_windows(np.zeros((T, D)), window, horizon)
        return
    times = np.repeat(np.arange(T, dtype=float)[:, None], D, axis=1)  # each value is its time index
    X, y = data.make_windows(times, window, horizon)
    assert X.shape == (T - window - horizon + 1, window, D) and y.shape == (T - window - horizon + 1, D)
    np.testing.assert_array_equal(X[:, :, 0], np.arange(X.shape[0])[:, None] + np.arange(window)[None, :])
    np.testing.assert_array_equal(y[:, 0] - X[:, -1, 0], horizon)


def test_time_split_boundaries():
    assert data.time_split_boundaries(100, 0.6, 0.2) == (60, 80)
    assert data.time_split_boundaries(100, 0.29, 0.5) == (29, 79)  # 0.29 * 100 = 28.999999999999996
    assert data.time_split_boundaries(10, 0.7, 0.1) == (7, 8)  # 0.7 + 0.1 = 0.7999999999999999
    assert data.time_split_boundaries(10, 0.25, 0.5) == (2, 8)  # exact halves 2.5 and 7.5 go to the even integer


@settings(max_examples=60, deadline=None)
@given(st.integers(20, 300), st.integers(1, 8), st.integers(1, 4),
       st.floats(0.3, 0.8), st.floats(0.05, 0.3))
def test_split_in_time_order_has_no_leakage(T, window, horizon, train_fraction, val_fraction):
    assume(train_fraction + val_fraction < 0.95)
    train_end, val_end = data.time_split_boundaries(T, train_fraction, val_fraction)
    assume(min(train_end, val_end - train_end, T - val_end) >= window + horizon)
    parts = data.split_windows_in_time_order(np.arange(T, dtype=float), window, horizon,
                                             train_fraction, val_fraction)  # values are time indices
    assert parts["y_train"].max() < train_end  # no training target reaches the validation or test span
    assert train_end <= parts["X_val"].min() and parts["y_val"].max() < val_end
    assert val_end <= parts["X_test"].min() and parts["y_test"].max() == T - 1
    for name, (start, stop) in {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, T)}.items():
        n = stop - start - window - horizon + 1
        assert parts[f"X_{name}"].shape == (n, window, 1) and parts[f"y_{name}"].shape == (n, 1)
        np.testing.assert_array_equal(parts[f"y_{name}"][:, 0], np.arange(start + window + horizon - 1, stop))


def test_split_of_a_multivariate_series():
    series = np.stack([np.arange(50.0), -np.arange(50.0)], axis=1)  # (T, D) = (50, 2)
    parts = data.split_windows_in_time_order(series, 4, 1, 0.6, 0.2)
    assert parts["X_train"].shape == (26, 4, 2) and parts["y_val"].shape == (6, 2) and parts["X_test"].shape == (6, 4, 2)
    np.testing.assert_array_equal(parts["y_test"][:, 1], -parts["y_test"][:, 0])


@pytest.mark.parametrize("call, match", [
    (lambda: data.make_windows(np.arange(4.0), 3, 2), r"series of length T=4 is too short for window=3 and horizon=2: "
                                                      r"it needs at least window \+ horizon = 5 steps"),
    (lambda: data.make_windows(np.zeros((5, 2, 2)), 2), r"series must have shape \(T,\) or \(T, D\) with T, D >= 1, got \(5, 2, 2\)"),
    (lambda: data.make_windows(np.array([]), 1), r"series must have shape \(T,\) or \(T, D\) with T, D >= 1, got \(0,\)"),
    (lambda: data.make_windows([1.0, np.nan, 2.0], 1), "series must hold finite numbers, got 1 nan or inf"),
    (lambda: data.make_windows(["a", "b"], 1), "series must be a numeric array, got dtype <U1"),
    (lambda: data.make_windows(np.arange(5.0), 0), "window must be an integer >= 1, got 0"),
    (lambda: data.make_windows(np.arange(5.0), 2, horizon=0), "horizon must be an integer >= 1, got 0"),
    (lambda: data.split_windows_in_time_order(np.arange(100.0), 10, 1, 0.8, 0.1),
     r"the val part \(steps 80 to 89 of T=100, 10 steps\) is too short for window=10 and horizon=1: "
     r"each part needs at least window \+ horizon = 11 steps"),
    (lambda: data.split_windows_in_time_order(np.arange(100.0), 10, 3, 0.7, 0.2), r"the test part \(steps 90 to 99"),
    (lambda: data.split_windows_in_time_order(np.arange(100.0), 5, 1, 0.05, 0.5), r"the train part \(steps 0 to 4"),
    (lambda: data.split_windows_in_time_order(np.arange(100.0), 5, 1, 0.7, 0.3), "train_fraction \\+ val_fraction must be < 1"),
    (lambda: data.split_windows_in_time_order(np.arange(100.0), 5, 1, 1.2, 0.1), r"train_fraction must be a number in \(0, 1\), got 1.2"),
    (lambda: data.split_windows_in_time_order(np.arange(100.0), 5, 1, 0.6, 0), r"val_fraction must be a number in \(0, 1\), got 0"),
    (lambda: data.split_windows_in_time_order(np.arange(2.0), 1, 1, 0.6, 0.2), "T must be an integer >= 3, got 2"),
])
def test_window_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
