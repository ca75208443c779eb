"""``tfkit word2vec``: word vectors from text files, on one device or on a parameter-server cluster.

Under ``TF_CONFIG`` (``tfkit launch``, a Kubernetes ``TFJob``) every task runs
the same command. The chief learns the vocabulary (one pass over the corpus),
trains through the cluster and writes the vectors file; the ps tasks hold the
input and output tables, sharded over them when large; each worker reads its
own part of the corpus (whole files when there are at least as many files as
workers, else every n-th line) and keeps its word ids after the first epoch.
The ps and worker tasks exit once the chief has written the vectors (it marks
``chief_done.json`` in the output file's folder), so no process is left.
"""

import os
import sys
import time

from tfkit.errors import ConfigError


def train_word_vectors(args):
    """Runs the command for this task (``args``: the parsed ``tfkit word2vec`` arguments)."""
    from tfkit.distribute import cluster

    task = cluster.from_tf_config()
    marks = os.path.dirname(os.path.abspath(args.output))
    cluster.serve_if_only_serving(task, marks)
    if task is not None and task.type == "evaluator":
        print("evaluator: word2vec has nothing to evaluate during training; exiting.", flush=True)
        return
    if task is not None and not task.num_ps:
        raise ConfigError("tfkit word2vec on a cluster needs ps tasks (a parameter-server cluster: the tables live on "
                          f"them); TF_CONFIG has none: {task.cluster}.")
    import keras

    from tfkit import distribute
    from tfkit.data import TextFiles
    from tfkit.models import Word2Vec
    from tfkit.jobs.summaries import verbosity

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    # Files (not a dataset of their lines) let each worker of a cluster read its own files or lines, and keep the word ids.
    corpus = TextFiles(args.corpus, args.encoding)
    strategy = distribute.get("parameter_server") if task is not None else distribute.get("default")
    with strategy.scope():
        model = Word2Vec(dimension=args.dimension, mode=args.mode, loss=args.loss, window=args.window,
                         num_negatives=args.num_negatives, subsample=args.subsample, min_count=args.min_count, batch_words=args.batch_words,
                         mix_steps=args.mix_steps,
                         standardize=None if args.standardize == "none" else args.standardize)
    if task is not None:
        print(f"Training word2vec on {distribute.describe(strategy)}.", flush=True)
    from tfkit.distribute.lost_workers import on_the_chief

    start = time.perf_counter()
    with on_the_chief(task):
        # A progress bar on a terminal (an epoch's steps are counted first), one line per epoch in a log.
        history = model.fit(corpus, epochs=args.epochs, verbose=verbosity("auto"))
    seconds = time.perf_counter() - start
    model.save_vectors(args.output, binary=args.binary)
    words = int(model.words_done.numpy())
    print(f"Wrote {len(model.vocabulary)} words x {args.dimension} to {args.output} "
          f"(final loss {history.history['loss'][-1]:.4f}; {words:,} words trained in {seconds:.1f}s, "
          f"{words / max(seconds, 1e-9):,.0f} words/s)")
    if task is not None:
        sys.stdout.flush()
        cluster.mark_chief_done(marks)
        os._exit(0)  # the coordinator's threads would only report the other tasks gone
