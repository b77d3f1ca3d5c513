"""rnncourse: the numpy reference implementation of the RNN course.

Modules, by chapter: :mod:`~rnncourse.rnn` and :mod:`~rnncourse.activations` (1),
:mod:`~rnncourse.gradcheck` (2), :mod:`~rnncourse.clip`, :mod:`~rnncourse.init`,
:mod:`~rnncourse.diagnostics` and :mod:`~rnncourse.optim` (3), :mod:`~rnncourse.lstm` and
:mod:`~rnncourse.gru` (4), :mod:`~rnncourse.layers` and :mod:`~rnncourse.models` (5),
:mod:`~rnncourse.data`, :mod:`~rnncourse.metrics`, :mod:`~rnncourse.language_model`,
:mod:`~rnncourse.sentiment` and :mod:`~rnncourse.forecasting` (6), :mod:`~rnncourse.memory`,
:mod:`~rnncourse.convolution`, :mod:`~rnncourse.cost` and :mod:`~rnncourse.pretraining` (7). Also
:mod:`~rnncourse.grading` (the checks behind the assignments), :mod:`~rnncourse.fast` (the
same recurrences, faster), :mod:`~rnncourse.torch_compat` (PyTorch parity, needs the
``torch`` extra) and :mod:`~rnncourse.plots` (figures of the book).
"""
__version__ = "0.1.0"
