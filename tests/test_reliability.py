"""What a hostile or careless user met (issue 28), each turned into a test on the tiny backbone.

A saved model loads anywhere; prediction never changes shared state; the
CLI keeps cells as written; bad weights, lengths and directories are
refused; saves and exports never delete what they did not write.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import DataConversionWarning

from sklearn_tsft import ModelFormatError, TokenSparseClassifier
from sklearn_tsft.cli import main
from sklearn_tsft.persistence import file_manifest

from .helpers import make_texts


def edit_metadata(path, change):
    metadata = json.loads((path / "tsft.json").read_text())
    change(metadata)
    (path / "tsft.json").write_text(json.dumps(metadata))


def resign(path):
    """Rewrite tsft.json's file list to match the files: what a hostile editor can do."""
    edit_metadata(path, lambda m: m.update(files=file_manifest(path)))


@pytest.fixture(scope="module")
def scoped(tiny_backbone, toy_data):
    """A fit that predicts an unknown label, so that every prediction path has work to do."""
    params = dict(model=tiny_backbone, max_epochs=2, batch_size=8, head_lr=1e-1,
                  random_state=0, device="cpu", validation_fraction=0.25,
                  unknown_label="other")
    return TokenSparseClassifier(**params).fit(*toy_data)


@pytest.fixture
def saved(fitted_tiny, tmp_path):
    fitted_tiny.save(tmp_path / "model")
    return tmp_path / "model"


# 1. A saved model is not tied to the machine that trained it.

def test_a_model_loads_after_its_backbone_directory_is_gone(tiny_backbone, toy_data, tmp_path,
                                                            monkeypatch):
    texts, labels = toy_data
    shutil.copytree(tiny_backbone, tmp_path / "backbone")
    monkeypatch.chdir(tmp_path)
    clf = TokenSparseClassifier("./backbone", max_epochs=1, batch_size=8, random_state=0,
                                device="cpu").fit(texts, labels)
    expected = clf.predict_proba(texts)
    clf.save("model")
    shutil.rmtree(tmp_path / "backbone")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(texts), expected)
    assert loaded.model == "./backbone"  # the parameter as given, for a refit where it exists


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_cuda_model_loads_on_a_machine_without_one(fitted_tiny, toy_data, tmp_path):
    import copy

    texts, _ = toy_data
    on_gpu = copy.deepcopy(fitted_tiny)
    on_gpu.device = "cuda"  # as set_params does, without a refit
    on_gpu.save(tmp_path / "model")
    with pytest.warns(UserWarning, match="device='cuda'.*loaded with device='auto'"):
        loaded = TokenSparseClassifier.load(tmp_path / "model")
    assert loaded.device == "auto"
    np.testing.assert_array_equal(loaded.predict_proba(texts), fitted_tiny.predict_proba(texts))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TokenSparseClassifier.load(tmp_path / "model", device="cpu").device == "cpu"


@pytest.mark.parametrize("params, message", [
    ({"sparsity": 2.0}, "cannot save: sparsity == 2.0"),
    ({"strategy": "nope"}, "cannot save: .*nope"),
])
def test_save_refuses_parameters_that_load_would_refuse(fitted_tiny, tmp_path, params,
                                                        message):
    import copy

    clf = copy.deepcopy(fitted_tiny).set_params(**params)
    with pytest.raises(ValueError, match=message):
        clf.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


# 2. Prediction paths never change the module or any shared state.

def test_score_samples_leaves_the_module_in_eval_mode(scoped, toy_data):
    scoped.score_samples(toy_data[0])
    assert not any(module.training for module in scoped.module_.modules())


def test_threads_get_the_serial_answers_bit_for_bit(scoped, toy_data):
    texts = toy_data[0]
    calls = {"predict_proba": scoped.predict_proba, "predict": scoped.predict,
             "score_samples": scoped.score_samples, "explain": scoped.explain}
    serial = {name: call(texts) for name, call in calls.items()}
    results, errors = {}, []

    def run(index):
        name = list(calls)[index % len(calls)]
        try:
            results[index] = (name, calls[name](texts))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for name, value in results.values():
        if name == "explain":
            assert value == serial[name]
        else:
            np.testing.assert_array_equal(value, serial[name])
    np.testing.assert_array_equal(scoped.predict_proba(texts), serial["predict_proba"])


