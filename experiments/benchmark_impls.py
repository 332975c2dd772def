"""The training steps that ``experiments/benchmark.py`` times, one builder per implementation.

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
- ``flax_linen``: ``flax.linen.RNN`` over ``OptimizedLSTMCell`` / ``GRUCell`` and ``Dense(1)``,
  optax Adam, ``jax.jit`` with the parameters and optimizer state donated.
- ``flax_nnx``: ``flax.nnx.RNN`` over ``nnx.OptimizedLSTMCell`` / ``nnx.GRUCell`` and
  ``nnx.Linear``, ``nnx.Optimizer``; the step is ``jax.jit`` over ``nnx.split`` state, donated
  (Flax's lowest-overhead way to jit an NNX step).
- ``torch``: ``torch.nn.LSTM`` / ``torch.nn.GRU`` (``batch_first``) and ``torch.nn.Linear``,
  ``torch.optim.Adam``; on CUDA when available (cuDNN), otherwise on the CPU with
  ``torch.set_num_threads(os.cpu_count())``. Imported only when built. On the CPU, PyTorch's
  LSTM runs oneDNN's fused LSTM over the whole sequence, forward and backward
  (``aten::mkldnn_rnn_layer``), where oneDNN is available; its GRU has no such kernel (torch
  2.13) and runs step by step in ATen. Each trainer names the kernel it ran
  (:meth:`TorchTrainer.recurrent_kernel`).
- ``torch_no_onednn``: the same with oneDNN turned off around every step
  (``torch.backends.mkldnn.enabled = False``, restored after it), so that PyTorch's LSTM runs
  step by step in ATen like its GRU. Not in the default set.

Flax and PyTorch implement only the LSTM and the GRU (:data:`LIBRARY_CELLS`); ``ours`` runs any
registered cell, a user's own included once the module that registers it is imported.

The JAX implementations run on ``jax.devices()[0]``; nothing here chooses a device.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen, nnx

__all__ = [
    "ASSOCIATIVE_CELLS",
    "DEFAULT_IMPLS",
    "DEFAULT_WORKLOADS",
    "IMPLS",
    "LIBRARY_CELLS",
    "OURS_IMPLS",
    "TORCH_IMPLS",
    "TORCH_SEQUENCE_KERNELS",
    "WORKLOADS",
    "JaxTrainer",
    "TorchTrainer",
    "Workload",
    "build_trainer",
    "describe_jax_device",
    "forward_flops",
    "gate_count",
    "has_recurrent_matrix",
    "implements",
    "make_data",
    "torch_available",
    "train_step_flops",
]


@dataclasses.dataclass(frozen=True)
class Workload:
    """The shape of one benchmark problem.

    Attributes:
        batch: sequences per step ``B``.
        time: time steps ``T``.
        features: input features ``I``.
        hidden: hidden units ``H``.
    """

    batch: int
    time: int
    features: int
    hidden: int

    def describe(self) -> str:
        """Returns e.g. ``"B 32, T 50, I 1, H 64"``."""
        return f"B {self.batch}, T {self.time}, I {self.features}, H {self.hidden}"


WORKLOADS = {
    "sine": Workload(batch=32, time=50, features=1, hidden=64),
    "imdb": Workload(batch=32, time=200, features=128, hidden=64),
    "wide": Workload(batch=64, time=100, features=256, hidden=256),
    # Sequence length alone grows: where a parallel scan over time (minGRU) pays off.
    "t100": Workload(batch=16, time=100, features=128, hidden=128),
    "t1000": Workload(batch=16, time=1_000, features=128, hidden=128),
    "t10000": Workload(batch=16, time=10_000, features=128, hidden=128),
}
# What the benchmark runs without --workloads.
DEFAULT_WORKLOADS = ("sine", "imdb", "wide")
# The cells that Flax (linen and NNX) and PyTorch implement; ``ours`` runs any registered cell.
LIBRARY_CELLS = ("lstm", "gru")
# What the benchmark runs without --impls (PyTorch's only when it is importable).
DEFAULT_IMPLS = ("ours", "flax_linen", "flax_nnx", "torch")
IMPLS = (*DEFAULT_IMPLS, "ours_scan", "ours_associative", "ours_cudnn", "torch_no_onednn")
# Our layer under each of its implementations; "ours" is the default one ("auto").
OURS_IMPLS = ("ours", "ours_scan", "ours_associative", "ours_cudnn")
# The built-in cells linear in h, which implementation="associative" runs.
ASSOCIATIVE_CELLS = ("min_gru", "min_lstm")
TORCH_IMPLS = ("torch", "torch_no_onednn")
# Profiler event names of PyTorch's whole-sequence recurrent kernels; without one of them the
# layer ran step by step in ATen.
TORCH_SEQUENCE_KERNELS = {
    "aten::mkldnn_rnn_layer": "oneDNN, whole sequence (aten::mkldnn_rnn_layer)",
    "aten::_cudnn_rnn": "cuDNN, whole sequence (aten::_cudnn_rnn)",
}


def implements(impl: str, cell: str) -> bool:
    """Whether ``impl`` has ``cell``.

    ``ours`` and ``ours_scan`` have every registered cell, ``ours_cudnn`` the LSTM,
    ``ours_associative`` the cells of :data:`ASSOCIATIVE_CELLS`, the others
    :data:`LIBRARY_CELLS`.
    """
    if impl == "ours_cudnn":
        return cell == "lstm"
    if impl == "ours_associative":
        return cell in ASSOCIATIVE_CELLS
    return impl in OURS_IMPLS or cell in LIBRARY_CELLS


def _abstract_params(cell: str, workload: Workload) -> tuple[Any, Any]:
    """The registered ``cell`` and its parameters' shapes for ``workload``, traced, not built."""
    from gru_lstm_jax import get_cell

    cell_fns = get_cell(cell)
    init = functools.partial(
        cell_fns.init, input_size=workload.features, hidden_size=workload.hidden
    )
    # An abstract key: jax.eval_shape traces without starting a JAX backend, which the
    # benchmark's main process must not hold while its workers run.
    return cell_fns, jax.eval_shape(init, jax.ShapeDtypeStruct((2,), jnp.uint32))


