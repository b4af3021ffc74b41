"""Ingest benchmark: signed webhooks per second, latency, and signature cost.

Measured in one run, each server a separate ``serve --workers 0`` process:

1. a bare Starlette route under uvicorn (the floor: HTTP and nothing else);
2. NeuronX on a fresh SQLite file;
3. NeuronX on a fresh PostgreSQL database, when ``NEURONX_BENCH_POSTGRES_URL``
   names a cluster's admin URL (the database is created and dropped here).

Each gets wrk's closed-loop maximum; each NeuronX backend then gets an
open-loop run at half its own maximum for the latency target. The number of
events in the database is checked against the 202 answers after every run.
Before any server starts, ``verify()`` is timed against ``standardwebhooks``.

Prints a table, writes bench/results/ingest.json, and exits non-zero only when
something broke (a server that does not start, wrk missing); a missed target
is a result, reported as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import math
import os
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as common
from _common import BenchError, CpuUsage, LoadResult, Server

# Targets from the issue.
TARGET_SQLITE_RATIO = 0.5
TARGET_P99_MS = 25.0
TARGET_SIGNATURE_RATIO = 0.5
# CPU (in cores) that other programs may use during a run before it is called
# disturbed: on two cores, a quarter core elsewhere already moves the figures.
BUSY_MACHINE_CORES = 0.25


@dataclass
class Settings:
    threads: int
    connections: int
    duration_s: int
    warmup_s: int
    open_loop_s: int
    open_loop_connections: int
    output: Path


@dataclass
class BackendResult:
    """What one server got: its maximum, and for NeuronX the half-rate run."""

    name: str
    label: str
    database: str | None
    maximum: LoadResult
    cpu: CpuUsage
    event_check: dict[str, Any] | None = None
    half_rate: LoadResult | None = None
    half_rate_cpu: CpuUsage | None = None
    half_rate_check: dict[str, Any] | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def accepted_rate(self) -> float:
        return self.maximum.count(202) / self.maximum.duration_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "database": self.database,
            "max": {
                **self.maximum.as_dict(),
                "accepted_per_s": round(self.accepted_rate, 1),
                "cpu_cores": self.cpu.as_dict(),
                "event_check": self.event_check,
            },
            "half_rate": (
                {
                    **self.half_rate.as_dict(),
                    "cpu_cores": self.half_rate_cpu.as_dict()
                    if self.half_rate_cpu is not None
                    else None,
                    "event_check": self.half_rate_check,
                }
                if self.half_rate is not None
                else None
            ),
            "flags": self.flags,
        }


def log(message: str) -> None:
    print(message, flush=True)


# --- servers ---------------------------------------------------------------


def neuronx_command(port: int) -> list[str]:
    return [
        str(Path(sys.executable).parent / "neuronx"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(common.EXAMPLE_CONFIG),
        "--workers",
        "0",
        "--log-level",
        "warning",
    ]


def bare_command(port: int) -> list[str]:
    script = str(common.BENCH_DIR / "_bare_app.py")
    return [sys.executable, script, "--port", str(port)]


@contextmanager
def started(
    name: str, command: list[str], port: int, work: Path, env: dict[str, str]
) -> Iterator[Server]:
    with common.running_server(
        name, command, port=port, log_path=work / f"{name}.log", env=env, cwd=work
    ) as server:
        status = common.post_signed(server, 0, f"smoke{name}")
        if status != 202:
            raise BenchError(
                f"{name} answered {status} to a valid signed webhook:\n"
                + server.log_tail()
            )
        yield server


# --- load phases -----------------------------------------------------------


def request_file(work: Path, tag: str, count: int) -> Path:
    path = work / f"{tag}.tsv"
    common.write_signed_requests(path, count, tag=tag)
    return path


def warm_up(
    server: Server, work: Path, settings: Settings, tag: str, count: int
) -> None:
    """Load the server briefly first: caches, pools and the WAL get going."""
    common.run_wrk(
        server.url + common.HOOK_PATH,
        request_file(work, f"{tag}warm", count),
        script_dir=work,
        threads=settings.threads,
        connections=settings.connections,
        duration_s=settings.warmup_s,
    )


def maximum_rate(
    server: Server,
    work: Path,
    settings: Settings,
    tag: str,
    count: int,
    database_pid: int | None = None,
) -> tuple[LoadResult, CpuUsage]:
    """wrk's closed-loop maximum, and where the CPU went meanwhile."""
    measured = request_file(work, f"{tag}max", count)
    with common.cpu_usage(server.process.pid, database_pid) as cpu:
        result = common.run_wrk(
            server.url + common.HOOK_PATH,
            measured,
            script_dir=work,
            threads=settings.threads,
            connections=settings.connections,
            duration_s=settings.duration_s,
        )
    return result, cpu


