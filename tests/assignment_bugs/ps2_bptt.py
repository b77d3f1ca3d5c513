"""Realistic bugs of ps2_bptt, for tests/test_nbgrader_end_to_end.py.

Each bug: (student id, text in a solution cell, its replacement, test cells that must fail,
test cells that must keep their points). The text must occur in a solution cell of the source notebook.
"""
BUGS = [
    ("bug_derivative_of_h_prev",
     "derivative = 1 - h_next**2", "derivative = 1 - h_prev**2",
     {"test_rnn_step_backward_main", "test_rnn_backward_main", "test_rnn_backward_truncated_short"},
     {"test_numerical_gradient", "test_numerical_gradient_array", "test_rnn_step_backward_activations"}),
    ("bug_no_bias_gradient",
     "db = da.sum(axis=0)", "db = np.zeros(Wh.shape[0])",
     {"test_rnn_step_backward_main", "test_rnn_backward_main"},
     {"test_numerical_gradient", "test_numerical_gradient_array"}),
    ("bug_dWh_transposed",
     "dWh = h_prev.T @ da", "dWh = da.T @ h_prev",
     {"test_rnn_step_backward_main", "test_rnn_backward_main"},
     {"test_numerical_gradient", "test_numerical_gradient_array"}),
    ("bug_no_flow_from_next_step",
     "rnn_step_backward(dh[:, t] + dh_prev, step_cache(cache, t))", "rnn_step_backward(dh[:, t], step_cache(cache, t))",
     {"test_rnn_backward_main", "test_rnn_backward_hidden"},
     {"test_rnn_step_backward_main", "test_numerical_gradient"}),
    ("bug_one_sided_difference",
     "grad[i] = (f_plus - f_minus) / (2 * h)\n    return grad", "grad[i] = (f_plus - f(x)) / h\n    return grad",
     {"test_numerical_gradient", "test_numerical_gradient_hidden"},
     {"test_numerical_gradient_array", "test_rnn_step_backward_main"}),
    ("bug_truncation_off_by_one",
     "if t > 0 and t % truncation == 0:", "if t > 0 and (t + 1) % truncation == 0:",
     {"test_rnn_backward_truncated_short", "test_rnn_backward_truncated_long"},  # k = T = 5 cuts at t = 4
     {"test_rnn_backward_main", "test_rnn_step_backward_main"}),
]