# 4. Bad weights are refused; finite weights cannot overflow.

@pytest.mark.parametrize("weight", [-1.0, float("inf"), float("nan")])
def test_negative_or_non_finite_class_weights_are_refused_before_loading(
        tiny_params, toy_data, weight, monkeypatch):
    import sklearn_tsft.classifier as classifier

    monkeypatch.setattr(classifier, "load_backbone", lambda *a: pytest.fail("loaded"))
    clf = TokenSparseClassifier(**tiny_params, class_weight={"card": weight, "refund": 1.0})
    with pytest.raises(ValueError, match=r"class_weight\['card'\].*finite number >= 0"):
        clf.fit(*toy_data)


def test_a_negative_class_weight_from_the_cli_is_refused(tiny_backbone, tmp_path, capsys):
    texts, labels = make_texts(4)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "train.csv", index=False)
    status = main(["fit", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m"),
                   "--model", tiny_backbone, "--param", "class_weight={'card': -1}",
                   "--quiet"])
    assert status == 2 and "finite number >= 0" in capsys.readouterr().err


def test_huge_sample_weights_give_the_fit_of_their_rescaled_form(tiny_params, toy_data):
    texts, labels = toy_data
    weights = np.linspace(1, 3, len(texts))
    small = TokenSparseClassifier(**dict(tiny_params, max_epochs=1)).fit(
        texts, labels, sample_weight=weights)
    huge = TokenSparseClassifier(**dict(tiny_params, max_epochs=1)).fit(
        texts, labels, sample_weight=weights * 1e307)
    assert np.isfinite(huge.history_[-1, "train_loss"]) and huge.history_[-1, "train_loss"] > 0
    np.testing.assert_array_equal(huge.predict_proba(texts), small.predict_proba(texts))


# 5. max_length beyond the backbone's positions.

def test_max_length_beyond_the_positions_is_refused_at_fit(tiny_params, toy_data):
    # The tiny BERT has 128 positions.
    with pytest.raises(ValueError, match="max_length=129 is set.*positions for 128 tokens"):
        TokenSparseClassifier(**dict(tiny_params, max_length=129)).fit(*toy_data)


def test_max_length_beyond_the_positions_is_refused_at_load(saved):
    edit_metadata(saved, lambda m: m.update(max_length=4096))
    with pytest.raises(ModelFormatError, match="max_length=4096.*positions for 128 tokens"):
        TokenSparseClassifier.load(saved)


# 6. explain in bounded memory.

def test_a_5000_word_text_explains_in_bounded_memory(fitted_tiny):
    text = " ".join(["card refund please"] * 1667)
    tracemalloc.start()
    try:
        [explanation] = fitted_tiny.explain([text])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Every one-word-removed copy at once would be 5,000 copies of 30 kB.
    assert peak < 20e6, peak
    assert len(explanation) == 5001
    read = fitted_tiny.tokenizer_.words_read(text, text.split())
    assert 0 < read < 128
    assert all(value == 0.0 for _, value in explanation[read:])


def test_explanations_equal_the_brute_force_occlusion(fitted_tiny):
    text = "my card has not arrived and I want a refund please"
    [explanation] = fitted_tiny.explain([text], target="card")
    column = list(fitted_tiny.classes_).index("card")
    words = text.split()
    whole = fitted_tiny.predict_proba([text])[0, column]
    occluded = fitted_tiny.predict_proba(
        [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))])[:, column]
    np.testing.assert_allclose([value for _, value in explanation], whole - occluded,
                               rtol=0, atol=1e-7)


def test_explain_refuses_an_array_as_target(fitted_tiny):
    with pytest.raises(TypeError, match="target must be one label"):
        fitted_tiny.explain(["my card"], target=np.array(["card", "refund"]))


# 7. save and export_pretrained never delete what they did not write.

