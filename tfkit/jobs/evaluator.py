"""The evaluator task: evaluates each new checkpoint of a run as it appears.

A cluster's ``evaluator`` task (``TF_CONFIG`` type ``evaluator``, or
``tfkit launch --evaluator``) runs this beside training, so the chief never
pauses to evaluate. It restores only the weights of each checkpoint (whatever
strategy wrote them: sharded tables restore whole) into a single-device model,
evaluates it on the validation and test data, and writes TensorBoard
summaries to ``job_dir/logs/evaluator_<split>`` at the step the chief's own
summaries give that epoch (Keras counts epochs from 0: the checkpoint of
epoch 3 is step 2), so the curves line up. It exits once the chief has
marked the run done and the last checkpoint is evaluated.
"""

import json
import os
import time

import tensorflow as tf

from tfkit.jobs.checkpoints import latest_checkpoint
from tfkit.distribute import cluster
from tfkit.jobs.run import Run


def evaluate_continuously(config, task=None, poll_seconds=1.0):
    """Evaluates checkpoints of ``config``'s run until the chief is done; returns ``{epoch: results}``."""
    started = time.time()
    run = Run(config, task=task)
    job_dir = config["job_dir"]
    results, evaluated, writers = {}, None, {}
    while True:
        # Read "done" before looking for checkpoints, so the chief's last one is never missed.
        done = cluster.chief_done_since(job_dir, started)
        latest = latest_checkpoint(run.checkpoint_dir) if os.path.exists(run.model_path) else None
        if latest is not None and latest != evaluated:
            if run.model is None:
                run.load_for_evaluation()
            try:
                epoch = run.restore_weights(latest)
            except (tf.errors.NotFoundError, tf.errors.DataLossError):
                continue  # deleted by the chief's checkpoint rotation meanwhile: take the next one
            results[epoch] = run.evaluate_loaded()
            _write_summaries(writers, job_dir, epoch, results[epoch])
            print(f"evaluator: epoch {epoch}: {json.dumps(results[epoch], sort_keys=True)}", flush=True)
            evaluated = latest
        elif done:
            for writer in writers.values():
                writer.close()
            return results
        else:
            time.sleep(poll_seconds)


def _write_summaries(writers, job_dir, epoch, results):
    """Writes the results of the checkpoint written after ``epoch`` epochs (counted from 1)."""
    for split, metrics in results.items():
        if split not in writers:
            writers[split] = tf.summary.create_file_writer(os.path.join(job_dir, "logs", f"evaluator_{split}"))
        with writers[split].as_default():
            for name, value in metrics.items():
                tf.summary.scalar(f"epoch_{name}", value, step=epoch - 1)
        writers[split].flush()
