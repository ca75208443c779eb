"""``tf.estimator`` on Keras 3: a program's ``tf.estimator.`` becomes ``tfkit.estimator.`` (and its
``tf.feature_column.`` becomes ``tfkit.feature_column.``), and it runs on TensorFlow 2.16 and later.

The canned estimators take the V2 estimators' arguments, default optimizers and
learning rates, and run on tfkit's models (:class:`tfkit.models.WideDeep`,
:class:`tfkit.models.Baseline`) and job machinery (:mod:`tfkit.jobs`):
checkpoints and TensorBoard summaries in ``model_dir``, resumed by the next
``train``; ``evaluate`` reports the estimator heads' metrics under their names,
``predict`` their prediction keys, ``export_saved_model`` their signatures.
See docs/migrating.rst for what else a TensorFlow 1 program changes.

Example:

>>> import tempfile, tensorflow as tf
>>> import tfkit
>>> hours = tfkit.feature_column.numeric_column("hours")
>>> job = tfkit.feature_column.categorical_column_with_vocabulary_list("job", ["clerk", "cook"])
>>> estimator = tfkit.estimator.DNNLinearCombinedClassifier(
...     linear_feature_columns=[job], dnn_feature_columns=[hours, tfkit.feature_column.indicator_column(job)],
...     dnn_hidden_units=[4], model_dir=tempfile.mkdtemp())
>>> def input_fn():
...     features = {"hours": [40.0, 20.0, 45.0, 10.0], "job": ["cook", "clerk", "cook", "clerk"]}
...     return tf.data.Dataset.from_tensor_slices((features, [1, 0, 1, 0])).batch(2)
>>> estimator = estimator.train(input_fn, steps=4)
>>> results = estimator.evaluate(input_fn)
>>> results["global_step"], sorted(results)[:4]
(2, ['accuracy', 'accuracy_baseline', 'auc', 'auc_precision_recall'])
>>> sorted(next(estimator.predict(input_fn)))
['all_class_ids', 'all_classes', 'class_ids', 'classes', 'logistic', 'logits', 'probabilities']
"""

from tfkit.estimator import experimental, export
from tfkit.estimator.canned import (BaselineClassifier, BaselineRegressor, DNNClassifier, DNNLinearCombinedClassifier,
                                    DNNLinearCombinedRegressor, DNNRegressor, LinearClassifier, LinearRegressor)
from tfkit.estimator.estimator import Estimator
from tfkit.estimator.exporter import BestExporter, Exporter, FinalExporter, LatestExporter
from tfkit.estimator.hooks import CheckpointSaverListener, StopAtStepHook
from tfkit.estimator.inputs import ModeKeys
from tfkit.estimator.parsing import WarmStartSettings, classifier_parse_example_spec, regressor_parse_example_spec
from tfkit.estimator.run_config import RunConfig
from tfkit.estimator.training import EvalSpec, TrainSpec, train_and_evaluate

__all__ = [
    "BaselineClassifier",
    "BaselineRegressor",
    "BestExporter",
    "CheckpointSaverListener",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "Estimator",
    "EvalSpec",
    "Exporter",
    "FinalExporter",
    "LatestExporter",
    "LinearClassifier",
    "LinearRegressor",
    "ModeKeys",
    "RunConfig",
    "StopAtStepHook",
    "TrainSpec",
    "WarmStartSettings",
    "classifier_parse_example_spec",
    "experimental",
    "export",
    "regressor_parse_example_spec",
    "train_and_evaluate",
]
