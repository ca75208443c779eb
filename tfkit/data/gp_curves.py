"""Curves drawn from Gaussian processes, as the neural-process tutorials make them, in tf.data.

Each batch holds ``batch_size`` curves sampled from a GP prior at the same
number of points, split into context points (what a model is told) and
target points (where it predicts; the context points are among them unless
``context_in_targets=False``):

* training (``testing=False``): ``num_context`` uniform in [3,
  ``max_num_context``) context points with x uniform in ``context_range``
  ([-2, 2)), and ``num_target`` new points uniform in [2,
  ``max_num_context``) with x uniform in ``target_range`` (the context's
  range unless given); the targets are all ``num_context + num_target``, as
  in DeepMind's tutorials, or with ``context_in_targets=False`` the new
  points only, as the ConvCNP and TNP papers train (a loss on the new
  points alone spends no steps on copying the context back);
* testing (``testing=True``): 400 targets evenly spaced on ``target_range``,
  and ``num_context`` of those inside ``context_range``, drawn at random,
  the context.

A ``target_range`` wider than the context's asks a model to extrapolate: far
from every context point the best prediction reverts to the prior. A
``l1_scale`` given as ``[low, high]`` gives each curve its own length scale,
uniform in that range, so a model has to infer it from the context.

Batches are ``({"context_x", "context_y", "target_x"}, target_y)`` of
float32 ``[batch, points, x_size]`` / ``[batch, points, y_size]``. Covariances
are computed and factored in float64, as the tutorials do, and observations
carry noise of standard deviation ``noise_scale`` (0.02).

Every batch is a function of the seed and its index only (stateless random
ops), so a seeded source gives the same curves on every run, in any order of
reading.
"""

import math

import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError

KERNELS = ("squared_exponential", "matern52", "periodic")
TEST_POINTS = 400


def covariance(x1, x2, length_scale, signal_scale, kernel="squared_exponential", period=1.0):
    """The kernel's covariance between two sets of points, one matrix per curve and output dimension.

    Args:
        x1: ``[batch, n, x_size]`` points.
        x2: ``[batch, m, x_size]`` points.
        length_scale: ``[batch, y_size, x_size]`` length scales.
        signal_scale: ``[batch, y_size]`` signal standard deviations.
        kernel: ``squared_exponential``, ``matern52`` or ``periodic``.
        period: The period of the periodic kernel.

    Returns:
        ``[batch, y_size, n, m]`` covariances, in the dtype of ``x1``.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[0.0], [1.0]]])
    >>> k = covariance(x, x, np.ones([1, 1, 1]), np.ones([1, 1]))
    >>> np.round(k.numpy()[0, 0], 4).tolist()
    [[1.0, 0.6065], [0.6065, 1.0]]
    """
    x1, x2 = tf.convert_to_tensor(x1), tf.convert_to_tensor(x2)
    dtype = x1.dtype
    length_scale, signal_scale = tf.cast(length_scale, dtype), tf.cast(signal_scale, dtype)
    difference = x1[:, None, :, None, :] - x2[:, None, None, :, :]  # [batch, 1, n, m, x_size]
    scale = length_scale[:, :, None, None, :]
    if kernel == "squared_exponential":
        correlation = tf.exp(-0.5 * tf.reduce_sum(tf.square(difference / scale), -1))
    elif kernel == "matern52":
        distance = tf.sqrt(tf.reduce_sum(tf.square(difference / scale), -1) + 1e-12) * math.sqrt(5.0)
        correlation = (1.0 + distance + tf.square(distance) / 3.0) * tf.exp(-distance)
    elif kernel == "periodic":
        sine = tf.sin(math.pi * tf.abs(difference) / period)
        correlation = tf.exp(-2.0 * tf.reduce_sum(tf.square(sine / scale), -1))
    else:
        raise TfkitError(f"Unknown kernel {kernel!r}. Expected one of: {', '.join(KERNELS)}.")
    return tf.square(signal_scale)[:, :, None, None] * correlation