def event_check(
    accepted: int, before: int, after: int, *, in_flight: int
) -> dict[str, Any]:
    """Compare events committed during a run with the 202 answers counted.

    wrk stops reading when its time is up, so up to one request per connection
    may be committed after it stopped counting; more than that, or fewer
    events than 202s, is a mismatch.
    """
    committed = after - before
    surplus = committed - accepted
    return {
        "accepted_202": accepted,
        "events_committed": committed,
        "surplus": surplus,
        "allowed_surplus": in_flight,
        "ok": 0 <= surplus <= in_flight,
    }


def flags_for(result: LoadResult, *, wrap_matters: bool) -> list[str]:
    flags = []
    if result.non_2xx:
        flags.append(f"{result.non_2xx} non-2xx answers {result.statuses}")
    if result.socket_errors:
        flags.append(f"{result.socket_errors} socket errors {result.errors}")
    others = sum(
        n
        for code, n in result.statuses.items()
        if code.startswith("2") and code != "202"
    )
    if others:
        flags.append(f"{others} 2xx answers other than 202 {result.statuses}")
    if wrap_matters and result.extra.get("wrapped_around"):
        flags.append("wrk ran out of distinct requests and resent ids")
    return flags


def measure_bare(work: Path, settings: Settings) -> BackendResult:
    log(
        f"bare route: wrk -t{settings.threads} -c{settings.connections} "
        f"-d{settings.duration_s}s"
    )
    port = common.free_port()
    with started("bare", bare_command(port), port, work, {}) as server:
        # Resending ids is harmless here: the bare route keeps no state.
        warm_up(server, work, settings, "bare", 50_000)
        maximum, cpu = maximum_rate(server, work, settings, "bare", 50_000)
    result = BackendResult("bare", "bare Starlette route", None, maximum, cpu)
    result.flags = flags_for(maximum, wrap_matters=False)
    return result


