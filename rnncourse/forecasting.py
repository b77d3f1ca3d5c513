"""Forecasting one step ahead: baselines and small recurrent regressors (chapter 6).

Every forecaster here reads windows ``X`` of shape (N, W, D) — N windows of W past steps of D
features, as made by :func:`rnncourse.data.make_windows` — and returns forecasts of shape
(N, K) for K target features.

* Baselines: :func:`persistence_forecast` (tomorrow equals today), :func:`seasonal_naive_forecast`
  (equals the value one period before the target) and a linear autoregressive model fitted by
  least squares, :func:`fit_linear_ar` / :func:`linear_ar_forecast`.
* Recurrent regressors: a many-to-one RNN, GRU or LSTM whose last state goes through a linear
  head, trained on the mean squared error (:func:`init_regressor`, :func:`regressor_forward`,
  :func:`regressor_loss_and_grads`, :func:`train_regressor`).
* Scaling fitted on the training part only: :func:`fit_scaler`, :func:`scale`, :func:`unscale`.
* :func:`forecast_bias`: the mean signed error, which MAE, RMSE and MAPE do not show.
"""
from typing import NamedTuple

import numpy as np

from rnncourse import layers as L
from rnncourse import models
from rnncourse._validate import as_float_array, check_generator, check_non_negative, check_positive_int

__all__ = ["persistence_forecast", "seasonal_naive_forecast", "fit_linear_ar", "linear_ar_forecast",
           "LinearAR", "Scaler", "fit_scaler", "scale", "unscale", "init_regressor", "regressor_forward",
           "regressor_loss_and_grads", "train_regressor", "forecast_bias"]


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------

def _windows(name, X):
    """X as a float (N, W, D) array with N, W, D >= 1, or ValueError."""
    X = as_float_array(name, X)
    if X.ndim != 3 or 0 in X.shape:
        raise ValueError(f"{name} must have shape (N, W, D) with N, W, D >= 1, got shape {X.shape}")
    return X


def _targets_of(name, y, N):
    """y as a float (N, K) array (a (N,) vector becomes (N, 1)), or ValueError."""
    y = as_float_array(name, y)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != N or y.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, K) = ({N}, K) with K >= 1, got shape {y.shape}")
    return y


def _columns(target_columns, D):
    """Target feature indices as an int array within [0, D), or ValueError."""
    if target_columns is None:
        return np.arange(D)
    columns = np.atleast_1d(np.asarray(target_columns))
    if columns.dtype.kind not in "iu" or columns.ndim != 1 or columns.size == 0 \
            or columns.min() < 0 or columns.max() >= D:
        raise ValueError(f"target_columns must be indices in [0, {D}) of the D = {D} features, "
                         f"got {target_columns!r}")
    return columns


# ----------------------------------------------------------------------------
# Baselines
# ----------------------------------------------------------------------------

def persistence_forecast(X, target_columns=None):
    """The naive forecast: the next value equals the last one seen.

    Args:
        X: (N, W, D) windows
        target_columns: indices of the K features to forecast (default: all D)

    Returns:
        forecast: (N, K), ``X[:, -1, target_columns]``
    """
    X = _windows("X", X)
    return X[:, -1, _columns(target_columns, X.shape[2])]


def seasonal_naive_forecast(X, period, horizon=1, target_columns=None):
    """The seasonal naive forecast: the value one period before the target.

    The target of a window lies ``horizon`` steps after its last step, i.e. at window position
    ``W - 1 + horizon``; one period earlier is position ``W - 1 + horizon - period``, which must
    lie inside the window.

    Args:
        X: (N, W, D) windows
        period: int >= 1, the season length in steps (12 for monthly data with a yearly cycle)
        horizon: int >= 1, steps from the window's last step to the target
        target_columns: indices of the K features to forecast (default: all D)

    Returns:
        forecast: (N, K)
    """
    X = _windows("X", X)
    check_positive_int("period", period)
    check_positive_int("horizon", horizon)
    W = X.shape[1]
    position = W - 1 + horizon - period
    if not 0 <= position < W:
        raise ValueError(f"period must satisfy horizon <= period <= W - 1 + horizon = {W - 1 + horizon} "
                         f"(the same season must lie inside the window of W = {W} steps), got period {period}")
    return X[:, position, _columns(target_columns, X.shape[2])]


class LinearAR(NamedTuple):
    """A linear autoregressive model: ``forecast = X.reshape(N, W*D) @ coef + intercept``."""

    coef: np.ndarray       # (W*D, K); row w*D + d weights feature d at window step w (oldest first)
    intercept: np.ndarray  # (K,)


