"""Data at scale: tfkit's adapt pass, first and cached epochs on census-shaped files of many rows, beside pandas and
plain Keras 3 reading the same file.

pip install -e ".[bench]"   # pandas
python bench/scale.py [--scales 1 10 100] [--epochs 3] [--folder /tmp/tfkit-scale] [--rounds 1]
python bench/scale.py --scales 1000 --epochs 2 --tfkit-only   # 32.6 million rows: does memory stay bounded?
python bench/scale.py --scales 100 --epochs 0 --against pandas --rounds 4   # the adapt pass beside pandas only
python bench/scale.py --scales 100 --epochs 0 --against pandas --config bench/census_every_column.yaml

For each scale ×k, the census training file repeated k times (gzip CSV, written once into --folder and kept there;
×1000 is 32.6 million rows, about 440 MB), each measurement in a process of its own, in ABBA order between tfkit's
adapt pass and the references (``--rounds`` times):

* ``pandas``: ``pandas.read_csv`` of the file: rows/s, peak RSS.
* ``keras``: what a plain Keras 3 script does for the same columns: ``tf.data.experimental.make_csv_dataset``
  read once into a ``cache()``, then ``StringLookup.adapt`` and ``Normalization.adapt`` of each column over it.
* ``tfkit``: ``configs/census.yaml`` trained on the file for ``--epochs`` epochs, in process: the adapt pass's
  rows/s, the first epoch's (it parses the file and keeps the transformed values) and the later ones' rows/s,
  peak RSS, and the bytes a row takes as parsed and as kept in memory (a transformed batch's bytes over its rows).
"""

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CENSUS = os.path.join(ROOT, "data", "census", "adult.data.csv.gz")
CONFIG = os.path.join(ROOT, "configs", "census.yaml")
NAMES = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation", "relationship",
         "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income_bracket"]
CATEGORIES = ["workclass", "education", "marital_status", "occupation", "relationship", "race", "sex", "native_country"]
NUMBERS = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def scaled_file(folder, scale):
    path = os.path.join(folder, f"census-x{scale}.csv.gz")
    if not os.path.exists(path):
        with gzip.open(CENSUS, "rb") as f:
            header, *rows = [line for line in f.read().split(b"\n") if line.strip()]
        body = b"\n".join(rows) + b"\n"
        with gzip.open(path + ".partial", "wb", compresslevel=6) as f:
            f.write(header + b"\n")
            for _ in range(scale):
                f.write(body)
        os.replace(path + ".partial", path)
    return path


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def nbytes(tensors):
    import tensorflow as tf
    total = 0
    for tensor in tf.nest.flatten(tensors):
        total += int(tf.reduce_sum(tf.strings.length(tensor))) + 32 * int(tf.size(tensor)) if tensor.dtype == tf.string \
            else tensor.numpy().nbytes
    return total


def run_pandas(path):
    import pandas as pd
    started = time.perf_counter()
    frame = pd.read_csv(path, names=NAMES, header=0, skipinitialspace=True, na_values="?")
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "rows/s": len(frame) / seconds, "seconds": seconds}


def run_keras(path):
    import keras
    import tensorflow as tf
    started = time.perf_counter()
    data = tf.data.experimental.make_csv_dataset(
        path, 4096, column_names=NAMES, header=True, num_epochs=1, shuffle=False, compression_type="GZIP",
        na_value="?", label_name="income_bracket", column_defaults=[0.0 if n in NUMBERS + ["fnlwgt"] else "" for n in NAMES])
    data = data.map(lambda features, label: {name: features[name] for name in CATEGORIES + NUMBERS}).cache()
    rows = int(data.reduce(tf.constant(0, tf.int64), lambda n, batch: n + tf.shape(batch["age"], out_type=tf.int64)[0]))
    for name in CATEGORIES:
        keras.layers.StringLookup().adapt(data.map(lambda batch: tf.strings.strip(batch[name])))
    for name in NUMBERS:
        keras.layers.Normalization().adapt(data.map(lambda batch: tf.reshape(batch[name], [-1, 1])))
    seconds = time.perf_counter() - started
    return {"rows": rows, "rows/s": rows / seconds, "seconds": seconds}


