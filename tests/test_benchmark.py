"""The comparison benchmark in its smallest form, on the tiny backbone."""

import json
import math

import pandas as pd
import pytest

from sklearn_tsft.benchmark import main, parse_run

from .helpers import benchmark_script, make_texts

RUNS = ["tfidf+logreg", "full", "token_sparse:sparsity=0.01"]
MEASURED = ["accuracy", "macro_f1", "fit_s", "fit_ratio", "peak_mem_mb", "n_trainable_params",
            "texts_per_s"]


@pytest.fixture(scope="module")
def result(tiny_backbone, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    classes = ("card", "refund", "transfer")
    for name, seed in [("train", 0), ("test", 1)]:
        texts, labels = make_texts(10, seed=seed, classes=classes)
        pd.DataFrame({"text": texts, "label": labels}).to_csv(folder / f"{name}.csv", index=False)
    docs = folder / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nIntro stays.\n")
    argv = ["--train", str(folder / "train.csv"), "--test", str(folder / "test.csv"),
            "--label-column", "label", "--dataset", "toy", "--model", tiny_backbone,
            "--max-epochs", "1", "--device", "cpu", "--runs", *RUNS,
            "--out-dir", str(folder / "results"), "--docs-file", str(docs), "--quiet"]
    compare = benchmark_script("compare").main
    compare(argv)
    compare(argv)  # a second run replaces the docs section instead of adding one
    [path] = (folder / "results").glob("toy-cpu-*.json")
    return json.loads(path.read_text()), path, docs


def test_result_file_schema(result):
    data, path, _ = result
    assert data["schema_version"] == 1
    assert {"command", "dataset", "device", "date", "settings", "machine", "n_train", "n_test",
            "n_labels", "rows", "summary"} <= data.keys()
    assert (data["dataset"], data["device"], data["n_train"], data["n_test"], data["n_labels"]) == (
        "toy", "cpu", 30, 30, 3)
    assert path.name == f"toy-cpu-{data['date']}.json"
    assert [row["run"] for row in data["rows"]] == RUNS
    assert [row["run"] for row in data["summary"]] == RUNS


def test_every_row_holds_measured_values(result):
    data, _, _ = result
    for row in data["rows"]:
        for key in MEASURED:
            assert isinstance(row[key], (int, float)) and math.isfinite(row[key]), (row["run"], key)
        assert 0 <= row["accuracy"] <= 1 and row["fit_s"] > 0 and row["texts_per_s"] > 0
        assert row["peak_mem_mb"] > 0 and row["n_trainable_params"] > 0
    full, sparse = data["rows"][1], data["rows"][2]
    assert full["fit_ratio"] == 1.0 and full["trainable_fraction"] == 1.0
    assert 0 < sparse["trainable_fraction"] <= 0.01 and sparse["params"] == {"sparsity": 0.01}
    assert data["rows"][0]["trainable_fraction"] is None  # no backbone


def test_plot_table_and_docs_section_are_written(result):
    _, path, docs = result
    assert path.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    table = path.with_suffix(".md").read_text()
    assert table.startswith("| run | accuracy |") and table.count("\n") == 2 + len(RUNS)
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nIntro stays.\n")
    assert text.count(f"<!-- results: {path.stem} -->") == 1 and table.strip() in text


def test_bad_run_specs_fail_before_fitting(tmp_path):
    with pytest.raises(ValueError, match="'sparsity': write NAME=VALUE"):
        parse_run("token_sparse:sparsity")
    with pytest.raises(ValueError, match="unknown name 'magic'"):
        main(["--train", str(tmp_path / "x.csv"), "--test", str(tmp_path / "y.csv"),
              "--runs", "magic"])
