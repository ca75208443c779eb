"""``tf.estimator.experimental``: the early-stopping hooks and ``read_eval_metrics``, where estimator programs import
them from."""

from tfkit.estimator.exporter import read_eval_metrics
from tfkit.estimator.hooks import (stop_if_higher_hook, stop_if_lower_hook, stop_if_no_decrease_hook,
                                   stop_if_no_increase_hook)

__all__ = ["read_eval_metrics", "stop_if_higher_hook", "stop_if_lower_hook", "stop_if_no_decrease_hook",
           "stop_if_no_increase_hook"]
