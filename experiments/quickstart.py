"""Quickstart: forecast a noisy sine wave one step ahead with an LSTM and a GRU.

A thin demo until the full experiments exist. The task is ``sin(1.5 x) + N(0, 0.1²)`` on
``[0, 4π]`` (1,000 points); each sample is a window of 50 values and the target is the next
value; the first 80% of windows train, the last 20% test. Each model is one recurrent layer
(32 units) and a linear head, trained on minibatches of 64 windows with Adam and gradient
clipping (global norm 1). The best possible test MSE is the noise variance, 0.01. The seconds
printed per cell include JIT compilation, which is most of them.

Command (from the repository root)::

    python experiments/quickstart.py

Expected output (about 20 s in all on 2 CPU cores; the digits may vary across machines)::

    train 760 windows, test 190 windows of 50 steps; noise variance 0.0100
    lstm: 4,385 params, train MSE 0.4844 -> 0.0114, test MSE 0.0116, 7.6 s
    gru: 3,393 params, train MSE 0.5177 -> 0.0111, test MSE 0.0111, 5.3 s
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from gru_lstm_jax import available_cells
from gru_lstm_jax.nn import RNN, count_params

NOISE_STD = 0.1
WINDOW = 50
HIDDEN = 32
BATCH = 64


def noisy_sine_windows(
    key: jax.Array, num_points: int = 1000, window: int = WINDOW, train_fraction: float = 0.8
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """Builds the one-step-ahead forecasting task on ``sin(1.5 x) + noise``, ``x`` in ``[0, 4π]``.

    Args:
        key: a PRNG key for the Gaussian noise (standard deviation ``NOISE_STD``).
        num_points: length of the series.
        window: input steps per sample.
        train_fraction: the chronologically first fraction of windows used for training.

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` with ``x`` of shape ``(N, window, 1)`` and
        ``y`` of shape ``(N, 1)``, where ``N`` sums to ``num_points - window``.
    """
    x = jnp.linspace(0.0, 4.0 * jnp.pi, num_points)
    series = jnp.sin(1.5 * x) + NOISE_STD * jax.random.normal(key, (num_points,))
    starts = jnp.arange(num_points - window)
    inputs = series[starts[:, None] + jnp.arange(window)][..., None]
    targets = series[starts + window][:, None]
    split = int(train_fraction * len(starts))
    return (inputs[:split], targets[:split]), (inputs[split:], targets[split:])


class Forecaster(nnx.Module):
    """A recurrent layer over the window followed by a linear head on its last output."""

    def __init__(self, cell: str, *, rngs: nnx.Rngs):
        """Creates the model for a registered cell name such as ``"lstm"`` or ``"gru"``."""
        self.rnn = RNN(cell, 1, HIDDEN, rngs=rngs)
        self.head = nnx.Linear(HIDDEN, 1, rngs=rngs)

    def __call__(self, xs: jax.Array) -> jax.Array:
        """Maps windows ``(B, T, 1)`` to next-value predictions ``(B, 1)``."""
        return self.head(self.rnn(xs))


def mse(model: Forecaster, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """Mean squared error of ``model(xs)`` ``(B, 1)`` against ``ys`` ``(B, 1)``; a scalar."""
    return jnp.mean((model(xs) - ys) ** 2)


@nnx.jit
def train_step(
    model: Forecaster,
    optimizer: nnx.Optimizer,
    x_train: jax.Array,
    y_train: jax.Array,
    key: jax.Array,
    step: int | jax.Array,
) -> jax.Array:
    """One Adam step on a random minibatch of ``BATCH`` training windows.

    Args:
        model: the model, updated in place.
        optimizer: its optimizer, updated in place.
        x_train: all training windows ``(N, T, 1)``.
        y_train: their targets ``(N, 1)``.
        key: the PRNG key of the minibatch stream.
        step: the step number, folded into ``key`` so every step draws a new batch.

    Returns:
        The minibatch loss, a scalar.
    """
    index = jax.random.randint(jax.random.fold_in(key, step), (BATCH,), 0, len(x_train))
    loss, grads = nnx.value_and_grad(mse)(model, x_train[index], y_train[index])
    optimizer.update(model, grads)
    return loss


evaluate = nnx.jit(mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="Adam steps per cell")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise, weights, batches")
    parser.add_argument(
        "--cells",
        nargs="+",
        default=["lstm", "gru"],
        choices=available_cells(),
        metavar="CELL",
        help=f"registered cell names, any of {', '.join(available_cells())}",
    )
    args = parser.parse_args()

    data_key, init_key, batch_key = jax.random.split(jax.random.key(args.seed), 3)
    (x_train, y_train), (x_test, y_test) = noisy_sine_windows(data_key)
    print(
        f"train {len(x_train)} windows, test {len(x_test)} windows of {WINDOW} steps; "
        f"noise variance {NOISE_STD**2:.4f}"
    )
    for cell in args.cells:
        start = time.perf_counter()
        model = Forecaster(cell, rngs=nnx.Rngs(params=init_key))
        tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2))
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
        initial = float(evaluate(model, x_train, y_train))
        for step in range(args.steps):
            train_step(model, optimizer, x_train, y_train, batch_key, step)
        final = float(evaluate(model, x_train, y_train))
        test = float(evaluate(model, x_test, y_test))
        seconds = time.perf_counter() - start
        print(
            f"{cell}: {count_params(model):,} params, train MSE {initial:.4f} -> {final:.4f}, "
            f"test MSE {test:.4f}, {seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