def test_save_keeps_a_folder_with_an_empty_tsft_json(fitted_tiny, tmp_path):
    (tmp_path / "tsft.json").write_text("{}")
    (tmp_path / "thesis.tex").write_text("years of work")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print()")
    with pytest.raises(ValueError, match="thesis.tex.*refusing to replace it"):
        fitted_tiny.save(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert (tmp_path / "src" / "main.py").exists()


def test_save_refuses_a_saved_model_with_a_file_added(saved, fitted_tiny):
    (saved / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"notes.txt\); refusing"):
        fitted_tiny.save(saved)
    assert (saved / "notes.txt").exists()
    (saved / "notes.txt").unlink()
    fitted_tiny.save(saved)  # exactly what a save wrote: replaced


def test_export_keeps_a_project_folder_with_a_config_json(fitted_tiny, tmp_path):
    for name in ("config.json", "README.md"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError, match="README.md.*src/.*refusing to replace it"):
        fitted_tiny.export_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "src"]
    fitted_tiny.export_pretrained(tmp_path / "export")
    fitted_tiny.export_pretrained(tmp_path / "export")  # its own export: replaced


def test_save_through_a_link_replaces_its_target_and_leaves_nothing(saved, fitted_tiny,
                                                                    tmp_path):
    link = tmp_path / "link"
    link.symlink_to(saved)
    fitted_tiny.save(link)
    assert link.is_symlink() and TokenSparseClassifier.load(link).classes_.tolist() == [
        "card", "refund"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "model"]


def test_save_to_the_working_directory(fitted_tiny, tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    fitted_tiny.save(".")
    fitted_tiny.save(".")
    assert TokenSparseClassifier.load(".").classes_.tolist() == ["card", "refund"]
    assert os.path.samefile(os.getcwd(), tmp_path / "here")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]


# 8. Hostile model directories.

@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(format_version=1), "format version 1, which lists no checksums"),
    (lambda m: m.update(max_length=-5), "max_length -5 is not an int of at least 2"),
    (lambda m: m["classes"].update(values=["card", "card"]), "the classes repeat a label"),
    # Multi-label classes may be names (a DataFrame y's columns), so the
    # label thresholds are what must match them.
    (lambda m: m.update(multilabel=True, label_thresholds=[0.5]),
     "label_thresholds has 1 entries for 2 labels"),
    (lambda m: m.update(params=[1, 2]), "params \\[1, 2\\] is not an object of parameters"),
    (lambda m: m.update(files={"../x": {"size": 1, "sha256": "0" * 64}}),
     "files .* is not a list of relative file names"),
])
def test_every_entry_of_tsft_json_is_checked(saved, change, message):
    edit_metadata(saved, change)
    with pytest.raises(ModelFormatError, match=message):
        TokenSparseClassifier.load(saved)


def test_a_huge_config_is_refused_before_it_is_allocated(saved, monkeypatch):
    import transformers

    config = json.loads((saved / "backbone" / "config.json").read_text())
    (saved / "backbone" / "config.json").write_text(json.dumps(dict(config, hidden_size=4096)))
    resign(saved)
    devices = []
    real = transformers.AutoModel.from_config

    def spy(*args, **kwargs):
        devices.append(torch.get_default_device().type)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_config", spy)
    with pytest.raises(ModelFormatError, match="stored with shape .* the config gives"):
        TokenSparseClassifier.load(saved)
    assert devices == ["meta"]


def test_a_tokenizer_larger_than_the_embeddings_is_refused(saved):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(saved / "tokenizer")
    tokenizer.add_tokens([f"extra{i}" for i in range(10)])
    tokenizer.save_pretrained(saved / "tokenizer")
    resign(saved)
    with pytest.raises(ModelFormatError, match="tokens but the model's embedding matrix has"):
        TokenSparseClassifier.load(saved)


# The smaller items.

@pytest.mark.parametrize("label", [("a", 1), frozenset({"a"})])
def test_collections_as_labels_are_refused_with_the_fix(tiny_params, label):
    with pytest.raises(TypeError, match="a label must be one string, number or bool"):
        TokenSparseClassifier(**tiny_params).fit(["a", "b"], [label, "other"])


