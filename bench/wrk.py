"""HTTP load from wrk (C, epoll) when the machine has it.

The Python load generator costs about 0.12 ms of CPU per request on the same 2 cores that
serve it (14 % of the machine at 64 clients), so it depresses exactly what it measures and
cannot drive a hello-world aiohttp server past ~13,000 requests/s (wrk reaches ~27,000 on
this machine). wrk is closed-loop per connection like our Python clients: each connection
sends its next request when the previous answer arrived. The bench installs Debian's wrk
when it runs as root; otherwise it falls back to the Python client and says so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import summary_of

# Each wrk thread acts as its own user: `setup` (in the main Lua state) hands thread n the
# n-th access token of QUARK_WRK_TOKENS, and the thread's `init` puts it in its headers.
_SCRIPT = r"""
local tokens = {}
for token in string.gmatch(os.getenv("QUARK_WRK_TOKENS"), "[^,]+") do
  table.insert(tokens, token)
end
local threads = 0
local all_threads = {}
function setup(thread)
  threads = threads + 1
  thread:set("token", tokens[threads])
  table.insert(all_threads, thread)
end
function init(args)
  wrk.method = "POST"
  wrk.body = os.getenv("QUARK_WRK_BODY")
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
  unavailable = 0
  other_5xx = 0
end
-- 503 (overload, a dependency down: retryable) and any other 5xx (a bug) are told apart.
function response(status, headers, body)
  if status == 503 then
    unavailable = unavailable + 1
  elseif status >= 500 then
    other_5xx = other_5xx + 1
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  local u, o = 0, 0
  for _, t in ipairs(all_threads) do
    u = u + t:get("unavailable")
    o = o + t:get("other_5xx")
  end
  io.write(string.format("QUARKWRK %d %d %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), e.status, u, o))
end
"""


def wrk_binary() -> str | None:
    path = shutil.which("wrk")
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
    ):
        subprocess.run(argv, env=env, capture_output=True, timeout=300, check=False)
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


@dataclass
class WrkResult:
    """Same face as loadgen.LoopResult where the bench reads it."""

    clients: int
    seconds: float
    requests: int
    errors: int
    p50_us: int
    p99_us: int
    first_error: str = ""
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def p50_ms(self) -> float | None:
        return self.p50_us / 1000 if self.requests else None

    @property
    def p99_ms(self) -> float | None:
        return self.p99_us / 1000 if self.requests else None

    def summary(self) -> dict[str, float | int | str | None]:
        return {**summary_of(self), "load_generator": "wrk"}


async def wrk_loop(
    binary: str, url: str, body: bytes, tokens: Sequence[str], *, clients: int, seconds: float
) -> WrkResult:
    """`clients` keep-alive connections POSTing `body` to `url` for `seconds`; each wrk
    thread (at most two) sends its own access token of `tokens`."""
    threads = min(2, clients)
    if len(tokens) < threads:
        raise ValueError(f"wrk runs {threads} threads and needs a token each")
    with tempfile.TemporaryDirectory(prefix="quark-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_SCRIPT)
        proc = await asyncio.create_subprocess_exec(
            binary,
            f"-t{threads}",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            env={
                **os.environ,
                "QUARK_WRK_BODY": body.decode(),
                "QUARK_WRK_TOKENS": ",".join(tokens[:threads]),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("QUARKWRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text[-500:]}")
    fields = (int(v) for v in line.split()[1:])
    requests, duration_us, errors, p50, p99, status_errors, unavailable, other_5xx = fields
    return WrkResult(
        clients=clients,
        seconds=duration_us / 1e6,
        requests=requests - errors,
        errors=errors,
        p50_us=p50,
        p99_us=p99,
        first_error=f"{status_errors} non-2xx answers" if status_errors else "",
        error_kinds={"503": unavailable, "500": other_5xx},
    )
