"""Realistic bugs of ps1_rnn_forward, for tests/test_nbgrader_end_to_end.py.

Each bug: (student id, text in a solution cell, its replacement, test cells that must fail,
test cells that must keep their points). The text must occur in a solution cell of the source notebook.
"""
BUGS = [
    ("bug_sigmoid_sign",
     "np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))", "np.where(a >= 0, e / (1.0 + e), 1.0 / (1.0 + e))",
     {"test_sigmoid", "test_rnn_step_forward_activations", "test_rnn_forward_activations"},
     {"test_tanh", "test_relu", "test_rnn_step_forward_main", "test_rnn_forward_main"}),
    ("bug_missing_bias",
     "f(x @ Wx + h_prev @ Wh + b)", "f(x @ Wx + h_prev @ Wh)",
     {"test_rnn_step_forward_main", "test_rnn_step_forward_edges", "test_rnn_forward_main"},
     {"test_tanh", "test_sigmoid", "test_relu"}),
    ("bug_transposed_Wh",
     "f(x @ Wx + h_prev @ Wh + b)", "f(x @ Wx + h_prev @ Wh.T + b)",
     {"test_rnn_step_forward_main", "test_rnn_forward_main"},
     {"test_tanh", "test_sigmoid", "test_relu"}),
    ("bug_state_not_carried",
     "rnn_step_forward(x[:, t], h_prev, Wx, Wh, b, activation)", "rnn_step_forward(x[:, t], h0, Wx, Wh, b, activation)",
     {"test_rnn_forward_main", "test_rnn_forward_hidden"},
     {"test_rnn_step_forward_main", "test_rnn_step_forward_hidden", "test_tanh"}),
    ("bug_always_tanh",
     "f = ACTIVATIONS[activation]", "f = tanh",
     {"test_rnn_step_forward_activations", "test_rnn_forward_activations"},
     {"test_rnn_step_forward_main", "test_rnn_step_forward_edges", "test_rnn_forward_main", "test_rnn_forward_edges"}),
]
