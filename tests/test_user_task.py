"""A task of one's own, written in this file only: registered, trained, resumed and reloaded.

The README's "Add your own task" shows the part between the markers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

from gru_lstm_jax.nn import RNN
from gru_lstm_jax.tasks import Data, Objective, Task, register_task
from gru_lstm_jax.training import load_trained, loop, run_folder, train_and_evaluate

# --- the task: predict the mean of a random sequence, with a Huber loss ---


def make_mean_data(options: dict, key: jax.Array) -> Data:
    """Sequences ``(N, T, 1)`` uniform on [-1, 1]; the targets are their means ``(N, 1)``."""
    splits = {}
    for index, name in enumerate(("train", "val", "test")):
        shape = (options["num_sequences"], options["length"], 1)
        inputs = jax.random.uniform(jax.random.fold_in(key, index), shape, minval=-1, maxval=1)
        splits[name] = {"inputs": np.asarray(inputs), "targets": np.asarray(inputs.mean(axis=1))}
    return Data(splits)


class MeanRegressor(nnx.Module):
    """One recurrent layer and a linear head: ``(B, T, 1) -> (B, 1)``."""

    def __init__(self, cell: str, hidden_size: int, *, rngs: nnx.Rngs):
        self.rnn = RNN(cell, 1, hidden_size, rngs=rngs)
        self.head = nnx.Linear(hidden_size, 1, rngs=rngs)

    def __call__(self, xs: jax.Array) -> jax.Array:
        return self.head(self.rnn(xs))


def huber(predictions: jax.Array, batch: dict) -> jax.Array:
    return optax.huber_loss(predictions, batch["targets"], delta=0.1)[:, 0]


def absolute_error(predictions: jax.Array, batch: dict) -> jax.Array:
    return jnp.abs(predictions - batch["targets"])[:, 0]


MEAN = register_task(
    Task(
        name="sequence_mean",
        objective=Objective("huber", huber, "mae", absolute_error, higher_is_better=False),
        load=make_mean_data,
        build=lambda config, data, rngs: MeanRegressor(config.cell, config.hidden, rngs=rngs),
        forward=lambda model, batch, training: model(batch["inputs"]),
    )
)

# --- end of the task ---


def mean_config(num_epochs: int = 3) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({
        "seed": 0,
        "imports": (),
        "data": {"name": "sequence_mean", "num_sequences": 256, "length": 12},
        "model": {"cell": "gru", "hidden": 16},
        "optimizer": {"name": "adam", "learning_rate": 1e-2, "schedule": "constant",
                      "warmup_steps": 0, "clip_norm": 1.0, "weight_decay": 0.0},
        "training": {"num_epochs": num_epochs, "batch_size": 32, "eval_batch_size": 100,
                     "log_every_steps": 4, "checkpoints_to_keep": 2, "test_checkpoint": "best",
                     "progress": False},
    })  # fmt: skip


def test_a_user_task_trains_resumes_and_reloads(tmp_path, monkeypatch):
    config = mean_config()
    uninterrupted = train_and_evaluate(config, tmp_path / "a")
    # It learns: the test MAE ends well under that of predicting 0 (the mean |target|).
    test = np.load(tmp_path / "a" / "predictions.npz")["test_target"]
    assert uninterrupted["final"]["test"]["mae"] < 0.5 * np.abs(test).mean()
    assert uninterrupted["task"] == "sequence_mean" and uninterrupted["metric"] == "mae"

    original, calls = loop.train_epoch, []

    def interrupted_epoch(run, state, epoch, progress):
        calls.append(epoch)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(run, state, epoch, progress)

    monkeypatch.setattr(loop, "train_epoch", interrupted_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(config, tmp_path / "b")
    monkeypatch.setattr(loop, "train_epoch", original)
    resumed = train_and_evaluate(config, tmp_path / "b")
    for split in ("train", "val", "test"):
        assert resumed["final"][split] == pytest.approx(uninterrupted["final"][split], rel=1e-5)
    assert [r["epoch"] for r in run_folder.read_metrics(tmp_path / "b")] == [1, 2, 3]

    run, params = load_trained(tmp_path / "b")
    assert isinstance(run.model, MeanRegressor)
    predictions = run.predict_split(params, run.splits["test"])
    np.testing.assert_allclose(
        np.abs(predictions - run.splits["test"]["targets"]).mean(),
        resumed["final"]["test"]["mae"],
        rtol=1e-5,
    )


def test_data_that_do_not_fit_the_model_fail_before_any_file(tmp_path):
    wide = Task(
        name="sequence_mean_wide_inputs",
        objective=MEAN.objective,
        load=lambda options, key: Data(
            {
                k: {**v, "inputs": np.repeat(v["inputs"], 3, axis=-1)}
                for k, v in make_mean_data(options, key).splits.items()
            }
        ),
        build=MEAN.build,
        forward=MEAN.forward,
    )
    register_task(wide, overwrite=True)
    config = mean_config()
    config.data.name = wide.name
    with pytest.raises(ValueError, match=r"does not take the train split's arrays .*'inputs'"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_unknown_task_lists_the_registered_ones(tmp_path):
    config = mean_config()
    config.data.name = "sequence_median"
    with pytest.raises(ValueError, match=r"config.data.name must be a registered task.*'sine'"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
