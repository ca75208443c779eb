"""Word2Vec: word vectors from a corpus, skip-gram or CBOW, negative sampling or NCE (Mikolov et al. 2013).

The training examples are made in ``tf.data`` from raw lines of text, with
word2vec's own choices: words seen fewer than ``min_count`` times are dropped
before windowing, frequent words are subsampled, every word gets a window of
random size up to ``window`` (nearer words weigh more), windows stop at line
ends (long lines are cut every 1,000 words), and the learning rate falls
linearly with the words processed. Steps take about ``batch_words`` words,
drawn at random from ``mix_steps`` steps' worth of consecutive lines, with
Adagrad (see :meth:`Word2Vec.compile`).

Made under a parameter-server strategy, ``fit`` trains on the cluster: the
tables live on the ps tasks (sharded when large), each worker reads its own
part of the corpus (:func:`tfkit.data.skip_grams.corpus_part`) and the
learning rate follows the words of all workers (docs/distributed.rst).
"""

import keras
import numpy as np
import tensorflow as tf

from tfkit.data import cache as cache_lib
from tfkit.data.skip_grams import chunked, corpus_cache, corpus_lines, corpus_part, line_count, mixed, part_lines
from tfkit.data.vectors import read_word_vectors, write_word_vectors
from tfkit.errors import TfkitError
from tfkit.features.text import FIRST_WORD_ID, TextColumn
from tfkit.layers.lookup import creating_tables, gather_rows
from tfkit.models.base import parameter_server_trainer
from tfkit.models.word_queries import WordQueries
from tfkit.optimizers import Adagrad
from tfkit.optimizers.sparse import row_summed

MODES = ("skip_gram", "cbow")
LOSSES = ("negative_sampling", "nce")
MAX_SENTENCE_LENGTH = 1000  # word2vec.c's
_NOISE_TABLE_SIZE = 1_000_000


