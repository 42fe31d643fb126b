"""`python -m cimi.cli`: the same as the `cimi` command."""
import sys

from cimi.cli import main

sys.exit(main())
