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

from gru_lstm_jax.checks import check_int, check_real

__all__ = ["SineData", "make_sine_data"]


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
