"""The config schema (every key, its type, default and help) and validation with errors naming the key path."""

import copy
import inspect

from tfkit.config.overrides import apply_override
from tfkit.config.schema import REQUIRED, Field, validate_section
from tfkit.errors import ConfigError
from tfkit.tune import spec as tuning_spec

SCHEMA = {
    "job_dir": Field(str, None, "Run directory: checkpoints, logs, metrics.json, export. Default: runs/<config name>."),
    "data": {
        "format": Field(str, "csv", "csv | text | cifar10 | image_folder | numpy | tfrecord | gp_curves: what train, "
                        "validation and test are."),
        "train": Field((str, list, dict), REQUIRED, "Training data: CSV, text or TFRecord file(s) or globs, a CIFAR-10 "
                       "folder or batch files, an image folder, an .npz file; for text, {label: files} for one file "
                       "per class; relative to the config file."),
        "validation": Field((str, list, dict), None, "Validation data, as train. Default: validation_split of train. "
                            "For gp_curves, changes to train's curve arguments; default testing curves, 10 batches."),
        "validation_split": Field(float, None, "Fraction of train held out for validation (deterministic).",
                                  minimum=0, maximum=1, exclusive=True),
        "test": Field((str, list, dict), None, "Test data, as train, evaluated once at the end (a CIFAR-10 folder: its test batch)."),
        "label": Field(str, None, "Label column (csv)."),
        "label_vocabulary": Field(list, None, "Label strings in class-id order (classification)."),
        "label_aliases": Field(dict, None, "Raw label values mapped to labels of label_vocabulary: other spellings "
                               "({'>50K.': '>50K'}) or classes made of several values ({1: neg, 2: neg, 4: pos, 5: pos})."),
        "label_threshold": Field(float, None, "Binary classes from a numeric label column (csv): rows whose label is >= "
                                 "this are class 1 (label_vocabulary[1], default '>= <threshold>'), the others class 0."),
        "column_names": Field(list, None, "Column names for files without a header."),
        "header": Field(bool, True, "Files start with a header line."),
        "na_values": Field(list, ["?", ""], "Cell values that mean missing."),
        "field_delim": Field(str, ",", "Field delimiter."),
        "encoding": Field(str, "utf-8", "Encoding of the text and CSV files (utf-8, latin-1, ...)."),
        "batch_size": Field(int, 128, "Examples per batch (global, over all replicas).", minimum=1),
        "shuffle_buffer_size": Field(int, 10_000, "Rows in the shuffle buffer (data not cached in memory).", minimum=1),
        "cache": Field(str, "auto", "Where parsed examples are kept after the first pass: auto (memory when the "
                       "data fits comfortably, otherwise job_dir; see the performance guide), memory, none (parse "
                       "every pass), job_dir (the model's transformed values, in files in the job directory), or a "
                       "file path prefix for an on-disk cache of parsed examples (relative to the config file)."),
        "image_size": Field(list, None, "[height, width] images of an image folder are resized to."),
        "augmentation": Field(dict, None, "Training-image augmentation in tf.data: {pad: 4, flip: true} pads each side, "
                              "crops back at random and flips left-right at random."),
    },
    "features": Field(list, [], "Feature columns: {type, name, ...constructor arguments}."),
    "model": Field(dict, REQUIRED, "{name: <model>, ...constructor arguments}; columns by name."),
    "train": {
        "epochs": Field(int, 10, "Maximum number of epochs.", minimum=1),
        "steps_per_epoch": Field(int, None, "Batches per epoch (default: one pass over train).", minimum=1),
        "optimizer": Field((str, dict), None, "Optimizer name or {name, ...}; {wide: ..., deep: ...} per part."),
        "learning_rate_schedule": Field(dict, None, "{name: piecewise_constant | exponential_decay | cosine_decay, "
                                        "unit: epochs | steps, ...its arguments}: replaces the optimizer's learning rate."),
        "early_stopping": Field(dict, None, "{monitor, patience, mode, min_delta}: stop on the validation metric."),
        "seed": Field(int, 42, "Random seed (weights, shuffling)."),
        "keep_checkpoints": Field(int, 3, "Checkpoints kept in job_dir/checkpoints.", minimum=1),
        "steps_per_execution": Field(int, None, "Steps per call of the compiled step function (on a parameter "
                                     "server: per function scheduled on a worker; default 8 there, 1 elsewhere); more means less overhead. Lowered "
                                     "to divide steps_per_epoch and checkpoint_steps, so both stay exact; 1 on multi_worker_mirrored.", minimum=1),
        "checkpoint_steps": Field(int, None, "Also checkpoint every so many steps (by the exact global step), "
                                  "besides each epoch's end.", minimum=1),
        "verbose": Field((int, str), "auto", "Keras progress: 0 silent, 1 progress bar, 2 one line per epoch, auto "
                         "(a progress bar on a terminal, one line per epoch otherwise)."),
        "cross_validation": Field(dict, None, "{folds: k}: k runs, each holding out one k-th of train (a deterministic "
                                  "split by hash) and evaluated on it; metrics.json gives each metric's mean and spread."),
    },
    "strategy": Field((str, dict), "auto", "auto | default | mirrored | multi_worker_mirrored | parameter_server, "
                      "or {name, ...options}; auto reads TF_CONFIG and the visible GPUs."),
    "export": Field(bool, True, "Export a SavedModel to job_dir/export at the end."),
    "tuning": Field(dict, None, "Hyperparameter search by `tfkit tune` (see the tuning keys); `tfkit train` ignores it."),
}

