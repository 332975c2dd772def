"""The task protocol and the registry of tasks by name.

A task is everything about an experiment that is not the engine: how its data are made from
``config.data``, which model it builds from ``config.model``, how that model is called on a
batch, the objective, and the files it writes after training. The engine
(:func:`~gru_lstm_jax.training.train_and_evaluate`) drives any registered task the same way,
so a task of one's own is one module that calls :func:`register_task` and is named in the
config's ``imports``; ``config.data.name`` selects it.

A split is a dict of numpy arrays sharing their first dimension ``N``. The engine batches
every array of a split, so a batch is that dict with ``B`` rows (plus ``"weights"`` ``(B,)`` in
evaluation); :attr:`Task.forward` and the objective read the keys they need.
"""

from __future__ import annotations

import dataclasses
import inspect
import pathlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import ml_collections
import numpy as np
from flax import nnx
from matplotlib.figure import Figure

from gru_lstm_jax.models import build_model
from gru_lstm_jax.tasks.objectives import Objective

__all__ = [
    "Data",
    "Task",
    "available_tasks",
    "build_for_features",
    "call_on_inputs",
    "check_options",
    "get_task",
    "register_task",
    "save_figure",
    "write_test_predictions",
    "write_test_probabilities",
]

Batch = Mapping[str, Any]


class Data(NamedTuple):
    """A task's data.

    Attributes:
        splits: ``{"train", "val", "test"}``, each a dict of arrays with a shared first
            dimension.
        info: what else the task keeps about its data (the sine series, the IMDB vocabulary),
            or ``None``.
    """

    splits: dict[str, dict[str, np.ndarray]]
    info: Any = None


def check_options(generate: Callable[..., Any], options: Mapping[str, Any], task: str) -> None:
    """Raises ``ValueError`` naming ``config.data.<field>`` for an option ``generate`` lacks.

    Args:
        generate: the task's data function, called as ``generate(key, **options)``.
        options: the fields of ``config.data`` but ``name``.
        task: the task's name, for the message.
    """
    accepted = tuple(inspect.signature(generate).parameters)[1:]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"config.data.{unknown[0]} is not an option of the {task} task; its options are "
            f"{list(accepted)}"
        )


