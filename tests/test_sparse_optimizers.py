"""tfkit's sparse optimizers against Keras' dense update of the same IndexedSlices gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfkit import optimizers
from tfkit.errors import TfkitError

ROWS, WIDTH, STEPS = 50, 3, 6


def _gradients(seed):
    """STEPS sparse gradients touching a few rows each, some rows twice in one step."""
    rng = np.random.default_rng(seed)
    grads = []
    for _ in range(STEPS):
        indices = rng.integers(0, ROWS // 2, size=8)  # rows 25..49 are never touched
        grads.append(tf.IndexedSlices(tf.constant(rng.normal(size=(8, WIDTH)), tf.float32), tf.constant(indices, tf.int64),
                                      tf.constant([ROWS, WIDTH], tf.int64)))
    return grads


def _train(optimizer, initial, grads, compiled):
    table = keras.Variable(initial.copy(), name="table")
    dense = keras.Variable(np.ones((2, 2), "float32"), name="dense")
    optimizer.build([table, dense])

    def step(grad):
        optimizer.apply([grad, tf.fill((2, 2), 0.5)], [table, dense])

    step = tf.function(step) if compiled else step
    for grad in grads:
        step(grad)
    return table.numpy(), dense.numpy()


CASES = [
    ("ftrl", {"learning_rate": 0.1}, keras.optimizers.Ftrl, "zeros"),
    ("ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1,
              "beta": 0.1, "learning_rate_power": -0.7}, keras.optimizers.Ftrl, "zeros"),
    ("ftrl", {"learning_rate": 0.1, "l2_shrinkage_regularization_strength": 0.05}, keras.optimizers.Ftrl, "zeros"),
    ("adagrad", {"learning_rate": 0.1}, keras.optimizers.Adagrad, "normal"),
    ("adagrad", {"learning_rate": 0.5, "initial_accumulator_value": 1.0, "epsilon": 1e-7}, keras.optimizers.Adagrad, "normal"),
    ("sgd", {"learning_rate": 0.3}, keras.optimizers.SGD, "normal"),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
@pytest.mark.parametrize("name, arguments, reference, initial", CASES)
def test_sparse_updates_equal_keras_dense_updates_on_every_row(name, arguments, reference, initial, compiled):
    start = np.zeros((ROWS, WIDTH), "float32") if initial == "zeros" else np.random.default_rng(1).normal(size=(ROWS, WIDTH)).astype("float32")
    grads = _gradients(seed=len(arguments))
    sparse = optimizers.get({"name": name, **arguments})
    assert type(sparse).__module__ == "tfkit.optimizers.sparse"
    table, dense = _train(sparse, start, grads, compiled)
    # Keras' own update of the same gradients, made dense first.
    expected_table, expected_dense = _train(reference(**arguments), start, [tf.convert_to_tensor(g) for g in grads], compiled)
    np.testing.assert_allclose(table, expected_table, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(dense, expected_dense, rtol=1e-6)
    assert not np.allclose(table[:25], start[:25])  # the touched rows moved
    np.testing.assert_array_equal(table[25:], start[25:])  # the others did not


DENSE_CASES = [
    (optimizers.Ftrl, keras.optimizers.Ftrl, {"learning_rate": 0.1, "l1_regularization_strength": 0.01, "beta": 0.1}),
    (optimizers.Adagrad, keras.optimizers.Adagrad, {"learning_rate": 0.1}),
    (optimizers.SGD, keras.optimizers.SGD, {"learning_rate": 0.1}),
    (optimizers.SGD, keras.optimizers.SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    (optimizers.SGD, keras.optimizers.SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    (optimizers.LazyAdam, keras.optimizers.Adam, {"learning_rate": 0.1}),
]


@pytest.mark.parametrize("ours, reference, arguments", DENSE_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_fused_dense_updates_equal_keras_updates(ours, reference, arguments):
    # Dense gradients go through one fused kernel per variable; the arithmetic is Keras'.
    rng = np.random.default_rng(3)
    start = rng.normal(size=(4, WIDTH)).astype("float32")
    grads = [tf.constant(rng.normal(size=(4, WIDTH)), tf.float32) for _ in range(STEPS)]
    results = []
    for optimizer in (ours(**arguments), reference(**arguments)):
        weights = keras.Variable(start.copy())
        optimizer.build([weights])
        step = tf.function(lambda grad: optimizer.apply([grad], [weights]))  # noqa: B023 (called right here)
        for grad in grads:
            step(grad)
        results.append(weights.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=2e-5, atol=2e-6)
    assert not np.allclose(results[0], start)


def _one_row_steps(optimizer, steps):
    """Row 0 gets a gradient at the first step only; returns the table after each step."""
    table = keras.Variable(np.zeros((2, 1), "float32"))
    history = []
    for step in range(steps):
        grad = tf.IndexedSlices(tf.constant([[1.0]]), tf.constant([0 if step == 0 else 1]), tf.constant([2, 1]))
        optimizer.apply([grad], [table])
        history.append(table.numpy()[:, 0].copy())
    return np.array(history)


@pytest.mark.parametrize("lazy, dense", [
    (lambda: optimizers.LazyAdam(0.1), lambda: keras.optimizers.Adam(0.1)),
    (lambda: optimizers.SGD(0.1, momentum=0.9), lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
])
def test_lazy_updates_move_only_touched_rows(lazy, dense):
    lazy_history, dense_history = _one_row_steps(lazy(), 4), _one_row_steps(dense(), 4)
    # The first step is the same; afterwards row 0 has no gradient: lazily it stays, densely its momentum moves it.
    np.testing.assert_allclose(lazy_history[0], dense_history[0], rtol=1e-6)
    assert np.all(lazy_history[1:, 0] == lazy_history[0, 0])
    assert np.all(np.abs(np.diff(dense_history[:, 0])) > 1e-4)
    # Row 1, touched from the second step on, gets the same first update in both.
    np.testing.assert_allclose(lazy_history[1, 1], dense_history[1, 1], rtol=1e-6)


def test_lazy_adam_matches_adam_on_rows_touched_every_step():
    grads = [tf.IndexedSlices(tf.constant([[g, -g]], tf.float32), tf.constant([3]), tf.constant([5, 2])) for g in (1.0, 0.5, -2.0, 1.5)]
    start = np.zeros((5, 2), "float32")
    table, _ = _train(optimizers.LazyAdam(0.05), start, grads, compiled=True)
    expected, _ = _train(keras.optimizers.Adam(0.05), start, [tf.convert_to_tensor(g) for g in grads], compiled=True)
    np.testing.assert_allclose(table, expected, rtol=1e-5, atol=1e-7)


def test_names_give_sparse_optimizers_inside_multi_optimizer_and_round_trip():
    optimizer = optimizers.get({"wide": {"name": "ftrl", "learning_rate": 0.05}, "deep": "adagrad", "other": "lazy_adam"})
    assert [type(o) for o in optimizer.optimizers] == [optimizers.Ftrl, optimizers.Adagrad, optimizers.LazyAdam]
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert [type(o) for o in restored.optimizers] == [optimizers.Ftrl, optimizers.Adagrad, optimizers.LazyAdam]
    assert float(restored.parts["wide"].learning_rate) == pytest.approx(0.05)
    assert type(optimizers.get({"name": "adam"})) is keras.optimizers.Adam
    with pytest.raises(TfkitError, match="amsgrad"):
        optimizers.LazyAdam(amsgrad=True)


def test_checkpoints_of_keras_optimizers_restore_into_sparse_ones(tmp_path):
    table = keras.Variable(np.zeros((4, 1), "float32"))
    grad = tf.IndexedSlices(tf.ones((1, 1)), tf.constant([2]), tf.constant([4, 1]))
    old = keras.optimizers.Ftrl(0.1)
    old.apply([grad], [table])
    path = tf.train.Checkpoint(optimizer=old, table=table.value).write(str(tmp_path / "ckpt"))
    fresh_table = keras.Variable(np.zeros((4, 1), "float32"))
    new = optimizers.Ftrl(0.1)
    new.build([fresh_table])
    tf.train.Checkpoint(optimizer=new, table=fresh_table.value).read(path).assert_existing_objects_matched()
    np.testing.assert_array_equal(new.variables[2].numpy(), old.variables[2].numpy())  # the accumulator
    assert int(new.iterations.numpy()) == 1
