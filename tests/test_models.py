"""Tests of rnncourse.models: gradients, learning the chapter 5 toy tasks, decoding, timescales, errors."""
from functools import partial
from itertools import product

import numpy as np
import pytest

from rnncourse import data, layers, models
from rnncourse.clip import clip_grad_norm
from rnncourse.gradcheck import check_model_gradients
from rnncourse.optim import adam_init, adam_step
from rnncourse.rnn import rnn_step_forward


# ---- gradient checks, tiny sizes ----

def test_mlp_gradients():
    rng = np.random.default_rng(0)
    check_model_gradients(models.mlp_loss_and_grads, models.init_mlp(6, 4, 3, rng), data.modular_sum_task(5, 3, rng))


def test_generator_gradients():
    rng = np.random.default_rng(1)
    check_model_gradients(models.generator_loss_and_grads, models.init_generator(3, 5, 3, 4, rng),
                      data.countdown_task(4, 3, rng))


@pytest.mark.parametrize("cell, pooling, num_layers, bidirectional, residual", [
    ("rnn", "last", 1, False, False), ("gru", "mean", 1, False, False), ("lstm", "last", 1, False, False),
    ("rnn", "last", 3, False, True), ("gru", "mean", 1, True, False), ("lstm", "mean", 2, False, False),
])
def test_classifier_gradients(cell, pooling, num_layers, bidirectional, residual):
    rng = np.random.default_rng(2)
    params = models.init_sequence_model(4, 3, 3, 2, rng, cell=cell, num_layers=num_layers, bidirectional=bidirectional)
    loss = partial(models.classifier_loss_and_grads, pooling=pooling, residual=residual)
    check_model_gradients(loss, params, data.sorted_sequence_task(4, 2, 4, 3, rng))


@pytest.mark.parametrize("cell, num_layers, bidirectional", [("rnn", 1, True), ("lstm", 2, False), ("gru", 1, False)])
def test_tagger_gradients(cell, num_layers, bidirectional):
    rng = np.random.default_rng(3)
    params = models.init_sequence_model(4, 3, 3, 2, rng, cell=cell, num_layers=num_layers, bidirectional=bidirectional)
    check_model_gradients(models.tagger_loss_and_grads, params, data.local_maximum_task(4, 1, 5, 3, rng))


@pytest.mark.parametrize("attention, cell", list(product([None, "additive", "dot"], ["rnn", "gru"])))
def test_seq2seq_gradients(attention, cell):
    rng = np.random.default_rng(4)
    params = models.init_seq2seq(5, 3, 4, rng, cell=cell, attention=attention, attention_size=3)
    check_model_gradients(models.seq2seq_loss_and_grads, params, data.seq2seq_task(3, 1, 4, 3, rng))


def _fast_cases():
    rng = np.random.default_rng(5)
    sorted_batch, tag_batch = data.sorted_sequence_task(6, 2, 6, 4, rng), data.local_maximum_task(6, 1, 6, 4, rng)
    return [
        ("seq2seq gru additive", models.seq2seq_loss_and_grads, models.init_seq2seq(6, 4, 5, rng, cell="gru"),
         data.seq2seq_task(6, 1, 5, 4, rng), {}),
        ("generator", models.generator_loss_and_grads, models.init_generator(4, 6, 3, 5, rng),
         data.countdown_task(6, 4, rng), {}),
        ("classifier lstm x3 residual", models.classifier_loss_and_grads,
         models.init_sequence_model(5, 3, 4, 2, rng, cell="lstm", num_layers=3), sorted_batch, {"residual": True}),
        ("bidirectional gru tagger", models.tagger_loss_and_grads,
         models.init_sequence_model(5, 3, 4, 2, rng, cell="gru", bidirectional=True), tag_batch, {}),
    ]