def gate_count(cell: str, workload: Workload) -> float:
    """The gate blocks ``G`` of a registered cell: the width of its input projection over ``H``.

    Derived from the cell's own ``project`` (traced with :func:`jax.eval_shape`, nothing
    computed): ``G·H`` is the last dimension of ``project(params, xs)``, summed over its leaves.
    The LSTM has ``G = 4`` (i, f, g, o), the GRU ``G = 3`` (r, z, n), the tanh RNN ``G = 1``.
    The projection's width, not the recurrent kernel's, counts the gates: a cell with a staged
    product (Cho et al.'s GRU, ``(r*h) @ U_n``) returns only the ungated columns ``(H, 2H)`` as
    its ``recurrent_kernel`` and multiplies the rest inside its ``update``.

    Args:
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.

    Returns:
        ``G`` (an integer for every built-in cell).
    """
    cell_fns, params = _abstract_params(cell, workload)
    inputs = jax.ShapeDtypeStruct((1, 1, workload.features), jnp.float32)
    projected = jax.eval_shape(cell_fns.project, params, inputs)
    width = sum(leaf.shape[-1] for leaf in jax.tree.leaves(projected))
    gates = width / workload.hidden
    return int(gates) if gates.is_integer() else gates


def has_recurrent_matrix(cell: str) -> bool:
    """Whether a registered cell multiplies ``h`` by a matrix (``recurrent_kernel`` is set).

    A cell without one (IndRNN's elementwise ``u * h``) does no recurrent matmul.
    """
    from gru_lstm_jax import get_cell

    return get_cell(cell).recurrent_kernel is not None


def forward_flops(cell: str, workload: Workload) -> int:
    """Matrix-multiply FLOPs of one forward pass of the recurrent layer over the sequence.

    Each step multiplies the input ``(B, I)`` by the input kernel ``(I, G·H)`` and the state
    ``(B, H)`` by the recurrent weights ``(H, G·H)``, 2 FLOPs per multiply-add:
    ``2·B·T·(I + H)·G·H`` with ``G`` from :func:`gate_count` (4 for the LSTM, 3 for the GRU).
    A cell without a recurrent matrix (:func:`has_recurrent_matrix`) does ``2·B·T·I·G·H``.
    Element-wise gate arithmetic (a few percent here) and the ``(H, 1)`` head are not counted.

    Args:
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.

    Returns:
        The FLOP count.
    """
    w = workload
    state = w.hidden if has_recurrent_matrix(cell) else 0
    return round(2 * w.batch * w.time * (w.features + state) * gate_count(cell, w) * w.hidden)


