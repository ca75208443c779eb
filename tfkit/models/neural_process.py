"""Neural processes: conditional (CNP), latent (NP) and attentive (ANP), after DeepMind's tutorials.

A neural process reads context points ``(context_x, context_y)`` of one
function and predicts a Gaussian over y at every ``target_x``. Inputs are
float32 ``[batch, points, size]`` tensors named ``context_x``,
``context_y`` and ``target_x`` (plus, optionally, a ``context_mask``
``[batch, context points]`` when curves with fewer context points are padded);
labels are ``target_y``. Predictions are ``mean`` and ``stddev``
``[batch, targets, y_size]``; ``evaluate`` reports ``nll``, the negative
log-likelihood per target point.

The latent models (:class:`NeuralProcess`, :class:`AttentiveNeuralProcess`)
train on the ELBO: z drawn from q(z | targets), the likelihood of the targets,
minus KL(q(z | targets) ‖ q(z | context)) per target point. ``fit`` passes the
targets to the model for that; ``predict``, ``evaluate`` and exports draw
``num_samples`` z from q(z | context) with fixed noise (the same for every
curve and every call, so predictions are reproducible) and predict their
equal mixture.
"""

import keras
import numpy as np
import tensorflow as tf

from tfkit.errors import TfkitError
from tfkit.features.base import RawInput
from tfkit.layers.neural_process import DeterministicEncoder, GaussianDecoder, LatentEncoder
from tfkit.models.base import Model

CURVE_INPUTS = ("context_x", "context_y", "target_x")


