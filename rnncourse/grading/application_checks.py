"""Checks of assignment 6 (Chapter 6, applications): sampling with temperature, perplexity and
bits per character, precision/recall/F1, a windowed forecasting dataset split in time order, and
one training step of a many-to-one classifier.

Every argument and result is an array, a number or a bool, so that each case can be sent into
the sandboxed grader. Three kinds of judging are used:

- values against a reference (softmax, perplexity, metrics, windows, the training step), as in
  the other assignments, with the usual wrong answers measured and named when the student's
  output is one of them;
- a statistical judge for the sampler: its draws are random, so no reference draw can be
  asked for. Each case repeats a few rows of logits many times; for every row and token the
  frequency of the draws must lie within ``Z_SCORE`` binomial standard deviations of the
  probability ``softmax(logits / temperature)``. Any correct sampler passes (``rng.choice``,
  ``Generator.choice``, inverse CDF, Gumbel-max), whatever its seed handling;
- a case whose right answer is an exception (a temperature that is not positive, a part of
  the series too short for one window): the case has ``raises=True`` and its judge receives
  a :class:`~rnncourse.grading.core.Raised` (see :func:`~rnncourse.grading.core.run_cases`).
"""
import numpy as np

from .. import clip, data, gradcheck, language_model, layers, metrics, models
from .core import (
    TOLERANCE, Case, Problem, Raised, _fail_if_any, _unpack, output_error, problem_kind, register_references,
    run_cases,
)

__all__ = [
    "SOFTMAX_SIZES", "SAMPLER_SIZES", "METRIC_SIZES", "WINDOW_SIZES", "STEP_SIZES", "Z_SCORE",
    "softmax_with_temperature_cases", "sample_with_temperature_cases", "perplexity_from_loss_cases",
    "bits_per_char_cases", "precision_recall_f1_cases", "split_windows_in_time_order_cases",
    "many_to_one_train_step_cases",
    "check_softmax_with_temperature", "check_sample_with_temperature", "check_perplexity_from_loss",
    "check_bits_per_char", "check_precision_recall_f1", "check_split_windows_in_time_order",
    "check_many_to_one_train_step",
]

Z_SCORE = 5.0  # a frequency may stray this many binomial standard deviations from its probability

SOFTMAX_SIZES = ((3, 5), (1, 5), (3, 1))  # (N, V)
SAMPLER_SIZES = ((2, 5, 2000),)  # (distinct rows R, V, draws per row): N = R * draws
METRIC_SIZES = (20,)  # N labels
WINDOW_SIZES = ((40, 4, 1, 0.6, 0.2, 0),)  # (T, window, horizon, train_fraction, val_fraction, D; 0 = a 1-D series)
STEP_SIZES = ((4, 5, 3, 4, 3),)  # (N, T, D, H, C)


# ----------------------------------------------------------------------------
# References with the assignment's signatures (not exported; registered, so that a submission
# may neither be nor call them)
# ----------------------------------------------------------------------------

def softmax_with_temperature(logits, temperature):
    """The reference: softmax(logits / temperature) over the last axis, (N, V); ValueError unless temperature > 0."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return np.exp(layers.log_softmax(np.asarray(logits, dtype=np.float64) / temperature))


def perplexity_from_loss(mean_loss_nats):
    """The reference: :func:`rnncourse.metrics.perplexity`, exp(mean_loss_nats) (a float)."""
    return metrics.perplexity(mean_loss_nats)


def bits_per_char(mean_loss_nats):
    """The reference: :func:`rnncourse.metrics.bits_per_char`, mean_loss_nats / ln 2 (a float)."""
    return metrics.bits_per_char(mean_loss_nats)


def precision_recall_f1(y_true, y_pred, positive):
    """The reference: :func:`rnncourse.metrics.precision_recall_f1` of class ``positive``, a ratio
    with denominator 0 being 0.0; returns (precision, recall, f1)."""
    return metrics.precision_recall_f1(y_true, y_pred, positive)


def _windows(part, window, horizon):
    """Windows of one part of a (T, D) series: X (N, window, D), y (N, D); window i is part[i:i+window],
    its target part[i + window + horizon - 1]."""
    n = len(part) - window - horizon + 1
    X = np.stack([part[i:i + window] for i in range(n)]) if n > 0 else np.zeros((0, window, part.shape[1]))
    y = part[window + horizon - 1:window + horizon - 1 + n]
    return X, y


def split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction):
    """The reference: :func:`rnncourse.data.split_windows_in_time_order` (the series cut in time order at
    ``round(T * train_fraction)`` and ``round(T * (train_fraction + val_fraction))``, each part windowed
    alone), as the tuple (X_train, y_train, X_val, y_val, X_test, y_test)."""
    parts = data.split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction)
    return tuple(parts[name] for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"))


register_references(
    softmax_with_temperature, perplexity_from_loss, bits_per_char, precision_recall_f1, split_windows_in_time_order,
    layers.log_softmax, language_model.sample_with_temperature, metrics.perplexity, metrics.bits_per_char,
    metrics.precision_recall_f1, data.make_windows, data.time_split_boundaries, data.split_windows_in_time_order,
    models.many_to_one_train_step, models.many_to_one_loss_and_grads,
)


# ----------------------------------------------------------------------------
# Judging helpers
# ----------------------------------------------------------------------------

def _same(got, candidate, tolerance=TOLERANCE):
    """True when ``got`` is an array of ``candidate``'s shape within ``tolerance`` (relative) of it."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except Exception:
        return False
    return (got.shape == np.shape(candidate) and bool(np.all(np.isfinite(got)))
            and gradcheck.rel_error(got, np.asarray(candidate, dtype=np.float64)) <= tolerance)


