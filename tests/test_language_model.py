"""Tests of rnncourse.language_model: truncated-BPTT gradients, state carrying, n-grams, sampling, errors."""
import numpy as np
import pytest

from rnncourse import language_model as lm
from rnncourse.gradcheck import numerical_gradient

V = 7


def _stream(length, seed=0):
    return np.random.default_rng(seed).integers(0, V, length)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_truncated_bptt_gradients_from_a_carried_state(cell):
    """Every gradient of one chunk's loss, started from a non-zero state, equals the numeric one.

    The state is held fixed while the parameters move: that is the truncation (no path into the
    previous chunk)."""
    rng = np.random.default_rng(1)
    params = lm.init_language_model(V, 3, 4, rng, cell)
    tokens = _stream(2 * 5 + 1)
    inputs, targets = tokens[:10].reshape(2, 5), tokens[1:11].reshape(2, 5)
    state = tuple(rng.standard_normal((2, 4)) * 0.5 for _ in lm.zero_state(params, 2))
    _, grads, _ = lm.loss_and_grads(params, inputs, targets, state)
    assert set(grads) == set(params)
    for name in params:
        def loss_at(value, name=name):
            return lm.loss_and_grads({**params, name: value}, inputs, targets, state)[0]
        np.testing.assert_allclose(grads[name], numerical_gradient(loss_at, params[name]),
                                   rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_state_carried_over_two_chunks_equals_one_chunk(cell):
    """A stream read in two chunks, the state carried, gives the loss of one chunk (forward)."""
    params = lm.init_language_model(V, 3, 5, np.random.default_rng(2), cell)
    tokens = _stream(3 * 10, seed=3).reshape(3, 10)  # 3 streams of 10 characters
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    whole, _, _ = lm.loss_and_grads(params, inputs, targets, lm.zero_state(params, 3))
    first, _, state = lm.loss_and_grads(params, inputs[:, :4], targets[:, :4], lm.zero_state(params, 3))
    second, _, _ = lm.loss_and_grads(params, inputs[:, 4:], targets[:, 4:], state)
    assert (4 * first + 5 * second) / 9 == pytest.approx(whole, rel=1e-12)
    # and a reset state does change it: the carried state matters
    reset, _, _ = lm.loss_and_grads(params, inputs[:, 4:], targets[:, 4:], lm.zero_state(params, 3))
    assert abs(reset - second) > 1e-6


def test_evaluate_loss_carried_equals_chunked_and_reset_every_one_reads_one_character():
    params = lm.init_language_model(V, 3, 5, np.random.default_rng(4), "gru")
    tokens = _stream(41, seed=5)
    scores, _ = lm.chunk_scores(params, tokens[None, :-1], lm.zero_state(params, 1))
    log_probs = scores - np.log(np.exp(scores).sum(axis=2, keepdims=True))
    by_hand = -np.take_along_axis(log_probs[0], tokens[1:, None], axis=1).mean()
    assert lm.evaluate_loss(params, tokens) == pytest.approx(by_hand, rel=1e-12)
    # k = 1: every prediction from the zero state and one character, whatever came before
    scores_one, _ = lm.chunk_scores(params, tokens[:-1, None], lm.zero_state(params, 40))
    log_one = scores_one[:, 0] - np.log(np.exp(scores_one[:, 0]).sum(axis=1, keepdims=True))
    assert lm.evaluate_loss(params, tokens, reset_every=1) == pytest.approx(
        -log_one[np.arange(40), tokens[1:]].mean(), rel=1e-12)
    # a k that does not divide the text: the remainder is read as a shorter window
    assert lm.evaluate_loss(params, tokens, reset_every=40) == pytest.approx(by_hand, rel=1e-12)
    assert lm.evaluate_loss(params, tokens, reset_every=7) != pytest.approx(by_hand, rel=1e-9)


def test_training_lowers_the_loss_of_a_repeated_text():
    params = lm.init_language_model(V, 4, 16, np.random.default_rng(6), "gru")
    tokens = np.tile(np.arange(V), 60)  # 0 1 2 ... 6 0 1 ...: predictable from one character
    before = lm.evaluate_loss(params, tokens)
    trained, history = lm.train_language_model(params, tokens, 4, 8, 3, 0.05, print_every=5, verbose=False)
    assert lm.evaluate_loss(trained, tokens) < 0.1 < before
    assert history["chunks"][-1] == 3 * len(lm.chunk_starts(tokens.size // 4, 8))
    assert params["W_out"] is not trained["W_out"]


def test_after_epoch_sees_the_parameters_of_every_epoch():
    params = lm.init_language_model(V, 4, 16, np.random.default_rng(6), "lstm")
    tokens = np.tile(np.arange(V), 60)
    seen = []

    def measure(epoch, trained_so_far):
        seen.append((epoch, trained_so_far))
        return lm.evaluate_loss(trained_so_far, tokens)

    trained, history = lm.train_language_model(params, tokens, 4, 8, 3, 0.05, verbose=False, after_epoch=measure)
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert len(history["after_epoch"]) == 3 and history["after_epoch"][-1] == lm.evaluate_loss(trained, tokens)
    assert history["after_epoch"][0] > history["after_epoch"][-1]
    # the parameters after epoch 1 equal a one-epoch run, and later steps leave them untouched
    one, _ = lm.train_language_model(params, tokens, 4, 8, 1, 0.05, verbose=False)
    np.testing.assert_array_equal(seen[0][1]["W_out"], one["W_out"])
    with pytest.raises(ValueError, match="after_epoch"):
        lm.train_language_model(params, tokens, 4, 8, 1, 0.05, verbose=False, after_epoch=3)


def test_batchify_and_chunk_starts():
    streams = lm.batchify(np.arange(23), 4)
    np.testing.assert_array_equal(streams, np.arange(20).reshape(4, 5))
    assert lm.chunk_starts(5, 2) == [0, 2]  # predictions 1..4 in chunks of 2
    assert lm.chunk_starts(6, 2) == [0, 2, 4]


# ---- n-gram baselines ----

@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_ngram_probabilities_sum_to_one(order):
    train = _stream(300, seed=7)
    model = lm.fit_ngram(train, order, V)
    for context in (train[:10], train[:1], np.array([], dtype=int), np.array([6, 6, 6, 6])):
        probs = lm.ngram_next_probabilities(model, context, 0.1)
        assert probs.shape == (V,) and np.all(probs > 0)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)


def test_ngram_counts_by_hand():
    train = np.array([0, 1, 0, 1, 0, 2])
    model = lm.fit_ngram(train, 2, 3)
    # after 0: 1 twice, 2 once; alpha = 1 adds one to each of the 3 counts
    np.testing.assert_allclose(lm.ngram_next_probabilities(model, [0], 1.0), [1 / 6, 3 / 6, 2 / 6])
    # unigram counts 3, 2, 1 of 6
    np.testing.assert_allclose(lm.ngram_next_probabilities(lm.fit_ngram(train, 1, 3), [], 0.5),
                               [3.5 / 7.5, 2.5 / 7.5, 1.5 / 7.5])
    # the loss of a test text is the mean of -log p over tokens[1:], each from its context
    test = np.array([0, 1, 2])
    expected = -(np.log(3 / 6) + np.log(1 / 5)) / 2  # p(1|0) = 3/6; after 1: counts (2, 0, 0) + 1 of 2 + 3
    assert lm.ngram_loss(model, test, 1.0) == pytest.approx(expected)
    assert lm.ngram_log_loss(train, test, 2, 3, 1.0) == pytest.approx(expected)


def test_ngram_loss_matches_the_probabilities_one_by_one():
    train, test = _stream(500, seed=8), _stream(60, seed=9)
    model = lm.fit_ngram(train, 4, V)
    one_by_one = -np.mean([np.log(lm.ngram_next_probabilities(model, test[:t], 0.3)[test[t]])
                           for t in range(1, test.size)])
    assert lm.ngram_loss(model, test, 0.3) == pytest.approx(one_by_one, rel=1e-12)


# ---- sampling ----

def test_sampling_at_a_small_temperature_gives_the_argmax():
    logits = np.random.default_rng(10).standard_normal((200, V)) * 3
    picked = lm.sample_with_temperature(logits, 1e-4, np.random.default_rng(11))
    np.testing.assert_array_equal(picked, logits.argmax(axis=1))
    assert picked.dtype == np.int64


def test_sampling_frequencies_match_the_softmax_at_temperature_one():
    logits = np.array([[2.0, 1.0, 0.0, -1.0, -30.0]])
    probs = np.exp(logits[0]) / np.exp(logits[0]).sum()
    draws = lm.sample_with_temperature(np.repeat(logits, 20000, axis=0), 1.0, np.random.default_rng(12))
    frequencies = np.bincount(draws, minlength=5) / draws.size
    # standard error sqrt(p(1-p)/n) <= 0.0036: 4 standard errors
    np.testing.assert_allclose(frequencies, probs, atol=0.015)
    assert frequencies[4] == 0.0
    # temperature 2 is the softmax of logits / 2
    draws = lm.sample_with_temperature(np.repeat(logits, 20000, axis=0), 2.0, np.random.default_rng(13))
    flat = np.exp(logits[0] / 2) / np.exp(logits[0] / 2).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=5) / draws.size, flat, atol=0.015)


