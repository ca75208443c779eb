"""Below every layer: files written whole or not at all (:mod:`~tfkit.io.files`), and the named points where a test
kills the process to prove it (:mod:`~tfkit.io.faults`)."""
