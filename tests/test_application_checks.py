"""Tests of rnncourse.grading's assignment 6 checks (softmax and sampling with temperature, perplexity,
bits per character, precision/recall/F1, windows split in time order, a many-to-one training step).

For every check: the reference's outputs pass every case; correct implementations written in this file
(not the package's) pass; the package's reference and a wrapper around it are refused; every case's
arguments travel over the sandbox's wire protocol and a correct result judged after the trip back passes;
a case whose right answer is a ValueError passes a ValueError, in the notebook and as the sandbox reports
it, and fails anything else with a hint; the sampler's statistical judge passes correct samplers with many
seeds and fails the usual wrong ones; realistic bugs fail with a message that names the function and the
wrong output, gives a hint, and says what the wrong answer equals only when that was measured.
"""
import sys

import numpy as np
import pytest

from rnncourse import data, grading, language_model, metrics, models
from rnncourse.autograde import grade, sandbox
from rnncourse.autograde.sandboxed import protocol
from rnncourse.grading import application_checks as ac

# ============================================================================
# Correct student implementations, independent of the package
# ============================================================================


def good_softmax_with_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    scaled = logits / temperature
    return np.exp(scaled - np.logaddexp.reduce(scaled, axis=1, keepdims=True))


def good_sample_with_temperature(logits, temperature, seed):
    probs = good_softmax_with_temperature(logits, temperature)
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(probs.shape[1], p=p) for p in probs])


def good_perplexity_from_loss(mean_loss_nats):
    return np.e ** mean_loss_nats


def good_bits_per_char(mean_loss_nats):
    return mean_loss_nats * np.log2(np.e)


def good_precision_recall_f1(y_true, y_pred, positive):
    tp = np.sum((y_true == positive) & (y_pred == positive))
    fp = np.sum((y_true != positive) & (y_pred == positive))
    fn = np.sum((y_true == positive) & (y_pred != positive))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * tp / (2 * tp + fp + fn) if tp else 0.0)


def good_split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction):
    series = series.reshape(len(series), -1)
    a = round(len(series) * train_fraction)
    b = round(len(series) * (train_fraction + val_fraction))
    out = []
    for part in (series[:a], series[a:b], series[b:]):
        n = len(part) - window - horizon + 1
        if n < 1:
            raise ValueError("part too short for one window")
        out += [np.array([part[i:i + window] for i in range(n)]), part[window + horizon - 1:]]
    return tuple(out)


def good_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out):
    """Loss and the five gradients [dWx, dWh, db, dW_out, db_out] of the many-to-one classifier."""
    N, T, _ = x.shape
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(x[:, t] @ Wx + hs[-1] @ Wh + b))
    scores = hs[-1] @ W_out + b_out
    log_p = scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)
    loss = -log_p[np.arange(N), y].mean()
    ds = np.exp(log_p)
    ds[np.arange(N), y] -= 1
    ds /= N
    g = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b), hs[-1].T @ ds, ds.sum(0)]
    dh = ds @ W_out.T
    for t in reversed(range(T)):
        da = dh * (1 - hs[t + 1] ** 2)
        g[0], g[1], g[2] = g[0] + x[:, t].T @ da, g[1] + hs[t].T @ da, g[2] + da.sum(0)
        dh = da @ Wh.T
    return loss, g


def good_many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
    loss, g = good_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out)
    norm = np.sqrt(sum((gi ** 2).sum() for gi in g))
    scale = min(1.0, max_norm / norm)
    return (loss, *(p - lr * scale * gi for p, gi in zip((Wx, Wh, b, W_out, b_out), g)))


GOOD = {
    "softmax_with_temperature": good_softmax_with_temperature,
    "sample_with_temperature": good_sample_with_temperature,
    "perplexity_from_loss": good_perplexity_from_loss,
    "bits_per_char": good_bits_per_char,
    "precision_recall_f1": good_precision_recall_f1,
    "split_windows_in_time_order": good_split_windows_in_time_order,
    "many_to_one_train_step": good_many_to_one_train_step,
}
NAMES = tuple(GOOD)

