"""The libcurl HttpClient against Debian's nginx on 127.0.0.1 over TLS.

What nginx's access log says ($connection, and each request's start and
end), for one batch of requests through tests/core/http2_fetch:

- HTTP/2 (nginx `listen ... ssl http2`): every request on one connection,
  and never more than --streams of them in progress at once, while at least
  two were (they did share the connection concurrently);
- HTTP/1.1 (the same nginx without http2): --per-host connections, never
  more than that many requests at once: the old behaviour stays;
- a second batch from the same client, conditional (If-None-Match): all
  304, over the same connection(s) as the first.

Responses are slowed by nginx's limit_rate (60 kB at 200 kB/s, ~0.3 s
each), so that overlapping requests overlap visibly in the log.

    http2_nginx_test.py PATH/TO/http2_fetch
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tls_nginx import TlsNginx, max_overlap  # noqa: E402

FETCH = os.path.abspath(sys.argv[1])
PAGES = 24
BODY = 60_000
RATE = 200_000

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def fetch(server, args, n):
    """The batch's lines, then the conditional second batch's."""
    urls = [f"{server.base_url}/p{i:02}.html" for i in range(n)]
    r = subprocess.run([FETCH, "--ca", server.ca_file, "--conditional"] + args + urls,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = r.stdout.splitlines()
    if r.returncode != 0 or len(lines) != 2 * n:
        sys.exit(f"http2_fetch failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    split = [line.split(" ", 2) for line in lines]
    return split[:n], split[n:]


def settled_log(server, n):
    # nginx writes a request's line when it ends; wait for all n.
    for _ in range(100):
        entries = server.access_log()
        if len(entries) >= n:
            return entries
        time.sleep(0.05)
    return server.access_log()


def main():
    work = Path(tempfile.mkdtemp(prefix="http2-nginx-test-"))
    root = work / "root"
    root.mkdir()
    for i in range(PAGES):
        (root / f"p{i:02}.html").write_text(f"<p>{i}</p>" + "x" * BODY)

    # (name, nginx speaks HTTP/2, client options, protocol expected,
    #  connections expected, most requests at once allowed)
    cases = [
        ("http2, 4 streams", True, ["--per-host", "2", "--streams", "4"], "HTTP/2", 1, 4),
        ("http2, 1 stream", True, ["--per-host", "2", "--streams", "1"], "HTTP/2", 1, 1),
        ("http1.1, 2 per host", False, ["--per-host", "2", "--streams", "4"], "HTTP/1.1", 2, 2),
    ]
    for name, http2, args, protocol, connections, cap in cases:
        n = PAGES if cap > 1 else 8
        with TlsNginx(work / name.replace(" ", "_").replace(",", ""), root,
                      http2=http2, limit_rate=RATE) as server:
            results, again = fetch(server, args, n)
            logged = settled_log(server, 2 * n)
        entries, entries_again = logged[:n], logged[n:]
        check(all(r[0] == "200" for r in results), f"{name}: {n} responses, all 200")
        check(all(r[0] == "304" and r[1] == protocol for r in again),
              f"{name}: the conditional batch: all 304 over {protocol}")
        check({e.connection for e in entries_again} <= {e.connection for e in entries},
              f"{name}: the conditional batch reused the first batch's connection(s)")
        check(all(r[1] == protocol for r in results),
              f"{name}: the client saw {protocol} (saw {sorted({r[1] for r in results})})")
        check(len(logged) == 2 * n,
              f"{name}: nginx logged {len(logged)} requests, want {2 * n}")
        used = {e.connection for e in entries}
        check(len(used) == connections,
              f"{name}: {len(used)} connection(s) used, want {connections}")
        peak = max_overlap(entries)
        check(peak <= cap, f"{name}: at most {peak} requests at once, cap {cap}")
        if cap > 1:
            check(peak >= 2, f"{name}: {peak} requests were in progress at once "
                  "(they did run concurrently)")
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
