"""`python -m hotspotd` runs the CLI."""

import sys

from hotspotd.cli import main

sys.exit(main())