def measure_neuronx(
    name: str,
    label: str,
    database_url: str,
    work: Path,
    settings: Settings,
    ceiling_rate: float,
    database_pid: int | None = None,
) -> BackendResult:
    log(
        f"{label}: wrk -t{settings.threads} -c{settings.connections} "
        f"-d{settings.duration_s}s"
    )
    port = common.free_port()
    env = {
        "NEURONX_DATABASE_URL": database_url,
        # A fixed key and a private data directory keep key files out of the
        # working tree.
        "NEURONX_SECRET_KEY": "neuronx-bench-secret-key",
        "NEURONX_DATA_DIR": str(work),
    }
    # NeuronX cannot outrun the bare route on the same server stack, so its
    # rate bounds how many distinct requests a run may need.
    count = max(20_000, math.ceil(ceiling_rate * settings.duration_s * 1.3))
    with started(name, neuronx_command(port), port, work, env) as server:
        warm_count = math.ceil(count * settings.warmup_s / settings.duration_s)
        warm_up(server, work, settings, name, warm_count)
        before = common.settled_count(database_url, "events")
        maximum, cpu = maximum_rate(server, work, settings, name, count, database_pid)
        after = common.settled_count(database_url, "events")
        result = BackendResult(name, label, database_url, maximum, cpu)
        result.flags = flags_for(maximum, wrap_matters=True)
        result.event_check = event_check(
            maximum.count(202), before, after, in_flight=settings.connections
        )
        if not result.event_check["ok"]:
            result.flags.append(f"event count mismatch {result.event_check}")

        rate = result.accepted_rate / 2
        if rate < 1:
            result.flags.append("no 202 answers at all: half-rate run skipped")
            return result
        log(
            f"{label}: open loop at {rate:.0f} req/s (half its maximum) "
            f"for {settings.open_loop_s}s"
        )
        half_file = request_file(
            work, f"{name}half", math.ceil(rate * settings.open_loop_s) + 1
        )
        before = common.settled_count(database_url, "events")
        with common.cpu_usage(server.process.pid, database_pid) as cpu:
            half = common.run_open_loop(
                server.url + common.HOOK_PATH,
                half_file,
                rate=rate,
                duration_s=settings.open_loop_s,
                connections=settings.open_loop_connections,
            )
        result.half_rate_cpu = cpu
        after = common.settled_count(database_url, "events")
        result.half_rate = half
        # Every scheduled request is waited for, so the counts match exactly.
        result.half_rate_check = event_check(
            half.count(202), before, after, in_flight=0
        )
        result.flags += [
            f"half rate: {flag}" for flag in flags_for(half, wrap_matters=False)
        ]
        if half.requests < int(half.extra["scheduled"]):
            result.flags.append(
                f"half rate: {half.extra['scheduled'] - half.requests} scheduled "
                "requests got no answer"
            )
        if half.rate < 0.98 * rate:
            result.flags.append(
                f"half rate: only {half.rate:.0f} of {rate:.0f} req/s went out; "
                "every connection was waiting for an answer (the server fell behind)"
            )
        if not result.half_rate_check["ok"]:
            result.flags.append(
                f"half rate: event count mismatch {result.half_rate_check}"
            )
    return result


# --- signature verification ------------------------------------------------


def signature_benchmark(repeats: int = 31, number: int = 5_000) -> dict[str, Any]:
    """ns per verification: neuronx ``verify()`` against ``Webhook.verify``.

    Same request, same process. The candidates take turns in every repetition,
    and each ratio is the median of the per-repetition ratios: a busy moment of
    the machine then slows both sides of a pair instead of skewing the result.
    """
    from standardwebhooks.webhooks import Webhook

    from neuronx.ingest.signatures import Scheme, decode_secret, verify

    body = common.lead_body(1)
    headers = common.signed_headers(1, "micro", timestamp=int(time.time()))
    namespace: dict[str, Any] = {
        "verify": verify,
        "scheme": Scheme.STANDARD_WEBHOOKS,
        # The server decodes its keys once per config load, as Webhook() does
        # in its constructor, so neither side pays for it per request.
        "keys": [decode_secret(Scheme.STANDARD_WEBHOOKS, common.SECRET)],
        "webhook": Webhook(common.SECRET),
        "headers": headers,
        "body": body,
        "now": time.time,
    }
    statements = {
        "neuronx": (
            "verify(scheme, headers, body, keys, now=now(), tolerance_seconds=300)"
        ),
        "standardwebhooks": "webhook.verify(body, headers)",
    }
    has_json_parse = "json_parse" in inspect.signature(Webhook.verify).parameters
    if has_json_parse:
        statements["standardwebhooks_no_json"] = (
            "webhook.verify(body, headers, json_parse=False)"
        )
    timers = {
        name: timeit.Timer(statement, globals=namespace)
        for name, statement in statements.items()
    }
    for timer in timers.values():
        # Each must succeed (this raises otherwise), or the timing would be of
        # an exception path.
        timer.timeit(1)
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(number) / number * 1e9)
    ns = {name: statistics.median(values) for name, values in samples.items()}

    def paired_ratio(other: str) -> float:
        ratios = [
            mine / theirs
            for mine, theirs in zip(samples["neuronx"], samples[other], strict=True)
        ]
        return round(statistics.median(ratios), 3)

    result: dict[str, Any] = {
        "repeats": repeats,
        "number": number,
        "body_bytes": len(body),
        "ns_per_op": {name: round(value, 1) for name, value in ns.items()},
        "ns_per_op_min": {
            name: round(min(values), 1) for name, values in samples.items()
        },
        "json_parse_kwarg": has_json_parse,
        "ratio": paired_ratio("standardwebhooks"),
    }
    if has_json_parse:
        result["ratio_no_json"] = paired_ratio("standardwebhooks_no_json")
    return result