@pytest.mark.parametrize("case", range(4))
def test_fast_path_gives_the_same_loss_and_gradients(case):
    _, loss_and_grads, params, batch, options = _fast_cases()[case]
    loss, grads = loss_and_grads(params, batch, **options)
    loss_fast, grads_fast = loss_and_grads(params, batch, fast=True, **options)
    assert loss_fast == pytest.approx(loss, rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads_fast[name], grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


# ---- greedy decoding of assignment 5, against a plain loop over rnncourse.rnn ----

def test_rnn_greedy_decode_against_step_loop():
    rng = np.random.default_rng(6)
    N, H, V, E = 3, 5, 7, 4
    h0, W_embed = rng.standard_normal((N, H)), rng.standard_normal((V, E))
    Wx, Wh, b = rng.standard_normal((E, H)), rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)
    W_out, b_out = rng.standard_normal((H, V)), rng.standard_normal(V)
    tokens = models.rnn_greedy_decode(h0, W_embed, Wx, Wh, b, W_out, b_out, start_token=2, max_length=6)
    assert tokens.shape == (N, 6) and tokens.dtype == np.int64
    for n in range(N):
        h, previous = h0[n:n + 1], 2
        for t in range(6):
            h, _ = rnn_step_forward(W_embed[[previous]], h, Wx, Wh, b)
            previous = int(np.argmax(h @ W_out + b_out))
            assert tokens[n, t] == previous


# ---- each model learns its task well above the measured chance level ----

def _majority_rate(labels):
    """Accuracy of always predicting the most frequent label: the chance level to beat."""
    return np.bincount(np.asarray(labels).ravel()).max() / np.asarray(labels).size


def _fit(loss, params, train_set, epochs, lr, seed):
    rng = np.random.default_rng(seed)
    params, history = models.train(loss, params, lambda epoch: models.minibatches(train_set, 32, rng),
                                   epochs, lr, verbose=False)
    assert history["loss"][-1] < history["loss"][0]
    return params


def test_mlp_learns_modular_sum():
    rng = np.random.default_rng(10)
    train_set, (x, y) = data.modular_sum_task(1000, 5, rng), data.modular_sum_task(300, 5, rng)
    params = _fit(models.mlp_loss_and_grads, models.init_mlp(10, 24, 5, rng), train_set, 25, 0.02, 0)
    chance = _majority_rate(y)
    assert models.accuracy(models.mlp_scores(params, x).argmax(axis=1), y) > max(0.9, 3 * chance)


def test_generator_learns_to_count_down():
    rng = np.random.default_rng(11)
    train_set, (x, _, tgt_out, tgt_lengths) = data.countdown_task(600, 6, rng), data.countdown_task(200, 6, rng)
    params = _fit(partial(models.generator_loss_and_grads, fast=True), models.init_generator(6, 8, 6, 16, rng),
                  train_set, 12, 0.02, 1)
    predicted = models.generator_decode(params, x, data.start_token(6), tgt_out.shape[1])
    chance = _majority_rate(x.argmax(axis=1))  # the best a model that ignores its input can do
    assert models.sequence_accuracy(predicted, tgt_out, tgt_lengths) > max(0.9, 3 * chance)


def test_classifier_learns_sortedness():
    rng = np.random.default_rng(12)
    train_set = data.sorted_sequence_task(800, 2, 6, 5, rng)
    tokens, lengths, labels = data.sorted_sequence_task(300, 2, 6, 5, rng)
    params = _fit(partial(models.classifier_loss_and_grads, fast=True),
                  models.init_sequence_model(6, 6, 16, 2, rng, cell="gru"), train_set, 8, 0.02, 2)
    predicted = models.classifier_scores(params, tokens, lengths, fast=True).argmax(axis=1)
    chance = _majority_rate(labels)
    assert models.accuracy(predicted, labels) > chance + 0.3


