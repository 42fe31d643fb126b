"""`cimi credentials`: SSH public keys (and user names) to give machines."""
import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import Listing, attr, create_and_report, crud_commands, output_option, read_file, short
from cimiclient.documents import public_key_of


def _key_cell(item, context):
    key = public_key_of(item) or ""
    parts = key.split()
    return f"{parts[0]} …{parts[1][-12:]} {' '.join(parts[2:])}".strip() if len(parts) >= 2 else key


LISTING = Listing("credential", [("ID", short), ("NAME", attr("name")), ("USER", attr("userName")),
                                 ("KEY", _key_cell), ("CREATED", attr("created"))])


@cli.group()
def credentials():
    """Credentials (SSH keys, user names): list, show, create, delete."""


crud_commands(credentials, "credentials", LISTING)


@credentials.command("create")
@click.argument("name")
@click.option("--public-key", "public_key", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="an OpenSSH public key file, e.g. ~/.ssh/id_ed25519.pub")
@click.option("--user", help="the user the key logs in as (default: the image's default user)")
@click.option("--description")
@output_option
@pass_state
def credentials_create(state, name, public_key, user, description):
    """Create a credential from a public key file."""
    key = read_file(public_key, "public key").decode("utf-8", "replace")
    body = state.client.credential_body(name, public_key=key, user=user, description=description)
    create_and_report(state, "credentials", body, f"credential {name}")
