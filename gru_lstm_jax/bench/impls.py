"""The built-in JAX implementations that the benchmark times, and the registration of all.

Every implementation trains the same regression model on the same fixed batch: a recurrent
layer over inputs ``(B, T, I)``, its last output ``(B, H)`` into a linear head ``(B, 1)``, mean
squared error against fixed random targets ``(B, 1)``, Adam (learning rate ``1e-3`` unless told
otherwise). One training step is the forward pass over the whole sequence, the loss, the
backward pass and the Adam update.

- ``ours``: ``gru_lstm_jax.RNN(cell)`` with default options for any registered cell (for
  ``"lstm"`` and ``"gru"`` the same layer as ``gru_lstm_jax.LSTM`` / ``gru_lstm_jax.GRU``), the
  train step of :func:`gru_lstm_jax.training.make_steps` (jitted once, state donated). That step
  also reports the mean absolute error and the gradient norm, as every training run of the
  package does.
- ``ours_scan``, ``ours_associative``, ``ours_cudnn``: the same layer with
  ``implementation="scan"`` (the plain ``lax.scan`` of the cell's step), ``"associative"``
  (minGRU and minLSTM, in parallel over time) or ``"cudnn"`` (the LSTM only, on a GPU with
  cuDNN), to compare our implementations with each other. Not in the default set.
- ``ours_bf16``: ``ours`` with ``compute_dtype="bfloat16"``: mixed precision, the layer's
  matrix products in bfloat16 with float32 results (see ``gru_lstm_jax.RNN``). Not in the
  default set.
- ``flax_linen``: ``flax.linen.RNN`` over ``OptimizedLSTMCell`` / ``GRUCell`` and ``Dense(1)``,
  optax Adam, ``jax.jit`` with the parameters and optimizer state donated.
- ``flax_nnx``: ``flax.nnx.RNN`` over ``nnx.OptimizedLSTMCell`` / ``nnx.GRUCell`` and
  ``nnx.Linear``, ``nnx.Optimizer``; the step is ``jax.jit`` over ``nnx.split`` state, donated
  (Flax's lowest-overhead way to jit an NNX step).
- ``torch`` and ``torch_no_onednn``: PyTorch, see :mod:`gru_lstm_jax.bench.torch_impl`.

Flax and PyTorch implement only the LSTM and the GRU (:data:`LIBRARY_CELLS`); ``ours`` runs any
registered cell, a user's own included once the module that registers it is imported. The JAX
implementations run on ``jax.devices()[0]``; nothing here chooses a device.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen, nnx

from gru_lstm_jax.bench import torch_impl
from gru_lstm_jax.bench.registry import register_impl
from gru_lstm_jax.bench.workloads import Workload, make_data

# The cells that Flax (linen and NNX) and PyTorch implement; ``ours`` runs any registered cell.
LIBRARY_CELLS = ("lstm", "gru")
# The built-in cells linear in h, which implementation="associative" runs.
ASSOCIATIVE_CELLS = ("min_gru", "min_lstm")


def describe_jax_device(device: Any) -> str:
    """Names a JAX device: ``"cpu"``, or the platform and model, e.g. ``"gpu: NVIDIA H200"``."""
    if device.device_kind == device.platform:
        return device.platform
    return f"{device.platform}: {device.device_kind}"


def _mean_squared_error(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.mean((predictions - targets) ** 2)


class JaxTrainer:
    """Runs a jitted JAX train step on one fixed batch.

    Attributes:
        state: the current train state (donated to and returned by each step).
        device: ``"platform: device kind"`` of ``jax.devices()[0]``.
    """

    def __init__(
        self,
        train_step: Callable[[Any, Any], tuple[Any, Any]],
        state: Any,
        batch: Any,
        loss_of: Callable[[Any], jax.Array],
    ):
        """Wraps a train step.

        Args:
            train_step: jitted ``(state, batch) -> (state, aux)`` with ``state`` donated.
            state: the initial state.
            batch: the batch passed to every step, on the device.
            loss_of: ``aux -> loss``, the step's scalar loss (before its update).
        """
        self.train_step = train_step
        self.state = state
        self._batch = batch
        self._loss_of = loss_of
        self._aux = None
        self.device = describe_jax_device(jax.devices()[0])

    def step(self) -> None:
        """Takes one training step and waits until the device has finished it."""
        self.state, self._aux = self.train_step(self.state, self._batch)
        jax.block_until_ready((self.state, self._aux))

    def loss(self) -> float:
        """The loss of the last step, computed before that step's update."""
        return float(self._loss_of(self._aux))

    def settings(self) -> dict[str, Any]:
        """Numerics settings that affect speed: JAX's default matmul precision."""
        return {"jax_default_matmul_precision": jax.config.jax_default_matmul_precision}

    def recurrent_kernel(self) -> None:
        """``None``: a JAX implementation runs the loop that XLA compiled from its scan."""
        return None


