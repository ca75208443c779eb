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

from tfkit.serve.signatures import Signature

log = logging.getLogger("tfkit.serve")


class NotFound(LookupError):
    """An unknown model, version or signature (HTTP 404, gRPC NOT_FOUND)."""


def versions_on_disk(export_dir):
    """The complete versions under ``export_dir``, oldest first."""
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
        self.signatures = {name: Signature(name, function) for name, function in self.saved_model.signatures.items()}

    def signature(self, name):
        name = name or "serving_default"
        if name not in self.signatures:
            raise NotFound(f"Serving signature name: \"{name}\" not found in signature def; the model has "
                           f"{sorted(self.signatures)}.")
        return self.signatures[name]


class ModelVersions:
    """The versions of one model: the newest loaded at start and whenever a newer one appears.

    Args:
        name: The model's name in request URLs.
        export_dir: The folder of numbered versions.
        poll_seconds: How often to look for new versions (0: never, after the start).

    An older version is loaded when a request names it, and kept.
    """

    def __init__(self, name, export_dir, poll_seconds=1.0):
        self.name = name
        self.export_dir = export_dir
        self._loaded = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if not self.refresh():
            raise NotFound(f"{export_dir}: no SavedModel versions (numbered folders with a saved_model.pb).")
        self._poller = None
        if poll_seconds:
            self._poller = threading.Thread(target=self._poll, args=(poll_seconds,), daemon=True, name="tfkit-serve-poll")
            self._poller.start()

    def _poll(self, seconds):
        while not self._stop.wait(seconds):
            try:
                self.refresh()
            except Exception:  # a broken version is reported and skipped; the ones loaded keep serving
                log.exception("tfkit serve: could not load a new version of %s", self.name)

    def close(self):
        self._stop.set()

    def refresh(self):
        """Loads the newest version on disk if it is not loaded yet; returns whether any version is loaded."""
        on_disk = versions_on_disk(self.export_dir)
        if on_disk and on_disk[-1] not in self._loaded:
            self._load(on_disk[-1])
            log.info("tfkit serve: serving %s version %d", self.name, on_disk[-1])
        return bool(self._loaded)

    def _load(self, number):
        loaded = LoadedVersion(number, os.path.join(self.export_dir, str(number)))
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
