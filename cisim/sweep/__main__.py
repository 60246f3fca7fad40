"""``python -m cisim.sweep sweep SPEC`` / ``python -m cisim.sweep analyze STORE``."""

import sys

from cisim.cli import main

sys.exit(main())
