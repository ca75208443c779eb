"""Optimizers that update only the rows of a table that a batch touched.

Keras 3's optimizers take an ``IndexedSlices`` gradient (what an embedding
lookup or tfkit's sparse ``Linear`` produces) and compute parts of the update
over the whole table: Adagrad the square root of every accumulator, FTRL every
row's new weight, Adam the moments of every row. A step then costs in
proportion to the table, not to the batch. These subclasses apply a sparse
gradient with TensorFlow's fused kernels (``ResourceSparseApplyFtrlV2``,
``ResourceSparseApplyAdagradV2``, ``ResourceSparseApplyKerasMomentum``,
``ResourceScatterAdd``), which read and write the touched rows only. Dense
gradients get Keras' arithmetic in one fused kernel per variable
(``ResourceApplyFtrlV2``, ``ResourceApplyAdagradV2``,
``ResourceApplyKerasMomentum``, ``ResourceApplyAdam``) instead of the five to
ten ops of Keras' update (Adagrad's epsilon as noted on :class:`Adagrad`).
They work on one device, under ``MirroredStrategy`` (each replica's update
runs on its own copy) and on parameter servers (each shard of a sharded table
has its own slots).

Duplicate indices (a row looked up twice in a batch) are summed first, so a
row gets one update per step, as it does in Keras' dense update.

FTRL, Adagrad and plain SGD give the same weights as Keras' dense update,
within float rounding: a row without gradient is left as it is either way
(for FTRL when the table starts at zero, as linear weights do; Keras' FTRL
sets an untouched row to the value its accumulators imply, which is zero).
SGD with momentum and :class:`LazyAdam` are lazy: an untouched row keeps its
momentum (and Adam moments) unchanged and does not move, where Keras' dense
update decays the momentum of every row and moves every row with it — the
behaviour of tf_keras and TensorFlow 1's optimizers on sparse gradients.

Slot variables are those of the Keras class each one extends, under the same
names, so checkpoints written with Keras' optimizers restore into these.
"""

import keras
import tensorflow as tf

from tfkit.errors import TfkitError


