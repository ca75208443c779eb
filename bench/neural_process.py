"""tfkit's neural processes against plain TensorFlow ports, and against the exact GP.

* ``speed`` (default): training steps/second of a tfkit model (``model.fit``)
  and of a plain TensorFlow port of it (a ``tf.function`` step over
  ``tf.Variable`` weights, Keras' Adam) on the same cached GP-curve batches,
  epochs in ABBA order; the ratio is tfkit's time per step over the port's.
  ``--model cnp`` (default): the port of DeepMind's CNP tutorial (encoder
  4 × 128, decoder 2 × 128 + 2, batch 64). ``--model convcnp`` / ``tnp``: the
  ports in bench/np_ports.py, which start from the tfkit model's own weights
  and are checked to compute its outputs before any timing.
* ``nll``: every model of ``--models`` (CNP, ANP, ConvCNP, TNP: each with its
  documented defaults and learning rate) trains for the same wall-time
  ``--budget`` on the same stream of curves of each ``--kernels`` kernel
  (``--targets new``: the loss on each curve's new points, as the ConvCNP and
  TNP papers train; ``all``: on its context points too, as the tutorials), from
  ``--seeds`` initialisations; the negative log-likelihood per target point on
  held-out testing curves (400 targets on [-2, 2), seed fixed) is printed as
  each run ends and in a table, next to the exact GP's.
* ``gap``: the first of ``--models`` on the first of ``--kernels``, its NLL on
  the testing curves at each of ``--checkpoints`` seconds of training (the
  learning curve, evaluation time not counted), then where its distance from
  the exact GP lies: NLL of both by the target's distance to the nearest
  context point, the log ratio of their σ and the model's mean error in the
  GP's σ.

Usage: python bench/neural_process.py [--model convcnp] [--rounds 3] [--steps 200]
       python bench/neural_process.py --mode nll [--budget 60] [--seeds 3] [--max-num-context 10] [--batch-size 16]
       python bench/neural_process.py --mode gap --models convcnp --kernels periodic [--checkpoints 60,120,240]
"""

import argparse
import math
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfkit.data import GPCurves  # noqa: E402
from tfkit.models import (AttentiveNeuralProcess, ConditionalNeuralProcess, ConvCNP, GaussianProcess,  # noqa: E402
                          TransformerNeuralProcess)

ENCODER, DECODER = [128, 128, 128, 128], [128, 128, 2]


class TutorialCNP(tf.Module):
    """The CNP tutorial's model and training step, ported to TF2: variables, matmuls, Adam."""

    def __init__(self, seed=0):
        super().__init__()
        generator = tf.random.Generator.from_seed(seed)

        def glorot_uniform(shape):  # tf.layers.Dense's default: each layer its own draw
            limit = math.sqrt(6.0 / sum(shape))
            return generator.uniform(shape, -limit, limit)

        def mlp(sizes, width, prefix):
            layers = []
            for i, size in enumerate(sizes):
                layers.append((tf.Variable(glorot_uniform([width, size]), name=f"{prefix}{i}_w"),
                               tf.Variable(tf.zeros([size]), name=f"{prefix}{i}_b")))
                width = size
            return layers

        self.encoder = mlp(ENCODER, 2, "encoder")
        self.decoder = mlp(DECODER, ENCODER[-1] + 1, "decoder")
        self.optimizer = keras.optimizers.Adam(1e-4)
        self.step = tf.function(self._step, input_signature=[tf.TensorSpec([None, None, 1])] * 4)

    def variables_in_order(self):
        """Encoder then decoder, kernel then bias of each layer (``trainable_variables`` sorts by name)."""
        return [variable for layer in self.encoder + self.decoder for variable in layer]

    @staticmethod
    def _mlp(layers, x):
        for i, (w, b) in enumerate(layers):
            x = tf.tensordot(x, w, 1) + b
            if i < len(layers) - 1:
                x = tf.nn.relu(x)
        return x

    def log_prob(self, context_x, context_y, target_x, target_y):
        representation = tf.reduce_mean(self._mlp(self.encoder, tf.concat([context_x, context_y], -1)), axis=1)
        representation = tf.tile(representation[:, None], [1, tf.shape(target_x)[1], 1])
        mu, log_sigma = tf.split(self._mlp(self.decoder, tf.concat([representation, target_x], -1)), 2, axis=-1)
        sigma = 0.1 + 0.9 * tf.nn.softplus(log_sigma)
        return tf.reduce_sum(-0.5 * tf.square((target_y - mu) / sigma) - tf.math.log(sigma) - 0.5 * math.log(2 * math.pi), -1)

    def _step(self, context_x, context_y, target_x, target_y):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.log_prob(context_x, context_y, target_x, target_y))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables), self.trainable_variables))
        return loss

    def fit(self, dataset, steps):
        for features, target_y in dataset.take(steps):
            self.step(features["context_x"], features["context_y"], features["target_x"], target_y)

    def nll(self, dataset):
        values = [-tf.reduce_mean(self.log_prob(f["context_x"], f["context_y"], f["target_x"], y)) for f, y in dataset]
        return float(tf.reduce_mean(values))


