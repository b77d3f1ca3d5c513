"""Tests of rnncourse.plots: the figures draw on an Agg canvas and check their arguments."""
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from rnncourse.plots import (  # noqa: E402
    draw_gru_cell,
    draw_lstm_cell,
    draw_lstm_gradient_paths,
    draw_unrolled_rnn,
)


def new_axes():
    """An axes on its own Agg canvas: no pyplot, no global figure state."""
    fig = Figure(figsize=(8, 3))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


@pytest.mark.parametrize("steps", [1, 4, 7])
def test_draw_unrolled_rnn_draws_one_cell_per_step(steps):
    fig, ax = new_axes()
    artists = draw_unrolled_rnn(ax, steps=steps)
    fig.canvas.draw()  # renders every label, so bad mathtext would raise here

    assert len(artists["x_boxes"]) == steps
    assert len(artists["h_boxes"]) == steps
    assert len(artists["input_arrows"]) == steps
    assert len(artists["recurrent_arrows"]) == steps
    # Every returned artist is really on the axes: 2T + 1 boxes (with h0) and 2T arrows.
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 2 * steps + 1
    assert len(arrows) == 2 * steps
    assert artists["h0_box"] in boxes
    assert all(box in boxes for box in artists["x_boxes"] + artists["h_boxes"])

    texts = [t.get_text() for t in ax.texts]
    expected = [label for t in range(1, steps + 1) for label in (f"$x_{{{t}}}$", f"$h_{{{t}}}$")]
    assert artists["labels"] == expected
    assert "$h_0$" in texts and all(label in texts for label in expected)
    assert texts.count("$W_x$") == steps and texts.count("$W_h$") == steps


def test_draw_unrolled_rnn_lays_out_steps_left_to_right_inside_the_limits():
    fig, ax = new_axes()
    artists = draw_unrolled_rnn(ax, steps=5)
    xs = [box.get_x() for box in artists["h_boxes"]]
    assert xs == sorted(xs) and len(set(xs)) == 5
    x_min, x_max = ax.get_xlim()
    y_min, y_max = ax.get_ylim()
    for box in artists["x_boxes"] + artists["h_boxes"] + [artists["h0_box"]]:
        assert x_min <= box.get_x() and box.get_x() + box.get_width() <= x_max
        assert y_min <= box.get_y() and box.get_y() + box.get_height() <= y_max
    # Inputs sit below their states.
    for x_box, h_box in zip(artists["x_boxes"], artists["h_boxes"]):
        assert x_box.get_y() < h_box.get_y()
    assert not ax.axison


@pytest.mark.parametrize("steps", [0, -3, 2.5, "4", True, None])
def test_draw_unrolled_rnn_rejects_bad_steps(steps):
    _, ax = new_axes()
    with pytest.raises(ValueError, match="steps"):
        draw_unrolled_rnn(ax, steps=steps)
    assert not ax.patches  # nothing drawn before the check


def boxes_and_arrows(ax):
    """The rounded boxes and the arrows on ax."""
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return boxes, arrows