def test_bidirectional_tagger_beats_unidirectional_on_local_maxima():
    rng = np.random.default_rng(13)
    train_set = data.local_maximum_task(800, 3, 8, 6, rng)
    tokens, lengths, tags = data.local_maximum_task(300, 3, 8, 6, rng)
    mask = layers.length_mask(lengths, tokens.shape[1])
    scores = {}
    for bidirectional in (False, True):
        params = _fit(partial(models.tagger_loss_and_grads, fast=True),
                      models.init_sequence_model(7, 6, 16, 2, np.random.default_rng(0), cell="gru",
                                                 bidirectional=bidirectional), train_set, 8, 0.02, 3)
        predicted = models.tagger_scores(params, tokens, lengths, fast=True).argmax(axis=2)
        scores[bidirectional] = models.accuracy(predicted, tags, mask)
    chance = _majority_rate(tags[mask])
    assert scores[False] > chance + 0.05
    assert scores[True] > scores[False] + 0.05


def test_seq2seq_with_attention_learns_to_reverse():
    rng = np.random.default_rng(14)
    train_set = data.seq2seq_task(1000, 1, 5, 5, rng)
    src, src_lengths, _, tgt_out, tgt_lengths = data.seq2seq_task(200, 1, 5, 5, rng)
    params = _fit(partial(models.seq2seq_loss_and_grads, fast=True),
                  models.init_seq2seq(7, 6, 24, rng, attention="additive"), train_set, 10, 0.02, 4)
    predicted = models.greedy_decode(params, src, src_lengths, tgt_out.shape[1], data.start_token(5), data.eos_token(5))
    token_chance = _majority_rate(tgt_out[layers.length_mask(tgt_lengths, tgt_out.shape[1])])
    mask = layers.length_mask(tgt_lengths, tgt_out.shape[1])
    assert models.accuracy(predicted, tgt_out, mask) > max(0.8, 2 * token_chance)
    assert models.sequence_accuracy(predicted, tgt_out, tgt_lengths) > 0.5


# ---- decoding ----

def _random_seq2seq(seed, attention="additive", scale=1.0):
    rng = np.random.default_rng(seed)
    params = models.init_seq2seq(6, 4, 8, rng, attention=attention)
    params = {k: v * scale for k, v in params.items()}
    src, src_lengths, *_ = data.seq2seq_task(12, 1, 5, 4, rng)
    return params, src, src_lengths


