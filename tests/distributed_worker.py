"""Trains the data-parallel tests' config in a process of its own (see test_distributed.py).

Usage: ``python tests/distributed_worker.py '<json>'`` with a list of runs, each
``{"workdir": str, "mesh": int, "stop_after": int (optional), "distributed": {...} (optional)}``,
trained one after the other. ``stop_after: e`` interrupts the run after ``e`` epochs, as a
crash would; training the same workdir again resumes it. The number of host devices comes from
``XLA_FLAGS``, set by the caller before this process starts.
"""

from __future__ import annotations

import json
import sys

import ml_collections

from gru_lstm_jax.configs import xor
from gru_lstm_jax.training import loop


def distributed_config() -> ml_collections.ConfigDict:
    """XOR with dropout and recurrent dropout: 32 steps per epoch, 256 steps in all."""
    config = xor.get_config("smoke")
    config.data.num_sequences = 1280
    config.model.cell = "gru"
    config.model.dropout = 0.2
    config.model.recurrent_dropout = 0.2
    config.training.num_epochs = 8
    config.training.eval_batch_size = 128
    return config


class InterruptedRunError(Exception):
    """Raised in place of an epoch, as a crash would stop a run."""


def train(workdir: str, mesh: int, stop_after: int | None = None, distributed: dict | None = None):
    config = distributed_config()
    config.mesh.data = mesh
    for key, value in (distributed or {}).items():
        config.distributed[key] = value
    train_epoch = loop.train_epoch

    def epoch_or_stop(run, state, epoch, progress):
        if stop_after is not None and epoch == stop_after:
            raise InterruptedRunError
        return train_epoch(run, state, epoch, progress)

    loop.train_epoch = epoch_or_stop
    try:
        loop.train_and_evaluate(config, workdir)
    except InterruptedRunError:
        pass
    finally:
        loop.train_epoch = train_epoch


if __name__ == "__main__":
    for spec in json.loads(sys.argv[1]):
        train(**spec)
