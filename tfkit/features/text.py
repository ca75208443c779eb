"""TextColumn: a sentence as a sequence of token ids, with a vocabulary learned by ``adapt``."""

import collections

import keras
import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import Ids, RawInput, SparseColumn, register
from tfkit.features.categorical import merge_counts, unique_counts

# Kim (2014)'s clean_str: keep letters, digits and a little punctuation, split clitics and punctuation
# into tokens, squeeze spaces, lower-case.
_KIM_RULES = [
    (r"[^A-Za-z0-9(),!?'`]", " "),
    (r"'s", " 's"), (r"'ve", " 've"), (r"n't", " n't"), (r"'re", " 're"), (r"'d", " 'd"), (r"'ll", " 'll"),
    (r",", " , "), (r"!", " ! "), (r"\(", " ( "), (r"\)", " ) "), (r"\?", " ? "),
    (r"\s{2,}", " "),
]

STANDARDIZATIONS = ("kim", "lower", "lower_and_strip_punctuation", None)

# Ids of the token-id layout (Keras' TextVectorization's): 0 pads, 1 is out of vocabulary.
PADDING_ID, OOV_ID, FIRST_WORD_ID = 0, 1, 2


def standardize_kim(sentences):
    """Kim (2014)'s text standardisation, as TensorFlow ops (so it runs in tf.data and in exported models).

    Example:

    >>> from tfkit.features.text import standardize_kim
    >>> standardize_kim(["It isn't bad, (really)!"]).numpy()[0].decode()
    "it is n't bad , ( really ) !"
    """
    sentences = tf.convert_to_tensor(sentences, tf.string)
    for pattern, replacement in _KIM_RULES:
        sentences = tf.strings.regex_replace(sentences, pattern, replacement)
    return tf.strings.lower(tf.strings.strip(sentences))


def standardize(sentences, how):
    """Sentences standardised ``how`` (one of ``STANDARDIZATIONS``)."""
    sentences = tf.convert_to_tensor(sentences, tf.string)
    if how == "kim":
        return standardize_kim(sentences)
    if how == "lower":
        return tf.strings.lower(sentences, encoding="utf-8")
    if how == "lower_and_strip_punctuation":
        return tf.strings.regex_replace(tf.strings.lower(sentences, encoding="utf-8"), r"[!\"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~']", "")
    return sentences