# --- targets and report ----------------------------------------------------


def disturbances(results: list[BackendResult]) -> list[str]:
    notes = []
    for backend in results:
        runs = [("max", backend.cpu), ("half rate", backend.half_rate_cpu)]
        for run, cpu in runs:
            if cpu is not None and cpu.other > BUSY_MACHINE_CORES:
                notes.append(
                    f"{backend.label} {run}: other programs used "
                    f"{cpu.other:.2f} cores (steal {cpu.steal:.2f})"
                )
    return notes


def verdict(met: bool, flagged: bool) -> str:
    word = "met" if met else "missed"
    return f"{word} (run flagged)" if flagged else word


def judge(
    bare: BackendResult,
    backends: list[BackendResult],
    signature: dict[str, Any],
) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    sqlite = next((b for b in backends if b.name == "sqlite"), None)
    if sqlite is not None:
        ratio = sqlite.accepted_rate / bare.accepted_rate
        targets.append(
            {
                "target": f"SQLite ingest >= {TARGET_SQLITE_RATIO}x bare route req/s",
                "measured": f"{ratio:.3f}x ({sqlite.accepted_rate:.0f} vs "
                f"{bare.accepted_rate:.0f} req/s; needs "
                f"{bare.accepted_rate * TARGET_SQLITE_RATIO:.0f})",
                "value": round(ratio, 4),
                "verdict": verdict(
                    ratio >= TARGET_SQLITE_RATIO, bool(sqlite.flags or bare.flags)
                ),
            }
        )
    for backend in backends:
        if backend.half_rate is None:
            targets.append(
                {
                    "target": f"{backend.label}: p99 <= {TARGET_P99_MS:g} ms at "
                    "half its max rate",
                    "measured": "no half-rate run",
                    "value": None,
                    "verdict": "not measured",
                }
            )
            continue
        p99 = backend.half_rate.latency_ms.get("p99", math.inf)
        targets.append(
            {
                "target": f"{backend.label}: p99 <= {TARGET_P99_MS:g} ms at half "
                "its max rate",
                "measured": f"p99 {p99:.1f} ms at "
                f"{backend.half_rate.extra['target_rate']:.0f} req/s",
                "value": round(p99, 3),
                "verdict": verdict(p99 <= TARGET_P99_MS, bool(backend.flags)),
            }
        )
    targets.append(
        {
            "target": "verify() <= "
            f"{TARGET_SIGNATURE_RATIO}x standardwebhooks Webhook.verify time",
            "measured": f"{signature['ratio']:.3f}x "
            f"({signature['ns_per_op']['neuronx']:.0f} vs "
            f"{signature['ns_per_op']['standardwebhooks']:.0f} ns/op)",
            "value": signature["ratio"],
            "verdict": verdict(signature["ratio"] <= TARGET_SIGNATURE_RATIO, False),
        }
    )
    if "ratio_no_json" in signature:
        targets.append(
            {
                "target": "(same, against Webhook.verify(..., json_parse=False))",
                "measured": f"{signature['ratio_no_json']:.3f}x "
                f"({signature['ns_per_op']['neuronx']:.0f} vs "
                f"{signature['ns_per_op']['standardwebhooks_no_json']:.0f} ns/op)",
                "value": signature["ratio_no_json"],
                "verdict": verdict(
                    signature["ratio_no_json"] <= TARGET_SIGNATURE_RATIO, False
                ),
            }
        )
    return targets