def fit_linear_ar(X, y, ridge=0.0):
    """Fit a linear autoregressive model by (ridge-regularised) least squares.

    Minimises ``sum ||X_n.flatten() @ coef + intercept - y_n||^2 + ridge * ||coef||^2`` (the
    intercept is not penalised); with ``ridge=0`` this is ordinary least squares, solved with
    ``numpy.linalg.lstsq``.

    Args:
        X: (N, W, D) training windows; y: (N, K) or (N,) their targets
        ridge: float >= 0

    Returns:
        model: :class:`LinearAR` with coef (W*D, K) and intercept (K,)
    """
    X = _windows("X", X)
    y = _targets_of("y", y, X.shape[0])
    ridge = check_non_negative("ridge", ridge)
    N, W, D = X.shape
    features = X.reshape(N, W * D)
    mean_x, mean_y = features.mean(axis=0), y.mean(axis=0)
    centred_x, centred_y = features - mean_x, y - mean_y
    if ridge > 0:
        centred_x = np.vstack([centred_x, np.sqrt(ridge) * np.eye(W * D)])
        centred_y = np.vstack([centred_y, np.zeros((W * D, y.shape[1]))])
    coef = np.linalg.lstsq(centred_x, centred_y, rcond=None)[0]
    return LinearAR(coef, mean_y - mean_x @ coef)


def linear_ar_forecast(model, X):
    """Forecasts of a :class:`LinearAR` model.

    Args:
        model: :class:`LinearAR` (coef (W*D, K), intercept (K,)); X: (N, W, D) windows

    Returns:
        forecast: (N, K)
    """
    X = _windows("X", X)
    N, W, D = X.shape
    if model.coef.shape[0] != W * D:
        raise ValueError(f"X must have W*D = {model.coef.shape[0]} values per window like the training "
                         f"windows, got shape {X.shape}")
    return X.reshape(N, W * D) @ model.coef + model.intercept


# ----------------------------------------------------------------------------
# Scaling, fitted on the training part only
# ----------------------------------------------------------------------------

class Scaler(NamedTuple):
    """Per-feature mean and standard deviation of the training part."""

    mean: np.ndarray  # (D,)
    std: np.ndarray   # (D,)


def fit_scaler(train_series):
    """Mean and standard deviation of each feature over the training part of a series.

    Fit on the training part only: statistics of the validation or test part would tell the
    model something about the future it is asked to forecast.

    Args:
        train_series: (T,) or (T, D) training part, T >= 2

    Returns:
        scaler: :class:`Scaler` with mean and std of shape (D,)
    """
    series = as_float_array("train_series", train_series)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2 or series.shape[0] < 2 or series.shape[1] == 0:
        raise ValueError(f"train_series must have shape (T,) or (T, D) with T >= 2, got shape "
                         f"{np.shape(train_series)}")
    std = series.std(axis=0)
    if np.any(std == 0) or not np.all(np.isfinite(std)):
        raise ValueError(f"train_series must vary in every feature (finite, std > 0), got std {std}")
    return Scaler(series.mean(axis=0), std)


def _check_scaler(scaler, values, name):
    if values.shape[-1] != scaler.mean.shape[0]:
        raise ValueError(f"{name} must end in D = {scaler.mean.shape[0]} features like the scaler, "
                         f"got shape {values.shape}")


def scale(values, scaler):
    """``(values - mean) / std`` along the last axis, of shape (..., D)."""
    values = as_float_array("values", values)
    _check_scaler(scaler, values, "values")
    return (values - scaler.mean) / scaler.std


def unscale(values, scaler, columns=None):
    """Undo :func:`scale` for the features ``columns`` (default all): values of shape (..., K)."""
    values = as_float_array("values", values)
    columns = _columns(columns, scaler.mean.shape[0])
    if values.shape[-1] != columns.size:
        raise ValueError(f"values must end in K = {columns.size} features (the columns), got shape {values.shape}")
    return values * scaler.std[columns] + scaler.mean[columns]


# ----------------------------------------------------------------------------
# Recurrent many-to-one regressors
# ----------------------------------------------------------------------------

def init_regressor(cell, input_size, hidden_size, output_size, rng):
    """Parameters of a many-to-one recurrent regressor.

    Args:
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``
        input_size: D; hidden_size: H; output_size: K (ints >= 1); rng: numpy Generator

    Returns:
        params: the cell's parameters (:func:`rnncourse.layers.init_cell_params`) and the head
        ``W_out`` (H, K), ``b_out`` (K,) (zero bias, weights uniform in +-1/sqrt(H))
    """
    check_positive_int("output_size", output_size)
    params = L.init_cell_params(cell, input_size, hidden_size, check_generator(rng))
    bound = 1.0 / np.sqrt(hidden_size)
    params["W_out"] = rng.uniform(-bound, bound, (hidden_size, output_size))
    params["b_out"] = np.zeros(output_size)
    return params


def _split(params):
    cell_params = {k: v for k, v in params.items() if k not in ("W_out", "b_out")}
    return models.cell_of(cell_params), cell_params


