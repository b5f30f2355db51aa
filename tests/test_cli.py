"""The tsft command line: round trips, formats, stdin/stdout and exit codes (tiny backbone)."""

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sklearn_tsft import TokenSparseClassifier, __version__
from sklearn_tsft.cli import main

from .helpers import make_texts


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory):
    texts, labels = make_texts(20)
    path = tmp_path_factory.mktemp("data") / "train.csv"
    pd.DataFrame({"id": range(len(texts)), "text": texts, "label": labels}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(train_csv, tiny_backbone, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    status = main(["fit", str(train_csv), "--out", str(out), "--model", tiny_backbone,
                   "--max-epochs", "4", "--batch-size", "8", "--device", "cpu",
                   "--param", "head_lr=0.1", "--quiet"])
    assert status == 0
    return out


def test_predict_keeps_other_columns_and_adds_probabilities(model_dir, train_csv, tmp_path):
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model_dir), str(train_csv), "--out", str(out), "--proba",
                 "--quiet"]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "text", "label", "proba_card", "proba_refund",
                                   "prediction"]
    assert frame.id.tolist() == list(range(40))
    assert (frame[["proba_card", "proba_refund"]].sum(axis=1) - 1).abs().max() < 1e-6
    clf = TokenSparseClassifier.load(model_dir)
    assert frame.prediction.tolist() == list(clf.predict(frame.text))
    np.testing.assert_allclose(frame[["proba_card", "proba_refund"]],
                               clf.predict_proba(frame.text), rtol=1e-6)


