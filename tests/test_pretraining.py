"""Tests of rnncourse.pretraining: encoding, the held-out check, the model's losses, pretraining and fine-tuning."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings, strategies as st  # noqa: E402

from rnncourse import pretraining as P  # noqa: E402

CHARS = "abc "
V = len(CHARS) + P.FIRST_CHAR


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model(seed=0, hidden=8, classes=2):
    return P.make_char_model(V, 4, hidden, classes, seed=seed)


# ----------------------------------------------------------------------------
# Encoding and the held-out check
# ----------------------------------------------------------------------------

def test_encode_characters_marks_pads_cuts_and_unknowns():
    tokens, lengths = P.encode_characters(["ab", "cab a", "x"], CHARS, max_chars=4)
    assert tokens.shape == (3, 6) and tokens.dtype == np.int64
    a, b, c, space = (P.FIRST_CHAR + CHARS.index(ch) for ch in "abc ")
    assert tokens[0].tolist() == [P.BOUNDARY, a, b, P.BOUNDARY, P.PAD, P.PAD]
    assert tokens[1].tolist() == [P.BOUNDARY, c, a, b, space, P.BOUNDARY]  # cut to its first 4 characters
    assert tokens[2].tolist() == [P.BOUNDARY, P.UNKNOWN, P.BOUNDARY, P.PAD, P.PAD, P.PAD]
    assert lengths.tolist() == [4, 6, 3]


@pytest.mark.parametrize("sentences, chars, max_chars, name", [
    ("abc", CHARS, 4, "sentences"), ([], CHARS, 4, "sentences"), (["ab", 3], CHARS, 4, "sentences"),
    (["ab"], CHARS, 0, "max_chars"), (["ab"], "aab", 4, "chars"), (["ab"], ["ab"], 4, "chars")])
def test_encode_characters_refuses_bad_input(sentences, chars, max_chars, name):
    with pytest.raises(ValueError, match=name):
        P.encode_characters(sentences, chars, max_chars)


def test_check_disjoint_finds_a_shared_sentence_by_its_text():
    assert P.check_disjoint(["a b", "c"], ["b a", "cc", "a"]) == 3
    with pytest.raises(ValueError, match=r"test: 1 sentence\(s\).*'c'"):
        P.check_disjoint(["a b", "c"], ["b", "c"], name="test")


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------

def test_make_char_model_shapes_and_seed():
    m, same, other = model(0), model(0), model(1)
    assert m.embed.weight.shape == (V, 4) and m.next_char.out_features == V and m.classes.out_features == 2
    for p, q in zip(m.parameters(), same.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(m.gru.weight_hh_l0, other.gru.weight_hh_l0)
    with pytest.raises(ValueError, match="hidden_size"):
        P.make_char_model(V, 4, 0, 2, seed=0)
    with pytest.raises(ValueError, match="seed"):
        P.make_char_model(V, 4, 8, 2, seed=1.5)


def test_copy_encoder_copies_the_encoder_and_leaves_the_heads():
    source, target = model(0), model(1)
    heads = [p.detach().clone() for p in (*target.next_char.parameters(), *target.classes.parameters())]
    P.copy_encoder(source, target)
    assert torch.equal(source.embed.weight, target.embed.weight)
    for p, q in zip(source.gru.parameters(), target.gru.parameters()):
        assert torch.equal(p, q)
    for before, after in zip(heads, (*target.next_char.parameters(), *target.classes.parameters())):
        assert torch.equal(before, after)
    with pytest.raises(ValueError, match="gru shapes"):
        P.copy_encoder(source, model(1, hidden=6))


# ----------------------------------------------------------------------------
# Losses and likelihoods
# ----------------------------------------------------------------------------

def test_language_model_loss_is_the_mean_of_the_sentence_log_likelihoods():
    tokens, lengths = P.encode_characters(["abc", "a", "cab ba", "bb"], CHARS, 8)
    m = model(3)
    log_likelihoods = P.sentence_log_likelihoods(m, tokens, lengths)
    predictions = np.sum(lengths - 1)
    assert P.language_model_loss(m, tokens, lengths) == pytest.approx(-log_likelihoods.sum() / predictions, rel=1e-6)
    # an untrained model guesses near uniformly: its loss is close to ln V
    assert abs(P.language_model_loss(m, tokens, lengths) - np.log(V)) < 0.5


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet="abc ", min_size=1, max_size=9), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=4), st.integers(min_value=0, max_value=5))
def test_results_do_not_depend_on_batching_or_padding(sentences, batch_size, extra):
    m = model(2)
    tokens, lengths = P.encode_characters(sentences, CHARS, 9)
    padded = np.pad(tokens, ((0, 0), (0, extra)))  # more padding columns
    full = P.sentence_log_likelihoods(m, tokens, lengths)
    np.testing.assert_allclose(P.sentence_log_likelihoods(m, padded, lengths, batch_size=batch_size), full,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(P.classifier_scores(m, padded, lengths, batch_size=batch_size),
                               P.classifier_scores(m, tokens, lengths), rtol=1e-5, atol=1e-5)
    assert P.language_model_loss(m, padded, lengths, batch_size=batch_size) == pytest.approx(
        P.language_model_loss(m, tokens, lengths), rel=1e-5)


def test_skip_leaves_out_the_first_predictions():
    m = model(4)
    cue = "ab "
    tokens, lengths = P.encode_characters([cue + "cab", cue + "c"], CHARS, 10)
    whole = P.sentence_log_likelihoods(m, tokens, lengths)
    tail = P.sentence_log_likelihoods(m, tokens, lengths, skip=len(cue))
    # the skipped part: the first len(cue) predictions, the same for both sentences (same prefix)
    head = P.sentence_log_likelihoods(m, *P.encode_characters([cue], CHARS, 10))
    end_of_cue = P.sentence_log_likelihoods(m, *P.encode_characters([cue], CHARS, 10), skip=len(cue))
    np.testing.assert_allclose(whole - tail, np.repeat(head - end_of_cue, 2), rtol=1e-5)
    assert np.all(tail < 0)
    with pytest.raises(ValueError, match="skip"):
        P.sentence_log_likelihoods(m, tokens, lengths, skip=-1)
    with pytest.raises(ValueError, match="skip"):
        P.sentence_log_likelihoods(m, tokens, lengths, skip=len(cue) + 2)


def test_classifier_scores_are_the_class_head_on_the_mean_states():
    m = model(5)
    tokens, lengths = P.encode_characters(["abc", "a", "cab ba"], CHARS, 8)
    states = P.mean_states(m, tokens, lengths)
    expected = states @ m.classes.weight.detach().double().numpy().T + m.classes.bias.detach().double().numpy()
    np.testing.assert_allclose(P.classifier_scores(m, tokens, lengths), expected, rtol=1e-5, atol=1e-6)
    assert P.predict_classes(m, tokens, lengths).tolist() == expected.argmax(axis=1).tolist()


@pytest.mark.parametrize("tokens, lengths, name", [
    (np.zeros((2, 4), dtype=np.int64), np.array([1, 2]), "lengths"),
    (np.zeros((2, 4), dtype=np.int64), np.array([2, 5]), "lengths"),
    (np.zeros((2, 4), dtype=np.int64), np.array([2]), "lengths"),
    (np.zeros((2, 4)), np.array([2, 2]), "tokens"),
    (np.full((2, 4), V), np.array([2, 2]), "tokens")])
def test_bad_encodings_are_refused(tokens, lengths, name):
    with pytest.raises(ValueError, match=name):
        P.language_model_loss(model(), tokens, lengths)


# ----------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------

def test_pretraining_learns_a_regular_text():
    sentences = ["abc abc abc", "abc abc", "abc abc abc abc", "abc"] * 8
    tokens, lengths = P.encode_characters(sentences, CHARS, 20)
    m = model(0, hidden=16)
    before = P.language_model_loss(m, tokens, lengths)
    classes_before = m.classes.weight.detach().clone()
    losses = P.pretrain_language_model(m, tokens, lengths, epochs=15, batch_size=8, lr=0.03,
                                       rng=np.random.default_rng(0))
    assert losses.shape == (15,) and losses[-1] < losses[0]
    # after "a" comes "b", after "b" comes "c": far below the loss of character frequencies (about ln 4)
    assert P.language_model_loss(m, tokens, lengths) < 0.5 < before
    assert torch.equal(m.classes.weight, classes_before)  # pretraining leaves the class head alone


def test_fine_tuning_separates_two_kinds_of_sentence():
    sentences = ["aaa a", "aa aaa", "a a a", "aaaa"] * 4 + ["bbb b", "bb bbb", "b b b", "bbbb"] * 4
    labels = np.array([0] * 16 + [1] * 16)
    tokens, lengths = P.encode_characters(sentences, CHARS, 10)
    m = model(1, hidden=16)
    history = P.fine_tune_classifier(m, tokens, lengths, labels, steps=40, batch_size=8, lr=0.03,
                                     rng=np.random.default_rng(0))
    assert history["best_step"] == 40 and history["loss"].shape == (40,)
    assert np.all(P.predict_classes(m, tokens, lengths) == labels)


def test_fine_tuning_keeps_the_best_checkpoint():
    sentences = ["ab", "ba", "cc", "c a"] * 2
    labels = np.array([0, 1, 0, 1] * 2)
    tokens, lengths = P.encode_characters(sentences, CHARS, 4)
    scores = iter([0.9, 0.1, 0.5])  # the first of three checks is the best
    m = model(2)
    history = P.fine_tune_classifier(m, tokens, lengths, labels, steps=6, batch_size=4, lr=0.05,
                                     rng=np.random.default_rng(1), validate=lambda _: next(scores), checks=3)
    assert history["checked"].tolist() == [2, 4, 6] and history["best_step"] == 2
    # the same run stopped after 2 steps has the same parameters
    again = model(2)
    P.fine_tune_classifier(again, tokens, lengths, labels, steps=2, batch_size=4, lr=0.05, rng=np.random.default_rng(1))
    for p, q in zip(m.parameters(), again.parameters()):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("kwargs, name", [
    ({"steps": 0}, "steps"), ({"checks": 5, "validate": lambda _: 0.0}, "checks"), ({"lr": -1.0}, "lr"),
    ({"validate": 3}, "validate"), ({"labels": np.array([0, 2, 0, 1])}, "labels"),
    ({"labels": np.array([0, 1])}, "labels")])
def test_fine_tuning_refuses_bad_arguments(kwargs, name):
    tokens, lengths = P.encode_characters(["ab", "ba", "cc", "c a"], CHARS, 4)
    arguments = {"labels": np.array([0, 1, 0, 1]), "steps": 4, "batch_size": 2, "lr": 0.01,
                 "rng": np.random.default_rng(0)}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        P.fine_tune_classifier(model(), tokens, lengths, **arguments)