def run_tfkit(path, epochs, cache, config_path):
    import tempfile

    import keras

    from tfkit import config as config_lib
    from tfkit.jobs.run import Run

    class Epochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    config = config_lib.load(config_path, [
        f"data.train={path}", f"train.epochs={max(epochs, 1)}", f"job_dir={tempfile.mkdtemp()}", "export=false",
        f"data.cache={cache}"])
    config["train"]["early_stopping"] = None
    epoch_times = Epochs()
    run = Run(config, callbacks=[epoch_times])
    if not epochs:  # the adapt pass only
        run.state.build()
        count, seconds = run.state.adapted
        return {"rows": count, "adapt rows/s": count / seconds}
    run.train()
    trained_rss = peak_rss_gb()  # before the batches below: a raw batch of a memory cache parses every row
    count, seconds = run.state.adapted
    raw = next(iter(run.datasets.train(training=False, batch_size=4096, cached=False)))
    kept = next(iter(run.model._transformed_ahead(run.datasets.train(training=False, batch_size=4096))))
    return {"rows": count, "adapt rows/s": count / seconds, "cache": run.datasets.describe_cache(),
            "first epoch rows/s": count / epoch_times.seconds[0],
            "cached epoch rows/s": [round(count / s) for s in epoch_times.seconds[1:]],
            "parsed bytes/row": nbytes(raw) / len(raw[1]), "kept bytes/row": nbytes(kept) / len(kept[1]),
            "peak RSS GB": trained_rss}


def child(kind, path, epochs, cache, config_path):
    result = {"pandas": run_pandas, "keras": run_keras}[kind](path) if kind != "tfkit" else run_tfkit(path, epochs, cache,
                                                                                                       config_path)
    result.setdefault("peak RSS GB", peak_rss_gb())
    print(json.dumps(result))


def measure(kind, path, epochs, cache="auto", config_path=CONFIG):
    done = subprocess.run([sys.executable, __file__, "--child", kind, path, "--epochs", str(epochs), "--cache", cache,
                           "--config", config_path], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode:
        sys.exit(f"{kind} on {path} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--epochs", type=int, default=3, help="tfkit's epochs (0: the adapt pass only)")
    parser.add_argument("--against", nargs="+", choices=["pandas", "keras"], default=["pandas", "keras"],
                        help="the references measured beside tfkit")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--folder", default=os.path.join("/tmp", "tfkit-scale"))
    parser.add_argument("--tfkit-only", action="store_true",
                        help="tfkit alone, once per round (x1000: pandas and an in-memory Keras cache would not fit)")
    parser.add_argument("--cache", default="auto", help="tfkit's data.cache (auto, memory, none, a path prefix)")
    parser.add_argument("--config", default=CONFIG, help="tfkit's config (its data.train is the generated file)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child, args.epochs, args.cache, os.path.abspath(args.config))
    os.makedirs(args.folder, exist_ok=True)
    for scale in args.scales:
        path = scaled_file(args.folder, scale)
        for round_number in range(args.rounds):
            if args.tfkit_only:
                r = measure("tfkit", path, args.epochs, args.cache, os.path.abspath(args.config))
                print(f"x{scale} ({r['rows']:,} rows after the 10% validation holdout), round {round_number + 1}, tfkit only:")
                print(f"  tfkit adapt pass     {r['adapt rows/s']:,.0f} rows/s")
                if not args.epochs:
                    continue
                print(f"  {r['cache']}")
                print(f"  tfkit epochs         first {r['first epoch rows/s']:,.0f} rows/s, later {r['cached epoch rows/s']} rows/s; "
                      f"peak RSS {r['peak RSS GB']:.2f} GB", flush=True)
                continue
            results = {}
            references = [kind for kind in ("pandas", "keras") if kind in args.against]
            for kind in ("tfkit", *references, *references[::-1], "tfkit"):
                results.setdefault(kind, []).append(measure(kind, path, args.epochs, args.cache, os.path.abspath(args.config)))
            tfkit = results["tfkit"]
            adapt = [r["adapt rows/s"] for r in tfkit]
            print(f"x{scale} ({tfkit[0]['rows']:,} rows after the 10% validation holdout), round {round_number + 1}:")
            print(f"  tfkit adapt pass     {_rates(adapt)} rows/s")
            for kind, name in (("pandas", "pandas read_csv"), ("keras", "plain Keras adapt")):
                if kind in results:
                    rates = [r["rows/s"] for r in results[kind]]
                    print(f"  {name:20} {_rates(rates)} rows/s (tfkit/{kind} {sum(adapt) / sum(rates):.2f})")
            for r in tfkit if args.epochs else ():
                print(f"  tfkit epochs         first {r['first epoch rows/s']:,.0f} rows/s, cached {r['cached epoch rows/s']} "
                      f"rows/s; peak RSS {r['peak RSS GB']:.2f} GB; bytes/row parsed {r['parsed bytes/row']:.0f}, "
                      f"kept {r['kept bytes/row']:.0f}")
            print("  peak RSS             " + ", ".join(f"{kind} {max(r['peak RSS GB'] for r in runs):.2f} GB"
                                                        for kind, runs in results.items()), flush=True)


def _rates(values):
    return ", ".join(f"{value:,.0f}" for value in values)


if __name__ == "__main__":
    main()