# The references the checks refuse (the sampler's is the good sampler's statistics: no reference draw exists).
REFERENCES = {
    "softmax_with_temperature": ac.softmax_with_temperature,
    "perplexity_from_loss": ac.perplexity_from_loss,
    "bits_per_char": ac.bits_per_char,
    "precision_recall_f1": ac.precision_recall_f1,
    "split_windows_in_time_order": ac.split_windows_in_time_order,
    "many_to_one_train_step": models.many_to_one_train_step,
}

# Keyword arguments of every case kind the notebook uses.
EXTRA_KWARGS = {
    "softmax_with_temperature": ({"scale": 1000.0}, {"temperatures": (0.01,), "scale": 10.0},
                                 {"bad_temperatures": (0.0, -1.0)}),
    "sample_with_temperature": ({"temperatures": (0.5, 2.0, 0.05)}, {"sizes": ((1, 5, 1), (2, 1, 50))},
                                {"bad_temperatures": (0.0, -1.0)}),
    "perplexity_from_loss": ({"losses": (0.0, 1e-9, 30.0)},),
    "bits_per_char": ({"losses": (0.0, 1e-9, 30.0)},),
    "precision_recall_f1": ({"sizes": (), "special": tuple(ac.SPECIAL_LABELS)}, {"n_classes": 3, "positive": 2}),
    "split_windows_in_time_order": ({"sizes": ((50, 5, 3, 0.5, 0.3, 2), (16, 3, 1, 0.5, 0.25, 0),
                                               (33, 2, 2, 0.6, 0.2, 1))},
                                    {"too_short": ((20, 4, 2, 0.6, 0.3, 0),)}),
    "many_to_one_train_step": ({"lr": 0.5, "max_norm": 0.2}, {"sizes": ((1, 1, 1, 1, 2),)}),
}


def all_cases(name, **kwargs):
    return grading.CASES[f"check_{name}"](**kwargs)


def every_case(name):
    return [case for kwargs in ({}, {"seed": 5} if name not in ("perplexity_from_loss", "bits_per_char") else {},
                                *EXTRA_KWARGS.get(name, ())) for case in all_cases(name, **kwargs)]


def check(name):
    return getattr(grading, f"check_{name}")


