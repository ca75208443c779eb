"""``tfkit word2vec``: word vectors from text files, on one device or a cluster (:mod:`tfkit.jobs.word2vec`)."""


def add_parsers(commands):
    word2vec = commands.add_parser(
        "word2vec",
        help="Train word vectors on text files and write them in word2vec's format.",
        description="Train word2vec on CORPUS (text files, one sentence or paragraph per line, .gz allowed) and write "
                    "the vectors that TextCNN's `vectors` takes. Example: tfkit word2vec data/mr/rt-polarity.*.gz "
                    "--output mr-vectors.txt --standardize kim --min-count 1",
    )
    word2vec.add_argument("corpus", nargs="+", help="text files or globs")
    word2vec.add_argument("--output", required=True, metavar="FILE", help="vectors file to write")
    word2vec.add_argument("--binary", action="store_true", help="write word2vec's binary format (default: text)")
    word2vec.add_argument("--dimension", type=int, default=100, help="vector width (default: 100)")
    word2vec.add_argument("--mode", choices=["skip_gram", "cbow"], default="skip_gram", help="(default: skip_gram)")
    word2vec.add_argument("--loss", choices=["negative_sampling", "nce"], default="negative_sampling",
                          help="(default: negative_sampling)")
    word2vec.add_argument("--window", type=int, default=5, help="largest context distance (default: 5)")
    word2vec.add_argument("--num-negatives", type=int, default=5, help="noise words per pair (default: 5)")
    word2vec.add_argument("--subsample", type=float, default=1e-3, help="frequent-word subsampling threshold (default: 1e-3)")
    word2vec.add_argument("--min-count", type=int, default=5, help="drop rarer words (default: 5)")
    word2vec.add_argument("--standardize", choices=["lower", "kim", "lower_and_strip_punctuation", "none"], default="lower",
                          help="text standardisation (default: lower)")
    word2vec.add_argument("--encoding", default="utf-8", help="encoding of the files (default: utf-8)")
    word2vec.add_argument("--epochs", type=int, default=5, help="passes over the corpus (default: 5)")
    word2vec.add_argument("--batch-words", type=int, default=10_000, help="corpus words per step (default: 10,000)")
    word2vec.add_argument("--mix-steps", type=int, default=16,
                          help="each step's words are drawn at random from this many steps of lines (default: 16)")
    word2vec.add_argument("--seed", type=int, help="random seed")
    word2vec.set_defaults(run=run)


def run(args):
    from tfkit.jobs.word2vec import train_word_vectors

    train_word_vectors(args)
