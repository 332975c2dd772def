"""The fit loop: ``train_and_evaluate(config, workdir)`` writes a complete, resumable run folder.

Randomness comes from ``config.seed`` alone, through named streams folded from one root key:
``init`` (parameters), ``data`` (dataset generation), ``shuffle`` (epoch ``e`` uses
``fold_in(shuffle, e)``) and ``dropout`` (step ``s`` uses ``fold_in(dropout, s)``). A run that
is interrupted and started again with the same config and workdir resumes from its last
checkpoint and ends where an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import statistics
import time
from collections.abc import Iterable
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from gru_lstm_jax import data as datasets
from gru_lstm_jax.checks import check_positive_int
from gru_lstm_jax.data.batching import check_bucket_width
from gru_lstm_jax.nn import count_params
from gru_lstm_jax.tasks.base import Task, get_task
from gru_lstm_jax.tasks.objectives import Objective
from gru_lstm_jax.training import plots, run_folder
from gru_lstm_jax.training.optimizers import (
    check_clip_norm,
    check_learning_rate,
    make_optimizer,
)
from gru_lstm_jax.training.steps import Steps, TrainState, make_steps
from gru_lstm_jax.training.user_cells import check_cell_names, import_cell_modules

__all__ = ["NonFiniteLossError", "Run", "load_trained", "prepare_run", "train_and_evaluate"]

STREAMS = ("init", "data", "shuffle", "dropout")


class NonFiniteLossError(FloatingPointError):
    """Training produced a non-finite loss; the run folder keeps the last good checkpoint."""


@dataclasses.dataclass
class Run:
    """Everything a run needs, built from a config without touching the file system.

    Attributes:
        config: the validated config.
        task: the :class:`~gru_lstm_jax.tasks.Task` that ``config.data.name`` names.
        data: what the task keeps about its data besides the splits
            (:attr:`~gru_lstm_jax.tasks.Data.info`: the sine series, the IMDB vocabulary, ...).
        splits: ``{"train", "val", "test"}`` split dicts.
        model: the freshly initialised model.
        steps: the jitted steps.
        steps_per_epoch: full training batches per epoch.
        keys: the named random streams of ``config.seed``.
    """

    config: ml_collections.ConfigDict
    task: Task
    data: Any
    splits: dict[str, dict[str, np.ndarray]]
    model: nnx.Module
    steps: Steps
    steps_per_epoch: int
    keys: dict[str, jax.Array]

    @property
    def objective(self) -> Objective:
        """The task's :class:`~gru_lstm_jax.tasks.Objective`."""
        return self.task.objective

    def eval_batches(self, split: dict[str, np.ndarray]) -> Iterable[dict[str, np.ndarray]]:
        """``split`` in padded evaluation batches (length-bucketed with ``bucket_width``)."""
        training = self.config.training
        return datasets.padded_batches(
            split, training.eval_batch_size, bucket_width=training.get("bucket_width", 0)
        )

    def predict_split(self, params: Any, split: dict[str, np.ndarray]) -> Any:
        """Evaluation-mode predictions for every example of ``split``, in its order.

        Returns:
            The task's predictions with a first dimension ``N`` (an array, or a pytree of
            them); length-bucketed batches are put back in the split's order.
        """
        size = datasets.num_examples(split)
        # Each batch carries its examples' indices, so bucketed batches can be put back.
        parts, indices = [], []
        for batch in self.eval_batches({**split, "index": np.arange(size)}):
            real = batch["weights"] == 1.0
            index = batch.pop("index")
            predicted = jax.device_get(self.steps.predict(params, batch))
            parts.append(jax.tree.map(lambda a, real=real: np.asarray(a)[real], predicted))
            indices.append(index[real])
        order = np.argsort(np.concatenate(indices), kind="stable")
        return jax.tree.map(lambda *a: np.concatenate(a)[order], *parts)


def random_streams(seed: int) -> dict[str, jax.Array]:
    """The named random streams of a run: ``{"init", "data", "shuffle", "dropout"} -> key``."""
    root = jax.random.key(seed)
    return {name: jax.random.fold_in(root, index) for index, name in enumerate(STREAMS)}


# The fields the engine reads; the data and model sections belong to the task.
FIELDS = {
    "": ("seed", "imports", "data", "model", "optimizer", "training"),
    "optimizer": (
        "name", "learning_rate", "schedule", "warmup_steps", "clip_norm", "weight_decay",
    ),
    "training": (
        "num_epochs", "batch_size", "eval_batch_size", "log_every_steps", "checkpoints_to_keep",
        "test_checkpoint", "progress", "bucket_width",
    ),
}  # fmt: skip


def _check_fields(config: ml_collections.ConfigDict) -> None:
    """Refuses a field the engine does not read (a typo would be ignored silently)."""
    for section, known in FIELDS.items():
        fields = config if not section else config[section]
        unknown = sorted(set(fields) - set(known))
        if unknown:
            where = f"config.{section}." if section else "config."
            raise ValueError(
                f"{where}{unknown[0]} is not a field the engine reads; the fields of "
                f"{where.rstrip('.')} are {list(known)}"
            )