def failure(name, fn, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(name)(fn, **kwargs)
    return str(info.value)


def answer(name, case):
    """What a correct function gives for a case: its value, or the Raised of its ValueError."""
    try:
        return GOOD[name](*case.args)
    except ValueError as error:
        return grading.Raised("ValueError", str(error))


# ============================================================================
# What every check does
# ============================================================================

@pytest.mark.parametrize("name", NAMES)
def test_correct_implementation_passes_every_case_kind(name):
    for kwargs in ({}, {"seed": 3}, *EXTRA_KWARGS.get(name, ())):
        if "seed" in kwargs and name in ("perplexity_from_loss", "bits_per_char"):
            continue
        assert check(name)(GOOD[name], **kwargs) is None


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_output_passes_and_reference_is_refused(name):
    reference = REFERENCES[name]
    for case in every_case(name):
        try:
            result = reference(*case.args)
        except ValueError as error:
            result = grading.Raised("ValueError", str(error))
        assert case.judge(case, result) is None, case.label
    message = failure(name, reference)
    assert "reference" in message, message

    def wrapper(*args):
        return reference(*args)

    message = failure(name, wrapper)
    assert "calls the reference implementation" in message, message


@pytest.mark.parametrize("name, wrapper", [
    ("sample_with_temperature",
     lambda logits, t, seed: language_model.sample_with_temperature(logits, t, np.random.default_rng(seed))),
    ("perplexity_from_loss", lambda loss: metrics.perplexity(loss)),
    ("bits_per_char", lambda loss: metrics.bits_per_char(loss)),
    ("precision_recall_f1", lambda y_true, y_pred, positive: metrics.precision_recall_f1(y_true, y_pred, positive)),
    ("split_windows_in_time_order", lambda *args: tuple(data.split_windows_in_time_order(*args).values())),
    ("many_to_one_train_step", lambda *args: models.many_to_one_train_step(*args)),
])
def test_the_chapter_modules_references_are_refused(name, wrapper):
    message = failure(name, wrapper)
    assert "calls the reference implementation rnncourse." in message, message


def test_layers_log_softmax_is_refused_inside_a_submission():
    from rnncourse import layers

    def softmax(logits, temperature):
        return np.exp(layers.log_softmax(logits / temperature))

    assert "calls the reference implementation rnncourse.layers.log_softmax" in failure(
        "softmax_with_temperature", softmax)


@pytest.mark.parametrize("name", NAMES)
def test_not_implemented_propagates(name):
    def released(*args, **kwargs):
        raise NotImplementedError("write this function")

    profile = sys.getprofile()
    with pytest.raises(NotImplementedError, match="write this function"):
        check(name)(released)
    assert sys.getprofile() is profile


@pytest.mark.parametrize("name", NAMES)
def test_cases_travel_over_the_wire(name):
    """Every argument is an array, a number or a bool that the sandbox protocol sends and rebuilds;
    the correct function's result, sent back as the sandbox sends it, passes the judge."""
    for case in every_case(name):
        assert all(isinstance(a, (np.ndarray, int, float, bool)) for a in case.args), case.label
        arrays = {}
        rebuilt = protocol.decode_value(protocol.encode_value(tuple(case.args), arrays), arrays, {})
        for sent, received in zip(case.args, rebuilt):
            np.testing.assert_array_equal(np.asarray(sent), np.asarray(received))
        result = answer(name, case)
        if not isinstance(result, grading.Raised):
            result = protocol.decode_result(protocol.describe_result(result), grading.Unreadable)
        assert case.judge(case, result) is None, case.label


def test_checks_are_registered_for_the_autograder():
    for name in NAMES:
        assert grading.CASES[f"check_{name}"] is getattr(ac, f"{name}_cases")
        assert check(name) is getattr(ac, f"check_{name}")
    for reference in REFERENCES.values():
        assert reference in grading.REFERENCE_FUNCTIONS


# ============================================================================
# Cases whose right answer is a ValueError
# ============================================================================

def test_expected_error_cases_pass_a_value_error_only():
    cases = [c for c in all_cases("softmax_with_temperature", bad_temperatures=(0.0,)) if c.raises]
    assert len(cases) == 1 and cases[0].args[1] == 0.0
    case = cases[0]
    assert case.judge(case, grading.Raised("ValueError", "temperature must be > 0")) is None
    for result, fragment in ((grading.Raised("ZeroDivisionError", "float division by zero"),
                              "raised ZeroDivisionError"), (np.ones((3, 5)) / 5, "returned a value")):
        with pytest.raises(AssertionError) as info:
            case.judge(case, result)
        assert fragment in str(info.value) and "expected a ValueError" in str(info.value)
        assert "Hint (temperature)" in str(info.value)


def test_sandboxed_grader_judges_the_reported_error():
    """grade.outcome gives an expected-error case the sandbox's "Type: message" as a Raised."""
    limits = sandbox.Limits()
    bad = next(c for c in all_cases("sample_with_temperature", bad_temperatures=(-1.0,)) if c.raises)
    good = all_cases("sample_with_temperature")[0]
    error = {"status": "error", "error": "ValueError: temperature must be positive"}
    assert grade.outcome(bad, "sample_with_temperature", error, limits) is None
    wrong = grade.outcome(bad, "sample_with_temperature", {"status": "error", "error": "IndexError: out"}, limits)
    assert "raised IndexError" in wrong and "Hint" in wrong
    # An ordinary case that raises still fails, with what was raised.
    assert "raised ValueError" in grade.outcome(good, "sample_with_temperature", error, limits)
    assert grading.raised_from_text("ValueError: a: b") == grading.Raised("ValueError", "a: b")


def test_notebook_run_cases_hands_the_exception_to_the_judge_only_in_expected_error_cases():
    def always_raises(logits, temperature):
        raise ValueError("no")

    with pytest.raises(ValueError):  # the first, ordinary case lets it through
        grading.check_softmax_with_temperature(always_raises, bad_temperatures=(0.0,))
    assert grading.check_softmax_with_temperature(always_raises, temperatures=(), bad_temperatures=(0.0, -2.0)) is None


# ============================================================================
# The sampler's statistical judge
# ============================================================================

def _inverse_cdf(logits, temperature, seed):
    probs = good_softmax_with_temperature(logits, temperature)
    u = np.random.default_rng(seed).random((len(probs), 1))
    return np.minimum((probs.cumsum(axis=1) <= u).sum(axis=1), probs.shape[1] - 1)


def _gumbel(logits, temperature, seed):
    return np.argmax(logits / temperature + np.random.default_rng(seed).gumbel(size=logits.shape), axis=1)


@pytest.mark.parametrize("sampler", [_inverse_cdf, _gumbel, good_sample_with_temperature])
def test_correct_samplers_pass_with_many_seeds(sampler):
    """No false failure in 40 seeds (each with several temperatures): the tolerance is 5 binomial s.d."""
    for seed in range(40):
        grading.check_sample_with_temperature(sampler, seed=seed, temperatures=(1.0, 0.5, 2.0, 0.05))


def test_sampler_cases_have_power():
    case = all_cases("sample_with_temperature", temperatures=(0.05,))[0]
    logits = case.args[0]
    top2 = np.sort(logits[0])[-2:]
    assert top2[1] - top2[0] >= 0.5  # a clear argmax at a small temperature
    probs = ac.softmax_with_temperature(logits[:1], 1.0)[0]
    assert probs.max() < 0.6 and np.sort(probs)[-2] > 0.1  # at temperature 1 no token dominates


@pytest.mark.parametrize("wrong, temperatures, fragment", [
    (lambda logits, t, seed: np.argmax(logits, axis=1), (1.0,), "Every draw is the row's argmax"),
    (lambda logits, t, seed: _inverse_cdf(logits * t, 1.0, seed), (0.5,), "fit softmax(logits * temperature)"),
    (lambda logits, t, seed: _inverse_cdf(logits, 1.0, seed), (2.0,), "the temperature is not used"),
    (lambda logits, t, seed: np.random.default_rng(seed).integers(0, logits.shape[1], len(logits)), (1.0,),
     "uniform distribution"),
    (lambda logits, t, seed: np.full(len(logits), _inverse_cdf(logits[:1], t, seed)[0]), (1.0,),
     "every draw is the same token"),
])
def test_sampler_bugs(wrong, temperatures, fragment):
    message = failure("sample_with_temperature", wrong, temperatures=temperatures)
    assert "do not follow softmax(logits / temperature)" in message and "binomial standard deviations" in message
    assert fragment in message and "Hint (tokens)" in message, message


@pytest.mark.parametrize("result, fragment", [
    (None, "is None"), (np.zeros((4000, 1), dtype=int), "has shape"), (np.full(4000, 0.5), "not whole numbers"),
    (np.full(4000, 7), "outside 0..V-1"),
])
def test_sampler_malformed_outputs(result, fragment):
    message = failure("sample_with_temperature", lambda logits, t, seed: result)
    assert fragment in message, message


# ============================================================================
# Realistic bugs of the other functions
# ============================================================================

def test_softmax_bugs():
    message = failure("softmax_with_temperature", lambda z, t: good_softmax_with_temperature(z * t * t, t))
    assert "softmax(logits * temperature)" in message and "Hint (probs)" in message
    message = failure("softmax_with_temperature", lambda z, t: np.exp(z / t) / np.exp(z / t).sum(1, keepdims=True),
                      scale=1000.0)
    assert "contains NaN or inf" in message and "subtract each row's maximum" in message
    message = failure("softmax_with_temperature",
                      lambda z, t: np.exp(z / t - np.logaddexp.reduce(z / t, axis=0, keepdims=True)))
    assert "down each column" in message


def test_perplexity_and_bits_bugs():
    message = failure("perplexity_from_loss", lambda loss: 2.0 ** loss)
    assert "2 ** loss" in message and "nats" in message and "Hint (perplexity)" in message
    message = failure("bits_per_char", lambda loss: loss * np.log(2))
    assert "loss * ln 2" in message and "Hint (bits)" in message
    message = failure("bits_per_char", lambda loss: np.exp(loss))
    assert "the perplexity" in message


def test_metric_bugs():
    def swapped(y_true, y_pred, positive):
        p, r, f = good_precision_recall_f1(y_true, y_pred, positive)
        return r, p, f

    assert "precision and recall are swapped" in failure("precision_recall_f1", swapped)

    def nan_on_empty(y_true, y_pred, positive):
        tp = np.sum((y_true == positive) & (y_pred == positive))
        with np.errstate(all="ignore"):
            p, r = tp / np.sum(y_pred == positive), tp / np.sum(y_true == positive)
        return p, r, 2 * p * r / (p + r)

    message = failure("precision_recall_f1", nan_on_empty, sizes=(), special=("no_predicted_positive",))
    assert "contains NaN or inf" in message and "is 0.0 by this assignment's convention" in message

    def arithmetic_f1(y_true, y_pred, positive):
        p, r, _ = good_precision_recall_f1(y_true, y_pred, positive)
        return p, r, (p + r) / 2

    assert "arithmetic mean" in failure("precision_recall_f1", arithmetic_f1)

    def always_class_one(y_true, y_pred, positive):
        return good_precision_recall_f1(y_true, y_pred, 1)

    message = failure("precision_recall_f1", always_class_one, n_classes=3, positive=2)
    assert "those of class 1" in message


def test_window_boundaries_are_rounded_to_the_nearest_step():
    def floored(series, window, horizon, train_fraction, val_fraction):
        S = series.reshape(len(series), -1)
        a = int(len(S) * train_fraction)
        b = a + int(len(S) * val_fraction)
        out = []
        for part in (S[:a], S[a:b], S[b:]):
            n = len(part) - window - horizon + 1
            out += [np.array([part[i:i + window] for i in range(n)]), part[window + horizon - 1:]]
        return tuple(out)

    message = failure("split_windows_in_time_order", floored, sizes=((33, 2, 2, 0.6, 0.2, 1),))
    assert "cut at steps 19 and 25" in message and "= 20 and" in message and "= 26, rounded" in message, message


def test_window_bugs():
    def windows_first(series, window, horizon, train_fraction, val_fraction):
        S = series.reshape(len(series), -1)
        n = len(S) - window - horizon + 1
        X = np.array([S[i:i + window] for i in range(n)])
        y = S[window + horizon - 1:]
        a, b = int(n * train_fraction), int(n * train_fraction) + int(n * val_fraction)
        return X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:]

    message = failure("split_windows_in_time_order", windows_first)
    assert "leakage" in message and "Split the series first" in message

    def last_value_target(series, window, horizon, train_fraction, val_fraction):
        out = list(good_split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction))
        for i in (0, 2, 4):
            out[i + 1] = out[i][:, -1]
        return tuple(out)

    assert "equal the last value of each window" in failure("split_windows_in_time_order", last_value_target)

    def one_step_late(series, window, horizon, train_fraction, val_fraction):
        return good_split_windows_in_time_order(series, window, horizon + 1, train_fraction, val_fraction)

    message = failure("split_windows_in_time_order", one_step_late, sizes=((40, 4, 2, 0.6, 0.2, 0),))
    assert "one step later" in message

    def flat(series, window, horizon, train_fraction, val_fraction):
        return tuple(a[..., 0] for a in good_split_windows_in_time_order(
            series, window, horizon, train_fraction, val_fraction))

    message = failure("split_windows_in_time_order", flat)
    assert "has shape" in message and "D = 1" in message

    def shuffled(series, window, horizon, train_fraction, val_fraction):
        out = list(good_split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction))
        order = np.random.default_rng(0).permutation(len(out[0]))
        out[0], out[1] = out[0][order], out[1][order]
        return tuple(out)

    assert "not in time order" in failure("split_windows_in_time_order", shuffled)

    def no_check(series, window, horizon, train_fraction, val_fraction):
        return tuple(np.zeros((0, window, 1)) for _ in range(6))

    message = failure("split_windows_in_time_order", no_check, sizes=(), too_short=((20, 4, 2, 0.6, 0.3, 0),))
    assert "expected a ValueError" in message and "Hint (window)" in message


