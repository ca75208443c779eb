"""Optimizers: Keras' own, plus ``MultiOptimizer`` to train parts of a model with different ones."""

import keras
from keras.src.saving import serialization_lib
from keras.src.utils import tracking

from tfkit.errors import TfkitError


@keras.saving.register_keras_serializable(package="tfkit")
class MultiOptimizer(keras.optimizers.Optimizer):
    """One optimizer per named part of a model, as in the classic wide & deep recipe.

    A variable belongs to the part whose name is a component of its path: with
    ``{"wide": "ftrl", "deep": "adagrad"}`` the variables of a layer named
    ``wide`` (path ``wide_deep/wide/...``) are trained by FTRL, those under
    ``deep`` by Adagrad. Each part keeps its own slots, learning rate and
    schedule; ``iterations`` counts steps of the whole model.

    Args:
        parts: Dict of part name to optimizer (instance, name or config).
        name: Optimizer name.

    Example:

    >>> from tfkit.optimizers import MultiOptimizer
    >>> optimizer = MultiOptimizer({"wide": "ftrl", "deep": {"class_name": "Adagrad", "config": {"learning_rate": 0.05}}})
    >>> sorted(optimizer.parts), round(float(optimizer.parts["deep"].learning_rate), 2)
    (['deep', 'wide'], 0.05)
    """

    def __init__(self, parts, name="multi_optimizer", **kwargs):
        if kwargs:
            raise TfkitError(f"MultiOptimizer takes no arguments besides parts and name. Received: {sorted(kwargs)}")
        if not isinstance(parts, dict) or not parts:
            raise TfkitError(f"MultiOptimizer needs a dict of part name to optimizer. Received: parts={parts!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.parts = {part: keras.optimizers.get(optimizer) for part, optimizer in parts.items()}

    @property
    def optimizers(self):
        """The parts' optimizers as a list (what Keras' TensorBoard callback logs rates of)."""
        return list(self.parts.values())

    def part_of(self, variable):
        components = variable.path.split("/")
        for part in self.parts:
            if part in components:
                return part
        raise TfkitError(
            f"Variable {variable.path!r} belongs to no part of the MultiOptimizer "
            f"(parts: {', '.join(self.parts)}). Name the layer that owns it after a part."
        )

    def _split(self, grads, variables):
        groups = {part: ([], []) for part in self.parts}
        for grad, variable in zip(grads, variables):
            group = groups[self.part_of(variable)]
            group[0].append(grad)
            group[1].append(variable)
        return groups

    @tracking.no_automatic_dependency_tracking
    def build(self, var_list):
        for part, (_, variables) in self._split([None] * len(var_list), var_list).items():
            self.parts[part].build(variables)
        super().build(var_list)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        for part, (part_grads, variables) in self._split(grads, trainable_variables).items():
            if variables:
                self.parts[part].apply(part_grads, variables)
        self._iterations.assign_add(1)

    @property
    def variables(self):
        variables = list(self._variables)
        for optimizer in self.parts.values():
            variables.extend(optimizer.variables)
        return variables

    @property
    def learning_rate(self):
        """The first part's learning rate (what Keras callbacks log)."""
        return next(iter(self.parts.values())).learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        # Keras' base constructor sets a placeholder rate; each part owns its real one.
        if getattr(self, "parts", None) is not None:
            raise TfkitError("Set the learning rate on one part: multi_optimizer.parts[part].learning_rate.")

    def finalize_variable_values(self, var_list):
        for part, (_, variables) in self._split([None] * len(var_list), var_list).items():
            self.parts[part].finalize_variable_values(variables)

    def get_config(self):
        return {
            "name": self.name,
            "parts": {part: serialization_lib.serialize_keras_object(optimizer) for part, optimizer in self.parts.items()},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        parts = {
            part: serialization_lib.deserialize_keras_object(optimizer, custom_objects=custom_objects)
            for part, optimizer in config["parts"].items()
        }
        return cls(parts, name=config.get("name", "multi_optimizer"))


def get(identifier, name=None):
    """An optimizer from a name, a config dict, an instance, or a dict of parts (``MultiOptimizer``).

    ``{"name": "adam", "learning_rate": 0.01}`` gives ``Adam(learning_rate=0.01)``;
    a dict without ``name`` maps model parts to optimizers, each named after its
    part (so TensorBoard logs ``learning_rate_wide`` and ``learning_rate_deep``).

    Example:

    >>> from tfkit import optimizers
    >>> type(optimizers.get({"name": "adam", "learning_rate": 0.01})).__name__
    'Adam'
    >>> [o.name for o in optimizers.get({"wide": "ftrl", "deep": {"name": "adam"}}).optimizers]
    ['wide', 'deep']
    """
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    if isinstance(identifier, str):
        identifier = {"name": identifier}
    if isinstance(identifier, dict) and "class_name" in identifier:
        return keras.optimizers.get(identifier)
    if isinstance(identifier, dict) and "name" in identifier:
        config = dict(identifier)
        kind = config.pop("name")
        if name:
            config["name"] = name
        try:
            optimizer = keras.optimizers.deserialize({"class_name": kind, "config": config})
        except (TypeError, ValueError) as error:
            raise TfkitError(f"Optimizer {kind!r}: {error}") from None
        # Keras hands back an unknown class name unchanged instead of raising.
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TfkitError(f"Unknown optimizer {kind!r}.")
        return optimizer
    if isinstance(identifier, dict) and identifier:
        return MultiOptimizer({part: get(value, name=part) for part, value in identifier.items()})
    raise TfkitError(f"Cannot make an optimizer from {identifier!r}.")


# Keras schedules by config name, with the arguments that count steps (given in epochs with unit: epochs).
SCHEDULES = {
    "piecewise_constant": (keras.optimizers.schedules.PiecewiseConstantDecay, ("boundaries",)),
    "exponential_decay": (keras.optimizers.schedules.ExponentialDecay, ("decay_steps",)),
    "cosine_decay": (keras.optimizers.schedules.CosineDecay, ("decay_steps", "warmup_steps")),
}


def learning_rate_schedule(spec, steps_per_epoch=None):
    """A Keras learning-rate schedule from ``{name, unit, ...arguments}``.

    ``unit: epochs`` gives the step-counting arguments (``boundaries``,
    ``decay_steps``, ``warmup_steps``) in epochs, converted with
    ``steps_per_epoch``: piecewise-constant ``values[i + 1]`` then applies
    from the first step of epoch ``boundaries[i]`` (counting from 0) on.
    ``unit: steps`` (the default) takes them as Keras does.

    Example: the ResNet recipe, 0.1 divided by 10 after epochs 2 and 3 of 100 steps:

    >>> from tfkit.optimizers import learning_rate_schedule
    >>> schedule = learning_rate_schedule({"name": "piecewise_constant", "unit": "epochs", "boundaries": [2, 3],
    ...                                    "values": [0.1, 0.01, 0.001]}, steps_per_epoch=100)
    >>> [round(float(schedule(step)), 4) for step in (0, 199, 200, 299, 300)]  # the step count before each update
    [0.1, 0.1, 0.01, 0.01, 0.001]
    """
    spec = dict(spec)
    name, unit = spec.pop("name", None), spec.pop("unit", "steps")
    if name not in SCHEDULES:
        raise TfkitError(f"learning_rate_schedule.name: expected one of {', '.join(SCHEDULES)}, received {name!r}.")
    if unit not in ("epochs", "steps"):
        raise TfkitError(f"learning_rate_schedule.unit: expected epochs or steps, received {unit!r}.")
    cls, step_arguments = SCHEDULES[name]
    if unit == "epochs":
        if not steps_per_epoch:
            raise TfkitError("learning_rate_schedule: unit epochs needs the number of steps per epoch.")
        for key in step_arguments:
            if key in spec:
                value = spec[key]
                spec[key] = [int(round(v * steps_per_epoch)) for v in value] if isinstance(value, list) else int(round(value * steps_per_epoch))
        if name == "piecewise_constant" and isinstance(spec.get("boundaries"), list):
            # Keras keeps values[i] while the step count is <= boundaries[i]; "from epoch 2 on" means the
            # update after 2 epochs' steps, which Keras sees with the count at 2 * steps_per_epoch.
            spec["boundaries"] = [b - 1 for b in spec["boundaries"]]
    try:
        return cls(**spec)
    except (TypeError, ValueError) as error:
        raise TfkitError(f"learning_rate_schedule ({name}): {error}") from None


def with_learning_rate(optimizer, learning_rate):
    """A copy of ``optimizer`` (not yet built) whose learning rate is ``learning_rate`` (a number or a schedule)."""
    if isinstance(optimizer, MultiOptimizer):
        raise TfkitError("A learning-rate schedule applies to one optimizer; give each part of a multi-part "
                         "optimizer its own learning_rate instead.")
    config = optimizer.get_config()
    config["learning_rate"] = learning_rate
    return type(optimizer).from_config(config)
