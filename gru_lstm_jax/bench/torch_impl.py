"""PyTorch's ``nn.LSTM`` / ``nn.GRU`` under the benchmark's training step; torch is optional.

``torch``: ``torch.nn.LSTM`` / ``torch.nn.GRU`` (``batch_first``) and ``torch.nn.Linear``,
``torch.optim.Adam``; on CUDA when available (cuDNN), otherwise on the CPU with
``torch.set_num_threads(os.cpu_count())``. On the CPU, PyTorch's LSTM runs oneDNN's fused LSTM
over the whole sequence, forward and backward (``aten::mkldnn_rnn_layer``), where oneDNN is
available; its GRU has no such kernel (torch 2.13) and runs step by step in ATen. Each trainer
names the kernel it ran (:meth:`TorchTrainer.recurrent_kernel`).

``torch_no_onednn``: the same with oneDNN turned off around every step
(``torch.backends.mkldnn.enabled = False``, restored after it), so that PyTorch's LSTM runs
step by step in ATen like its GRU. Not in the default set.

PyTorch is imported only when a trainer is built: this module imports without it.
"""

from __future__ import annotations

import os
from typing import Any

from gru_lstm_jax.bench.workloads import Workload, make_data

# Profiler event names of PyTorch's whole-sequence recurrent kernels; without one of them the
# layer ran step by step in ATen.
TORCH_SEQUENCE_KERNELS = {
    "aten::mkldnn_rnn_layer": "oneDNN, whole sequence (aten::mkldnn_rnn_layer)",
    "aten::_cudnn_rnn": "cuDNN, whole sequence (aten::_cudnn_rnn)",
}


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
    """PyTorch ``nn.LSTM`` / ``nn.GRU`` with ``torch.optim.Adam``.

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
