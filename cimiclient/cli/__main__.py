"""`python -m cimiclient.cli`: the same as the `cimi` command."""
import sys

from cimiclient.cli import main

sys.exit(main())
