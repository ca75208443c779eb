"""Training steps/second on a parameter-server cluster (1 ps, 2 workers) against one device.

The same census wide & deep model (configs/census.yaml), the same batch size
and the same cached data, in one script: once built on the default strategy
and trained by Keras' own ``fit``, once built under a ``ParameterServerStrategy``
over an in-process cluster of real TensorFlow servers on localhost ports and
trained by tfkit's coordinator loop, with 1 and with ``--steps-per-execution``
steps per scheduled function. Epochs alternate in ABBA order; each round gives
one paired ratio, and the median ratio is the figure. Then evaluation over the
same batches, ABBA: milliseconds per batch on one device and on the cluster.

On a 2-core machine the three servers, the coordinator and the input pipelines
share the same two cores, so the ratio measures the loop's overhead (RPCs,
scheduling, variables read over gRPC), not a speed-up.

Usage: python bench/parameter_server.py [--rounds 3] [--batch-size 256] [--steps-per-execution 8]
"""

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from tfkit import config as config_lib  # noqa: E402
from tfkit import distribute  # noqa: E402
from wide_deep import census_model_and_data  # noqa: E402  (bench/ is this script's folder)

# The cached CSV pipeline has no known length, so Keras learns an epoch's length from the first.
warnings.filterwarnings("ignore", message="Your input ran out of data")
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = config_lib.load(os.path.join(ROOT, "configs", "census.yaml"))


def on_strategy(adapted, strategy, **compile_arguments):
    """The adapted model rebuilt (same columns, fresh weights) and compiled under ``strategy``."""
    with strategy.scope():
        model = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(adapted))
        model.compile(optimizer=CONFIG["train"]["optimizer"], **compile_arguments)  # the optimizer belongs to the strategy too
        return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds: each setup trains 2 epochs a round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps-per-execution", type=int, default=8)
    args = parser.parse_args()

    # Connect to the cluster first: it moves this process's devices to the cluster's chief job.
    resolver, _servers = distribute.cluster.local_cluster(num_workers=2, num_ps=1)
    parameter_server = distribute.get("parameter_server", cluster_resolver=resolver)
    keras.utils.set_random_seed(0)
    adapted, dataset = census_model_and_data(args.batch_size)
    steps = sum(1 for _ in dataset)
    models = {"single": on_strategy(adapted, distribute.get("default")),
              "cluster": on_strategy(adapted, parameter_server, steps_per_execution=1),
              "cluster_batched": on_strategy(adapted, parameter_server, steps_per_execution=args.steps_per_execution)}
    single, cluster = models["single"], models["cluster_batched"]

    def epoch(name):
        start = time.perf_counter()
        models[name].fit(dataset, epochs=1, steps_per_epoch=None if name == "single" else steps, verbose=0)
        return time.perf_counter() - start

    setups = ("single", "cluster", "cluster_batched")
    for name in setups:  # warm-up: tracing, the cache fill, the workers' datasets
        epoch(name)
    times = {name: [] for name in setups}
    ratios = {"cluster": [], "cluster_batched": []}
    for _ in range(args.rounds):
        for name in ("cluster", "cluster_batched"):
            paired = {"single": 0.0, name: 0.0}
            for which in ("single", name, name, "single"):
                seconds = epoch(which)
                times[which].append(seconds)
                paired[which] += seconds
            ratios[name].append(paired["single"] / paired[name])
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f"{name:>16}: {steps / seconds:7.1f} steps/s  (median epoch {seconds:.2f}s of {len(values)})")
    # Evaluation: on the cluster it runs on the coordinator, over a local copy of the weights.
    evaluation = {"single": [], "cluster": []}
    for _ in range(args.rounds):
        for name in ("single", "cluster", "cluster", "single"):
            model = single if name == "single" else cluster
            start = time.perf_counter()
            model.evaluate(dataset, verbose=0) if model is single else model.evaluate(dataset)
            evaluation[name].append((time.perf_counter() - start) / steps * 1000)
    for name, values in evaluation.items():
        print(f"{name:>16}: evaluation {statistics.median(values):.2f} ms per batch (median of {len(values)} passes)")
    for name, values in ratios.items():
        per_execution = args.steps_per_execution if name == "cluster_batched" else 1
        print(f"steps/s ratio 1 ps + 2 workers / one device, {per_execution} step(s) per scheduled function: "
              f"{statistics.median(values):.3f} median of {len(values)} paired rounds "
              f"(range {min(values):.3f}-{max(values):.3f}; batch {args.batch_size}, {steps} steps an epoch)")


if __name__ == "__main__":
    main()