def curves(args, seed, **kwargs):
    if not kwargs.get("testing"):
        kwargs.setdefault("context_in_targets", args.targets == "all")
    return GPCurves(batch_size=args.batch_size, max_num_context=args.max_num_context, seed=seed, **kwargs).dataset()


MODELS = {"cnp": ConditionalNeuralProcess, "anp": AttentiveNeuralProcess, "convcnp": ConvCNP,
          "tnp": TransformerNeuralProcess}


def speed(args):
    from np_ports import ConvCNPPort, TNPPort  # bench/, beside this script
    from paired import abba_rounds

    data = curves(args, seed=0, context_in_targets=True).take(args.steps).cache()  # the tutorial's batches
    for _ in data:  # the curves are drawn once, outside the timings
        pass
    if args.model == "cnp":
        tfkit_model = ConditionalNeuralProcess(encoder_sizes=ENCODER, decoder_sizes=DECODER[:-1])
        tfkit_model.compile()
        port = TutorialCNP()
    else:
        tfkit_model = MODELS[args.model]()
        tfkit_model.compile(steps_per_execution=args.steps_per_execution)
        tfkit_model.build()
        port = (ConvCNPPort if args.model == "convcnp" else TNPPort)(tfkit_model)
        port.check(tfkit_model, next(iter(data))[0])

    cpu_times = {"tfkit": [], "port": []}

    def epoch(model, dataset):
        start, cpu = time.perf_counter(), time.process_time()
        if model is port:
            port.fit(dataset, args.steps)
        else:
            model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        cpu_times["port" if model is port else "tfkit"].append(time.process_time() - cpu)
        return time.perf_counter() - start

    models = {"tfkit": tfkit_model, "port": port}
    for model in models.values():  # warm-up: tracing
        epoch(model, data)
    cpu_times = {"tfkit": [], "port": []}  # the warm-up epochs do not count
    counts = {"tfkit": tfkit_model.count_params(), "port": sum(int(tf.size(v)) for v in port.trainable_variables)}
    print(f"{args.model}: {args.steps} steps of batch {args.batch_size} an epoch; parameters tfkit {counts['tfkit']:,}  "
          f"port {counts['port']:,}")
    times, ratios = abba_rounds(models, data, args.rounds, epoch)
    for name, values in times.items():
        print(f"  {name:>6}: {args.steps / statistics.median(values):8,.1f} steps/s  (median epoch {statistics.median(values):.2f}s "
              f"of {len(values)}; CPU {statistics.median(cpu_times[name]):.2f}s)")
    print(f"  ratio tfkit/port time per step: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); {min(times['tfkit']) / min(times['port']):.3f} of the best epochs; "
          f"{statistics.median(cpu_times['tfkit']) / statistics.median(cpu_times['port']):.3f} of median CPU time")


def train_for(model, dataset, budget, chunk=50):
    """Trains ``model`` on ``dataset`` in ``chunk``-step epochs of one ``fit`` (one pass through the stream) until
    ``budget`` seconds are spent; returns the steps trained."""
    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.epochs = time.perf_counter(), 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1
            self.model.stop_training = time.perf_counter() - self.start >= budget

    spent = Budget()
    model.fit(dataset, steps_per_epoch=chunk, epochs=10**9, verbose=0, callbacks=[spent])
    return spent.epochs * chunk


def nll(args):
    results, steps = {}, {}
    for kernel in args.kernels:
        test = curves(args, seed=12345, testing=True, num_batches=args.test_batches, kernel=kernel)
        gp = GaussianProcess(kernel=kernel)
        gp.compile()
        results[("exact GP", kernel)] = [gp.evaluate(test, verbose=0, return_dict=True)["nll"]]
        for seed in range(args.seeds):  # initial weights; every model sees the same curves
            for name in args.models:
                keras.utils.set_random_seed(seed)
                model = MODELS[name]()
                model.compile()
                trained = train_for(model, curves(args, seed=1, kernel=kernel), args.budget)
                value = model.evaluate(test, verbose=0, return_dict=True)["nll"]
                results.setdefault((name, kernel), []).append(value)
                steps.setdefault((name, kernel), []).append(trained)
                print(f"{kernel:>20} seed {seed} {name:>8}: NLL {value:7.4f} after {trained} steps", flush=True)
    print(f"\n{args.budget:.0f} s of training each on {args.targets} targets, batch {args.batch_size}, max_num_context {args.max_num_context}, "
          f"{args.seeds} initialisations; test: {args.test_batches} batches of {args.batch_size} curves, 400 targets each")
    print("| model | " + " | ".join(args.kernels) + " |")
    print("|---|" + "---|" * len(args.kernels))
    for name in ("exact GP", *args.models):
        cells = []
        for kernel in args.kernels:
            values = results[(name, kernel)]
            cell = f"{statistics.mean(values):.3f}"
            if len(values) > 1:
                cell += f" ± {statistics.pstdev(values):.3f} ({statistics.mean(steps[(name, kernel)]):,.0f} steps)"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |")