# The wrong training steps are computed with the reference's clipping (1e-6 added to the norm); a student's
# step without it differs by about 1e-7 relative, so a match is looked for at this tolerance.
STEP_MATCH = 1e-5


def _with_finding(problems, output, finding):
    return [(k, p.plus(" " + finding) if k == output and finding and problem_kind(p) == "value" else p)
            for k, p in problems]


def _first_match(got, candidates):
    """The text of the first (value, text) candidate that ``got`` equals, or None."""
    return next((text for value, text in candidates if _same(got, value)), None)


def _judge_raises(case, result, argument, hint):
    """A case whose right answer is ``ValueError``: pass a Raised ValueError, fail anything else."""
    where = f"{case.function}, case {case.label}"
    if isinstance(result, Raised):
        if result.type_name == "ValueError":
            return
        message = f"{where}: raised {result.type_name} ({result.message[:200]}), expected a ValueError."
    else:
        message = f"{where}: returned a value, expected a ValueError."
    raise AssertionError(f"{message}\nHint ({argument}): {hint}")


def _scalar_problem(case, output, got, expected):
    return output_error(case.function, case.label, output, got, np.asarray(expected, dtype=np.float64))


# ----------------------------------------------------------------------------
# Softmax with temperature
# ----------------------------------------------------------------------------

def logits_inputs(seed, N, V, scale=1.0):
    """Seeded logits (N, V): standard normal times ``scale``."""
    return np.random.default_rng(seed).standard_normal((N, V)) * scale


def _temperature_hint(argument="temperature"):
    return (f"a {argument} <= 0 has no meaning (dividing by it gives inf or NaN, or flips the order of the "
            "logits): check it first and raise ValueError with a message that names it.")


def _overflow_hint(largest):
    if largest > 700:
        return (f"logits / temperature reach {largest:.3g} in size in this case, and np.exp overflows float64 above "
                "about 709: subtract each row's maximum before exponentiating (it does not change the softmax).")
    return (f"logits / temperature stay below {largest:.3g} in size here, so np.exp does not overflow; a NaN comes "
            "from 0/0 or inf - inf.")


def _judge_softmax_with_temperature(case, result):
    logits, temperature = case.args
    expected = softmax_with_temperature(logits, temperature)
    problem = output_error(case.function, case.label, "probs", result, expected)
    if problem and problem_kind(problem) == "value":
        finding = _first_match(result, [
            (softmax_with_temperature(logits * temperature, 1.0),
             f"Your probabilities equal softmax(logits * temperature): with temperature = {temperature:g} the "
             "logits must be divided by it (a small temperature sharpens, a large one flattens)."),
            (softmax_with_temperature(logits, 1.0), "Your probabilities equal softmax(logits): the temperature "
                                                     "is not used."),
            (np.exp(layers.log_softmax(logits.T / temperature)).T,
             "Your probabilities sum to 1 down each column (over the N rows), not along each row (over V)."),
        ])
        problem = problem.plus(" " + finding) if finding else problem
    largest = float(np.abs(logits / temperature).max())
    _fail_if_any([("probs", problem)] if problem else [], {
        "probs": ("probs[n] is the softmax of the row logits[n] scaled by 1 / temperature; each row sums to 1 "
                  "over its V entries (shape (N, V))."),
        ("probs", "nonfinite"): _overflow_hint(largest)})


def _judge_softmax_bad_temperature(case, result):
    _judge_raises(case, result, "temperature", _temperature_hint())


def softmax_with_temperature_cases(seed=0, sizes=SOFTMAX_SIZES, temperatures=(1.0, 0.5, 2.0), scale=1.0,
                                   bad_temperatures=()):
    """Cases of ``softmax_with_temperature(logits, temperature) -> probs (N, V)``: every (N, V) in ``sizes``
    at every temperature, logits standard normal times ``scale``; then one case per bad temperature
    (which must raise ValueError)."""
    cases = []
    for N, V in sizes:
        logits = logits_inputs(seed, N, V, scale)
        for temperature in temperatures:
            label = f"seed={seed}, N={N}, V={V}, temperature={temperature:g}" + (
                f", logits scaled by {scale:g}" if scale != 1 else "")
            cases.append(Case("softmax_with_temperature", label, (logits, float(temperature)), {},
                              _judge_softmax_with_temperature))
    for temperature in bad_temperatures:
        N, V = sizes[0]
        cases.append(Case("softmax_with_temperature", f"seed={seed}, N={N}, V={V}, temperature={temperature:g}",
                          (logits_inputs(seed, N, V), float(temperature)), {}, _judge_softmax_bad_temperature,
                          raises=True))
    return cases


