"""The sine-wave forecasting task: predict the next value of a noisy sine from a window.

The series is ``y_t = sin(frequency * x_t) + ε_t`` on ``num_points`` points ``x_t`` evenly spaced
on ``[0, x_max]``, with ``ε_t ~ N(0, noise_std²)`` drawn from an explicit PRNG key. Window ``i``
holds ``y_i, ..., y_{i+window-1}`` and its target is the next value ``y_{i+window}``, so there
are ``N = num_points - window`` windows.

Windows are split chronologically, never shuffled across splits, so the model is validated and
tested on the future of what it was trained on: the last ``test_fraction`` of the windows is the
test split, the last ``val_fraction`` of the remaining windows is the validation split, and the
rest is the training split. Neighbouring windows of different splits overlap in their inputs
(a test window's inputs may include values that were training targets), as in any forecasting
set-up; the targets of different splits never coincide.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gru_lstm_jax.data.checks import check_int, check_real

__all__ = [
    "RIDGE_PENALTIES",
    "SineData",
    "make_sine_data",
    "prediction_mse",
    "reference_mse",
    "reference_predictions",
]

# The ridge penalties that the linear AR reference chooses among, on the validation split.
RIDGE_PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


class SineData(NamedTuple):
    """The sine task: three splits, the underlying series and where the splits start.

    Attributes:
        train: ``{"inputs": (N_train, window, 1) float32, "targets": (N_train, 1) float32,
            "target_index": (N_train,) int64}``; ``target_index`` is the position of each target
            in the series (window index + ``window``).
        val: the validation split, with the same keys.
        test: the test split, with the same keys.
        series: ``{"x": (P,), "y": (P,), "clean": (P,)}``, all float32: the grid, the noisy
            values the windows are cut from, and the noise-free ``sin(frequency * x)``.
        split_index: ``{"val": int, "test": int}``, the index of the first window of the
            validation and the test split (window ``i`` has its target at ``i + window``).
        window: the number of input steps per window.
    """

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    split_index: dict[str, int]
    window: int


def make_sine_data(
    key: jax.Array,
    *,
    num_points: int = 1000,
    x_max: float = 4 * np.pi,
    frequency: float = 1.5,
    noise_std: float = 0.1,
    window: int = 50,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
) -> SineData:
    """Generates the noisy sine series and its chronological window splits.

    Split sizes are rounded to the nearest integer: with ``N`` windows the test split has
    ``round(N * test_fraction)`` windows and the validation split
    ``round((N - N_test) * val_fraction)``. The defaults give ``N = 950`` windows split into
    684 train, 76 validation and 190 test windows.

    Args:
        key: a PRNG key; it alone determines the noise.
        num_points: the length ``P`` of the series.
        x_max: the end of the grid ``[0, x_max]``; positive.
        frequency: the angular frequency of the sine.
        noise_std: the standard deviation of the Gaussian noise; ``>= 0``.
        window: the number of input steps; a positive int smaller than ``num_points``.
        test_fraction: the fraction of all windows, at the end, that is the test split; in
            ``(0, 1)``.
        val_fraction: the fraction of the windows before the test split, at their end, that is
            the validation split; in ``(0, 1)``.

    Returns:
        A :class:`SineData`; see its attributes for the shapes.

    Raises:
        ValueError: naming the argument, if an argument is out of range or a split would be
            empty.
    """
    check_int(num_points, "num_points", minimum=2)
    check_int(window, "window", minimum=1)
    if window >= num_points:
        raise ValueError(
            f"window must be a positive int smaller than num_points={num_points}; got {window!r}"
        )
    num_points, window = int(num_points), int(window)
    check_real(x_max, "x_max", "a positive finite number", lambda v: v > 0)
    check_real(frequency, "frequency", "a finite number")
    check_real(noise_std, "noise_std", "a finite number >= 0", lambda v: v >= 0)
    check_real(test_fraction, "test_fraction", "a fraction in (0, 1)", lambda v: 0 < v < 1)
    check_real(val_fraction, "val_fraction", "a fraction in (0, 1)", lambda v: 0 < v < 1)

    num_windows = num_points - window
    num_test = round(num_windows * test_fraction)
    num_val = round((num_windows - num_test) * val_fraction)
    num_train = num_windows - num_test - num_val
    for name, size in (("test", num_test), ("val", num_val), ("train", num_train)):
        if size == 0:
            raise ValueError(
                f"num_points={num_points}, window={window}, test_fraction={test_fraction} and "
                f"val_fraction={val_fraction} give {num_windows} windows and an empty {name} "
                f"split (train {num_train}, val {num_val}, test {num_test}); every split needs "
                "at least one window"
            )

    x = np.linspace(0.0, x_max, num_points)
    clean = np.sin(frequency * x)
    noise = np.asarray(jax.random.normal(key, (num_points,), jnp.float32), np.float64)
    y = (clean + noise_std * noise).astype(np.float32)

    inputs = np.lib.stride_tricks.sliding_window_view(y, window)[:num_windows, :, None].copy()
    targets = y[window:, None].copy()
    target_index = np.arange(window, num_points, dtype=np.int64)

    val_start = num_train
    test_start = num_train + num_val

    def split(start: int, stop: int) -> dict[str, np.ndarray]:
        return {
            "inputs": inputs[start:stop],
            "targets": targets[start:stop],
            "target_index": target_index[start:stop],
        }

    return SineData(
        train=split(0, val_start),
        val=split(val_start, test_start),
        test=split(test_start, num_windows),
        series={
            "x": x.astype(np.float32),
            "y": y,
            "clean": clean.astype(np.float32),
        },
        split_index={"val": val_start, "test": test_start},
        window=window,
    )


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
