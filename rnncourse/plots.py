"""Figures of the book, drawn with matplotlib on an ``Axes`` the caller owns.

Every function here draws on the axes it is given and returns the artists it
added; none creates a figure, changes matplotlib's global settings or shows
anything, so a chapter (or a test with the Agg backend) decides what to do with
the drawing. matplotlib is an optional dependency: ``pip install rnncourse[plots]``.
"""
from numbers import Integral

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# Layout of the unrolled picture, in data coordinates.
_BOX_W, _BOX_H = 0.9, 0.6  # size of one box
_STEP_DX = 1.8  # horizontal distance between two time steps
_X_ROW, _H_ROW = 0.0, 1.6  # vertical centre of the input row and of the state row

_INPUT_STYLE = {"facecolor": "#dbe9f6", "edgecolor": "#1f4e79"}
_STATE_STYLE = {"facecolor": "#fde9d0", "edgecolor": "#9c4a00"}
_H0_STYLE = {"facecolor": "white", "edgecolor": "#9c4a00", "linestyle": "--"}


def _box(ax, centre, label, style):
    """Draw one rounded box with a centred label; return ``(patch, text)``."""
    cx, cy = centre
    patch = FancyBboxPatch(
        (cx - _BOX_W / 2, cy - _BOX_H / 2), _BOX_W, _BOX_H,
        boxstyle="round,pad=0.02,rounding_size=0.12", linewidth=1.5, **style,
    )
    ax.add_patch(patch)
    text = ax.text(cx, cy, label, ha="center", va="center", fontsize=13)
    return patch, text


def _arrow(ax, start, end, label, label_offset):
    """Draw an arrow from ``start`` to ``end`` with a label beside its middle."""
    arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, linewidth=1.4, color="#333333")
    ax.add_patch(arrow)
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    text = ax.text(mx + label_offset[0], my + label_offset[1], label, ha="center", va="center",
                   fontsize=11, color="#333333")
    return arrow, text


def draw_unrolled_rnn(ax, steps=4):
    """Draw a recurrent layer unrolled over ``steps`` time steps.

    The bottom row holds the inputs :math:`x_1, \\dots, x_T`, the top row the
    states :math:`h_1, \\dots, h_T`, preceded by the initial state :math:`h_0`
    (dashed). Each input feeds its state through an arrow labelled
    :math:`W_x`; each state feeds the next through an arrow labelled
    :math:`W_h`. A note above the states says that the same :math:`W_x`,
    :math:`W_h` and :math:`b` are used at every step. The axes are switched off
    and their limits set to fit the drawing.

    Args:
        ax: matplotlib axes to draw on (not cleared first)
        steps: number of time steps T to draw, an integer >= 1

    Returns:
        dict of the artists added, keys ``"x_boxes"`` (T patches), ``"h_boxes"``
        (T patches, the state boxes without h0), ``"h0_box"`` (one patch),
        ``"input_arrows"`` (T arrows), ``"recurrent_arrows"`` (T arrows, the
        first one from h0) and ``"labels"`` (the text of every box label, in the
        order x_1, h_1, x_2, h_2, ...)
    """
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)

    h0_patch, _ = _box(ax, (0.0, _H_ROW), "$h_0$", _H0_STYLE)
    artists = {"x_boxes": [], "h_boxes": [], "h0_box": h0_patch,
               "input_arrows": [], "recurrent_arrows": [], "labels": []}
    gap = (_STEP_DX - _BOX_W) / 2
    for t in range(1, steps + 1):
        cx = t * _STEP_DX
        x_patch, x_text = _box(ax, (cx, _X_ROW), f"$x_{{{t}}}$", _INPUT_STYLE)
        h_patch, h_text = _box(ax, (cx, _H_ROW), f"$h_{{{t}}}$", _STATE_STYLE)
        up, _ = _arrow(ax, (cx, _X_ROW + _BOX_H / 2), (cx, _H_ROW - _BOX_H / 2), "$W_x$", (0.3, 0.0))
        right, _ = _arrow(ax, (cx - _STEP_DX + _BOX_W / 2, _H_ROW), (cx - _BOX_W / 2, _H_ROW),
                          "$W_h$", (0.0, 0.22))
        artists["x_boxes"].append(x_patch)
        artists["h_boxes"].append(h_patch)
        artists["input_arrows"].append(up)
        artists["recurrent_arrows"].append(right)
        artists["labels"] += [x_text.get_text(), h_text.get_text()]

    right_edge = steps * _STEP_DX + _BOX_W / 2 + gap
    ax.text((right_edge - _BOX_W / 2 - gap) / 2, _H_ROW + _BOX_H / 2 + 0.45,
            "the same $W_x$, $W_h$, $b$ at every step", ha="center", va="center",
            fontsize=11, style="italic")
    ax.set_xlim(-_BOX_W / 2 - gap, right_edge)
    ax.set_ylim(_X_ROW - _BOX_H / 2 - 0.2, _H_ROW + _BOX_H / 2 + 0.75)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return artists