class PointSetModel(Model):
    """The base of models that read context and target points: inputs, building, predict and config."""

    def __init__(self, x_size=1, y_size=1, name=None):
        for key, value in (("x_size", x_size), ("y_size", y_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TfkitError(f"{key} must be a positive integer. Received: {key}={value!r}")
        super().__init__(head="gaussian", num_classes=y_size, name=name)
        self.x_size = x_size
        self.y_size = y_size

    def feature_columns(self):
        return []

    def input_specs(self):
        return {
            "context_x": RawInput("float32", self.x_size, (None, self.x_size)),
            "context_y": RawInput("float32", self.y_size, (None, self.y_size)),
            "target_x": RawInput("float32", self.x_size, (None, self.x_size)),
        }

    def build(self, input_shape=None):
        if self.built:
            return
        # One curve of one context and one target point builds every sublayer with its real shapes.
        self.call({key: tf.zeros([1, 1, spec.width]) for key, spec in self.input_specs().items()})
        self.built = True

    def _points(self, inputs):
        missing = [key for key in CURVE_INPUTS if key not in inputs]
        if missing:
            raise TfkitError(f"{type(self).__name__} reads {', '.join(CURVE_INPUTS)}; missing: {', '.join(missing)}.")
        points = [tf.cast(inputs[key], self.compute_dtype) for key in CURVE_INPUTS]
        mask = inputs.get("context_mask")
        return (*points, None if mask is None else tf.cast(mask, self.compute_dtype))

    def predict(self, x, context_y=None, target_x=None, **kwargs):
        """``predict(features)`` or ``predict(context_x, context_y, target_x)``: ``{"mean", "stddev"}``.

        Keyword arguments are Keras ``predict``'s (``batch_size``, ``verbose``, ...).
        """
        if context_y is not None or target_x is not None:
            x = {"context_x": x, "context_y": context_y, "target_x": target_x}
        return super().predict(x, **kwargs)

    def get_config(self):
        return {"x_size": self.x_size, "y_size": self.y_size, "name": self.name}


@keras.saving.register_keras_serializable(package="tfkit")
class ConditionalNeuralProcess(PointSetModel):
    """The conditional neural process (Garnelo et al. 2018), as DeepMind's CNP tutorial.

    An MLP encodes each context pair, the mean over them is the function's
    representation, and an MLP decodes it with each target x into a mean and a
    standard deviation (σ = 0.1 + 0.9·softplus).

    Args:
        x_size: Dimensions of x.
        y_size: Dimensions of y.
        encoder_sizes: The encoder MLP's layer sizes (the tutorial's 4 × 128).
        decoder_sizes: The decoder MLP's hidden layer sizes (the tutorial's 2 × 128);
            its last layer gives ``2 * y_size`` values.

    Example:

    >>> import numpy as np
    >>> from tfkit.data import GPCurves
    >>> model = ConditionalNeuralProcess(encoder_sizes=[32, 32], decoder_sizes=[32])
    >>> model.compile()
    >>> _ = model.fit(GPCurves(batch_size=8, seed=0).dataset(), steps_per_epoch=5, verbose=0)
    >>> predictions = model.predict(np.zeros([1, 3, 1]), np.ones([1, 3, 1]), np.zeros([1, 20, 1]), verbose=0)
    >>> predictions["mean"].shape, bool(np.all(predictions["stddev"] > 0.1))
    ((1, 20, 1), True)
    """

    def __init__(self, x_size=1, y_size=1, encoder_sizes=(128, 128, 128, 128), decoder_sizes=(128, 128),
                 name="conditional_neural_process"):
        super().__init__(x_size, y_size, name=name)
        self.encoder = DeterministicEncoder(encoder_sizes, name="encoder")
        self.decoder = GaussianDecoder(decoder_sizes, y_size, name="decoder")
        self.encoder_sizes = self.encoder.output_sizes
        self.decoder_sizes = self.decoder.hidden_sizes

    def call(self, inputs, training=False):
        context_x, context_y, target_x, mask = self._points(inputs)
        mean, stddev = self.decoder(target_x, representation=self.encoder(context_x, context_y, target_x, mask))
        return tf.concat([mean, stddev], axis=-1)[:, :, None, :]  # one "sample": [batch, targets, 1, 2 * y_size]

    def default_optimizer(self):
        return keras.optimizers.Adam(1e-4)

    def get_config(self):
        return {**super().get_config(), "encoder_sizes": self.encoder_sizes, "decoder_sizes": self.decoder_sizes}


@keras.saving.register_keras_serializable(package="tfkit")
class NeuralProcess(PointSetModel):
    """The (latent) neural process (Garnelo et al. 2018), as DeepMind's NP/ANP tutorial without attention.

    A global latent z ~ N(μ, σ) encodes the function (the latent path); with
    ``deterministic_path`` a CNP-style mean representation joins it. Trained
    on the ELBO (see the module docstring); predictions are the mixture over
    ``num_samples`` draws of z given the context.

    Args:
        x_size: Dimensions of x.
        y_size: Dimensions of y.
        latent_encoder_sizes: The latent encoder's per-point MLP.
        num_latents: Dimensions of z.
        deterministic_path: Also decode from a deterministic representation.
        deterministic_encoder_sizes: The deterministic encoder's MLP.
        decoder_sizes: The decoder MLP's hidden layer sizes.
        num_samples: Draws of z per prediction (and per ``evaluate``).
        seed: Seed of the z drawn while training.

    Example:

    >>> import numpy as np
    >>> from tfkit.data import GPCurves
    >>> model = NeuralProcess(latent_encoder_sizes=[16], num_latents=4, deterministic_encoder_sizes=[16],
    ...                       decoder_sizes=[16], num_samples=3)
    >>> model.compile()
    >>> _ = model.fit(GPCurves(batch_size=8, seed=0).dataset(), steps_per_epoch=5, verbose=0)
    >>> features, target_y = next(iter(GPCurves(batch_size=2, testing=True, seed=1).dataset()))
    >>> model.predict(features, verbose=0)["stddev"].shape
    (2, 400, 1)
    """

    def __init__(self, x_size=1, y_size=1, latent_encoder_sizes=(128, 128), num_latents=128, deterministic_path=True,
                 deterministic_encoder_sizes=(128, 128, 128, 128), decoder_sizes=(128, 128), num_samples=16, seed=None,
                 name="neural_process"):
        super().__init__(x_size, y_size, name=name)
        if not isinstance(num_samples, int) or num_samples < 1:
            raise TfkitError(f"num_samples must be a positive integer. Received: num_samples={num_samples!r}")
        self.latent_encoder = LatentEncoder(latent_encoder_sizes, num_latents, name="latent_encoder")
        self.deterministic_path = deterministic_path
        self.deterministic_encoder = (self._deterministic_encoder(deterministic_encoder_sizes)
                                      if deterministic_path else None)
        self.decoder = GaussianDecoder(decoder_sizes, y_size, name="decoder")
        self.latent_encoder_sizes = self.latent_encoder.output_sizes
        self.num_latents = num_latents
        self.deterministic_encoder_sizes = list(deterministic_encoder_sizes)
        self.decoder_sizes = self.decoder.hidden_sizes
        self.num_samples = num_samples
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The z noise of predictions: fixed, the same for every curve.
        self.prediction_noise = np.random.default_rng(0).standard_normal([num_samples, num_latents]).astype("float32")

    def _deterministic_encoder(self, sizes):
        return DeterministicEncoder(sizes, name="deterministic_encoder")

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit``; the targets' labels also reach the model, whose latent path is trained on them."""
        if isinstance(x, tf.data.Dataset):
            x = x.map(_targets_in_features)
        elif isinstance(x, dict) and y is not None:
            x = {**x, "target_y": y}
        return super().fit(x, y, *args, **kwargs)

    def call(self, inputs, training=False):
        context_x, context_y, target_x, mask = self._points(inputs)
        prior_mean, prior_stddev = self.latent_encoder(context_x, context_y, mask)
        if training:
            # z ~ q(z | targets) with the ELBO's KL term; without targets (a plain Keras loop), from the context alone.
            mean, stddev = prior_mean, prior_stddev
            if "target_y" in inputs:
                mean, stddev = self.latent_encoder(target_x, tf.cast(inputs["target_y"], self.compute_dtype))
                self.add_loss(tf.reduce_mean(_kl_divergence(mean, stddev, prior_mean, prior_stddev)
                                             / tf.cast(tf.shape(target_x)[1], mean.dtype)))
            z = (mean + stddev * keras.random.normal(tf.shape(mean), seed=self.seed_generator))[:, None, :]
        else:
            z = prior_mean[:, None, :] + prior_stddev[:, None, :] * tf.cast(self.prediction_noise, prior_mean.dtype)
        num_samples = tf.shape(z)[1]
        representation, target_representation = z, None  # per curve and sample; per target
        if self.deterministic_path:
            deterministic = self.deterministic_encoder(context_x, context_y, target_x, mask)
            if deterministic.shape.rank == 2:  # one per curve: joins z
                representation = tf.concat([z, tf.tile(deterministic[:, None], [1, num_samples, 1])], axis=-1)
            else:  # one per target (attention)
                target_representation = tf.tile(deterministic[:, None], [1, num_samples, 1, 1])
        x = tf.tile(target_x[:, None], [1, num_samples, 1, 1])
        mean, stddev = self.decoder(x, representation, target_representation)  # [batch, samples, targets, y_size]
        return tf.transpose(tf.concat([mean, stddev], axis=-1), [0, 2, 1, 3])

    def default_optimizer(self):
        return keras.optimizers.Adam(1e-4)

    def get_config(self):
        return {**super().get_config(), "latent_encoder_sizes": self.latent_encoder_sizes,
                "num_latents": self.num_latents, "deterministic_path": self.deterministic_path,
                "deterministic_encoder_sizes": self.deterministic_encoder_sizes, "decoder_sizes": self.decoder_sizes,
                "num_samples": self.num_samples, "seed": self.seed}


@keras.saving.register_keras_serializable(package="tfkit")
class AttentiveNeuralProcess(NeuralProcess):
    """The attentive neural process (Kim et al. 2019), as DeepMind's ANP tutorial.

    A :class:`NeuralProcess` whose deterministic path lets each target attend
    to the context: multi-head cross-attention with keys and queries from an
    MLP of x, and (``self_attention``) context representations that attend to
    each other first. Targets near a context point can then use it directly,
    which removes the NP's underfitting of the context.

    Args:
        num_heads: Attention heads (the tutorial's 8).
        attention_sizes: The MLP of x giving keys and queries.
        self_attention: A self-attention layer over the context representations.

    The other arguments are :class:`NeuralProcess`'s; the deterministic path is always on.

    Example:

    >>> model = AttentiveNeuralProcess(latent_encoder_sizes=[16], num_latents=8, deterministic_encoder_sizes=[16],
    ...                                decoder_sizes=[16], attention_sizes=[16], num_heads=2, num_samples=2)
    >>> model.compile()
    >>> import numpy as np
    >>> model.predict(np.zeros([1, 3, 1]), np.ones([1, 3, 1]), np.zeros([1, 5, 1]), verbose=0)["mean"].shape
    (1, 5, 1)
    """

    def __init__(self, x_size=1, y_size=1, latent_encoder_sizes=(128, 128), num_latents=128,
                 deterministic_encoder_sizes=(128, 128, 128, 128), decoder_sizes=(128, 128), num_heads=8,
                 attention_sizes=(128, 128), self_attention=True, num_samples=16, seed=None,
                 name="attentive_neural_process"):
        self.num_heads = num_heads
        self.attention_sizes = list(attention_sizes)
        self.self_attention = self_attention
        super().__init__(x_size, y_size, latent_encoder_sizes, num_latents, True, deterministic_encoder_sizes,
                         decoder_sizes, num_samples, seed, name=name)

    def _deterministic_encoder(self, sizes):
        return DeterministicEncoder(sizes, attention="multihead", num_heads=self.num_heads,
                                    attention_sizes=self.attention_sizes, self_attention=self.self_attention,
                                    name="deterministic_encoder")

    def get_config(self):
        config = super().get_config()
        config.pop("deterministic_path")
        return {**config, "num_heads": self.num_heads, "attention_sizes": self.attention_sizes,
                "self_attention": self.self_attention}


def _targets_in_features(features, target_y, *rest):
    return ({**features, "target_y": target_y}, target_y, *rest)


def _kl_divergence(mean, stddev, prior_mean, prior_stddev):
    """KL(N(mean, stddev) ‖ N(prior_mean, prior_stddev)), summed over the latent dimensions: ``[batch]``."""
    variance_ratio = tf.square(stddev / prior_stddev)
    return 0.5 * tf.reduce_sum(variance_ratio + tf.square((mean - prior_mean) / prior_stddev) - 1.0
                               - tf.math.log(variance_ratio), axis=-1)