def _step_with(change):
    """The correct step with one change: "per_array", "unclipped", "summed_loss", "ascent", "no_bptt"."""
    def step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
        names = ("Wx", "Wh", "b", "W_out", "b_out")
        loss, grads = good_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out)
        grads = dict(zip(names, grads))
        if change == "no_bptt":  # the recurrent weights' gradients left at zero
            grads = {**grads, "Wx": np.zeros_like(Wx), "Wh": np.zeros_like(Wh), "b": np.zeros_like(b)}
        norm = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
        if change == "per_array":
            scaled = {k: g * min(1.0, max_norm / np.sqrt((g ** 2).sum())) for k, g in grads.items()}
        elif change == "unclipped":
            scaled = grads
        else:
            scaled = {k: g * min(1.0, max_norm / norm) for k, g in grads.items()}
        sign = 1.0 if change == "ascent" else -1.0
        params = dict(zip(names, (Wx, Wh, b, W_out, b_out)))
        return (loss * (len(y) if change == "summed_loss" else 1),
                *(params[k] + sign * lr * scaled[k] for k in names))
    return step


@pytest.mark.parametrize("change, kwargs, fragment", [
    ("per_array", {"lr": 0.5, "max_norm": 0.2}, "each gradient clipped on its own"),
    ("unclipped", {"lr": 0.5, "max_norm": 0.2}, "the unclipped gradients"),
    ("summed_loss", {}, "sum over the N = 4 examples"),
    ("ascent", {}, "moved up the gradient"),
    ("no_bptt", {}, "against the numeric gradient of the loss"),
])
def test_training_step_bugs(change, kwargs, fragment):
    message = failure("many_to_one_train_step", _step_with(change), **kwargs)
    assert "many_to_one_train_step" in message and fragment in message and "Hint" in message, message


