"""`cimi ovf inspect`, `cimi import` and `cimi export`: OVF packages in and out of the cloud."""
import json
import tarfile
import urllib.parse
from pathlib import Path

import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import conclude, label, output_option, wait_options
from cimiclient.cli.output import JobProgress, echo
from cimiclient import CimiError, NotImplementedByServer, NotOffered


@cli.group()
def ovf():
    """OVF packages, read locally."""


@ovf.command("inspect")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--profile", help="deployment option to apply")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
def ovf_inspect(path, profile, as_json):
    """Describe an OVF descriptor or OVA package (nothing is sent to the server)."""
    from ovf.errors import OVFError
    from ovf.inspect import inspect, summary
    try:
        facts = inspect(path, profile=profile)
    except OVFError as exc:
        raise click.ClickException("refused: " + " ".join(str(exc).split())) from None
    if as_json:
        click.echo(json.dumps(facts, indent=2))
    else:
        echo(summary(facts))


def _source_uri(package: str) -> str:
    """A URI as given; a local file as its file: URI; anything else as a path the server resolves
    (under its import directory)."""
    if urllib.parse.urlsplit(package).scheme in ("http", "https", "file"):
        return package
    path = Path(package)
    return path.resolve().as_uri() if path.is_file() else package


@cli.command("import")
@click.argument("package")
@click.option("--profile", help="OVF deployment option to apply")
@wait_options
@output_option
@pass_state
def import_(state, package, profile, wait, timeout):
    """Import an OVF/OVA PACKAGE as a system template: a local .ova (uploaded), a URL, or a path in the
    server's import directory. Then: cimi systems create NAME --template TEMPLATE."""
    try:
        if Path(package).is_file() and tarfile.is_tarfile(package):
            with JobProgress(f"uploading {Path(package).name}", transfer=True) as bar:
                result = state.client.upload_package(package, name=Path(package).stem, profile=profile,
                                                     on_sent=bar.sent)
        else:
            result = state.client.import_package(_source_uri(package), "systemTemplates",
                                                 properties={"profile": profile} if profile else None)
    except (NotImplementedByServer, NotOffered) as exc:
        raise CimiError(f"the server does not offer import: {exc.message}", exc.status) from None
    conclude(state, result, f"import {Path(package).name}", wait, timeout)


@cli.command("export")
@click.argument("ident")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="where to write the package")
@click.option("--kind", type=click.Choice(["machines", "systems"]), default="machines", show_default=True,
              help="what IDENT names")
@pass_state
def export(state, ident, out, kind):
    """Export a stopped machine (or system) to an OVA file."""
    client = state.client
    resource = client.find(kind, ident)
    if client.operation(resource, "export") is None:
        raise CimiError(f"{label(resource)} offers no export now "
                       f"(it is {resource.get('state', 'not exportable')}; export needs it STOPPED)")
    try:
        result = client.act(resource, "export", format="application/ovf")
    except NotImplementedByServer as exc:
        raise CimiError(f"the server does not offer export: {exc.message}", exc.status) from None
    package = result.location
    if result.job:
        with JobProgress(f"exporting {label(resource)}") as bar:
            job = client.wait(result.job, state.timeout_jobs, on_progress=bar.update)
        # The package's download href is among the Job's affected resources.
        package = next((r["href"] for r in job.get("affectedResources", []) if "/exports/" in r["href"]), package)
    if not package:
        raise CimiError("the server did not say where the package is")
    data = client.request("GET", package, headers={"Accept": "*/*"}).body
    Path(out).write_bytes(data)
    echo(f"wrote {out} ({len(data)} bytes)")
