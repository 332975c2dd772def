"""A user's own cells and tasks: importing the modules that register them; checking cell names.

A cell (or task) of one's own is a module that calls :func:`~gru_lstm_jax.cells.register_cell`
(or :func:`~gru_lstm_jax.tasks.register_task`) when it is imported. Configs name such modules
in ``imports`` (a tuple of module names, empty by default);
:func:`~gru_lstm_jax.training.train_and_evaluate`, the studies and
:func:`~gru_lstm_jax.training.load_trained` import them before they look a cell or task up, and
the run folder's ``config.json`` keeps them, so a run rebuilt in a fresh process finds them
again. A module must be importable by name: installed, or its folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

from gru_lstm_jax.cells import available_cells

__all__ = [
    "cells_from_flags",
    "check_cell_names",
    "choose_cells",
    "import_cell_modules",
    "module_names",
]


def module_names(value: Any, field: str = "config.imports") -> tuple[str, ...]:
    """The module names of an ``imports`` value, in order and without duplicates.

    Args:
        value: a module name, a comma-separated string of them, or a sequence of such strings
            (a config's tuple, its JSON list, or a repeated command-line flag).
        field: what ``value`` is, for the error message.

    Returns:
        The names, e.g. ``("my_cells", "lab.cells")``.

    Raises:
        ValueError: naming ``field``, for a value that is not a string or a sequence of strings.
    """
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, Iterable) or not all(isinstance(e, str) for e in entries):
        raise ValueError(
            f"{field} must be module names (a tuple of strings, or one comma-separated string); "
            f"got {value!r}"
        )
    names = (name.strip() for entry in entries for name in entry.split(","))
    return tuple(dict.fromkeys(name for name in names if name))


def import_cell_modules(value: Any, field: str = "config.imports") -> tuple[str, ...]:
    """Imports the modules named in ``value`` so that the cells they register can be looked up.

    Importing is idempotent: a module already imported is not run again.

    Args:
        value: module names, as :func:`module_names` takes them.
        field: where the names come from, for the error message (``"config.imports"``,
            ``"--import"``).

    Returns:
        The imported module names.

    Raises:
        ValueError: naming ``field`` and the module, when a module cannot be found or raises
            while it is imported (the original error is chained).
    """
    names = module_names(value, field)
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
                raise ValueError(
                    f"{field} names module {name!r}, which cannot be imported: no module named "
                    f"{error.name!r} (install it, or put its folder on PYTHONPATH)"
                ) from error
            raise ValueError(
                f"importing module {name!r} (named in {field}) failed: {error}"
            ) from error
        except Exception as error:
            raise ValueError(
                f"importing module {name!r} (named in {field}) failed: "
                f"{type(error).__name__}: {error}"
            ) from error
    return names


def check_cell_names(
    cells: Sequence[str], field: str, imports_field: str = "config.imports"
) -> tuple[str, ...]:
    """Checks that every name in ``cells`` is a registered cell.

    Args:
        cells: cell names.
        field: where they come from, for the error message (``"config.model.cell"``,
            ``"--cells"``).
        imports_field: where the modules of a user's cells are named, for the error message.

    Returns:
        ``cells`` as a tuple.

    Raises:
        ValueError: naming ``field``, the unknown names and the registered ones; the message
            says where a cell of one's own is imported from.
    """
    cells = tuple(cells)
    unknown = [cell for cell in cells if not isinstance(cell, str) or cell not in available_cells()]
    if unknown or not cells:
        raise ValueError(
            f"{field} must be registered cell names {list(available_cells())}; got {list(cells)}"
            + (f" (unknown: {unknown})" if unknown else "")
            + f"; a cell of your own is registered by a module named in {imports_field}"
        )
    return cells


def choose_cells(
    config: Any,
    cells_flag: Sequence[str] | None,
    default_cells: Sequence[str],
    *,
    config_cell_set: bool,
    flag: str = "--cells",
) -> tuple[str, ...]:
    """The cells an experiment script trains, from its ``--cells`` flag or its config's cell.

    Both choose the cell, so giving both is refused rather than letting one override the other.
    The modules of ``config.imports`` are imported first and every chosen cell is checked, so
    that a script fails before it writes anything.

    Args:
        config: the script's experiment config (its ``imports`` and ``model.cell``).
        cells_flag: the cells given with ``flag``, or ``None`` when the flag was not given.
        default_cells: what the script trains when neither chooses.
        config_cell_set: whether the config's cell was chosen: set on the command line
            (``--config.model.cell``) or different from the default config's.
        flag: the flag's name, for the error message.

    Returns:
        ``cells_flag`` when given; otherwise ``(config.model.cell,)`` when it was set, else
        ``default_cells``.

    Raises:
        ValueError: naming both, when ``flag`` was given and the config's cell was set; or
            from :func:`import_cell_modules` and :func:`check_cell_names`.
    """
    import_cell_modules(config.get("imports", ()))
    if cells_flag is not None and config_cell_set:
        raise ValueError(
            f"{flag} and --config.model.cell both choose the cell ({flag}="
            f"{','.join(cells_flag)}, config.model.cell={config.model.cell!r}); give only one of "
            f"them ({flag} trains several cells, one run folder each)"
        )
    if cells_flag is not None:
        return check_cell_names(cells_flag, flag)
    if config_cell_set:
        return check_cell_names([config.model.cell], "config.model.cell")
    return check_cell_names(default_cells, flag)


def cells_from_flags(config: Any, default_config: Any, cells: Any) -> tuple[str, ...]:
    """:func:`choose_cells` for an absl script with ``--config`` and a ``--cells`` flag.

    Args:
        config: the script's config (the ``--config`` flag's value).
        default_config: the config file's default, against which a changed cell is seen.
        cells: the ``--cells`` ``FlagHolder`` (a list flag).

    Returns:
        The chosen cells.

    Raises:
        absl.app.UsageError: with :func:`choose_cells`'s message.
    """
    from absl import app, flags
    from ml_collections import config_flags

    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    try:
        return choose_cells(
            config,
            cells.value if cells.present else None,
            cells.default,
            config_cell_set="model.cell" in overrides
            or config.model.cell != default_config.model.cell,
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from error
