"""Tests of rnncourse.metrics: small cases computed by hand, the empty-class conventions,
properties over random labels and forecasts (hypothesis), and the errors of bad input."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncourse import metrics

SETTINGS = settings(max_examples=60, deadline=None)


# ---- language models

def test_perplexity_and_bits_by_hand():
    assert metrics.perplexity(0.0) == 1.0
    assert metrics.perplexity(math.log(65)) == pytest.approx(65.0, rel=1e-12)  # uniform over 65 characters
    assert metrics.bits_per_char(math.log(2)) == pytest.approx(1.0, rel=1e-15)
    assert metrics.bits_per_char(math.log(65)) == pytest.approx(math.log2(65), rel=1e-15)
    assert metrics.perplexity(np.float32(1.5)) == pytest.approx(math.exp(1.5), rel=1e-7)


@SETTINGS
@given(st.floats(min_value=0.0, max_value=20.0))
def test_perplexity_is_two_to_the_bits(loss):
    assert metrics.perplexity(loss) == pytest.approx(2.0 ** metrics.bits_per_char(loss), rel=1e-12)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "1.0", None, True, np.array([1.0])])
def test_mean_loss_must_be_a_finite_number_at_least_zero(bad):
    for function in (metrics.perplexity, metrics.bits_per_char):
        with pytest.raises(ValueError, match="mean_loss_nats must be a finite number >= 0"):
            function(bad)


# ---- classification

# TP = 3, FN = 1, FP = 2, TN = 4 for class 1
Y_TRUE = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
Y_PRED = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, Y_PRED, 2), [[4, 2], [1, 3]])
    counts = metrics.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], 3)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(metrics.confusion_matrix([0, 0], [0, 0], 3), [[2, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_precision_recall_f1_by_hand():
    precision, recall, f1 = metrics.precision_recall_f1(Y_TRUE, Y_PRED)
    assert (precision, recall) == (pytest.approx(3 / 5), pytest.approx(3 / 4))
    assert f1 == pytest.approx(2 / 3)  # 2 * 3 / (2 * 3 + 2 + 1)
    precision, recall, f1 = metrics.precision_recall_f1(Y_TRUE, Y_PRED, positive=0)
    assert (precision, recall, f1) == (pytest.approx(4 / 5), pytest.approx(4 / 6), pytest.approx(8 / 11))
    assert metrics.precision_recall_f1(Y_TRUE == 1, Y_PRED == 1, positive=1) == metrics.precision_recall_f1(Y_TRUE, Y_PRED)


@pytest.mark.parametrize("y_true, y_pred, expected", [
    ([1, 0, 1], [0, 0, 0], (0.0, 0.0, 0.0)),  # never predicted: precision 0/0 -> 0, recall 0/2
    ([0, 0, 0], [0, 0, 0], (0.0, 0.0, 0.0)),  # never occurs, never predicted: all three 0/0 -> 0
    ([0, 0, 0], [1, 0, 0], (0.0, 0.0, 0.0)),  # never occurs, predicted once: precision 0/1, recall 0/0
    ([1, 1, 0], [1, 1, 1], (2 / 3, 1.0, 0.8)),  # always predicted: recall 1
    ([1, 1], [1, 1], (1.0, 1.0, 1.0)),
])
def test_empty_class_conventions(y_true, y_pred, expected):
    assert metrics.precision_recall_f1(y_true, y_pred) == pytest.approx(expected)


def test_classification_report_by_hand():
    report = metrics.classification_report(Y_TRUE, Y_PRED)
    assert report["accuracy"] == pytest.approx(0.7)
    np.testing.assert_allclose(report["precision"], [4 / 5, 3 / 5])
    np.testing.assert_allclose(report["recall"], [4 / 6, 3 / 4])
    np.testing.assert_allclose(report["f1"], [8 / 11, 2 / 3])
    np.testing.assert_array_equal(report["support"], [6, 4])
    assert report["macro"] == pytest.approx({"precision": 0.7, "recall": 17 / 24, "f1": 23 / 33})


def test_classification_report_with_a_class_that_never_occurs():
    report = metrics.classification_report([0, 1, 1], [0, 1, 0], n_classes=3)
    np.testing.assert_array_equal(report["support"], [1, 2, 0])
    np.testing.assert_allclose(report["precision"], [0.5, 1.0, 0.0])
    np.testing.assert_allclose(report["recall"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(report["f1"], [2 / 3, 2 / 3, 0.0])
    assert report["macro"]["f1"] == pytest.approx(4 / 9)  # the empty class counts as 0
    assert metrics.classification_report([0, 1, 1], [0, 1, 0])["precision"].shape == (2,)


labels = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 3), min_size=n, max_size=n),
                        st.lists(st.integers(0, 3), min_size=n, max_size=n)))


@SETTINGS
@given(labels)
def test_confusion_matrix_margins(pair):
    y_true, y_pred = np.array(pair[0]), np.array(pair[1])
    counts = metrics.confusion_matrix(y_true, y_pred, 4)
    assert counts.sum() == y_true.size
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(y_true, minlength=4))
    np.testing.assert_array_equal(counts.sum(axis=0), np.bincount(y_pred, minlength=4))
    report = metrics.classification_report(y_true, y_pred, n_classes=4)
    assert report["accuracy"] == pytest.approx(np.mean(y_true == y_pred))


@SETTINGS
@given(labels, st.integers(0, 3))
def test_f1_is_the_harmonic_mean_and_scores_agree_with_the_counts(pair, positive):
    y_true, y_pred = np.array(pair[0]), np.array(pair[1])
    precision, recall, f1 = metrics.precision_recall_f1(y_true, y_pred, positive=positive)
    assert all(0.0 <= value <= 1.0 for value in (precision, recall, f1))
    if precision + recall > 0:
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall))
    else:
        assert f1 == 0.0
    counts = metrics.confusion_matrix(y_true, y_pred, 4)
    column, row = counts[:, positive].sum(), counts[positive].sum()
    assert precision == pytest.approx(counts[positive, positive] / column if column else 0.0)
    assert recall == pytest.approx(counts[positive, positive] / row if row else 0.0)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.confusion_matrix([0, 1], [0, 1, 1], 2), r"y_pred must have the shape of y_true \(N,\) = \(2,\), got \(3,\)"),
    (lambda: metrics.confusion_matrix([[0, 1]], [[0, 1]], 2), r"y_true must be a non-empty 1-d integer array of labels \(N,\), got shape \(1, 2\)"),
    (lambda: metrics.confusion_matrix([0.0, 1.0], [0, 1], 2), r"y_true must be .* got shape \(2,\) dtype float64"),
    (lambda: metrics.confusion_matrix([], [], 2), r"y_true must be a non-empty .* got shape \(0,\)"),
    (lambda: metrics.confusion_matrix([0, 2], [0, 1], 2), r"y_true must lie in \[0, n_classes\) = \[0, 2\), got values in \[0, 2\]"),
    (lambda: metrics.confusion_matrix([0, 1], [-1, 1], 2), r"y_pred must lie in \[0, n_classes\)"),
    (lambda: metrics.confusion_matrix([0, 1], [0, 1], 0), "n_classes must be an integer >= 1, got 0"),
    (lambda: metrics.precision_recall_f1([0, 1], [0, 1], positive=1.0), "positive must be an integer label, got 1.0"),
    (lambda: metrics.precision_recall_f1([0, 1], ["a", "b"]), "y_pred must be .* dtype <U1"),
    (lambda: metrics.classification_report([0, 1], [0, 1], n_classes=1), r"y_true must lie in \[0, n_classes\) = \[0, 1\)"),
])
def test_classification_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- forecasts

def test_forecast_errors_by_hand():
    y_true, y_pred = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])  # errors -1, 0, 3
    assert metrics.mae(y_true, y_pred) == pytest.approx(4 / 3)
    assert metrics.rmse(y_true, y_pred) == pytest.approx(math.sqrt(10 / 3))
    assert metrics.mape(y_true, y_pred) == pytest.approx(100 * (1 / 1 + 0 / 2 + 3 / 4) / 3)
    assert metrics.mape([-2.0, 4.0], [-1.0, 5.0]) == pytest.approx(100 * (0.5 + 0.25) / 2)  # |y_true| below
    assert metrics.mae([[1, 2], [3, 4]], [[1, 2], [3, 6]]) == pytest.approx(0.5)  # any shape, (N, D) here


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
series = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.tuples(st.lists(finite, min_size=n, max_size=n), st.lists(finite, min_size=n, max_size=n)))


@SETTINGS
@given(series, st.floats(min_value=0.01, max_value=100.0))
def test_forecast_error_properties(pair, scale):
    y_true, y_pred = np.array(pair[0]), np.array(pair[1])
    mae, rmse = metrics.mae(y_true, y_pred), metrics.rmse(y_true, y_pred)
    assert 0.0 <= mae <= rmse * (1 + 1e-12) + 1e-12
    assert mae == pytest.approx(metrics.mae(y_pred, y_true))
    assert metrics.mae(scale * y_true, scale * y_pred) == pytest.approx(scale * mae, rel=1e-9, abs=1e-9)
    assert metrics.rmse(y_true, y_true) == 0.0
    if np.all(np.abs(y_true) > 1e-3):
        assert metrics.mape(scale * y_true, scale * y_pred) == pytest.approx(metrics.mape(y_true, y_pred), rel=1e-9)


def test_rmse_equals_mae_when_every_error_has_the_same_size():
    assert metrics.rmse([1.0, 2.0, 3.0], [2.0, 1.0, 4.0]) == metrics.mae([1.0, 2.0, 3.0], [2.0, 1.0, 4.0]) == 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.mae([1.0, 2.0], [1.0, 2.0, 3.0]), r"y_pred must have the shape of y_true \(2,\), got \(3,\)"),
    (lambda: metrics.rmse(np.zeros((2, 3)), np.zeros((3, 2))), r"y_pred must have the shape of y_true \(2, 3\), got \(3, 2\)"),
    (lambda: metrics.mae([], []), r"y_true must be a non-empty numeric array, got shape \(0,\)"),
    (lambda: metrics.rmse([1.0, np.nan], [1.0, 2.0]), "y_true must hold finite numbers, got 1 nan or inf of 2"),
    (lambda: metrics.mae([1.0, 2.0], [np.inf, 2.0]), "y_pred must hold finite numbers"),
    (lambda: metrics.mape([1.0, 0.0, 0.0], [1.0, 2.0, 3.0]), "y_true must not hold 0 .* got 2 zeros, the first at flat index 1"),
    (lambda: metrics.mae(["a"], ["b"]), "y_true must be a non-empty numeric array, got shape \\(1,\\) dtype <U1"),
])
def test_forecast_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
