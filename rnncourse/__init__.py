"""rnncourse: the numpy reference implementation of the RNN course.

Modules: :mod:`~rnncourse.rnn` (the recurrent layer), :mod:`~rnncourse.activations`,
:mod:`~rnncourse.gradcheck` (numeric gradients), :mod:`~rnncourse.grading` (the
checks behind the assignments), :mod:`~rnncourse.torch_compat` (PyTorch parity,
needs the ``torch`` extra) and :mod:`~rnncourse.plots` (figures of the book).
"""
__version__ = "0.1.0"
