"""Tests of rnncourse.sentiment: gradients, the bag-of-words model, word-order shuffling, splits,
batches, early stopping, the learning curve and errors on bad input."""
from collections import Counter
from functools import partial

import numpy as np
import pytest

from rnncourse import models
from rnncourse import sentiment as S
from rnncourse.gradcheck import check_model_gradients


def _sentences(rng, N=6, T=5, V=7):
    """Random padded sentences: tokens (N, T) in [2, V) at real steps, 0 after; lengths (N,) in [1, T]."""
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T
    tokens = rng.integers(2, V, size=(N, T))
    tokens[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return tokens, lengths


# ---- the bag-of-words model ----

def test_bag_of_words_counts_by_hand():
    tokens = np.array([[2, 3, 2, 0], [4, 0, 0, 0]])
    counts = S.bag_of_words(tokens, np.array([3, 1]), 5)
    np.testing.assert_array_equal(counts, [[0, 0, 2, 1, 0], [0, 0, 0, 0, 1]])


def test_bag_of_words_scores_equal_counts_times_weights():
    rng = np.random.default_rng(0)
    tokens, lengths = _sentences(rng)
    params = {"W": rng.standard_normal(7), "b": np.array([0.3])}
    expected = S.bag_of_words(tokens, lengths, 7) @ params["W"] + 0.3
    np.testing.assert_allclose(S.bag_of_words_scores(params, tokens, lengths), expected)


def test_bag_of_words_scores_ignore_order_and_padding():
    rng = np.random.default_rng(1)
    tokens, lengths = _sentences(rng)
    params = {"W": rng.standard_normal(7), "b": np.zeros(1)}
    shuffled = S.shuffle_within_lengths(tokens, lengths, rng)
    garbage = shuffled.copy()
    garbage[np.arange(tokens.shape[1])[None, :] >= lengths[:, None]] = 6  # other tokens in the padding
    z = S.bag_of_words_scores(params, tokens, lengths)
    np.testing.assert_allclose(S.bag_of_words_scores(params, garbage, lengths), z)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_logistic_gradients(l2):
    rng = np.random.default_rng(2)
    tokens, lengths = _sentences(rng)
    labels = rng.integers(0, 2, size=6)
    params = {"W": rng.standard_normal(7), "b": rng.standard_normal(1)}
    check_model_gradients(partial(S.logistic_loss_and_grads, l2=l2), params, (tokens, lengths, labels))


def test_logistic_loss_by_hand_and_for_large_scores():
    params = {"W": np.array([0.0, 0.0, 2.0, -1.0]), "b": np.array([0.5])}
    tokens, lengths = np.array([[2, 3], [3, 0]]), np.array([2, 1])
    loss, _ = S.logistic_loss_and_grads(params, (tokens, lengths, np.array([1, 0])), l2=0.1)
    z = np.array([1.5, -0.5])
    expected = np.mean([np.log1p(np.exp(-z[0])), np.log1p(np.exp(z[1]))]) + 0.05 * 5.0
    assert loss == pytest.approx(expected, rel=1e-12)
    big = {"W": np.array([0.0, 0.0, 800.0]), "b": np.zeros(1)}
    loss, grads = S.logistic_loss_and_grads(big, (np.array([[2]]), np.array([1]), np.array([0])))
    assert loss == pytest.approx(800.0) and np.all(np.isfinite(grads["W"]))


def test_fit_logistic_regression_learns_word_polarity():
    # word 2 is "good", word 3 "bad", words 4 and 5 neutral
    rng = np.random.default_rng(3)
    polar = rng.integers(2, 4, size=40)
    tokens = np.stack([polar, rng.integers(4, 6, size=40), rng.integers(4, 6, size=40)], axis=1)
    tokens = S.shuffle_within_lengths(tokens, np.full(40, 3), rng)
    labels = (polar == 2).astype(int)
    params = S.fit_logistic_regression(tokens, np.full(40, 3), labels, 6, steps=200, lr=0.1)
    predicted = S.logistic_probabilities(params, tokens, np.full(40, 3)) > 0.5
    assert np.array_equal(predicted, labels == 1)
    assert params["W"][2] > 1 and params["W"][3] < -1


# ---- weight decay on the recurrent classifiers ----

@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_weight_decay_gradients(cell):
    rng = np.random.default_rng(4)
    tokens, lengths = _sentences(rng, N=4, T=4, V=6)
    params = models.init_sequence_model(6, 3, 3, 2, rng, cell=cell)
    for name in params:  # non-zero biases, so that leaving them out of the penalty is tested
        params[name] = params[name] + 0.1 * rng.standard_normal(params[name].shape)
    loss = S.with_weight_decay(models.classifier_loss_and_grads, 0.2)
    check_model_gradients(loss, params, (tokens, lengths, rng.integers(0, 2, size=4)))


def test_weight_decay_penalises_weights_only():
    rng = np.random.default_rng(5)
    tokens, lengths = _sentences(rng, N=3, T=4, V=6)
    batch = (tokens, lengths, np.array([0, 1, 1]))
    params = models.init_sequence_model(6, 3, 3, 2, rng, cell="gru")
    params = {k: v + 0.5 for k, v in params.items()}
    plain, _ = models.classifier_loss_and_grads(params, batch)
    penalised, _ = S.with_weight_decay(models.classifier_loss_and_grads, 0.1)(params, batch)
    weights = [k for k in params if S.is_weight(k)]
    assert set(params) - set(weights) == {"rnn0.bx", "rnn0.bh", "b_out"}
    assert penalised - plain == pytest.approx(0.05 * sum(np.sum(params[k] ** 2) for k in weights))


# ---- word order ----

def test_shuffle_keeps_each_sentence_multiset_length_and_padding():
    rng = np.random.default_rng(6)
    tokens, lengths = _sentences(rng, N=50, T=8, V=30)
    before = tokens.copy()
    shuffled = S.shuffle_within_lengths(tokens, lengths, np.random.default_rng(7))
    np.testing.assert_array_equal(tokens, before)  # input not modified
    assert shuffled.shape == tokens.shape and shuffled is not tokens
    for row, new, length in zip(tokens, shuffled, lengths):
        assert Counter(new[:length].tolist()) == Counter(row[:length].tolist())
        np.testing.assert_array_equal(new[length:], row[length:])
    assert (shuffled != tokens).any(axis=1).sum() > 25  # most rows of several words moved
    again = S.shuffle_within_lengths(tokens, lengths, np.random.default_rng(7))
    np.testing.assert_array_equal(again, shuffled)


def test_shuffle_leaves_a_bag_of_words_model_unchanged():
    rng = np.random.default_rng(8)
    tokens, lengths = _sentences(rng, N=20, T=6, V=9)
    shuffled = S.shuffle_within_lengths(tokens, lengths, rng)
    np.testing.assert_array_equal(S.bag_of_words(shuffled, lengths, 9), S.bag_of_words(tokens, lengths, 9))


# ---- splits, batches, early stopping, learning curve ----

def test_stratified_split_is_a_partition_with_the_class_shares():
    labels = np.array([0] * 60 + [1] * 40)
    parts = S.stratified_split(labels, (0.7, 0.15), np.random.default_rng(9))
    assert [p.size for p in parts] == [70, 15, 15]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(100))
    assert [int(labels[p].sum()) for p in parts] == [28, 6, 6]