def _handle(variable):
    """The resource handle of a Keras or TF variable (in a strategy's update, of this device's copy)."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


def _summed(gradient):
    """``(values, indices)`` of an ``IndexedSlices`` gradient with each index once, its values summed."""
    indices, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(indices)[0])
    return values, indices


def row_summed(gradient, rows, dense):
    """A table's gradient with each row once: summed into the whole table (``dense``), else one slice per row.

    A gradient with a slice per lookup (word2vec's: one per pair) can hold far
    more slices than the rows it touches. Summed into the whole table when the
    table has fewer rows than the gradient has slices: Adagrad and plain SGD
    leave a row with zero gradient as it is, so the update is the same, and
    one dense sum costs less than finding the rows first. (Not so with
    momentum, which moves every row, or FTRL with L2 shrinkage.)
    """
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    if dense:
        return tf.math.unsorted_segment_sum(gradient.values, gradient.indices, rows)
    return tf.IndexedSlices(*_summed(gradient), gradient.dense_shape)


@keras.saving.register_keras_serializable(package="tfkit")
class Ftrl(keras.optimizers.Ftrl):
    """Keras' FTRL, applying sparse gradients row by row (``ResourceSparseApplyFtrlV2``).

    Takes the arguments of :class:`keras.optimizers.Ftrl`. With
    ``l2_shrinkage_regularization_strength`` the fused kernel's arithmetic
    differs from Keras', so that case keeps Keras' (dense) update.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from tfkit.optimizers import Ftrl
    >>> table = keras.Variable(np.zeros((4, 1), "float32"))
    >>> Ftrl(learning_rate=0.5).apply([tf.IndexedSlices(tf.ones((2, 1)), tf.constant([1, 1]))], [table])
    >>> [round(float(w), 3) for w in table.numpy()[:, 0]]
    [0.0, -0.494, 0.0, 0.0]
    """

    def update_step(self, gradient, variable, learning_rate):
        sparse = isinstance(gradient, tf.IndexedSlices)
        if self.l2_shrinkage_regularization_strength:
            if sparse:
                # Summed first: Keras squares each slice, which is wrong for a row looked up twice.
                gradient = tf.IndexedSlices(*_summed(gradient), gradient.dense_shape)
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        arguments = dict(
            var=_handle(variable), accum=_handle(self._accumulators[index]), linear=_handle(self._linears[index]),
            lr=lr, l1=tf.cast(self.l1_regularization_strength, dtype),
            # Keras folds beta into the L2 term the same way.
            l2=tf.cast(self.l2_regularization_strength, dtype) + tf.cast(self.beta, dtype) / (2.0 * lr),
            l2_shrinkage=tf.constant(0.0, dtype), lr_power=tf.cast(self.learning_rate_power, dtype),
        )
        if not sparse:
            tf.raw_ops.ResourceApplyFtrlV2(grad=tf.cast(gradient, dtype), **arguments)
            return
        values, indices = _summed(gradient)
        tf.raw_ops.ResourceSparseApplyFtrlV2(grad=tf.cast(values, dtype), indices=indices, **arguments)


@keras.saving.register_keras_serializable(package="tfkit")
class Adagrad(keras.optimizers.Adagrad):
    """Keras' Adagrad, applying sparse gradients row by row (``ResourceSparseApplyAdagradV2``).

    Dense gradients get the fused ``ResourceApplyAdagradV2``. Takes the
    arguments of :class:`keras.optimizers.Adagrad`. The fused kernels add
    ``epsilon`` after the square root (Keras before it); with the default
    ``epsilon=1e-7`` the two differ in the seventh digit.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from tfkit.optimizers import Adagrad
    >>> table = keras.Variable(np.ones((3, 2), "float32"))
    >>> Adagrad(learning_rate=0.1).apply([tf.IndexedSlices(tf.ones((1, 2)), tf.constant([2]))], [table])
    >>> [[round(float(w), 3) for w in row] for row in table.numpy()]
    [[1.0, 1.0], [1.0, 1.0], [0.905, 0.905]]
    """

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        arguments = dict(var=_handle(variable), accum=_handle(self._accumulators[self._get_variable_index(variable)]),
                         lr=tf.cast(learning_rate, dtype), epsilon=tf.cast(self.epsilon, dtype))
        if not isinstance(gradient, tf.IndexedSlices):
            tf.raw_ops.ResourceApplyAdagradV2(grad=tf.cast(gradient, dtype), **arguments)
            return
        values, indices = _summed(gradient)
        tf.raw_ops.ResourceSparseApplyAdagradV2(grad=tf.cast(values, dtype), indices=indices, **arguments)


@keras.saving.register_keras_serializable(package="tfkit")
class SGD(keras.optimizers.SGD):
    """Keras' SGD, applying sparse gradients row by row (``ResourceScatterAdd``, ``ResourceSparseApplyKerasMomentum``).

    Takes the arguments of :class:`keras.optimizers.SGD`. With momentum, a
    row without gradient keeps its momentum and does not move (see the
    module docstring).

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from tfkit.optimizers import SGD
    >>> table = keras.Variable(np.zeros((3, 1), "float32"))
    >>> SGD(learning_rate=0.5).apply([tf.IndexedSlices(tf.ones((2, 1)), tf.constant([0, 0]))], [table])
    >>> table.numpy()[:, 0].tolist()
    [-1.0, 0.0, 0.0]
    """

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        sparse = isinstance(gradient, tf.IndexedSlices)
        if self.momentum == 0:
            if sparse:
                # Scatter-add sums duplicate indices itself.
                tf.raw_ops.ResourceScatterAdd(resource=_handle(variable), indices=gradient.indices,
                                              updates=-lr * tf.cast(gradient.values, dtype))
            else:
                tf.raw_ops.ResourceApplyGradientDescent(var=_handle(variable), alpha=lr, delta=tf.cast(gradient, dtype))
            return
        arguments = dict(var=_handle(variable), accum=_handle(self.momentums[self._get_variable_index(variable)]), lr=lr,
                         momentum=tf.cast(self.momentum, dtype), use_nesterov=self.nesterov)
        if not sparse:
            tf.raw_ops.ResourceApplyKerasMomentum(grad=tf.cast(gradient, dtype), **arguments)
            return
        values, indices = _summed(gradient)
        tf.raw_ops.ResourceSparseApplyKerasMomentum(grad=tf.cast(values, dtype), indices=indices, **arguments)


@keras.saving.register_keras_serializable(package="tfkit")
class LazyAdam(keras.optimizers.Adam):
    """Adam that, for a sparse gradient, updates the moments and weights of the touched rows only.

    Dense gradients get Keras' Adam. For an ``IndexedSlices`` gradient the
    first and second moments of the rows in the batch are updated and those
    rows move; every other row keeps its moments and weights. Keras' Adam
    instead decays every row's moments at every step, so a row last seen many
    steps ago still moves (by its decaying momentum). Lazy updates cost in
    proportion to the batch, and on large embedding tables train as well
    (the reason TensorFlow Addons' and tf_keras' ``LazyAdam`` exist). The bias
    correction uses the global step, as Keras' does.

    Takes the arguments of :class:`keras.optimizers.Adam` except ``amsgrad``.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from tfkit.optimizers import LazyAdam
    >>> table = keras.Variable(np.zeros((3, 1), "float32"))
    >>> LazyAdam(learning_rate=0.1).apply([tf.IndexedSlices(tf.ones((1, 1)), tf.constant([1]))], [table])
    >>> [round(float(w), 3) for w in table.numpy()[:, 0]]
    [0.0, -0.1, 0.0]
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="lazy_adam", **kwargs):
        if amsgrad:
            raise TfkitError("LazyAdam does not implement amsgrad. Received: amsgrad=True. Use Adam for amsgrad.")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        momentum, velocity = _handle(self._momentums[index]), _handle(self._velocities[index])
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        if not isinstance(gradient, tf.IndexedSlices):
            # Keras' Adam in one fused kernel.
            tf.raw_ops.ResourceApplyAdam(
                var=_handle(variable), m=momentum, v=velocity, beta1_power=tf.pow(beta_1, step),
                beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
                epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
            return
        alpha = tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        values, indices = _summed(gradient)
        values = tf.cast(values, dtype)
        # (1 - beta) in Python floats, as Keras computes them: 1 - float32(0.999) is off in the fifth digit.
        m = beta_1 * tf.raw_ops.ResourceGather(resource=momentum, indices=indices, dtype=dtype) + (1 - self.beta_1) * values
        v = beta_2 * tf.raw_ops.ResourceGather(resource=velocity, indices=indices, dtype=dtype) + (1 - self.beta_2) * tf.square(values)
        tf.raw_ops.ResourceScatterUpdate(resource=momentum, indices=indices, updates=m)
        tf.raw_ops.ResourceScatterUpdate(resource=velocity, indices=indices, updates=v)
        tf.raw_ops.ResourceScatterSub(resource=_handle(variable), indices=indices,
                                      updates=alpha * m / (tf.sqrt(v) + tf.cast(self.epsilon, dtype)))

    def get_config(self):
        config = super().get_config()
        config.pop("amsgrad")
        return config


# Names a config may use for these; the sparse versions take them over from Keras'.
NAMES = {"ftrl": Ftrl, "adagrad": Adagrad, "sgd": SGD, "lazy_adam": LazyAdam, "lazyadam": LazyAdam}


def keras_get(identifier):
    """``keras.optimizers.get``, with tfkit's sparse optimizers for the names above (any case)."""
    if isinstance(identifier, str) and identifier.lower() in NAMES:
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in NAMES and not identifier.get("module"):
        return NAMES[identifier["class_name"].lower()].from_config(identifier.get("config", {}))
    if isinstance(identifier, dict):
        # Keras hands back an unknown class name unchanged: the caller checks what it got.
        return keras.optimizers.deserialize(identifier)
    return keras.optimizers.get(identifier)
