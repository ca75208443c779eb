"""tfkit's neural processes against a plain TensorFlow port of DeepMind's CNP tutorial.

Two measurements, both on the same GP curves (tfkit.data.GPCurves, the
tutorial's squared-exponential kernel, l1 0.4, sigma 1.0):

* ``speed`` (default): training steps/second of tfkit's ConditionalNeuralProcess
  (``model.fit``) and of the port (a ``tf.function`` step over ``tf.Variable``
  matrices, Adam), same sizes (encoder 4 × 128, decoder 2 × 128 + 2), batch 64,
  epochs in ABBA order; the ratio is the port's steps/s over tfkit's (time per
  step, tfkit over the port).
* ``nll``: the port's CNP, tfkit's CNP and tfkit's ANP each train the same
  number of steps (Adam 1e-4, the tutorials' rate) on the same curve stream,
  from ``--seeds`` initialisations each; the negative log-likelihood per target
  point on held-out testing curves (400 targets on [-2, 2), seed fixed) is
  printed (mean, spread, each run) next to the exact GP's.

Usage: python bench/neural_process.py [--rounds 3] [--steps 200]
       python bench/neural_process.py --mode nll [--steps 5000] [--seeds 3] [--max-num-context 10]
"""

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfkit.data import GPCurves  # noqa: E402
from tfkit.models import AttentiveNeuralProcess, ConditionalNeuralProcess, GaussianProcess  # noqa: E402

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
    return GPCurves(batch_size=args.batch_size, max_num_context=args.max_num_context, seed=seed, **kwargs).dataset()


def speed(args):
    from paired import abba_rounds  # bench/paired.py, beside this script

    tfkit_model = ConditionalNeuralProcess(encoder_sizes=ENCODER, decoder_sizes=DECODER[:-1])
    tfkit_model.compile()
    port = TutorialCNP()
    data = curves(args, seed=0).take(args.steps).cache()
    for _ in data:  # the curves are drawn once, outside the timings
        pass

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
    print(f"{args.steps} steps of batch {args.batch_size} an epoch; parameters tfkit {counts['tfkit']:,}  port {counts['port']:,}")
    times, ratios = abba_rounds(models, data, args.rounds, epoch)
    for name, values in times.items():
        print(f"  {name:>6}: {args.steps / statistics.median(values):8,.1f} steps/s  (median epoch {statistics.median(values):.2f}s "
              f"of {len(values)}; CPU {statistics.median(cpu_times[name]):.2f}s)")
    print(f"  ratio tfkit/port time per step: {statistics.median(ratios):.3f} median of {len(ratios)} paired rounds "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); {min(times['tfkit']) / min(times['port']):.3f} of the best epochs; "
          f"{statistics.median(cpu_times['tfkit']) / statistics.median(cpu_times['port']):.3f} of median CPU time")


def nll(args):
    test = curves(args, seed=12345, testing=True, num_batches=args.test_batches)
    gp = GaussianProcess(l1_scale=0.4, sigma_scale=1.0)
    gp.compile()
    results, seconds = {"exact GP": [gp.evaluate(test, verbose=0, return_dict=True)["nll"]]}, {}

    def timed(name, train):
        start = time.perf_counter()
        results.setdefault(name, []).append(train())
        seconds.setdefault(name, []).append(time.perf_counter() - start)

    def port_run(seed, weights=None):
        port = TutorialCNP(seed)
        for variable, value in zip(port.variables_in_order(), weights or []):  # tfkit's order: kernel, bias by layer
            variable.assign(value)
        port.fit(curves(args, seed=1), args.steps)
        return port.nll(test)

    def tfkit_run(model, seed):
        keras.utils.set_random_seed(seed)
        model = model()
        model.compile()
        model.build()
        start.append(model.get_weights())
        model.fit(curves(args, seed=1), steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
        return model.evaluate(test, verbose=0, return_dict=True)["nll"]

    for seed in range(args.seeds):  # initial weights; every model sees the same curves
        start = []
        timed("tfkit CNP", lambda: tfkit_run(ConditionalNeuralProcess, seed))
        timed("port, tfkit's start", lambda: port_run(seed, start[0]))
        timed("port, own start", lambda: port_run(seed))
        timed("tfkit ANP", lambda: tfkit_run(AttentiveNeuralProcess, seed))
    print(f"{args.steps} training steps of batch {args.batch_size}, max_num_context {args.max_num_context}, "
          f"{args.seeds} initialisations; test: {args.test_batches} batches of {args.batch_size} curves, 400 targets each")
    for name, values in results.items():
        spread = f" ± {statistics.pstdev(values):.4f} ({', '.join(f'{v:.4f}' for v in values)})" if len(values) > 1 else ""
        trained = f"; {statistics.mean(seconds[name]):.0f} s training each" if name in seconds else ""
        print(f"  {name:>20}: NLL per target point {statistics.mean(values):7.4f}{spread}{trained}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("speed", "nll"), default="speed")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds (speed)")
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (speed, default 200) or of training (nll, default 4000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-num-context", type=int, default=10)
    parser.add_argument("--test-batches", type=int, default=10, help="testing batches (nll)")
    parser.add_argument("--seeds", type=int, default=3, help="initialisations of each model (nll)")
    args = parser.parse_args()
    if args.steps is None:
        args.steps = 200 if args.mode == "speed" else 5000
    keras.utils.set_random_seed(0)
    speed(args) if args.mode == "speed" else nll(args)


if __name__ == "__main__":
    main()