def test_predict_reads_stdin_and_writes_stdout(model_dir, train_csv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(train_csv.read_text()))
    assert main(["predict", str(model_dir), "-", "--quiet"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(frame) == 40 and "prediction" in frame


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_tsv_and_json_lines_inputs(model_dir, train_csv, tmp_path, suffix):
    frame = pd.read_csv(train_csv)
    source = tmp_path / f"input{suffix}"
    if suffix == ".tsv":
        frame.to_csv(source, sep="\t", index=False)
    else:
        frame.to_json(source, orient="records", lines=True)
    out = tmp_path / f"out{suffix}"
    assert main(["predict", str(model_dir), str(source), "--out", str(out), "--quiet"]) == 0
    result = (pd.read_csv(out, sep="\t") if suffix == ".tsv"
              else pd.read_json(out, lines=True))
    assert len(result) == 40 and "prediction" in result


def test_evaluate_prints_accuracy_f1_and_report(model_dir, train_csv, capsys):
    assert main(["evaluate", str(model_dir), str(train_csv), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy: ") and "macro-F1: " in out and "precision" in out


@pytest.fixture(scope="module")
def multilabel_model_dir(tiny_backbone, tmp_path_factory):
    texts, labels = make_texts(10)
    indicator = np.column_stack([labels == "card", labels == "refund", np.arange(20) % 3 == 0])
    out = tmp_path_factory.mktemp("multilabel_model")
    TokenSparseClassifier(tiny_backbone, max_epochs=1, batch_size=8, device="cpu",
                          random_state=0).fit(texts, indicator.astype(int)).save(out)
    return out


def test_multilabel_predict_writes_one_indicator_column_per_label(multilabel_model_dir,
                                                                   train_csv, tmp_path):
    out = tmp_path / "pred.csv"
    assert main(["predict", str(multilabel_model_dir), str(train_csv), "--out", str(out),
                 "--proba", "--quiet"]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns[3:]) == ["proba_0", "proba_1", "proba_2",
                                       "prediction_0", "prediction_1", "prediction_2"]
    clf = TokenSparseClassifier.load(multilabel_model_dir)
    np.testing.assert_array_equal(frame[["prediction_0", "prediction_1", "prediction_2"]],
                                  clf.predict(frame.text))


@pytest.fixture(scope="module")
def label_sets_csv(tmp_path_factory):
    texts, labels = make_texts(10)
    cells = [f"{label}|urgent" if i % 3 == 0 else label for i, label in enumerate(labels)]
    path = tmp_path_factory.mktemp("multilabel") / "train.csv"
    pd.DataFrame({"text": texts, "labels": cells}).to_csv(path, index=False)
    return path


def test_fit_multilabel_splits_the_label_cells_and_evaluate_scores_it(
        label_sets_csv, tiny_backbone, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["fit", str(label_sets_csv), "--label-column", "labels", "--multilabel",
                 "--out", str(out), "--model", tiny_backbone, "--max-epochs", "1",
                 "--device", "cpu", "--random-state", "0"]) == 0
    assert "fitting on 20 texts of 3 labels" in capsys.readouterr().err
    clf = TokenSparseClassifier.load(out)
    assert clf.multilabel_ and list(clf.classes_) == ["card", "refund", "urgent"]
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(out), str(label_sets_csv), "--out", str(pred), "--quiet"]) == 0
    assert list(pd.read_csv(pred).columns[2:]) == ["prediction_card", "prediction_refund",
                                                   "prediction_urgent"]
    assert main(["evaluate", str(out), str(label_sets_csv), "--label-column", "labels",
                 "--quiet"]) == 0
    report = capsys.readouterr().out
    assert "micro-F1: " in report and "exact-set accuracy: " in report and "urgent" in report


def test_evaluate_names_labels_a_multilabel_model_does_not_know(multilabel_model_dir,
                                                                train_csv, capsys):
    assert main(["evaluate", str(multilabel_model_dir), str(train_csv), "--quiet"]) == 2
    assert "labels the model does not know: card, refund" in error_line(capsys)


def error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_missing_column_lists_the_columns(model_dir, train_csv, capsys):
    status = main(["evaluate", str(model_dir), str(train_csv), "--label-column", "intent"])
    assert status == 2
    assert error_line(capsys) == (
        f"tsft evaluate: error: '{train_csv}' has no column 'intent'; its columns are: "
        "'id', 'text', 'label'.")


@pytest.mark.parametrize("argv, message", [
    (["predict", "{model}", "missing.csv"], "no such file: 'missing.csv'"),
    (["predict", "{train}", "{train}"], "is not a directory written by save()"),
    (["fit", "{train}", "--out", "{tmp}", "--model", "{backbone}", "--sparsity", "2"],
     "sparsity == 2.0, must be <= 1"),
    (["predict", "{model}", "{train}.unknown"], "cannot tell the format"),
])
def test_bad_input_exits_2_with_one_line(argv, message, model_dir, train_csv, tiny_backbone,
                                         tmp_path, capsys):
    values = {"model": model_dir, "train": train_csv, "tmp": tmp_path, "backbone": tiny_backbone}
    assert main([arg.format(**values) for arg in argv] + ["--quiet"]) == 2
    assert message in error_line(capsys)


@pytest.mark.parametrize("argv, message", [
    (["fit"], "tsft fit: error: the following arguments are required: train, --out"),
    (["fly"], "tsft: error: argument COMMAND: invalid choice: 'fly'"),
    (["fit", "t.csv", "--out", "m", "--strategy", "magic"],
     "tsft fit: error: argument --strategy: invalid choice: 'magic' (choose from 'bitfit', 'full',"),
])
def test_bad_usage_exits_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert error_line(capsys).startswith(message)


def test_console_script_reports_its_version():
    done = subprocess.run(["tsft", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"sklearn-tsft {__version__}"


def test_fit_refuses_empty_labels_and_names_the_rows(train_csv, tiny_backbone, tmp_path, capsys):
    frame = pd.read_csv(train_csv)
    frame.loc[[2, 5], "label"] = ""
    frame.to_csv(tmp_path / "holes.csv", index=False)
    status = main(["fit", str(tmp_path / "holes.csv"), "--out", str(tmp_path / "m"),
                   "--model", tiny_backbone, "--quiet"])
    assert status == 2
    assert "column 'label' is empty in 2 row(s) (3, 6); give every text a label" in (
        error_line(capsys))
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("extra, message", [
    (["--prediction-column", "text"], "already has the column(s) 'text' that predict would"),
    (["--proba", "--prediction-column", "guess"], "already has the column(s) 'proba_card'"),
])
def test_predict_never_overwrites_an_input_column(model_dir, train_csv, tmp_path, capsys, extra,
                                                  message):
    frame = pd.read_csv(train_csv).assign(proba_card=1.0)
    frame.to_csv(tmp_path / "in.csv", index=False)
    status = main(["predict", str(model_dir), str(tmp_path / "in.csv"), "--out",
                   str(tmp_path / "out.csv"), *extra, "--quiet"])
    assert status == 2 and message in error_line(capsys)
    assert not (tmp_path / "out.csv").exists()


def test_a_refused_output_is_one_line_and_exit_2_before_any_fit(train_csv, tiny_backbone,
                                                                 tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("fitted before checking --out")

    monkeypatch.setattr(TokenSparseClassifier, "fit", refuse)
    (tmp_path / "notes.txt").write_text("mine")
    status = main(["fit", str(train_csv), "--out", str(tmp_path), "--model", tiny_backbone,
                   "--max-epochs", "1", "--device", "cpu", "--quiet"])
    assert status == 2 and "refusing to replace it" in error_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_evaluate_reports_out_of_scope_detection(train_csv, tiny_backbone, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["fit", str(train_csv), "--out", str(out), "--model", tiny_backbone,
                 "--max-epochs", "4", "--batch-size", "8", "--device", "cpu",
                 "--param", "head_lr=0.1", "--param", "validation_fraction=0.25",
                 "--param", "unknown_label=other", "--quiet"]) == 0
    frame = pd.read_csv(train_csv)
    unseen = ["weather sunny tomorrow afternoon", "guitar concert tickets tonight"] * 3
    test = pd.concat([frame, pd.DataFrame({"text": unseen, "label": "other"})])
    test.to_csv(tmp_path / "test.csv", index=False)
    assert main(["evaluate", str(out), str(tmp_path / "test.csv"), "--quiet"]) == 0
    report = capsys.readouterr().out
    clf = TokenSparseClassifier.load(out)
    recall = np.mean(clf.predict(unseen) == "other")
    assert f"out-of-scope recall: {recall:.4f} (6 texts labelled 'other')" in report
    assert "in-scope accuracy: " in report and "out-of-scope AUROC (mahalanobis): " in report


def test_explain_writes_each_word_and_its_contribution(model_dir, train_csv, tmp_path):
    out = tmp_path / "words.csv"
    assert main(["explain", str(model_dir), str(train_csv), "--out", str(out), "--quiet"]) == 0
    words = pd.read_csv(out, keep_default_na=False)
    assert list(words.columns) == ["text_index", "word_index", "word", "contribution", "class"]
    clf = TokenSparseClassifier.load(model_dir)
    texts = pd.read_csv(train_csv).text.tolist()[:3]
    for i, explanation in enumerate(clf.explain(texts)):
        rows = words[words.text_index == i]
        assert rows.word.tolist() == [word for word, _ in explanation]
        np.testing.assert_allclose(rows.contribution, [c for _, c in explanation], atol=1e-6)
        assert set(rows["class"]) == {clf.predict([texts[i]])[0]}


def test_explain_names_the_classes_for_an_unknown_target(model_dir, train_csv, capsys):
    assert main(["explain", str(model_dir), str(train_csv), "--target", "loan", "--quiet"]) == 2
    assert "--target 'loan' is not a class of the model; its classes are card, refund" in (
        capsys.readouterr().err)


def test_predict_with_proba_runs_one_pass_of_the_model(model_dir, train_csv, tmp_path,
                                                       monkeypatch):
    passes = []
    text_outputs = TokenSparseClassifier._text_outputs

    def counted(self, *args, **kwargs):
        passes.append(1)
        return text_outputs(self, *args, **kwargs)

    monkeypatch.setattr(TokenSparseClassifier, "_text_outputs", counted)
    assert main(["predict", str(model_dir), str(train_csv), "--out", str(tmp_path / "p.csv"),
                 "--proba", "--quiet"]) == 0
    assert len(passes) == 1


def test_explain_predicts_the_original_texts_once(model_dir, train_csv, tmp_path, monkeypatch):
    calls = []
    predict_proba = TokenSparseClassifier.predict_proba

    def counted(self, X):
        calls.append(len(X))
        return predict_proba(self, X)

    monkeypatch.setattr(TokenSparseClassifier, "predict_proba", counted)
    assert main(["explain", str(model_dir), str(train_csv), "--out", str(tmp_path / "e.csv"),
                 "--quiet"]) == 0
    assert calls.count(40) == 1  # the 40 texts once; the rest are occluded copies


@pytest.mark.parametrize("command", ["fit", "predict", "evaluate", "explain", "bench"])
def test_every_option_shows_its_default_and_choices(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default: None" not in help_text
    if command == "fit":
        defaults = TokenSparseClassifier().get_params()
        for option in ("--text-column TEXT_COLUMN column of the texts (default: text)",
                       "--label-column LABEL_COLUMN column of the labels (default: label)",
                       f"(default: {defaults['strategy']})", "{bitfit,full,head,layers,lora,",
                       f"(default: {defaults['sparsity']})",
                       f"(default: {defaults['batch_size']})",
                       "(default: none, a different fit each run)"):
            assert option in help_text


def test_fit_defaults_are_the_estimators(train_csv, tmp_path, monkeypatch):
    seen = {}

    def record(self, X, y):
        seen.update(self.get_params())
        raise KeyboardInterrupt  # stop before training

    monkeypatch.setattr(TokenSparseClassifier, "fit", record)
    assert main(["fit", str(train_csv), "--out", str(tmp_path / "m"), "--quiet"]) == 130
    defaults = TokenSparseClassifier().get_params()
    assert {name: seen[name] for name in ("model", "strategy", "sparsity", "max_epochs",
                                          "batch_size", "device", "random_state")} == {
        name: defaults[name] for name in ("model", "strategy", "sparsity", "max_epochs",
                                          "batch_size", "device", "random_state")}


def test_a_bad_parameter_is_refused_before_the_fitting_message(train_csv, tmp_path, capsys):
    assert main(["fit", str(train_csv), "--out", str(tmp_path / "m"),
                 "--param", "lora_r=0"]) == 2
    err = capsys.readouterr().err
    assert "lora_r" in err and "fitting on" not in err