def train_step_flops(cell: str, workload: Workload) -> int:
    """Matrix-multiply FLOPs of one training step, by the usual ``3 × forward`` convention.

    The backward pass of ``y = x W`` costs two matmuls of the forward's size (``dx = dy Wᵀ``
    and ``dW = xᵀ dy``), so a step costs ``3 · 2·B·T·(I + H)·G·H``
    (see :func:`forward_flops`). Here the inputs are data, so their gradient ``dx`` for the
    input kernel is not needed and the work a step must do is ``2·B·T·G·H·(2·I + 3·H)``; the
    convention counts ``I / (3·(I + H))`` more than that (0 % to 29 % on the standard
    workloads), so a fraction of peak computed from it is an upper bound.

    Args:
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.

    Returns:
        The FLOP count.
    """
    return 3 * forward_flops(cell, workload)


def make_data(workload: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The fixed batch every implementation trains on.

    Args:
        workload: the shape ``(B, T, I, H)``.
        seed: the NumPy generator's seed.

    Returns:
        ``(inputs, targets)``: standard-normal float32 arrays ``(B, T, I)`` and ``(B, 1)``.
    """
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((workload.batch, workload.time, workload.features))
    targets = rng.standard_normal((workload.batch, 1))
    return inputs.astype(np.float32), targets.astype(np.float32)


def torch_available() -> bool:
    """Whether PyTorch can be imported (looked up without importing it)."""
    return importlib.util.find_spec("torch") is not None


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
) -> JaxTrainer:
    """Our layer (``gru_lstm_jax.RNN(cell)``, default options) under the package's step.

    Args:
        cell: a registered cell name (``"lstm"``: the layer ``gru_lstm_jax.LSTM`` is).
        workload: the shape ``(B, T, I, H)``.
        seed: seeds the parameters and the data.
        learning_rate: Adam's learning rate.
        implementation: the layer's ``implementation``.

    Returns:
        A :class:`JaxTrainer` whose state is a :class:`gru_lstm_jax.training.TrainState`.
    """
    # Imported here: the training package also loads checkpointing and plotting, an import
    # that the other implementations' worker processes need not pay for.
    from gru_lstm_jax import RNN
    from gru_lstm_jax.training import get_objective, make_steps

    rngs = nnx.Rngs(seed)
    model = nnx.Sequential(
        RNN(cell, workload.features, workload.hidden, implementation=implementation, rngs=rngs),
        nnx.Linear(workload.hidden, 1, rngs=rngs),
    )
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


class TorchTrainer:
    """Runs a PyTorch training step on one fixed batch.

    Attributes:
        model: the ``torch.nn.Module``.
        device: ``"cpu"`` or ``"cuda: <GPU name>"``.
        onednn: whether oneDNN may run (PyTorch's default); ``False`` turns it off around every
            step (``torch.backends.mkldnn.enabled``).
    """

    def __init__(
        self, model: Any, optimizer: Any, inputs: Any, targets: Any, *, onednn: bool = True
    ):
        """Wraps a model, its optimizer and the batch (all on the same device)."""
        import torch

        self._torch = torch
        self.model = model
        self._optimizer = optimizer
        self._inputs = inputs
        self._targets = targets
        self._loss = None
        self._cuda = inputs.device.type == "cuda"
        self.device = f"cuda: {torch.cuda.get_device_name(inputs.device)}" if self._cuda else "cpu"
        self.onednn = onednn

    def _step(self) -> None:
        functional = self._torch.nn.functional
        self._optimizer.zero_grad(set_to_none=True)
        loss = functional.mse_loss(self.model(self._inputs), self._targets)
        loss.backward()
        self._optimizer.step()
        if self._cuda:
            self._torch.cuda.synchronize()
        self._loss = loss.detach()

    def step(self) -> None:
        """Takes one training step and waits until the device has finished it."""
        if self.onednn:
            self._step()
            return
        # Only this flag: ``torch.backends.mkldnn.flags`` would also reset the TF32 setting.
        mkldnn = self._torch.backends.mkldnn
        enabled, mkldnn.enabled = mkldnn.enabled, False
        try:
            self._step()
        finally:
            mkldnn.enabled = enabled

    def loss(self) -> float:
        """The loss of the last step, computed before that step's update."""
        return float(self._loss)

    def recurrent_kernel(self) -> str:
        """Takes one training step under ``torch.profiler`` and names the recurrent kernel it ran.

        Returns:
            A value of :data:`TORCH_SEQUENCE_KERNELS` when the step ran one of those
            whole-sequence kernels, otherwise ``"ATen, step by step"``.
        """
        profiler = self._torch.profiler
        activities = [profiler.ProfilerActivity.CPU]
        with profiler.profile(activities=activities) as profile:
            self.step()
        ran = {event.name for event in profile.events()}
        for name, kernel in TORCH_SEQUENCE_KERNELS.items():
            if name in ran:
                return kernel
        return "ATen, step by step"

    def settings(self) -> dict[str, Any]:
        """Settings that affect speed: threads, oneDNN, and OpenMP's wait policy or TF32 use."""
        torch = self._torch
        settings: dict[str, Any] = {"torch_num_threads": torch.get_num_threads()}
        if not self._cuda:
            # libgomp's default spin-waiting collapses on an oversubscribed CPU;
            # OMP_WAIT_POLICY=PASSIVE in the environment avoids that.
            settings["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "default")
        else:
            settings["cuda_matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
            settings["cudnn_allow_tf32"] = torch.backends.cudnn.allow_tf32
        settings["onednn"] = self.onednn
        return settings


def build_torch(
    cell: str, workload: Workload, seed: int, learning_rate: float, *, onednn: bool = True
) -> TorchTrainer:
    """PyTorch ``nn.LSTM`` / ``nn.GRU`` with ``torch.optim.Adam``; arguments as :func:`build_ours`.

    Args:
        cell: ``"lstm"`` or ``"gru"``.
        workload: the shape ``(B, T, I, H)``.
        seed: seeds the parameters (``torch.manual_seed``) and the data.
        learning_rate: Adam's learning rate.
        onednn: ``False`` turns oneDNN off around every step (:class:`TorchTrainer`).

    Returns:
        A :class:`TorchTrainer` on CUDA when available, otherwise on the CPU.
    """
    import torch

    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]

    class TorchRegressor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = recurrent(workload.features, workload.hidden, batch_first=True)
            self.head = torch.nn.Linear(workload.hidden, 1)

        def forward(self, xs: Any) -> Any:
            outputs, _ = self.rnn(xs)
            return self.head(outputs[:, -1])

    model = TorchRegressor().to(device)
    inputs, targets = make_data(workload, seed)
    return TorchTrainer(
        model,
        torch.optim.Adam(model.parameters(), lr=learning_rate),
        torch.from_numpy(inputs).to(device),
        torch.from_numpy(targets).to(device),
        onednn=onednn,
    )


BUILDERS = {
    "ours": build_ours,
    "ours_scan": functools.partial(build_ours, implementation="scan"),
    "ours_associative": functools.partial(build_ours, implementation="associative"),
    "ours_cudnn": functools.partial(build_ours, implementation="cudnn"),
    "flax_linen": build_flax_linen,
    "flax_nnx": build_flax_nnx,
    "torch": build_torch,
    "torch_no_onednn": functools.partial(build_torch, onednn=False),
}


def build_trainer(
    impl: str, cell: str, workload: Workload, *, seed: int = 0, learning_rate: float = 1e-3
) -> JaxTrainer | TorchTrainer:
    """Builds one implementation's trainer on the fixed batch of ``workload``.

    Args:
        impl: one of :data:`IMPLS`.
        cell: a registered cell name for ``ours``; one of :data:`LIBRARY_CELLS` for the others.
        workload: the shape ``(B, T, I, H)``.
        seed: seeds the parameters and the data (:func:`make_data`).
        learning_rate: Adam's learning rate.

    Returns:
        A trainer with ``step()``, ``loss()``, ``settings()``, ``recurrent_kernel()`` and
        ``device``.

    Raises:
        ValueError: for an unknown ``impl`` or ``cell``, a cell that ``impl`` does not
            implement, or a PyTorch one without PyTorch.
    """
    from gru_lstm_jax import available_cells

    if impl not in BUILDERS:
        raise ValueError(f"impl must be one of {list(IMPLS)}; got {impl!r}")
    if cell not in available_cells():
        raise ValueError(
            f"cell must be one of the registered cells {available_cells()}; got {cell!r}"
        )
    if not implements(impl, cell):
        raise ValueError(
            f"impl {impl!r} implements only the cells {list(LIBRARY_CELLS)}, not {cell!r}; "
            "only 'ours' and 'ours_scan' run any registered cell"
        )
    if impl == "ours_cudnn":
        from gru_lstm_jax.recurrence import cudnn_available

        if not cudnn_available():
            raise ValueError(f"impl {impl!r} needs a GPU with cuDNN; JAX has {jax.devices()}")
    if impl in TORCH_IMPLS and not torch_available():
        raise ValueError(f'impl "{impl}" needs PyTorch: pip install -e ".[bench]"')
    return BUILDERS[impl](cell, workload, seed, learning_rate)
