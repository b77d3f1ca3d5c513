"""Realistic bugs of ps6_applications, for tests/test_nbgrader_end_to_end.py.

Each bug: (student id, text in a solution cell, its replacement, test cells that must fail,
test cells that must keep their points). The text must occur in a solution cell of the source notebook.
Here every test cell a bug does not list as failing must keep its points, so each bug loses exactly
the cells listed. The sampler calls the student's own softmax_with_temperature, so a bug in the
softmax reaches the sampler's cells too, where its cases can see it.
"""
FUNCTIONS = {  # function -> its test cells (grade ids without the "test_" prefix and function name)
    "softmax_with_temperature": ("main", "large_logits", "edges", "hidden"),
    "sample_with_temperature": ("main", "temperatures", "edges", "hidden"),
    "perplexity_from_loss": ("main", "edges", "hidden"),
    "bits_per_char": ("main", "edges", "hidden"),
    "precision_recall_f1": ("main", "zero_division", "edges", "hidden"),
    "split_windows_in_time_order": ("main", "multivariate", "edges", "hidden"),
    "many_to_one_train_step": ("main", "clipping", "edges", "hidden"),
}
TEST_CELLS = {f"test_{function}_{cell}" for function, cells in FUNCTIONS.items() for cell in cells}


def bug(student, old, new, *failing):
    """A bug that fails exactly the test cells ``failing`` ("function" for all its cells, or "function:cell")."""
    must_fail = set()
    for name in failing:
        function, _, cell = name.partition(":")
        must_fail |= {f"test_{function}_{c}" for c in ((cell,) if cell else FUNCTIONS[function])}
    assert must_fail <= TEST_CELLS, must_fail - TEST_CELLS
    return student, old, new, must_fail, TEST_CELLS - must_fail


SPLIT_TAIL = """    parts = [series[:train_end], series[train_end:val_end], series[val_end:]]
    result = []
    for name, part in zip(["training", "validation", "test"], parts):
        if len(part) < window + horizon:
            raise ValueError(f"the {name} part has {len(part)} steps, fewer than window + horizon = {window + horizon}")
        result.extend(make_windows(part, window, horizon))
    return tuple(result)"""