DATA_FORMATS = ("csv", "text", "cifar10", "image_folder", "numpy", "tfrecord", "gp_curves")
_EARLY_STOPPING_KEYS = {"monitor", "patience", "mode", "min_delta", "restore_best_weights"}


def validate(raw):
    """Checks a config dict against the schema and fills in defaults."""
    config = validate_section(raw, SCHEMA, "")
    stopping = config["train"]["early_stopping"]
    if stopping is not None:
        unknown = sorted(set(stopping) - _EARLY_STOPPING_KEYS)
        if unknown:
            raise ConfigError(f"train.early_stopping.{unknown[0]}: unknown key. Expected one of: {', '.join(sorted(_EARLY_STOPPING_KEYS))}.")
    _validate_cross_validation(config)
    data = config["data"]
    if data["format"] not in DATA_FORMATS:
        raise ConfigError(f"data.format: expected one of {', '.join(DATA_FORMATS)}, received {data['format']!r}.")
    if not data["cache"]:
        raise ConfigError("data.cache: expected auto, memory, none, job_dir or a file path prefix, received an empty string.")
    if config["train"]["verbose"] not in (0, 1, 2, "auto"):
        raise ConfigError(f"train.verbose: expected 0, 1, 2 or auto, received {config['train']['verbose']!r}.")
    # Cells are text: a number in na_values means its spelling (-1 is "-1").
    data["na_values"] = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in data["na_values"]]
    for key in ("column_names", "na_values"):
        bad = [i for i, name in enumerate(data[key] or []) if not isinstance(name, str)]
        if bad:
            raise ConfigError(f"data.{key}[{bad[0]}]: expected a string, received {data[key][bad[0]]!r}.")
    if data["label_threshold"] is not None:
        _validate_threshold(data)
    if data["label_aliases"] is not None:
        _validate_aliases(data)
    if data["format"] == "csv" and data["label"] is None:
        raise ConfigError("data.label: missing; csv data needs the label column's name.")
    if data["format"] != "csv":
        unused = [k for k in ("label", "label_aliases", "column_names") if data[k] is not None]
        if unused:
            holds = {"text": "labelled sentences", "gp_curves": "curves drawn from a Gaussian process"}.get(
                data["format"], "images and class ids")
            raise ConfigError(f"data.{unused[0]}: only csv data has columns; {data['format']} data holds {holds}.")
    if data["format"] == "gp_curves":
        _validate_curves(config)
    else:
        _validate_files(data)
    if data["augmentation"] is not None:
        unknown = sorted(set(data["augmentation"]) - {"pad", "flip"})
        if unknown:
            raise ConfigError(f"data.augmentation.{unknown[0]}: unknown key. Expected one of: pad, flip.")
    if data["image_size"] is not None and (len(data["image_size"]) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in data["image_size"])):
        raise ConfigError(f"data.image_size: expected [height, width] of positive integers, received {data['image_size']!r}.")
    for i, entry in enumerate(config["features"]):
        if not isinstance(entry, dict) or "type" not in entry or "name" not in entry:
            raise ConfigError(f"features[{i}]: expected a mapping with 'type' and 'name', received {entry!r}.")
        for key in ("type", "name"):
            if not isinstance(entry[key], str):
                raise ConfigError(f"features[{i}].{key}: expected a string, received {entry[key]!r}.")
    if "name" not in config["model"]:
        raise ConfigError("model.name: missing; it names the model, e.g. wide_deep.")
    if not isinstance(config["model"]["name"], str):
        raise ConfigError(f"model.name: expected a string naming the model, received {config['model']['name']!r}.")
    if config["tuning"] is not None:
        config["tuning"] = tuning_spec.validate(config["tuning"], config["train"]["seed"])
        _check_tuned_keys(raw, config["tuning"])
    return config


def _check_tuned_keys(raw, tuning):
    """Every value a search can give each parameter makes a valid config (keys exist, types fit)."""
    for i, param in enumerate(tuning_spec.params(tuning)):
        for value in param.extremes():
            trial = {k: copy.deepcopy(v) for k, v in raw.items() if k != "tuning"}
            try:
                for keys, value_of_key in param.overrides(value):
                    apply_override(trial, keys, value_of_key)
                validate(trial)
            except ConfigError as error:
                raise ConfigError(f"tuning.params[{i}] ({param.name}) = {value!r}: {error}") from None


