"""Benchmark: the public pages under `newsletter serve` against a bare ASGI page, same uvicorn.

    .venv/bin/python bench/web.py --db both --duration 10 --connections 50

For each database (PostgreSQL in a scratch database that is dropped and re-created, SQLite in a
temporary file) this migrates and seeds a federation, pending subscribers with confirmation
tokens and confirmed ones with unsubscribe tokens, starts smtp-sink on loopback (the sign-up's
confirmation mail goes there) and `newsletter serve` with production settings (DEV off, a
SECRET_KEY, an https BASE_URL; only the sign-up rate limits are raised, by configuration, since
every wrk request comes from 127.0.0.1). The reference is `reference_app` below: a bare ASGI
callable that reads the request body and answers a fixed HTML page of the same size, run by the
same uvicorn with the same options. wrk drives both, one after the other, for:

- form:        GET  /f/{slug}/prenumerera
- signup:      POST /f/{slug}/prenumerera, a unique address per request, a genuine form stamp
- confirm:     GET  /f/{slug}/bekrafta/{token}, cycling over live confirmation tokens
- unsubscribe: POST /u/{token} with List-Unsubscribe=One-Click, each token used once

and prints requests/s, p50/p99, the server's CPU time per request and the ratio to the
reference per scenario and database.

A sign-up's confirmation mail is sent after its answer, so when wrk stops some mails may still
be on their way. The sign-up run therefore waits until the outbox is empty (every mail sent to
smtp-sink) and counts that time and the server's CPU in it: the sign-up's req/s and ratio are
sign-ups with their mail sent per second (what the server can keep up), `answered` is the rate
at which wrk got its answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send import (  # noqa: E402 (needs ROOT on sys.path when run as a script)
    add_database_arguments,
    analyze,
    free_port,
    migrated_environment,
    prepare_database,
    seed_federation,
    seed_subscribers,
)

SLUG = "bench"
# Sign-ups and self-service links share these limits; every wrk request comes from one IP.
RAISED_LIMIT = "100000000"
SCENARIOS = ("form", "signup", "confirm", "unsubscribe")
# The sign-up's POST against bench/floors.py's routes (--scenarios floor-form floor-write
# floor-raw): what a sign-up costs at the least in this stack.
FLOORS = {
    "floor-form": "/bench-floor/form",
    "floor-write": "/bench-floor/write",
    "floor-raw": "/bench-floor/raw",  # PostgreSQL only
}

# --- the reference ---------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def _reference_body() -> bytes:
    size = int(os.environ.get("BENCH_REFERENCE_BYTES", "6000"))
    head = b"<!doctype html><html lang=sv><title>Referens</title><p>"
    return head + b"x" * max(0, size - len(head))


_REFERENCE_BODY = _reference_body()


async def reference_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The least an ASGI app can do for a page: read the body, answer fixed HTML."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(_REFERENCE_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _REFERENCE_BODY})


# --- wrk scripts -------------------------------------------------------------------------------

# setup() numbers the threads; each thread then takes every n-th token so no two threads
# use the same one, and done() reports how often a thread ran out and started over.
TOKENS_LUA = """
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
  thread:set("nthreads", NTHREADS)
  thread:set("wrapped", 0)
end
function init(args)
  tokens = {}
  local i = 0
  for line in io.lines("TOKENS") do
    if i % nthreads == id - 1 then table.insert(tokens, line) end
    i = i + 1
  end
  pos = 0
end
function next_token()
  pos = pos + 1
  if pos > #tokens then pos = 1; wrapped = wrapped + 1 end
  return tokens[pos]
end
function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + t:get("wrapped") end
  io.write("WRAPPED " .. w .. "\\n")
end
"""

CONFIRM_LUA = (
    TOKENS_LUA
    + """
function request()
  return wrk.format("GET", "/f/SLUG/bekrafta/" .. next_token())
end
"""
)

UNSUBSCRIBE_LUA = (
    TOKENS_LUA
    + """