def _device_batch(workload: Workload, seed: int) -> tuple[jax.Array, jax.Array]:
    inputs, targets = make_data(workload, seed)
    return jax.device_put(inputs), jax.device_put(targets)


def build_ours(
    cell: str,
    workload: Workload,
    seed: int,
    learning_rate: float,
    implementation: str = "auto",
    compute_dtype: str = "float32",
) -> JaxTrainer:
    """Our layer (``gru_lstm_jax.RNN(cell)``, default options) under the package's step.

    Args:
        cell: a registered cell name (``"lstm"``: the layer ``gru_lstm_jax.LSTM`` is).
        workload: the shape ``(B, T, I, H)``.
        seed: seeds the parameters and the data.
        learning_rate: Adam's learning rate.
        implementation: the layer's ``implementation``.
        compute_dtype: the layer's ``compute_dtype``.

    Returns:
        A :class:`JaxTrainer` whose state is a :class:`gru_lstm_jax.training.TrainState`.

    Raises:
        ValueError: for ``implementation="cudnn"`` without a GPU with cuDNN.
    """
    # Imported here: the training package also loads checkpointing and plotting, an import
    # that the other implementations' worker processes need not pay for.
    from gru_lstm_jax import RNN
    from gru_lstm_jax.recurrence import cudnn_available
    from gru_lstm_jax.training import get_objective, make_steps

    if implementation == "cudnn" and not cudnn_available():
        raise ValueError(f"impl 'ours_cudnn' needs a GPU with cuDNN; JAX has {jax.devices()}")
    rngs = nnx.Rngs(seed)
    layer = RNN(
        cell, workload.features, workload.hidden, implementation=implementation,
        compute_dtype=compute_dtype, rngs=rngs,
    )  # fmt: skip
    model = nnx.Sequential(layer, nnx.Linear(workload.hidden, 1, rngs=rngs))
    steps = make_steps(
        model, optax.adam(learning_rate), get_objective("regression"), jax.random.key(seed)
    )
    inputs, targets = _device_batch(workload, seed)
    return JaxTrainer(
        steps.train_step,
        steps.init_state(),
        {"inputs": inputs, "targets": targets},
        loss_of=lambda metrics: metrics["loss"],
    )


class LinenRegressor(linen.Module):
    """``flax.linen.RNN`` over Flax's LSTM or GRU cell, last output into ``Dense(1)``.

    Attributes:
        cell: ``"lstm"`` (``OptimizedLSTMCell``) or ``"gru"`` (``GRUCell``).
        hidden: hidden units ``H``.
    """

    cell: str
    hidden: int

    @linen.compact
    def __call__(self, xs: jax.Array) -> jax.Array:
        """Maps inputs ``(B, T, I)`` to predictions ``(B, 1)``."""
        make_cell = {"lstm": linen.OptimizedLSTMCell, "gru": linen.GRUCell}[self.cell]
        outputs = linen.RNN(make_cell(self.hidden))(xs)
        return linen.Dense(1)(outputs[:, -1])


