"""The sine-forecasting task: the seed's forecaster, reference predictors and forecast figures.

``config.data`` holds the options of :func:`~gru_lstm_jax.data.make_sine_data`; the model is a
:class:`~gru_lstm_jax.models.Forecaster` (``config.model``: ``cell``, ``hidden_sizes``,
dropouts, cell options) trained on the ``regression`` objective. After training the task writes
``predictions.npz`` (the series, one-step predictions of every split and an autoregressive
forecast over the test period), ``predictions.png`` and ``forecast.png``, and gives
``results.json`` the reference predictors' errors (:func:`reference_predictions`).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import ml_collections
import numpy as np
from flax import nnx
from matplotlib.figure import Figure

from gru_lstm_jax.checks import check_real
from gru_lstm_jax.configs import sine as sine_config
from gru_lstm_jax.data.sine import SineData, make_sine_data
from gru_lstm_jax.models import autoregressive_forecast, build_model
from gru_lstm_jax.tasks.base import Data, Task, check_options, register_task, save_figure
from gru_lstm_jax.tasks.objectives import OBJECTIVES

__all__ = [
    "RIDGE_PENALTIES",
    "SINE",
    "plot_sine_forecast",
    "plot_sine_predictions",
    "prediction_mse",
    "reference_mse",
    "reference_predictions",
]

# The ridge penalties that the linear AR reference chooses among, on the validation split.
RIDGE_PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _splits(data: SineData) -> dict[str, dict[str, np.ndarray]]:
    return {"train": data.train, "val": data.val, "test": data.test}


def _sine_fit(
    window_x: np.ndarray, window_y: np.ndarray, target_x: np.ndarray, frequency: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least squares ``a sin(ω x) + b cos(ω x)`` on each of ``N`` windows of ``W`` points.

    Args:
        window_x: the grid points of each window, ``(N, W)``.
        window_y: the values of each window, ``(N, W)``.
        target_x: the grid point of each window's target, ``(N,)``.
        frequency: ``ω``.

    Returns:
        ``(coefficients, features, gram, moments)``: ``(a, b)`` per window and
        ``(sin ω x, cos ω x)`` at its target, both ``(N, 2)`` (the fit's prediction is their
        row-wise dot product), and the normal equations' ``(N, 2, 2)`` Gram matrices and
        ``(N, 2)`` right-hand sides.
    """
    basis = np.stack([np.sin(frequency * window_x), np.cos(frequency * window_x)], axis=-1)
    gram = np.einsum("nwi,nwj->nij", basis, basis)
    moments = np.einsum("nwi,nw->ni", basis, window_y)
    coefficients = np.linalg.solve(gram, moments[..., None])[..., 0]
    target = np.stack([np.sin(frequency * target_x), np.cos(frequency * target_x)], axis=-1)
    return coefficients, target, gram, moments


def _phase_fit(gram: np.ndarray, moments: np.ndarray, grid_size: int = 720) -> np.ndarray:
    """The least-squares unit vector ``u = (cos φ, sin φ)`` of each window's sine of amplitude 1.

    With the basis ``s_w = (sin ω x_w, cos ω x_w)``, ``sin(ω x_w + φ) = u · s_w``, so the window's
    squared error is ``Σ y_w² - 2 mᵀu + uᵀGu`` (``G = Σ s_w s_wᵀ``, ``m = Σ y_w s_w``): a
    trigonometric polynomial in ``φ`` with at most two minima. The global one is bracketed on a
    grid of ``grid_size`` angles and refined by Newton steps no longer than the grid spacing.

    Args:
        gram: ``G`` per window, ``(N, 2, 2)``.
        moments: ``m`` per window, ``(N, 2)``.
        grid_size: the number of grid angles.

    Returns:
        ``u`` per window, ``(N, 2)``.
    """
    g11, g12, g22 = gram[:, 0, 0, None], gram[:, 0, 1, None], gram[:, 1, 1, None]
    m1, m2 = moments[:, 0, None], moments[:, 1, None]

    def loss(c: np.ndarray, s: np.ndarray) -> np.ndarray:
        return g11 * c * c + 2 * g12 * c * s + g22 * s * s - 2 * (m1 * c + m2 * s)

    grid = np.linspace(-np.pi, np.pi, grid_size, endpoint=False)[None, :]
    phi = grid[0, np.argmin(loss(np.cos(grid), np.sin(grid)), axis=-1)][:, None]
    spacing = 2 * np.pi / grid_size
    for _ in range(8):
        c, s = np.cos(phi), np.sin(phi)
        slope = 2 * ((g22 - g11) * c * s + g12 * (c * c - s * s)) + 2 * (m1 * s - m2 * c)
        curvature = 2 * ((g22 - g11) * (c * c - s * s) - 4 * g12 * c * s) + 2 * (m1 * c + m2 * s)
        # Near a minimum the curvature is positive (a Newton step); elsewhere step downhill.
        step = slope / np.where(curvature > 0, curvature, 1.0)
        phi = phi - np.clip(step, -spacing, spacing)
    return np.concatenate([np.cos(phi), np.sin(phi)], axis=-1)


