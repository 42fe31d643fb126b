"""The root `cimi` group and what every command shares: settings, output format, the client.

Connection settings come from, in this order: options (--endpoint, --user,
--password), the environment (CIMI_ENDPOINT, CIMI_USER, CIMI_PASSWORD), and
the config file (CIMI_CONFIG, or config.ini in the user's config dir, e.g.
~/.config/cimi/config.ini), section [default] or the one --profile names:

    [default]
    endpoint = http://127.0.0.1:8080/cimi/
    user = alice
    password = s3cret
"""
import configparser
import os
import urllib.parse
from pathlib import Path

import click

from cimiclient import Client

OUTPUTS = ("table", "json", "xml")


def config_path() -> Path:
    return Path(os.environ.get("CIMI_CONFIG") or Path(click.get_app_dir("cimi")) / "config.ini")


def read_config(profile: str) -> dict:
    path = config_path()
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from None
    if profile != "default" and not parser.has_section(profile):
        raise click.UsageError(f"{path} has no [{profile}] section")
    return dict(parser[profile]) if parser.has_section(profile) else {}


def entry_point_url(endpoint: str) -> str:
    """Accept a bare host URL too: http://h:8080 means its /cimi/ entry point."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.UsageError(f"the endpoint must be an http(s) URL, not {endpoint!r}")
    return endpoint if parts.path not in ("", "/") else endpoint.rstrip("/") + "/cimi/"


class State:
    """What every command shares: settings, the output format and the client (made on first use)."""

    def __init__(self, endpoint, user, password, profile, output, timeout, job_timeout):
        self.options = {"endpoint": endpoint, "user": user, "password": password}
        self.profile, self.output, self.timeout, self.timeout_jobs = profile, output, timeout, job_timeout
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = {**read_config(self.profile), **{k: v for k, v in self.options.items() if v}}
            if not settings.get("endpoint"):
                raise click.UsageError("no endpoint: give --endpoint URL, set CIMI_ENDPOINT, "
                                       f"or write endpoint = URL in {config_path()}")
            self._client = Client.connect(entry_point_url(settings["endpoint"]), settings.get("user"),
                                          settings.get("password"), timeout=self.timeout)
        return self._client


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--endpoint", envvar="CIMI_ENDPOINT", help="the CloudEntryPoint URL [env CIMI_ENDPOINT]")
@click.option("--user", envvar="CIMI_USER", help="user name [env CIMI_USER]")
@click.option("--password", envvar="CIMI_PASSWORD", help="password [env CIMI_PASSWORD]")
@click.option("--profile", envvar="CIMI_PROFILE", default="default", help="config file section")
@click.option("--output", type=click.Choice(OUTPUTS), default="table",
              help="table (default), or json / xml: the server's documents as sent")
@click.option("--http-timeout", type=float, default=60, help="seconds per HTTP request")
@click.option("--job-timeout", type=float, default=300, help="seconds to wait for a Job")
@click.version_option(package_name="darn-simple-cloud", prog_name="cimi")
@click.pass_context
def cli(ctx, endpoint, user, password, profile, output, http_timeout, job_timeout):
    """Drive a CIMI cloud: machines, volumes, networks, images, credentials, systems and jobs.

    Wherever a command takes a resource, give its id, its URL or its name
    (an error says so when a name is ambiguous).
    """
    ctx.obj = State(endpoint, user, password, profile, output, http_timeout, job_timeout)


pass_state = click.make_pass_decorator(State)
