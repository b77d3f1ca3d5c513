"""Tests of rnncourse.forecasting: baselines on series whose answer is known, the recurrent
regressor's gradients against numeric ones, scaling, and errors on bad input."""
import numpy as np
import pytest

from rnncourse import forecasting as F
from rnncourse.data import make_windows as windows_of
from rnncourse.gradcheck import numerical_gradient, rel_error


# ---------------------------------------------------------------- baselines

def test_persistence_is_exact_on_a_constant_series():
    X, y = windows_of(np.full(30, 4.25), 5)
    np.testing.assert_array_equal(F.persistence_forecast(X), y)


def test_persistence_returns_the_last_step_of_the_chosen_columns():
    X = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    np.testing.assert_array_equal(F.persistence_forecast(X, target_columns=[2, 0]), X[:, -1][:, [2, 0]])


def test_seasonal_naive_is_exact_on_a_periodic_series_and_persistence_is_not():
    pattern = np.array([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0])
    series = np.tile(pattern, 10)
    X, y = windows_of(series, 12)
    np.testing.assert_array_equal(F.seasonal_naive_forecast(X, period=7), y)
    assert np.abs(F.persistence_forecast(X) - y).max() > 1


def test_seasonal_naive_reads_the_same_season_for_a_longer_horizon():
    series = np.tile(np.arange(5.0), 8)
    W, horizon = 6, 3
    X, y = windows_of(series, W, horizon)
    np.testing.assert_array_equal(F.seasonal_naive_forecast(X, period=5, horizon=horizon), y)


def test_seasonal_naive_with_period_one_is_persistence():
    X = np.random.default_rng(0).standard_normal((4, 3, 2))
    np.testing.assert_array_equal(F.seasonal_naive_forecast(X, 1), F.persistence_forecast(X))


def test_linear_ar_recovers_the_coefficients_of_a_simulated_ar2():
    rng = np.random.default_rng(0)
    phi1, phi2, c = 0.6, -0.3, 0.5
    x = np.zeros(20000)
    for t in range(2, len(x)):
        x[t] = c + phi1 * x[t - 1] + phi2 * x[t - 2] + rng.standard_normal()
    X, y = windows_of(x[100:], 2)
    model = F.fit_linear_ar(X, y)
    # window step 0 is the older value (lag 2), step 1 the newer (lag 1)
    np.testing.assert_allclose(model.coef[:, 0], [phi2, phi1], atol=0.02)
    np.testing.assert_allclose(model.intercept, [c], atol=0.03)
    np.testing.assert_allclose(F.linear_ar_forecast(model, X[:3]),
                               X[:3, :, 0] @ model.coef + model.intercept)


def test_linear_ar_is_exact_on_a_noise_free_linear_recursion_with_two_features():
    rng = np.random.default_rng(1)
    A = np.array([[0.5, 0.2], [-0.1, 0.7]])
    s = np.zeros((60, 2))
    s[0] = rng.standard_normal(2)
    for t in range(1, 60):
        s[t] = s[t - 1] @ A + 1.0
    X, y = windows_of(s, 1)
    model = F.fit_linear_ar(X, y)
    np.testing.assert_allclose(model.coef, A, atol=1e-8)
    np.testing.assert_allclose(model.intercept, [1.0, 1.0], atol=1e-8)


def test_ridge_shrinks_the_coefficients():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((50, 4, 1)), rng.standard_normal(50)
    plain = F.fit_linear_ar(X, y)
    shrunk = F.fit_linear_ar(X, y, ridge=100.0)
    assert np.linalg.norm(shrunk.coef) < 0.5 * np.linalg.norm(plain.coef)


# ---------------------------------------------------------------- scaling

def test_scaler_uses_only_what_it_is_given_and_unscale_inverts_scale():
    rng = np.random.default_rng(3)
    series = rng.standard_normal((100, 3)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]
    scaler = F.fit_scaler(series[:70])
    np.testing.assert_allclose(scaler.mean, series[:70].mean(axis=0))
    scaled = F.scale(series, scaler)
    np.testing.assert_allclose(scaled[:70].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled[:70].std(axis=0), 1)
    np.testing.assert_allclose(F.unscale(scaled, scaler), series)
    np.testing.assert_allclose(F.unscale(scaled[:, [1]], scaler, columns=[1]), series[:, [1]])


# ---------------------------------------------------------------- recurrent regressor

@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("fast", [False, True])
def test_regressor_gradients_match_numeric_ones(cell, fast):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 2))
    params = F.init_regressor(cell, 2, 3, 2, rng)
    loss, grads = F.regressor_loss_and_grads(params, (X, y), fast=fast)
    assert set(grads) == set(params)
    for name, value in params.items():
        def loss_at(v, name=name):
            return F.regressor_loss_and_grads({**params, name: v}, (X, y), fast=fast)[0]
        numeric = numerical_gradient(loss_at, value)
        # element-wise relative error, loose enough for entries near 1e-6 where the centred
        # difference's own rounding (about 1e-11) shows; plus a tight bound against the largest entry
        assert rel_error(grads[name], numeric) < 1e-5, (cell, name)
        assert np.abs(grads[name] - numeric).max() < 1e-7 * np.abs(numeric).max(), (cell, name)
    forecast = F.regressor_forward(params, X, fast=fast)
    assert forecast.shape == (3, 2)
    assert loss == pytest.approx(np.mean((forecast - y) ** 2))