def reference_predictions(
    data: SineData, frequency: float, penalties: tuple[float, ...] = RIDGE_PENALTIES
) -> dict[str, dict[str, np.ndarray]]:
    """One-step predictions of four reference predictors on every split, to judge a model by.

    Each sees what a model sees, a window ``y_{i}, ..., y_{i+W-1}`` (float64 here), except the
    first, and predicts ``y_{i+W}``:

    - ``"noise_free"``: the noise-free ``sin(frequency x_{i+W})`` itself; its MSE is the floor
      that no predictor beats on average, and it depends on the split's noise draw.
    - ``"sine_fit"``: knows the frequency ``ω``; fits ``a sin(ω x) + b cos(ω x)`` to the window by
      least squares and extrapolates it one step.
    - ``"phase_fit"``: knows the frequency and the amplitude 1; fits the phase ``φ`` of
      ``sin(ω x + φ)`` to the window by least squares (the maximum-likelihood phase under the
      Gaussian noise) and extrapolates. It knows all but the window's phase, so it is the
      best reference: what a model that learned the series' shape could reach.
    - ``"linear_ar"``: a ridge regression ``y_{i+W} ≈ c + Σ_k θ_k y_{i+k}`` (AR(W)) fitted on
      the training windows, with the penalty on ``θ`` chosen among ``penalties`` by validation
      MSE; learned from the same data as a model.

    Args:
        data: the task's splits and series (:func:`make_sine_data`).
        frequency: the sine's angular frequency (``config.data.frequency``).
        penalties: the ridge penalties to choose from; positive.

    Returns:
        ``{predictor: {"train" | "val" | "test": (N_split,) float64}}``.

    Raises:
        ValueError: if ``frequency`` is not the series' frequency, or ``penalties`` is empty or
            holds a non-positive value.
    """
    check_real(frequency, "frequency", "a finite number")
    x = np.asarray(data.series["x"], np.float64)
    clean = np.asarray(data.series["clean"], np.float64)
    if not np.allclose(np.sin(frequency * x), clean, atol=1e-5):
        raise ValueError(
            f"frequency={frequency!r} is not the frequency of the series in data: its clean "
            "values are not sin(frequency * x); pass config.data.frequency"
        )
    if not penalties:
        raise ValueError("penalties must be a non-empty tuple of positive numbers; got ()")
    for penalty in penalties:
        check_real(penalty, "penalties", "a tuple of positive finite numbers", lambda v: v > 0)
    splits = _splits(data)
    index = {split: arrays["target_index"] for split, arrays in splits.items()}
    windows = {split: np.asarray(a["inputs"][..., 0], np.float64) for split, a in splits.items()}
    offsets = np.arange(-data.window, 0)
    predictions: dict[str, dict[str, np.ndarray]] = {
        name: {} for name in ("noise_free", "sine_fit", "phase_fit", "linear_ar")
    }
    for split, i in index.items():
        coefficients, target, gram, moments = _sine_fit(
            x[i[:, None] + offsets], windows[split], x[i], frequency
        )
        unit = _phase_fit(gram, moments)
        predictions["noise_free"][split] = clean[i]
        predictions["sine_fit"][split] = np.sum(coefficients * target, axis=-1)
        predictions["phase_fit"][split] = np.sum(unit * target, axis=-1)

    # The AR's design: the window's values and a 1 for the intercept, which is not penalised.
    design = {
        split: np.pad(w, ((0, 0), (0, 1)), constant_values=1.0) for split, w in windows.items()
    }
    train_y = np.asarray(data.train["targets"][:, 0], np.float64)
    val_y = np.asarray(data.val["targets"][:, 0], np.float64)
    penalised = np.diag(np.r_[np.ones(data.window), 0.0])
    ar_gram, ar_moments = design["train"].T @ design["train"], design["train"].T @ train_y
    fits = [np.linalg.solve(ar_gram + penalty * penalised, ar_moments) for penalty in penalties]
    weights = min(fits, key=lambda w: np.mean((design["val"] @ w - val_y) ** 2))
    for split, d in design.items():
        predictions["linear_ar"][split] = d @ weights
    return predictions