def save_figure(figure: Figure, path: pathlib.Path) -> pathlib.Path:
    """Saves ``figure`` to ``path`` as a 120 dpi PNG after a tight layout; returns ``path``."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def call_on_inputs(model: nnx.Module, batch: Batch, training: bool) -> jax.Array:
    """The default forward pass: ``model(batch["inputs"], lengths=batch["lengths"])``.

    ``lengths`` is passed only when the batch has it; ``training`` is not used.
    """
    del training
    kwargs = {"lengths": batch["lengths"]} if "lengths" in batch else {}
    return model(batch["inputs"], **kwargs)


def build_for_features(
    config: ml_collections.ConfigDict,
    data: Data,
    rngs: nnx.Rngs,
    out_features: int | None = None,
) -> nnx.Module:
    """:func:`~gru_lstm_jax.models.build_model` for inputs of shape ``(N, T, F)``.

    Args:
        config: the model config (``kind``, ``cell``, ``hidden_sizes``, options).
        data: the task's data; the training split's ``inputs`` give ``T`` and ``F``.
        rngs: ``nnx.Rngs`` with ``params`` and ``dropout`` streams.
        out_features: outputs per example; default the training targets' last dimension.
    """
    train = data.splits["train"]
    _, time_steps, features = np.shape(train["inputs"])
    out_features = np.shape(train["targets"])[-1] if out_features is None else out_features
    return build_model(config, features, out_features, time_steps, rngs=rngs)


def write_test_predictions(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    """The default outputs: ``predictions.npz`` with the test split's predictions and targets.

    ``test_prediction`` holds the model's outputs for every test example in order (for a
    dict of predictions, ``test_<key>`` per entry) and ``test_target`` the targets.

    Returns:
        ``{}``: no entries for ``results.json``.
    """
    test = run.splits["test"]
    predictions = run.predict_split(params, test)
    if isinstance(predictions, Mapping):
        arrays = {f"test_{key}": value for key, value in predictions.items()}
    else:
        arrays = {"test_prediction": predictions}
    np.savez(workdir / "predictions.npz", **arrays, test_target=test["targets"])
    return {}


def write_test_probabilities(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    """Binary classification's outputs: ``predictions.npz`` with ``test_probability``.

    ``test_probability`` is ``sigmoid(logit)`` of the first output for every test example and
    ``test_target`` its label.

    Returns:
        ``{}``: no entries for ``results.json``.
    """
    test = run.splits["test"]
    logits = run.predict_split(params, test)
    np.savez(
        workdir / "predictions.npz",
        test_probability=1.0 / (1.0 + np.exp(-logits[:, 0])),
        test_target=test["targets"][:, 0],
    )
    return {}


@dataclasses.dataclass(frozen=True)
class Task:
    """One experiment's data, model, objective and outputs.

    Attributes:
        name: the name that ``config.data.name`` gives.
        objective: the loss and metric (:mod:`gru_lstm_jax.tasks.objectives`).
        load: ``load(options, key) -> Data``; ``options`` are the fields of ``config.data``
            but ``name``, as a dict, and ``key`` is the run's ``data`` random stream. Raises
            ``ValueError`` naming the field for a bad option.
        build: ``build(model_config, data, rngs) -> model``: the model of ``config.model`` for
            these data (``rngs`` has ``params`` and ``dropout`` streams).
        forward: ``forward(model, batch, training) -> predictions``, what the objective reads;
            ``training`` is True in the train step (default: :func:`call_on_inputs`).
        write_outputs: ``write_outputs(run, params, workdir) -> dict`` after training, with the
            tested parameters: writes the task's files (predictions, figures) and returns its
            entries of ``results.json`` (default: :func:`write_test_predictions`). ``run`` is
            the :class:`~gru_lstm_jax.training.Run`; ``run.predict_split(params, split)`` gives
            evaluation-mode predictions of a whole split.
        config: ``config(variant) -> ConfigDict``, the task's experiment config (``""``, or a
            variant such as ``"quick"`` or ``"smoke"``), for studies; ``None`` if it has none.
    """

    name: str
    objective: Objective
    load: Callable[[dict[str, Any], jax.Array], Data]
    build: Callable[[ml_collections.ConfigDict, Data, nnx.Rngs], nnx.Module]
    forward: Callable[[nnx.Module, Batch, bool], Any] = call_on_inputs
    write_outputs: Callable[[Any, Any, pathlib.Path], dict[str, Any]] = write_test_predictions
    config: Callable[[str], ml_collections.ConfigDict] | None = None


_REGISTRY: dict[str, Task] = {}


def register_task(task: Task, *, overwrite: bool = False) -> Task:
    """Registers ``task`` under ``task.name`` and returns it.

    Raises:
        ValueError: if the name is taken (unless ``overwrite``) or ``task`` is not a
            :class:`Task`.
    """
    if not isinstance(task, Task):
        raise ValueError(f"task must be a Task; got {type(task).__name__}")
    if task.name in _REGISTRY and not overwrite:
        raise ValueError(f"a task named {task.name!r} is already registered")
    _REGISTRY[task.name] = task
    return task


def available_tasks() -> tuple[str, ...]:
    """The names of the registered tasks, sorted."""
    return tuple(sorted(_REGISTRY))


def get_task(name: str, field: str = "config.data.name") -> Task:
    """The task registered as ``name``.

    Raises:
        ValueError: naming ``field`` and listing the registered tasks, for an unknown name.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"{field} must be a registered task, one of {list(available_tasks())}; got {name!r} "
            "(a task of one's own: name its module in config.imports)"
        )
    return _REGISTRY[name]
