"""Words per second of tfkit's Word2Vec against gensim's word2vec, same corpus and settings.

The corpus is the bundled MR sentences (about 210,000 words), repeated
``--repeat`` times; both train skip-gram with negative sampling (5 noise words),
window 5, 100-wide vectors, min_count 5, subsampling 1e-3, for ``--epochs``
epochs, gensim with one worker thread per core. gensim gets the lines split
the way tfkit splits them (lower-cased, whitespace). Words/second counts the
corpus words of all epochs over the training time (vocabulary building
excluded for both). gensim (a C implementation of word2vec's per-pair SGD) is
the reference; it is not a tfkit dependency: ``pip install gensim``.

Both sets of vectors are scored with the same code (gensim's evaluations, on
the test data its package ships): Spearman correlation with WordSim-353 and
SimLex-999 over the pairs in the vocabulary, and accuracy on word2vec's
analogy questions (``questions-words.txt``) in the vocabulary.

``--cluster`` compares instead tfkit on one device with tfkit on a
parameter-server cluster of 1 ps and 2 workers started in this process on
localhost ports (the tables on the ps, each worker reading half the corpus),
same corpus and settings, one after the other in one run.

Usage: python bench/word2vec.py [--repeat 3] [--epochs 3] [--rounds 3] [--cluster]
"""

import argparse
import gzip
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from paired import abba_rounds  # noqa: E402  (bench/paired.py, beside this script)

from tfkit.models import Word2Vec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = dict(dimension=100, window=5, num_negatives=5, min_count=5, subsample=1e-3)


def corpus(repeat, name="mr"):
    """The corpus' lines, lower-cased, ``repeat`` times: MR sentences, or gensim's 250 Wikipedia articles."""
    lines = []
    if name == "wiki":
        import gensim

        path = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data", "head500.noblanks.cor")
        with open(path, encoding="utf-8") as f:
            lines = [line.strip().lower() for line in f if line.strip()]
    for part in ("neg", "pos") if name == "mr" else ():
        with gzip.open(os.path.join(ROOT, "data", "mr", f"rt-polarity.{part}.gz"), "rt", encoding="latin-1") as f:
            lines += [line.strip().lower() for line in f if line.strip()]
    return lines * repeat