def test_length_batches_hold_every_sentence_once_cut_to_their_longest():
    rng = np.random.default_rng(10)
    tokens, lengths = _sentences(rng, N=23, T=9, V=12)
    labels = np.arange(23)  # the labels identify the rows
    batches = S.length_batches(tokens, lengths, labels, 5, rng)
    assert sorted(np.concatenate([b[2] for b in batches]).tolist()) == list(range(23))
    for t, l, y in batches:
        assert t.shape == (y.size, l.max())
        np.testing.assert_array_equal(t, tokens[y, :l.max()])
        np.testing.assert_array_equal(l, lengths[y])


def test_train_early_stopping_keeps_the_best_epoch_and_stops_with_patience():
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.1])
    seen = []

    def loss_and_grads(params, batch):
        return float(params["w"][0]), {"w": np.ones(1)}

    def validate(params):
        seen.append(params["w"].copy())
        return next(scores)

    best, history = S.train_early_stopping(loss_and_grads, {"w": np.zeros(1)}, lambda epoch: [None],
                                           epochs=6, lr=0.1, validate=validate, patience=2)
    assert history["epochs_run"] == 4 and history["best_epoch"] == 2
    np.testing.assert_array_equal(best["w"], seen[1])
    assert history["val"] == [0.5, 0.7, 0.6, 0.65]