def _validate_threshold(data):
    threshold = data["label_threshold"]
    if data["format"] != "csv" or data["label_aliases"] is not None:
        key = "format" if data["format"] != "csv" else "label_aliases"
        raise ConfigError(f"data.label_threshold: classifies a numeric csv label column; it cannot be used with data.{key}.")
    if data["label_vocabulary"] is None:
        data["label_vocabulary"] = [f"< {threshold:g}", f">= {threshold:g}"]
    elif len(data["label_vocabulary"]) != 2:
        raise ConfigError(f"data.label_vocabulary: a label_threshold makes two classes (below it, and from it on); "
                          f"received {len(data['label_vocabulary'])} labels.")


def _validate_aliases(data):
    """label_aliases maps raw label values (numbers too: 1 is "1") to labels of label_vocabulary."""
    if data["label_vocabulary"] is None:
        raise ConfigError("data.label_aliases: maps raw values to labels of data.label_vocabulary, which is not given "
                          "(a label without a vocabulary is a number, taken as it is).")
    vocabulary = [str(v) for v in data["label_vocabulary"]]
    aliases = {}
    for raw, label in data["label_aliases"].items():
        if str(label) not in vocabulary:
            raise ConfigError(f"data.label_aliases.{raw}: maps to {label!r}, which is not in data.label_vocabulary {vocabulary}.")
        aliases[str(raw)] = str(label)
    data["label_aliases"] = aliases


def _validate_files(data):
    """train, validation and test name files (by label for text), and text labels are known."""
    for key in ("train", "validation", "test"):
        if isinstance(data[key], dict) and data["format"] != "text":
            raise ConfigError(f"data.{key}: {{label: files}} is for text data (one file per class); "
                              f"{data['format']} data takes file(s) or a folder.")
        if data["format"] == "text" and isinstance(data[key], (str, list)) and data["label_vocabulary"] is None:
            raise ConfigError(f"data.label_vocabulary: missing; text files whose lines start with their label need the "
                              f"labels in class-id order (or give data.{key} as {{label: files}}).")
    if data["format"] == "text" and isinstance(data["train"], dict) and data["label_vocabulary"] is None:
        data["label_vocabulary"] = [str(label) for label in data["train"]]


def _validate_curves(config):
    from tfkit.data.gp_curves import GPCurves

    data = config["data"]
    accepted = [p for p in inspect.signature(GPCurves).parameters if p != "batch_size"]
    for key in ("train", "validation", "test"):
        if data[key] is None:
            continue
        if not isinstance(data[key], dict):
            raise ConfigError(f"data.{key}: gp_curves data is drawn, not read: expected a mapping of curve arguments "
                              f"({', '.join(accepted)}), received {data[key]!r}.")
        for name in data[key]:
            if name not in accepted:
                hint = " (data.batch_size sets it)" if name == "batch_size" else ""
                raise ConfigError(f"data.{key}.{name}: unknown key{hint}. Expected one of: {', '.join(accepted)}.")
    if data["train"].get("num_batches") is not None or data["train"].get("testing"):
        raise ConfigError("data.train: training curves are drawn without end (no num_batches, testing: false); "
                          "train.steps_per_epoch and train.epochs say how many are used.")
    if config["train"]["steps_per_epoch"] is None:
        raise ConfigError("train.steps_per_epoch: missing; gp_curves training data has no end, so an epoch needs "
                          "a number of steps.")
    for key in ("validation_split", "label_vocabulary"):  # data.label: refused for every format but csv
        if data[key] is not None:
            raise ConfigError(f"data.{key}: not used by gp_curves data (held-out curves are drawn with a seed "
                              "of their own; see data.validation and data.test).")
    if config["train"]["cross_validation"] is not None:
        raise ConfigError("train.cross_validation: gp_curves data draws fresh curves; there is no fixed set to fold.")


def _validate_cross_validation(config):
    folds = config["train"]["cross_validation"]
    if folds is None:
        return
    unknown = sorted(set(folds) - {"folds"}, key=str)
    if unknown:
        raise ConfigError(f"train.cross_validation.{unknown[0]}: unknown key. Expected: folds.")
    if not isinstance(folds.get("folds"), int) or isinstance(folds["folds"], bool) or folds["folds"] < 2:
        raise ConfigError(f"train.cross_validation.folds: expected an integer >= 2, received {folds.get('folds')!r}.")
    clashing = [f"data.{k}" for k in ("validation", "validation_split") if config["data"][k] is not None]
    if config["train"]["early_stopping"] is not None:
        clashing.append("train.early_stopping")
    if clashing:
        raise ConfigError(f"{clashing[0]}: cannot be used with train.cross_validation, where each fold's held-out part "
                          "is its validation data (stopping on it would tune to the data the fold is scored on).")
