"""examples/census_estimator.py (a tf.estimator program on tfkit.estimator) against `tfkit train configs/census.yaml`
on the same data and epochs.

python bench/estimator.py [--rounds 2] [--epochs 10]

Each round runs, as separate processes timed from start to exit, in ABBA
order: the estimator program (its tutorial input_fn parsing the CSV each
epoch, train_and_evaluate: 10 epochs over adult.data, evaluation on
adult.test, one export) and tfkit's census config with the same epochs over
the whole of adult.data (no validation split, no early stopping; it reads
the CSV once and caches the columns' ids), evaluation on adult.test, export.
Prints each process's wall time and test accuracy, and the ratio of wall
times (estimator program over tfkit train) of each round.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

from census_run import timed  # bench/ is the script's folder: a process, timed from start to exit


def estimator_run(folder, epochs):
    metrics = os.path.join(tempfile.mkdtemp(dir=folder), "metrics.json")
    seconds, _ = timed([sys.executable, "examples/census_estimator.py", "--model-dir", tempfile.mkdtemp(dir=folder),
                        "--train-epochs", str(epochs), "--metrics-file", metrics])
    with open(metrics) as f:
        return seconds, json.load(f)["accuracy"]


def tfkit_run(folder, epochs):
    job_dir = tempfile.mkdtemp(dir=folder)
    seconds, _ = timed(["tfkit", "train", "configs/census.yaml", "--job-dir", job_dir, "--set", f"train.epochs={epochs}",
                        "--set", "train.early_stopping=null", "--set", "data.validation_split=null",
                        "--set", "train.verbose=0"])
    with open(os.path.join(job_dir, "metrics.json")) as f:
        return seconds, json.load(f)["test"]["accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(args.rounds):
            times, accuracy = {"estimator": [], "tfkit": []}, {}
            for name in ("estimator", "tfkit", "tfkit", "estimator"):
                seconds, accuracy[name] = (estimator_run if name == "estimator" else tfkit_run)(folder, args.epochs)
                times[name].append(seconds)
            ratio = sum(times["estimator"]) / sum(times["tfkit"])
            ratios.append(ratio)
            print(f"round {round_number + 1}: estimator program {times['estimator'][0]:.1f}s {times['estimator'][1]:.1f}s "
                  f"(test accuracy {accuracy['estimator']:.4f}), tfkit train {times['tfkit'][0]:.1f}s "
                  f"{times['tfkit'][1]:.1f}s (test accuracy {accuracy['tfkit']:.4f}); ratio {ratio:.3f}", flush=True)
    print(f"median ratio of wall times (estimator program / tfkit train): {statistics.median(ratios):.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
