"""The benchmark's implementations by name, built-in and one's own alike.

An implementation is a builder ``(cell, workload, seed, learning_rate) -> trainer`` and the
cells it has. A trainer trains the benchmark's model (a recurrent layer over ``(B, T, I)``, its
last output into a linear head ``(B, 1)``, mean squared error, Adam) on the fixed batch of
:func:`gru_lstm_jax.bench.workloads.make_data` and offers ``step()`` (one training step, waited
for), ``loss()`` (the last step's loss, before its update), ``settings()`` (a JSON-able dict of
what affects its speed), ``recurrent_kernel()`` (the kernel it ran, or ``None``) and ``device``
(a string). :class:`gru_lstm_jax.bench.impls.JaxTrainer` wraps any jitted JAX step. A module
of one's own registers an implementation on import (``--import``; see ``README.md``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

from gru_lstm_jax.bench.workloads import Workload

# (cell, workload, seed, learning_rate) -> a trainer (see the module docstring).
Builder = Callable[[str, Workload, int, float], Any]


@dataclasses.dataclass(frozen=True)
class Impl:
    """A registered implementation.

    Attributes:
        name: its name on the command line (``--impls``).
        build: ``(cell, workload, seed, learning_rate) -> trainer``.
        implements: the cells it has; ``None`` for every registered cell.
        label: ``cell -> text`` that names what it runs, for the report's tables.
        default: whether it runs without ``--impls``.
        ours: whether it is our layer; ``ours``'s speed-up is over the others.
        needs_torch: whether it needs PyTorch (left out of the defaults without it).
    """

    name: str
    build: Builder
    implements: tuple[str, ...] | None
    label: Callable[[str], str]
    default: bool = False
    ours: bool = False
    needs_torch: bool = False


_REGISTRY: dict[str, Impl] = {}


def register_impl(
    name: str,
    build: Builder,
    *,
    implements: Sequence[str] | None = None,
    label: Callable[[str], str] | None = None,
    default: bool = False,
    ours: bool = False,
    needs_torch: bool = False,
    overwrite: bool = False,
) -> Impl:
    """Registers an implementation under ``name``.

    Args are the attributes of :class:`Impl` (``label`` defaults to ``name``), and
    ``overwrite``, which allows replacing a registered name.

    Returns:
        The registered :class:`Impl`.

    Raises:
        ValueError: if ``name`` is empty or already registered and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string; got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an impl named {name!r} is already registered; pass overwrite=True")
    impl = Impl(
        name, build, None if implements is None else tuple(implements),
        label or (lambda cell: name), default, ours, needs_torch,
    )  # fmt: skip
    _REGISTRY[name] = impl
    return impl


def available_impls() -> tuple[str, ...]:
    """The registered implementation names, in the order of registration."""
    return tuple(_REGISTRY)


def default_impls() -> tuple[str, ...]:
    """The implementations that run without ``--impls``, in the order of registration."""
    return tuple(name for name, impl in _REGISTRY.items() if impl.default)


def get_impl(name: str) -> Impl:
    """The registered implementation ``name``.

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    if name not in _REGISTRY:
        raise ValueError(f"impl must be one of {list(_REGISTRY)}; got {name!r}")
    return _REGISTRY[name]


def implements(impl: str, cell: str) -> bool:
    """Whether the registered implementation ``impl`` has ``cell``."""
    cells = get_impl(impl).implements
    return cells is None or cell in cells


def torch_available() -> bool:
    """Whether PyTorch can be imported (looked up without importing it)."""
    return importlib.util.find_spec("torch") is not None


def build_trainer(
    impl: str, cell: str, workload: Workload, *, seed: int = 0, learning_rate: float = 1e-3
) -> Any:
    """Builds one implementation's trainer on the fixed batch of ``workload``.

    Args:
        impl: a registered implementation.
        cell: a registered cell name that ``impl`` has (:func:`implements`).
        workload: the shape ``(B, T, I, H)``.
        seed: seeds the parameters and the data.
        learning_rate: Adam's learning rate.

    Returns:
        A trainer with ``step()``, ``loss()``, ``settings()``, ``recurrent_kernel()`` and
        ``device``.

    Raises:
        ValueError: for an unknown ``impl`` or ``cell``, a cell that ``impl`` does not
            implement, a PyTorch one without PyTorch, or what the builder refuses.
    """
    from gru_lstm_jax import available_cells

    spec = get_impl(impl)
    if cell not in available_cells():
        raise ValueError(
            f"cell must be one of the registered cells {available_cells()}; got {cell!r}"
        )
    if not implements(impl, cell):
        every = [name for name, other in _REGISTRY.items() if other.implements is None]
        raise ValueError(
            f"impl {impl!r} implements only the cells {list(spec.implements)}, not {cell!r}; "
            f"only {every} run any registered cell"
        )
    if spec.needs_torch and not torch_available():
        raise ValueError(f'impl "{impl}" needs PyTorch: pip install -e ".[bench]"')
    return spec.build(cell, workload, seed, learning_rate)
