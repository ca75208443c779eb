"""The exact Gaussian-process posterior predictive: the Bayes-optimal baseline for neural processes."""

import inspect

import keras
import tensorflow as tf

from tfkit.data.gp_curves import KERNELS, covariance
from tfkit.errors import TfkitError
from tfkit.models.neural_process import PointSetModel

_KERNEL_ARGUMENTS = ("kernel", "l1_scale", "sigma_scale", "period", "noise_scale")


@keras.saving.register_keras_serializable(package="tfkit")
class GaussianProcess(PointSetModel):
    """Predicts y at target points from context points by exact GP regression with a given kernel.

    On curves drawn from the same kernel (:class:`tfkit.data.GPCurves` with
    the same parameters and fixed kernel parameters) this is the best any
    model can do, so a neural process's ``nll`` is best read next to it. The
    predictive at each target is N(k_tc A⁻¹ y_c, k_tt + σ_n² − k_tc A⁻¹ k_ct),
    A = K_cc + σ_n² I, computed in float64 with a Cholesky factor. It has
    nothing to train: use it with ``predict``, ``evaluate`` and ``export``.
    A ``context_mask`` removes padded context points exactly.

    With ``l1_scale`` a range ``[low, high]`` (curves whose length scale is
    drawn per curve, uniform in it) the Bayes-optimal prediction averages
    over the length scale: a mixture of the exact GPs at the midpoints of
    ``num_length_scales`` equal parts of the range, each weighted by its
    posterior given the context (its marginal likelihood of the context
    points, normalised over the mixture).

    Args:
        x_size: Dimensions of x.
        y_size: Dimensions of y (independent, the same kernel).
        kernel: ``squared_exponential``, ``matern52`` or ``periodic``.
        l1_scale: Length scale, or a ``[low, high]`` range of them (see above).
        sigma_scale: Signal standard deviation.
        period: Period of the periodic kernel.
        noise_scale: Observation noise standard deviation.
        num_length_scales: Length scales averaged over with a range.

    Example:

    >>> import numpy as np
    >>> gp = GaussianProcess(l1_scale=0.4, sigma_scale=1.0)
    >>> gp.compile()
    >>> context_x = np.array([[[-1.0], [0.0], [1.0]]])
    >>> predictions = gp.predict(context_x, np.array([[[0.5], [0.2], [-0.3]]]), context_x, verbose=0)
    >>> [round(float(v), 2) for v in predictions["mean"][0, :, 0]]
    [0.5, 0.2, -0.3]
    """

    def __init__(self, x_size=1, y_size=1, kernel="squared_exponential", l1_scale=0.4, sigma_scale=1.0, period=1.0,
                 noise_scale=0.02, num_length_scales=16, name="gaussian_process"):
        super().__init__(x_size, y_size, name=name)
        if kernel not in KERNELS:
            raise TfkitError(f"Unknown kernel {kernel!r}. Expected one of: {', '.join(KERNELS)}.")
        self.length_scales = None
        if isinstance(l1_scale, (list, tuple)):
            if (len(l1_scale) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in l1_scale)
                    or not 0 < l1_scale[0] < l1_scale[1]):
                raise TfkitError(f"l1_scale must be a positive number or a range [low, high], 0 < low < high. "
                                 f"Received: l1_scale={l1_scale!r}")
            if not isinstance(num_length_scales, int) or isinstance(num_length_scales, bool) or num_length_scales < 1:
                raise TfkitError(f"num_length_scales must be a positive integer. Received: {num_length_scales!r}")
            low, high = float(l1_scale[0]), float(l1_scale[1])
            self.length_scales = [low + (i + 0.5) * (high - low) / num_length_scales for i in range(num_length_scales)]
            l1_scale = [low, high]
        for key, value in (("l1_scale", 1.0 if self.length_scales else l1_scale), ("sigma_scale", sigma_scale),
                           ("period", period), ("noise_scale", noise_scale)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise TfkitError(f"{key} must be a positive number. Received: {key}={value!r}")
        self.kernel = kernel
        self.l1_scale = l1_scale if self.length_scales else float(l1_scale)
        self.num_length_scales = num_length_scales
        self.sigma_scale = float(sigma_scale)
        self.period = float(period)
        self.noise_scale = float(noise_scale)

    @classmethod
    def of_curves(cls, arguments, x_size=1, y_size=1):
        """The GP that draws :class:`~tfkit.data.GPCurves` of these arguments (averaged over a length-scale range),
        or None if each curve has its own signal scale too (``random_kernel_parameters``)."""
        if arguments.get("random_kernel_parameters"):
            return None
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items() if k in _KERNEL_ARGUMENTS}
        model = cls(x_size, y_size, **{**defaults, **{k: v for k, v in arguments.items() if k in _KERNEL_ARGUMENTS}})
        model.compile()
        return model

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, training=False):
        points = [None if v is None else tf.cast(v, tf.float64) for v in self._points(inputs)]
        if self.length_scales is None:
            mean, stddev, _ = self._posterior(*points, self.l1_scale)
            return tf.cast(tf.concat([mean, stddev], axis=-1), self.compute_dtype)[:, :, None, :]
        # A mixture over the length scales, each weighted by its marginal likelihood of the context.
        parts = [self._posterior(*points, length) for length in self.length_scales]
        means, stddevs = tf.stack([p[0] for p in parts], 2), tf.stack([p[1] for p in parts], 2)
        log_weights = tf.stack([p[2] for p in parts], 1)  # [batch, length scales]
        log_weights = tf.tile(log_weights[:, None, :, None], [1, tf.shape(means)[1], 1, 1])
        return tf.cast(tf.concat([means, stddevs, log_weights], axis=-1), self.compute_dtype)

    def _posterior(self, context_x, context_y, target_x, mask, l1_scale):
        """The predictive mean and stddev ``[batch, targets, y_size]`` and the log marginal likelihood of the
        context ``[batch]`` (up to a constant) of the GP with this length scale."""
        batch, num_context = tf.shape(context_x)[0], tf.shape(context_x)[1]
        length_scale = tf.fill([batch, self.y_size, self.x_size], tf.constant(l1_scale, tf.float64))
        signal_scale = tf.fill([batch, self.y_size], tf.constant(self.sigma_scale, tf.float64))

        def kernel(x1, x2):
            return covariance(x1, x2, length_scale, signal_scale, self.kernel, self.period)

        noise = self.noise_scale**2
        context = kernel(context_x, context_x) + noise * tf.eye(num_context, dtype=tf.float64)
        cross = kernel(target_x, context_x)  # [batch, y_size, targets, context]
        observed = tf.transpose(context_y, [0, 2, 1])[..., None]  # [batch, y_size, context, 1]
        if mask is not None:
            # A padded point becomes an independent unit-variance point with y = 0 that no target correlates with.
            keep = mask[:, None, :, None] * mask[:, None, None, :]
            context = context * keep + tf.linalg.diag(tf.tile((1.0 - mask)[:, None, :], [1, self.y_size, 1]))
            cross, observed = cross * mask[:, None, None, :], observed * mask[:, None, :, None]
        cholesky = tf.linalg.cholesky(context)
        solved = tf.linalg.cholesky_solve(cholesky, observed)  # A⁻¹ y: [batch, y_size, context, 1]
        mean = cross @ solved  # [batch, y_size, targets, 1]
        explained = tf.linalg.triangular_solve(cholesky, tf.linalg.matrix_transpose(cross), lower=True)
        variance = self.sigma_scale**2 + noise - tf.reduce_sum(tf.square(explained), axis=-2)  # [batch, y_size, targets]
        stddev = tf.sqrt(tf.maximum(variance, 1e-12))
        # log N(y | 0, A) without -n/2 log 2π (the same for every length scale; padded points add 0).
        log_likelihood = (-0.5 * tf.reduce_sum(observed * solved, axis=[1, 2, 3])
                          - tf.reduce_sum(tf.math.log(tf.linalg.diag_part(cholesky)), axis=[1, 2]))
        return tf.transpose(mean[..., 0], [0, 2, 1]), tf.transpose(stddev, [0, 2, 1]), log_likelihood

    def fit(self, *args, **kwargs):
        raise TfkitError("A GaussianProcess has nothing to train: its kernel is given. Use predict or evaluate.")

    def get_config(self):
        return {**super().get_config(), "kernel": self.kernel, "l1_scale": self.l1_scale,
                "sigma_scale": self.sigma_scale, "period": self.period, "noise_scale": self.noise_scale,
                "num_length_scales": self.num_length_scales}
