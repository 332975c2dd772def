"""The run folder: atomic JSON files, the metrics log and Orbax checkpoints.

A run folder holds ``config.json``, ``metrics.jsonl`` (one JSON object per epoch),
``checkpoints/last`` (the last ``k`` epochs), ``checkpoints/best`` (the epoch with the lowest
validation loss), ``results.json`` (written last, so its presence means the run finished) and
figures as PNG.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import tempfile
from typing import Any

import jax
import orbax.checkpoint as ocp

from gru_lstm_jax.training.parallel import PLACEMENT_FIELDS, is_primary

__all__ = [
    "check_same_config",
    "check_writable",
    "checkpoint_managers",
    "read_json",
    "read_metrics",
    "restore_newest_intact",
    "restore_state",
    "save_state",
    "write_json",
    "write_metrics",
]


def check_writable(workdir: str | os.PathLike) -> pathlib.Path:
    """Checks that ``workdir`` exists as a writable folder or can be created; creates nothing.

    Returns:
        ``workdir`` as an absolute path.

    Raises:
        ValueError: if ``workdir`` or its nearest existing parent is a file (the message says
            so), or that folder is not writable.
    """
    path = pathlib.Path(workdir).expanduser().absolute()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if existing == path and not path.is_dir():
        raise ValueError(f"workdir {str(path)!r} is a file, not a folder")
    if not existing.is_dir():
        raise ValueError(
            f"workdir {str(path)!r} cannot be created: {str(existing)!r} is a file, not a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"workdir {str(path)!r} cannot be written ({str(existing)!r} is not writable)"
        )
    return path


def check_same_config(workdir: pathlib.Path, config: Any, kind: str = "run") -> dict[str, Any]:
    """Returns ``config`` as JSON data, refusing a ``workdir`` whose ``config.json`` differs.

    Writes nothing: callers check before they create any file, then write the returned value
    to ``workdir / "config.json"``. A saved config without ``imports`` (written before configs
    had the field) equals one whose ``imports`` is empty, and the fields that say where a run
    computes (:data:`~gru_lstm_jax.training.parallel.PLACEMENT_FIELDS`: the mesh, the
    distributed runtime) are not compared.

    Args:
        workdir: the folder (it may not exist yet).
        config: an ``ml_collections.ConfigDict``.
        kind: what the folder holds, for the error message (``"run"``, ``"study"``, ...).

    Raises:
        ValueError: if ``workdir / "config.json"`` exists and holds another config; the
            message names the fields that differ (saved -> new), the first five of them.
    """
    settings = json.loads(config.to_json())
    saved = workdir / "config.json"
    if saved.exists():
        changes = _differences(_comparable(read_json(saved)), _comparable(settings))
        if changes:
            listed = "; ".join(changes[:5]) + ("; ..." if len(changes) > 5 else "")
            raise ValueError(
                f"workdir {str(workdir)!r} holds a {kind} with a different config ({listed}); "
                "run it again with the same config or choose a new workdir"
            )
    return settings


def _differences(saved: Any, new: Any, prefix: str = "") -> list[str]:
    """The fields where two JSON configs differ, as ``"field: saved -> new"``, in order."""
    if isinstance(saved, dict) and isinstance(new, dict):
        changes = []
        for key in [*saved, *(k for k in new if k not in saved)]:
            field = f"{prefix}{key}"
            if key not in new:
                changes.append(f"{field}: {saved[key]!r} -> (absent)")
            elif key not in saved:
                changes.append(f"{field}: (absent) -> {new[key]!r}")
            else:
                changes += _differences(saved[key], new[key], f"{field}.")
        return changes
    return [] if saved == new else [f"{prefix.rstrip('.')}: {saved!r} -> {new!r}"]


def _comparable(settings: Any) -> Any:
    """The part of a JSON config that two runs must share: no placement, no empty imports."""
    return _without_empty_imports(
        {key: value for key, value in settings.items() if key not in PLACEMENT_FIELDS}
    )


def _without_empty_imports(settings: Any) -> Any:
    """``settings`` without its empty ``imports`` fields, at every level.

    A folder written before configs had ``imports`` holds the same config as one with ``()``.
    """
    if not isinstance(settings, dict):
        return settings
    return {
        key: _without_empty_imports(value)
        for key, value in settings.items()
        if not (key == "imports" and not value)
    }


def write_json(path: pathlib.Path, value: Any) -> None:
    """Writes ``value`` as indented JSON to ``path`` atomically (a temporary file, then rename)."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(f.name, path)


def read_json(path: pathlib.Path) -> Any:
    """Reads one JSON file."""
    return json.loads(path.read_text())


def read_metrics(workdir: pathlib.Path) -> list[dict[str, Any]]:
    """Reads ``metrics.jsonl``: one dict per epoch, in order; ``[]`` if there is none yet."""
    path = workdir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_metrics(workdir: pathlib.Path, records: list[dict[str, Any]]) -> None:
    """Rewrites ``metrics.jsonl`` atomically with ``records``, one JSON object per line."""
    path = workdir / "metrics.jsonl"
    with tempfile.NamedTemporaryFile("w", dir=workdir, suffix=".tmp", delete=False) as f:
        for record in records:
            f.write(json.dumps(record, sort_keys=True) + "\n")
    os.replace(f.name, path)


