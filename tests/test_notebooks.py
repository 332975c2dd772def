"""The notebooks run top to bottom in quick mode, in this interpreter, and are committed clean.

Each notebook in ``notebooks/`` is executed with nbclient in its quick mode
(``GRU_LSTM_JAX_QUICK=1``), with its run folders in a temporary folder (``GRU_LSTM_JAX_RUNS``)
and ``notebooks/`` as the working directory, as Jupyter runs it. A cell that raises fails the
test; the notebooks' own assertions (NumPy against the cells, recomputed metrics against the run
folders) are part of what is tested.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import pytest

import gru_lstm_jax

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# A whole notebook must finish within this; its quick mode takes well under a minute of CPU, so
# the limit only catches a hung kernel, even on a busy machine.
NOTEBOOK_TIMEOUT_S = 900
# Appended to the executed copy: which Python and which gru_lstm_jax the kernel really uses.
KERNEL_REPORT = (
    "import json, sys, gru_lstm_jax\n"
    "print(json.dumps({'executable': sys.executable, 'package': gru_lstm_jax.__file__}))"
)


def test_the_notebooks_are_found():
    names = {path.stem.split("_")[0] for path in NOTEBOOKS}
    assert {"01", "02", "03", "04", "06"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    # The kernels inherit the run's JAX compilation cache (see conftest.py): notebooks compile
    # many identical small programs (parameter initialisers, the same model under two
    # initialisations), and on two CPU cores compilation is most of a quick run.
    monkeypatch.setenv("GRU_LSTM_JAX_QUICK", "1")
    monkeypatch.setenv("GRU_LSTM_JAX_RUNS", str(tmp_path / "runs"))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_REPORT))
    deadline = time.monotonic() + NOTEBOOK_TIMEOUT_S
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        # nbclient asks for each cell's timeout: what is left of the notebook's.
        timeout_func=lambda cell: max(1, round(deadline - time.monotonic())),
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the traceback, at the first failing cell

    report = "".join(
        output["text"]
        for output in notebook.cells[-1].outputs
        if output["output_type"] == "stream" and output["name"] == "stdout"
    )
    kernel = json.loads(report)
    assert kernel["executable"] == sys.executable
    package = pathlib.Path(gru_lstm_jax.__file__).resolve()
    assert pathlib.Path(kernel["package"]).resolve() == package


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}: cell {index} has outputs"
        assert cell.execution_count is None, f"{path.name}: cell {index} has an execution count"
        assert "execution" not in cell.metadata, f"{path.name}: cell {index} has timings"
