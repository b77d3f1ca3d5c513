"""Tests of rnncourse.plots: the figures draw on an Agg canvas and check their arguments."""
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from rnncourse.plots import draw_unrolled_rnn  # noqa: E402


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