def test_regressor_learns_a_noise_free_series_and_keeps_the_best_epoch():
    t = np.arange(400)
    series = np.sin(2 * np.pi * t / 16)
    X, y = windows_of(series, 8)
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    params, history = F.train_regressor("gru", X_train, y_train, X_val, y_val, hidden_size=8,
                                        epochs=15, seed=0, lr=0.02)
    best = history["best_epoch"]
    assert 1 <= best <= 15
    final_mse = np.mean((F.regressor_forward(params, X_val) - y_val) ** 2)
    assert final_mse == pytest.approx(history["eval"][best - 1])
    assert final_mse == pytest.approx(min(history["eval"]))
    assert final_mse < 0.05 * np.var(y_val)


def test_training_is_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((40, 5, 1)), rng.standard_normal((40, 1))
    a, _ = F.train_regressor("rnn", X[:30], y[:30], X[30:], y[30:], 4, 3, seed=7)
    b, _ = F.train_regressor("rnn", X[:30], y[:30], X[30:], y[30:], 4, 3, seed=7)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_forecast_bias_has_a_sign():
    assert F.forecast_bias([100.0, 50.0], [105.0, 58.0]) == pytest.approx(6.5)
    assert F.forecast_bias([1.0, 2.0], [0.0, 1.0]) == pytest.approx(-1.0)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, message", [
    (lambda: F.persistence_forecast(np.zeros((4, 3))), r"X must have shape \(N, W, D\).*\(4, 3\)"),
    (lambda: F.persistence_forecast(np.zeros((0, 3, 1))), r"X must have shape .*\(0, 3, 1\)"),
    (lambda: F.persistence_forecast(np.zeros((2, 3, 2)), target_columns=[2]), r"target_columns .*\[0, 2\)"),
    (lambda: F.seasonal_naive_forecast(np.zeros((2, 5, 1)), 7), r"period must satisfy .* 5 .*got period 7"),
    (lambda: F.seasonal_naive_forecast(np.zeros((2, 5, 1)), 2, horizon=3), r"period must satisfy"),
    (lambda: F.seasonal_naive_forecast(np.zeros((2, 5, 1)), 0), r"period must be an integer >= 1"),
    (lambda: F.fit_linear_ar(np.zeros((5, 2, 1)), np.zeros(4)), r"y must have shape \(N, K\) = \(5, K\).*\(4, 1\)"),
    (lambda: F.fit_linear_ar(np.zeros((5, 2, 1)), np.zeros(5), ridge=-1.0), r"ridge must be"),
    (lambda: F.fit_linear_ar(np.zeros((5, 2, 1)), np.zeros(5), ridge="1"), r"ridge must be a finite number >= 0, got '1'"),
    (lambda: F.linear_ar_forecast(F.LinearAR(np.zeros((2, 1)), np.zeros(1)), np.zeros((3, 3, 1))),
     r"X must have W\*D = 2 .*\(3, 3, 1\)"),
    (lambda: F.fit_scaler(np.ones((10, 2))), r"train_series must vary"),
    (lambda: F.fit_scaler(np.ones(1)), r"train_series must have shape .*T >= 2.*\(1,\)"),
    (lambda: F.scale(np.zeros((4, 3)), F.Scaler(np.zeros(2), np.ones(2))), r"values must end in D = 2.*\(4, 3\)"),
    (lambda: F.persistence_forecast(np.array([[["a"]]])), r"X must be a numeric array"),
    (lambda: F.forecast_bias([1.0, 2.0], [1.0]), r"y_pred must have the shape of y_true \(2,\).*\(1,\)"),
    (lambda: F.init_regressor("elman", 2, 3, 1, np.random.default_rng(0)), r"cell must be one of"),
    (lambda: F.init_regressor("gru", 2, 3, 1, 0), r"rng must be a numpy.random.Generator"),
    (lambda: F.regressor_loss_and_grads(F.init_regressor("rnn", 2, 3, 1, np.random.default_rng(0)),
                                        (np.zeros((4, 5, 2)), np.zeros((4, 2)))), r"y must have K = 1 .*\(4, 2\)"),
    (lambda: F.train_regressor("gru", np.zeros((6, 4, 2)), np.zeros(6), np.zeros((3, 5, 2)), np.zeros(3), 2, 1, 0),
     r"X_val, y_val must have windows \(W, D\) = \(4, 2\)"),
])
def test_bad_input_raises_a_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