def checkpoint_managers(
    workdir: str | os.PathLike, keep_last: int
) -> tuple[ocp.CheckpointManager, ocp.CheckpointManager]:
    """The Orbax managers of ``checkpoints/last`` and ``checkpoints/best``.

    Checkpoints are numbered by epoch (1-based). ``best`` keeps the one checkpoint with the
    lowest ``val_loss`` among those saved with metrics. Temporary folders that a killed save
    left behind are removed when the managers are created.

    Args:
        workdir: the run folder; a relative path is resolved against the current directory
            (Orbax needs absolute paths).
        keep_last: how many of the most recent epochs ``last`` keeps.

    Returns:
        ``(last, best)``.
    """
    workdir = pathlib.Path(workdir).expanduser().absolute()
    last = ocp.CheckpointManager(
        workdir / "checkpoints" / "last",
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep_last, create=True, cleanup_tmp_directories=True
        ),
    )
    best = ocp.CheckpointManager(
        workdir / "checkpoints" / "best",
        options=ocp.CheckpointManagerOptions(
            max_to_keep=1,
            best_fn=lambda metrics: metrics["val_loss"],
            best_mode="min",
            keep_checkpoints_without_metrics=False,
            create=True,
            cleanup_tmp_directories=True,
        ),
    )
    return last, best


TESTED_CHECKPOINTS = ("best", "last")


def tested_checkpoint(
    training: Any, last: ocp.CheckpointManager, best: ocp.CheckpointManager
) -> tuple[ocp.CheckpointManager, int]:
    """The checkpoint a run is tested with, and predicts with afterwards.

    ``training.test_checkpoint`` is ``"best"`` (the epoch with the lowest validation loss; the
    default, and what configs without the field mean) or ``"last"`` (the final epoch: the
    right choice when the learning rate is annealed to zero and the validation split is too
    small to rank epochs reliably).

    Args:
        training: the ``config.training`` of the run.
        last: the ``checkpoints/last`` manager.
        best: the ``checkpoints/best`` manager.

    Returns:
        ``(manager, epoch)``.

    Raises:
        ValueError: for another value of ``training.test_checkpoint``.
    """
    selection = training.get("test_checkpoint", "best")
    if selection == "best":
        return best, best.best_step()
    if selection == "last":
        return last, last.latest_step()
    raise ValueError(
        f"config.training.test_checkpoint must be one of {list(TESTED_CHECKPOINTS)}; "
        f"got {selection!r}"
    )


def save_state(
    manager: ocp.CheckpointManager, epoch: int, state: Any, metrics: dict | None = None
) -> None:
    """Saves ``state`` as checkpoint ``epoch`` and waits until it is on disk."""
    manager.save(epoch, args=ocp.args.StandardSave(state), metrics=metrics)
    manager.wait_until_finished()


def restore_state(manager: ocp.CheckpointManager, target: Any, step: int | None = None) -> Any:
    """Restores the checkpoint ``step`` (default: the latest) into the structure of ``target``."""
    step = manager.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))


def restore_newest_intact(manager: ocp.CheckpointManager, target: Any) -> tuple[int, Any]:
    """Restores the newest checkpoint of ``manager`` that reads back.

    A newer checkpoint that does not (truncated or missing files, an empty step folder) is
    moved, untouched, to ``checkpoints/damaged/<manager>-<step>`` and a warning names it;
    nothing is deleted.

    Args:
        manager: ``checkpoints/last``.
        target: a state of the checkpoints' structure (shapes and dtypes).

    Returns:
        ``(step, state)``; ``(0, target)`` when the manager holds no checkpoint.

    Raises:
        ValueError: when it holds checkpoints and none reads back (one line, naming the folder).
    """
    directory = pathlib.Path(str(manager.directory))
    damaged = []
    for step in sorted(manager.all_steps(), reverse=True):
        # A fresh reader per step: a manager that met a damaged step may not read others.
        reader = ocp.CheckpointManager(directory)
        try:
            state = restore_state(reader, target, step)
        except Exception as error:  # Orbax and tensorstore raise many kinds
            damaged.append((step, str(error).splitlines()[0][:200]))
            continue
        finally:
            reader.close()
        for bad, reason in damaged if is_primary() else ():
            aside = directory.parent / "damaged" / f"{directory.name}-{bad}"
            aside.parent.mkdir(exist_ok=True)
            shutil.move(directory / str(bad), aside)
            logging.getLogger(__name__).warning(
                "checkpoint %s is damaged (%s); moved to %s, resuming from step %d",
                directory / str(bad), reason, aside, step,
            )  # fmt: skip
        if damaged:
            manager.reload()
        return step, state
    if damaged:
        steps = [step for step, _ in damaged]
        raise ValueError(
            f"no checkpoint in {str(directory)!r} reads back (steps {steps}: {damaged[0][1]}); "
            "move the run folder away to start again"
        )
    return 0, target
