"""The fit loop: ``train_and_evaluate(config, workdir)`` writes a complete, resumable run folder.

The run is built by :func:`~gru_lstm_jax.training.run.prepare_run`. A run that is interrupted
and started again with the same config and workdir resumes from its last checkpoint and ends
where an uninterrupted run would, on the same or another number of devices.

Several processes (``jax.distributed``, see :mod:`~gru_lstm_jax.training.parallel`) run the
same loop in step: all of them compute and save their shards of each checkpoint (Orbax), and
process 0 alone writes the run folder's other files.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import tempfile
import time
from typing import Any

import jax
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from gru_lstm_jax import data as datasets
from gru_lstm_jax.nn import count_params
from gru_lstm_jax.training import plots, run_folder
from gru_lstm_jax.training.parallel import PLACEMENT_FIELDS, initialize_distributed, is_primary
from gru_lstm_jax.training.run import Run, prepare_run, random_streams
from gru_lstm_jax.training.steps import TrainState

__all__ = [
    "NonFiniteLossError",
    "Run",
    "evaluate",
    "load_trained",
    "prepare_run",
    "random_streams",
    "train_and_evaluate",
]


class NonFiniteLossError(FloatingPointError):
    """Training produced a non-finite loss; the run folder keeps the last good checkpoint."""


def evaluate(run: Run, params: Any, split: dict[str, np.ndarray]) -> dict[str, float]:
    """The exact mean loss and task metric of ``params`` over a whole split.

    Returns:
        ``{"loss": float, metric_name: float}``.
    """
    totals: dict[str, float] = {}
    for batch in run.eval_batches(split):
        sums = jax.device_get(run.steps.eval_step(params, run.parallel.put_batch(batch)))
        for name, value in sums.items():
            totals[name] = totals.get(name, 0.0) + float(value)
    count = totals.pop("count")
    return {name: value / count for name, value in totals.items()}


def train_epoch(run: Run, state: TrainState, epoch: int, progress: tqdm) -> tuple[TrainState, dict]:
    """One epoch of training; metrics stay on the device until the logging steps.

    Returns:
        ``(state, means)`` with the epoch's mean ``loss``, task metric and ``grad_norm``.
    """
    training = run.config.training
    key = jax.random.fold_in(run.keys["shuffle"], epoch)
    history = []
    bucket_width = training.get("bucket_width", 0)
    if bucket_width:
        batches = datasets.bucketed_batches(
            run.splits["train"], training.batch_size, key, bucket_width
        )
    else:
        batches = datasets.shuffled_batches(run.splits["train"], training.batch_size, key)
    for index, batch in enumerate(batches):
        state, metrics = run.steps.train_step(state, run.parallel.put_batch(batch))
        history.append(metrics)
        progress.update(1)
        if (index + 1) % training.log_every_steps == 0:
            progress.set_postfix(epoch=epoch + 1, loss=f"{float(metrics['loss']):.4g}")
    history = jax.device_get(history)
    means = {name: float(np.mean([m[name] for m in history])) for name in history[0]}
    return state, means


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict:
    """Trains, validates every epoch, tests one checkpoint once and writes the run folder.

    The tested checkpoint is the epoch with the lowest validation loss, or the last epoch when
    ``config.training.test_checkpoint`` is ``"last"``.

    The folder gets ``config.json``, ``metrics.jsonl``, ``checkpoints/{last,best}``, the task's
    predictions and figures, and finally ``results.json``. Running again with the same config
    and workdir resumes from the last checkpoint (a finished run is only re-tested).

    Training is data-parallel over ``config.mesh`` (default: every device); JAX's distributed
    runtime is started first when ``config.distributed`` or the environment asks for it
    (:func:`~gru_lstm_jax.training.parallel.initialize_distributed`).

    Args:
        config: an experiment config.
        workdir: the run folder.

    Returns:
        The contents of ``results.json``.

    Raises:
        ValueError: for a bad config or an unwritable workdir, before any file is written.
        NonFiniteLossError: when an epoch's training loss is not finite; the folder keeps the
            last good checkpoint and no ``results.json``.
    """
    started_run = time.perf_counter()
    initialize_distributed(config.get("distributed"))
    primary = is_primary()
    path = run_folder.check_writable(workdir)
    run = prepare_run(config)
    settings = run_folder.check_same_config(path, config)
    path.mkdir(parents=True, exist_ok=True)
    if primary:
        run_folder.write_json(path / "config.json", settings)

    training = config.training
    last, best = run_folder.checkpoint_managers(path, training.checkpoints_to_keep)
    state = run.steps.init_state()
    # An epoch is done when checkpoints/last holds it; a log line a crash left beyond that is
    # dropped here and the epoch trained again, to the same values.
    start_epoch, state = run_folder.restore_newest_intact(last, state)
    records = [r for r in run_folder.read_metrics(path) if r["epoch"] <= start_epoch]
    if primary:
        run_folder.write_metrics(path, records)

    metric = run.objective.metric_name
    total_steps = training.num_epochs * run.steps_per_epoch
    progress = tqdm(
        total=total_steps, initial=start_epoch * run.steps_per_epoch, unit="step",
        desc=f"{config.model.get('cell', 'model')} on {config.data.name}",
        disable=not training.progress or not primary,
    )  # fmt: skip
    try:
        for epoch in range(start_epoch, training.num_epochs):
            started = time.perf_counter()
            state, train = train_epoch(run, state, epoch, progress)
            train_time = time.perf_counter() - started
            if not np.isfinite(train["loss"]):
                kept = (
                    f"{str(path / 'checkpoints' / 'last')!r} keeps the last good checkpoint "
                    f"(epoch {epoch})"
                    if epoch
                    else "no epoch finished, so there is no checkpoint"
                )
                raise NonFiniteLossError(
                    f"non-finite training loss ({train['loss']}) in epoch {epoch + 1}; training "
                    f"stopped and {kept}; lower optimizer.learning_rate or set "
                    "optimizer.clip_norm"
                )
            val = evaluate(run, state.params, run.splits["val"])
            record = {
                "epoch": epoch + 1,
                "step": int(state.step),
                "train_loss": train["loss"],
                f"train_{metric}": train[metric],
                "grad_norm": train["grad_norm"],
                "val_loss": val["loss"],
                f"val_{metric}": val[metric],
                "train_time_s": train_time,
            }
            records.append(record)
            # The log, then best, then last: last committing ends the epoch (see above). A
            # best checkpoint of this epoch that a crash left is the same state; it stays.
            if primary:
                run_folder.write_metrics(path, records)
            if epoch + 1 not in best.all_steps():
                run_folder.save_state(best, epoch + 1, state, {"val_loss": val["loss"]})
            run_folder.save_state(last, epoch + 1, state)
    finally:
        progress.close()
        last.wait_until_finished()
        best.wait_until_finished()

    manager, tested_epoch = run_folder.tested_checkpoint(training, last, best)
    tested = run_folder.restore_state(manager, state, tested_epoch)
    final = {
        "train": evaluate(run, tested.params, run.splits["train"]),
        "val": evaluate(run, tested.params, run.splits["val"]),
        "test": evaluate(run, tested.params, run.splits["test"]),
    }
    # Every process computes the task's outputs (their predictions are collective); only
    # process 0's land in the run folder.
    with tempfile.TemporaryDirectory() as scratch:
        task_results = run.task.write_outputs(
            run, tested.params, path if primary else pathlib.Path(scratch)
        )
    if primary:
        plots.plot_learning_curves(path)
    step_rates = [run.steps_per_epoch / r["train_time_s"] for r in records]
    results = {
        "cell": config.model.get("cell"),
        "task": config.data.name,
        "metric": metric,
        "best_epoch": best.best_step(),
        "tested_epoch": tested_epoch,
        "epochs": training.num_epochs,
        "steps": int(state.step),
        "num_params": count_params(run.model),
        "final": final,
        "train_time_s": sum(r["train_time_s"] for r in records),
        "wall_time_s": time.perf_counter() - started_run,
        # The median over epochs leaves out the first epoch's compilation.
        "steps_per_s": statistics.median(step_rates),
        "placement": run.parallel.describe(),
        **task_results,
    }
    if primary:
        run_folder.write_json(path / "results.json", results)
    return results


def load_trained(workdir: str | os.PathLike) -> tuple[Run, Any]:
    """Rebuilds a finished run from its folder and restores its tested checkpoint.

    The modules that the run's config names in ``imports`` are imported again first, so a run
    of a user's cell loads in a fresh process as long as those modules are importable.

    Args:
        workdir: a run folder written by :func:`train_and_evaluate`.

    Returns:
        ``(run, params)``: the :class:`Run` of the folder's ``config.json`` and the parameters
        of its tested epoch (the best one, or the last one with ``test_checkpoint="last"``);
        ``run.steps.model_with(params)`` is the model in evaluation mode.

    Raises:
        FileNotFoundError: if the folder has no finished run (no ``results.json``).
        ValueError: if a module of the config's ``imports`` cannot be imported.
    """
    path = pathlib.Path(workdir).expanduser().absolute()
    if not (path / "results.json").exists():
        raise FileNotFoundError(f"{str(path)!r} holds no finished run (no results.json)")
    saved = run_folder.read_json(path / "config.json")
    # Loaded here, on this process's devices, wherever the run was trained.
    config = ml_collections.ConfigDict(
        {key: value for key, value in saved.items() if key not in PLACEMENT_FIELDS}
    )
    run = prepare_run(config)
    last, best = run_folder.checkpoint_managers(path, config.training.checkpoints_to_keep)
    manager, epoch = run_folder.tested_checkpoint(config.training, last, best)
    state = run_folder.restore_state(manager, run.steps.init_state(), epoch)
    return run, state.params