@register("text")
class TextColumn(SparseColumn):
    """Token ids of a text feature: standardised, split on whitespace, looked up, padded or truncated.

    Ids follow Keras' ``TextVectorization``: 0 pads, 1 stands for every word
    outside the vocabulary, the vocabulary follows from 2 (most frequent
    first). As a sparse column its :class:`~tfkit.features.Ids` weigh padding
    0, so an :class:`~tfkit.features.EmbeddingColumn` over it is a bag of
    words; :class:`~tfkit.models.TextCNN` reads the sequence itself.

    The encoding is TensorFlow ops: it runs inside the model (exports take raw
    sentences) or, with :meth:`encode`, in a ``tf.data`` pipeline; a model
    given ids (integers) instead of sentences uses them as they are.

    Args:
        name: Column name, also the raw feature key unless ``key`` is given.
        vocabulary: Words in id order (from id 2). Learned by ``adapt`` when
            not given.
        max_tokens: When learning, keep at most this many words.
        min_frequency: When learning, keep words seen at least this often.
        sequence_length: Pad or truncate every sentence to this many tokens;
            None pads each batch to its longest sentence.
        standardize: ``"lower_and_strip_punctuation"`` (Keras' default),
            ``"lower"``, ``"kim"`` (Kim 2014's ``clean_str``) or None.
        key: Raw feature to read. Defaults to ``name``.

    Example:

    >>> import numpy as np
    >>> from tfkit.features import TextColumn, adapt
    >>> text = TextColumn("review", sequence_length=5, standardize="kim")
    >>> adapt([text], [{"review": np.array(["A fine film.", "A dull film, isn't it?"])}])
    >>> text.vocabulary[:3], text.num_buckets
    (['a', 'film', ','], 11)
    >>> text.encode(["a film, a film, a film"]).numpy().tolist()
    [[2, 3, 4, 2, 3]]
    """

    def __init__(self, name, vocabulary=None, max_tokens=None, min_frequency=1, sequence_length=None,
                 standardize="lower_and_strip_punctuation", key=None):
        super().__init__(name)
        for argument, value in (("max_tokens", max_tokens), ("sequence_length", sequence_length)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise TfkitError(f"TextColumn {name!r}: {argument} must be a positive int or None. Received: {argument}={value!r}")
        if not isinstance(min_frequency, int) or min_frequency < 1:
            raise TfkitError(f"TextColumn {name!r}: min_frequency must be a positive int. Received: min_frequency={min_frequency!r}")
        if standardize not in STANDARDIZATIONS:
            raise TfkitError(f"TextColumn {name!r}: standardize must be one of {STANDARDIZATIONS}. Received: standardize={standardize!r}")
        self.vocabulary = None if vocabulary is None else self._check_vocabulary(vocabulary)
        self.max_tokens = max_tokens
        self.min_frequency = min_frequency
        self.sequence_length = sequence_length
        self.standardize = standardize
        self.key = key or name
        self._encoder = None

    def _check_vocabulary(self, vocabulary):
        vocabulary = [str(word) for word in vocabulary]
        problems = [word for word in vocabulary if not word or any(c.isspace() for c in word)]
        if problems:
            raise TfkitError(f"TextColumn {self.name!r}: vocabulary words must be non-empty and hold no spaces; "
                             f"received {problems[0]!r}.")
        repeated = [word for word, n in collections.Counter(vocabulary).items() if n > 1]
        if repeated:
            raise TfkitError(f"TextColumn {self.name!r}: vocabulary repeats {repeated[:5]}.")
        if not vocabulary:
            raise TfkitError(f"TextColumn {self.name!r}: vocabulary is empty.")
        return vocabulary

    @property
    def num_buckets(self):
        self.check_ready()
        return len(self.vocabulary) + FIRST_WORD_ID

    def input_specs(self):
        return {self.key: RawInput("string")}

    def tokens(self, sentences):
        """The standardised words of ``sentences`` (a ``[batch]`` string tensor), ragged ``[batch, None]``."""
        sentences = tf.reshape(tf.convert_to_tensor(sentences, tf.string), [-1])
        return tf.strings.split(standardize(sentences, self.standardize))

    # -- adapt ---------------------------------------------------------------
    @property
    def needs_adapt(self):
        return self.vocabulary is None

    def adapt_accumulator(self):
        return collections.Counter()

    def adapt_update(self, accumulator, features):
        if self.key not in features:
            raise TfkitError(f"Input feature {self.key!r} is missing.")
        words = self.tokens(np.ravel(features[self.key]).astype(object)).flat_values.numpy()
        accumulator.update(words)

    def adapt_summary(self, features):
        if self.key not in features:
            raise TfkitError(f"Input feature {self.key!r} is missing.")
        return unique_counts(self.tokens(features[self.key]).flat_values)

    def adapt_merge(self, accumulator, summary):
        merge_counts(accumulator, summary)

    def adapt_finish(self, accumulator):
        ranked = sorted(((word, n) for word, n in accumulator.items() if n >= self.min_frequency), key=lambda item: (-item[1], item[0]))
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens]
        if not ranked:
            raise TfkitError(f"TextColumn {self.name!r}: adapt found no word seen {self.min_frequency}+ times.")
        self.vocabulary = [word.decode("utf-8", errors="replace") for word, _ in ranked]

    # -- transform -------------------------------------------------------------
    def make_layers(self):
        self.check_ready()
        return keras.layers.StringLookup(vocabulary=self.vocabulary, mask_token="", num_oov_indices=1, name=f"{self.name}_lookup")

    def ids(self, sentences, lookup):
        """Token ids ``[batch, sequence_length]`` (int64) of a ``[batch]`` string tensor."""
        words = self.tokens(sentences)
        if self.sequence_length is not None:
            words = words[:, : self.sequence_length].to_tensor("", shape=[None, self.sequence_length])
        else:
            words = words.to_tensor("")
        return tf.cast(lookup(words), tf.int64)

    @property
    def kept_ahead(self):
        # Without a sequence length each batch is padded to its longest sentence, which the convolutions see.
        return self.sequence_length is not None

    def transform(self, features, parents, layers):
        values = features[self.key]
        if isinstance(values, np.ndarray) and values.dtype.kind in "US":
            values = values.astype(object)  # numpy's fixed-width strings do not convert to tf.string
        values = tf.convert_to_tensor(values)
        if values.dtype.is_integer:  # already encoded (see encode)
            ids = tf.cast(tf.reshape(values, [tf.shape(values)[0], -1]), tf.int64)
        else:
            ids = self.ids(values, layers)
        return Ids(ids, tf.cast(ids != PADDING_ID, tf.float32))

    def encode(self, sentences):
        """Token ids of ``sentences``, for a ``tf.data`` map: a model reading this column takes them as they are.

        Example:

        >>> import tensorflow as tf
        >>> from tfkit.features import TextColumn
        >>> text = TextColumn("sentence", vocabulary=["good", "bad"], sequence_length=3)
        >>> dataset = tf.data.Dataset.from_tensor_slices(["Good, good!", "not bad"]).batch(2).map(text.encode)
        >>> next(iter(dataset)).numpy().tolist()
        [[2, 2, 0], [1, 3, 0]]
        """
        if self._encoder is None:
            with tf.init_scope():
                self._encoder = self.make_layers()
        return self.ids(sentences, self._encoder)

    def get_config(self):
        return {
            "name": self.name,
            "vocabulary": self.vocabulary,
            "max_tokens": self.max_tokens,
            "min_frequency": self.min_frequency,
            "sequence_length": self.sequence_length,
            "standardize": self.standardize,
            "key": self.key,
        }
