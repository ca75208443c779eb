"""Plain TensorFlow ports of the ConvCNP and TNP-D, for bench/neural_process.py's speed comparison.

Each port holds ``tf.Variable`` copies of a tfkit model's weights (the same
parameters, found by path), computes the same function with raw TensorFlow
ops (``tf.nn.conv1d``, einsum attention, ...) and trains with a
``tf.function`` step and Keras' Adam, as the tutorial CNP port does.
``check`` confirms the port computes what the model computes before any
timing.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfkit.layers.set_conv import uniform_grid


class _Port(tf.Module):
    def __init__(self, model, learning_rate):
        super().__init__()
        self.min_stddev = model.min_stddev
        self.weights = {w.path.split("/", 1)[1]: tf.Variable(w.numpy(), name=w.path.replace("/", "_")) for w in model.weights}
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.step = tf.function(self._step, input_signature=[tf.TensorSpec([None, None, 1])] * 4)

    def w(self, path):
        return self.weights[path]

    def _dense(self, prefix, x, activation=None):
        y = tf.tensordot(x, self.w(f"{prefix}/kernel"), 1) + self.w(f"{prefix}/bias")
        return tf.nn.relu(y) if activation == "relu" else y

    def nll(self, context_x, context_y, target_x, target_y):
        mean, raw_scale = tf.split(self.outputs(context_x, context_y, target_x), 2, axis=-1)
        sigma = self.min_stddev + tf.nn.softplus(raw_scale)
        log_density = -0.5 * tf.square((target_y - mean) / sigma) - tf.math.log(sigma) - 0.5 * math.log(2 * math.pi)
        return -tf.reduce_mean(tf.reduce_sum(log_density, -1))

    def _step(self, context_x, context_y, target_x, target_y):
        variables = list(self.weights.values())
        with tf.GradientTape() as tape:
            loss = self.nll(context_x, context_y, target_x, target_y)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def fit(self, dataset, steps):
        for features, target_y in dataset.take(steps):
            self.step(features["context_x"], features["context_y"], features["target_x"], target_y)

    def check(self, model, features):
        ours = self.outputs(features["context_x"], features["context_y"], features["target_x"]).numpy()
        theirs = model.predict(features, verbose=0)
        np.testing.assert_allclose(ours[..., :1], theirs["mean"], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(self.min_stddev + tf.nn.softplus(ours[..., 1:]).numpy(), theirs["stddev"],
                                   rtol=1e-3, atol=1e-3)


class ConvCNPPort(_Port):
    def __init__(self, model, learning_rate=1e-3):
        super().__init__(model, learning_rate)
        self.points_per_unit = model.points_per_unit
        self.levels = len(model.unet_channels)

    @staticmethod
    def _kernel(x, grid, log_length_scale):
        return tf.exp(-0.5 * tf.square(x - grid)[..., None] / tf.square(tf.exp(log_length_scale)))

    def outputs(self, context_x, context_y, target_x):
        grid = uniform_grid([context_x, target_x], self.points_per_unit, 2**self.levels)  # tfkit's: not a trained op
        values = tf.concat([tf.ones_like(context_y), context_y], -1)
        gridded = tf.einsum("bngc,bnc->bgc", self._kernel(context_x, grid, self.w("encoder/log_length_scale")), values)
        h = tf.concat([gridded[..., :1], gridded[..., 1:] / (gridded[..., :1] + 1e-8)], -1)
        levels = [tf.sigmoid(self._dense("widen", h))]
        for i in range(self.levels):
            down = tf.nn.conv1d(levels[-1], self.w(f"unet/down_{i}/kernel"), 2, "SAME") + self.w(f"unet/down_{i}/bias")
            levels.append(tf.nn.relu(down))
        h = levels.pop()
        for i in reversed(range(self.levels)):
            kernel, skip = self.w(f"unet/up_{i}/kernel"), levels.pop()
            shape = tf.stack([tf.shape(h)[0], tf.shape(skip)[1], tf.shape(kernel)[1]])
            up = tf.nn.relu(tf.nn.conv1d_transpose(h, kernel, shape, 2, "SAME") + self.w(f"unet/up_{i}/bias"))
            h = tf.concat([up, skip], -1)
        read = tf.einsum("btgc,bgc->btc", self._kernel(target_x, grid, self.w("decoder/log_length_scale")), h)
        return self._dense("gaussian", read)


class TNPPort(_Port):
    def __init__(self, model, learning_rate=5e-4):
        super().__init__(model, learning_rate)
        self.num_layers = model.num_layers
        self.embedding_layers = len(model.embedding_sizes) + 1
        self.predictor_layers = len(model.predictor_sizes) + 1

    def _mlp(self, prefix, layers, x):
        for i in range(layers):
            x = self._dense(f"{prefix}/{prefix}_{i}", x, "relu" if i < layers - 1 else None)
        return x

    @staticmethod
    def _norm(x, gamma, beta):
        mean, variance = tf.nn.moments(x, [-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-5) * gamma + beta

    def outputs(self, context_x, context_y, target_x):
        num_context = tf.shape(context_x)[1]
        tokens = tf.concat([tf.concat([context_x, context_y, tf.ones_like(context_y)], -1),
                            tf.concat([target_x, tf.zeros_like(target_x), tf.zeros_like(target_x)], -1)], 1)
        h = self._mlp("embed", self.embedding_layers, tokens)
        for i in range(self.num_layers):
            p = f"transformer_{i}"

            def project(name, x, p=p):
                return tf.einsum("abc,cde->abde", x, self.w(f"{p}/attention/{name}/kernel")) + self.w(f"{p}/attention/{name}/bias")

            context = h[:, :num_context]
            query, key, value = project("query", h), project("key", context), project("value", context)
            scores = tf.einsum("aqhd,akhd->ahqk", query, key) / math.sqrt(float(query.shape[-1]))
            attended = tf.einsum("ahqk,akhd->aqhd", tf.nn.softmax(scores, -1), value)
            attended = tf.einsum("abcd,cde->abe", attended, self.w(f"{p}/attention/attention_output/kernel"))
            h = self._norm(h + attended + self.w(f"{p}/attention/attention_output/bias"),
                           self.w(f"{p}/attention_norm/gamma"), self.w(f"{p}/attention_norm/beta"))
            changed = self._dense(f"{p}/feedforward/output", self._dense(f"{p}/feedforward/hidden", h, "relu"))
            h = self._norm(h + changed, self.w(f"{p}/feedforward_norm/gamma"), self.w(f"{p}/feedforward_norm/beta"))
        return self._mlp("predictor", self.predictor_layers, h[:, num_context:])
