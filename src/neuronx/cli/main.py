"""``neuronx``: serve, work, migrate, apply config, send test webhooks, operate.

Every failure the user can fix ends in one line on stderr and exit status 2;
tracebacks are kept for bugs.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import httpx
import orjson
import typer

from neuronx.errors import ConfigError, NeuronXError, StoreUnavailable
from neuronx.ingest.signatures import Scheme, decode_secret, sign
from neuronx.observability.logs import configure_logging
from neuronx.pagination import MAX_ID

if TYPE_CHECKING:
    from neuronx.runtime import Runtime

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
dlq_app = typer.Typer(help="Inspect and act on dead letters.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

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
    import signal

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
    # uvicorn drains on SIGTERM, then raises the signal again for the handler
    # that was there before it; a no-op one lets a drained server exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        create_app(state),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker(
    config: ConfigOption = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 4,
    drain_seconds: Annotated[
        float, typer.Option(help="On SIGTERM, how long running jobs may finish.")
    ] = 30.0,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run a worker only, for scaling out over PostgreSQL."""
    import signal
    import threading

    from neuronx.leads.pipeline import LeadPipeline
    from neuronx.queue.retry import RetryPolicy
    from neuronx.queue.worker import Worker
    from neuronx.runtime import build_registry, open_runtime
    from neuronx.store.tenants import load_settings

    configure_logging(log_level)
    try:
        runtime = open_runtime(config_path=config)
        settings = load_settings(runtime.db)
    except NeuronXError as error:
        fail(_explain(error))

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    pipeline = LeadPipeline(retry=lambda: RetryPolicy.from_settings(settings.retry))
    registry = build_registry(pipeline)
    Worker(
        runtime.db, registry, lambda: settings, concurrency=concurrency
    ).run_until_stopped(stop, drain_seconds)


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


def _dlq_runtime() -> Runtime:
    from neuronx.runtime import open_runtime

    try:
        return open_runtime()
    except NeuronXError as error:
        fail(_explain(error))


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """List dead letters, oldest first, one JSON object per line."""
    from neuronx.queue import deadletters

    runtime = _dlq_runtime()
    try:
        page = deadletters.page(
            runtime.db, tenant_id=tenant, queue=queue, cursor=None, limit=limit
        )
    except NeuronXError as error:
        fail(_explain(error))
    for item in page["items"]:
        typer.echo(orjson.dumps(item).decode())


@dlq_app.command("show")
def dlq_show(
    job_id: Annotated[int, typer.Argument(help="Dead letter id.", min=1, max=MAX_ID)],
) -> None:
    """Show one dead letter with every attempt's error."""
    from neuronx.queue import deadletters
    from neuronx.queue import store as queue_store

    runtime = _dlq_runtime()
    try:
        with runtime.db.read() as conn:
            row = queue_store.get_dead_letter(conn, job_id, tenant_id=None)
    except NeuronXError as error:
        fail(_explain(error))
    if row is None:
        fail(f"no dead letter {job_id}")
    typer.echo(
        orjson.dumps(deadletters.render(row), option=orjson.OPT_INDENT_2).decode()
    )


@dlq_app.command("replay")
def dlq_replay(
    job_ids: Annotated[
        list[int] | None, typer.Argument(help="Dead letter ids.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    queue: Annotated[
        str | None, typer.Option(help="With --all: only this queue.")
    ] = None,
) -> None:
    """Put dead letters back on their queue, attempts reset, trace kept."""
    from neuronx.queue import deadletters

    if bool(job_ids) == all_:
        fail("give dead letter ids, or --all")
    if queue is not None and not all_:
        fail("--queue goes with --all")
    runtime = _dlq_runtime()
    try:
        replayed = deadletters.replay(
            runtime.db, tenant_id=None, job_ids=job_ids or None, queue=queue
        )
    except NeuronXError as error:
        fail(_explain(error))
    typer.echo(f"replayed {len(replayed)}")
    missing = sorted(set(job_ids or []) - set(replayed))
    if missing:
        fail("not dead letters: " + " ".join(str(i) for i in missing))


@dlq_app.command("purge")
def dlq_purge(
    job_ids: Annotated[
        list[int], typer.Argument(help="Dead letter ids.", min=1, max=MAX_ID)
    ],
) -> None:
    """Delete dead letters for good."""
    from neuronx.queue import store as queue_store

    runtime = _dlq_runtime()
    try:
        with runtime.db.write() as conn:
            purged = queue_store.purge_dead_letters(
                conn, tenant_id=None, job_ids=job_ids
            )
    except NeuronXError as error:
        fail(_explain(error))
    typer.echo(f"purged {purged}")
    if purged != len(set(job_ids)):
        fail(f"{len(set(job_ids)) - purged} of the ids were not dead letters")


def main() -> None:
    """Run the command line; a usage error is one line on stderr and exit 2."""
    try:
        result = app(standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # Typer raises click's exceptions, from click itself or from the copy
        # of it that newer Typer releases carry, so they are known by shape.
        sys.exit(_usage_error(exc))
    sys.exit(result if isinstance(result, int) else 0)


def _usage_error(exc: Exception) -> int:
    kind = type(exc).__name__
    context = getattr(exc, "ctx", None)
    if kind == "NoArgsIsHelpError" and context is not None:
        typer.echo(context.get_help())
        return 0
    if kind == "Abort":
        return 130
    if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
        raise exc
    hint = f" (see: {context.command_path} --help)" if context is not None else ""
    typer.echo(f"neuronx: {exc.format_message()}{hint}", err=True)
    return int(exc.exit_code)
