"""Gradient norm versus time for the tanh RNN, LSTM and GRU, before and after training on XOR.

Usage (from the repository root; see ``gru_lstm_jax/configs/gradient_flow.py``)::

    python experiments/gradient_flow.py --workdir runs/gradient_flow

Other cells: ``--config.cells=lstm --config.cells=my_cell``, with ``--config.imports=my_cells``
for a module that registers cells of one's own (importable, e.g. with ``PYTHONPATH=.``).
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.studies import gradient_flow_study

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "gradient_flow.py"), "Study config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/gradient_flow", "Folder for the study.")


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    results = gradient_flow_study(_CONFIG.value, _WORKDIR.value)
    length = results["length"]
    for cell, fits in results["cells"].items():
        print(
            f"{cell}: ‖∂L/∂h_0‖ / ‖∂L/∂h_{length - 1}‖ = {fits['init']['first_to_last']:.3g} at "
            f"initialisation, {fits['trained']['first_to_last']:.3g} after training "
            f"(val accuracy {fits['val_accuracy']:.3f})"
        )
    print(f"curves and figure: {_WORKDIR.value}")


if __name__ == "__main__":
    app.run(main)