def build_flax_linen(cell: str, workload: Workload, seed: int, learning_rate: float) -> JaxTrainer:
    """Flax linen ``nn.RNN`` with optax Adam; arguments as :func:`build_ours`.

    Returns:
        A :class:`JaxTrainer` whose state is ``(params, opt_state)``.
    """
    model = LinenRegressor(cell, workload.hidden)
    inputs, targets = _device_batch(workload, seed)
    params = model.init(jax.random.key(seed), inputs)
    optimizer = optax.adam(learning_rate)

    def train_step(state: Any, batch: Any) -> tuple[Any, jax.Array]:
        params, opt_state = state
        xs, ys = batch
        loss, grads = jax.value_and_grad(lambda p: _mean_squared_error(model.apply(p, xs), ys))(
            params
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    return JaxTrainer(
        jax.jit(train_step, donate_argnums=0),
        (params, optimizer.init(params)),
        (inputs, targets),
        loss_of=lambda loss: loss,
    )


class NnxRegressor(nnx.Module):
    """``flax.nnx.RNN`` over Flax NNX's LSTM or GRU cell, last output into ``nnx.Linear``."""

    def __init__(self, cell: str, workload: Workload, *, rngs: nnx.Rngs):
        """Creates the model.

        Args:
            cell: ``"lstm"`` (``nnx.OptimizedLSTMCell``) or ``"gru"`` (``nnx.GRUCell``).
            workload: the shape ``(B, T, I, H)``.
            rngs: initialises the parameters.
        """
        make_cell = {"lstm": nnx.OptimizedLSTMCell, "gru": nnx.GRUCell}[cell]
        self.rnn = nnx.RNN(make_cell(workload.features, workload.hidden, rngs=rngs))
        self.head = nnx.Linear(workload.hidden, 1, rngs=rngs)

    def __call__(self, xs: jax.Array) -> jax.Array:
        """Maps inputs ``(B, T, I)`` to predictions ``(B, 1)``."""
        return self.head(self.rnn(xs)[:, -1])


def build_flax_nnx(cell: str, workload: Workload, seed: int, learning_rate: float) -> JaxTrainer:
    """Flax NNX ``nnx.RNN`` with ``nnx.Optimizer``; arguments as :func:`build_ours`.

    Returns:
        A :class:`JaxTrainer` whose state is ``nnx.state((model, optimizer))``.
    """
    model = NnxRegressor(cell, workload, rngs=nnx.Rngs(seed))
    optimizer = nnx.Optimizer(model, optax.adam(learning_rate), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def train_step(state: Any, batch: Any) -> tuple[Any, jax.Array]:
        model, optimizer = nnx.merge(graphdef, state)
        xs, ys = batch
        loss, grads = nnx.value_and_grad(lambda m: _mean_squared_error(m(xs), ys))(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    return JaxTrainer(
        jax.jit(train_step, donate_argnums=0),
        state,
        _device_batch(workload, seed),
        loss_of=lambda loss: loss,
    )


def _ours_label(suffix: str = "") -> Callable[[str], str]:
    """``cell -> "ours (gru_lstm_jax.LSTM)" + suffix``; ``RNN('cell')`` for other cells."""
    layers = {"lstm": "gru_lstm_jax.LSTM", "gru": "gru_lstm_jax.GRU"}
    return lambda cell: f"ours ({layers.get(cell, f'gru_lstm_jax.RNN({cell!r})')}){suffix}"


_FLAX_CELLS = {"lstm": "OptimizedLSTMCell", "gru": "GRUCell"}
_TORCH_LAYERS = {"lstm": "LSTM", "gru": "GRU"}
# In this order: the order of --impls's help and error messages.
register_impl("ours", build_ours, label=_ours_label(), default=True, ours=True)
register_impl(
    "flax_linen", build_flax_linen, implements=LIBRARY_CELLS, default=True,
    label=lambda cell: f"Flax linen nn.RNN({_FLAX_CELLS[cell]})",
)  # fmt: skip
register_impl(
    "flax_nnx", build_flax_nnx, implements=LIBRARY_CELLS, default=True,
    label=lambda cell: f"Flax NNX nnx.RNN({_FLAX_CELLS[cell]})",
)  # fmt: skip
register_impl(
    "torch", torch_impl.build_torch, implements=LIBRARY_CELLS, default=True, needs_torch=True,
    label=lambda cell: f"PyTorch nn.{_TORCH_LAYERS[cell]}",
)  # fmt: skip
register_impl(
    "ours_scan", functools.partial(build_ours, implementation="scan"), ours=True,
    label=_ours_label(", implementation='scan'"),
)  # fmt: skip
register_impl(
    "ours_associative", functools.partial(build_ours, implementation="associative"),
    implements=ASSOCIATIVE_CELLS, ours=True, label=_ours_label(", associative"),
)  # fmt: skip
register_impl(
    "ours_cudnn", functools.partial(build_ours, implementation="cudnn"), implements=("lstm",),
    ours=True, label=_ours_label(", implementation='cudnn'"),
)  # fmt: skip
register_impl(
    "ours_bf16", functools.partial(build_ours, compute_dtype="bfloat16"), ours=True,
    label=_ours_label(", compute_dtype='bfloat16'"),
)  # fmt: skip
register_impl(
    "torch_no_onednn", functools.partial(torch_impl.build_torch, onednn=False),
    implements=LIBRARY_CELLS, needs_torch=True,
    label=lambda cell: f"PyTorch nn.{_TORCH_LAYERS[cell]}, oneDNN off",
)  # fmt: skip
