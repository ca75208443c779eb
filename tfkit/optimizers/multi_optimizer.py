"""``MultiOptimizer``: one optimizer per named part of a model."""

import keras
from keras.src.saving import serialization_lib
from keras.src.utils import tracking

from tfkit.errors import TfkitError
from tfkit.optimizers.sparse import keras_get


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
        self.parts = {part: keras_get(optimizer) for part, optimizer in parts.items()}

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