def check_softmax_with_temperature(fn, seed=0, sizes=SOFTMAX_SIZES, temperatures=(1.0, 0.5, 2.0), scale=1.0,
                                   bad_temperatures=()):
    """Check ``fn(logits, temperature) -> probs (N, V)``; sizes: (N, V) pairs."""
    run_cases(fn, softmax_with_temperature_cases(seed, sizes, temperatures, scale, bad_temperatures))


# ----------------------------------------------------------------------------
# Sampling with temperature (judged statistically)
# ----------------------------------------------------------------------------

def sampler_logits(seed, R, V, draws):
    """Logits (R * draws, V): R seeded rows (standard normal times 1.5, their top two at least 0.5 apart
    so that a small temperature has one clear argmax), each repeated ``draws`` times in a block."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((R, V)) * 1.5
    for row in rows:
        if V > 1:
            top = np.argmax(row)
            others = np.delete(row, top)
            row[top] = max(row[top], others.max() + 0.5)
    return np.repeat(rows, draws, axis=0)


def _frequency_problems(draws, logits, temperature, blocks, n):
    """[(row r, token v, frequency, probability, tolerance)] where the draws stray too far."""
    strays = []
    for r in range(blocks):
        probs = softmax_with_temperature(logits[r * n:r * n + 1], temperature)[0]
        counts = np.bincount(draws[r * n:(r + 1) * n], minlength=len(probs))
        for v, (count, p) in enumerate(zip(counts, probs)):
            tolerance = Z_SCORE * np.sqrt(max(p * (1 - p), 1.0 / n) / n)
            if abs(count / n - p) > tolerance:
                strays.append((r, v, count / n, p, tolerance))
    return strays


def _follows(draws, logits, temperature, blocks, n):
    """True when the draws are consistent with softmax(logits / temperature) by the same test."""
    return not _frequency_problems(draws, logits, temperature, blocks, n)


def _judge_sample_with_temperature(case, result):
    logits, temperature, _ = case.args
    blocks, n = case.context["rows"], case.context["draws"]
    N, V = logits.shape
    where = f"{case.function}, case {case.label}: output tokens"
    hint = {"tokens": ("draw tokens[n] from the distribution softmax(logits[n] / temperature) of Part 1, a new "
                       "random draw for every row n, from a generator made from seed (tokens are integers in "
                       "0..V-1, shape (N,)).")}
    if result is None:
        _fail_if_any([("tokens", Problem(f"{where} is None. Did you forget a `return`?", "missing"))], hint)
    try:
        got = np.asarray(result)
    except Exception:
        got = np.asarray(None, dtype=object)
    if got.shape != (N,):
        _fail_if_any([("tokens", Problem(f"{where} has shape {got.shape}, expected ({N},): one token per row.",
                                         "shape"))], hint)
    if got.dtype.kind not in "iuf" or not np.all(np.isfinite(got)) or np.any(got != np.round(got)):
        _fail_if_any([("tokens", Problem(f"{where} are not whole numbers (dtype {got.dtype}): return token "
                                         "indices.", "dtype"))], hint)
    draws = got.astype(np.int64)
    if draws.min() < 0 or draws.max() >= V:
        _fail_if_any([("tokens", Problem(f"{where} has tokens from {draws.min()} to {draws.max()}, outside "
                                         f"0..V-1 = 0..{V - 1}.", "value"))], hint)
    strays = _frequency_problems(draws, logits, temperature, blocks, n)
    if not strays:
        return
    r, v, frequency, p, tolerance = max(strays, key=lambda s: abs(s[2] - s[3]) / s[4])
    message = (f"{where} do not follow softmax(logits / temperature): {len(strays)} of {blocks * V} token "
               f"frequencies are off. Row block {r} (the same logits repeated {n} times): token {v} was drawn "
               f"with frequency {frequency:.3f}, its probability is {p:.3f} (allowed: +-{tolerance:.3f}, "
               f"{Z_SCORE:g} binomial standard deviations).")
    argmax = np.concatenate([np.full(n, np.argmax(logits[r * n])) for r in range(blocks)])
    findings = [
        (np.array_equal(draws, argmax), "Every draw is the row's argmax: the tokens are chosen, not sampled."),
        (temperature != 1 and _follows(draws, logits * temperature, 1.0, blocks, n),
         f"Your frequencies fit softmax(logits * temperature): with temperature = {temperature:g} the logits "
         "must be divided by it."),
        (temperature != 1 and _follows(draws, logits, 1.0, blocks, n),
         "Your frequencies fit softmax(logits): the temperature is not used."),
        (V > 1 and _follows(draws, np.zeros_like(logits), 1.0, blocks, n),
         "Your frequencies fit the uniform distribution over the V tokens."),
        (n > 1 and all(len(np.unique(draws[r * n:(r + 1) * n])) == 1 for r in range(blocks)),
         "Within each block of identical rows every draw is the same token: draw a new random number for "
         "every row."),
    ]
    finding = next((text for holds, text in findings if holds), None)
    _fail_if_any([("tokens", Problem(message + (" " + finding if finding else ""), "value"))], hint)


def _judge_sample_bad_temperature(case, result):
    _judge_raises(case, result, "temperature", _temperature_hint())


def sample_with_temperature_cases(seed=0, sizes=SAMPLER_SIZES, temperatures=(1.0,), bad_temperatures=()):
    """Cases of ``sample_with_temperature(logits, temperature, seed) -> tokens (N,)``: for (R, V, draws)
    in ``sizes`` and every temperature, R rows of logits each repeated ``draws`` times (the sampler's seed
    is ``seed + 100``); then one case per bad temperature (which must raise ValueError)."""
    cases = []
    for R, V, draws in sizes:
        logits = sampler_logits(seed, R, V, draws)
        for temperature in temperatures:
            cases.append(Case("sample_with_temperature",
                              f"seed={seed}, {R} distinct rows of V={V} logits, each repeated {draws} times "
                              f"(N={R * draws}), temperature={temperature:g}",
                              (logits, float(temperature), seed + 100), {}, _judge_sample_with_temperature,
                              {"rows": R, "draws": draws}))
    for temperature in bad_temperatures:
        logits = sampler_logits(seed, 2, 4, 3)
        cases.append(Case("sample_with_temperature", f"seed={seed}, N=6, V=4, temperature={temperature:g}",
                          (logits, float(temperature), seed + 100), {}, _judge_sample_bad_temperature, raises=True))
    return cases


def check_sample_with_temperature(fn, seed=0, sizes=SAMPLER_SIZES, temperatures=(1.0,), bad_temperatures=()):
    """Check ``fn(logits, temperature, seed) -> tokens (N,)`` statistically; sizes: (R, V, draws per row)."""
    run_cases(fn, sample_with_temperature_cases(seed, sizes, temperatures, bad_temperatures))


# ----------------------------------------------------------------------------
# Perplexity and bits per character
# ----------------------------------------------------------------------------

def _judge_perplexity_from_loss(case, result):
    (loss,) = case.args
    problem = _scalar_problem(case, "perplexity", result, perplexity_from_loss(loss))
    if problem and problem_kind(problem) == "value":
        finding = _first_match(result, [
            (2.0 ** loss, "Your value equals 2 ** loss: the loss is in nats (natural logarithm), not in bits."),
            (10.0 ** loss, "Your value equals 10 ** loss: the loss is in nats (natural logarithm)."),
            (loss / np.log(2), "Your value equals the loss in bits, loss / ln 2: that is bits per character."),
            (np.exp(-loss), "Your value equals exp(-loss), the inverse of the perplexity."),
        ])
        problem = problem.plus(" " + finding) if finding else problem
    _fail_if_any([("perplexity", problem)] if problem else [], {"perplexity": (
        "the perplexity is the number whose natural logarithm is the mean loss in nats: 1 for a loss of 0, and "
        "V for a model that spreads its probability evenly over V tokens.")})


def _judge_bits_per_char(case, result):
    (loss,) = case.args
    problem = _scalar_problem(case, "bits", result, bits_per_char(loss))
    if problem and problem_kind(problem) == "value":
        finding = _first_match(result, [
            (loss * np.log(2), "Your value equals loss * ln 2: a nat is 1 / ln 2 = 1.44 bits, so divide."),
            (np.exp(loss), "Your value equals exp(loss), the perplexity."),
            (2.0 ** loss, "Your value equals 2 ** loss."),
            (loss / np.log(10), "Your value equals loss / ln 10, the loss in decimal digits."),
        ] + ([(np.log2(loss), "Your value equals log2(loss): the logarithm is already taken, change its base "
                              "instead.")] if loss > 0 else []))
        problem = problem.plus(" " + finding) if finding else problem
    _fail_if_any([("bits", problem)] if problem else [], {"bits": (
        "the loss is -ln p in nats; the same quantity with base-2 logarithms, -log2 p, is in bits, and "
        "log2 p = ln p / ln 2.")})


def perplexity_from_loss_cases(losses=(1.0, 2.5, 4.174387)):
    """Cases of ``perplexity_from_loss(mean_loss_nats) -> float``, one per loss."""
    return [Case("perplexity_from_loss", f"mean_loss_nats={loss!r}", (float(loss),), {},
                 _judge_perplexity_from_loss) for loss in losses]


def check_perplexity_from_loss(fn, losses=(1.0, 2.5, 4.174387)):
    """Check ``fn(mean_loss_nats) -> perplexity``; losses: the mean losses (nats) to try."""
    run_cases(fn, perplexity_from_loss_cases(losses))


def bits_per_char_cases(losses=(1.0, 2.5, 4.174387)):
    """Cases of ``bits_per_char(mean_loss_nats) -> float``, one per loss."""
    return [Case("bits_per_char", f"mean_loss_nats={loss!r}", (float(loss),), {}, _judge_bits_per_char)
            for loss in losses]


def check_bits_per_char(fn, losses=(1.0, 2.5, 4.174387)):
    """Check ``fn(mean_loss_nats) -> bits per character``; losses: the mean losses (nats) to try."""
    run_cases(fn, bits_per_char_cases(losses))


# ----------------------------------------------------------------------------
# Precision, recall and F1
# ----------------------------------------------------------------------------

METRIC_OUTPUTS = ("precision", "recall", "f1")

# Named label pairs for the cases where a denominator is 0 or the answer is trivial.
SPECIAL_LABELS = {
    "no_predicted_positive": ([1, 0, 1, 0, 0], [0, 0, 0, 0, 0]),
    "no_true_positive": ([0, 0, 0, 0, 0], [1, 0, 1, 0, 0]),
    "all_correct": ([1, 0, 1, 1, 0], [1, 0, 1, 1, 0]),
    "class_absent": ([0, 2, 0, 2, 0], [0, 0, 2, 2, 0]),  # positive=1 occurs nowhere
    "all_wrong": ([1, 0, 1, 0, 1], [0, 1, 0, 1, 0]),
    "one_example": ([1], [1]),
}


def _judge_precision_recall_f1(case, result):
    y_true, y_pred, positive = case.args
    expected = dict(zip(METRIC_OUTPUTS, precision_recall_f1(y_true, y_pred, positive)))
    got = dict(zip(METRIC_OUTPUTS, _unpack(result, case.function, METRIC_OUTPUTS)))
    problems = [(k, p) for k in METRIC_OUTPUTS if (p := _scalar_problem(case, k, got[k], expected[k]))]
    wrong = {k for k, p in problems if problem_kind(p) == "value"}
    if {"precision", "recall"} <= wrong and _same(got["precision"], expected["recall"]) \
            and _same(got["recall"], expected["precision"]):
        problems = _with_finding(problems, "precision", "Your precision and recall are swapped.")
    if "f1" in wrong and expected["precision"] + expected["recall"] > 0 and _same(
            got["f1"], (expected["precision"] + expected["recall"]) / 2):
        problems = _with_finding(problems, "f1", "Your F1 equals the arithmetic mean of precision and recall; F1 "
                                                 "is their harmonic mean.")
    if wrong and positive != 1 and all(_same(got[k], v) for k, v in zip(
            METRIC_OUTPUTS, precision_recall_f1((np.asarray(y_true) == 1) * 1, (np.asarray(y_pred) == 1) * 1, 1))):
        problems = [(k, p.plus(f" Your values are those of class 1; this case asks for positive={positive}.")
                     if k in wrong else p) for k, p in problems]
    zero = ("a ratio whose denominator is 0 (no predicted positives for precision, no true positives for recall, "
            "precision + recall = 0 for F1) is 0.0 by this assignment's convention; check the denominator before "
            "dividing.")
    _fail_if_any(problems, {
        "precision": "precision = TP / (TP + FP): of the examples predicted as the positive class, the fraction "
                     "that truly are.",
        "recall": "recall = TP / (TP + FN): of the examples that truly are the positive class, the fraction "
                  "predicted as it.",
        "f1": "F1 is the harmonic mean of precision and recall.",
        ("precision", "nonfinite"): zero, ("recall", "nonfinite"): zero, ("f1", "nonfinite"): zero,
    })


def precision_recall_f1_cases(seed=0, sizes=METRIC_SIZES, positive=1, n_classes=2, special=()):
    """Cases of ``precision_recall_f1(y_true, y_pred, positive) -> (precision, recall, f1)``: for N in
    ``sizes``, seeded labels in 0..n_classes-1 (predictions right about 70 % of the time); then the named
    label pairs of ``SPECIAL_LABELS`` in ``special`` (with positive=1)."""
    cases = []
    for N in sizes:
        rng = np.random.default_rng(seed)
        y_true = rng.integers(0, n_classes, N)
        y_pred = np.where(rng.random(N) < 0.7, y_true, rng.integers(0, n_classes, N))
        cases.append(Case("precision_recall_f1", f"seed={seed}, N={N}, classes 0..{n_classes - 1}, "
                          f"positive={positive}, y_true={y_true.tolist()}, y_pred={y_pred.tolist()}",
                          (y_true, y_pred, int(positive)), {}, _judge_precision_recall_f1))
    for name in special:
        y_true, y_pred = (np.array(labels, dtype=np.int64) for labels in SPECIAL_LABELS[name])
        cases.append(Case("precision_recall_f1", f"{name}: y_true={y_true.tolist()}, y_pred={y_pred.tolist()}, "
                          "positive=1", (y_true, y_pred, 1), {}, _judge_precision_recall_f1))
    return cases


def check_precision_recall_f1(fn, seed=0, sizes=METRIC_SIZES, positive=1, n_classes=2, special=()):
    """Check ``fn(y_true, y_pred, positive) -> (precision, recall, f1)``; sizes: numbers of labels N."""
    run_cases(fn, precision_recall_f1_cases(seed, sizes, positive, n_classes, special))


# ----------------------------------------------------------------------------
# A windowed forecasting dataset, split in time order
# ----------------------------------------------------------------------------

WINDOW_OUTPUTS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def window_inputs(seed, T, D):
    """A seeded random walk: (T,) when D == 0, else (T, D); every value distinct."""
    steps = np.random.default_rng(seed).standard_normal((T, max(D, 1)))
    series = np.cumsum(steps, axis=0) + np.arange(T)[:, None] * 1e-3
    return series[:, 0] if D == 0 else series


def _window_findings(got, series, window, horizon, train_fraction, val_fraction):
    """What the student's six arrays are, among the usual wrong answers (measured)."""
    S = np.asarray(series, dtype=np.float64)
    S = S[:, None] if S.ndim == 1 else S
    T = len(S)
    train_end, val_end = data.time_split_boundaries(T, train_fraction, val_fraction)
    X_all, y_all = _windows(S, window, horizon)
    n = len(X_all)
    windows_first = (X_all[:int(n * train_fraction)], y_all[:int(n * train_fraction)])
    if _same(got["X_train"], windows_first[0]) and _same(got["y_train"], windows_first[1]) and train_end < T:
        return ("Your training windows are the first windows of the whole series: windowing first and splitting "
                "the windows lets the last training windows read values, and predict targets, from the "
                "validation span (leakage). Split the series first, then window each part.")
    # Boundaries rounded down somewhere (int instead of round, or the validation length rounded on its own).
    starts = {int(T * train_fraction), train_end}
    cuts = {(a, b) for a in starts for b in (int(T * (train_fraction + val_fraction)), a + int(T * val_fraction),
                                             a + round(T * val_fraction), val_end)} - {(train_end, val_end)}
    for a, b in sorted(cuts):
        if all(stop - start >= window + horizon for start, stop in ((0, a), (a, b), (b, T))):
            windows = [w for p in (S[:a], S[a:b], S[b:]) for w in _windows(p, window, horizon)]
            if all(_same(got[k], v) for k, v in zip(WINDOW_OUTPUTS, windows)):
                return (f"Your parts are cut at steps {a} and {b}; the boundaries are round(T * train_fraction) = "
                        f"{train_end} and round(T * (train_fraction + val_fraction)) = {val_end}, rounded to the "
                        "nearest step (int() rounds down).")
    parts = (S[:train_end], S[train_end:val_end], S[val_end:])
    expected = [a for p in parts for a in _windows(p, window, horizon)]
    if all(_same(got[y], X[:, -1]) for y, X in zip(WINDOW_OUTPUTS[1::2], expected[0::2])):
        return ("Your targets equal the last value of each window: the target lies horizon = "
                f"{horizon} step(s) after it.")
    for shift, text in ((1, "one step later"), (-1, "one step earlier")):
        if horizon + shift >= 1 and all(len(p) >= window + horizon + shift for p in parts):
            shifted = [a for p in parts for a in _windows(p, window, horizon + shift)]
            if all(_same(got[k], v) for k, v in zip(WINDOW_OUTPUTS[1::2], shifted[1::2])):
                return (f"Your targets are {text} than they should be: the target of window i is "
                        f"part[i + window + horizon - 1], horizon = {horizon} steps after the window's last value.")
    train_X = np.asarray(got["X_train"], dtype=np.float64)
    if train_X.ndim == 3 and train_X.shape[1:] == (window, S.shape[1]) and len(train_X) > 1:
        # The step of the series where each training window ends (-1 where its last value is not in the series).
        ends = np.array([np.flatnonzero(S[:, 0] == v)[0] if np.any(S[:, 0] == v) else -1 for v in train_X[:, -1, 0]])
        if np.any(np.diff(ends) <= 0):
            return ("Your training windows are not in time order (or not consecutive windows of the series): "
                    "shuffle a training set when you train, never before splitting a time series.")
    return None