def test_sampling_uses_one_uniform_per_row_by_inverse_cdf():
    logits = np.log(np.array([[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]]))
    u = np.random.default_rng(14).random(2)
    expected = [int(np.searchsorted(np.cumsum(np.exp(row)), x * np.exp(row).sum(), side="right"))
                for row, x in zip(logits, u)]
    np.testing.assert_array_equal(lm.sample_with_temperature(logits, 1.0, np.random.default_rng(14)), expected)


def test_generate_and_ngram_generate():
    chars = list("abcdefg")
    params = lm.init_language_model(V, 3, 5, np.random.default_rng(15), "lstm")
    text = lm.generate(params, "abc", 30, 0.8, np.random.default_rng(16), chars)
    assert len(text) == 30 and set(text) <= set(chars)
    assert text == lm.generate(params, "abc", 30, 0.8, np.random.default_rng(16), chars)  # seeded
    model = lm.fit_ngram(np.tile(np.arange(V), 20), 3, V)
    written = lm.ngram_generate(model, [0, 1], 12, 1e-6, np.random.default_rng(17))
    np.testing.assert_array_equal(written, np.tile(np.arange(V), 3)[2:14])  # almost no smoothing: the cycle


# ---- bad input ----

def test_bad_inputs_raise_value_errors_that_name_the_argument():
    params = lm.init_language_model(V, 3, 4, np.random.default_rng(18), "lstm")
    logits = np.zeros((2, V))
    for temperature in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            lm.sample_with_temperature(logits, temperature, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"logits must be a float array \(N, V\)"):
        lm.sample_with_temperature(np.zeros(V), 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        lm.sample_with_temperature(logits, 1.0, 0)
    with pytest.raises(ValueError, match=r"state must be a tuple \(h, c\)"):
        lm.loss_and_grads(params, np.zeros((2, 3), int), np.zeros((2, 3), int), (np.zeros((2, 4)),))
    with pytest.raises(ValueError, match="targets must be in 0..V-1"):
        lm.loss_and_grads(params, np.zeros((2, 3), int), np.full((2, 3), V), lm.zero_state(params, 2))
    with pytest.raises(ValueError, match="targets must have the shape of inputs"):
        lm.loss_and_grads(params, np.zeros((2, 3), int), np.zeros((2, 4), int), lm.zero_state(params, 2))
    with pytest.raises(ValueError, match="tokens must be a 1-D integer array"):
        lm.evaluate_loss(params, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="reset_every"):
        lm.evaluate_loss(params, np.zeros(5, int), reset_every=0)
    with pytest.raises(ValueError, match="n_streams"):
        lm.batchify(np.arange(10), 0)
    with pytest.raises(ValueError, match="at least 2 characters per stream"):
        lm.batchify(np.arange(10), 6)
    with pytest.raises(ValueError, match="prime_text has characters that are not in chars"):
        lm.generate(params, "xyz", 5, 1.0, np.random.default_rng(0), list("abcdefg"))
    with pytest.raises(ValueError, match="chars must have V = 7"):
        lm.generate(params, "a", 5, 1.0, np.random.default_rng(0), list("ab"))
    with pytest.raises(ValueError, match="alpha"):
        lm.ngram_log_loss(np.arange(V), np.arange(V), 2, V, 0.0)
    with pytest.raises(ValueError, match="train_tokens must be in 0..V-1"):
        lm.fit_ngram(np.array([0, 9]), 1, V)
    with pytest.raises(ValueError, match="order"):
        lm.fit_ngram(np.arange(V), 0, V)
    with pytest.raises(ValueError, match="cell"):
        lm.init_language_model(V, 3, 4, np.random.default_rng(0), "tanh")


# ---- PyTorch ----

def test_torch_model_trains_by_the_same_truncated_bptt():
    torch = pytest.importorskip("torch")
    tokens = np.tile(np.arange(V), 60)
    threads = torch.get_num_threads()
    model, history = lm.train_torch_language_model("gru", tokens, V, 4, 16, 4, 8, 3, 0.05, seed=0, verbose=False)
    assert torch.get_num_threads() == threads  # restored
    assert history["chunks"][-1] == 3 * len(lm.chunk_starts(tokens.size // 4, 8))
    assert lm.torch_evaluate_loss(model, tokens) < 0.1
    assert lm.torch_evaluate_loss(model, tokens, chunk_length=7) == pytest.approx(
        lm.torch_evaluate_loss(model, tokens), rel=1e-5)
    again, _ = lm.train_torch_language_model("gru", tokens, V, 4, 16, 4, 8, 1, 0.05, seed=0, verbose=False)
    first, _ = lm.train_torch_language_model("gru", tokens, V, 4, 16, 4, 8, 1, 0.05, seed=0, verbose=False)
    assert lm.torch_evaluate_loss(again, tokens) == lm.torch_evaluate_loss(first, tokens)  # seeded


def test_context_ablation_by_hand():
    params = lm.init_language_model(V, 3, 5, np.random.default_rng(19), "lstm")
    tokens = _stream(37, seed=20)
    states = lm.carried_states(params, tokens[:-1])
    _, last = lm.chunk_scores(params, tokens[None, :-1], lm.zero_state(params, 1))
    np.testing.assert_allclose(states[0][-1], last[0][0])
    np.testing.assert_allclose(states[1][-1], last[1][0])
    out = lm.context_ablation(params, tokens, [1, 5, None], 4, 10, np.random.default_rng(21))
    assert out.carried == pytest.approx(lm.evaluate_loss(params, tokens), rel=1e-10)
    np.testing.assert_allclose(out.reset_zero, [lm.evaluate_loss(params, tokens, reset_every=k) for k in (1, 5, None)],
                               rtol=1e-10)
    assert out.reset_swapped[2] == out.carried

    def from_state(begin, end, start):
        """Losses of tokens[begin+1 : end+1] read from the carried state before position ``start``."""
        state = lm.zero_state(params, 1) if start == 0 else (states[0][start - 1][None], states[1][start - 1][None])
        s, _ = lm.chunk_scores(params, tokens[None, begin:end], state)
        log_p = s[0] - np.log(np.exp(s[0]).sum(axis=1, keepdims=True))
        return -log_p[np.arange(end - begin), tokens[begin + 1:end + 1]]

    rng = np.random.default_rng(21)
    rng.permutation(36)  # the permutation drawn for k = 1 (36 windows)
    order = rng.permutation(8)  # the one for k = 5: 8 windows, the last of one character
    total = sum(from_state(5 * j, min(5 * j + 5, 36), 5 * order[j]).sum() for j in range(8))
    assert out.reset_swapped[1] == pytest.approx(total / 36, rel=1e-10)
    # by history: windows of 4 at 0, 10, 20, 30 (36 inputs), from zeros, from swapped states, carried
    starts = [0, 10, 20, 30]
    zero = np.mean([from_state(b, b + 4, 0) for b in starts], axis=0)  # start 0: the zero state
    np.testing.assert_allclose(out.by_history_zero, zero, rtol=1e-10)
    order = rng.permutation(4)
    swapped = np.mean([from_state(b, b + 4, starts[order[i]]) for i, b in enumerate(starts)], axis=0)
    np.testing.assert_allclose(out.by_history_swapped, swapped, rtol=1e-10)
    carried = np.mean([from_state(0, 36, 0)[b:b + 4] for b in starts], axis=0)
    np.testing.assert_allclose(out.by_history_carried, carried, rtol=1e-10)
    with pytest.raises(ValueError, match="longer than window"):
        lm.context_ablation(params, tokens, [1], 40, 1, np.random.default_rng(0))


def test_generate_steps_like_the_sequence_forward():
    """At a tiny temperature generate writes the argmax continuation that chunk_scores computes."""
    chars = list("abcdefg")
    for cell in ("rnn", "gru", "lstm"):
        params = lm.init_language_model(V, 3, 6, np.random.default_rng(24), cell)
        text = lm.generate(params, "abc", 12, 1e-6, np.random.default_rng(0), chars)
        tokens = [0, 1, 2]
        for _ in range(12):
            scores, _ = lm.chunk_scores(params, np.array([tokens]), lm.zero_state(params, 1))
            tokens.append(int(scores[0, -1].argmax()))
        assert text == "".join(chars[t] for t in tokens[3:]), cell
