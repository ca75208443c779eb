"""The datasets a run reads: train with the part it holds out (a fraction, or a cross-validation fold's range),
validation and test; and how many batches one pass over train makes."""

import os
import shutil
import socket
import uuid

import tensorflow as tf

from tfkit import data as data_lib
from tfkit.data import cache as cache_lib
from tfkit.data import data_errors
from tfkit.data.csv import estimated_lines
from tfkit.data.lines import expand_files
from tfkit.errors import ConfigError
from tfkit.features import NumericColumn, closure

# Rows per batch of a pass made once (the adapt pass): large enough that per-batch work does not count.
PASS_BATCH = 4096


class RunDatasets:
    """The datasets of a config's ``data`` section, read as ``model`` (a callable giving the run's model) takes them.

    Args:
        data: The config's ``data`` section.
        seed: ``train.seed``: how the training data is shuffled.
        fold: ``(i, k)`` when the run is fold i of a k-fold cross-validation,
            which holds out the i-th k-th of train for validation.
        model: A callable returning the run's model, once it has one (its raw
            inputs and missing values say what to read).
        spill: A folder in the job directory for the model's transformed values of data too large for memory (see
            :func:`tfkit.data.cache.spills`), None for a run that must not write them (a cluster's tasks). The run
            writes in a folder of its own in it, made with the first dataset and removed by :meth:`close`; folders
            left there by runs of this host that are no longer running are removed then too.
        in_process: The run is not on a cluster: its datasets are read in this process only, and Python reads
            the lines of their files (see :func:`tfkit.data.lines.numbered_lines`). A worker's part (see
            :meth:`worker_part`) never is.
    """

    def __init__(self, data, seed, fold, model, spill=None, in_process=False):
        self.data, self.seed, self.fold = data, seed, fold
        self._model = model
        self.spill = spill
        self.in_process = in_process
        self._source = self._own_spill = self._validation = None
        self._batches_per_pass = self._train_rows = None
        # Parameter-server workers each read the whole training set: unseeded, each shuffles its own way.
        self.seeded_training = True

    def _new_source(self, in_process):
        model = self._model()
        defaults = {c.key: c.missing_default for c in closure(model.feature_columns()) if isinstance(c, NumericColumn)}
        return data_lib.DataSource(self.data, model.input_specs(), defaults, self._own_spill, in_process)

    def _dataset(self, files, split, training=False, holdout=None, batch_size=None, cached=True):
        if self._source is None:
            if self.spill is not None:
                _remove_left_behind(self.spill)
                self._own_spill = os.path.join(self.spill, _run_folder_name())
            self._source = self._new_source(self.in_process)
        seed = self.seed if self.seeded_training or not training else None
        return self._source.dataset(files, split, training, holdout, batch_size, seed, cached)

    def _train_files(self):
        """The files of ``data.train`` when they are files of rows (CSV, text lines in one sequence), else None."""
        if self.data["format"] not in ("csv", "text") or isinstance(self.data["train"], dict):
            return None
        return expand_files(self.data["train"])

    def describe_cache(self):
        """How ``data.cache`` keeps the training files' examples, and why (None for data that is not files of
        rows: images, curves)."""
        files = self._train_files()
        return None if files is None else cache_lib.describe(self.data["cache"], files, self.spill)

    def close(self):
        """Removes the files this run spilled (the datasets read from them cannot be read again)."""
        if self._own_spill is not None:
            shutil.rmtree(self._own_spill, ignore_errors=True)
            try:
                os.rmdir(self.spill)  # unless another run is writing there
            except OSError:
                pass

    def worker_files(self, num_workers):
        """Each of ``num_workers`` workers' own training files (every ``num_workers``-th file of ``data.train``'s,
        from the worker's index on), or None when train is not that many files or more (a part per worker needs a
        file at least: then every worker reads all of train)."""
        files = self._train_files()
        if files is None or not len(files) >= num_workers > 1:
            return None
        return [files[index::num_workers] for index in range(num_workers)]

    def worker_part(self, index, num_workers, training=True, batch_size=None):
        """Worker ``index``'s part of train (its :meth:`worker_files`, without the held-out rows): shuffled and cached
        as training reads it (seeded per worker), or once in order, uncached, as the adapt pass reads it.

        Made inside the function that creates the worker's iterator (so that the worker reads the files), from a
        source of its own: datasets of the chief's eager sources cannot enter a function.
        """
        held_out = self.held_out()
        seed = None if self.seed is None else self.seed + index
        return self._new_source(in_process=False).dataset(self.worker_files(num_workers)[index], "train", training,
                                          None if held_out is None else ("train", held_out), batch_size, seed,
                                          cached=training)

    def held_out(self):
        """The part of train held out for validation: a fraction, or this fold's range (None: none)."""
        if self.fold is not None:
            fold, folds = self.fold
            return (fold / folds, (fold + 1) / folds)
        return self.data["validation_split"]

    def train(self, training=True, batch_size=None, cached=True):
        """Train without its held-out part: shuffled and repeated as training reads it, or once in order
        (``cached=False``: read from the files, filling no cache, for a pass made once)."""
        if self.fold is None and self.data["validation_split"] is not None and self.data["validation"] is not None:
            raise ConfigError("data: give validation or validation_split, not both.")
        held_out = self.held_out()
        dataset = self._dataset(self.data["train"], "train", training, None if held_out is None else ("train", held_out),
                                batch_size, cached)
        if training and batch_size is None and int(dataset.cardinality()) == tf.data.UNKNOWN_CARDINALITY:
            # Keras' fit, reaching the end of a dataset of unknown length, adds one to the optimizer's
            # step count for a step it does not take: every epoch, which shifts learning-rate schedules
            # and step numbers. A dataset that states its length is never read past its end.
            known = tf.data.experimental.assert_cardinality(self.batches_per_pass())
            dataset = cache_lib.derived(dataset.apply(known), dataset, lambda again: again.apply(known))
        return dataset

    def validation(self):
        """``data.validation``, or the part of train held out; None if there is neither. One dataset per run, so
        that what a model keeps of it (transformed, see :mod:`tfkit.data.cache`) is kept once."""
        if self._validation is None:
            if self.data["validation"] is not None:
                self._validation = self._dataset(self.data["validation"], "validation")
            elif self.held_out() is not None:
                self._validation = self._dataset(self.data["train"], "train", holdout=("validation", self.held_out()))
        return self._validation

    def test(self):
        return self._dataset(self.data["test"], "test") if self.data["test"] is not None else None

    def estimated_train_rows(self):
        """About how many rows a pass over train reads (CSV and text lines, counted from the files' size), or None."""
        files = self._train_files()
        if files is None:
            return None
        lines = estimated_lines(files)
        held_out = self.held_out()
        if held_out is not None:
            low, high = (0.0, held_out) if isinstance(held_out, (int, float)) else held_out
            lines = int(lines * (1 - (high - low)))
        return lines

    def adapt_stream(self):
        """Train without its held-out part, once, as the adapt pass reads it: from the files, caching nothing, in
        batches large enough that per-batch work does not count; the rows it held are remembered (see
        :meth:`batches_per_pass`)."""
        return self.train(training=False, batch_size=PASS_BATCH, cached=False)

    def note_train_rows(self, rows):
        """Tells how many rows a whole pass over train (without its held-out part) read, so none is made to count them."""
        self._train_rows = rows

    def batches_per_pass(self):
        """The batches of one pass over the training data: from the rows a pass counted, or counted (once, from
        the files) if the dataset does not know."""
        if self._batches_per_pass is None:
            dataset = self.train(training=False)
            count = int(dataset.cardinality())
            if count < 0 and self._train_rows is not None:
                count = -(-self._train_rows // self.data["batch_size"])
            elif count < 0:
                with data_errors():
                    count = int(self.train(training=False, cached=False).reduce(0, lambda count, _: count + 1))
            self._batches_per_pass = count
        return self._batches_per_pass

    def read_ahead(self):
        """Reads validation and test files before training: a bad row there stops the run now, not at the end.

        Rows held out of train are read with it (by the adapt pass, or the first epoch), so they are not read here;
        nothing is cached (the model caches what it reads of them, transformed, when it evaluates).
        """
        if self.data["format"] == "gp_curves":  # curves: drawn, not read
            return
        read = [self._dataset(self.data[split], split, cached=False) for split in ("validation", "test")
                if self.data[split] is not None]
        with data_errors():
            for dataset in read:
                dataset.reduce(0, lambda count, _: count + 1)


_HOST = socket.gethostname()


def _run_folder_name():
    """A new name for this run's folder in a spill folder: ``HOST-PID-ID`` (see :func:`_process_of`)."""
    return f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _process_of(name):
    """The process id in a :func:`_run_folder_name` made on this host, else None."""
    pieces = name.rsplit("-", 2)
    return int(pieces[1]) if len(pieces) == 3 and pieces[0] == _HOST and pieces[1].isdigit() else None


def _remove_left_behind(spill):
    """Removes the folders in ``spill`` of runs of this host that are no longer running."""
    try:
        names = os.listdir(spill)
    except OSError:
        return
    for name in names:
        pid = _process_of(name)
        if pid is None:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(spill, name), ignore_errors=True)
        except OSError:
            pass
