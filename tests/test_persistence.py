"""save/load without pickle, export to transformers, and their error cases (tiny backbone)."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft import ModelFormatError
from sklearn_tsft.persistence import FORMAT_VERSION, file_manifest

from .helpers import make_texts


@pytest.fixture(scope="module")
def saved(fitted_tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved")
    fitted_tiny.save(path)
    return path


def test_load_gives_identical_probabilities_params_and_attributes(fitted_tiny, saved,
                                                                   toy_data):
    loaded = TokenSparseClassifier.load(saved)
    texts = toy_data[0]
    np.testing.assert_array_equal(loaded.predict_proba(texts), fitted_tiny.predict_proba(texts))
    # An absolute backbone path is saved by the directory's name (no machine path).
    assert loaded.get_params() == {**fitted_tiny.get_params(),
                                   "model": Path(fitted_tiny.model).name}
    np.testing.assert_array_equal(loaded.classes_, fitted_tiny.classes_)
    assert loaded.classes_.dtype == fitted_tiny.classes_.dtype
    assert loaded.task_tokens_ == fitted_tiny.task_tokens_
    assert loaded.selection_summary_ == fitted_tiny.selection_summary_
    assert loaded.selected_rows_.keys() == fitted_tiny.selected_rows_.keys()
    for name, rows in fitted_tiny.selected_rows_.items():
        np.testing.assert_array_equal(loaded.selected_rows_[name], rows)
    assert loaded.history_[-1, "train_loss"] == fitted_tiny.history_[-1, "train_loss"]
    assert loaded.n_trainable_params_ == fitted_tiny.n_trainable_params_


def test_saved_directory_holds_no_pickle_and_loading_unpickles_nothing(saved, monkeypatch):
    names = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()}
    assert {"tsft.json", "model.safetensors", "backbone/config.json",
            "tokenizer/tokenizer.json"} <= names
    assert not any(name.endswith((".pkl", ".bin", ".pt", ".joblib")) for name in names)

    def refuse(*args, **kwargs):
        raise AssertionError("load must not unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    TokenSparseClassifier.load(saved)


@pytest.mark.parametrize("labels", [
    np.array([3, 7]), np.array([True, False]), np.array(["a", "b"], dtype=object),
    np.array([1.0, 2.0]),
])
def test_label_types_survive_the_round_trip(tiny_params, tmp_path, labels):
    texts, names = make_texts(8)
    y = np.where(names == "card", labels[0], labels[1])
    clf = TokenSparseClassifier(strategy="head", **dict(tiny_params, max_epochs=1)).fit(texts, y)
    clf.save(tmp_path)
    loaded = TokenSparseClassifier.load(tmp_path)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.predict(texts), clf.predict(texts))


@pytest.mark.parametrize("strategy", ["lora", "prefix"])
def test_peft_strategies_round_trip(tiny_params, toy_data, tmp_path, strategy):
    pytest.importorskip("peft")
    clf = TokenSparseClassifier(strategy=strategy, **dict(tiny_params, max_epochs=2))
    clf.fit(*toy_data).save(tmp_path)
    loaded = TokenSparseClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(toy_data[0]), clf.predict_proba(toy_data[0]))


def test_save_needs_a_fitted_estimator(tiny_backbone, tmp_path):
    with pytest.raises(NotFittedError):
        TokenSparseClassifier(tiny_backbone).save(tmp_path)


def test_parameters_that_json_cannot_hold_are_named(fitted_tiny, tmp_path):
    clf = pickle.loads(pickle.dumps(fitted_tiny))
    clf.set_params(random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="random_state=RandomState.*cannot be saved as JSON"):
        clf.save(tmp_path)


def copy_of(saved, tmp_path):
    import shutil

    return shutil.copytree(saved, tmp_path / "copy")


def edit_metadata(path, change):
    metadata = json.loads((path / "tsft.json").read_text())
    change(metadata)
    (path / "tsft.json").write_text(json.dumps(metadata))


def test_not_a_directory(tmp_path):
    with pytest.raises(ModelFormatError, match="is not a directory written by save"):
        TokenSparseClassifier.load(tmp_path / "nothing")


def test_missing_file(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    (path / "model.safetensors").unlink()
    with pytest.raises(ModelFormatError, match="missing model.safetensors"):
        TokenSparseClassifier.load(path)


def test_corrupted_weights(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="model.safetensors is not the file this model"):
        TokenSparseClassifier.load(path)
    # Listed with its new checksum (tsft.json edited too), it is still refused.
    edit_metadata(path, lambda m: m["files"].update(
        {"model.safetensors": file_manifest(path)["model.safetensors"]}))
    with pytest.raises(ModelFormatError, match="corrupted or unreadable"):
        TokenSparseClassifier.load(path)


def test_corrupted_metadata(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    (path / "tsft.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="tsft.json is corrupted"):
        TokenSparseClassifier.load(path)


def test_newer_format_version(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    edit_metadata(path, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFormatError, match=f"format version {FORMAT_VERSION + 1}.*Upgrade"):
        TokenSparseClassifier.load(path)


def test_mismatched_shapes(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    # Three classes: the head's saved weights no longer fit.
    edit_metadata(path, lambda m: m["classes"]["values"].append("transfer"))
    with pytest.raises(ModelFormatError, match="does not match the architecture.*head"):
        TokenSparseClassifier.load(path)


def test_export_loads_in_a_transformers_pipeline_with_the_same_top_labels(
        fitted_tiny, tmp_path, toy_data):
    from transformers import AutoModelForSequenceClassification, pipeline

    fitted_tiny.export_pretrained(tmp_path)
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert model.config.id2label == {0: "card", 1: "refund"}
    assert model.config.label2id == {"card": 0, "refund": 1}
    texts = toy_data[0]
    outputs = pipeline("text-classification", model=str(tmp_path), device="cpu")(texts)
    assert [out["label"] for out in outputs] == list(fitted_tiny.predict(texts))
    np.testing.assert_allclose([out["score"] for out in outputs],
                               fitted_tiny.predict_proba(texts).max(axis=1), rtol=1e-4)


# Loads the export with transformers alone: sklearn_tsft cannot be imported.
WITHOUT_PACKAGE = """
import importlib.abc, importlib.util, json, sys
from pathlib import Path