BUGS = [
    # The logits multiplied by the temperature: right at temperature 1 only (the sampler's main case).
    bug("bug_temperature_multiplied", "scaled = logits / temperature", "scaled = logits * temperature",
        "softmax_with_temperature", "sample_with_temperature:temperatures", "sample_with_temperature:hidden"),
    # No max shift: exp overflows on large logits / small temperatures (the sampler's logits stay small).
    bug("bug_softmax_without_max_shift", "shifted = scaled - scaled.max(axis=1, keepdims=True)", "shifted = scaled",
        "softmax_with_temperature:large_logits"),
    # A temperature <= 0 not refused: the cases that expect ValueError get numbers back.
    bug("bug_temperature_not_checked",
        '    if not temperature > 0:\n        raise ValueError(f"temperature must be > 0, got {temperature}")\n', "",
        "softmax_with_temperature:edges", "softmax_with_temperature:hidden", "sample_with_temperature:edges",
        "sample_with_temperature:hidden"),
    # "Sampling" that always takes the most probable token (right for one draw and for V=1).
    bug("bug_sampling_takes_argmax",
        "    cumulative = probs.cumsum(axis=1)\n    u = rng.random((len(probs), 1)) * cumulative[:, -1:]\n"
        "    return np.minimum((cumulative <= u).sum(axis=1), probs.shape[1] - 1)",
        "    return probs.argmax(axis=1)",
        "sample_with_temperature:main", "sample_with_temperature:temperatures", "sample_with_temperature:hidden"),
    # One uniform number shared by every row: identical rows all get the same token.
    bug("bug_sampling_one_number_for_all_rows", "u = rng.random((len(probs), 1)) * cumulative[:, -1:]",
        "u = rng.random() * cumulative[:, -1:]",
        "sample_with_temperature:main", "sample_with_temperature:temperatures", "sample_with_temperature:hidden"),
    # Perplexity in base 2 (2 ** loss) from a loss in nats.
    bug("bug_perplexity_base_2", "return float(np.exp(mean_loss_nats))", "return float(2 ** mean_loss_nats)",
        "perplexity_from_loss"),
    # Nats to bits multiplied by ln 2 instead of divided.
    bug("bug_bits_times_ln2", "return float(mean_loss_nats / np.log(2))", "return float(mean_loss_nats * np.log(2))",
        "bits_per_char"),
    # Precision and recall returned in each other's place (both 0 in the zero-division cases, so those pass).
    bug("bug_precision_recall_swapped", "return float(precision), float(recall), float(f1)",
        "return float(recall), float(precision), float(f1)",
        "precision_recall_f1:main", "precision_recall_f1:edges", "precision_recall_f1:hidden"),
    # 0 / 0 left to numpy: NaN when nothing is predicted positive.
    bug("bug_precision_zero_division_nan",
        "precision = true_positive / predicted_positive if predicted_positive > 0 else 0.0",
        "precision = true_positive / predicted_positive",
        "precision_recall_f1:zero_division", "precision_recall_f1:hidden"),
    # The training boundary rounded down (int) instead of to the nearest step: right wherever both agree (the
    # main, multivariate and hidden cases), wrong in the edge case whose boundary is 33 * 0.6 = 19.8.
    bug("bug_boundary_rounded_down", "train_end = round(T * train_fraction)", "train_end = int(T * train_fraction)",
        "split_windows_in_time_order:edges"),
    # Windows made from the whole series, then split by count: training windows reach into the validation span.
    bug("bug_windows_before_split", SPLIT_TAIL,
        "    X, y = make_windows(series, window, horizon)\n"
        "    n_train, n_val = int(len(X) * train_fraction), int(len(X) * val_fraction)\n"
        "    return (X[:n_train], y[:n_train], X[n_train:n_train + n_val], y[n_train:n_train + n_val],\n"
        "            X[n_train + n_val:], y[n_train + n_val:])",
        "split_windows_in_time_order"),
    # Windows shuffled before the split.
    bug("bug_windows_shuffled_before_split", SPLIT_TAIL,
        "    X, y = make_windows(series, window, horizon)\n"
        "    order = np.random.default_rng(0).permutation(len(X))\n"
        "    X, y = X[order], y[order]\n"
        "    n_train, n_val = int(len(X) * train_fraction), int(len(X) * val_fraction)\n"
        "    return (X[:n_train], y[:n_train], X[n_train:n_train + n_val], y[n_train:n_train + n_val],\n"
        "            X[n_train + n_val:], y[n_train + n_val:])",
        "split_windows_in_time_order"),
    # The target off by one: the window's own last value instead of the value horizon steps later.
    bug("bug_window_target_off_by_one", "y = np.stack([part[i + window + horizon - 1]",
        "y = np.stack([part[i + window - 1]", "split_windows_in_time_order"),
    # Each gradient clipped on its own (right when no clipping happens: main and edges).
    bug("bug_clip_each_gradient_alone",
        "new = [params[k] - lr * scale * grads[k] for k",
        "new = [params[k] - lr * min(1.0, max_norm / np.sqrt(np.sum(grads[k] ** 2))) * grads[k] for k",
        "many_to_one_train_step:clipping", "many_to_one_train_step:hidden"),
    # The update made with the gradients before clipping.
    bug("bug_update_before_clipping", "new = [params[k] - lr * scale * grads[k] for k",
        "new = [params[k] - lr * grads[k] for k",
        "many_to_one_train_step:clipping", "many_to_one_train_step:hidden"),
    # The loss summed over the batch instead of averaged.
    bug("bug_loss_summed", "loss = -log_probs[np.arange(N), y].mean()", "loss = -log_probs[np.arange(N), y].sum()",
        "many_to_one_train_step"),
    # The gradient of the summed loss (not divided by N): hidden by clipping, wrong wherever no clipping happens.
    bug("bug_gradient_not_averaged", "    dscores /= N\n", "",
        "many_to_one_train_step:main", "many_to_one_train_step:edges", "many_to_one_train_step:hidden"),
    # Backpropagation that stops at the last step (no gradient into earlier states).
    bug("bug_backward_stops_at_last_step", "dh = da @ Wh.T", "dh = np.zeros_like(dh)",
        "many_to_one_train_step"),
]