def _judge_split_windows(case, result):
    expected = dict(zip(WINDOW_OUTPUTS, split_windows_in_time_order(*case.args)))
    got = dict(zip(WINDOW_OUTPUTS, _unpack(result, case.function, WINDOW_OUTPUTS)))
    problems = [(k, p) for k in WINDOW_OUTPUTS
                if (p := output_error(case.function, case.label, k, got[k], expected[k]))]
    if any(problem_kind(p) in ("value", "shape") for _, p in problems):
        finding = _window_findings(got, *case.args)
        if finding:
            first = next(k for k, p in problems if problem_kind(p) in ("value", "shape"))
            problems = [(k, p.plus(" " + finding) if k == first else p) for k, p in problems]
    shape = ("X has shape (number of windows, window, D) and y (number of windows, D); a 1-D series counts as "
             "D = 1. A part of L steps holds L - window - horizon + 1 windows.")
    hints = {}
    for k in WINDOW_OUTPUTS:
        hints[k] = ("cut the series first, at round(T * train_fraction) and round(T * (train_fraction + "
                    "val_fraction)); then window each part on its own, in time order: window i of a part is "
                    "part[i : i + window], its target part[i + window + horizon - 1].")
        hints[(k, "shape")] = shape
    _fail_if_any(problems, hints)