@keras.saving.register_keras_serializable(package="tfkit")
class Word2Vec(WordQueries, keras.Model):
    """Word vectors trained on a corpus; ``nearby`` and ``analogy`` query them.

    Args:
        dimension: Width of the word vectors.
        mode: ``"skip_gram"`` (a word predicts the words around it) or
            ``"cbow"`` (the mean of the words around predicts the word).
        loss: ``"negative_sampling"`` or ``"nce"`` (noise-contrastive
            estimation: negative sampling's scores corrected by the noise
            distribution, with a bias per word), both against
            ``num_negatives`` noise words per pair drawn from the unigram
            distribution to the power 0.75.
        window: Largest distance between a word and its context.
        num_negatives: Noise words per pair.
        subsample: Threshold of frequent-word subsampling (0 turns it off).
        min_count: Words seen fewer times are dropped.
        max_vocabulary: Keep at most this many words (the most frequent).
        standardize: Text standardisation, as in
            :class:`~tfkit.features.TextColumn` (default ``"lower"``).
        learning_rate: Starting learning rate of the Adagrad steps (default
            0.2, chosen with WordSim-353 and SimLex-999 in
            ``bench/word2vec.py``), falling linearly to 0.01% of it.
        batch_words: Corpus words per training step.
        mix_steps: Each step's words are drawn at random from this many
            steps' worth of consecutive lines (1: consecutive lines only), so
            that a word bursting in one article reaches Adagrad spread out.
        vocabulary: The words, most frequent first (learned by ``adapt``).
        counts: Their counts in the corpus (learned by ``adapt``).

    Example:

    >>> from tfkit.models import Word2Vec
    >>> corpus = ["the cat sat on the mat", "the dog sat on the log"] * 50
    >>> model = Word2Vec(dimension=8, window=2, min_count=1, subsample=0)
    >>> history = model.fit(corpus, epochs=2, verbose=0)
    >>> model.vocabulary[:3], model.word_vectors()[1].shape
    (['the', 'on', 'sat'], (7, 8))
    >>> [word for word, _ in model.nearby(["cat"], k=2)[0]]  # doctest: +SKIP
    ['dog', 'mat']
    """

    def __init__(
        self,
        dimension=100,
        mode="skip_gram",
        loss="negative_sampling",
        window=5,
        num_negatives=5,
        subsample=1e-3,
        min_count=5,
        max_vocabulary=None,
        standardize="lower",
        learning_rate=None,
        batch_words=10_000,
        mix_steps=16,
        vocabulary=None,
        counts=None,
        name="word2vec",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if mode not in MODES:
            raise TfkitError(f"Word2Vec: mode must be one of {MODES}. Received: mode={mode!r}")
        if loss not in LOSSES:
            raise TfkitError(f"Word2Vec: loss must be one of {LOSSES}. Received: loss={loss!r}")
        for argument, value in (("dimension", dimension), ("window", window), ("num_negatives", num_negatives),
                                ("batch_words", batch_words), ("mix_steps", mix_steps)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise TfkitError(f"Word2Vec: {argument} must be a positive int. Received: {argument}={value!r}")
        if subsample < 0 or (learning_rate is not None and learning_rate <= 0):
            raise TfkitError(f"Word2Vec: subsample must be >= 0 and learning_rate > 0. "
                             f"Received: subsample={subsample!r}, learning_rate={learning_rate!r}")
        if vocabulary is None and counts is not None:
            raise TfkitError("Word2Vec: counts come with a vocabulary (one count per word).")
        if vocabulary is not None and counts is not None and len(vocabulary) != len(counts):
            raise TfkitError(f"Word2Vec: {len(vocabulary)} words but {len(counts)} counts.")
        self.dimension = dimension
        self.mode = mode
        self.loss_name = loss
        self.window = window
        self.num_negatives = num_negatives
        self.subsample = subsample
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.standardize = standardize
        self.learning_rate = learning_rate
        self.batch_words = batch_words
        self.mix_steps = mix_steps
        self.counts = None if counts is None else [int(c) for c in counts]
        # The column does the tokenising and the lookup (0 pads, 1 is out of vocabulary, words from 2).
        self.text = TextColumn("text", vocabulary=vocabulary, max_tokens=max_vocabulary, min_frequency=min_count,
                               standardize=standardize)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.words_done = None

    @property
    def vocabulary(self):
        return self.text.vocabulary

    @property
    def metrics(self):
        return [self.loss_tracker]

    # -- vocabulary ----------------------------------------------------------------
    def adapt(self, corpus):
        """Learns the vocabulary and its counts from ``corpus`` (one pass)."""
        if self.built:
            raise TfkitError("Word2Vec.adapt must run before the model is built (before fit).")
        counter = self.text.adapt_accumulator()
        for lines in corpus_lines(corpus).batch(4096).as_numpy_iterator():
            self.text.adapt_update(counter, {"text": lines})
        self.text.vocabulary = None
        self.text.adapt_finish(counter)
        self.counts = [counter[word.encode("utf-8")] for word in self.text.vocabulary]

    # -- weights -----------------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:
            return
        self.text.check_ready()
        with tf.init_scope():
            self.lookup = self.text.make_layers()
        rows = self.text.num_buckets
        bound = 0.5 / self.dimension
        with creating_tables():  # on a parameter-server cluster, sharded over the ps tasks when large
            self.input_vectors = self.add_weight(name="input_vectors", shape=(rows, self.dimension),
                                                 initializer=keras.initializers.RandomUniform(-bound, bound))
            self.output_vectors = self.add_weight(name="output_vectors", shape=(rows, self.dimension), initializer="zeros")
            self.output_bias = None
            if self.loss_name == "nce":
                # Starting at log(k q(w)) cancels NCE's correction: training starts where negative sampling does.
                start = "zeros" if self.counts is None else keras.initializers.Constant(self._log_noise().numpy())
                self.output_bias = self.add_weight(name="output_bias", shape=(rows,), initializer=start)
        self.words_done = self.add_weight(name="words_done", shape=(), dtype="int64", initializer="zeros", trainable=False)
        self.words_to_train = self.add_weight(name="words_to_train", shape=(), dtype="int64", initializer="ones",
                                              trainable=False)
        self.built = True

    def _noise_counts(self):
        """Each id's count (0 for padding and out-of-vocabulary), for the noise distribution and subsampling."""
        if self.counts is None:
            raise TfkitError("Word2Vec: training needs the words' counts; this model has a vocabulary without them "
                             "(read from vectors). Train a new model on the corpus instead.")
        return np.concatenate([np.zeros(FIRST_WORD_ID), np.asarray(self.counts, dtype=np.float64)])

    # -- training examples, in tf.data ------------------------------------------------------
    def training_data(self, corpus, seed=None, cache="auto", part=None, lines_per_step=None):
        """Batches of training examples: ``{"inputs", "targets", "words"}`` of about ``batch_words`` words each.

        See :func:`tfkit.data.skip_grams.examples`, dealt out at random over
        each ``mix_steps`` steps (:func:`~tfkit.data.skip_grams.mixed`). ``cache`` keeps the
        corpus' word ids after the first pass (see :func:`tfkit.data.cache.resolve`;
        a list of sentences is in memory already, a dataset of lines is read
        again each epoch unless ``cache`` says otherwise). ``part``:
        ``(index, count)``, this worker's part of the corpus only (see
        :func:`tfkit.data.skip_grams.corpus_part`). ``lines_per_step``: lines
        of each step, measured on the corpus' first lines if not given.
        """
        counts = self._noise_counts()
        total = counts.sum()
        keep = None  # every word, without subsampling
        if self.subsample > 0:
            threshold = self.subsample * total
            keep = tf.constant(np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / np.maximum(counts, 1.0)),
                               tf.float32)
        lines_per_step = lines_per_step or self.lines_per_step(corpus)
        cache = corpus_cache(corpus, cache)
        if part is not None:
            corpus = corpus_part(corpus, *part)
            if cache not in ("memory", "none"):  # a file prefix of its own per worker
                cache = f"{cache}_part{part[0]}"
        # The corpus is read and looked up once; each epoch subsamples and windows the cached ids anew.
        encoded = cache_lib.cached(corpus_lines(corpus).batch(lines_per_step).map(self._encode, num_parallel_calls=tf.data.AUTOTUNE),
                                   cache, batched=False)
        # Without autotuning (its parallelism: one call per core): with it, 5 of 8 fits of MR x 3 in a row waited
        # 4.5-5 s after their last step for the pipeline to shut down (TF 2.21; docs/performance.rst).
        options = tf.data.Options()
        options.autotune.enabled = False
        return (encoded.batch(self.mix_steps).map(lambda ids: mixed(ids, keep, self.window, seed),
                                                  num_parallel_calls=tf.data.AUTOTUNE)
                .unbatch().prefetch(2).with_options(options))

    def _encode(self, lines):
        ids = tf.ragged.map_flat_values(lambda words: tf.cast(self.lookup(words), tf.int64), self.text.tokens(lines))
        # Words below min_count go before windowing; windows stop every 1,000 words too.
        return chunked(tf.ragged.boolean_mask(ids, ids >= FIRST_WORD_ID), MAX_SENTENCE_LENGTH)

    def lines_per_step(self, corpus):
        """Lines per step that make about ``batch_words`` words, from the corpus' first 1,000 lines."""
        sample = self._encode(corpus_lines(corpus).take(1000).batch(1000).get_single_element())  # eager: no trace
        words_per_line = max(1.0, float(tf.reduce_mean(tf.cast(sample.row_lengths(), tf.float32)).numpy() or 1.0))
        return max(1, int(self.batch_words / words_per_line))

    # -- training --------------------------------------------------------------------------
    def compile(self, **kwargs):
        """Adagrad over each step's summed pair losses; the learning rate falls with the words processed.

        word2vec applies each pair's gradient in turn (plain SGD, learning
        rate 0.025). A step of thousands of pairs at once cannot: a frequent
        word would move by the sum of hundreds of pair steps and diverge.
        Adagrad scales each weight's step by its own gradient history, so the
        sum is safe (as in GloVe and Swivel, which train large batches too).
        """
        if kwargs.get("optimizer") is not None or kwargs.get("loss") is not None:
            raise TfkitError("Word2Vec trains with word2vec's SGD and its own loss; compile takes no optimizer or loss.")
        super().compile(optimizer=Adagrad(learning_rate=self.starting_learning_rate), **{k: v for k, v in kwargs.items()
                                                                             if k not in ("optimizer", "loss")})

    def fit(self, corpus, epochs=5, verbose="auto", callbacks=None, seed=None, cache="auto", **kwargs):
        """Trains on ``corpus`` (file path(s) or :class:`~tfkit.data.TextFiles`, a list of sentences, or a dataset of
        lines), adapting first if needed.

        ``cache`` is as in :meth:`training_data`.
        """
        if self.vocabulary is None:
            self.adapt(corpus)
        with self.distribute_strategy.scope():  # the strategy the model was made under: its variables' too
            if not self.built:
                self.build()
            if not getattr(self, "compiled", False):
                self.compile()
        self.words_done.assign(0)
        self.words_to_train.assign(max(1, epochs * sum(self.counts)))
        trainer = parameter_server_trainer(self)
        if trainer is not None:
            return self._fit_on_cluster(trainer, corpus, epochs, verbose, callbacks, seed, cache)
        # One pass of the examples repeated, its steps counted: each epoch then draws its own subsampling and
        # windows (a new pass would draw the first epoch's again) and no epoch waits for a new pass to start.
        lines_per_step = self.lines_per_step(corpus)
        steps = -(-line_count(corpus) // lines_per_step)
        return super().fit(self.training_data(corpus, seed, cache, lines_per_step=lines_per_step).repeat(), epochs=epochs,
                           steps_per_epoch=max(1, steps), verbose=verbose, callbacks=callbacks, shuffle=False, **kwargs)

    def _fit_on_cluster(self, trainer, corpus, epochs, verbose, callbacks, seed, cache):
        """Each worker trains on its part of the corpus; an epoch is as many steps as the parts hold together."""
        if isinstance(corpus, tf.data.Dataset):
            raise TfkitError("Word2Vec on a parameter-server cluster reads files (a path, paths, or tfkit.data.TextFiles "
                             "for another encoding) or a list of sentences, which each worker can read its part of; "
                             "received a tf.data.Dataset.")
        lines_per_step, cache = self.lines_per_step(corpus), corpus_cache(corpus, cache)  # here, not in the workers' trace
        steps = sum(-(-lines // lines_per_step) for lines in part_lines(corpus, trainer.num_workers))
        return trainer.fit(lambda index, count: self.training_data(corpus, seed, cache, (index, count), lines_per_step),
                           epochs=epochs, steps_per_epoch=max(1, steps), verbose=verbose, callbacks=callbacks)

    @property
    def starting_learning_rate(self):
        return 0.2 if self.learning_rate is None else self.learning_rate

    def _noise(self):
        if not hasattr(self, "_noise_table"):
            counts = self._noise_counts() ** 0.75
            table = np.repeat(np.arange(len(counts)), np.round(counts / counts.sum() * _NOISE_TABLE_SIZE).astype(np.int64))
            with tf.init_scope():
                self._noise_table = tf.constant(table, tf.int64)
        return self._noise_table

    def _window_losses(self, contexts, targets):
        """The loss of every (context, target) pair of a batch of windows (CBOW: of every window), and its weight.

        ``contexts`` are ``[words, 2 * window]`` ids (-1 outside the window).
        Each target is scored against ``num_negatives`` noise words drawn for
        it from unigram^0.75, shared by the pairs of its window: every pair of
        a window then scores the same ``1 + num_negatives`` output rows, one
        small matrix product per window (Ji et al. 2016, "Parallelizing
        Word2Vec in Shared and Distributed Memory", as Intel's and Amazon's
        word2vec do) instead of a gather of noise rows per pair.

        Negative sampling scores words by ``u·h``; noise-contrastive estimation
        by ``u·h + b - log(k q(w))`` (Gutmann & Hyvärinen; Mnih & Teh), which
        makes the scores estimate log-probabilities. Negative sampling is NCE
        without that correction (Mikolov et al. 2013).
        """
        noise = self._noise()
        negatives = tf.gather(noise, tf.random.uniform([tf.shape(targets)[0], self.num_negatives], 0,
                                                       tf.size(noise, tf.int64), dtype=tf.int64))
        outputs = tf.concat([targets[:, None], negatives], axis=1)
        inputs = self.input_vectors.value
        present = tf.cast(contexts >= 0, inputs.dtype)
        hidden = gather_rows(inputs, tf.maximum(contexts, 0))  # [words, contexts, dimension]
        if self.mode == "cbow":
            hidden = tf.reduce_sum(hidden * present[..., None], axis=1, keepdims=True)
            hidden /= tf.maximum(tf.reduce_sum(present, axis=1), 1.0)[:, None, None]
            present = tf.ones_like(present[:, :1])
        scores = tf.einsum("wcd,wkd->wck", hidden, gather_rows(self.output_vectors.value, outputs))
        if self.loss_name == "nce":
            scores += (gather_rows(self.output_bias.value, outputs) - tf.gather(self._log_noise(), outputs))[:, None, :]
        # word2vec skips a noise word that is the target itself.
        real = tf.cast(negatives != targets[:, None], scores.dtype)[:, None, :]
        losses = tf.nn.softplus(-scores[..., 0]) + tf.reduce_sum(tf.nn.softplus(scores[..., 1:]) * real, axis=-1)
        return losses * present, present

    def _log_noise(self):
        """``log(k q(w))`` of every id, q the noise distribution (unigram^0.75)."""
        if not hasattr(self, "_log_noise_table"):
            weights = self._noise_counts() ** 0.75
            with tf.init_scope():
                self._log_noise_table = tf.constant(np.log(np.maximum(self.num_negatives * weights / weights.sum(), 1e-30)),
                                                    tf.float32)
        return self._log_noise_table

    def _apply_step(self, data, variables):
        """One step on ``data``: the summed pair losses' gradients applied to ``variables``; the pair losses."""
        progress = tf.cast(self.words_done, tf.float32) / tf.cast(self.words_to_train, tf.float32)
        learning_rate = self.starting_learning_rate * tf.maximum(1e-4, 1.0 - progress)
        with tf.GradientTape() as tape:
            losses, present = self._window_losses(data["inputs"], data["targets"])
            # word2vec's updates are per pair: the step follows the sum of the pairs' gradients.
            total = tf.reduce_sum(losses)
        watched = [v.value if isinstance(v, keras.Variable) else v for v in variables]  # a table's shards are tf.Variables
        # A step has about batch_words * (1 + num_negatives) pairs; a smaller table takes its gradient whole.
        pairs = self.batch_words * (1 + self.num_negatives)
        gradients = [row_summed(g, v.shape[0], v.shape[0] <= pairs) for g, v in zip(tape.gradient(total, watched), watched)]
        self.optimizer.learning_rate.assign(learning_rate)
        self.optimizer.apply(gradients, variables)
        # Atomic (the tf.Variable's own assign_add): on a cluster, every worker's words count.
        self.words_done.value.assign_add(data["words"])
        return losses, present

    def train_step(self, data):
        variables = [self.input_vectors, self.output_vectors] + ([self.output_bias] if self.output_bias is not None else [])
        losses, present = self._apply_step(data, variables)
        self.loss_tracker.update_state(losses, sample_weight=present)
        return {"loss": self.loss_tracker.result()}

    def parameter_server_step(self, data, variables, metric_states):
        """A step on a parameter-server worker (see :mod:`tfkit.distribute.parameter_server`)."""
        losses, present = self._apply_step(data, variables)
        return [self.loss_tracker.stateless_update_state(metric_states[0], losses, sample_weight=present)]

    def call(self, words):
        """The vectors of ``words`` (a string tensor of any shape); unknown words get the out-of-vocabulary row."""
        return gather_rows(self.input_vectors.value, tf.cast(self.lookup(words), tf.int64))

    # -- queries ---------------------------------------------------------------------------
    def word_vectors(self):
        """``(words, float32 [len(words), dimension] vectors)``: the trained input vectors."""
        if not self.built:
            raise TfkitError("Word2Vec has no vectors yet: fit it (or load vectors with Word2Vec.from_vectors).")
        return list(self.vocabulary), self.input_vectors.numpy()[FIRST_WORD_ID:]

    # -- files -----------------------------------------------------------------------------
    def save_vectors(self, path, binary=False):
        """Writes the vectors in word2vec's text (or binary) format."""
        write_word_vectors(path, *self.word_vectors(), binary=binary)

    @classmethod
    def from_vectors(cls, path, binary=None, **kwargs):
        """A model holding the vectors of a word2vec file, for ``nearby``, ``analogy`` and TextCNN."""
        words, vectors = read_word_vectors(path, binary=binary)
        model = cls(dimension=vectors.shape[1], vocabulary=words, min_count=1, standardize=None, **kwargs)
        model.build()
        model.input_vectors.assign(np.concatenate([np.zeros((FIRST_WORD_ID, vectors.shape[1]), np.float32), vectors]))
        return model

    def get_config(self):
        return {
            "dimension": self.dimension,
            "mode": self.mode,
            "loss": self.loss_name,
            "window": self.window,
            "num_negatives": self.num_negatives,
            "subsample": self.subsample,
            "min_count": self.min_count,
            "max_vocabulary": self.max_vocabulary,
            "standardize": self.standardize,
            "learning_rate": self.learning_rate,
            "batch_words": self.batch_words,
            "mix_steps": self.mix_steps,
            "vocabulary": self.vocabulary,
            "counts": self.counts,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
