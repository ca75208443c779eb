"""The versions of a model in an export folder, loaded as they appear (TensorFlow Serving's file-system polling).

An export folder holds one SavedModel per version, in subfolders named by
number (``export/1733312000/``), the layout tfkit writes and TensorFlow
Serving reads. Only such folders with a ``saved_model.pb`` are versions:
tfkit writes each export into a hidden ``.tmp-*`` folder and renames it into
place when complete, so a half-written version is never seen.
"""

import logging
import os
import threading

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tfkit.serve.signatures import Signature

log = logging.getLogger("tfkit.serve")


class NotFound(LookupError):
    """An unknown model, version or signature (HTTP 404, gRPC NOT_FOUND)."""


class Unavailable(RuntimeError):
    """A version on disk that cannot be loaded (HTTP 503, gRPC UNAVAILABLE)."""


def versions_on_disk(export_dir):
    """The complete versions under ``export_dir``, oldest first.

    Example:

    >>> import os, tempfile
    >>> export_dir = tempfile.mkdtemp()
    >>> for name in ("17", "3", ".tmp-20-1", "25"):
    ...     os.makedirs(os.path.join(export_dir, name))
    >>> for name in ("17", "3", ".tmp-20-1"):  # 25 has no saved_model.pb yet
    ...     open(os.path.join(export_dir, name, "saved_model.pb"), "wb").close()
    >>> versions_on_disk(export_dir)
    [3, 17]
    >>> import shutil; shutil.rmtree(export_dir)
    """
    if not os.path.isdir(export_dir):
        return []
    return sorted(int(name) for name in os.listdir(export_dir)
                  if name.isdigit() and os.path.isfile(os.path.join(export_dir, name, "saved_model.pb")))


class LoadedVersion:
    """One SavedModel version and its signatures."""

    def __init__(self, number, path):
        self.number = number
        self.path = path
        self.saved_model = tf.saved_model.load(path)
        methods = _method_names(path)
        self.signatures = {name: Signature(name, function, methods.get(name, "tensorflow/serving/predict"))
                           for name, function in self.saved_model.signatures.items()}

    def signature(self, name):
        name = name or "serving_default"
        if name not in self.signatures:
            raise NotFound(f"Serving signature name: \"{name}\" not found in signature def; the model has "
                           f"{sorted(self.signatures)}.")
        return self.signatures[name]


def _method_names(path):
    """``{signature: method_name}`` as the SavedModel's ``saved_model.pb`` records them (its serving meta graph's)."""
    saved_model = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved_model.ParseFromString(f.read())
    except OSError:  # saved as text or in chunks: TensorFlow loads it, and its signatures are taken as predict
        return {}
    graphs = [graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags] or saved_model.meta_graphs
    return {name: signature.method_name for name, signature in graphs[0].signature_def.items()} if graphs else {}


class ModelVersions:
    """The versions of one model: the newest loaded at start and whenever a newer one appears.

    Args:
        name: The model's name in request URLs.
        export_dir: The folder of numbered versions.
        poll_seconds: How often to look for new versions (0: never, after the start).

    An older version is loaded when a request names it, and kept. A version
    that fails to load (a corrupt ``saved_model.pb``) is logged once, with its
    path, and tried again only when its files change; the versions loaded
    keep serving, and a newer good version replaces them as usual.
    """

    def __init__(self, name, export_dir, poll_seconds=1.0):
        self.name = name
        self.export_dir = export_dir
        self._loaded = {}
        self._failed = {}  # version -> (its saved_model.pb's mtime, the error)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if not self.refresh():
            raise NotFound(f"{export_dir}: no SavedModel versions (numbered folders with a saved_model.pb) that load.")
        self._poller = None
        if poll_seconds:
            self._poller = threading.Thread(target=self._poll, args=(poll_seconds,), daemon=True, name="tfkit-serve-poll")
            self._poller.start()

    def _poll(self, seconds):
        while not self._stop.wait(seconds):
            self.refresh()

    def close(self):
        self._stop.set()

    def refresh(self):
        """Loads the newest version on disk that loads, if newer than those loaded; returns whether any is loaded."""
        newest_loaded = max(self._loaded, default=-1)
        for number in reversed(versions_on_disk(self.export_dir)):
            if number <= newest_loaded:
                break
            try:
                self._load(number)
            except Unavailable:
                continue  # logged once by _load; an older version may still be newer than those loaded
            log.info("tfkit serve: serving %s version %d", self.name, number)
            break
        return bool(self._loaded)

    def _load(self, number):
        path = os.path.join(self.export_dir, str(number))
        try:
            stamp = os.path.getmtime(os.path.join(path, "saved_model.pb"))
        except OSError:
            stamp = None
        if number in self._failed and self._failed[number][0] == stamp:
            raise Unavailable(self._failed[number][1])
        try:
            loaded = LoadedVersion(number, path)
        except Exception as error:  # whatever TensorFlow raises for a broken SavedModel
            message = (f"version {number} of {self.name} ({path}) cannot be loaded: {type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else ''}")
            self._failed[number] = (stamp, message)
            log.error("tfkit serve: %s; serving versions %s", message, self.loaded)
            raise Unavailable(message) from None
        with self._lock:
            return self._loaded.setdefault(number, loaded)

    @property
    def loaded(self):
        with self._lock:
            return sorted(self._loaded)

    def get(self, version=None):
        """The newest loaded version, or version ``version`` (loaded now if it is on disk)."""
        with self._lock:
            if version is None:
                return self._loaded[max(self._loaded)]
            if version in self._loaded:
                return self._loaded[version]
        if version in versions_on_disk(self.export_dir):
            return self._load(version)
        raise NotFound(f"Servable not found for request: Specific({self.name}, {version}); versions: {self.loaded}.")
