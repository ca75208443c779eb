"""The feature columns and the model a validated config describes, built by name.

Feature entries are column constructor arguments plus ``type``; columns refer
to other columns by name. Model keys are the model's constructor arguments
(columns by name). Errors name the key path, like the rest of the loader.
"""

import inspect

from tfkit.errors import ConfigError, TfkitError

_REFERENCES = {
    "bucketized": ("source",), "crossed": ("columns",), "embedding": ("categorical",), "indicator": ("categorical",),
    "periodic": ("sources",), "piecewise_linear": ("sources",),
}


def build_columns(entries):
    """Columns by name from ``features`` entries; references to other columns are resolved by name."""
    from tfkit import features

    by_name = {}
    for i, entry in enumerate(entries):
        if entry["name"] in by_name:
            raise ConfigError(f"features[{i}]: a column named {entry['name']!r} is defined twice.")
        by_name[entry["name"]] = (i, entry)
    built, building = {}, set()

    def build(name, wanted_by):
        if not isinstance(name, str):
            raise ConfigError(f"{wanted_by}: expected a column name, received {name!r}.")
        if name in built:
            return built[name]
        if name not in by_name:
            raise ConfigError(f"{wanted_by}: column {name!r} is not defined. Defined columns: {', '.join(by_name)}.")
        if name in building:
            raise ConfigError(f"{wanted_by}: column {name!r} refers to itself through its references.")
        building.add(name)
        i, entry = by_name[name]
        where = f"features[{i}] ({entry['name']!r})"
        kwargs = {k: v for k, v in entry.items() if k != "type"}
        try:
            cls = features.column_class(entry["type"])
        except TfkitError as error:
            raise ConfigError(f"{where}.type: {error}") from None
        for key in _REFERENCES.get(entry["type"], ()):
            if key not in kwargs:
                continue
            value = kwargs[key]
            if isinstance(value, list):
                kwargs[key] = [build(v, f"{where}.{key}") for v in value]
            else:
                kwargs[key] = build(value, f"{where}.{key}")
        built[name] = _construct(cls, kwargs, where)
        building.discard(name)
        return built[name]

    for name in by_name:
        build(name, "features")
    return built


def _construct(cls, kwargs, where):
    parameters = inspect.signature(cls.__init__).parameters
    accepted = [p for p in parameters if p not in ("self", "kwargs")]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key for {cls.__name__}. Expected one of: {', '.join(accepted)}.")
    missing = [
        p.name for p in parameters.values()
        if p.default is inspect.Parameter.empty and p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in kwargs
    ]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: missing; {cls.__name__} requires it.")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError, TfkitError) as error:
        raise ConfigError(f"{where}: {error}") from None


_COLUMN_LISTS = ("wide_columns", "deep_columns", "columns")
# Model keys naming one column; a name that is not a defined column is left to the model (a feature name).
_COLUMN_KEYS = ("text",)
_SHORTHAND = ("first_layer_size", "num_layers", "scale_factor")


def build_model(model_config, columns, data_config):
    """The model a validated ``model`` section describes, over ``columns`` (by name)."""
    from tfkit import models
    from tfkit.models.wide_deep import hidden_units_from_shorthand

    kwargs = dict(model_config)
    name = kwargs.pop("name")
    try:
        cls = models.model_class(name)
    except TfkitError as error:
        raise ConfigError(f"model.name: {error}") from None
    for key in _COLUMN_LISTS:
        if key in kwargs:
            if not isinstance(kwargs[key], list):
                raise ConfigError(f"model.{key}: expected a list of column names, received {kwargs[key]!r}.")
            resolved = []
            for i, column in enumerate(kwargs[key]):
                if not isinstance(column, str) or column not in columns:
                    raise ConfigError(f"model.{key}[{i}]: column {column!r} is not defined. Defined columns: {', '.join(columns)}.")
                resolved.append(columns[column])
            kwargs[key] = resolved
    for key in _COLUMN_KEYS:
        if isinstance(kwargs.get(key), str) and kwargs[key] in columns:
            kwargs[key] = columns[kwargs[key]]
    # The shorthand is for models of hidden_units (a TNP's num_layers is its own).
    shorthand = [k for k in _SHORTHAND if k in kwargs] if "hidden_units" in inspect.signature(cls).parameters else []
    if shorthand:
        if "hidden_units" in kwargs or len(shorthand) != 3:
            raise ConfigError(
                "model: give hidden_units, or all of first_layer_size, num_layers and scale_factor "
                f"(the census trainer's shorthand). Received: {', '.join(sorted(shorthand + (['hidden_units'] if 'hidden_units' in kwargs else [])))}."
            )
        try:
            kwargs["hidden_units"] = hidden_units_from_shorthand(*(kwargs.pop(k) for k in _SHORTHAND))
        except TfkitError as error:
            raise ConfigError(f"model: {error}") from None
    if "label_vocabulary" not in kwargs and data_config.get("label_vocabulary") is not None:
        kwargs["label_vocabulary"] = data_config["label_vocabulary"]
    return _construct(cls, kwargs, "model")


def with_model_defaults(config):
    """The config with every model constructor argument it leaves out filled in with its default."""
    from tfkit import models

    try:
        cls = models.model_class(config["model"]["name"])
    except TfkitError as error:
        raise ConfigError(f"model.name: {error}") from None
    defaults = {
        name: parameter.default for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty and name not in ("self", "name")
    }
    defaults = {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}
    if any(key in config["model"] for key in _SHORTHAND):  # the shorthand stands for hidden_units
        defaults.pop("hidden_units", None)
    return {**config, "model": {"name": config["model"]["name"], **defaults, **config["model"]}}


def build_optimizer(train, model, steps_per_epoch=None):
    """The optimizer ``train.optimizer`` and ``train.learning_rate_schedule`` describe (without one, the model's
    default); ``steps_per_epoch`` converts a schedule given in epochs."""
    from tfkit import optimizers

    spec = train["optimizer"]
    try:
        optimizer = model.default_optimizer() if spec is None else optimizers.get(spec)
    except TfkitError as error:
        parts = isinstance(spec, dict) and not {"name", "class_name"} & set(spec)
        raise ConfigError(f"train.optimizer{'.' if parts else ': '}{error}") from None
    schedule = train["learning_rate_schedule"]
    if schedule is None:
        return optimizer
    try:
        return optimizers.with_learning_rate(optimizer, optimizers.learning_rate_schedule(schedule, steps_per_epoch))
    except TfkitError as error:
        raise ConfigError(f"train.{error}") from None


def check(config):
    """Builds the columns, the model and the optimizer a validated config describes (no data read, no weights made)."""
    columns = build_columns(config["features"])
    model = build_model(config["model"], columns, config["data"])
    build_optimizer(config["train"], model, steps_per_epoch=1)
    return columns, model
