"""Data parallelism over a device mesh, on one host or many, with JAX's own runtime.

A run trains on a :class:`jax.sharding.Mesh` with one axis, ``data``. Every batch is split
along its first (example) dimension over the mesh's devices (``NamedSharding(mesh,
P("data"))``); the parameters and the optimizer state are replicated (``P()``). ``jax.jit``
with these shardings computes the mean loss over the global batch, and so inserts the
all-reduce of the gradients itself. The global batch is the config's, whatever the number of
devices, so a run computes the same numbers on one device or on many (up to the order of the
sums).

With several processes (``jax.distributed``), the mesh holds every process's devices; each
process builds the same global batch from the run's seed and hands over only the rows that
its own devices hold.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gru_lstm_jax.checks import check_positive_int

__all__ = [
    "DISTRIBUTED_FIELDS",
    "MESH_AXIS",
    "PLACEMENT_FIELDS",
    "DataParallel",
    "data_parallel",
    "initialize_distributed",
    "is_primary",
]

MESH_AXIS = "data"
# The top-level config fields that say where a run computes, not what it computes: a run
# folder's config is compared without them, so a run resumes on another number of devices.
PLACEMENT_FIELDS = ("mesh", "distributed")
# The arguments of jax.distributed.initialize that config.distributed may set.
DISTRIBUTED_FIELDS = ("coordinator_address", "num_processes", "process_id", "local_device_ids")


def _launched_as_several_processes() -> bool:
    """Whether the environment is a multi-process launch that ``jax.distributed`` detects.

    JAX's own variables (``JAX_COORDINATOR_ADDRESS``), Slurm (``srun`` with more than one
    task), Open MPI (``mpirun -n`` with more than one process) and a Cloud TPU pod slice of
    more than one host.
    """
    environ = os.environ
    counts = (environ.get("SLURM_NTASKS"), environ.get("OMPI_COMM_WORLD_SIZE"))
    return (
        "JAX_COORDINATOR_ADDRESS" in environ
        or any(count is not None and count.isdigit() and int(count) > 1 for count in counts)
        or "," in environ.get("TPU_WORKER_HOSTNAMES", "")
    )


def initialize_distributed(settings: Mapping[str, Any] | None) -> bool:
    """Starts JAX's distributed runtime when the config or the environment asks for it.

    It is asked for by a non-empty ``config.distributed`` (any of :data:`DISTRIBUTED_FIELDS`,
    passed to :func:`jax.distributed.initialize`; unset ones are detected from the
    environment), or by an environment that launched several processes (see
    ``_launched_as_several_processes``: JAX's variables, Slurm, Open MPI, a TPU pod slice).
    It must run before JAX touches a device; a runtime already started is left as it is. On
    CPU the processes exchange data through gloo (``jax_cpu_collectives_implementation``).

    Args:
        settings: ``config.distributed``, or ``None``.

    Returns:
        Whether the distributed runtime is running.

    Raises:
        ValueError: for a field of ``settings`` that is not one of :data:`DISTRIBUTED_FIELDS`.
    """
    settings = {key: value for key, value in dict(settings or {}).items() if value is not None}
    unknown = sorted(set(settings) - set(DISTRIBUTED_FIELDS))
    if unknown:
        raise ValueError(
            f"config.distributed.{unknown[0]} is not an argument of jax.distributed.initialize "
            f"that a run sets; the fields are {list(DISTRIBUTED_FIELDS)}"
        )
    if jax.distributed.is_initialized():
        return True
    if not settings and not _launched_as_several_processes():
        return False
    if "local_device_ids" in settings:
        settings["local_device_ids"] = list(settings["local_device_ids"])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(**settings)
    return True


def is_primary() -> bool:
    """Whether this process writes the run folder's files: process 0 (the only one, usually)."""
    return jax.process_index() == 0


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """Where a run's arrays live: batches split over the mesh's ``data`` axis, state replicated.

    Attributes:
        mesh: a one-axis mesh, ``("data",)``, over devices of every process.
    """

    mesh: Mesh

    @property
    def size(self) -> int:
        """The number of devices the batch is split over."""
        return self.mesh.shape[MESH_AXIS]

    @property
    def batch(self) -> NamedSharding:
        """The sharding of a batch's arrays: the first dimension over ``data``."""
        return NamedSharding(self.mesh, PartitionSpec(MESH_AXIS))

    @property
    def replicated(self) -> NamedSharding:
        """The sharding of parameters, optimizer state and metrics: a copy on every device."""
        return NamedSharding(self.mesh, PartitionSpec())

    def check_batch_size(self, batch_size: int, name: str) -> None:
        """Raises ``ValueError`` unless ``batch_size`` splits evenly over the devices."""
        if batch_size % self.size:
            raise ValueError(
                f"{name} ({batch_size}) must be divisible by the number of devices it is split "
                f"over ({self.size}, the mesh's {MESH_AXIS!r} axis); set config.mesh.data or "
                "change the batch size"
            )

    def put_batch(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        """A global batch as arrays split over the mesh.

        Args:
            batch: the whole global batch, arrays ``(B, ...)`` with ``B`` divisible by
                :attr:`size`; every process passes the same batch.

        Returns:
            The same dict of ``(B, ...)`` arrays, each split along ``B`` over the devices;
            this process transfers only the rows that its own devices hold.
        """
        size = np.shape(next(iter(batch.values())))[0]
        # The rows of this process's devices, one contiguous block of the global batch.
        blocks = self.batch.addressable_devices_indices_map((size,)).values()
        rows = [block[0].indices(size) for block in blocks]
        local = slice(min(start for start, _, _ in rows), max(stop for _, stop, _ in rows))
        return {
            name: jax.make_array_from_process_local_data(
                self.batch, np.asarray(array)[local], np.shape(array)
            )
            for name, array in batch.items()
        }

    def put_replicated(self, tree: Any) -> Any:
        """``tree`` (the same on every process) with every array copied to every device."""

        def put(leaf: Any) -> jax.Array:
            host = np.asarray(leaf)
            return jax.make_array_from_callback(host.shape, self.replicated, lambda i: host[i])

        return jax.tree.map(put, jax.device_get(tree))

    def describe(self) -> dict[str, Any]:
        """``{"devices", "mesh", "processes", "platform"}`` for ``results.json``."""
        return {
            "devices": self.mesh.size,
            "mesh": dict(self.mesh.shape),
            "processes": jax.process_count(),
            "platform": self.mesh.devices.flat[0].platform,
        }


def data_parallel(mesh_config: Mapping[str, Any] | None) -> DataParallel:
    """The run's :class:`DataParallel` placement from ``config.mesh``.

    Args:
        mesh_config: ``config.mesh``: ``{"data": n}`` splits batches over the first ``n``
            devices of :func:`jax.devices` (every process's); ``None``, ``{}`` or
            ``{"data": None}`` uses all of them.

    Returns:
        The placement.

    Raises:
        ValueError: for another mesh axis, a non-positive size, or more devices than there
            are.
    """
    mesh_config = dict(mesh_config or {})
    unknown = sorted(set(mesh_config) - {MESH_AXIS})
    if unknown:
        raise ValueError(
            f"config.mesh.{unknown[0]} is not an axis of the training mesh; its only axis is "
            f"{MESH_AXIS!r} (data parallelism)"
        )
    devices = jax.devices()
    size = mesh_config.get(MESH_AXIS)
    if size is None:
        size = len(devices)
    check_positive_int(size, f"config.mesh.{MESH_AXIS}")
    if size > len(devices):
        raise ValueError(
            f"config.mesh.{MESH_AXIS} ({size}) is more than the {len(devices)} devices JAX has "
            f"({devices[0].platform})"
        )
    if jax.process_count() > 1 and size != len(devices):
        raise ValueError(
            f"config.mesh.{MESH_AXIS} ({size}) must use every device of every process "
            f"({len(devices)}) when {jax.process_count()} processes train together"
        )
    return DataParallel(Mesh(np.array(devices[:size]), (MESH_AXIS,)))
