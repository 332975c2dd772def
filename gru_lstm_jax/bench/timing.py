"""Timing in this process: the training steps of one or several trainers, and the matmul peak."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

try:
    import resource
except ImportError:  # Windows
    resource = None

from gru_lstm_jax.bench.impls import describe_jax_device
from gru_lstm_jax.bench.registry import build_trainer
from gru_lstm_jax.bench.workloads import Workload

# A 2048^3 matmul takes a fraction of a second on a CPU but microseconds on a GPU, where
# launch overhead would hide the peak; accelerators get a larger one.
PEAK_SIZE = {"cpu": 2048, "accelerator": 8192}


def _minor_page_faults() -> int | None:
    """This process's minor page faults so far (``None`` without the ``resource`` module)."""
    return None if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _prepare(
    impl: str, cell: str, workload: Workload, warmup: int, seed: int
) -> tuple[Any, dict[str, Any]]:
    """Builds a trainer, times its first step, takes ``warmup`` more: ``(trainer, facts)``.

    The facts include the trainer's ``recurrent_kernel()``, which for PyTorch profiles one more
    (untimed) step.
    """
    start = time.perf_counter()
    trainer = build_trainer(impl, cell, workload, seed=seed)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    trainer.step()
    compile_s = time.perf_counter() - start
    first_loss = trainer.loss()
    for _ in range(warmup):
        trainer.step()
    facts = {
        "device": trainer.device,
        "settings": trainer.settings(),
        "recurrent_kernel": trainer.recurrent_kernel(),
        "build_s": build_s,
        "compile_s": compile_s,
        "first_loss": first_loss,
    }
    return trainer, facts


def time_steps(trainer: Any, repeats: int) -> dict[str, Any]:
    """Times ``repeats`` steps of ``trainer`` one by one.

    Returns:
        ``step_times_s`` (``repeats`` floats), ``median_step_s``, ``page_faults_per_step``
        (``None`` without the ``resource`` module) and ``last_loss``.
    """
    step_times = []
    faults_before = _minor_page_faults()
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.step()
        step_times.append(time.perf_counter() - start)
    faults = _minor_page_faults()
    return {
        "step_times_s": step_times,
        "median_step_s": statistics.median(step_times),
        "page_faults_per_step": None if faults is None else (faults - faults_before) / repeats,
        "last_loss": trainer.loss(),
    }


def time_training(
    impl: str, cell: str, workload: Workload, *, warmup: int, repeats: int, seed: int = 0
) -> dict[str, Any]:
    """Builds one implementation and times its training steps, in this process.

    Args:
        impl: a registered implementation.
        cell: a cell that ``impl`` has (``gru_lstm_jax.bench.registry.implements``).
        workload: the shape ``(B, T, I, H)``.
        warmup: untimed steps after the first.
        repeats: timed steps, each waited for.
        seed: seeds the parameters and the data.

    Returns:
        A JSON-able dict: ``device``, ``settings``, ``recurrent_kernel`` (PyTorch's, profiled:
        ``gru_lstm_jax.bench.torch_impl.TorchTrainer.recurrent_kernel``; ``None`` for the JAX
        implementations), ``build_s`` (model and data), ``compile_s`` (the first step: trace,
        compile and run for JAX), ``step_times_s`` (``repeats`` floats), ``median_step_s``,
        ``page_faults_per_step`` (the process's minor page faults over the timed steps, per
        step; ``None`` where the ``resource`` module is missing), ``first_loss`` and
        ``last_loss``.
    """
    trainer, facts = _prepare(impl, cell, workload, warmup, seed)
    return {**facts, **time_steps(trainer, repeats)}


def round_order(impls: Sequence[str], round_index: int) -> tuple[str, ...]:
    """The implementations in the order of round ``round_index`` (rotated by one per round)."""
    shift = round_index % len(impls)
    return (*impls[shift:], *impls[:shift])


def time_training_together(
    impls: Sequence[str],
    cell: str,
    workload: Workload,
    *,
    rounds: int,
    warmup: int,
    repeats: int,
    seed: int = 0,
    pause_s: float = 0.1,
) -> list[dict[str, Any]]:
    """Times several implementations in this process, alternating blocks of steps.

    Every implementation is built, compiled and warmed up first; then each round times
    ``repeats`` steps of each, in :func:`round_order`, after a pause of ``pause_s`` seconds
    (so that the previous block's threads settle).

    Args:
        impls: registered implementations that have ``cell``.
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.
        rounds: blocks per implementation.
        warmup: untimed steps of each after its first.
        repeats: timed steps per block.
        seed: seeds the parameters and the data.
        pause_s: the pause before each block.

    Returns:
        One dict per round and implementation, in the order timed: ``round``, ``impl`` and the
        keys of :func:`time_training`'s result (``build_s``, ``compile_s`` and ``first_loss``
        the same for every round of an implementation; the page faults count the block).
    """
    prepared = {impl: _prepare(impl, cell, workload, warmup, seed) for impl in impls}
    results = []
    for index in range(rounds):
        for impl in round_order(impls, index):
            trainer, facts = prepared[impl]
            time.sleep(pause_s)
            results.append({"round": index, "impl": impl, **facts, **time_steps(trainer, repeats)})
    return results


def measure_peak(size: int | None, repeats: int) -> dict[str, Any]:
    """Times a float32 ``size x size`` matmul in JAX on ``jax.devices()[0]``, in this process.

    Args:
        size: the matrix size ``n``; ``None`` picks ``PEAK_SIZE`` by the device's platform.
        repeats: timed matmuls (after one compiling and two warm-up calls).

    Returns:
        A JSON-able dict: ``device``, ``size``, ``precision`` (JAX's default matmul precision),
        ``times_s``, ``median_s`` and ``gflops`` (``2·n³`` over the median time).
    """
    device = jax.devices()[0]
    if size is None:
        size = PEAK_SIZE["cpu" if device.platform == "cpu" else "accelerator"]
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32)
    b = jax.random.normal(key_b, (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    for _ in range(3):
        matmul(a, b).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "device": describe_jax_device(device),
        "size": size,
        "precision": jax.config.jax_default_matmul_precision,
        "times_s": times,
        "median_s": median,
        "gflops": 2 * size**3 / median / 1e9,
    }