def _check(check: dict[str, Any] | None) -> str:
    if check is None:
        return "-"
    text = f"{check['events_committed']}/{check['accepted_202']}"
    return text if check["ok"] else text + " MISMATCH"


def _cores(value: float) -> str:
    # SQLite works inside the server, so a zero there means "not separate".
    return f"{value:.2f}" if value else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


def report(
    machine: dict[str, Any],
    bare: BackendResult,
    backends: list[BackendResult],
    signature: dict[str, Any],
    targets: list[dict[str, Any]],
    postgres_note: str | None,
    settings: Settings,
    revision: str,
) -> str:
    maximum_rows = []
    for backend in [bare, *backends]:
        m = backend.maximum
        maximum_rows.append(
            [
                backend.label,
                f"{m.rate:.0f}",
                f"{backend.accepted_rate / bare.accepted_rate:.3f}",
                _ms(m.latency_ms.get("p50")),
                _ms(m.latency_ms.get("p99")),
                str(m.non_2xx),
                str(m.socket_errors),
                f"{backend.cpu.server:.2f}",
                _cores(backend.cpu.database),
                f"{backend.cpu.other:.2f}",
                _check(backend.event_check),
            ]
        )
    half_rows = []
    for backend in backends:
        half = backend.half_rate
        if half is None:
            continue
        half_rows.append(
            [
                backend.label,
                f"{half.extra['target_rate']:.0f}",
                f"{half.rate:.0f}",
                _ms(half.latency_ms.get("p50")),
                _ms(half.latency_ms.get("p99")),
                _ms(half.latency_ms.get("max")),
                str(half.non_2xx),
                str(half.socket_errors),
                _ms(half.extra["connection_wait_ms"].get("p99")),
                _ms(half.extra["send_lag_ms"].get("p99")),
                f"{backend.half_rate_cpu.other:.2f}" if backend.half_rate_cpu else "-",
                _check(backend.half_rate_check),
            ]
        )
    maximum_table = common.format_table(
        [
            "server",
            "req/s",
            "x bare",
            "p50 ms",
            "p99 ms",
            "non-2xx",
            "sock err",
            "srv cores",
            "db cores",
            "other cores",
            "events/202",
        ],
        maximum_rows,
    )
    half_table = common.format_table(
        [
            "server",
            "target/s",
            "sent/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "non-2xx",
            "sock err",
            "wait p99",
            "lag p99",
            "other cores",
            "events/202",
        ],
        half_rows,
    )
    ns = signature["ns_per_op"]
    lines = [
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gib']} GiB, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}, PostgreSQL {machine['postgresql'] or '-'}",
        f"Revision: {revision}",
        "Server and load generator share the CPUs: every figure includes that.",
        "",
        f"Maximum rate: wrk -t{settings.threads} -c{settings.connections} "
        f"-d{settings.duration_s}s (closed loop, after a {settings.warmup_s}s "
        "warm-up)",
        maximum_table,
        "",
        f"Half of each server's own maximum: open loop for {settings.open_loop_s}s "
        "(latency from the scheduled send time)",
        half_table if half_rows else "  (no NeuronX backend measured)",
        "",
        "events/202: events committed during the run / 202 answers counted. wrk "
        "stops reading with one request in flight per connection, so up to "
        f"{settings.connections} more may be committed; the open loop waits for "
        "every answer, so its counts must be equal.",
        "srv/db cores: CPU time / wall time of the server process and of the "
        "PostgreSQL cluster; other cores: CPU used by other programs meanwhile. "
        "wait p99: how long "
        "a due request found every connection busy (the server's doing, counted "
        "in its latency); lag p99: how late the generator itself sent (it shares "
        "the CPUs).",
    ]
    if postgres_note:
        lines.append(postgres_note)
    lines += ["", "Signature verification (median ns/op):"]
    for name, value in ns.items():
        lines.append(f"  {name:26} {value:8.0f}")
    lines += ["", "Targets:"]
    for target in targets:
        lines.append(
            f"  [{target['verdict']}] {target['target']}: {target['measured']}"
        )
    notes = disturbances([bare, *backends])
    if notes:
        lines += ["", "MACHINE NOT IDLE (these runs' figures are low):"]
        lines += [f"  {note}" for note in notes]
    flags = [(b.label, flag) for b in [bare, *backends] for flag in b.flags]
    if flags:
        lines += ["", "FLAGGED RUNS (their figures are not clean throughput):"]
        lines += [f"  {label}: {flag}" for label, flag in flags]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------