class GPCurves:
    """A tf.data source of GP curves split into context and target points (see the module docstring).

    Args:
        batch_size: Curves per batch.
        max_num_context: Upper bound (exclusive) of the number of context
            points, and in training of the number of new target points.
        x_size: Dimensions of x.
        y_size: Dimensions of y (independent GP draws with the same kernel).
        l1_scale: Length scale (the upper bound of random ones), or ``[low, high]``:
            each curve's own, uniform in that range.
        sigma_scale: Signal standard deviation (the upper bound of random ones).
        kernel: ``squared_exponential`` (the tutorials'), ``matern52`` or ``periodic``.
        period: Period of the periodic kernel.
        noise_scale: Standard deviation of the observation noise.
        context_range: ``[low, high)`` of the context points' x.
        target_range: ``[low, high)`` of the other target points' x (testing:
            of all 400); None is ``context_range``.
        random_kernel_parameters: Draw each curve's length scale from
            U(0.1, ``l1_scale``) and its signal scale from U(0.1,
            ``sigma_scale``), as in the attentive NP tutorial.
        context_in_targets: Whether a training batch's targets include its
            context points (the tutorials') or are the new points only.
            Testing batches' 400 targets always include the context.
        testing: Testing batches (400 evenly spaced targets) instead of training ones.
        num_batches: Batches in the dataset; None repeats forever.
        seed: Seed of the whole stream; None draws one.

    Example:

    >>> source = GPCurves(batch_size=4, max_num_context=10, seed=1)
    >>> features, target_y = next(iter(source.dataset()))
    >>> features["context_x"].shape[0], features["target_x"].shape[-1], target_y.shape[-1]
    (4, 1, 1)
    >>> test = GPCurves(batch_size=2, testing=True, num_batches=1, seed=1)
    >>> next(iter(test.dataset()))[0]["target_x"].shape
    TensorShape([2, 400, 1])
    """

    def __init__(self, batch_size=64, max_num_context=10, x_size=1, y_size=1, l1_scale=0.4, sigma_scale=1.0,
                 kernel="squared_exponential", period=1.0, noise_scale=0.02, random_kernel_parameters=False,
                 testing=False, num_batches=None, seed=None, context_range=(-2.0, 2.0), target_range=None,
                 context_in_targets=True):
        for name, value, low in (("batch_size", batch_size, 1), ("max_num_context", max_num_context, 4),
                                 ("x_size", x_size, 1), ("y_size", y_size, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise TfkitError(f"{name} must be an integer >= {low}. Received: {name}={value!r}")
        if testing and max_num_context > TEST_POINTS:
            raise TfkitError(f"max_num_context must be at most {TEST_POINTS} in testing mode. Received: {max_num_context}")
        if testing and x_size != 1:
            raise TfkitError(f"testing mode spaces its {TEST_POINTS} targets on a line: x_size must be 1. Received: {x_size}")
        self.context_range = _interval("context_range", context_range)
        self.target_range = self.context_range if target_range is None else _interval("target_range", target_range)
        if testing and not (self.target_range[0] < self.context_range[1] and self.context_range[0] < self.target_range[1]):
            raise TfkitError(f"testing mode draws its context among the targets: target_range {list(self.target_range)} "
                             f"must overlap context_range {list(self.context_range)}.")
        self.length_scale_range = None
        if isinstance(l1_scale, (list, tuple)):
            if random_kernel_parameters:
                raise TfkitError("l1_scale: give either a [low, high] range or random_kernel_parameters, not both.")
            self.length_scale_range = _interval("l1_scale", l1_scale)
            if self.length_scale_range[0] <= 0:
                raise TfkitError(f"l1_scale must be a range of positive numbers. Received: l1_scale={l1_scale!r}")
            l1_scale = self.length_scale_range[1]
        for name, value in (("l1_scale", l1_scale), ("sigma_scale", sigma_scale), ("period", period)):
            if not isinstance(value, (int, float)) or value <= (0.1 if random_kernel_parameters and name != "period" else 0):
                bound = "> 0.1 (random parameters are drawn from U(0.1, scale))" if random_kernel_parameters else "> 0"
                raise TfkitError(f"{name} must be a number {bound}. Received: {name}={value!r}")
        if not isinstance(noise_scale, (int, float)) or noise_scale < 0:
            raise TfkitError(f"noise_scale must be a number >= 0. Received: noise_scale={noise_scale!r}")
        if kernel not in KERNELS:
            raise TfkitError(f"Unknown kernel {kernel!r}. Expected one of: {', '.join(KERNELS)}.")
        if not isinstance(context_in_targets, bool):
            raise TfkitError(f"context_in_targets must be true or false. Received: context_in_targets={context_in_targets!r}")
        if num_batches is not None and (not isinstance(num_batches, int) or num_batches < 1):
            raise TfkitError(f"num_batches must be a positive integer or None. Received: num_batches={num_batches!r}")
        self.batch_size = batch_size
        self.max_num_context = max_num_context
        self.x_size = x_size
        self.y_size = y_size
        self.l1_scale = float(l1_scale)
        self.sigma_scale = float(sigma_scale)
        self.kernel = kernel
        self.period = float(period)
        self.noise_scale = float(noise_scale)
        self.random_kernel_parameters = random_kernel_parameters
        self.testing = testing
        self.context_in_targets = context_in_targets
        self.num_batches = num_batches
        self.seed = seed

    def dataset(self):
        """Batches of ``(features, target_y)``; ``num_batches`` of them, or without end."""
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        indices = tf.data.Dataset.range(self.num_batches) if self.num_batches else tf.data.Dataset.range(2**62)
        batches = indices.map(lambda index: self.batch(tf.stack([tf.constant(seed, tf.int64), index])),
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if self.num_batches:
            batches = batches.apply(tf.data.experimental.assert_cardinality(self.num_batches))
        return batches.prefetch(tf.data.AUTOTUNE)

    def batch(self, seed):
        """One batch, a function of the ``[2]`` int64 ``seed`` alone."""
        seeds = iter(tf.unstack(tf.random.experimental.stateless_split(seed, 6)))
        num_context = tf.random.stateless_uniform([], next(seeds), 3, self.max_num_context, tf.int32)
        if self.testing:
            num_points = TEST_POINTS
            low, high = self.target_range
            line = tf.range(low, high, (high - low) / TEST_POINTS, dtype=tf.float64)[:TEST_POINTS]
            x = tf.tile(line[None, :, None], [self.batch_size, 1, 1])
            next(seeds)
        else:
            num_target = tf.random.stateless_uniform([], next(seeds), 2, self.max_num_context, tf.int32)
            num_points = num_context + num_target
            x_seed = next(seeds)
            if self.target_range == self.context_range:
                x = self._uniform(num_points, x_seed, self.context_range)
            else:
                context_seed, target_seed = tf.unstack(tf.random.experimental.stateless_split(x_seed, 2))
                x = tf.concat([self._uniform(num_context, context_seed, self.context_range),
                               self._uniform(num_target, target_seed, self.target_range)], axis=1)
        length_scale, signal_scale = self._kernel_parameters(next(seeds))
        shared = self.testing and not self._per_curve_kernel  # one grid, one kernel: factor it once
        points = x[:1] if shared else x
        kernel = covariance(points, points, length_scale[:1] if shared else length_scale,
                            signal_scale[:1] if shared else signal_scale, self.kernel, self.period)
        kernel += self.noise_scale**2 * tf.eye(num_points, dtype=tf.float64)
        noise = tf.random.stateless_normal([self.batch_size, self.y_size, num_points, 1], next(seeds), dtype=tf.float64)
        y = tf.transpose(tf.squeeze(tf.linalg.cholesky(kernel) @ noise, -1), [0, 2, 1])  # [batch, points, y_size]
        x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)
        if self.testing:
            inside = (line >= self.context_range[0]) & (line < self.context_range[1])
            order = tf.argsort(tf.random.stateless_uniform([num_points], next(seeds))
                               - tf.cast(inside, tf.float32))  # the targets inside the context's range first
            chosen = order[:tf.minimum(num_context, tf.reduce_sum(tf.cast(inside, tf.int32)))]
            context_x, context_y = tf.gather(x, chosen, axis=1), tf.gather(y, chosen, axis=1)
        else:
            context_x, context_y = x[:, :num_context], y[:, :num_context]
            if not self.context_in_targets:
                x, y = x[:, num_context:], y[:, num_context:]
        return {"context_x": context_x, "context_y": context_y, "target_x": x}, y

    @property
    def _per_curve_kernel(self):
        return self.random_kernel_parameters or self.length_scale_range is not None

    def _uniform(self, num_points, seed, interval):
        return tf.random.stateless_uniform([self.batch_size, num_points, self.x_size], seed, *interval, tf.float64)

    def _kernel_parameters(self, seed):
        shape = [self.batch_size, self.y_size]
        if self.length_scale_range is not None:  # one length scale a curve, for all its outputs and dimensions
            scale = tf.random.stateless_uniform([self.batch_size, 1, 1], seed, *self.length_scale_range, tf.float64)
            return tf.tile(scale, [1, self.y_size, self.x_size]), tf.fill(shape, tf.constant(self.sigma_scale, tf.float64))
        if not self.random_kernel_parameters:
            return tf.fill(shape + [self.x_size], tf.constant(self.l1_scale, tf.float64)), tf.fill(shape, tf.constant(self.sigma_scale, tf.float64))
        length_seed, signal_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        return (tf.random.stateless_uniform(shape + [self.x_size], length_seed, 0.1, self.l1_scale, tf.float64),
                tf.random.stateless_uniform(shape, signal_seed, 0.1, self.sigma_scale, tf.float64))

    def get_config(self):
        l1_scale = self.l1_scale if self.length_scale_range is None else list(self.length_scale_range)
        return {"batch_size": self.batch_size, "max_num_context": self.max_num_context, "x_size": self.x_size,
                "y_size": self.y_size, "l1_scale": l1_scale, "sigma_scale": self.sigma_scale,
                "kernel": self.kernel, "period": self.period, "noise_scale": self.noise_scale,
                "random_kernel_parameters": self.random_kernel_parameters, "testing": self.testing,
                "num_batches": self.num_batches, "seed": self.seed, "context_range": list(self.context_range),
                "target_range": list(self.target_range), "context_in_targets": self.context_in_targets}


def _interval(name, value):
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) or value[0] >= value[1]):
        raise TfkitError(f"{name} must be [low, high] with low < high. Received: {name}={value!r}")
    return float(value[0]), float(value[1])
