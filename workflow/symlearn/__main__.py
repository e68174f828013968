"""``python -m symlearn`` is the ``symlearn`` command."""

import sys

from .cli import main

sys.exit(main())
