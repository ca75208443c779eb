"""tf.data readers for tfkit models."""

from tfkit.data.csv import CsvSchema, explain, expand_files, read_csv

__all__ = ["CsvSchema", "explain", "expand_files", "read_csv"]
