"""The dataset a config's ``data`` section describes, in any of its formats."""

from tfkit.data.csv import read_csv
from tfkit.data.gp_curves import GPCurves
from tfkit.data.image_dataset import image_dataset
from tfkit.data.images import read_images
from tfkit.data.text import read_text
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

    Image sets read into memory (CIFAR-10, image folders, numpy) are read
    once and kept for the next dataset of the same files.
    """

    def __init__(self, data, input_specs, column_defaults=None):
        self.data = data
        self.input_specs = input_specs
        self.column_defaults = column_defaults or {}
        self._image_sets = {}

    def dataset(self, files, split, training=False, holdout=None, batch_size=None, seed=None):
        """Batches of ``(features, labels)`` of ``files`` (the ``split``: train, validation or test)."""
        batch_size = batch_size or self.data["batch_size"]
        if self.data["format"] == "gp_curves":
            return self._curves(files, split, batch_size, seed)
        if self.data["format"] == "csv":
            return self._csv(files, training, holdout, batch_size, seed)
        kind = "text" if self.data["format"] == "text" else "image"
        if len(self.input_specs) != 1:
            raise DataError(f"{self.data['format']} data feeds models with one {kind} input; this model reads "
                            f"{', '.join(sorted(self.input_specs)) or 'no input'}.")
        (key, spec), = self.input_specs.items()
        if kind == "text":
            return self._text(files, key, training, holdout, batch_size, seed)
        if self.data["format"] == "tfrecord":
            source = read_tfrecords(files)
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

    def _image_set(self, files, split):
        key = (tuple(files) if isinstance(files, list) else files, split)
        if key not in self._image_sets:
            self._image_sets[key] = read_images(files, self.data["format"], split, self.data["image_size"])
        return self._image_sets[key]

    def _text(self, files, text_key, training, holdout, batch_size, seed):
        # {label: files} is one file (or several) per class; otherwise lines start with their label.
        by_class = isinstance(files, dict)
        return read_text(
            None if by_class else files,
            batch_size=batch_size,
            class_files=files if by_class else None,
            label_vocabulary=self.data["label_vocabulary"],
            text_key=text_key,
            encoding=self.data["encoding"],
            shuffle=training,
            shuffle_buffer_size=self.data["shuffle_buffer_size"],
            seed=seed,
            holdout=holdout,
        )

    def _csv(self, files, training, holdout, batch_size, seed):
        data = self.data
        return read_csv(
            files,
            batch_size=batch_size,
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
            shuffle=training,
            shuffle_buffer_size=data["shuffle_buffer_size"],
            seed=seed,
            holdout=holdout,
        )
