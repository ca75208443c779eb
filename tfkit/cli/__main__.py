"""``python -m tfkit.cli``: the ``tfkit`` command."""

import sys

from tfkit.cli import main

sys.exit(main())
