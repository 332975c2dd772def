"""The optimizer from a config: optax, with gradient clipping by global norm on by default."""

from __future__ import annotations

from typing import Any

import optax

from gru_lstm_jax.checks import check_int, check_real

__all__ = ["SCHEDULES", "check_clip_norm", "check_learning_rate", "make_optimizer"]

SCHEDULES = ("constant", "cosine", "warmup_cosine")
OPTIMIZERS = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd}


def check_learning_rate(value: Any, name: str) -> None:
    """Raises ``ValueError`` unless ``value`` is a finite, positive real number."""
    check_real(value, name, "a finite positive number", lambda v: v > 0)


def check_clip_norm(value: Any, name: str) -> None:
    """Raises ``ValueError`` unless ``value`` is ``None`` or a finite real number ``>= 0``.

    ``None`` and 0 mean "no clipping"; a negative norm would flip the gradient's sign.
    """
    if value is not None:
        expected = "None, 0 (no clipping) or a finite positive number"
        check_real(value, name, expected, lambda v: v >= 0)


def make_schedule(config: Any, total_steps: int) -> optax.Schedule:
    """The learning-rate schedule of ``config`` over ``total_steps`` steps.

    Args:
        config: with ``learning_rate``, ``schedule`` (``"constant"``, ``"cosine"``: decay to 0,
            ``"warmup_cosine"``: linear warm-up over ``warmup_steps`` then cosine decay).
        total_steps: the number of training steps of the run.

    Returns:
        An optax schedule ``step -> learning rate``.
    """
    lr = config.learning_rate
    if config.schedule == "constant":
        return optax.constant_schedule(lr)
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(lr, max(total_steps, 1))
    return optax.warmup_cosine_decay_schedule(
        0.0, lr, config.warmup_steps, max(total_steps, config.warmup_steps + 1)
    )


def make_optimizer(config: Any, total_steps: int) -> optax.GradientTransformation:
    """Builds the optimizer of ``config``.

    Gradients are clipped by their global norm first (Pascanu, Mikolov & Bengio 2013, "On the
    difficulty of training recurrent neural networks"), unless ``clip_norm`` is ``None`` or 0.

    Args:
        config: ``name`` (``"adam"``, ``"adamw"``, ``"sgd"``), ``learning_rate``, ``schedule``,
            ``warmup_steps``, ``clip_norm``, ``weight_decay`` (adamw only).
        total_steps: the number of training steps of the run, for the schedule.

    Returns:
        An optax gradient transformation.

    Raises:
        ValueError: for an unknown name or schedule, a learning rate that is not a finite
            positive number, a ``clip_norm`` that is negative or not finite, or a negative
            ``warmup_steps``.
    """
    if config.name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name must be one of {sorted(OPTIMIZERS)}; got {config.name!r}")
    if config.schedule not in SCHEDULES:
        raise ValueError(
            f"optimizer.schedule must be one of {list(SCHEDULES)}; got {config.schedule!r}"
        )
    check_learning_rate(config.learning_rate, "optimizer.learning_rate")
    check_clip_norm(config.clip_norm, "optimizer.clip_norm")
    check_int(config.warmup_steps, "optimizer.warmup_steps", minimum=0)
    schedule = make_schedule(config, total_steps)
    if config.name == "adamw":
        optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    else:
        optimizer = OPTIMIZERS[config.name](schedule)
    if config.clip_norm:
        return optax.chain(optax.clip_by_global_norm(config.clip_norm), optimizer)
    return optimizer
