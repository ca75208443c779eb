"""Trains a CNP on one device and mirrored over 2 logical CPUs from the same weights; ANP, ConvCNP and TNP mirrored too.

Run in a fresh process: logical devices must be configured before TensorFlow
initialises its devices. Prints one JSON line.
"""

import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfkit import distribute  # noqa: E402
from tfkit.data import GPCurves  # noqa: E402
from tfkit.models import AttentiveNeuralProcess, ConditionalNeuralProcess, ConvCNP, TransformerNeuralProcess  # noqa: E402

TRAIN = GPCurves(batch_size=32, seed=3).dataset().take(30).cache()
TEST = GPCurves(batch_size=16, testing=True, num_batches=2, seed=4).dataset()


def train(strategy, make, initial_weights=None):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        model = make()
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.build()
    if initial_weights is not None:
        model.set_weights(initial_weights)
    start = [w.copy() for w in model.get_weights()]
    history = model.fit(TRAIN, epochs=1, verbose=0)
    nll = model.evaluate(TEST, verbose=0, return_dict=True)["nll"]
    return model, start, history.history["loss"][-1], nll


def small_cnp():
    return ConditionalNeuralProcess(encoder_sizes=[32, 32], decoder_sizes=[32])


mirrored = distribute.get("mirrored")
single, start, single_loss, single_nll = train(distribute.get("default"), small_cnp)
replicated, _, mirrored_loss, mirrored_nll = train(mirrored, small_cnp, start)
anp, anp_start, anp_loss, anp_nll = train(mirrored, lambda: AttentiveNeuralProcess(
    latent_encoder_sizes=[16], num_latents=8, deterministic_encoder_sizes=[16], decoder_sizes=[16],
    attention_sizes=[16], num_heads=2, num_samples=4))
predictions = anp.predict(next(iter(TEST))[0], verbose=0)
others = {}
for name, make in (("conv_cnp", lambda: ConvCNP(points_per_unit=16, unet_channels=[8, 8])),
                   ("tnp", lambda: TransformerNeuralProcess(model_size=16, num_layers=2, num_heads=2, feedforward_size=16,
                                                            embedding_sizes=[16], predictor_sizes=[16]))):
    model, model_start, loss, nll = train(mirrored, make)
    others[name] = {"loss": loss, "nll": nll,
                    "moved": max(float(np.max(np.abs(a - b))) for a, b in zip(model.get_weights(), model_start)),
                    "stddev_min": float(model.predict(next(iter(TEST))[0], verbose=0)["stddev"].min())}
print(json.dumps({
    "replicas": mirrored.num_replicas_in_sync,
    "max_weight_change": max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), start)),
    "max_weight_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), replicated.get_weights())),
    "single": [single_loss, single_nll],
    "mirrored": [mirrored_loss, mirrored_nll],
    "anp_loss": anp_loss,
    "anp_nll": anp_nll,
    "anp_moved": max(float(np.max(np.abs(a - b))) for a, b in zip(anp.get_weights(), anp_start)),
    "anp_stddev_min": float(predictions["stddev"].min()),
    **others,
}))