@pytest.mark.parametrize("attention", [None, "additive", "dot"])
def test_beam_width_one_is_greedy(attention):
    params, src, src_lengths = _random_seq2seq(20, attention, scale=3.0)
    greedy = models.greedy_decode(params, src, src_lengths, 7, 5, 4)
    beam, log_probs = models.beam_search(params, src, src_lengths, 1, 7, 5, 4)
    np.testing.assert_array_equal(beam, greedy)
    np.testing.assert_allclose(log_probs, models.sequence_log_prob(params, src, src_lengths, greedy, 5, 4), rtol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_beam_search_is_never_less_probable_than_greedy_here(seed):
    """Not a theorem (a beam can drop the greedy prefix), but true on these seeded models."""
    params, src, src_lengths = _random_seq2seq(seed, scale=3.0)
    greedy = models.greedy_decode(params, src, src_lengths, 6, 5, 4)
    greedy_lp = models.sequence_log_prob(params, src, src_lengths, greedy, 5, 4)
    for width in (2, 3, 5):
        beam, log_probs = models.beam_search(params, src, src_lengths, width, 6, 5, 4)
        rescored = models.sequence_log_prob(params, src, src_lengths, beam, 5, 4)
        np.testing.assert_allclose(log_probs, rescored, rtol=1e-10)
        assert np.all(log_probs >= greedy_lp - 1e-12)


def test_wide_beam_finds_the_most_probable_sequence_by_enumeration():
    params, src, src_lengths = _random_seq2seq(7, scale=3.0)
    src, src_lengths, V, T, eos = src[:3], src_lengths[:3], 6, 3, 4
    candidates = np.array(list(product(range(V), repeat=T)))  # every output of T tokens
    best = []
    for n in range(3):
        lp = models.sequence_log_prob(params, np.repeat(src[n:n + 1], len(candidates), 0),
                                      np.repeat(src_lengths[n:n + 1], len(candidates)), candidates, 5, eos)
        best.append(lp.max())  # sequences that end early at EOS appear several times with the same score
    _, log_probs = models.beam_search(params, src, src_lengths, V**T, T, 5, eos)
    np.testing.assert_allclose(log_probs, best, rtol=1e-10)


def test_greedy_decode_pads_after_eos():
    params, src, src_lengths = _random_seq2seq(3, scale=3.0)
    tokens = models.greedy_decode(params, src, src_lengths, 8, 5, 4)
    for row in tokens:
        if 4 in row:
            assert np.all(row[list(row).index(4):] == 4)


def test_attention_map_is_a_distribution_over_real_source_steps():
    params, src, src_lengths = _random_seq2seq(8)
    tgt_in = np.full((len(src), 4), 5)
    weights = models.attention_map(params, src, src_lengths, tgt_in)
    assert weights.shape == (len(src), 4, src.shape[1])
    np.testing.assert_allclose(weights.sum(axis=2), 1.0)
    padded = ~layers.length_mask(src_lengths, src.shape[1])
    assert np.all(weights[np.broadcast_to(padded[:, None, :], weights.shape)] == 0)


def test_sequence_accuracy_counts_whole_sequences_by_length():
    tgt_out = np.array([[1, 2, 9], [3, 9, 9], [4, 9, 9]])
    tgt_lengths = np.array([3, 2, 2])
    predicted = np.array([[1, 2, 9, 0], [3, 9, 1, 1], [4, 1, 9, 9]])  # row 2 misses its EOS; padding is ignored
    assert models.sequence_accuracy(predicted, tgt_out, tgt_lengths) == pytest.approx(2 / 3)
    by_length = models.sequence_accuracy_by_length(predicted, tgt_out, tgt_lengths, np.array([2, 1, 1]))
    assert by_length == {1: (0.5, 2), 2: (1.0, 1)}


# ---- depth: layer states and timescales ----

def test_layer_timescale_of_a_linear_leak():
    """Near zero the tanh is linear, so the impulse response of h_t = tanh(a h_{t-1} + x_t Wx) decays as a^k,
    which falls below 1/e of its peak at k = -1 / ln(a)."""
    a, H, T = 0.8, 3, 20
    params = models.init_sequence_model(2, 2, H, 2, np.random.default_rng(0))
    params.update({"W_embed": np.zeros((2, 2)), "rnn0.Wh": a * np.eye(H), "rnn0.b": np.zeros(H)})
    timescales, sensitivity = models.layer_timescales(params, np.zeros((4, T), dtype=int))
    assert sensitivity.shape == (1, T)
    assert timescales[0] == pytest.approx(-1 / np.log(a), rel=1e-6)
    params["rnn0.Wh"] = np.eye(H)  # no leak: the response never decays within the window
    assert np.isinf(models.layer_timescales(params, np.zeros((4, T), dtype=int))[0][0])


def test_layer_states_lists_every_layer():
    rng = np.random.default_rng(9)
    params = models.init_sequence_model(5, 3, 4, 2, rng, num_layers=3)
    tokens, lengths, _ = data.sorted_sequence_task(6, 2, 5, 4, rng)
    states = models.layer_states(params, tokens, lengths)
    assert [s.shape for s in states] == [(6, tokens.shape[1], 4)] * 3
    timescales, sensitivity = models.layer_timescales(params, np.zeros((5, 8), dtype=int))
    assert timescales.shape == (3,) and sensitivity.shape == (3, 8)


# ---- the training loop ----

def test_train_prints_one_short_line_per_epoch_and_leaves_params_alone(capsys):
    rng = np.random.default_rng(15)
    params = models.init_mlp(6, 5, 3, rng)
    before = {k: v.copy() for k, v in params.items()}
    batches = models.minibatches(data.modular_sum_task(64, 3, rng), 16, rng)
    trained, history = models.train(models.mlp_loss_and_grads, params, batches, 3, 0.01, evaluate=lambda p: 0.5)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch   1/3  loss") and all(len(line) < 80 for line in lines)
    assert set(history) == {"loss", "grad_norm", "seconds", "eval"} and len(history["loss"]) == 3
    assert all(np.array_equal(params[k], before[k]) for k in params)
    assert any(not np.array_equal(trained[k], before[k]) for k in params)
    models.train(models.mlp_loss_and_grads, params, batches, 1, 0.01, verbose=False)
    assert capsys.readouterr().out == ""


def test_blas_threads_limits_the_pool_only_while_training():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(17)
    params, batches = models.init_mlp(6, 5, 3, rng), [data.modular_sum_task(8, 3, rng)]

    def blas_threads():
        return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]

    def training_threads(**options):
        seen = []

        def loss_and_grads(params, batch):
            seen.append(blas_threads())
            return models.mlp_loss_and_grads(params, batch)

        models.train(loss_and_grads, params, batches, 1, 0.01, verbose=False, **options)
        return seen[0]

    before = blas_threads()
    assert training_threads() == [1] * len(before)  # the default: one thread
    assert training_threads(blas_threads=None) == before
    assert blas_threads() == before  # restored afterwards


