"""Labelled sentences: one file per class (the real MR files), label-prefixed lines, Kim's standardisation, errors."""

import gzip
import os

import pytest
import tensorflow as tf

from tfkit import data
from tfkit.errors import DataError

def mr_slice(folder, rows=200):
    """The first rows of the real MR files (Latin-1 bytes included), as plain files."""
    paths = {}
    for label in ("neg", "pos"):
        with gzip.open(os.path.join(os.path.dirname(__file__), "..", "..", "data", "mr", f"rt-polarity.{label}.gz")) as f:
            lines = f.read().splitlines(keepends=True)[:rows]
        path = os.path.join(folder, f"rt-polarity.{label}")
        with open(path, "wb") as out:
            out.writelines(lines)
        paths[label] = path
    return paths


def sentences_and_labels(dataset, key="sentence"):
    texts, labels = [], []
    for features, label in dataset:
        texts += [s.decode("utf-8") for s in features[key].numpy()]
        labels += label.numpy().tolist()
    return texts, labels


def test_one_file_per_class_reads_every_line_with_its_label(tmp_path):
    paths = mr_slice(str(tmp_path))
    texts, labels = sentences_and_labels(data.read_text(batch_size=64, class_files=paths, encoding="latin-1"))
    assert len(texts) == 400 and labels == [0] * 200 + [1] * 200
    expected = open(paths["pos"], "rb").read().decode("latin-1").splitlines()[0].strip()
    assert texts[200] == expected
    # Latin-1 bytes arrive as UTF-8 text, not as replacement characters.
    assert all("\ufffd" not in text for text in texts)
    shuffled = sentences_and_labels(data.read_text(batch_size=64, class_files=paths, encoding="latin-1", shuffle=True, seed=1))
    assert sorted(zip(*shuffled)) == sorted(zip(texts, labels)) and shuffled[0] != texts


def test_labelled_lines_with_tab_or_space_and_a_bad_label_named(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("positive\ta gorgeous , witty film\nnegative a dull mess\n\npositive\tfun\n")
    texts, labels = sentences_and_labels(data.read_text(str(path), 2, label_vocabulary=["negative", "positive"]))
    assert texts == ["a gorgeous , witty film", "a dull mess", "fun"] and labels == [1, 0, 1]
    path.write_text("positive\tfine\nneutral\tmeh\n")
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        list(data.read_text(str(path), 2, label_vocabulary=["negative", "positive"]))
    assert str(data.explain(raised.value)) == (
        f"{path}, line 2: label 'neutral' is not in label_vocabulary ['negative', 'positive']")
    with pytest.raises(DataError, match="needs label_vocabulary"):
        data.read_text(str(path))
    with pytest.raises(DataError, match="not both"):
        data.read_text(str(path), class_files={"a": str(path)})


def test_kim_standardization_and_a_deterministic_holdout(tmp_path):
    assert data.standardize_kim(["The film's \"charm\" (mostly) can't last!!"]).numpy()[0].decode() == (
        "the film 's charm ( mostly ) ca n't last ! !")
    paths = mr_slice(str(tmp_path))
    texts, _ = sentences_and_labels(data.read_text(batch_size=64, class_files=paths, encoding="latin-1", standardize="kim"))
    assert all(text == text.lower() and '"' not in text for text in texts)
    validation = sentences_and_labels(data.read_text(batch_size=64, class_files=paths, holdout=("validation", 0.1)))[0]
    train = sentences_and_labels(data.read_text(batch_size=64, class_files=paths, holdout=("train", 0.1)))[0]
    assert len(validation) + len(train) == 400 and 20 <= len(validation) <= 60
    assert validation == sentences_and_labels(data.read_text(batch_size=7, class_files=paths, holdout=("validation", 0.1)))[0]
