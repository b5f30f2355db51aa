"""The benchmark suite (benchmarks/suite.py) in its smallest form, on the tiny backbone.

Fits run in this process (the suite's ``runner`` seam) so the test takes
seconds; the fresh-process runner is covered by test_benchmark.py.
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from .helpers import benchmark_script, make_texts

STRATEGIES = ["token_sparse", "full"]


def in_this_process(function, argument_tuples):
    for arguments in argument_tuples:
        yield function(*arguments)


@pytest.fixture(scope="module")
def suite():
    return benchmark_script("suite")


@pytest.fixture(scope="module")
def outcome(suite, tiny_backbone, tmp_path_factory):
    root = tmp_path_factory.mktemp("suite")
    for dataset, label_column in [("banking77", "category"), ("sms_spam", "label")]:
        (root / "data" / dataset).mkdir(parents=True)
        for name, seed in [("train", 0), ("test", 1)]:
            texts, labels = make_texts(8, seed=seed, classes=("card", "refund"))
            pd.DataFrame({"text": texts, label_column: labels}).to_csv(
                root / "data" / dataset / f"{name}.csv", index=False)
    docs = root / "benchmarks.md"
    docs.write_text("# Benchmarks\n")
    argv = ["--quick", "--datasets", "banking77", "sms_spam", "--per-class", "3",
            "--n-train", "12", "--n-test", "10", "--strategies", *STRATEGIES,
            "--budgets", "0.5", "1", "--seeds", "0", "1", "--extras", "tfidf+linearsvc",
            "--max-epochs", "2", "--model", tiny_backbone, "--device", "cpu",
            "--data-dir", str(root / "data"), "--out-dir", str(root / "results"),
            "--docs-file", str(docs), "--quiet"]
    first = suite.main(argv, runner=in_this_process)
    calls = []

    def counting(function, argument_tuples):
        calls.extend(argument_tuples)
        return in_this_process(function, argument_tuples)

    second = suite.main(argv, runner=counting)
    return first, second, calls, root / "results", docs


def test_every_fit_is_a_row_with_finite_measures(outcome):
    result, _, _, _, _ = outcome
    assert result["schema_version"] == 1 and result["device"] == "cpu"
    assert result["stem"] == f"suite-cpu-quick-{Path(result['rows'][0]['backbone']).name}"
    # 2 datasets x 2 sizes x (2 strategies x (2 seeds at budget 1 + 1 at 0.5) + TF-IDF)
    assert len(result["rows"]) == 2 * 2 * (2 * 3 + 1)
    for row in result["rows"]:
        assert {"dataset", "size", "run", "budget", "epochs", "seed", "score", "fit_s",
                "commit", "n_train", "n_test"} <= row.keys()
        assert 0 <= row["score"] <= 1 and row["fit_s"] > 0 and math.isfinite(row["score"])
        metric = "macro_f1" if row["dataset"] == "sms_spam" else "accuracy"
        assert row["score"] == row[metric]
    sizes = {(row["dataset"], row["size"]): row["n_train"] for row in result["rows"]}
    assert sizes == {("banking77", "few-shot"): 6, ("banking77", "n-train"): 12,
                     ("sms_spam", "few-shot"): 6, ("sms_spam", "n-train"): 12}
    epochs = {(row["run"], row["budget"]) for row in result["rows"] if row["epochs"]}
    assert {(run, budget) for run in STRATEGIES for budget in (0.5, 1)} == epochs
    assert {row["epochs"] for row in result["rows"] if row["budget"] == 0.5} == {1}


def test_model_reaches_every_fit_and_is_recorded_without_a_path(outcome, tiny_backbone):
    from transformers import AutoConfig

    from sklearn_tsft.backbone import config_digest

    result, _, _, _, _ = outcome
    digest = config_digest(AutoConfig.from_pretrained(tiny_backbone))
    assert result["backbone"] == {"backbone": Path(tiny_backbone).name,
                                  "backbone_config": digest}
    assert tiny_backbone not in result["command"]
    assert f"--model {Path(tiny_backbone).name}" in result["command"]
    for row in result["rows"]:
        assert (row["backbone"], row["backbone_config"]) == (Path(tiny_backbone).name, digest)
        assert tiny_backbone not in json.dumps(row)
    # The packaged MiniLM has 22.7M parameters; full finetuning of the tiny one, a few 100k.
    full = [row for row in result["rows"] if row["run"] == "full"]
    assert full and all(row["n_trainable_params"] < 1_000_000 for row in full)


def test_rows_of_another_backbone_are_refused(suite, outcome, tmp_path, tiny_backbone):
    result, _, _, results, _ = outcome
    stem = result["stem"]
    rows = (results / f"{stem}.jsonl").read_text().splitlines()
    (tmp_path / f"{stem}.jsonl").write_text(
        json.dumps(dict(json.loads(rows[0]), backbone_config="0" * 12)) + "\n")
    with pytest.raises(ValueError, match="another folder"):
        suite.main(["--quick", "--report", "--datasets", "banking77", "--per-class", "3",
                    "--n-train", "12", "--n-test", "10", "--model", tiny_backbone,
                    "--data-dir", str(results.parent / "data"),
                    "--out-dir", str(tmp_path), "--docs-file", "none", "--quiet"])


def test_results_name_no_path_of_the_machine_that_wrote_them(outcome, tiny_backbone):
    result, _, _, results, docs = outcome
    written = json.loads((results / f"{result['stem']}.json").read_text())
    recorded = json.dumps({key: written[key] for key in ("command", "settings")})
    for path in (tiny_backbone, results.parent / "data", results, docs):
        assert str(path) not in recorded
    assert {key: written["settings"][key] for key in ("model", "seeds", "budgets")} == {
        "model": Path(tiny_backbone).name, "seeds": [0, 1], "budgets": [0.5, 1.0]}


@pytest.mark.parametrize("spelling", ["--option value", "--option=value"])
def test_the_recorded_command_drops_local_options_in_either_spelling(suite, spelling):
    def option(name, value):
        return [f"{name}={value}"] if spelling == "--option=value" else [name, value]

    given = ["--quick", *option("--model", "/machine/backbones/tiny"),
             *option("--data-dir", "/machine/data"), *option("--out-dir", "/machine/out"),
             *option("--merge", "/machine/a.jsonl"), "--report",
             "--seeds", "0", "1", *option("--docs-file", "none"), "--quiet"]
    args = suite.build_parser().parse_args(given)
    model = "--model=tiny" if spelling == "--option=value" else "--model tiny"
    assert suite.report_command(given, args) == (
        f"python benchmarks/suite.py --quick {model} --seeds 0 1 --report")


def test_the_forms_fill_what_the_command_leaves_open(suite):
    quick = suite.settings(suite.build_parser().parse_args(["--quick"]))
    assert (quick["seeds"], quick["budgets"], quick["strategies"], quick["extras"]) == (
        (0,), (1,), ("token_sparse", "full", "lora"), ("tfidf+linearsvc",))
    standard = suite.settings(suite.build_parser().parse_args(["--standard"]))
    assert standard["seeds"] == (0, 1, 2) and standard["strategies"] == suite.RIVALS
    assert standard["extras"] == ("tfidf+linearsvc", "setfit") and standard["n_train"] == 500
    assert suite.settings(suite.build_parser().parse_args([]))["n_train"] == 2000


def test_summary_means_seeds_and_relates_fit_time_to_full(outcome):
    result, _, _, _, _ = outcome
    summary = pd.DataFrame(result["summary"])
    assert len(summary) == 2 * 2 * (2 * 2 + 1)
    at_default = summary[(summary.budget == 1) & summary.run.isin(STRATEGIES)]
    assert (at_default.n_seeds == 2).all() and at_default.score_std.notna().all()
    assert (summary[summary.run == "full"].query("budget == 1").fit_ratio == 1.0).all()
    rows = pd.DataFrame(result["rows"])
    mine = rows[(rows.dataset == "banking77") & (rows["size"] == "few-shot")
                & (rows.run == "token_sparse") & (rows.budget == 1)]
    [cell] = summary[(summary.dataset == "banking77") & (summary["size"] == "few-shot")
                     & (summary.run == "token_sparse") & (summary.budget == 1)].score
    assert cell == pytest.approx(mine.score.mean())
    assert {target["dataset"] for target in result["targets"]} == {"banking77", "sms_spam"}


def test_margins_carry_the_standard_error_of_the_difference(outcome):
    result, _, _, results, _ = outcome
    summary = pd.DataFrame(result["summary"]).query("budget == 1")
    cells = summary[(summary.dataset == "banking77") & (summary["size"] == "n-train")]
    ours, full = (cells[cells.run == run].iloc[0] for run in ("token_sparse", "full"))
    [target] = [target for target in result["targets"]
                if (target["dataset"], target["size"]) == ("banking77", "n-train")]
    assert target["vs_full"] == pytest.approx(100 * (ours.score - full.score))
    assert target["vs_full_se"] == pytest.approx(
        100 * math.sqrt(ours.score_std ** 2 / 2 + full.score_std ** 2 / 2))
    table = (results / f"{result['stem']}.md").read_text()
    assert f"| banking77 / n-train | {target['vs_full']:+.1f} ± {target['vs_full_se']:.1f} " \
        in table


def test_a_rerun_resumes_from_the_rows_file(outcome):
    first, second, calls, _, _ = outcome
    assert calls == []
    assert second["rows"] == json.loads(json.dumps(first["rows"]))


def test_tables_plots_and_docs_section_are_written(outcome):
    result, _, _, results, docs = outcome
    stem = result["stem"]
    table = (results / f"{stem}.md").read_text()
    assert table.startswith("| dataset / size | metric | token_sparse | full | tfidf+linearsvc |")
    assert "| banking77 / few-shot (6 texts, 2 epochs) | accuracy |" in table
    assert "(a) vs full" in table and table.count("\n| sms_spam /") == 2 * 2
    for dataset in ("banking77", "sms_spam"):
        png = results / f"{stem}-{dataset}.png"
        assert png.read_bytes().startswith(b"\x89PNG")
    saved = json.loads((results / f"{stem}.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    text = docs.read_text()
    assert text.count(f"<!-- results: {stem} -->") == 1 and table.strip() in text


def test_a_report_keeps_setfit_rows_without_the_setfit_package(
        suite, outcome, tmp_path, monkeypatch, tiny_backbone):
    result, _, _, results, _ = outcome
    stem = result["stem"]
    rows = (results / f"{stem}.jsonl").read_text().splitlines()
    setfit_row = dict(json.loads(rows[0]), run="setfit", strategy="setfit", budget=1,
                      seed=0, epochs=None, size="few-shot", dataset="banking77")
    (tmp_path / f"{stem}.jsonl").write_text(
        "\n".join([*rows, json.dumps(setfit_row)]) + "\n")
    monkeypatch.setattr(suite, "setfit_installed", lambda: False)
    report = suite.main(report_argv(results, tmp_path, tiny_backbone, "--extras",
                                    "tfidf+linearsvc", "setfit"))
    assert [row for row in report["rows"] if row["run"] == "setfit"] == [setfit_row]
    assert "| setfit |" in (tmp_path / f"{stem}.md").read_text().splitlines()[0]


def test_merge_replaces_the_rows_of_refitted_fits_and_keeps_the_old_ones(
        suite, outcome, tmp_path, tiny_backbone):
    result, _, _, results, _ = outcome
    stem = result["stem"]
    rows = [json.loads(line) for line in (results / f"{stem}.jsonl").read_text().splitlines()]
    (tmp_path / f"{stem}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    score = rows[0]["score"] / 2
    refit = dict(rows[0], score=score, **{"macro_f1" if rows[0]["dataset"] == "sms_spam"
                                          else "accuracy": score})
    part = tmp_path / "part" / f"{stem}.jsonl"
    part.parent.mkdir()
    part.write_text(json.dumps(refit) + "\n" + json.dumps(rows[1]) + "\n")
    argv = [word for word in report_argv(results, tmp_path, tiny_backbone, "--merge", str(part))
            if word != "--report"]
    suite.main(argv)
    report = suite.main(argv)  # a second merge of the same part moves nothing more
    # The recorded command rewrites the tables from the merged rows file.
    assert str(part) not in report["command"] and "--merge" not in report["command"]
    assert report["command"].endswith("--extras tfidf+linearsvc --model "
                                      f"{Path(tiny_backbone).name} --report")
    merged = [json.loads(line) for line in (tmp_path / f"{stem}.jsonl").read_text().splitlines()]
    assert sorted(map(json.dumps, merged)) == sorted(map(json.dumps, [refit, *rows[1:]]))
    superseded = (tmp_path / f"{stem}-superseded.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in superseded] == [rows[0]]
    assert refit in report["rows"] and rows[0] not in report["rows"]


def test_merge_names_a_missing_part(suite, outcome, tmp_path, tiny_backbone):
    _, _, _, results, _ = outcome
    with pytest.raises(FileNotFoundError, match="--merge: .*not found"):
        suite.main(report_argv(results, tmp_path, tiny_backbone,
                               "--merge", str(tmp_path / "missing.jsonl")))


def report_argv(results, out_dir, tiny_backbone, *more):
    """``--report`` over the ``outcome`` fixture's cells, writing into ``out_dir``."""
    return ["--quick", "--report", "--datasets", "banking77", "sms_spam",
            "--per-class", "3", "--n-train", "12", "--n-test", "10",
            "--strategies", *STRATEGIES, "--budgets", "0.5", "1", "--seeds", "0", "1",
            "--extras", "tfidf+linearsvc", "--model", tiny_backbone,
            "--data-dir", str(results.parent / "data"),
            "--out-dir", str(out_dir), "--docs-file", "none", "--quiet", *more]


