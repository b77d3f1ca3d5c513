"""Tests of rnncourse.models.many_to_one_loss_and_grads and many_to_one_train_step (assignment 6's
reference): gradients checked against centred differences through the loss, the clipped SGD step
checked against its definition, the inputs left untouched, the loss going down, bad arguments refused."""
import numpy as np
import pytest

from rnncourse import models
from rnncourse.clip import global_norm
from rnncourse.gradcheck import numerical_gradient

NAMES = ("Wx", "Wh", "b", "W_out", "b_out")


def problem(seed=0, N=3, T=4, D=2, H=5, C=3):
    """Seeded inputs of a many-to-one step: x, y, h0 and the five parameters."""
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((N, T, D)), "y": rng.integers(0, C, N), "h0": rng.uniform(-0.5, 0.5, (N, H)),
            "Wx": rng.standard_normal((D, H)) / np.sqrt(D), "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
            "b": rng.standard_normal(H) * 0.1, "W_out": rng.standard_normal((H, C)), "b_out": rng.standard_normal(C)}


@pytest.mark.parametrize("sizes", [{}, {"N": 1, "T": 1, "D": 1, "H": 1, "C": 2}, {"N": 5, "T": 7, "D": 3, "H": 2}])
def test_gradients_match_centred_differences(sizes):
    inputs = problem(**sizes)
    loss, grads = models.many_to_one_loss_and_grads(**inputs)
    assert set(grads) == set(NAMES)
    for name in NAMES:
        def loss_at(value, name=name):
            return models.many_to_one_loss_and_grads(**{**inputs, name: value})[0]
        numeric = numerical_gradient(loss_at, inputs[name])
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)
    # The loss is the mean cross-entropy of the scores of the last state, computed here directly.
    h = inputs["h0"]
    for t in range(inputs["x"].shape[1]):
        h = np.tanh(inputs["x"][:, t] @ inputs["Wx"] + h @ inputs["Wh"] + inputs["b"])
    scores = h @ inputs["W_out"] + inputs["b_out"]
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(len(p)), inputs["y"]]).mean(), rel=1e-12)


def test_step_without_clipping_is_plain_sgd():
    inputs = problem(seed=1)
    _, grads = models.many_to_one_loss_and_grads(**inputs)
    assert global_norm(grads) < 1e3
    loss, *new = models.many_to_one_train_step(**inputs, lr=0.1, max_norm=1e3)
    assert loss == models.many_to_one_loss_and_grads(**inputs)[0]
    for name, value in zip(NAMES, new):
        np.testing.assert_allclose(value, inputs[name] - 0.1 * grads[name], rtol=1e-13, err_msg=name)


def test_step_clips_the_five_gradients_together():
    inputs = problem(seed=2)
    _, grads = models.many_to_one_loss_and_grads(**inputs)
    norm = global_norm(grads)
    max_norm = norm / 4  # clipping is active
    _, *new = models.many_to_one_train_step(**inputs, lr=0.5, max_norm=max_norm)
    steps = {name: (inputs[name] - value) / 0.5 for name, value in zip(NAMES, new)}
    assert global_norm(steps) == pytest.approx(max_norm, rel=1e-5)
    for name in NAMES:  # one factor for all five: the direction of the whole update is kept
        np.testing.assert_allclose(steps[name], grads[name] * max_norm / (norm + 1e-6), rtol=1e-9, atol=1e-12)


def test_inputs_untouched_and_loss_goes_down():
    inputs = problem(seed=3, N=8)
    copies = {k: v.copy() for k, v in inputs.items()}
    params = {k: inputs[k] for k in NAMES}
    losses = []
    for _ in range(30):
        loss, *new = models.many_to_one_train_step(inputs["x"], inputs["y"], inputs["h0"], *params.values(),
                                                   lr=0.5, max_norm=5.0)
        params = dict(zip(NAMES, new))
        losses.append(loss)
    for name, value in inputs.items():
        np.testing.assert_array_equal(value, copies[name], err_msg=name)
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("change, fragment", [
    ({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"max_norm": 0.0}, "max_norm"),
    ({"y": np.array([0, 1, 3])}, "y must"), ({"y": np.array([0.0, 1.0, 2.0])}, "y must"),
    ({"W_out": np.zeros((4, 3))}, "W_out"), ({"x": np.zeros((3, 4))}, "x"),
])
def test_bad_arguments_are_refused(change, fragment):
    arguments = {**problem(), "lr": 0.1, "max_norm": 1.0, **change}
    with pytest.raises(ValueError, match=fragment):
        models.many_to_one_train_step(**arguments)