def test_one_training_step_is_clip_then_adam():
    rng = np.random.default_rng(16)
    params = models.init_mlp(6, 5, 3, rng)
    batch = data.modular_sum_task(32, 3, rng)
    trained, history = models.train(models.mlp_loss_and_grads, params, [batch], 1, 0.01, max_norm=0.05, verbose=False)
    _, grads = models.mlp_loss_and_grads(params, batch)
    clipped, norm = clip_grad_norm(grads, 0.05)
    expected, _ = adam_step(params, clipped, adam_init(params), 0.01)
    assert norm > 0.05 and history["grad_norm"] == [norm]  # clipping acted, and the norm before it is recorded
    for name in params:
        np.testing.assert_array_equal(trained[name], expected[name])


def test_keep_best_returns_the_epoch_of_the_lowest_score_and_patience_stops():
    scores = iter([3.0, 1.0, 2.0, 1.0, 0.5, 4.0])  # the lowest, 1.0, first at epoch 2; its tie at 4 does not count
    seen = []

    def evaluate(params):
        seen.append({k: v.copy() for k, v in params.items()})
        return next(scores)

    rng = np.random.default_rng(18)
    params, batches = models.init_mlp(6, 5, 3, rng), [data.modular_sum_task(8, 3, rng)]
    best, history = models.train(models.mlp_loss_and_grads, params, batches, 6, 0.01, evaluate=evaluate,
                                 verbose=False, keep_best="min", patience=2)
    assert history["best_epoch"] == 2 and len(history["loss"]) == 4  # epochs 3 and 4 did not beat 1.0
    assert history["eval"] == [3.0, 1.0, 2.0, 1.0]
    for name in params:
        np.testing.assert_array_equal(best[name], seen[1][name])
    with pytest.raises(ValueError, match="keep_best needs evaluate"):
        models.train(models.mlp_loss_and_grads, params, batches, 1, 0.01, verbose=False, keep_best="min")
    with pytest.raises(ValueError, match="keep_best must be"):
        models.train(models.mlp_loss_and_grads, params, batches, 1, 0.01, evaluate=evaluate, keep_best="best")
    with pytest.raises(ValueError, match="patience needs keep_best"):
        models.train(models.mlp_loss_and_grads, params, batches, 1, 0.01, evaluate=evaluate, patience=2)


# ---- bad input ----

