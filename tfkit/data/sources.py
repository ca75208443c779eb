"""The dataset a config's ``data`` section describes, in any of its formats."""

import functools
import hashlib
import json

from tfkit.data import cache as cache_lib
from tfkit.data.csv import csv_examples
from tfkit.data.lines import expand_files, split
from tfkit.data.gp_curves import GPCurves
from tfkit.data.image_dataset import image_dataset
from tfkit.data.images import read_images
from tfkit.data.text import text_examples, text_files
from tfkit.data.tfrecords import read_tfrecords
from tfkit.errors import DataError


# What validation and test curves are unless their own keys say otherwise.
HELD_OUT_CURVES = {"testing": True, "num_batches": 10}


class DataSource:
    """Datasets of one validated ``data`` config section for a model's raw inputs.

    Args:
        data: The ``data`` section (see :mod:`tfkit.config`).
        input_specs: The model's raw inputs, ``{key: RawInput}``.
        column_defaults: Values of missing numeric CSV cells, by column.
        spill: A folder of the run's where, with ``data.cache: auto`` and files too large for memory, a model's
            transformed values are cached for the epochs after the first (see :func:`tfkit.data.cache.spills`).
        in_process: The datasets are read in this process only, never on another machine (a parameter-server
            worker): then Python reads the lines of CSV and text files, several times faster (see
            :func:`tfkit.data.lines.numbered_lines`).

    Each source is read and parsed once: the parsed examples of a set of
    files (and holdout) are made once, cached as ``data.cache`` says (see
    :mod:`tfkit.data.cache`), and every dataset of them — the adapt pass,
    each epoch's shuffled batches, evaluation — reads that one cache. Image
    sets read into memory (CIFAR-10, image folders, numpy) are read once and
    kept the same way.
    """

    def __init__(self, data, input_specs, column_defaults=None, spill=None, in_process=False):
        self.data = data
        self.spill = spill
        self.in_process = in_process
        self.input_specs = input_specs
        self.column_defaults = column_defaults or {}
        self._sources = {}

    def dataset(self, files, split, training=False, holdout=None, batch_size=None, seed=None, cached=True):
        """Batches of ``(features, labels)`` of ``files`` (the ``split``: train, validation or test).

        ``cached=False`` reads CSV and text files again each pass, filling no cache: for a pass made once
        (learning vocabularies, counting rows, checking the data).
        """
        batch_size = batch_size or self.data["batch_size"]
        if self.data["format"] == "gp_curves":
            return self._curves(files, split, batch_size, seed)
        if self.data["format"] == "csv":
            return self._csv(files, training, holdout, batch_size, seed, cached)
        kind = "text" if self.data["format"] == "text" else "image"
        if len(self.input_specs) != 1:
            raise DataError(f"{self.data['format']} data feeds models with one {kind} input; this model reads "
                            f"{', '.join(sorted(self.input_specs)) or 'no input'}.")
        (key, spec), = self.input_specs.items()
        if kind == "text":
            return self._text(files, key, training, holdout, batch_size, seed, cached)
        if self.data["format"] == "tfrecord":
            _, source, _, _ = self._cached(("tfrecord", files), expand_files(files), lambda: read_tfrecords(files), batched=False)
        else:
            source = self._image_set(files, "train" if split == "train" else "test")
        return image_dataset(
            source, batch_size, image_key=key, image_shape=spec.example_shape, training=training,
            augmentation=self.data["augmentation"] if training else None,
            shuffle_buffer_size=self.data["shuffle_buffer_size"], seed=seed, holdout=holdout,
        )

    def _curves(self, arguments, split, batch_size, seed):
        # Held-out curves: testing batches by default, the training curves' kernel, a seed of their own.
        if split != "train":
            seed = None if seed is None else seed + (1 if split == "validation" else 2)
            arguments = {**self.data["train"], **HELD_OUT_CURVES, "seed": seed, **arguments}
        source = GPCurves(batch_size=batch_size, **{"seed": seed, **arguments})
        for key, size in (("context_x", source.x_size), ("context_y", source.y_size)):
            spec = self.input_specs.get(key)
            if spec is None or spec.width != size:
                raise DataError(f"data.{split}: the curves have {key[8:]}_size={size} but the model reads "
                                f"{key}={spec.width if spec else 'nothing'}; set model.{key[8:]}_size to match.")
        return source.dataset()

    def _once(self, key, make):
        """The source ``make()`` gives, made once per ``key`` (any JSON-able value)."""
        key = json.dumps(key, sort_keys=True, default=str)
        if key not in self._sources:
            self._sources[key] = make()
        return self._sources[key]

    def _image_set(self, files, split):
        return self._once(("images", files, split), lambda: read_images(files, self.data["format"], split, self.data["image_size"]))

    def _cached(self, key, files, make, batched=True):
        """``(stream, source, cache mode, spill)``: ``make()``'s examples of ``files`` (a list), made once per
        ``key``, as they are read (``stream``) and cached (``source``: filled the first time it is read); ``spill``
        is the folder for a model's transformed values when they are cached in files (see
        :func:`tfkit.data.cache.spills`), else None."""
        def cached_source():
            cache = cache_lib.resolve(self.data["cache"], files)
            if cache not in cache_lib.MODES:
                # One cache file per source, named after everything that shapes its examples.
                shape = json.dumps([key, {k: v for k, v in self.data.items() if k != "cache"},
                                    sorted((k, spec.dtype) for k, spec in self.input_specs.items())], sort_keys=True, default=str)
                cache = f"{cache}.{hashlib.sha256(shape.encode()).hexdigest()[:12]}"
            stream = make()
            spill = self.spill if cache_lib.spills(self.data["cache"], files, self.spill) else None
            return stream, cache_lib.cached(stream, cache, batched), cache, spill

        return self._once(key, cached_source)

    def _batches(self, key, files, make, holdout, training, batch_size, seed, cached=True):
        """Batches of ``holdout``'s part of ``make()``, the parsed rows and keys of ``files`` (a list), parsed
        and cached once per ``key``: the training and validation parts of a file share one parse. A model that
        transforms them ahead (see :func:`tfkit.data.cache.with_transform`) keeps its transformed values
        instead; ``cached=False`` reads the files each pass, holding lines out before they are parsed."""
        if not cached:
            return cache_lib.batches(make(holdout=holdout, keys=False), batch_size, "none")
        stream, source, cache, spill = self._cached(key, files, make)
        return cache_lib.batches(split(source, holdout), batch_size, cache, shuffle=training,
                                 shuffle_buffer_size=self.data["shuffle_buffer_size"], seed=seed,
                                 stream=split(stream, holdout), spill=spill)

    def _text(self, files, text_key, training, holdout, batch_size, seed, cached=True):
        # {label: files} is one file (or several) per class; otherwise lines start with their label.
        by_class = isinstance(files, dict)
        make = functools.partial(
            text_examples,
            file_pattern=None if by_class else files,
            class_files=files if by_class else None,
            label_vocabulary=self.data["label_vocabulary"],
            text_key=text_key,
            encoding=self.data["encoding"],
            keys=True,
            in_process=self.in_process,
        )
        every_file = text_files(None if by_class else files, files if by_class else None)
        return self._batches(("text", files), every_file, make, holdout, training, batch_size, seed, cached)

    def _csv(self, files, training, holdout, batch_size, seed, cached=True):
        data = self.data
        make = functools.partial(
            csv_examples,
            files,
            label=data["label"],
            label_vocabulary=data["label_vocabulary"],
            label_aliases=data["label_aliases"],
            select_columns=sorted(self.input_specs),
            column_names=data["column_names"],
            header=data["header"],
            column_dtypes={key: spec.dtype for key, spec in self.input_specs.items()},
            column_defaults=self.column_defaults,
            na_values=data["na_values"],
            field_delim=data["field_delim"],
            encoding=data.get("encoding", "utf-8"),
            label_threshold=data.get("label_threshold"),
            keys=True,
            in_process=self.in_process,
        )
        return self._batches(("csv", files), expand_files(files), make, holdout, training, batch_size, seed, cached)
