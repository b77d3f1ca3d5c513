"""How good a model of chapter 6 is: language models, classifiers and forecasts.

- A language model's mean cross-entropy as :func:`perplexity` and :func:`bits_per_char`.
- A classifier's :func:`confusion_matrix`, :func:`precision_recall_f1` of one class and the
  :func:`classification_report` of all classes (accuracy, per class and macro averages).
- A forecast's :func:`mae`, :func:`rmse` and :func:`mape`.

Every function checks its input and raises a ``ValueError`` that names the argument, the
shape it got and the shape it expected.
"""
import math

import numpy as np

from ._validate import check_non_negative, check_positive_int


def _mean_loss(mean_loss_nats):
    return check_non_negative("mean_loss_nats", mean_loss_nats, "a mean cross-entropy in nats")


def perplexity(mean_loss_nats):
    """The perplexity of a language model: ``exp(mean cross-entropy in nats)``.

    It is the number of equally likely tokens that would leave a model as uncertain as it is
    on average: 1 for a model that is always sure and right, V for a uniform guess over V
    tokens.

    Args:
        mean_loss_nats: float >= 0, the mean over tokens of ``-log p(true token)`` (natural log)

    Returns:
        float >= 1
    """
    return math.exp(_mean_loss(mean_loss_nats))


def bits_per_char(mean_loss_nats):
    """The mean cross-entropy in bits: ``mean_loss_nats / ln 2``, so ``perplexity = 2 ** bits``.

    Args:
        mean_loss_nats: float >= 0, the mean over characters of ``-log p(true character)``

    Returns:
        float >= 0, bits per character (``log2`` of the number of characters is a uniform guess)
    """
    return _mean_loss(mean_loss_nats) / math.log(2.0)


def _labels(y_true, y_pred):
    """Check two label arrays: 1-d, integer (or bool), the same non-empty shape (N,)."""
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = np.asarray(values)
        if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iub":
            raise ValueError(f"{name} must be a non-empty 1-d integer array of labels (N,), "
                             f"got shape {array.shape} dtype {array.dtype}")
        arrays.append(array.astype(np.int64))
    if arrays[1].shape != arrays[0].shape:
        raise ValueError(f"y_pred must have the shape of y_true (N,) = {arrays[0].shape}, got {arrays[1].shape}")
    return arrays


def confusion_matrix(y_true, y_pred, n_classes):
    """Count each (true class, predicted class) pair.

    Args:
        y_true, y_pred: (N,) integer labels in [0, n_classes)
        n_classes: int >= 1, C

    Returns:
        counts: (C, C) int64, ``counts[i, j]`` = number of examples of class i predicted as j
            (rows are true classes, columns predicted ones; the diagonal holds the correct ones)
    """
    y_true, y_pred = _labels(y_true, y_pred)
    n_classes = check_positive_int("n_classes", n_classes)
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if array.min() < 0 or array.max() >= n_classes:
            raise ValueError(f"{name} must lie in [0, n_classes) = [0, {n_classes}), "
                             f"got values in [{array.min()}, {array.max()}]")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def _ratio(numerator, denominator):
    return float(numerator / denominator) if denominator > 0 else 0.0


def precision_recall_f1(y_true, y_pred, positive=1):
    """Precision, recall and F1 of one class (the ``positive`` one against all others).

    With TP, FP, FN the true positives, false positives and false negatives of that class:
    precision = TP / (TP + FP), recall = TP / (TP + FN) and
    F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of the two.

    Convention for an empty class: a ratio whose denominator is 0 is 0.0 (scikit-learn's
    ``zero_division=0``). So a class that is never predicted has precision 0.0, a class that
    never occurs has recall 0.0, and F1 is 0.0 when TP = FP = FN = 0.

    Args:
        y_true, y_pred: (N,) integer labels
        positive: int, the class whose scores are computed

    Returns:
        precision, recall, f1: floats in [0, 1]
    """
    y_true, y_pred = _labels(y_true, y_pred)
    if isinstance(positive, bool) or not isinstance(positive, (int, np.integer)):
        raise ValueError(f"positive must be an integer label, got {positive!r}")
    is_true, is_pred = y_true == positive, y_pred == positive
    tp = int(np.sum(is_true & is_pred))
    fp = int(np.sum(~is_true & is_pred))
    fn = int(np.sum(is_true & ~is_pred))
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)


def classification_report(y_true, y_pred, n_classes=None):
    """Accuracy, and precision, recall and F1 of every class with their macro averages.

    The per-class scores follow :func:`precision_recall_f1` (0.0 where a denominator is 0).
    The macro average is the plain mean over the C classes, each class counting the same
    whatever its support.

    Args:
        y_true, y_pred: (N,) integer labels in [0, C)
        n_classes: int >= 1, C; None to take the largest label seen plus one

    Returns:
        dict with ``accuracy``: float; ``precision``, ``recall``, ``f1``: (C,) float64;
        ``support``: (C,) int64, the number of true examples of each class; ``macro``: dict
        of the means of ``precision``, ``recall`` and ``f1`` over the C classes
    """
    y_true, y_pred = _labels(y_true, y_pred)
    if n_classes is None:
        n_classes = int(max(y_true.max(), y_pred.max())) + 1
    counts = confusion_matrix(y_true, y_pred, n_classes)
    scores = np.array([precision_recall_f1(y_true, y_pred, positive=c) for c in range(n_classes)])
    precision, recall, f1 = scores[:, 0], scores[:, 1], scores[:, 2]
    return {
        "accuracy": float(np.trace(counts) / y_true.size),
        "precision": precision, "recall": recall, "f1": f1,
        "support": counts.sum(axis=1),
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
    }


def _forecasts(y_true, y_pred):
    """Check two forecast arrays: numeric, finite, the same non-empty shape."""
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = np.asarray(values)
        if array.size == 0 or array.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be a non-empty numeric array, got shape {array.shape} dtype {array.dtype}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must hold finite numbers, got {int(np.sum(~np.isfinite(array)))} "
                             f"nan or inf of {array.size}")
        arrays.append(array.astype(np.float64))
    if arrays[1].shape != arrays[0].shape:
        raise ValueError(f"y_pred must have the shape of y_true {arrays[0].shape}, got {arrays[1].shape}")
    return arrays


def mae(y_true, y_pred):
    """Mean absolute error, ``mean |y_true - y_pred|``, in the units of the series.

    Args:
        y_true, y_pred: arrays of the same shape (any, e.g. (N,) or (N, D)), finite

    Returns:
        float >= 0
    """
    y_true, y_pred = _forecasts(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true, y_pred):
    """Root mean squared error, ``sqrt(mean (y_true - y_pred)^2)``; never smaller than :func:`mae`.

    Args:
        y_true, y_pred: arrays of the same shape, finite

    Returns:
        float >= 0
    """
    y_true, y_pred = _forecasts(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mape(y_true, y_pred):
    """Mean absolute percentage error, ``100 * mean |y_true - y_pred| / |y_true|``, in percent.

    Undefined where a true value is 0, so that raises ``ValueError``. It weighs the same
    absolute error more where the series is small.

    Args:
        y_true: array, finite, no zero; y_pred: array of the same shape, finite

    Returns:
        float >= 0, in percent
    """
    y_true, y_pred = _forecasts(y_true, y_pred)
    zeros = np.flatnonzero(y_true.ravel() == 0)
    if zeros.size:
        raise ValueError(f"y_true must not hold 0 (MAPE divides by it), got {zeros.size} zeros, "
                         f"the first at flat index {zeros[0]}")
    return float(100.0 * np.mean(np.abs(y_true - y_pred) / np.abs(y_true)))
