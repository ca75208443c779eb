"""TextCNN: Kim (2014)'s convolutional network for sentence classification.

Word vectors of a sentence, convolutions of several widths (3, 4 and 5 words,
100 feature maps each) with ReLU, max-over-time pooling, dropout and a
softmax layer whose weight vectors are held to an L2 norm of at most 3.
"""

import keras
import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features import TextColumn, deserialize, serialize
from tfkit.layers.lookup import creating_tables, gather_rows
from tfkit.layers.transform import ColumnTransform
from tfkit.models.base import Model

EMBEDDING_MODES = ("rand", "static", "non_static", "multichannel")

# Kim's code draws the vectors of words without a pretrained vector (and every vector in CNN-rand)
# from U[-0.25, 0.25], about the spread of the pretrained ones.
RANDOM_VECTOR_RANGE = 0.25


@keras.saving.register_keras_serializable(package="tfkit")
class TextCNN(Model):
    """Kim's text CNN over raw sentences.

    Args:
        text: The :class:`~tfkit.features.TextColumn` of the sentences, or the
            name of the feature (a column with Kim's standardisation is made).
        embedding_mode: ``"rand"`` (vectors learned from scratch),
            ``"static"`` (pretrained vectors, kept fixed), ``"non_static"``
            (pretrained vectors, fine-tuned) or ``"multichannel"`` (a fixed
            and a fine-tuned copy; each filter sees both and adds them).
        vectors: Pretrained vectors for the non-``rand`` modes: a word2vec
            file (text or binary, see :func:`tfkit.data.read_word_vectors`)
            or a trained :class:`~tfkit.models.Word2Vec`. Words of the
            vocabulary without a vector get random ones.
        embedding_dimension: Width of the word vectors in ``rand`` mode (300
            as in the paper); the pretrained vectors' width otherwise.
        filter_sizes: Widths of the convolutions, in words.
        num_filters: Feature maps per width.
        dropout: Dropout rate on the pooled features.
        max_norm: Largest L2 norm of each class's weight vector in the output
            layer (rescaled after every step), or None.
        num_classes: Number of classes: by default the labels of ``label_vocabulary``, or 2
            without one. A number that contradicts ``label_vocabulary`` is an error.
        label_vocabulary: Class names in class-id order.

    The default optimizer is Adam (learning rate 0.001): on MR it reaches
    the paper's accuracy in 3 epochs, where the paper's Adadelta needs many
    more (0.74 after 6 epochs in one fold).

    Example:

    >>> import numpy as np
    >>> from tfkit.models import TextCNN
    >>> sentences = np.array(["a gripping , moving film", "dull and lifeless", "moving", "a lifeless film"])
    >>> model = TextCNN("sentence", embedding_dimension=8, num_filters=4, label_vocabulary=["neg", "pos"])
    >>> model.adapt([{"sentence": sentences}])
    >>> model.compile()
    >>> history = model.fit({"sentence": sentences}, np.array([1, 0, 1, 0]), epochs=2, verbose=0)
    >>> model.predict({"sentence": np.array(["gripping film"])}, verbose=0)["probabilities"].shape
    (1, 2)
    """

    def __init__(
        self,
        text="sentence",
        embedding_mode="rand",
        vectors=None,
        embedding_dimension=None,
        filter_sizes=(3, 4, 5),
        num_filters=100,
        dropout=0.5,
        max_norm=3.0,
        num_classes=None,
        label_vocabulary=None,
        head="multiclass",
        name="text_cnn",
        **kwargs,
    ):
        if num_classes is None and label_vocabulary is None:
            num_classes = 2
        super().__init__(head=head, num_classes=num_classes, label_vocabulary=label_vocabulary, name=name, **kwargs)
        if isinstance(text, str):
            text = TextColumn(text, standardize="kim")
        text = deserialize(text)
        if not isinstance(text, TextColumn):
            raise TfkitError(f"TextCNN reads a TextColumn (or a feature name). Received: text={text!r}")
        if embedding_mode not in EMBEDDING_MODES:
            raise TfkitError(f"TextCNN: embedding_mode must be one of {EMBEDDING_MODES}. Received: embedding_mode={embedding_mode!r}")
        if embedding_mode == "rand" and vectors is not None:
            raise TfkitError("TextCNN: embedding_mode='rand' learns its vectors from scratch; pass vectors with "
                             "'static', 'non_static' or 'multichannel'.")
        filter_sizes = list(filter_sizes)
        if not filter_sizes or not all(isinstance(size, int) and size > 0 for size in filter_sizes):
            raise TfkitError(f"TextCNN: filter_sizes must be positive ints. Received: filter_sizes={filter_sizes!r}")
        for argument, value in (("num_filters", num_filters), ("embedding_dimension", embedding_dimension)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise TfkitError(f"TextCNN: {argument} must be a positive int. Received: {argument}={value!r}")
        if not 0.0 <= dropout < 1.0:
            raise TfkitError(f"TextCNN: dropout must be in [0, 1). Received: dropout={dropout!r}")
        if max_norm is not None and max_norm <= 0:
            raise TfkitError(f"TextCNN: max_norm must be positive or None. Received: max_norm={max_norm!r}")
        self.text = text
        self.embedding_mode = embedding_mode
        # A Word2Vec model's vectors are read now: the model is not part of this one.
        self.vectors = vectors if vectors is None or isinstance(vectors, str) else _PretrainedVectors(vectors)
        self.embedding_dimension = embedding_dimension
        self.filter_sizes = filter_sizes
        self.num_filters = num_filters
        self.dropout = dropout
        self.max_norm = max_norm
        # A model restored from its config (then its weights) needs no vectors to start from.
        self._restoring = False

        self._transform = ColumnTransform([text])
        self.convolutions = [
            keras.layers.Conv1D(num_filters, size, activation="relu", name=f"convolution_{size}") for size in filter_sizes
        ]
        self.pool = keras.layers.GlobalMaxPooling1D(name="max_over_time")
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        constraint = None if max_norm is None else keras.constraints.MaxNorm(max_norm, axis=0)
        # Under a mixed-precision policy the logits (and so the loss) stay float32.
        logits_dtype = "float32" if keras.config.dtype_policy().name.startswith("mixed") else None
        self.classifier = keras.layers.Dense(self.head.units, kernel_constraint=constraint, dtype=logits_dtype, name="logits")

    def feature_columns(self):
        return [self.text]

    def column_transform(self):
        return self._transform

    # -- building ----------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:
            return
        self.preprocessing = self._transform.make_layers()
        initial = self._initial_vectors()
        dimension = initial.shape[1]
        shape = initial.shape
        with creating_tables():
            if self.embedding_mode in ("static", "multichannel"):
                self.static_vectors = self.add_weight(name="static_vectors", shape=shape, trainable=False,
                                                      initializer=keras.initializers.Constant(initial))
            if self.embedding_mode in ("rand", "non_static", "multichannel"):
                self.word_vectors = self.add_weight(name="word_vectors", shape=shape,
                                                    initializer=keras.initializers.Constant(initial))
        for convolution in self.convolutions:
            convolution.build((None, None, dimension))
        self.classifier.build((None, self.num_filters * len(self.filter_sizes)))
        self.built = True

    def _initial_vectors(self):
        """The ``[num_buckets, dimension]`` starting vectors: pretrained where known, U[-0.25, 0.25] elsewhere."""
        num_buckets = self.text.num_buckets
        # numpy's global generator: keras.utils.set_random_seed makes it repeatable.
        rng = np.random
        if self.embedding_mode == "rand" or self.vectors is None:
            if self.embedding_mode != "rand" and not self._restoring:
                raise TfkitError(f"TextCNN: embedding_mode={self.embedding_mode!r} needs vectors (a word2vec file or a "
                                 "Word2Vec model).")
            dimension = self.embedding_dimension or 300
            return rng.uniform(-RANDOM_VECTOR_RANGE, RANDOM_VECTOR_RANGE, (num_buckets, dimension)).astype("float32")
        words, vectors = self._pretrained()
        if self.embedding_dimension is not None and self.embedding_dimension != vectors.shape[1]:
            raise TfkitError(f"TextCNN: embedding_dimension={self.embedding_dimension} but the vectors are "
                             f"{vectors.shape[1]} wide. Leave embedding_dimension out to use the vectors' width.")
        initial = rng.uniform(-RANDOM_VECTOR_RANGE, RANDOM_VECTOR_RANGE, (num_buckets, vectors.shape[1])).astype("float32")
        row = {word: i for i, word in enumerate(words)}
        found = [(i, row[word]) for i, word in enumerate(self.text.vocabulary, start=2) if word in row]
        if found:
            ids, rows = np.array(found).T
            initial[ids] = vectors[rows]
        self.pretrained_coverage = len(found) / len(self.text.vocabulary)
        return initial

    def _pretrained(self):
        if isinstance(self.vectors, str):
            from tfkit.data import read_word_vectors

            return read_word_vectors(self.vectors, vocabulary=self.text.vocabulary)
        return self.vectors.words, self.vectors.matrix

    # -- the network -------------------------------------------------------------
    def embed(self, features):
        """The ``[batch, length, dimension]`` word vectors of raw sentences (or their ids), padding zero."""
        ids = self._transform(features, self.preprocessing)[self.text.name].ids
        # Kim pads every sentence with (widest filter - 1) zero vectors on both sides: short sentences still convolve.
        border = max(self.filter_sizes) - 1
        ids = tf.pad(ids, [[0, 0], [border, border]])
        vectors = None
        for table in (getattr(self, "static_vectors", None), getattr(self, "word_vectors", None)):
            if table is not None:
                looked_up = gather_rows(table.value, ids)
                # Each filter applied to both channels and summed is the filter applied to their sum.
                vectors = looked_up if vectors is None else vectors + looked_up
        return vectors * tf.cast(ids != 0, vectors.dtype)[..., None]

    def call(self, features, training=False):
        vectors = self.embed(features)
        pooled = [self.pool(convolution(vectors)) for convolution in self.convolutions]
        features = tf.concat(pooled, axis=-1) if len(pooled) > 1 else pooled[0]
        return self.classifier(self.dropout_layer(features, training=training))

    def default_optimizer(self):
        """Adam (0.001); the paper's Adadelta is ``{name: adadelta, learning_rate: 1.0, rho: 0.95, epsilon: 1e-6}``."""
        return keras.optimizers.Adam(learning_rate=0.001)

    def get_config(self):
        config = super().get_config()
        config.update(
            text=serialize(self.text),
            embedding_mode=self.embedding_mode,
            # A Word2Vec given in memory is not part of the config: the trained weights carry its vectors.
            vectors=self.vectors if isinstance(self.vectors, str) else None,
            embedding_dimension=self.embedding_dimension,
            filter_sizes=self.filter_sizes,
            num_filters=self.num_filters,
            dropout=self.dropout,
            max_norm=self.max_norm,
        )
        return config

    @classmethod
    def from_config(cls, config):
        model = cls(**config)
        model._restoring = True
        return model


class _PretrainedVectors:
    """The words and vectors of a trained Word2Vec model (or anything with ``word_vectors()``)."""

    def __init__(self, source):
        if not hasattr(source, "word_vectors"):
            raise TfkitError(f"TextCNN: vectors must be a word2vec file or a Word2Vec model. Received: vectors={source!r}")
        self.words, self.matrix = source.word_vectors()
