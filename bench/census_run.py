"""`tfkit train configs/census.yaml` end to end against a plain Keras 3 script of the same run.

python bench/census_run.py [--rounds 2]

Each round runs, as separate processes timed from start to exit, in ABBA
order: tfkit's census run (adapt, training with early stopping on the
validation split, test evaluation, export) and ``bench/plain_census.py``
(the same wide & deep written in plain Keras 3, preprocessing in tf.data and
cached, FTRL + Adagrad) for the number of epochs tfkit trained. Prints each
process's wall time, tfkit's test accuracy, and the ratio of wall times
(tfkit over plain Keras) of each round.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(command):
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, result.stdout


def tfkit_run(folder):
    job_dir = tempfile.mkdtemp(dir=folder)
    seconds, _ = timed(["tfkit", "train", "configs/census.yaml", "--job-dir", job_dir])
    with open(os.path.join(job_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return seconds, metrics


def plain_run(folder, epochs):
    seconds, output = timed([sys.executable, "bench/plain_census.py", str(epochs), os.path.join(tempfile.mkdtemp(dir=folder), "export")])
    return seconds, json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        _, metrics = tfkit_run(folder)  # how many epochs early stopping trains (the same every run: seeded)
        epochs = metrics["epochs"]
        for round_number in range(args.rounds):
            times = {"tfkit": [], "plain": []}
            for name in ("tfkit", "plain", "plain", "tfkit"):
                if name == "tfkit":
                    seconds, metrics = tfkit_run(folder)
                    assert metrics["epochs"] == epochs
                else:
                    seconds, plain = plain_run(folder, epochs)
                times[name].append(seconds)
            ratio = sum(times["tfkit"]) / sum(times["plain"])
            ratios.append(ratio)
            print(f"round {round_number + 1}: tfkit {times['tfkit'][0]:.1f}s {times['tfkit'][1]:.1f}s "
                  f"(test accuracy {metrics['test']['accuracy']:.4f}, {epochs} epochs), plain Keras "
                  f"{times['plain'][0]:.1f}s {times['plain'][1]:.1f}s (test accuracy {plain['test_accuracy']:.4f}); "
                  f"ratio {ratio:.3f}", flush=True)
    print(f"median ratio of wall times (tfkit / plain Keras 3): {statistics.median(ratios):.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