def _check_task_fits(run: Run) -> None:
    """Raises ``ValueError`` unless the model takes every split and its targets fit the model."""
    params = nnx.state(run.model, nnx.Param)
    for name, split in run.splits.items():
        batch = next(iter(run.eval_batches({k: v[:1] for k, v in split.items()})))
        shapes = {key: np.shape(value) for key, value in split.items()}
        try:
            predictions = jax.eval_shape(run.steps.predict, params, batch)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"task {run.task.name!r}: the model of config.model does not take the {name} "
                f"split's arrays {shapes}: {error}"
            ) from error
        if run.objective.check is not None:
            run.objective.check(predictions, split, f"task {run.task.name!r}, {name} split")


def prepare_run(config: ml_collections.ConfigDict) -> Run:
    """Validates ``config`` and builds data, model, optimizer and steps; writes no file.

    The modules named in ``config.imports`` are imported first, so that ``config.data.name``
    and ``config.model.cell`` can be a task and a cell they register. The task makes the data
    and the model; one batch of every split goes through the model (abstractly, with
    ``jax.eval_shape``) and the objective checks the targets against its outputs.

    Args:
        config: an experiment config (see ``gru_lstm_jax/configs``).

    Returns:
        A :class:`Run`.

    Raises:
        ValueError: for any bad config value (a module of ``config.imports`` that cannot be
            imported, unknown task or cell, non-positive sizes or lengths, a batch larger than
            the training split, data that do not fit the model, ...), with the field named.
    """
    import_cell_modules(config.get("imports", ()))
    if isinstance(config.model.get("cell"), str):
        check_cell_names([config.model.cell], "config.model.cell")
    training = config.training
    _check_fields(config)
    check_positive_int(training.num_epochs, "config.training.num_epochs")
    check_positive_int(training.batch_size, "config.training.batch_size")
    check_positive_int(training.eval_batch_size, "config.training.eval_batch_size")
    check_positive_int(training.checkpoints_to_keep, "config.training.checkpoints_to_keep")
    check_positive_int(training.log_every_steps, "config.training.log_every_steps")
    bucket_width = training.get("bucket_width", 0)
    check_bucket_width(bucket_width, "config.training.bucket_width")
    check_learning_rate(config.optimizer.learning_rate, "config.optimizer.learning_rate")
    check_clip_norm(config.optimizer.clip_norm, "config.optimizer.clip_norm")
    if training.get("test_checkpoint", "best") not in run_folder.TESTED_CHECKPOINTS:
        raise ValueError(
            f"config.training.test_checkpoint must be one of {list(run_folder.TESTED_CHECKPOINTS)}"
            f"; got {training.test_checkpoint!r}"
        )
    task = get_task(config.data.name)
    keys = random_streams(config.seed)
    data = task.load({k: v for k, v in config.data.items() if k != "name"}, keys["data"])
    splits = data.splits
    train_size = datasets.num_examples(splits["train"])
    if training.batch_size > train_size:
        raise ValueError(
            f"config.training.batch_size ({training.batch_size}) is larger than the training "
            f"split ({train_size} examples)"
        )
    if bucket_width and "lengths" not in splits["train"]:
        raise ValueError(
            "config.training.bucket_width needs a task whose examples have lengths (imdb); "
            f"config.data.name is {config.data.name!r}"
        )
    rngs = nnx.Rngs(params=keys["init"], dropout=keys["dropout"])
    model = task.build(config.model, data, rngs)
    steps_per_epoch = train_size // training.batch_size
    optimizer = make_optimizer(config.optimizer, training.num_epochs * steps_per_epoch)
    steps = make_steps(model, optimizer, task.objective, keys["dropout"], task.forward)
    run = Run(config, task, data.info, splits, model, steps, steps_per_epoch, keys)
    _check_task_fits(run)
    return run


def evaluate(run: Run, params: Any, split: dict[str, np.ndarray]) -> dict[str, float]:
    """The exact mean loss and task metric of ``params`` over a whole split.

    Returns:
        ``{"loss": float, metric_name: float}``.
    """
    totals: dict[str, float] = {}
    for batch in run.eval_batches(split):
        sums = jax.device_get(run.steps.eval_step(params, batch))
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
        state, metrics = run.steps.train_step(state, batch)
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
    path = run_folder.check_writable(workdir)
    run = prepare_run(config)
    settings = run_folder.check_same_config(path, config)
    path.mkdir(parents=True, exist_ok=True)
    run_folder.write_json(path / "config.json", settings)

    training = config.training
    last, best = run_folder.checkpoint_managers(path, training.checkpoints_to_keep)
    state = run.steps.init_state()
    # An epoch is done when checkpoints/last holds it; a log line a crash left beyond that is
    # dropped here and the epoch trained again, to the same values.
    start_epoch, state = run_folder.restore_newest_intact(last, state)
    records = [r for r in run_folder.read_metrics(path) if r["epoch"] <= start_epoch]
    run_folder.write_metrics(path, records)

    metric = run.objective.metric_name
    total_steps = training.num_epochs * run.steps_per_epoch
    progress = tqdm(
        total=total_steps, initial=start_epoch * run.steps_per_epoch, unit="step",
        desc=f"{config.model.get('cell', 'model')} on {config.data.name}",
        disable=not training.progress,
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
    task_results = run.task.write_outputs(run, tested.params, path)
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
        **task_results,
    }
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
    config = ml_collections.ConfigDict(run_folder.read_json(path / "config.json"))
    run = prepare_run(config)
    last, best = run_folder.checkpoint_managers(path, config.training.checkpoints_to_keep)
    manager, epoch = run_folder.tested_checkpoint(config.training, last, best)
    state = run_folder.restore_state(manager, run.steps.init_state(), epoch)
    return run, state.params
