"""5. ``helpdesk demo --no-browser``: from starting the command to the page being served, as a
new user would wait for it (issue 15: under 5 s). The demo is always SQLite.

    .venv/bin/python -m bench.demo_start [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

import aiohttp

from bench.common import free_port, pct, run, save, show

COMMAND = Path(sys.executable).with_name("helpdesk")


async def time_to_serve() -> float:
    """Seconds from spawning the command until ``GET /`` answers; then Ctrl+C."""
    port = free_port()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(COMMAND),
        *("demo", "--no-browser", "--port", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        await response.read()
                        return time.perf_counter() - started
                except aiohttp.ClientConnectionError:
                    if process.returncode is not None:
                        raise RuntimeError("helpdesk demo exited before serving") from None
                    await asyncio.sleep(0.01)
    finally:
        process.send_signal(signal.SIGINT)
        await process.wait()


async def main(args: argparse.Namespace) -> None:
    seconds = [await time_to_serve() for _ in range(args.runs)]
    served = pct(seconds)
    show("helpdesk demo: time to serve the page (ms)", served.items())
    save("demo_start-sqlite", {"db": "sqlite", "runs": args.runs, "time_to_serve_ms": served})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="starts to measure")
    run(main, parser.parse_args())