def test_stratified_split_cuts_where_the_fractions_say_despite_rounding():
    # 0.7 + 0.1 = 0.7999999999999999 in floating point: 10 examples must still give 7, 1 and 2
    parts = S.stratified_split(np.zeros(10, dtype=int), (0.7, 0.1), np.random.default_rng(5))
    assert [part.size for part in parts] == [7, 1, 2]


def test_stratified_subset_draws_exactly_size_examples():
    # 1050 of each class and size 125: each class's share is 62.5, rounded down to 62; the one
    # example left over goes to the first class (equal remainders), so 63 + 62 = 125 are drawn.
    labels = np.array([0] * 1050 + [1] * 1050)
    chosen = S.stratified_subset(labels, 125, np.random.default_rng(3))
    assert chosen.size == 125 and np.unique(chosen).size == 125
    assert np.bincount(labels[chosen]).tolist() == [63, 62]
    # 7, 2 and 1 examples of three classes, size 5: shares 3.5, 1.0, 0.5 -> 3, 1, 0 and the
    # leftover to the largest remainder (class 0 and class 2 tie at 0.5: the first, class 0)
    labels = np.array([0] * 7 + [1] * 2 + [2])
    assert np.bincount(labels[S.stratified_subset(labels, 5, np.random.default_rng(4))], minlength=3).tolist() \
        == [4, 1, 0]


def test_learning_curve_uses_nested_stratified_subsets():
    labels = np.array([0, 1] * 50)
    used = []

    def fit_and_score(indices):
        used.append(indices)
        return {"n": indices.size, "positive": labels[indices].mean()}

    curve = S.learning_curve(fit_and_score, labels, [10, 40, 100], np.random.default_rng(11))
    np.testing.assert_array_equal(curve["size"], [10, 40, 100])
    np.testing.assert_array_equal(curve["n"], [10, 40, 100])
    np.testing.assert_allclose(curve["positive"], 0.5)
    assert set(used[0]) <= set(used[1]) <= set(used[2])


# ---- errors ----

@pytest.mark.parametrize("tokens, lengths, match", [
    (np.zeros((2, 3)), np.array([1, 2]), "tokens"),
    (np.zeros((2, 3), dtype=int), np.array([0, 2]), "lengths"),
    (np.zeros((2, 3), dtype=int), np.array([1, 4]), "lengths"),
    (np.zeros((2, 3), dtype=int), np.array([1, 2, 3]), "lengths"),
    (np.zeros(3, dtype=int), np.array([1]), "tokens"),
])
def test_shuffle_rejects_bad_tokens_or_lengths(tokens, lengths, match):
    with pytest.raises(ValueError, match=match):
        S.shuffle_within_lengths(tokens, lengths, np.random.default_rng(0))


def test_errors_name_the_argument():
    rng = np.random.default_rng(0)
    tokens, lengths = np.array([[2, 3]]), np.array([2])
    with pytest.raises(ValueError, match="rng"):
        S.shuffle_within_lengths(tokens, lengths, 0)
    with pytest.raises(ValueError, match="vocab_size"):
        S.bag_of_words(tokens, lengths, 3)
    with pytest.raises(ValueError, match="labels"):
        S.logistic_loss_and_grads(S.init_logistic_regression(4), (tokens, lengths, np.array([2])))
    with pytest.raises(ValueError, match="l2"):
        S.logistic_loss_and_grads(S.init_logistic_regression(4), (tokens, lengths, np.array([1])), l2=-1)
    with pytest.raises(ValueError, match="weight_decay"):
        S.with_weight_decay(models.classifier_loss_and_grads, -0.1)
    with pytest.raises(ValueError, match="fractions"):
        S.stratified_split(np.array([0, 1, 0, 1]), (0.6, 0.5), rng)
    with pytest.raises(ValueError, match="size"):
        S.stratified_subset(np.array([0, 1, 0, 1]), 5, rng)
    with pytest.raises(ValueError, match="sizes"):
        S.learning_curve(lambda idx: {}, np.array([0, 1, 0, 1]), [3, 2], rng)
    with pytest.raises(ValueError, match=r"sizes\[0\] must be an integer >= 1, got 2.5"):
        S.learning_curve(lambda idx: {}, np.array([0, 1, 0, 1]), [2.5, 4], rng)
    with pytest.raises(ValueError, match="patience"):
        S.train_early_stopping(lambda p, b: (0.0, p), {"w": np.zeros(1)}, lambda e: [None], 2, 0.1,
                               lambda p: 0.0, patience=0)
