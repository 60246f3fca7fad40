"""``python -m cisim.cli ...``: the ``cisim`` command."""

import sys

from cisim.cli import main

sys.exit(main())
