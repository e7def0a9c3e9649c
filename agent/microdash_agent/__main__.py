"""`python -m microdash_agent` runs the agent."""

import sys

from .cli import main

sys.exit(main())