def prediction_mse(
    data: SineData, predictions: dict[str, dict[str, np.ndarray]], against: str = "targets"
) -> dict[str, dict[str, float]]:
    """The mean squared error of each predictor on each split, against the targets or the truth.

    Against the noisy targets, even the noise-free sine errs by the split's noise draw; against
    the noise-free sine (``against="noise_free"``) that draw is gone, and what is left is how
    far a predictor is from the truth, comparable across seeds and between models.

    Args:
        data: the task's splits and series (:func:`make_sine_data`).
        predictions: ``{predictor: {split: (N_split,)}}`` one-step predictions for any of the
            splits ``"train"``, ``"val"``, ``"test"``, such as :func:`reference_predictions`.
        against: ``"targets"`` (the noisy next values) or ``"noise_free"`` (``sin(ω x)`` there).

    Returns:
        ``{split: {predictor: float}}``, float64 means.

    Raises:
        ValueError: for another ``against``, an unknown split, or predictions whose shape is
            not the split's ``(N_split,)``.
    """
    if against not in ("targets", "noise_free"):
        raise ValueError(f"against must be 'targets' or 'noise_free'; got {against!r}")
    splits = _splits(data)
    clean = np.asarray(data.series["clean"], np.float64)
    errors: dict[str, dict[str, float]] = {}
    for name, by_split in predictions.items():
        for split, values in by_split.items():
            if split not in splits:
                raise ValueError(
                    f"predictions[{name!r}] has split {split!r}; expected 'train', 'val', 'test'"
                )
            arrays = splits[split]
            expected = (len(arrays["target_index"]),)
            if np.shape(values) != expected:
                raise ValueError(
                    f"predictions[{name!r}][{split!r}] must have shape {expected} (one value "
                    f"per window); got {np.shape(values)}"
                )
            if against == "targets":
                truth = np.asarray(arrays["targets"][:, 0], np.float64)
            else:
                truth = clean[arrays["target_index"]]
            error = np.mean((np.asarray(values, np.float64) - truth) ** 2)
            errors.setdefault(split, {})[name] = float(error)
    return errors


def reference_mse(data: SineData, frequency: float) -> dict[str, dict[str, float]]:
    """The MSE of each :func:`reference_predictions` predictor: ``{split: {predictor: mse}}``.

    Args:
        data: the task's splits and series (:func:`make_sine_data`).
        frequency: the sine's angular frequency.

    Returns:
        ``{"train" | "val" | "test": {"noise_free" | "sine_fit" | "phase_fit" | "linear_ar":
        float}}``, each against the split's noisy targets.
    """
    return prediction_mse(data, reference_predictions(data, frequency))