def _judge_split_too_short(case, result):
    _judge_raises(case, result, "window", (
        "when a part of the series has fewer than window + horizon steps it cannot hold one window: raise "
        "ValueError saying which part is too short, instead of returning empty arrays."))


def split_windows_in_time_order_cases(seed=0, sizes=WINDOW_SIZES, too_short=()):
    """Cases of ``split_windows_in_time_order(series, window, horizon, train_fraction, val_fraction)
    -> (X_train, y_train, X_val, y_val, X_test, y_test)`` for (T, window, horizon, train_fraction,
    val_fraction, D) in ``sizes`` (D = 0: a 1-D series); then the sizes in ``too_short``, whose
    smallest part cannot hold one window (they must raise ValueError)."""
    cases = []
    for T, window, horizon, train_fraction, val_fraction, D in (*sizes, *too_short):
        series = window_inputs(seed, T, D)
        label = (f"seed={seed}, series of T={T} steps{'' if D == 0 else f' and D={D} features'}, window={window}, "
                 f"horizon={horizon}, train_fraction={train_fraction:g}, val_fraction={val_fraction:g}")
        short = (T, window, horizon, train_fraction, val_fraction, D) in too_short
        cases.append(Case("split_windows_in_time_order", label,
                          (series, int(window), int(horizon), float(train_fraction), float(val_fraction)), {},
                          _judge_split_too_short if short else _judge_split_windows, raises=short))
    return cases


