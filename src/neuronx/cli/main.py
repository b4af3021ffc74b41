"""``neuronx``: serve, work, migrate, apply config, send test webhooks, operate.

Every failure the user can fix ends in one line on stderr and exit status 2;
tracebacks are kept for bugs.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer

from neuronx.errors import ConfigError, NeuronXError, StoreUnavailable
from neuronx.ingest.signatures import Scheme, decode_secret, sign
from neuronx.observability.logs import configure_logging

app = typer.Typer(
    name="neuronx",
    help="Signed lead ingestion: verify, queue, score, route and deliver webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
secrets_app = typer.Typer(
    help="Signing secrets of inbound sources.", no_args_is_help=True
)
app.add_typer(secrets_app, name="secrets")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Declarative config file to apply at start."),
]


def fail(message: str) -> NoReturn:
    typer.echo(f"neuronx: {message}", err=True)
    raise typer.Exit(2)


def _explain(error: NeuronXError) -> str:
    if isinstance(error, ConfigError) and error.errors:
        return error.detail + ":\n  " + "\n  ".join(error.errors)
    if isinstance(error, StoreUnavailable):
        return f"the database is unreachable: {error.detail}"
    return error.detail


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    config: ConfigOption = None,
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Embedded worker loops (0: API only).")
    ] = 1,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Serve the HTTP API with N embedded worker loops."""
    import uvicorn

    from neuronx.api import create_app
    from neuronx.api.state import AppState
    from neuronx.runtime import open_runtime

    configure_logging(log_level)
    try:
        runtime = open_runtime(config_path=config)
        state = AppState.build(
            runtime.db, runtime.box, admin_token=runtime.admin_token, workers=workers
        )
    except NeuronXError as error:
        fail(_explain(error))
    uvicorn.run(
        create_app(state),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from neuronx.store.db import Database, database_url_from_env

    try:
        Database(database_url_from_env()).migrate()
    except NeuronXError as error:
        fail(_explain(error))
    typer.echo("schema up to date")


@app.command()
def apply(file: Annotated[Path, typer.Argument(help="Config file (YAML).")]) -> None:
    """Apply a declarative config file to the database."""
    from neuronx.runtime import open_runtime

    try:
        open_runtime(config_path=file)
    except NeuronXError as error:
        fail(_explain(error))
    typer.echo(f"applied {file}")


@app.command()
def send(
    url: Annotated[str, typer.Argument(help="The hook URL, /v1/hooks/TENANT/SOURCE.")],
    scheme: Annotated[Scheme, typer.Option(help="Signature scheme of the source.")],
    secret: Annotated[str, typer.Option(help="The source's signing secret.")],
    data: Annotated[str | None, typer.Option(help="The JSON body.")] = None,
    file: Annotated[Path | None, typer.Option(help="A file holding the body.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 10.0,
) -> None:
    """Send one correctly signed webhook; print the status code and the body."""
    if (data is None) == (file is None):
        fail("give exactly one of --data or --file")
    try:
        body = data.encode() if data is not None else file.read_bytes()  # type: ignore[union-attr]
        key = decode_secret(scheme, secret)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    except ValueError as exc:
        fail(str(exc))

    headers = sign(
        scheme,
        key,
        body,
        timestamp=int(time.time()),
        message_id="msg_" + secrets.token_hex(12),
    )
    headers["content-type"] = "application/json"
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}")
    typer.echo(str(response.status_code))
    typer.echo(response.text)
    if not response.is_success:
        raise typer.Exit(1)


@secrets_app.command("rotate")
def rotate(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    source: Annotated[str, typer.Argument(help="Source id.")],
    grace: Annotated[
        int,
        typer.Option(min=0, max=30 * 86400, help="Seconds the old secret stays valid."),
    ] = 86400,
) -> None:
    """Add a new signing secret; the old one stays valid for the grace period."""
    from neuronx.runtime import open_runtime
    from neuronx.store.tenants import rotate_secret

    try:
        runtime = open_runtime()
        secret, previous = rotate_secret(
            runtime.db, runtime.box, tenant, source, grace_seconds=grace, actor="cli"
        )
    except NeuronXError as error:
        fail(_explain(error))
    typer.echo(f"secret: {secret}")
    if previous is not None:
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(previous))
        typer.echo(f"previous secret valid until: {until}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