def _last_state(params, X, fast):
    cell, cell_params = _split(params)
    H = np.shape(params["W_out"])[0]
    h, cache = L.recurrent_forward(cell, X, np.zeros((X.shape[0], H)), cell_params, fast=fast)
    return h, cache


def regressor_forward(params, X, fast=True):
    """Forecasts of a recurrent regressor: the last state through the linear head.

    Args:
        params: dict from :func:`init_regressor`; X: (N, W, D) (scaled) windows
        fast: use :mod:`rnncourse.fast` (same numbers)

    Returns:
        forecast: (N, K) = ``h[:, -1] @ W_out + b_out``
    """
    X = _windows("X", X)
    h, _ = _last_state(params, X, fast)
    return h[:, -1] @ params["W_out"] + params["b_out"]


def regressor_loss_and_grads(params, batch, fast=True):
    """Mean squared error of a recurrent regressor, and its gradients.

    ``loss = mean over n, k of (forecast[n, k] - y[n, k])**2``.

    Args:
        params: dict from :func:`init_regressor`
        batch: tuple ``(X, y)``: (N, W, D) windows and (N, K) targets
        fast: use :mod:`rnncourse.fast`

    Returns:
        loss: float; grads: dict keyed like ``params``
    """
    X, y = batch
    X = _windows("X", X)
    y = _targets_of("y", y, X.shape[0])
    K = np.shape(params["W_out"])[1]
    if y.shape[1] != K:
        raise ValueError(f"y must have K = {K} columns like W_out (H, K), got shape {y.shape}")
    h, cache = _last_state(params, X, fast)
    last = h[:, -1]
    error = last @ params["W_out"] + params["b_out"] - y        # (N, K)
    loss = float(np.mean(error ** 2))
    dforecast = 2.0 * error / error.size                        # (N, K)
    dh = np.zeros_like(h)
    dh[:, -1] = dforecast @ params["W_out"].T
    _, _, grads = L.recurrent_backward(dh, cache)
    grads["W_out"] = last.T @ dforecast
    grads["b_out"] = dforecast.sum(axis=0)
    return loss, grads


def train_regressor(cell, X_train, y_train, X_val, y_val, hidden_size, epochs, seed, lr=0.01,
                    batch_size=32, max_norm=1.0, fast=True):
    """Train a recurrent regressor with :func:`rnncourse.models.train`, keeping the best epoch (``keep_best="min"``).

    Adam with the gradient norm clipped to ``max_norm``, shuffled minibatches; after every epoch
    the validation MSE is measured and the parameters of the epoch with the lowest one are kept
    (early stopping on the validation part; the test part is never seen).

    Args:
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``
        X_train, y_train: (N, W, D), (N, K) scaled training windows and targets
        X_val, y_val: (M, W, D), (M, K) scaled validation windows and targets
        hidden_size, epochs: ints >= 1; seed: int, seeds the initialisation and the shuffling
        lr, batch_size, max_norm, fast: as in :func:`rnncourse.models.train`

    Returns:
        params: the parameters of the best epoch
        history: ``models.train``'s history (``eval`` is the validation MSE, ``best_epoch`` 1-based)
    """
    X_train = _windows("X_train", X_train)
    y_train = _targets_of("y_train", y_train, X_train.shape[0])
    X_val = _windows("X_val", X_val)
    y_val = _targets_of("y_val", y_val, X_val.shape[0])
    if X_val.shape[1:] != X_train.shape[1:] or y_val.shape[1] != y_train.shape[1]:
        raise ValueError(f"X_val, y_val must have windows (W, D) = {X_train.shape[1:]} and K = "
                         f"{y_train.shape[1]} like the training part, got {X_val.shape} and {y_val.shape}")
    rng = np.random.default_rng(seed)
    params = init_regressor(cell, X_train.shape[2], hidden_size, y_train.shape[1], rng)

    def validation_mse(current):
        return float(np.mean((regressor_forward(current, X_val, fast) - y_val) ** 2))

    return models.train(lambda p, batch: regressor_loss_and_grads(p, batch, fast), params,
                        lambda epoch: models.minibatches((X_train, y_train), batch_size, rng),
                        epochs, lr, max_norm=max_norm, evaluate=validation_mse, verbose=False, keep_best="min")


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------

def forecast_bias(y_true, y_pred):
    """Mean signed error ``mean(y_pred - y_true)``: positive when the forecasts are too high.

    MAE, RMSE and MAPE are blind to the sign; a forecaster whose errors all point one way
    has a bias that these measures do not show.

    Args:
        y_true, y_pred: arrays of the same shape, at least one value

    Returns:
        bias: float
    """
    y_true = as_float_array("y_true", y_true)
    y_pred = as_float_array("y_pred", y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"y_pred must have the shape of y_true {y_true.shape} (non-empty), got {y_pred.shape}")
    return float(np.mean(y_pred - y_true))