def check_split_windows_in_time_order(fn, seed=0, sizes=WINDOW_SIZES, too_short=()):
    """Check ``fn(series, window, horizon, train_fraction, val_fraction) -> six arrays``; sizes: (T, window,
    horizon, train_fraction, val_fraction, D) with D = 0 for a 1-D series."""
    run_cases(fn, split_windows_in_time_order_cases(seed, sizes, too_short))


# ----------------------------------------------------------------------------
# One training step of a many-to-one classifier
# ----------------------------------------------------------------------------

STEP_OUTPUTS = ("loss", "Wx", "Wh", "b", "W_out", "b_out")
PARAMETERS = STEP_OUTPUTS[1:]


def step_inputs(seed, N, T, D, H, C):
    """Seeded x (N, T, D), y (N,) in [0, C), h0 (N, H) and the five parameters."""
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((N, T, D)), "y": rng.integers(0, C, N), "h0": rng.uniform(-0.5, 0.5, (N, H)),
            "Wx": rng.standard_normal((D, H)) / np.sqrt(D), "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
            "b": rng.standard_normal(H) * 0.1, "W_out": rng.standard_normal((H, C)), "b_out": rng.standard_normal(C)}


def _step_variants(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
    """(parameters after the step, text) of the usual wrong steps, and the gradients' norm."""
    params = dict(zip(PARAMETERS, (Wx, Wh, b, W_out, b_out)))
    _, grads = models.many_to_one_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out)
    norm = clip.global_norm(grads)

    def step(g):
        return [params[k] - lr * g[k] for k in PARAMETERS]

    per_array = {k: clip.clip_grad_norm([g], max_norm)[0][0] for k, g in grads.items()}
    summed = clip.clip_grad_norm({k: g * len(y) for k, g in grads.items()}, max_norm)[0]
    variants = [
        (step(grads), f"Your new parameters are the step with the unclipped gradients (their joint norm is "
                      f"{norm:.3g}, above max_norm = {max_norm:g}): clip before you update, and update with the "
                      "clipped gradients."),
        (step(per_array), "Your new parameters are the step with each gradient clipped on its own: clip all five "
                          "together, by one factor computed from their joint norm."),
        (step(summed), "Your new parameters are the step with the gradient of the summed loss (N times the mean's)."),
        (step({k: -g for k, g in clip.clip_grad_norm(grads, max_norm)[0].items()}),
         "Your new parameters moved up the gradient: subtract lr times the gradient."),
    ]
    if norm < max_norm:
        variants.append((step({k: g * max_norm / norm for k, g in grads.items()}), (
            f"Your gradients were scaled to norm max_norm even though their norm, {norm:.3g}, is below max_norm = "
            f"{max_norm:g}: clipping only ever shrinks.")))
    return variants, norm


