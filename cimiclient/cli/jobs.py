"""`cimi jobs`: list (with filters), show, wait."""
import click

from cimiclient.cli.app import cli, pass_state
from cimiclient.cli.common import Listing, attr, list_command, output_option, emit, short, show_command
from cimiclient.cli.output import JobProgress
from cimiclient import ACTION, ITEMS, filter_literal, short_id


def target(job: dict, base_uri: str) -> str:
    """What a Job acts on, under the base URI: the resource an add made, else its targetResource."""
    href = (job.get("targetResource") or {}).get("href", "")
    made = [r["href"] for r in job.get("affectedResources") or [] if r.get("href", "").startswith(href + "/")]
    href = made[0] if short_id(job.get("action", "")) == "add" and made else href
    return href.removeprefix(base_uri)


LISTING = Listing("job", [("ID", short), ("ACTION", lambda j, c: short_id(j.get("action", ""))),
                          ("STATE", attr("state")), ("PROGRESS", lambda j, c: f"{j.get('progress', 0) or 0}%"),
                          ("TARGET", target), ("MESSAGE", attr("statusMessage"))],
                  lambda client: client.base_uri)


@cli.group()
def jobs():
    """Jobs: list (with filters), show, wait."""


show_command(jobs, "jobs", "job")


def _resolve(client, text: str) -> str:
    kind, _, ident = text.partition("/")
    if kind not in ITEMS or not ident:
        raise click.BadParameter(f"give KIND/IDENT with KIND one of {', '.join(sorted(ITEMS))}, or a URL",
                                 param_hint="--target")
    return client.find(kind, ident)["id"]


def _filters(client, job_state, action, target):
    terms = []
    if job_state:
        terms.append(f"state={filter_literal(job_state.upper())}")
    if action:
        terms.append(f"(action={filter_literal(action)} or action={filter_literal(ACTION + action)})")
    if target:
        terms.append(f"targetResource/href={filter_literal(target if '://' in target else _resolve(client, target))}")
    return terms


list_command(jobs, "jobs", LISTING, "List jobs; --state, --action and --target add to any --filter.", options=[
    click.option("--state", "job_state", type=click.Choice(["QUEUED", "RUNNING", "SUCCESS", "FAILED", "STOPPED"],
                                                           case_sensitive=False), help="only jobs in this state"),
    click.option("--action", help="only jobs of this action (add, delete, start, stop, ...)"),
    click.option("--target", metavar="KIND/IDENT", help="only jobs whose target is this resource, e.g. "
                 "machines/web1 (or its URL)")], filters=_filters)


@jobs.command("wait")
@click.argument("ident")
@click.option("--timeout", type=float, default=None, help="seconds (default: --job-timeout)")
@output_option
@pass_state
def jobs_wait(state, ident, timeout):
    """Wait for a job to finish; exit 1 unless it succeeds."""
    client = state.client
    job = client.find("jobs", ident)
    with JobProgress(f"job {short_id(job['id'])}") as bar:
        job = client.wait(job["id"], timeout or state.timeout_jobs, on_progress=bar.update)
    emit(state, job)