def parse_args(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10, help="seconds per max run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds")
    parser.add_argument(
        "--open-loop", type=int, default=10, help="seconds of the half-rate run"
    )
    parser.add_argument("--open-loop-connections", type=int, default=64)
    parser.add_argument(
        "--output", type=Path, default=common.RESULTS_DIR / "ingest.json"
    )
    args = parser.parse_args(argv)
    return Settings(
        threads=args.threads,
        connections=args.connections,
        duration_s=args.duration,
        warmup_s=args.warmup,
        open_loop_s=args.open_loop,
        open_loop_connections=args.open_loop_connections,
        output=args.output,
    )


def run(settings: Settings) -> int:
    common.require_wrk()
    admin_url = os.environ.get("NEURONX_BENCH_POSTGRES_URL") or None
    postgres_note = None
    postgres = None
    if admin_url is None:
        postgres_note = (
            "PostgreSQL: not measured, NEURONX_BENCH_POSTGRES_URL is unset "
            "(SQLite only)."
        )
        log(postgres_note)
    else:
        try:
            postgres = common.postgres_version(admin_url)
        except Exception as exc:
            raise BenchError(f"cannot reach NEURONX_BENCH_POSTGRES_URL: {exc}") from exc

    started_at = dt.datetime.now(dt.UTC)
    revision = common.source_revision()
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="neuronx-bench-") as tmp:
        work = Path(tmp)
        machine = common.machine_info(postgres)
        machine["temp_filesystem"] = common.filesystem_of(work)

        log("signature verification: timeit, interleaved")
        signature = signature_benchmark()

        bare = measure_bare(work, settings)
        backends = [
            measure_neuronx(
                "sqlite",
                "NeuronX SQLite",
                f"sqlite:///{work / 'neuronx.db'}",
                work,
                settings,
                bare.maximum.rate,
            )
        ]
        if admin_url is not None:
            with common.temporary_postgres_database(admin_url, "neuronx_bench") as url:
                backends.append(
                    measure_neuronx(
                        "postgresql",
                        "NeuronX PostgreSQL",
                        url,
                        work,
                        settings,
                        bare.maximum.rate,
                        common.postmaster_pid(admin_url),
                    )
                )

    targets = judge(bare, backends, signature)
    print(
        report(
            machine,
            bare,
            backends,
            signature,
            targets,
            postgres_note,
            settings,
            revision,
        )
    )
    results = {
        "benchmark": "ingest",
        "date": started_at.isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - clock, 1),
        "revision": revision,
        "machine": machine,
        "settings": {
            "server": "neuronx serve --workers 0 --log-level warning "
            "(one process); bare: uvicorn.run with the same arguments",
            "wrk": f"-t{settings.threads} -c{settings.connections} "
            f"-d{settings.duration_s}s after a {settings.warmup_s}s warm-up",
            "open_loop": f"{settings.open_loop_s}s at half the server's max, "
            f"{settings.open_loop_connections} keep-alive connections",
            "postgresql": "measured" if admin_url else "skipped: variable unset",
        },
        "runs": {b.name: b.as_dict() for b in [bare, *backends]},
        "ratios_to_bare": {
            b.name: round(b.accepted_rate / bare.accepted_rate, 4) for b in backends
        },
        "signature": signature,
        "targets": targets,
        "flagged": any(b.flags for b in [bare, *backends]),
        "disturbed": disturbances([bare, *backends]),
    }
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    settings.output.write_text(json.dumps(results, indent=2) + "\n")
    log(f"\nwrote {settings.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(settings)
    except BenchError as exc:
        print(f"ingest benchmark failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