def _step_without_eps(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm):
    """The step with the clipping factor min(1, max_norm / norm) exactly (the reference, like PyTorch, adds
    1e-6 to the norm; both conventions pass)."""
    loss, grads = models.many_to_one_loss_and_grads(x, y, h0, Wx, Wh, b, W_out, b_out)
    scale = min(1.0, max_norm / clip.global_norm(grads))
    params = dict(zip(PARAMETERS, (Wx, Wh, b, W_out, b_out)))
    return (loss, *(params[k] - lr * scale * grads[k] for k in PARAMETERS))


def _judge_many_to_one_train_step(case, result):
    x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm = case.args
    expected = dict(zip(STEP_OUTPUTS, models.many_to_one_train_step(*case.args)))
    got = dict(zip(STEP_OUTPUTS, _unpack(result, case.function, STEP_OUTPUTS)))
    problems = [(k, p) for k in STEP_OUTPUTS
                if (p := output_error(case.function, case.label, k, got[k], np.asarray(expected[k], dtype=np.float64)))]
    if problems and all(problem_kind(p) == "value" for _, p in problems):
        exact = dict(zip(STEP_OUTPUTS, _step_without_eps(*case.args)))
        if all(output_error(case.function, case.label, k, got[k], np.asarray(exact[k], dtype=np.float64)) is None
               for k in STEP_OUTPUTS):
            return
    wrong = {k for k, p in problems if problem_kind(p) == "value"}
    if "loss" in wrong:
        finding = _first_match(got["loss"], [
            (expected["loss"] * len(y), f"Your loss equals the sum over the N = {len(y)} examples; take the mean."),
            (models.many_to_one_loss_and_grads(x, y, h0, *(expected[k] for k in PARAMETERS))[0],
             "Your loss is the loss after the update; return the loss at the parameters you were given."),
        ])
        problems = _with_finding(problems, "loss", finding)
    if wrong & set(PARAMETERS):
        variants, norm = _step_variants(*case.args)
        got_params = [got[k] for k in PARAMETERS]
        finding = next((text for params, text in variants
                        if all(_same(g, p, STEP_MATCH) for g, p in zip(got_params, params))), None)
        if finding is None and norm < max_norm:  # no clipping here: the step shows the gradient used
            used = {k: (case.args[2 + i + 1] - np.asarray(got[k], dtype=np.float64)) / lr
                    for i, k in enumerate(PARAMETERS)}
            inputs = dict(zip(("x", "y", "h0", *PARAMETERS), case.args[:8]))
            findings = []
            for k in sorted(wrong & set(PARAMETERS), key=PARAMETERS.index):
                numeric = gradcheck.numerical_gradient(
                    lambda value, k=k: models.many_to_one_loss_and_grads(**{**inputs, k: value})[0], inputs[k])
                findings.append(f"{k}: relative error {gradcheck.rel_error(used[k], numeric):.1e}")
            finding = (f"Clipping is not active in this case (joint gradient norm {norm:.3g} < max_norm = "
                       f"{max_norm:g}), so (old - new) / lr is the gradient your step used; against the numeric "
                       "gradient of the loss it has " + ", ".join(findings) + ".")
        first = next(k for k in PARAMETERS if k in wrong)
        problems = _with_finding(problems, first, finding)
    params_hint = ("new = old - lr * clipped gradient. Clip the five gradients together: one factor "
                   "min(1, max_norm / norm), norm = the L2 norm of all their entries together.")
    _fail_if_any(problems, {
        "loss": "the loss is the mean over the N examples of -log softmax(scores[n])[y[n]], with the scores read "
                "from the last hidden state, at the parameters you were given.",
        **{k: params_hint for k in PARAMETERS},
    }, "several outputs are wrong: check the forward pass and the loss first, then the backward pass through "
       "time (only the last state reaches the loss), then clipping and the update.")


