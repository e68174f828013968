"""``python -m symlearn.cli``, as ``python -m symlearn``: the ``symlearn`` command."""

import sys

from . import main

sys.exit(main())
