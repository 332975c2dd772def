"""A Keras-style summary table of a model: layer, output shape and parameter count."""

from __future__ import annotations

import dataclasses
import numbers
import re
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["LayerSummary", "ModelSummary", "count_params", "summary"]


@dataclasses.dataclass(frozen=True)
class LayerSummary:
    """One row of a :class:`ModelSummary`.

    Attributes:
        name: a Keras-style name such as ``"lstm_1"``.
        type: the layer's class name, or the callable's name for a parameter-free function.
        output_shape: the output shape with ``None`` for the batch axis (a tuple of shapes for
            a layer with several outputs).
        params: the number of parameters (``nnx.Param`` elements).
    """

    name: str
    type: str
    output_shape: Any
    params: int


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """A model's rows and total parameter count; ``str()`` gives the table."""

    rows: tuple[LayerSummary, ...]
    total_params: int

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #")
        table = [(f"{r.name} ({r.type})", str(r.output_shape), f"{r.params:,}") for r in self.rows]
        widths = [max(len(line[i]) for line in [header, *table]) for i in range(3)]
        rule = "-" * (sum(widths) + 6)

        def fmt(line: Sequence[str]) -> str:
            return f"{line[0]:<{widths[0]}}   {line[1]:<{widths[1]}}   {line[2]:>{widths[2]}}"

        lines = [rule, fmt(header), "=" * len(rule), *map(fmt, table), "=" * len(rule)]
        lines.append(f"Total params: {self.total_params:,}")
        return "\n".join(lines)


def count_params(module: Any) -> int:
    """Returns the number of parameter elements (``nnx.Param``) in ``module``; 0 for a function."""
    if not isinstance(module, nnx.Module):
        return 0
    return sum(int(x.size) for x in jax.tree.leaves(nnx.state(module, nnx.Param)))


def _keras_name(type_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type_name).lower()


def _batchless(tree: Any) -> Any:
    shapes = [(None, *leaf.shape[1:]) for leaf in jax.tree.leaves(tree)]
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def summary(model: Any, input_shape: Sequence[int]) -> ModelSummary:
    """Summarises ``model`` like Keras's ``model.summary()``.

    An ``nnx.Sequential`` gets one row per layer; any other module is one row. Output shapes
    come from ``jax.eval_shape`` in evaluation mode, so nothing is computed and no dropout
    state changes.

    Args:
        model: an ``nnx.Module`` (typically ``nnx.Sequential``) taking ``(batch, *input_shape)``.
        input_shape: the input shape without the batch axis, e.g. ``(50, 1)``.

    Returns:
        A :class:`ModelSummary`; ``print()`` it for the table.

    Raises:
        ValueError: if ``input_shape`` is not a sequence of positive ints, or naming the first
            layer that does not take its input (with that input's shape).
    """
    input_shape = tuple(input_shape)
    if not input_shape or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in input_shape
    ):
        raise ValueError(
            f"input_shape must be the input's shape without the batch axis, positive ints; "
            f"got {input_shape}"
        )
    model = nnx.view(model, deterministic=True, raise_if_not_found=False)
    layers = list(model.layers) if isinstance(model, nnx.Sequential) else [model]
    value = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    counts: dict[str, int] = {}
    rows = []
    for layer in layers:
        type_name = type(layer).__name__ if isinstance(layer, nnx.Module) else layer.__name__
        base = _keras_name(type_name)
        name = base if base not in counts else f"{base}_{counts[base]}"
        counts[base] = counts.get(base, 0) + 1
        try:
            value = jax.eval_shape(lambda x, layer=layer: layer(x), value)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"layer {name!r} ({type_name}) does not take its input of shape "
                f"{_batchless(value)}: {error}"
            ) from error
        rows.append(LayerSummary(name, type_name, _batchless(value), count_params(layer)))
    return ModelSummary(tuple(rows), sum(row.params for row in rows))