def many_to_one_train_step_cases(seed=0, sizes=STEP_SIZES, lr=0.1, max_norm=100.0):
    """Cases of ``many_to_one_train_step(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm) -> (loss, Wx, Wh,
    b, W_out, b_out)`` for (N, T, D, H, C) in ``sizes``."""
    cases = []
    for N, T, D, H, C in sizes:
        inputs = step_inputs(seed, N, T, D, H, C)
        cases.append(Case("many_to_one_train_step",
                          f"seed={seed}, N={N}, T={T}, D={D}, H={H}, C={C}, lr={lr:g}, max_norm={max_norm:g}",
                          (*inputs.values(), float(lr), float(max_norm)), {}, _judge_many_to_one_train_step))
    return cases


def check_many_to_one_train_step(fn, seed=0, sizes=STEP_SIZES, lr=0.1, max_norm=100.0):
    """Check ``fn(x, y, h0, Wx, Wh, b, W_out, b_out, lr, max_norm) -> (loss, Wx, Wh, b, W_out, b_out)``;
    sizes: (N, T, D, H, C)."""
    run_cases(fn, many_to_one_train_step_cases(seed, sizes, lr, max_norm))


# The cases behind every ``check_<name>`` of this module, for the sandboxed autograder.
CASES = {
    "check_softmax_with_temperature": softmax_with_temperature_cases,
    "check_sample_with_temperature": sample_with_temperature_cases,
    "check_perplexity_from_loss": perplexity_from_loss_cases,
    "check_bits_per_char": bits_per_char_cases,
    "check_precision_recall_f1": precision_recall_f1_cases,
    "check_split_windows_in_time_order": split_windows_in_time_order_cases,
    "check_many_to_one_train_step": many_to_one_train_step_cases,
}
