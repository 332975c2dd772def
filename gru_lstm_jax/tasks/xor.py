"""The long-range XOR task: a sequence classifier remembers two bits over ``L`` steps.

``config.data`` holds the options of :func:`~gru_lstm_jax.data.make_xor_data`; the model is
the ``config.model`` head (a :class:`~gru_lstm_jax.models.SequenceClassifier`) with one logit,
trained on the ``binary_classification`` objective. ``predictions.npz`` holds the test
probabilities.
"""

from __future__ import annotations

from typing import Any

from gru_lstm_jax.configs import xor as xor_config
from gru_lstm_jax.data.xor import make_xor_data
from gru_lstm_jax.tasks.base import (
    Data,
    Task,
    build_for_features,
    check_options,
    register_task,
    write_test_probabilities,
)
from gru_lstm_jax.tasks.objectives import OBJECTIVES

__all__ = ["XOR"]


def _load(options: dict[str, Any], key: Any) -> Data:
    check_options(make_xor_data, options, "xor")
    return Data(make_xor_data(key, **options))


XOR = register_task(
    Task(
        name="xor",
        objective=OBJECTIVES["binary_classification"],
        load=_load,
        build=build_for_features,
        write_outputs=write_test_probabilities,
        config=xor_config.get_config,
    )
)
