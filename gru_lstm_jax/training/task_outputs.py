"""Task-specific files of a finished run: predictions as NumPy archives, then their figures."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from gru_lstm_jax import data as datasets
from gru_lstm_jax.models import autoregressive_forecast
from gru_lstm_jax.training import plots

__all__ = ["predict_split", "write_task_outputs"]


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


def write_task_outputs(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    """Writes ``predictions.npz`` and the task's figures for ``params`` (the tested checkpoint).

    Sine: one-step predictions on every split, and an autoregressive forecast over the test
    period that starts from the last window before it (``predictions.png``, ``forecast.png``).
    XOR and IMDB: the predicted probability of every test example; IMDB also writes its
    ``vocabulary.json``, which :func:`~gru_lstm_jax.training.inference.predict_texts` reads.

    Returns:
        The task's entries of ``results.json``. Sine: ``"references"``, ``{split: {predictor:
        mse}}`` for the reference predictors of
        :func:`~gru_lstm_jax.data.sine.reference_predictions` against the noisy targets, and
        ``"noise_free_error"``, ``{split: {"model" | predictor: mse}}`` against the noise-free
        sine, which takes the split's noise draw out of the comparison
        (:func:`~gru_lstm_jax.data.sine.prediction_mse`). Other tasks: ``{}``.
    """
    if run.config.data.name == "sine":
        data = run.data
        arrays = {f"series_{k}": v for k, v in data.series.items()}
        model_predictions = {}
        for name in ("train", "val", "test"):
            split = getattr(data, name)
            model_predictions[name] = predict_split(run, params, split)[:, 0]
            arrays[f"{name}_prediction"] = model_predictions[name]
            arrays[f"{name}_target_index"] = split["target_index"]
        model = run.steps.model_with(params)
        forecast = autoregressive_forecast(model, data.test["inputs"][0], len(data.test["targets"]))
        arrays["forecast"] = np.asarray(forecast)[:, 0]
        arrays["forecast_target_index"] = data.test["target_index"]
        np.savez(workdir / "predictions.npz", **arrays)
        plots.plot_sine_predictions(workdir)
        plots.plot_sine_forecast(workdir)
        references = datasets.sine_reference_predictions(data, run.config.data.frequency)
        fitted = {k: v for k, v in references.items() if k != "noise_free"}
        return {
            "references": datasets.sine_prediction_mse(data, references),
            "noise_free_error": datasets.sine_prediction_mse(
                data, {"model": model_predictions, **fitted}, against="noise_free"
            ),
        }
    else:  # binary classification: XOR, IMDB
        if run.config.data.name == "imdb":
            run.data.save(workdir / "vocabulary.json")
        logits = predict_split(run, params, run.splits["test"])
        np.savez(
            workdir / "predictions.npz",
            test_probability=1.0 / (1.0 + np.exp(-logits[:, 0])),
            test_target=run.splits["test"]["targets"][:, 0],
        )
        return {}