@pytest.mark.parametrize("call, match", [
    (lambda: models.init_sequence_model(5, 3, 4, 2, np.random.default_rng(), cell="tanh"), "cell must be one of"),
    (lambda: models.init_sequence_model(5, 3, 4, 2, np.random.default_rng(), num_layers=2, bidirectional=True),
     "num_layers must be 1"),
    (lambda: models.init_seq2seq(5, 3, 4, np.random.default_rng(), cell="lstm"), "cell must be one of"),
    (lambda: models.init_seq2seq(5, 3, 4, np.random.default_rng(), attention="general"), "attention must be one of"),
    (lambda: models.init_mlp(3, 0, 2, np.random.default_rng()), "hidden_size must be"),
    (lambda: models.init_mlp(3, 2, 2, 0), "rng must be"),
    (lambda: models.mlp_loss_and_grads(models.init_mlp(3, 2, 2, np.random.default_rng()), (np.zeros((4, 3)),)),
     r"batch must be a tuple \(x, y\)"),
    (lambda: models.mlp_loss_and_grads(models.init_mlp(3, 2, 2, np.random.default_rng()),
                                       (np.zeros((4, 5)), np.zeros(4, dtype=int))), r"W1 must have shape"),
    (lambda: models.mlp_loss_and_grads({"W1": np.zeros((3, 2))}, (np.zeros((4, 3)), np.zeros(4, dtype=int))),
     "must have the keys"),
    (lambda: models.classifier_loss_and_grads(models.init_sequence_model(5, 3, 4, 2, np.random.default_rng()),
                                              (np.zeros((2, 3), dtype=int), np.array([1, 2]), np.zeros(2, dtype=int)),
                                              pooling="max"), "pooling must be one of"),
    (lambda: models.rnn_greedy_decode(np.zeros((2, 3)), np.zeros((5, 2)), np.zeros((2, 3)), np.zeros((3, 3)),
                                      np.zeros(3), np.zeros((3, 5)), np.zeros(5), 5, 4), "start_token must be"),
    (lambda: models.rnn_greedy_decode(np.zeros((2, 3)), np.zeros((5, 2)), np.zeros((2, 3)), np.zeros((3, 4)),
                                      np.zeros(3), np.zeros((3, 5)), np.zeros(5), 0, 4), "Wh must have"),
    (lambda: models.rnn_greedy_decode(np.zeros((2, 3)), np.zeros((5, 2)), np.zeros((2, 3)), np.zeros((3, 3)),
                                      np.zeros(3), np.zeros((3, 5)), np.zeros(5), 0, 0), "max_length must be"),
    (lambda: models.beam_search(*_random_seq2seq(0), 0, 5, 5, 4), "beam_width must be"),
    (lambda: models.greedy_decode(*_random_seq2seq(0), 5, 6, 4), "start_token must be"),
    (lambda: models.attention_map(_random_seq2seq(0, attention=None)[0], np.zeros((1, 2), dtype=int),
                                  np.array([2]), np.zeros((1, 2), dtype=int)), "must be a model with attention"),
    (lambda: models.train(models.mlp_loss_and_grads, {}, [], 1, 0.1), "batches must be"),
    (lambda: models.train(models.mlp_loss_and_grads, {}, [()], 1, 0.1, blas_threads=0), "blas_threads must be"),
    (lambda: models.minibatches((np.zeros(4), np.zeros(3)), 2, np.random.default_rng()), r"arrays\[1\] must have"),
    (lambda: models.sequence_accuracy(np.zeros((2, 2), dtype=int), np.zeros((2, 3), dtype=int), np.array([1, 1])),
     "predicted must have shape"),
    (lambda: models.layer_timescales(models.init_sequence_model(5, 3, 4, 2, np.random.default_rng(),
                                                                bidirectional=True), np.zeros((2, 4), dtype=int)),
     "unidirectional"),
])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