def plot_sine_predictions(workdir: str | os.PathLike) -> pathlib.Path:
    """Draws the noisy series, the clean sine and the one-step predictions on train and test.

    Returns:
        The path of ``predictions.png`` in ``workdir``.
    """
    workdir = pathlib.Path(workdir)
    arrays = np.load(workdir / "predictions.npz")
    x, y = arrays["series_x"], arrays["series_y"]
    figure = Figure(figsize=(12, 4))
    axis = figure.subplots()
    axis.plot(x, y, ".", color="0.7", markersize=3, label="observed (noisy)")
    axis.plot(x, arrays["series_clean"], color="0.3", linewidth=1, label="noise-free sine")
    for split in ("train", "val", "test"):
        index = arrays[f"{split}_target_index"]
        axis.plot(
            x[index], arrays[f"{split}_prediction"], linewidth=1.5, label=f"{split} prediction"
        )
    axis.set(xlabel="x", ylabel="value", title="One-step predictions")
    axis.legend(loc="upper right", fontsize="small")
    return save_figure(figure, workdir / "predictions.png")


def plot_sine_forecast(workdir: str | os.PathLike) -> pathlib.Path:
    """Draws the autoregressive forecast over the test period against the observed series.

    Returns:
        The path of ``forecast.png`` in ``workdir``.
    """
    workdir = pathlib.Path(workdir)
    arrays = np.load(workdir / "predictions.npz")
    x, index = arrays["series_x"], arrays["forecast_target_index"]
    figure = Figure(figsize=(10, 4))
    axis = figure.subplots()
    axis.plot(x[index], arrays["series_y"][index], ".", color="0.6", label="observed (noisy)")
    axis.plot(x[index], arrays["series_clean"][index], color="0.3", label="noise-free sine")
    axis.plot(x[index], arrays["test_prediction"], label="one-step prediction")
    axis.plot(x[index], arrays["forecast"], label="autoregressive forecast")
    axis.set(xlabel="x", ylabel="value", title="Forecast over the test period")
    axis.legend(fontsize="small")
    return save_figure(figure, workdir / "forecast.png")


def _load(options: dict[str, Any], key: Any) -> Data:
    check_options(make_sine_data, options, "sine")
    data = make_sine_data(key, **options)
    return Data(_splits(data), data)


def _build(config: ml_collections.ConfigDict, data: Data, rngs: nnx.Rngs) -> nnx.Module:
    train = data.splits["train"]
    features, time_steps = train["inputs"].shape[-1], train["inputs"].shape[1]
    return build_model(config, features, train["targets"].shape[-1], time_steps, rngs=rngs)


def _write_outputs(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    """One-step predictions, the forecast and their figures; the references' errors.

    Returns:
        ``"references"``, ``{split: {predictor: mse}}`` for the predictors of
        :func:`reference_predictions` against the noisy targets, and ``"noise_free_error"``,
        ``{split: {"model" | predictor: mse}}`` against the noise-free sine, which takes the
        split's noise draw out of the comparison (:func:`prediction_mse`).
    """
    data: SineData = run.data
    arrays = {f"series_{k}": v for k, v in data.series.items()}
    model_predictions = {}
    for name, split in run.splits.items():
        model_predictions[name] = run.predict_split(params, split)[:, 0]
        arrays[f"{name}_prediction"] = model_predictions[name]
        arrays[f"{name}_target_index"] = split["target_index"]
    model = run.steps.model_with(params)
    forecast = autoregressive_forecast(model, data.test["inputs"][0], len(data.test["targets"]))
    arrays["forecast"] = np.asarray(forecast)[:, 0]
    arrays["forecast_target_index"] = data.test["target_index"]
    np.savez(workdir / "predictions.npz", **arrays)
    plot_sine_predictions(workdir)
    plot_sine_forecast(workdir)
    references = reference_predictions(data, run.config.data.frequency)
    fitted = {k: v for k, v in references.items() if k != "noise_free"}
    return {
        "references": prediction_mse(data, references),
        "noise_free_error": prediction_mse(
            data, {"model": model_predictions, **fitted}, against="noise_free"
        ),
    }


SINE = register_task(
    Task(
        name="sine",
        objective=OBJECTIVES["regression"],
        load=_load,
        build=_build,
        write_outputs=_write_outputs,
        config=sine_config.get_config,
    )
)
