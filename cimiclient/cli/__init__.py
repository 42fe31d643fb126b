"""`cimi`: drive a CIMI cloud from a shell, one command per everyday task.

Tables are for people; --output json|xml prints the server's documents as
sent, for scripts. Waiting on a Job shows a progress bar on a terminal and
nothing when piped. Errors print the server's message and exit 1; usage
errors exit 2. One module per area: app (settings, the root group), output
(safe printing), common (the shared commands), then one per resource kind.
"""
import sys

import click

from cimiclient.cli import credentials, images, jobs, machines, networks, packages, quarantine, quotas  # noqa: F401
from cimiclient.cli import systems, usage, volumes  # noqa: F401
from cimiclient.cli.app import cli
from cimiclient.cli.output import clean
from cimiclient import CimiError

__all__ = ["cli", "main"]


def main(argv=None) -> int:
    """Run the command; return the exit status (0 ok, 1 error, 2 usage)."""
    try:
        status = cli.main(args=argv, prog_name="cimi", standalone_mode=False)   # ctx.exit(n) returns n
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.message = clean(exc.message)
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except CimiError as exc:
        click.echo(f"cimi: error: {clean(exc)}", err=True)
        return 1
    except BrokenPipeError:
        return 1
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
