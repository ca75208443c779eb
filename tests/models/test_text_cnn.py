"""TextCNN: Kim's architecture, embedding modes from pretrained vectors, max-norm, raw-sentence export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfkit.data import write_word_vectors
from tfkit.errors import TfkitError
from tfkit.features import TextColumn
from tfkit.models import ResNet, TextCNN, Word2Vec

SENTENCES = np.array(["a gripping , moving film", "dull and lifeless", "moving", "a lifeless , dull film",
                      "gripping from start to end", "the end cannot come soon enough"], dtype=object)
LABELS = np.array([1, 0, 1, 0, 1, 0])


def adapted(**kwargs):
    model = TextCNN(TextColumn("sentence", standardize="kim"), label_vocabulary=["negative", "positive"], **kwargs)
    model.adapt([{"sentence": SENTENCES}])
    return model


def test_kim_architecture_and_parameter_count():
    model = adapted()
    model.build()
    vocabulary_rows = len(model.text.vocabulary) + 2
    convolutions = sum(h * 300 * 100 + 100 for h in (3, 4, 5))
    assert model.word_vectors.shape == (vocabulary_rows, 300)
    assert model.count_params() == vocabulary_rows * 300 + convolutions + 300 * 2 + 2
    assert model.dropout_layer.rate == 0.5 and model.classifier.kernel_constraint.max_value == 3.0
    # CNN-rand's vectors are U[-0.25, 0.25]; padding stays zero whatever its row holds.
    assert np.abs(model.word_vectors.numpy()).max() <= 0.25
    assert not np.any(model.embed({"sentence": np.array(["moving"])}).numpy()[0, :4])


def test_modes_start_from_the_vectors_and_train_what_they_should(tmp_path):
    path = str(tmp_path / "vectors.txt")
    known = {"gripping": [1.0, 0.0, 0.5, 0.5], "dull": [0.0, 1.0, -0.5, 0.5], "unrelated": [9.0, 9.0, 9.0, 9.0]}
    write_word_vectors(path, list(known), np.array(list(known.values())))
    for mode in ("static", "non_static", "multichannel"):
        keras.utils.set_random_seed(0)
        model = adapted(embedding_mode=mode, vectors=path, num_filters=4)
        model.build()
        assert model.pretrained_coverage == pytest.approx(2 / len(model.text.vocabulary))
        tables = [t for t in (getattr(model, "static_vectors", None), getattr(model, "word_vectors", None)) if t is not None]
        assert len(tables) == (2 if mode == "multichannel" else 1)
        for table in tables:
            rows = table.numpy()
            assert rows.shape[1] == 4
            np.testing.assert_array_equal(rows[model.text.vocabulary.index("gripping") + 2], known["gripping"])
            others = [i + 2 for i, w in enumerate(model.text.vocabulary) if w not in known]
            assert np.abs(rows[others]).max() <= 0.25  # Kim: words without a vector get U[-0.25, 0.25]
        before = [t.numpy().copy() for t in tables]
        model.compile(optimizer=keras.optimizers.Adam(0.05))
        model.fit({"sentence": SENTENCES}, LABELS, epochs=2, verbose=0)
        changed = [not np.array_equal(b, t.numpy()) for b, t in zip(before, tables)]
        assert changed == {"static": [False], "non_static": [True], "multichannel": [False, True]}[mode]


def test_vectors_from_a_word2vec_model_and_errors(tmp_path):
    keras.utils.set_random_seed(0)
    word2vec = Word2Vec(dimension=5, min_count=1, standardize="kim")
    word2vec.fit(list(SENTENCES) * 20, epochs=1, verbose=0)
    model = adapted(embedding_mode="non_static", vectors=word2vec, num_filters=3)
    model.build()
    assert model.pretrained_coverage == 1.0
    words, vectors = word2vec.word_vectors()
    np.testing.assert_allclose(model.word_vectors.numpy()[model.text.vocabulary.index(words[3]) + 2], vectors[3])
    assert model.get_config()["vectors"] is None  # the weights carry them

    with pytest.raises(TfkitError, match="needs vectors"):
        adapted(embedding_mode="static").build()
    with pytest.raises(TfkitError, match="learns its vectors from scratch"):
        TextCNN("sentence", vectors=str(tmp_path / "v.txt"))
    with pytest.raises(TfkitError, match="embedding_mode must be one of"):
        TextCNN("sentence", embedding_mode="frozen")
    write_word_vectors(str(tmp_path / "v.txt"), ["film"], np.ones((1, 4)))
    with pytest.raises(TfkitError, match="embedding_dimension=300 but the vectors are 4 wide"):
        adapted(embedding_mode="static", vectors=str(tmp_path / "v.txt"), embedding_dimension=300).build()


def test_max_norm_holds_after_every_step():
    keras.utils.set_random_seed(0)
    model = adapted(num_filters=8, max_norm=0.5)
    model.compile(optimizer=keras.optimizers.SGD(10.0))
    model.fit({"sentence": SENTENCES}, LABELS, epochs=3, batch_size=2, verbose=0)
    norms = np.linalg.norm(model.classifier.kernel.numpy(), axis=0)
    assert norms.max() <= 0.5 + 1e-5 and norms.max() > 0.4


def test_ids_encoded_in_tf_data_give_the_same_predictions():
    keras.utils.set_random_seed(0)
    model = adapted(num_filters=4)
    model.compile()
    raw = model.predict({"sentence": SENTENCES}, verbose=0)["probabilities"]
    ids = tf.data.Dataset.from_tensor_slices({"sentence": SENTENCES.astype(str)}).batch(3).map(
        lambda features: {"sentence": model.text.encode(features["sentence"])})
    np.testing.assert_allclose(model.predict(ids, verbose=0)["probabilities"], raw, rtol=1e-5)


def test_export_takes_raw_sentences(tmp_path):
    keras.utils.set_random_seed(0)
    model = adapted(num_filters=4)
    model.compile()
    model.fit({"sentence": SENTENCES}, LABELS, epochs=1, verbose=0)
    serving = tf.saved_model.load(model.export(str(tmp_path / "export"))).signatures["serving_default"]
    assert serving.structured_input_signature[1]["sentence"].dtype == tf.string
    sentences = ["A GRIPPING film!", "dull , dull", "words it never saw"]
    served = serving(sentence=tf.constant(sentences))
    predicted = model.predict({"sentence": np.array(sentences, dtype=object)}, verbose=0)
    assert {"probabilities", "class_ids", "classes"} <= set(served)
    np.testing.assert_allclose(served["probabilities"].numpy(), predicted["probabilities"], atol=1e-6)
    assert [c.decode() for c in served["classes"].numpy().ravel()] == [c.decode() for c in predicted["classes"].ravel()]


def test_the_number_of_classes_comes_from_the_labels():
    labels = ["anger", "fear", "joy", "love", "sadness", "surprise"]
    assert TextCNN(label_vocabulary=labels).head.units == 6 and TextCNN().head.units == 2
    assert ResNet(depth=8, label_vocabulary=labels[:3]).head.units == 3 and ResNet(depth=8).head.units == 10
    rebuilt = TextCNN.from_config(TextCNN(label_vocabulary=labels).get_config())
    assert rebuilt.head.units == 6 and rebuilt.head.label_vocabulary == labels
    for model in (TextCNN, lambda **kwargs: ResNet(depth=8, **kwargs)):
        with pytest.raises(TfkitError, match="label_vocabulary has 6 labels but num_classes=2: leave num_classes out"):
            model(num_classes=2, label_vocabulary=labels)
