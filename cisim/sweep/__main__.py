"""``python -m cisim.sweep sweep SPEC`` / ``python -m cisim.sweep analyze STORE``."""

import sys

from cisim.sweep.cli import main

sys.exit(main())