def score(gensim, vectors):
    """WordSim-353 and SimLex-999 Spearman (in-vocabulary pairs), and analogy accuracy, with gensim's test data."""
    data = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
    parts = []
    for name in ("wordsim353.tsv", "simlex999.txt"):
        _, spearman, oov = vectors.evaluate_word_pairs(os.path.join(data, name))
        parts.append(f"{name.split('.')[0]} Spearman {spearman.statistic:.3f} ({100 - oov:.0f}% of pairs in vocabulary)")
    accuracy, sections = vectors.evaluate_word_analogies(os.path.join(data, "questions-words.txt"))
    asked = sum(len(section["correct"]) + len(section["incorrect"]) for section in sections if section["section"] == "Total accuracy")
    parts.append(f"analogies {accuracy:.3f} of {asked} in-vocabulary questions")
    return "; ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="copies of the MR corpus")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--corpus", choices=["mr", "wiki"], default="mr",
                        help="mr: the bundled MR sentences; wiki: 250 Wikipedia articles (331,000 words) from gensim's test data")
    parser.add_argument("--batch-words", type=int, default=10_000, help="tfkit's corpus words per step")
    parser.add_argument("--learning-rate", type=float, default=None, help="tfkit's starting learning rate (default: its own)")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (each trains both twice, ABBA)")
    parser.add_argument("--cluster", action="store_true", help="one device against 1 ps + 2 workers, instead of gensim")
    args = parser.parse_args()
    if args.cluster:
        return compare_cluster(args)
    import gensim

    lines = corpus(args.repeat, args.corpus)
    words = sum(len(line.split()) for line in lines) * args.epochs
    tokens = [line.split() for line in lines]

    def train_tfkit():
        keras.utils.set_random_seed(0)
        model = Word2Vec(standardize="lower", batch_words=args.batch_words, learning_rate=args.learning_rate, **SETTINGS)
        model.adapt(lines)
        start = time.perf_counter()
        model.fit(lines, epochs=args.epochs, verbose=0)
        return model, time.perf_counter() - start

    def train_gensim():
        model = gensim.models.Word2Vec(vector_size=SETTINGS["dimension"], window=SETTINGS["window"], sg=1, hs=0,
                                       negative=SETTINGS["num_negatives"], min_count=SETTINGS["min_count"],
                                       sample=SETTINGS["subsample"], workers=os.cpu_count(), seed=0)
        model.build_vocab(tokens)
        start = time.perf_counter()
        model.train(tokens, total_examples=len(tokens), epochs=args.epochs)
        return model, time.perf_counter() - start

    # ABBA rounds (paired.py), each "epoch" a training from scratch; the last model of each is scored.
    trained = {}

    def training(train, _):
        trained[train], took = train()
        return took

    seconds, time_ratios = abba_rounds({"tfkit": train_tfkit, "gensim": train_gensim}, None, args.rounds, epoch=training)
    ratios = [1 / ratio for ratio in time_ratios]  # words per second, tfkit over gensim
    model, reference = trained[train_tfkit], trained[train_gensim]

    print(f"corpus: {len(lines):,} lines, {words // args.epochs:,} words x {args.epochs} epochs; "
          f"vocabulary tfkit {len(model.vocabulary):,}, gensim {len(reference.wv):,}; {os.cpu_count()} cores")
    for name in ("tfkit", "gensim"):
        rates = sorted(words / took for took in seconds[name])
        print(f"  {name:>6}: {statistics.median(rates):10,.0f} words/s median of {len(rates)} "
              f"({rates[0]:,.0f}-{rates[-1]:,.0f}); seconds {' '.join(f'{took:.1f}' for took in seconds[name])}")
    print(f"  ratio tfkit/gensim words per second: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
          f"({min(ratios):.3f}-{max(ratios):.3f})")
    probe = "good"
    print(f"  nearest to {probe!r}: tfkit {[w for w, _ in model.nearby([probe], k=5)[0]]}; "
          f"gensim {[w for w, _ in reference.wv.most_similar(probe, topn=5)]}")
    # Both scored by the same code: gensim's evaluations over tfkit's vectors loaded into gensim.
    words, vectors = model.word_vectors()
    tfkit_vectors = gensim.models.KeyedVectors(vectors.shape[1])
    tfkit_vectors.add_vectors(words, vectors)
    for name, vectors in (("tfkit", tfkit_vectors), ("gensim", reference.wv)):
        print(f"  {name:>6}: {score(gensim, vectors)}")


def compare_cluster(args):
    from tfkit import distribute

    lines = corpus(args.repeat, args.corpus)
    words = sum(len(line.split()) for line in lines) * args.epochs
    resolver, _servers = distribute.cluster.local_cluster(num_workers=2, num_ps=1)
    rates = {}
    for name, strategy in (("one device", distribute.get("default")),
                           ("1 ps + 2 workers", distribute.get("parameter_server", cluster_resolver=resolver))):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = Word2Vec(standardize="lower", batch_words=args.batch_words, learning_rate=args.learning_rate, **SETTINGS)
        model.adapt(lines)
        start = time.perf_counter()
        model.fit(lines, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        rates[name] = words / seconds
        probe = [w for w, _ in model.nearby(["good"], k=5)[0]]
        print(f"  {name:>16}: {rates[name]:10,.0f} words/s ({seconds:.1f}s; {int(model.words_done.numpy()):,} words trained); "
              f"nearest to 'good': {probe}", flush=True)
        try:
            import gensim
        except ImportError:
            continue
        words_, vectors = model.word_vectors()
        keyed = gensim.models.KeyedVectors(vectors.shape[1])
        keyed.add_vectors(words_, vectors)
        print(f"  {'':>16}  {score(gensim, keyed)}", flush=True)
    print(f"corpus: {len(lines):,} lines, {words // args.epochs:,} words x {args.epochs} epochs; {os.cpu_count()} cores; "
          f"ratio cluster/one device words per second: {rates['1 ps + 2 workers'] / rates['one device']:.3f}")


if __name__ == "__main__":
    main()
