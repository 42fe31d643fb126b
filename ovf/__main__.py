"""Command line: ``python -m ovf inspect PATH [--profile NAME] [--json]``.

Exit 0 with the facts on success; exit 2 with one ``refused: <reason>``
line on stderr when the package is refused.
"""

import argparse
import json
import sys

from ovf.errors import OVFError
from ovf.inspect import inspect, summary


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ovf",
                                     description="Read and check OVF packages.")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("inspect", help="describe a descriptor or OVA")
    cmd.add_argument("path")
    cmd.add_argument("--profile", help="deployment option to apply")
    cmd.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    try:
        facts = inspect(args.path, profile=args.profile)
    except OVFError as exc:
        reason = " ".join(str(exc).split())
        print(f"refused: {reason}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        print(summary(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