def test_a_column_vector_y_is_read_as_1d_with_a_warning(tiny_params, toy_data):
    texts, labels = toy_data
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = TokenSparseClassifier(**dict(tiny_params, max_epochs=1)).fit(
            texts, np.asarray(labels).reshape(-1, 1))
    assert clf.classes_.tolist() == ["card", "refund"]


def test_a_meta_device_is_refused_before_loading(tiny_params, toy_data, monkeypatch):
    import sklearn_tsft.classifier as classifier

    monkeypatch.setattr(classifier, "load_backbone", lambda *a: pytest.fail("loaded"))
    with pytest.raises(ValueError, match="device='meta' .* holds no data"):
        TokenSparseClassifier(**dict(tiny_params, device="meta")).fit(*toy_data)


def test_cli_output_into_a_closed_pipe_exits_quietly(saved, tmp_path):
    table = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["my card"] * 20000}).to_csv(table, index=False)
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    writer = subprocess.run(
        [sys.executable, "-c", "from sklearn_tsft.cli import console; console()", "predict",
         str(saved), str(table), "--quiet"], stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=300)
    reader.stdin.close()
    reader.wait()
    assert writer.stderr == "" and writer.returncode == 141


# 3. The CLI keeps every cell as written.

CELLS = "text,zip,id,price,amount,flag\nmy card,02134,00012,1.50,1e3,false\nrefund,0,7,2,3,TRUE\n"


def test_predict_writes_the_other_cells_back_as_written(saved, tmp_path, capsys):
    (tmp_path / "in.csv").write_text(CELLS)
    assert main(["predict", str(saved), str(tmp_path / "in.csv"), "--out",
                 str(tmp_path / "out.csv"), "--quiet"]) == 0
    written = (tmp_path / "out.csv").read_text().splitlines()
    assert [line.rsplit(",", 1)[0] for line in written] == CELLS.splitlines()
    tsv = CELLS.replace(",", "\t")
    (tmp_path / "in.tsv").write_text(tsv)
    assert main(["predict", str(saved), str(tmp_path / "in.tsv"), "--out",
                 str(tmp_path / "out.tsv"), "--quiet"]) == 0
    written = (tmp_path / "out.tsv").read_text().splitlines()
    assert [line.rsplit("\t", 1)[0] for line in written] == tsv.splitlines()


def test_predict_refuses_to_overwrite_its_input(saved, tmp_path, capsys):
    (tmp_path / "in.csv").write_text(CELLS)
    status = main(["predict", str(saved), str(tmp_path / "in.csv"), "--out",
                   str(tmp_path / "." / "in.csv"), "--quiet"])
    assert status == 2 and "is the input table" in capsys.readouterr().err
    assert (tmp_path / "in.csv").read_text() == CELLS


def test_fit_keeps_labels_that_differ_only_as_text(tiny_backbone, tmp_path):
    texts, labels = make_texts(6)
    codes = ["01" if label == "card" else "1" for label in labels]
    pd.DataFrame({"text": texts, "label": codes}).to_csv(tmp_path / "train.csv", index=False)
    assert main(["fit", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m"), "--model",
                 tiny_backbone, "--max-epochs", "1", "--device", "cpu", "--quiet"]) == 0
    assert TokenSparseClassifier.load(tmp_path / "m").classes_.tolist() == ["01", "1"]
    assert main(["fit", str(tmp_path / "train.csv"), "--out", str(tmp_path / "n"), "--model",
                 tiny_backbone, "--max-epochs", "1", "--device", "cpu", "--quiet",
                 "--label-type", "int"]) == 2  # 01 and 1 are one int: one class


def test_a_tokenizer_larger_than_the_embeddings_is_refused_at_fit(tmp_path, toy_data):
    from transformers import AutoTokenizer, BertConfig, BertModel

    from sklearn_tsft.backbone import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size - 10, hidden_size=32,
                        num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="30522 tokens but the model's embedding matrix has "
                                         "30512 rows"):
        TokenSparseClassifier(str(tmp_path), max_epochs=1, device="cpu").fit(*toy_data)
