"""Task-specific files of a finished run: predictions as NumPy archives, then their figures."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from gru_lstm_jax import data as datasets
from gru_lstm_jax.models import autoregressive_forecast
from gru_lstm_jax.training import plots

__all__ = ["predict_split", "task_results", "write_task_outputs"]


def predict_split(run: Any, params: Any, split: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluation-mode predictions for every example of ``split``, ``(N, K)``, in its order.

    With ``config.training.bucket_width`` the batches are length-bucketed (see
    :func:`~gru_lstm_jax.data.padded_batches`) and the predictions put back in the split's order.
    """
    size = datasets.num_examples(split)
    training = run.config.training
    # Each batch carries its examples' indices, so bucketed (length-sorted) batches can be put
    # back in the split's order.
    indexed = {**split, "index": np.arange(size)}
    batches = datasets.padded_batches(
        indexed, training.eval_batch_size, bucket_width=training.get("bucket_width", 0)
    )
    predictions, indices = [], []
    for batch in batches:
        inputs = {k: v for k, v in batch.items() if k in ("inputs", "lengths", "weights")}
        real = batch["weights"] == 1.0
        predictions.append(np.asarray(run.steps.predict(params, inputs))[real])
        indices.append(batch["index"][real])
    restored = np.empty((size, *predictions[0].shape[1:]), predictions[0].dtype)
    restored[np.concatenate(indices)] = np.concatenate(predictions)
    return restored


def task_results(run: Any) -> dict[str, Any]:
    """Task-specific entries of ``results.json``.

    Sine: ``{"references": {split: {predictor: mse}}}``, the MSE of the reference predictors of
    :func:`~gru_lstm_jax.data.sine.reference_mse` (the noise-free sine, per-window sine and
    phase fits, a ridge AR), to read the model's MSE against. Other tasks: ``{}``.
    """
    if run.config.data.name == "sine":
        return {"references": datasets.sine_reference_mse(run.data, run.config.data.frequency)}
    return {}


def write_task_outputs(run: Any, params: Any, workdir: pathlib.Path) -> None:
    """Writes ``predictions.npz`` and the task's figures for ``params`` (the best checkpoint).

    Sine: one-step predictions on every split, and an autoregressive forecast over the test
    period that starts from the last window before it (``predictions.png``, ``forecast.png``).
    XOR and IMDB: the predicted probability of every test example; IMDB also writes its
    ``vocabulary.json``, which :func:`~gru_lstm_jax.training.inference.predict_texts` reads.
    """
    if run.config.data.name == "sine":
        data = run.data
        arrays = {f"series_{k}": v for k, v in data.series.items()}
        for name in ("train", "val", "test"):
            split = getattr(data, name)
            arrays[f"{name}_prediction"] = predict_split(run, params, split)[:, 0]
            arrays[f"{name}_target_index"] = split["target_index"]
        model = run.steps.model_with(params)
        forecast = autoregressive_forecast(model, data.test["inputs"][0], len(data.test["targets"]))
        arrays["forecast"] = np.asarray(forecast)[:, 0]
        arrays["forecast_target_index"] = data.test["target_index"]
        np.savez(workdir / "predictions.npz", **arrays)
        plots.plot_sine_predictions(workdir)
        plots.plot_sine_forecast(workdir)
    else:  # binary classification: XOR, IMDB
        if run.config.data.name == "imdb":
            run.data.save(workdir / "vocabulary.json")
        logits = predict_split(run, params, run.splits["test"])
        np.savez(
            workdir / "predictions.npz",
            test_probability=1.0 / (1.0 + np.exp(-logits[:, 0])),
            test_target=run.splits["test"]["targets"][:, 0],
        )