def test_draw_lstm_cell_has_pytorchs_four_gates_and_a_cell_path_without_weights():
    fig, ax = new_axes()
    artists = draw_lstm_cell(ax)
    fig.canvas.draw()  # bad mathtext would raise here

    boxes, arrows = boxes_and_arrows(ax)
    assert set(artists["gates"]) == {"i", "f", "g", "o"}
    assert set(artists["states"]) == {"c_prev", "h_prev", "x", "c", "h"}
    assert set(artists["ops"]) == {"forget", "write", "add", "tanh_c", "show"}
    drawn = list(artists["gates"].values()) + list(artists["states"].values()) + list(artists["ops"].values())
    assert all(patch in boxes for patch in drawn) and len(boxes) == len(drawn)
    assert all(arrow in arrows for arrow in artists["arrows"]) and len(arrows) == len(artists["arrows"])
    labels = artists["labels"]
    assert labels["c_prev"] == "$c_{t-1}$" and labels["c"] == "$c_t$" and labels["h"] == "$h_t$"
    # sigmoid for i, f, o and tanh for the candidate g, as in torch.nn.LSTM
    for gate in "ifo":
        assert "sigma" in labels[gate] and f"${gate}_t$" in labels[gate]
    assert labels["g"].startswith("tanh") and "$g_t$" in labels["g"]
    # The cell path runs left to right from c_{t-1} through f * c and + into c_t.
    path = artists["cell_path"]
    assert len(path) == 3
    starts = [a._posA_posB[0][0] for a in path]
    assert starts == sorted(starts)
    assert artists["states"]["c_prev"].get_x() < path[0]._posA_posB[0][0]
    assert path[-1]._posA_posB[1][0] <= artists["states"]["c"].get_x() + 1e-9
    assert any("no weight matrix" in t.get_text() for t in ax.texts)
    assert not ax.axison


def test_draw_gru_cell_has_reset_update_candidate_and_the_reset_after_the_product():
    fig, ax = new_axes()
    artists = draw_gru_cell(ax)
    fig.canvas.draw()

    boxes, arrows = boxes_and_arrows(ax)
    assert set(artists["gates"]) == {"r", "z", "n"}
    assert set(artists["states"]) == {"h_prev", "x", "h"}
    assert set(artists["ops"]) == {"reset", "keep", "one_minus", "take", "add"}
    drawn = list(artists["gates"].values()) + list(artists["states"].values()) + list(artists["ops"].values())
    assert all(patch in boxes for patch in drawn) and len(boxes) == len(drawn)
    assert len(arrows) == len(artists["arrows"])
    labels = artists["labels"]
    assert "sigma" in labels["r"] and "sigma" in labels["z"] and labels["n"].startswith("tanh")
    # PyTorch's form: the reset gate multiplies h W_hn + b_hn, which is written on the drawing.
    texts = [t.get_text() for t in ax.texts]
    assert "$h_{t-1} W^n_h + b^n_h$" in texts
    # r feeds the reset product, which lies between r and n.
    r, reset, n = (artists["gates"]["r"], artists["ops"]["reset"], artists["gates"]["n"])
    assert r.get_x() < reset.get_x() < n.get_x()
    assert len(artists["state_path"]) == 3


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_draw_lstm_gradient_paths_draws_both_paths_between_every_pair_of_steps(steps):
    fig, ax = new_axes()
    artists = draw_lstm_gradient_paths(ax, steps=steps)
    fig.canvas.draw()

    boxes, arrows = boxes_and_arrows(ax)
    assert len(artists["c_boxes"]) == len(artists["h_boxes"]) == steps
    assert len(boxes) == 2 * steps
    for key in ("cell_path", "hidden_path", "gate_path"):
        assert len(artists[key]) == steps - 1
    assert len(artists["h_to_c"]) == steps
    assert len(arrows) == 3 * (steps - 1) + steps
    assert artists["labels"][-2:] == ["$c_{t+1}$", "$h_{t+1}$"]
    assert artists["labels"][-4:-2] == ["$c_{t}$", "$h_{t}$"]
    # Backward: every arrow of both paths points from right to left, c on top of h.
    for arrow in artists["cell_path"] + artists["hidden_path"]:
        (x_start, _), (x_end, _) = arrow._posA_posB
        assert x_end < x_start
    assert all(c.get_y() > h.get_y() for c, h in zip(artists["c_boxes"], artists["h_boxes"]))
    texts = [t.get_text() for t in ax.texts]
    assert "$\\odot f_{t+1}$" in texts


@pytest.mark.parametrize("steps", [1, 0, 2.5, "3", True, None])
def test_draw_lstm_gradient_paths_rejects_bad_steps(steps):
    _, ax = new_axes()
    with pytest.raises(ValueError, match="steps"):
        draw_lstm_gradient_paths(ax, steps=steps)
    assert not ax.patches