# Off sys.path (and off the editable install's finder), then blocked outright.
sys.path[:] = [entry for entry in sys.path if not (Path(entry) / "sklearn_tsft").is_dir()]
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if "sklearn_tsft" not in getattr(finder, "__module__", "")]
assert importlib.util.find_spec("sklearn_tsft") is None

class NoSklearnTsft(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "sklearn_tsft":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, NoSklearnTsft())
from transformers import AutoModelForSequenceClassification, pipeline

path, texts = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)
outputs = pipeline("text-classification", model=path, trust_remote_code=True,
                   device="cpu")(texts)
print(json.dumps({"labels": [out["label"] for out in outputs],
                  "scores": [out["score"] for out in outputs],
                  "id2label": model.config.id2label,
                  "imported": sorted(m for m in sys.modules if m.startswith("sklearn_tsft"))}))
"""


def test_export_loads_where_the_package_cannot_be_imported(fitted_tiny, tmp_path, toy_data):
    texts = toy_data[0][:6]
    fitted_tiny.export_pretrained(tmp_path / "export")
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PACKAGE, str(tmp_path / "export"), json.dumps(texts)],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    assert result["id2label"] == {"0": "card", "1": "refund"}
    assert result["labels"] == list(fitted_tiny.predict(texts))
    np.testing.assert_allclose(result["scores"], fitted_tiny.predict_proba(texts).max(axis=1),
                               rtol=1e-4)


def test_no_saved_or_exported_file_holds_the_machine_path_of_the_backbone(
        fitted_tiny, tmp_path):
    fitted_tiny.save(tmp_path / "saved")
    fitted_tiny.export_pretrained(tmp_path / "export")
    backbone = str(Path(fitted_tiny.model).resolve())
    texts = {file: file.read_text() for file in tmp_path.rglob("*")
             if file.suffix in (".json", ".md", ".py", ".txt")}
    assert texts  # tsft.json, config.json, tokenizer files
    assert [file for file, text in texts.items() if backbone in text] == []
    exported = json.loads((tmp_path / "export" / "config.json").read_text())
    assert "id2label" not in exported["encoder"]  # the encoder's unused LABEL_0 / LABEL_1
    saved = json.loads((tmp_path / "saved" / "tsft.json").read_text())
    assert saved["backbone_name"] == Path(backbone).name
    assert len(saved["backbone_config"]) == 12


def test_prefix_models_cannot_be_exported(tiny_params, toy_data, tmp_path):
    pytest.importorskip("peft")
    clf = TokenSparseClassifier(strategy="prefix", **dict(tiny_params, max_epochs=1))
    with pytest.raises(ValueError, match="strategy='prefix'.*use save\\(\\)/load\\(\\)"):
        clf.fit(*toy_data).export_pretrained(tmp_path)


def test_metadata_missing_an_entry(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    edit_metadata(path, lambda m: m.pop("temperature"))
    with pytest.raises(ModelFormatError, match="lacks the entry 'temperature'.*Save the model again"):
        TokenSparseClassifier.load(path)


def test_missing_tokenizer_file_is_refused(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    (path / "tokenizer" / "tokenizer.json").unlink()
    with pytest.raises(ModelFormatError, match="tokenizer.json is missing"):
        TokenSparseClassifier.load(path)


def test_tsft_json_lists_every_file_with_size_and_checksum(saved):
    listed = json.loads((saved / "tsft.json").read_text())["files"]
    on_disk = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {"tsft.json"}
    assert listed == file_manifest(saved)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(temperature=-1.0), "temperature -1.0 is not a positive"),
    (lambda m: m.update(temperature=0), "temperature 0 is not a positive"),
    (lambda m: m["params"].update(surprise=1), "unexpected keyword argument 'surprise'"),
    (lambda m: m["params"].update(sparsity=5.0), "sparsity"),
])
def test_bad_values_in_tsft_json_are_refused(saved, tmp_path, change, message):
    path = copy_of(saved, tmp_path)
    edit_metadata(path, change)
    with pytest.raises(ModelFormatError, match=message):
        TokenSparseClassifier.load(path)


def test_save_refuses_to_replace_what_it_did_not_write(fitted_tiny, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="non-empty directory that this writer did not write"):
        fitted_tiny.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="is a file"):
        fitted_tiny.save(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="is a file"):
        fitted_tiny.export_pretrained(tmp_path / "notes.txt")


def test_saved_files_get_the_mode_of_any_new_file(saved, tmp_path):
    probe = tmp_path / "probe"
    probe.touch()
    modes = {p.relative_to(saved).as_posix(): p.stat().st_mode & 0o777
             for p in saved.rglob("*") if p.is_file()}
    assert set(modes.values()) == {probe.stat().st_mode & 0o777}, modes


def test_a_save_replaces_the_whole_directory(fitted_tiny, tmp_path):
    pytest.importorskip("onnxruntime")
    fitted_tiny.export_onnx(tmp_path / "model")
    fitted_tiny.save(tmp_path / "model")
    assert not (tmp_path / "model" / "model.onnx").exists()
    with pytest.raises(ModelFormatError, match="no model.onnx written with this model"):
        TokenSparseClassifier.load(tmp_path / "model", backend="onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing left beside it


@pytest.mark.parametrize("objective", ["contrastive", "cross_entropy"])
def test_the_model_card_names_the_validation_loss_after_the_objective(objective, tiny_params,
                                                                      toy_data, tmp_path):
    clf = TokenSparseClassifier(**tiny_params, objective=objective, validation_fraction=0.25)
    clf.fit(*toy_data).save(tmp_path / "saved")
    card = (tmp_path / "saved" / "README.md").read_text()
    loss = {"contrastive": "contrastive", "cross_entropy": "cross-entropy"}[objective]
    assert f"| validation {loss} loss (last epoch) | {clf.history_[-1]['valid_loss']:.4f} |" in card
    # Accuracy is measured through the head, which a contrastive fit trains only at the end.
    assert ("| validation accuracy (last epoch) |" in card) == (objective == "cross_entropy")


def test_save_and_export_write_a_model_card_that_names_the_labels(fitted_tiny, tmp_path,
                                                                   toy_data):
    fitted_tiny.save(tmp_path / "saved")
    fitted_tiny.export_pretrained(tmp_path / "export")
    saved = (tmp_path / "saved" / "README.md").read_text()
    exported = (tmp_path / "export" / "README.md").read_text()
    for card in (saved, exported):
        assert card.startswith("---\n") and "pipeline_tag: text-classification" in card
        assert "`card`, `refund`" in card
        assert "| training texts | 40 |" in card
        assert f"| backbone | `{Path(fitted_tiny.model).name}` |" in card
    assert 'TokenSparseClassifier.load("saved")' in saved
    assert 'model="export", trust_remote_code=True' in exported
    # The user may edit the card: the model still loads, and a new save
    # refuses to overwrite the edit.
    (tmp_path / "saved" / "README.md").write_text(saved + "\nTrained on our tickets.\n")
    texts = toy_data[0]
    np.testing.assert_array_equal(TokenSparseClassifier.load(tmp_path / "saved").predict(texts),
                                  fitted_tiny.predict(texts))
    with pytest.raises(ValueError, match="README.md \\(changed since it was written\\)"):
        fitted_tiny.save(tmp_path / "saved")


def test_fit_sets_exactly_the_declared_fitted_attributes(fitted_tiny):
    from sklearn_tsft.fitted_state import FITTED_ATTRIBUTES
    from sklearn_tsft.strategies import available_strategies

    strategy = available_strategies()[fitted_tiny.strategy]
    own = set(strategy.attributes_from_json(strategy.attributes_to_json(fitted_tiny)))
    fitted = {name for name in vars(fitted_tiny) if name.endswith("_") and not name.startswith("_")}
    assert fitted == set(FITTED_ATTRIBUTES) | own


def test_the_docstring_describes_every_fitted_attribute():
    docscrape = pytest.importorskip("numpydoc.docscrape")
    from sklearn_tsft.fitted_state import FITTED_ATTRIBUTES

    documented = {name.strip() for item in
                  docscrape.ClassDoc(TokenSparseClassifier)["Attributes"]
                  for name in item.name.split(",")}
    assert set(FITTED_ATTRIBUTES) - documented == set()


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_a_tsft_json_of_the_previous_release_loads_and_predicts_the_same(tmp_path):
    # The tsft.json that save wrote for this fit before the fitted state
    # moved to fitted_state.py; weights are refitted here, never committed.
    from .fixtures.micro_model import TEXTS, fit_micro_model

    clf = fit_micro_model()
    clf.save(tmp_path / "model")
    written = json.loads((tmp_path / "model" / "tsft.json").read_text())
    old = json.loads((FIXTURES / "tsft-0.1.0.json").read_text())
    (tmp_path / "model" / "tsft.json").write_text(json.dumps({**old, "files": written["files"]}))
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    assert loaded.predict(TEXTS).tolist() == clf.predict(TEXTS).tolist()
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS), rtol=1e-6)
    # The file is of this very fit (a CPU fit with an int seed repeats).
    assert clf.history_[-1, "train_loss"] == pytest.approx(old["history"][-1]["train_loss"],
                                                           rel=1e-5)


def test_a_backbone_given_as_a_path_object_is_saved_by_its_name(fitted_tiny, tmp_path):
    model = fitted_tiny.model
    fitted_tiny.set_params(model=Path(model))
    try:
        fitted_tiny.save(tmp_path / "saved")
    finally:
        fitted_tiny.set_params(model=model)
    assert TokenSparseClassifier.load(tmp_path / "saved").model == Path(model).name
