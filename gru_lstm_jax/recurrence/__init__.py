"""Running any cell over time: the plain scan, the fused recurrence and cuDNN.

:func:`run_scan` is the entry point; ``implementation=`` chooses among the implementations
(see :mod:`gru_lstm_jax.recurrence.scan`), which all compute the same numbers.
"""

from gru_lstm_jax.recurrence.cudnn import cudnn_available
from gru_lstm_jax.recurrence.masks import (
    ScanOutput,
    add_batch_axis,
    last_output,
    sequence_mask,
)
from gru_lstm_jax.recurrence.precision import with_compute_dtype
from gru_lstm_jax.recurrence.scan import IMPLEMENTATIONS, check_implementation, run_scan

__all__ = [
    "IMPLEMENTATIONS",
    "ScanOutput",
    "add_batch_axis",
    "check_implementation",
    "cudnn_available",
    "last_output",
    "run_scan",
    "sequence_mask",
    "with_compute_dtype",
]
