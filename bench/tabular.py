"""A tfkit tabular config against scikit-learn's HistGradientBoostingClassifier on the same files and split.

pip install scikit-learn   # benchmark-only: tfkit does not depend on it
python bench/tabular.py [--config configs/census_embeddings.yaml] [--seeds 1 2 3]

Both models train on the config's training rows less its validation split
(the same rows: tfkit's deterministic holdout, read with tfkit's CSV reader),
choose their length on that validation split (tfkit: early stopping on the
config's monitor; gradient boosting: the boosting iteration with the lowest
validation log loss, up to 1,000) and are scored once on the test file.
Gradient boosting gets the categorical columns as native categoricals
(ordinal codes of the training values). tfkit runs as ``tfkit train``
processes, timed from start to exit; ``train_seconds`` is its training loop
alone (metrics.json). Prints one line per model and seed, then each model's
mean and spread.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def tfkit_run(config, seed, folder):
    job_dir = tempfile.mkdtemp(dir=folder)
    started = time.perf_counter()
    result = subprocess.run(["tfkit", "train", config, "--job-dir", job_dir, "--set", f"train.seed={seed}", "--set", "export=false"],
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"tfkit train failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    with open(os.path.join(job_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return {"accuracy": metrics["test"]["accuracy"], "auc": metrics["test"]["auc"], "train_seconds": metrics["train_seconds"],
            "wall_seconds": wall, "length": f"best epoch {metrics['best_epoch']} of {metrics['epochs']}"}


def table(config_path):
    """``(train, validation, test)`` as (columns: numpy arrays, labels), read by tfkit as its run reads them."""
    from tfkit import config as config_lib
    from tfkit.data import read_csv

    config = config_lib.load(config_path)
    data = config["data"]
    columns = config_lib.build_columns(config["features"])
    numeric = sorted({s.key for c in columns.values() for s in getattr(c, "sources", [c]) if getattr(s, "kind", "") == "numeric"})
    kinds = {c.key: "categorical" for c in columns.values() if c.kind == "categorical"}
    kinds.update(dict.fromkeys(numeric, "numeric"))

    def read(path, holdout=None):
        dataset = read_csv(path, 4096, label=data["label"], label_vocabulary=data["label_vocabulary"],
                           label_aliases=data["label_aliases"], column_names=data["column_names"], na_values=data["na_values"],
                           select_columns=sorted(kinds), column_dtypes={k: "float32" for k in numeric}, holdout=holdout,
                           cache="none")
        parts = list(dataset.as_numpy_iterator())
        return {k: np.concatenate([p[0][k] for p in parts]) for k in kinds}, np.concatenate([p[1] for p in parts])

    split = ("train", data["validation_split"]), ("validation", data["validation_split"])
    return kinds, read(data["train"], split[0]), read(data["train"], split[1]), read(data["test"])


def boosting_runs(config_path, seeds):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    kinds, (train_x, train_y), (val_x, val_y), (test_x, test_y) = table(config_path)
    names = sorted(kinds)
    vocabularies = {k: {v: i for i, v in enumerate(sorted(set(train_x[k]) - {b""}))} for k in names if kinds[k] == "categorical"}

    def matrix(x):  # categorical values as ordinal codes (unseen or missing: NaN, boosting's missing category)
        return np.stack([np.array([vocabularies[k].get(v, np.nan) for v in x[k]], float) if k in vocabularies
                         else x[k].astype(float) for k in names], axis=1)

    train, val, test = matrix(train_x), matrix(val_x), matrix(test_x)
    results = []
    for seed in seeds:
        model = HistGradientBoostingClassifier(max_iter=1000, early_stopping=False, random_state=seed,
                                               categorical_features=[k in vocabularies for k in names])
        started = time.perf_counter()
        model.fit(train, train_y)
        seconds = time.perf_counter() - started
        losses = [log_loss(val_y, p) for p in model.staged_predict_proba(val)]
        best = int(np.argmin(losses))
        probabilities = next(p for i, p in enumerate(model.staged_predict_proba(test)) if i == best)[:, 1]
        results.append({"accuracy": accuracy_score(test_y, probabilities >= 0.5), "auc": roc_auc_score(test_y, probabilities),
                        "train_seconds": seconds, "wall_seconds": seconds, "length": f"{best + 1} iterations"})
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/census_embeddings.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    config = os.path.join(ROOT, args.config)
    runs = {"HistGradientBoosting": boosting_runs(config, args.seeds)}
    with tempfile.TemporaryDirectory() as folder:
        runs["tfkit"] = [tfkit_run(config, seed, folder) for seed in args.seeds]
    for name, results in runs.items():
        for seed, r in zip(args.seeds, results):
            print(f"{name} seed {seed}: accuracy {r['accuracy']:.4f}  AUC {r['auc']:.4f}  training {r['train_seconds']:.1f}s  "
                  f"wall {r['wall_seconds']:.1f}s  ({r['length']})", flush=True)
    for name, results in runs.items():
        summary = {key: [r[key] for r in results] for key in ("accuracy", "auc", "train_seconds")}
        print(f"{name}: " + "  ".join(f"{key} {statistics.mean(v):.4f} (min {min(v):.4f}, max {max(v):.4f})"
                                      for key, v in summary.items()))


if __name__ == "__main__":
    main()
