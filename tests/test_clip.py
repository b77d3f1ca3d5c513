"""Unit tests of rnncourse.clip: hand-computed cases, properties, no mutation, ValueErrors."""
import numpy as np
import pytest

from rnncourse import clip


def test_global_norm_by_hand():
    assert clip.global_norm((np.array([[3.0, 0.0], [0.0, 0.0]]), np.array([4.0, 0.0]))) == 5.0
    assert clip.global_norm({"a": np.array([1.0, 2.0, 2.0])}) == 3.0


def test_clip_grad_norm_by_hand():
    g = {"W": np.array([[3.0, 0.0], [0.0, 0.0]]), "b": np.array([4.0, 0.0])}
    clipped, total = clip.clip_grad_norm(g, 1.0)
    assert total == 5.0
    assert set(clipped) == {"W", "b"}
    np.testing.assert_allclose(clipped["W"], [[3 / (5 + 1e-6), 0], [0, 0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(clipped["b"], [4 / (5 + 1e-6), 0], rtol=0, atol=1e-15)


def test_clipped_norm_is_max_norm_and_direction_is_kept():
    rng = np.random.default_rng(0)
    grads = (rng.standard_normal((4, 5)) * 10, rng.standard_normal(5) * 10)
    for max_norm in (0.1, 1.0, 7.5):
        clipped, total = clip.clip_grad_norm(grads, max_norm)
        assert isinstance(clipped, tuple)
        np.testing.assert_allclose(clip.global_norm(clipped), max_norm * total / (total + 1e-6), rtol=1e-12)
        assert abs(clip.global_norm(clipped) - max_norm) < 1e-6 * max_norm
        flat, flat_c = np.concatenate([g.ravel() for g in grads]), np.concatenate([g.ravel() for g in clipped])
        assert flat @ flat_c / (np.linalg.norm(flat) * np.linalg.norm(flat_c)) == pytest.approx(1.0, abs=1e-14)


def test_small_gradients_unchanged_and_container_kept():
    grads = [np.array([0.1, -0.2]), np.array([[0.05]])]
    clipped, total = clip.clip_grad_norm(grads, 1.0)
    assert isinstance(clipped, list)
    for g, c in zip(grads, clipped):
        np.testing.assert_array_equal(g, c)
        assert c is not g
    assert total == pytest.approx(np.sqrt(0.01 + 0.04 + 0.0025), rel=1e-15)


def test_clip_grad_value_by_hand():
    g = (np.array([[3.0, -0.5], [-2.0, 1.0]]), np.array([0.2]))
    c = clip.clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(c[0], [[1.0, -0.5], [-1.0, 1.0]])
    np.testing.assert_array_equal(c[1], [0.2])
    d = clip.clip_grad_value({"x": np.array([5.0, -5.0])}, 2)
    np.testing.assert_array_equal(d["x"], [2.0, -2.0])


def test_inputs_are_not_modified():
    rng = np.random.default_rng(1)
    grads = {"a": rng.standard_normal((3, 3)) * 100, "b": rng.standard_normal(3) * 100}
    before = {k: v.copy() for k, v in grads.items()}
    clip.clip_grad_norm(grads, 1.0)
    clip.clip_grad_value(grads, 0.5)
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


@pytest.mark.parametrize("bad", [0, -1.0, np.inf, np.nan, "1", None, True])
def test_bad_thresholds(bad):
    with pytest.raises(ValueError, match="max_norm"):
        clip.clip_grad_norm((np.ones(2),), bad)
    with pytest.raises(ValueError, match="clip_value"):
        clip.clip_grad_value((np.ones(2),), bad)


def test_bad_containers():
    with pytest.raises(ValueError, match="grads"):
        clip.clip_grad_norm(np.ones(3), 1.0)
    with pytest.raises(ValueError, match=r"grads\[1\]"):
        clip.global_norm((np.ones(2), np.array(["a"])))
