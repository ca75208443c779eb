"""The chief's side of the adapt pass on a cluster's workers: summaries merged once each, in any order.

The launched cluster test (test_launch.py) shows the whole pass on real servers; these feed the chief's bookkeeping
the summaries a worker sends, in the orders and repeats that lost and restarted workers cause.
"""

import numpy as np
import pytest

from tfkit.distribute.worker_adapt import _Parts
from tfkit.errors import ClusterError
from tfkit.features import CategoricalColumn, NumericColumn, adapt
from tfkit.features.adapt import Adapter

BATCHES = [  # worker 0's part, then worker 1's
    [{"job": np.array([b"cook", b"clerk", b"cook"]), "hours": np.array([40.0, 20.0, 60.0])},
     {"job": np.array([b"pilot"]), "hours": np.array([35.0])}],
    [{"job": np.array([b"clerk", b"clerk"]), "hours": np.array([10.0, 50.0])}],
]


def columns():
    return [CategoricalColumn("job"), NumericColumn("hours", normalize=True)]


def summaries(adapter):
    return [[adapter.summarize(batch) for batch in part] for part in BATCHES]


def as_numpy(summary):
    import tensorflow as tf

    return tf.nest.map_structure(np.asarray, summary)


def test_summaries_in_any_order_learn_what_one_pass_learns():
    one_pass = columns()
    adapt(one_pass, [batch for part in BATCHES for batch in part])
    learned = columns()
    adapter = Adapter(learned)
    parts = _Parts(2, adapter)
    sent = summaries(adapter)
    # Worker 1 first, worker 0's second summary before its first (a retried fetch), a mark before a summary.
    parts.add(1, 0, as_numpy(sent[1][0]))
    parts.add(0, 1, as_numpy(sent[0][1]))
    parts.add(1, -1, None)
    assert not parts.all_done()
    parts.add(0, -1, None)
    parts.add(0, 0, as_numpy(sent[0][0]))
    assert parts.all_done()
    parts.check_complete()
    adapter.finish()
    assert parts.rows == [4, 2]
    assert [c.get_config() for c in learned] == [c.get_config() for c in one_pass]
    assert learned[0].vocabulary == ["clerk", "cook", "pilot"]


def test_a_worker_restarted_in_the_middle_of_its_part_stops_the_pass_and_one_restarted_after_it_does_not():
    adapter = Adapter(columns())
    parts = _Parts(2, adapter)
    sent = summaries(adapter)
    parts.add(0, 0, as_numpy(sent[0][0]))
    parts.add(1, 0, as_numpy(sent[1][0]))
    parts.add(1, -1, None)
    parts.add(1, 0, as_numpy(sent[1][0]))  # worker 1 came back after its part was read: ignored
    assert parts.rows == [3, 2]
    with pytest.raises(ClusterError, match="worker 0 was restarted during the adapt pass"):
        parts.add(0, 0, as_numpy(sent[0][0]))  # worker 0 reads its part again from the start


def test_a_summary_that_never_came_is_an_error():
    adapter = Adapter(columns())
    parts = _Parts(1, adapter)
    sent = summaries(adapter)
    parts.add(0, 1, as_numpy(sent[0][1]))
    parts.add(0, -1, None)
    with pytest.raises(ClusterError, match=r"worker 0's summaries \[0\] never came"):
        parts.check_complete()