def test_training_step_accepts_both_clipping_conventions_and_refuses_in_place_updates():
    assert check("many_to_one_train_step")(good_many_to_one_train_step, lr=0.5, max_norm=0.2) is None  # no 1e-6

    def torch_style(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):  # 1e-6 added to the norm
        loss, grads = good_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out)
        scale = min(1.0, max_norm / (np.sqrt(sum((g ** 2).sum() for g in grads)) + 1e-6))
        return (loss, *(p - lr * scale * g for p, g in zip((Wx, Wh, b, W_out, b_out), grads)))

    assert check("many_to_one_train_step")(torch_style, lr=0.5, max_norm=0.2) is None

    def in_place(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
        loss, *new = good_many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm)
        Wx -= 0.0  # writes into the input (a no-op in value, but still a write)
        Wx[...] = new[0]
        return (loss, Wx, *new[1:])

    assert "modified one of its input arrays" in failure("many_to_one_train_step", in_place)


def test_training_step_cases_clip_only_where_meant():
    for kwargs, active in (({}, False), ({"lr": 0.5, "max_norm": 0.2}, True)):
        for case in all_cases("many_to_one_train_step", **kwargs):
            _, grads = models.many_to_one_loss_and_grads(*case.args[:8])
            norm = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
            assert (norm > case.args[9]) == active, (case.label, norm)