def gap(args):
    name, kernel = args.models[0], args.kernels[0]
    test = curves(args, seed=12345, testing=True, num_batches=args.test_batches, kernel=kernel)
    gp = GaussianProcess(kernel=kernel)
    gp.compile()
    print(f"{kernel}: exact GP NLL {gp.evaluate(test, verbose=0, return_dict=True)['nll']:.4f}")
    keras.utils.set_random_seed(0)
    model = MODELS[name]()
    model.compile()
    trained, spent = 0, 0.0
    for phase, checkpoint in enumerate(args.checkpoints):  # each phase on new curves (seeds 1, 2, ...)
        start = time.perf_counter()
        trained += train_for(model, curves(args, seed=1 + phase, kernel=kernel), checkpoint - spent)
        spent += time.perf_counter() - start
        print(f"{name} after {spent:5.0f} s, {trained:6,} steps: NLL {model.evaluate(test, verbose=0, return_dict=True)['nll']:.4f}",
              flush=True)
    columns = {key: [] for key in ("model", "gp", "distance", "log_ratio", "error")}
    for features, target_y in test:
        model_out, gp_out = (m.predict(features, verbose=0) for m in (model, gp))
        for key, out in (("model", model_out), ("gp", gp_out)):
            z = (target_y.numpy() - out["mean"]) / out["stddev"]
            columns[key].append((0.5 * math.log(2 * math.pi) + np.log(out["stddev"]) + 0.5 * z**2).ravel())
        offsets = features["target_x"].numpy() - np.swapaxes(features["context_x"].numpy(), 1, 2)  # [batch, targets, context]
        columns["distance"].append(np.min(np.abs(offsets), axis=-1).ravel())
        columns["log_ratio"].append(np.log(model_out["stddev"] / gp_out["stddev"]).ravel())
        columns["error"].append(((model_out["mean"] - gp_out["mean"]) / gp_out["stddev"]).ravel())
    columns = {key: np.concatenate(values) for key, values in columns.items()}
    print("| distance to the context | targets | model NLL | GP NLL | share of the gap | log σ_model/σ_GP | rms mean error / σ_GP |")
    print("|---|---|---|---|---|---|---|")
    total = np.sum(columns["model"] - columns["gp"])
    for low, high in ((0, 0.01), (0.01, 0.1), (0.1, 0.3), (0.3, 0.6), (0.6, 1.0), (1.0, np.inf)):
        rows = (columns["distance"] >= low) & (columns["distance"] < high)
        if rows.any():
            print(f"| [{low}, {high}) | {rows.sum():,} | {columns['model'][rows].mean():.3f} | {columns['gp'][rows].mean():.3f} | "
                  f"{np.sum(columns['model'][rows] - columns['gp'][rows]) / total:.0%} | {columns['log_ratio'][rows].mean():+.3f} | "
                  f"{np.sqrt(np.mean(columns['error'][rows] ** 2)):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("speed", "nll", "gap"), default="speed")
    parser.add_argument("--model", choices=("cnp", "convcnp", "tnp"), default="cnp", help="the model timed (speed)")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds (speed)")
    parser.add_argument("--steps", type=int, default=200, help="steps per epoch (speed)")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="tfkit's steps per call of its compiled step, train.steps_per_execution (speed of convcnp, tnp)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 (speed of cnp), 16 (otherwise)")
    parser.add_argument("--max-num-context", type=int, default=10)
    parser.add_argument("--test-batches", type=int, default=10, help="testing batches (nll)")
    parser.add_argument("--seeds", type=int, default=3, help="initialisations of each model (nll)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training of each model (nll)")
    parser.add_argument("--targets", choices=("new", "all"), default="new",
                        help="training targets (nll, gap): the new points only, as the ConvCNP and TNP papers train, "
                             "or the context points too, as DeepMind's tutorials")
    parser.add_argument("--models", default="cnp,anp,convcnp,tnp", help="comma-separated (nll)")
    parser.add_argument("--kernels", default="squared_exponential,matern52,periodic", help="comma-separated (nll)")
    parser.add_argument("--checkpoints", default="60,120,240", help="comma-separated seconds of training (gap)")
    args = parser.parse_args()
    args.models, args.kernels = args.models.split(","), args.kernels.split(",")
    args.checkpoints = [float(seconds) for seconds in args.checkpoints.split(",")]
    if args.batch_size is None:
        args.batch_size = 64 if args.mode == "speed" and args.model == "cnp" else 16
    keras.utils.set_random_seed(0)
    {"speed": speed, "nll": nll, "gap": gap}[args.mode](args)


if __name__ == "__main__":
    main()
