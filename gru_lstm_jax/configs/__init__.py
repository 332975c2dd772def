"""Experiment configs (ml_collections), one module per experiment, each with ``get_config()``."""

from __future__ import annotations

import ml_collections
from ml_collections.config_dict import placeholder

__all__ = ["add_placement"]


def add_placement(config: ml_collections.ConfigDict) -> None:
    """Adds the fields that say where a run computes, unset, so the command line can set them.

    - ``config.mesh.data``: the number of devices each batch is split over (unset: every
      device), e.g. ``--config.mesh.data=4``.
    - ``config.distributed``: the arguments of ``jax.distributed.initialize``
      (``coordinator_address``, ``num_processes``, ``process_id``, ``local_device_ids``) for a
      run of several processes; unset ones are detected from the environment (Slurm, Open MPI,
      TPU pods), and with none set a run starts the distributed runtime only when the
      environment launched several processes.

    See :mod:`gru_lstm_jax.training.parallel`.
    """
    config.mesh = ml_collections.ConfigDict({"data": placeholder(int)})
    config.distributed = ml_collections.ConfigDict(
        {
            "coordinator_address": placeholder(str),
            "num_processes": placeholder(int),
            "process_id": placeholder(int),
            "local_device_ids": placeholder(tuple),
        }
    )