def test_missing_dataset_folder_names_the_fix(suite, tmp_path):
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        suite.main(["--datasets", "sms_spam", "--data-dir", str(tmp_path), "--quiet",
                    "--docs-file", "none", "--out-dir", str(tmp_path / "out")])


def test_setfit_pairs_are_counted_as_setfit_samples_them(suite):
    # SetFit 1.2 reports 585,200 unique pairs for banking77's 770 few-shot texts.
    assert suite.setfit_pairs([label for label in range(77) for _ in range(10)]) == 585_200
    assert suite.setfit_pairs(["spam"] * 10 + ["ham"] * 10) == 200


def test_setfit_beyond_the_pair_limit_is_planned_capped(suite, monkeypatch):
    monkeypatch.setattr(suite, "setfit_installed", lambda: True)
    args = suite.build_parser().parse_args(["--standard", "--strategies", "full",
                                            "--extras", "setfit"])
    config = suite.settings(args)
    few = suite.plan(args, config, "few-shot", ["spam"] * 10 + ["ham"] * 10)
    many = suite.plan(args, config, "few-shot", [k for k in range(77) for _ in range(10)])
    assert [job for job in few if job[0] == "setfit"] == [("setfit", 1, None, s) for s in (0, 1, 2)]
    assert {job[2] for job in many if job[0] == "setfit"} == {8_000 // 16}


def test_setfit_cap_can_be_set_on_the_command_line(suite, monkeypatch):
    monkeypatch.setattr(suite, "setfit_installed", lambda: True)
    args = suite.build_parser().parse_args(["--standard", "--strategies", "full",
                                            "--extras", "setfit", "--setfit-max-pairs", "1600"])
    jobs = suite.plan(args, suite.settings(args), "few-shot",
                      [k for k in range(20) for _ in range(10)])
    assert {job[2] for job in jobs if job[0] == "setfit"} == {1600 // 16}
