"""The variants study: its statistics against hand computations, and a smoke study end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gru_lstm_jax.analysis.variants import compare_variants, greff_findings, variant_name
from gru_lstm_jax.studies.variants import run_variants_study


def _records(task, higher, tests):
    return [
        {"task": task, "cell": cell, "test": value, "higher_is_better": higher}
        for cell, values in tests.items()
        for value in values
    ]


def _welch_p(a, b):
    """Welch's t-test by its formulas: t, the Welch-Satterthwaite degrees of freedom, p."""
    from scipy.special import stdtr

    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return 2 * stdtr(df, -abs(t))


def test_compare_variants_tests_each_cell_against_v():
    tests = {
        "lstm_v": [0.90, 0.92, 0.91],
        "lstm_nfg": [0.50, 0.55, 0.52],  # clearly worse
        "lstm_cifg": [0.91, 0.90, 0.93],  # the same
        "lstm_fgr": [0.99, 0.98, 0.995],  # clearly better
    }
    comparison = compare_variants(_records("xor", True, tests))["xor"]
    for cell, values in tests.items():
        entry = comparison[cell]
        assert entry["mean"] == pytest.approx(np.mean(values))
        assert entry["std"] == pytest.approx(np.std(values, ddof=1))
        assert entry["difference"] == pytest.approx(np.mean(values) - np.mean(tests["lstm_v"]))
        assert entry["p"] == pytest.approx(_welch_p(values, tests["lstm_v"]), rel=1e-6)
    assert [comparison[c]["verdict"] for c in tests] == ["same", "worse", "same", "better"]
    assert [comparison[c]["rank"] for c in tests] == [3, 4, 2, 1]
    # Lower is better: a smaller error is better; constant samples give p of 0 or 1.
    errors = {"lstm_v": [0.2, 0.2], "lstm_noaf": [0.5, 0.5], "lstm_np": [0.2, 0.2]}
    comparison = compare_variants(_records("adding", False, errors))["adding"]
    assert comparison["lstm_noaf"]["p"] == 0.0 and comparison["lstm_noaf"]["verdict"] == "worse"
    assert comparison["lstm_np"]["p"] == 1.0 and comparison["lstm_np"]["verdict"] == "same"
    assert comparison["lstm_v"]["rank"] == comparison["lstm_np"]["rank"] == 1.5
    # One seed: no test; a task without V is left out.
    single = compare_variants(_records("sine", False, {"lstm_v": [0.1], "lstm_nig": [0.3]}))
    assert single["sine"]["lstm_nig"]["p"] is None
    assert single["sine"]["lstm_nig"]["verdict"] == "same"
    assert compare_variants(_records("sine", False, {"lstm_nig": [0.3]})) == {}
    assert variant_name("lstm_cifg") == "CIFG" and variant_name("min_gru") == "min_gru"


def test_greff_findings_follow_the_numbers():
    def findings(tests):
        records = _records("a", True, tests) + _records("b", False, {
            cell: [1.0 - v for v in values] for cell, values in tests.items()
        })  # fmt: skip
        return {f["claim"].split(" (")[1][:4]: f for f in greff_findings(compare_variants(records))}

    agreeing = {
        "lstm_v": [0.90, 0.91, 0.92],
        "lstm_nfg": [0.50, 0.52, 0.51],
        "lstm_noaf": [0.60, 0.62, 0.61],
        "lstm_cifg": [0.90, 0.92, 0.91],
        "lstm_np": [0.91, 0.90, 0.92],
        "lstm_fgr": [0.92, 0.90, 0.91],
    }
    result = findings(agreeing)
    assert [result[k]["agrees"] for k in ("NFG)", "CIFG", "NP) ", "FGR)")] == [True] * 4
    assert (
        "significantly worse than V: NFG on a, b; NOAF on a, b; mean rank over the tasks, "
        "worst first: NFG 6.0, NOAF 5.0" in result["NFG)"]["evidence"]
    )
    disagreeing = {**agreeing, "lstm_cifg": [0.40, 0.41, 0.42], "lstm_fgr": [0.99, 0.98, 0.97]}
    result = findings(disagreeing)
    assert [result[k]["agrees"] for k in ("NFG)", "CIFG", "NP) ", "FGR)")] == [
        False,
        False,
        True,
        False,
    ]
    assert "significantly worse than V on a, b" in result["CIFG"]["evidence"]
    assert "significantly better than V on a, b" in result["FGR)"]["evidence"]
    partial = findings({"lstm_v": agreeing["lstm_v"], "lstm_np": agreeing["lstm_np"]})
    assert partial["NFG)"]["agrees"] is None and partial["CIFG"]["agrees"] is None


def test_smoke_study_writes_its_report_and_resumes(tmp_path):
    lines = []
    arguments = dict(
        variants=("V", "NFG", "CIFG"), tasks=("xor", "sine"), min_cells=("lstm_np", "min_gru"),
        min_tasks=("xor",), seeds=(0, 1), task_seeds={"sine": (0,)}, mode="smoke",
        lengths={"xor": (8,)}, progress=lines.append,
    )  # fmt: skip
    study = run_variants_study(tmp_path / "study", **arguments)
    workdir = tmp_path / "study"
    # The LSTM (NP) on XOR belongs to the second part only; min_gru trains there, too.
    assert len(lines) == 3 * 2 + 3 * 1 + 2 * 2
    assert study["settings"]["tasks"] == ["xor_L8", "sine"]
    assert json.loads((workdir / "study.json").read_text())["variant_records"] == json.loads(
        json.dumps(study["variant_records"])
    )
    report = (workdir / "report.md").read_text()
    for name in ("variants_xor_L8.png", "variants_sine.png", "min_xor_L8.png"):
        assert (workdir / name).stat().st_size > 0 and f"]({name})" in report
    record = next(r for r in study["variant_records"] if r["cell"] == "lstm_cifg")
    results = json.loads(
        (workdir / "runs" / "xor_L8" / "lstm_cifg" / "seed0" / "results.json").read_text()
    )
    assert record["test"] == results["final"]["test"]["accuracy"]
    assert f"| CIFG | {results['num_params']:,} | " in report
    assert "## Greff et al.'s findings, checked" in report and "(sine: seeds 0)" in report
    assert "| min_gru |" in report
    # Running again reads the runs back instead of training them.
    stamp = (workdir / "runs" / "sine" / "lstm_v" / "seed0" / "results.json").stat().st_mtime_ns
    again = run_variants_study(tmp_path / "study", **{**arguments, "progress": lambda _: None})
    assert again["variant_records"] == study["variant_records"]
    assert (
        workdir / "runs" / "sine" / "lstm_v" / "seed0" / "results.json"
    ).stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"variants": ("NFG",)}, "including 'V'"),
        ({"variants": ("V", "vanilla")}, "variants must be distinct names"),
        ({"min_cells": ("lstm", "transformer")}, "min_cells must be registered"),
        ({"task_seeds": {"imdb": (0,)}, "min_tasks": ()}, "task_seeds names tasks"),
        ({"seeds": (0, 0)}, "seeds must be distinct"),
        ({"lengths": {"seq2seq": (5,)}}, "lengths names tasks"),
        ({"mode": "tiny"}, "mode must be one of"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        run_variants_study(tmp_path / "study", **arguments)
    assert not (tmp_path / "study").exists()