function request()
  return wrk.format("POST", "/u/" .. next_token(),
    {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
"""
)

SIGNUP_LUA = """
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  local body = "email=ny-RUN-" .. id .. "-" .. counter .. "%40bench.example.se"
    .. "&name=Ny+Prenumerant&consent=on&website=&stamp=STAMP"
  return wrk.format("POST", "/f/SLUG/prenumerera",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


def write_script(workdir: Path, name: str, text: str, **values: str) -> Path:
    for key, value in values.items():
        text = text.replace(key, value)
    path = workdir / f"{name}.lua"
    path.write_text(text)
    return path


# --- running ------------------------------------------------------------------------------------


@dataclass
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    wrapped: int
    cpu_ms: float
    # Seconds after wrk stopped until the outbox was empty (sign-ups), and wrk's own rate.
    drain_s: float = 0.0
    answered: float = 0.0


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _latency_ms(text: str, pct: str) -> float:
    match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else float("nan")


def wrk(
    url: str,
    *,
    script: Path | None,
    args: argparse.Namespace,
    pid: int,
    seconds: int,
    outbox: str | None = None,
) -> Run:
    """One wrk run against the server `pid`; with `outbox` (a database URL), it then waits
    until that outbox is empty and counts the wait in the rate and the CPU."""
    import psutil

    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    cmd += ["--timeout", "30s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    server = psutil.Process(pid)
    processes = [server, *server.children(recursive=True)]  # uvicorn's workers, if several
    cpu_before = sum(sum(p.cpu_times()[:2]) for p in processes)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    drain_s = asyncio.run(wait_for_outbox(outbox)) if outbox else 0.0
    cpu = sum(sum(p.cpu_times()[:2]) for p in processes) - cpu_before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    answered = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    wrapped = re.search(r"^WRAPPED (\d+)", out, re.M)
    if errors:
        print(f"    wrk: {errors.group(0)}")
    return Run(
        rate=requests / (requests / answered + drain_s) if answered else 0.0,
        p50_ms=_latency_ms(out, "50"),
        p99_ms=_latency_ms(out, "99"),
        requests=requests,
        bad=int(bad.group(1)) if bad else 0,
        wrapped=int(wrapped.group(1)) if wrapped else 0,
        cpu_ms=1000 * cpu / max(1, requests),
        drain_s=drain_s,
        answered=answered,
    )


async def wait_for_outbox(url: str, limit: float = 300.0) -> float:
    """Seconds until no delivery is queued or being sent (the mails after the answers)."""
    from sqlalchemy import text

    from app.db import make_engine

    engine = make_engine(url)
    began = time.monotonic()
    try:
        while time.monotonic() - began < limit:
            async with engine.connect() as conn:
                left = await conn.scalar(
                    text("SELECT COUNT(*) FROM deliveries WHERE status IN ('queued', 'sending')")
                )
            if not left:
                break
            await asyncio.sleep(0.1)
        else:
            print(f"    outbox not empty after {limit:.0f} s")
    finally:
        await engine.dispose()
    return time.monotonic() - began


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer {url}:\n{log.read_text()[-3000:]}")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


async def seed(pending: int, confirmed: int) -> tuple[list[str], list[str]]:
    from app.db import dispose_engine

    fid = await seed_federation()
    confirm_tokens = await seed_subscribers(fid, pending, confirmed=False, prefix="vantar")
    unsubscribe_tokens = await seed_subscribers(fid, confirmed, prefix="mottagare")
    await dispose_engine()
    return confirm_tokens, unsubscribe_tokens


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_one(kind: str, args: argparse.Namespace) -> dict[str, tuple[Run, Run]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-web-{kind}-"))
    url = prepare_database(kind, args.pg_url, workdir)
    smtp_port, app_port, ref_port = free_port(), free_port(), free_port()
    env = migrated_environment(
        url,
        workdir,
        smtp_port=smtp_port,
        NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE=RAISED_LIMIT,
        NEWSLETTER_RATE_LIMIT_GLOBAL_PER_MINUTE=RAISED_LIMIT,
    )
    confirm_tokens, unsubscribe_tokens = asyncio.run(seed(args.pending, args.tokens))
    analyze(url)
    (workdir / "confirm.txt").write_text("\n".join(confirm_tokens) + "\n")
    (workdir / "unsubscribe.txt").write_text("\n".join(unsubscribe_tokens) + "\n")

    sink = subprocess.Popen(
        ["smtp-sink", "-u", os.environ.get("USER", "root"), f"127.0.0.1:{smtp_port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app_cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
    app_cmd += ["--port", str(app_port), "--workers", str(args.workers)]
    app = start(app_cmd, env, workdir / "app.log")
    ref = floor = None
    results: dict[str, tuple[Run, Run]] = {}
    try:
        app_base = f"http://127.0.0.1:{app_port}"
        form_url = f"{app_base}/f/{SLUG}/prenumerera"
        wait_ready(form_url, app, workdir / "app.log")
        page = fetch(form_url)
        stamp = re.search(r'name="stamp" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        ref_env = {**env, "BENCH_REFERENCE_BYTES": str(len(page.encode()))}
        # The options `newsletter serve` passes to uvicorn.run, so only the app differs.
        ref_cmd = [sys.executable, "-m", "uvicorn", "bench.web:reference_app"]
        ref_cmd += ["--host", "127.0.0.1", "--port", str(ref_port), "--proxy-headers"]
        ref_cmd += ["--forwarded-allow-ips", env.get("FORWARDED_ALLOW_IPS", "127.0.0.1")]
        ref = start(ref_cmd, ref_env, workdir / "ref.log")
        ref_base = f"http://127.0.0.1:{ref_port}"
        wait_ready(ref_base, ref, workdir / "ref.log")
        if FLOORS.keys() & set(args.scenarios):
            from bench.floors import create_table

            asyncio.run(create_table(url))
            floor_port = free_port()
            floor_base = f"http://127.0.0.1:{floor_port}"
            floor_cmd = [sys.executable, "-m", "bench.floors", str(floor_port)]
            floor = start(floor_cmd, env, workdir / "floor.log")
            wait_ready(f"{floor_base}/f/{SLUG}/prenumerera", floor, workdir / "floor.log")
        # The stamp must be older than form_min_seconds, as a person's would be.
        time.sleep(float(os.environ.get("NEWSLETTER_FORM_MIN_SECONDS", "2")) + 0.5)
        threads = str(args.threads)
        scripts: dict[str, Path | None] = {
            "form": None,
            "signup": write_script(
                workdir,
                "signup",
                SIGNUP_LUA,
                STAMP=quote(stamp, safe=""),
                SLUG=SLUG,
                RUN=str(int(time.time())),
            ),
            "confirm": write_script(
                workdir,
                "confirm",
                CONFIRM_LUA,
                NTHREADS=threads,
                TOKENS=str(workdir / "confirm.txt"),
                SLUG=SLUG,
            ),
            "unsubscribe": write_script(
                workdir,
                "unsubscribe",
                UNSUBSCRIBE_LUA,
                NTHREADS=threads,
                TOKENS=str(workdir / "unsubscribe.txt"),
            ),
        }
        # Warm both servers up (imports, pools, template caches) before measuring.
        wrk(form_url, script=None, args=args, pid=app.pid, seconds=2)
        wrk(ref_base + "/", script=None, args=args, pid=ref.pid, seconds=2)
        for name, path in FLOORS.items():
            scripts[name] = write_script(
                workdir,
                name,
                SIGNUP_LUA.replace("/f/SLUG/prenumerera", path),
                STAMP=quote(stamp, safe=""),
                RUN=str(int(time.time())),
            )
        if floor is not None:
            wrk(
                f"{floor_base}/f/{SLUG}/prenumerera",
                script=None,
                args=args,
                pid=floor.pid,
                seconds=2,
            )
        for name in args.scenarios:
            if name == "floor-raw" and kind != "postgresql":
                continue
            path = f"/f/{SLUG}/prenumerera" if name in {"form", "signup"} else "/"
            server, base = app, app_base
            if name in FLOORS:
                assert floor is not None
                server, base = floor, floor_base
            spy = profile(server.pid, args, f"{kind}-{name}")
            ours = wrk(
                base + path,
                script=scripts[name],
                args=args,
                pid=server.pid,
                seconds=args.duration,
                outbox=url if name == "signup" else None,
            )
            if spy is not None:
                spy.wait()
            theirs = wrk(
                ref_base + path, script=scripts[name], args=args, pid=ref.pid, seconds=args.duration
            )
            results[name] = (ours, theirs)
            print(f"[{kind}] {line(name, ours, theirs)}", flush=True)
    finally:
        for proc in (app, ref, floor, sink):
            if proc is not None:
                stop(proc)
        if args.keep:
            print(f"[{kind}] kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def profile(pid: int, args: argparse.Namespace, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the app server for the length of one wrk run (--profile DIR)."""
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{name}.txt"
    cmd = ["py-spy", "record", "--pid", str(pid), "--duration", str(args.duration)]
    cmd += ["--format", "raw", "--rate", "200", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def line(name: str, ours: Run, theirs: Run) -> str:
    notes = []
    if ours.bad:
        notes.append(f"{ours.bad} non-2xx")
    if ours.wrapped:
        notes.append(f"tokens reused {ours.wrapped}x")
    if ours.drain_s:
        notes.append(f"answered {ours.answered:.1f} req/s, outbox empty {ours.drain_s:.1f} s later")
    return (
        f"{name:<12} {ours.rate:8.1f} req/s  p50 {ours.p50_ms:8.1f} ms  p99 {ours.p99_ms:8.1f} ms"
        f"  cpu {ours.cpu_ms:6.2f} ms/req | reference {theirs.rate:8.1f} req/s"
        f"  p50 {theirs.p50_ms:6.1f} ms  p99 {theirs.p99_ms:6.1f} ms | ratio "
        f"{ours.rate / theirs.rate:.3f}" + (f"  ({', '.join(notes)})" if notes else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="`newsletter serve --workers`")
    parser.add_argument("--pending", type=int, default=2000, help="confirmation tokens")
    parser.add_argument("--tokens", type=int, default=30000, help="unsubscribe tokens")
    parser.add_argument(
        "--scenarios", nargs="+", choices=[*SCENARIOS, *FLOORS], default=list(SCENARIOS)
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy collapsed stacks of the app per scenario here"
    )
    add_database_arguments(parser, "bench_web")
    args = parser.parse_args()
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    load = os.getloadavg()
    print(f"commit {git_commit()}; {os.cpu_count()} cores; load {load[0]:.2f} {load[1]:.2f}")
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency; "
        f"{args.workers} worker(s), the reference always one"
    )
    summary: dict[str, dict[str, tuple[Run, Run]]] = {}
    for kind in kinds:
        summary[kind] = run_one(kind, args)
    print("\nscenario      database    req/s    p50 ms    p99 ms  cpu ms/req  ref req/s  ratio")
    for kind, results in summary.items():
        for name, (ours, theirs) in results.items():
            print(
                f"{name:<13} {kind:<10} {ours.rate:7.1f} {ours.p50_ms:9.1f} {ours.p99_ms:9.1f}"
                f" {ours.cpu_ms:11.2f} {theirs.rate:10.1f}  {ours.rate / theirs.rate:.3f}"
            )


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    main()
