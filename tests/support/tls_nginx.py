"""Debian's nginx over TLS on 127.0.0.1, for the HTTP/2 test and benchmark.

    with TlsNginx(state_dir, root, http2=True) as server:
        server.base_url          # https://127.0.0.1:PORT
        server.ca_file           # the self-signed certificate, to trust
        server.access_log()      # [AccessEntry, ...]

The certificate is made at start with openssl (an EC key, subjectAltName
IP:127.0.0.1, valid for a day), so nothing secret or expiring is kept in
the tree. nginx runs in the foreground as one process (master_process off:
no workers, so no switch to another user who could not read a private
temporary directory), and stops when the context ends. With http2=True the
port speaks HTTP/2 to clients that offer it by ALPN (nginx 1.22:
`listen ... ssl http2`), HTTP/1.1 to the others; with http2=False only
HTTP/1.1. limit_rate (bytes per second, per response) makes responses
last long enough for a test to see which of them overlapped.
"""

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NGINX = "/usr/sbin/nginx"


@dataclass
class AccessEntry:
    connection: int  # nginx's $connection: the serial number of the connection
    start: int       # when the request's first bytes arrived (ms since the epoch)
    end: int         # when the response's last bytes were sent (ms)
    protocol: str    # "HTTP/2.0", "HTTP/1.1"
    status: int
    uri: str


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def max_overlap(entries):
    """The largest number of requests in progress at one moment."""
    events = sorted([(e.start, 1) for e in entries] + [(e.end, -1) for e in entries],
                    key=lambda ev: (ev[0], ev[1]))  # at a tie, an end first
    now = peak = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


class TlsNginx:
    def __init__(self, state_dir, root, http2=True, limit_rate=0):
        self.state = Path(state_dir)
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "tmp").mkdir(exist_ok=True)
        self.root = Path(root).resolve()
        self.http2 = http2
        self.limit_rate = limit_rate
        self.port = free_port()
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.ca_file = str(self.state / "cert.pem")
        self.proc = None

    def _certificate(self):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.state / "key.pem"), "-out", self.ca_file],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _config(self):
        s = self.state
        listen = f"127.0.0.1:{self.port} ssl" + (" http2" if self.http2 else "")
        rate = f"limit_rate {self.limit_rate};" if self.limit_rate else ""
        # As root, nginx would hand its temporary folders to nobody (who may
        # not read a private directory, and whom a sandbox may not know).
        user = "user root root;" if os.geteuid() == 0 else ""
        return f"""
{user}
master_process off;
daemon off;
pid {s}/nginx.pid;
error_log {s}/error.log warn;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    types {{ text/html html; application/json json; }}
    log_format timing '$connection $msec $request_time $server_protocol $status $request_uri';
    access_log {s}/access.log timing;
    client_body_temp_path {s}/tmp/body;
    proxy_temp_path {s}/tmp/proxy;
    fastcgi_temp_path {s}/tmp/fastcgi;
    uwsgi_temp_path {s}/tmp/uwsgi;
    scgi_temp_path {s}/tmp/scgi;
    server {{
        listen {listen};
        ssl_certificate {s}/cert.pem;
        ssl_certificate_key {s}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;  # 1.22's default lacks 1.3
        root {self.root};
        index index.json index.html;
        etag on;
        {rate}
    }}
}}
"""

    def __enter__(self):
        for tool in (NGINX, shutil.which("openssl") or "openssl"):
            if not os.path.isabs(tool) or not os.access(tool, os.X_OK):
                raise RuntimeError(f"{tool} is not installed: `tools/dev setup` installs "
                                   "Debian's nginx and openssl")
        self._certificate()
        conf = self.state / "nginx.conf"
        conf.write_text(self._config())
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.state), "-c", str(conf), "-e",
             str(self.state / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx did not start: "
                                   + (self.state / "error.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError(f"nginx did not listen on port {self.port} within 10 s")

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self.close()

    def access_log(self):
        path = self.state / "access.log"
        entries = []
        for line in path.read_text().splitlines() if path.exists() else []:
            conn, msec, rtime, proto, status, uri = line.split(" ", 5)
            # Whole milliseconds, as nginx logs them: no float rounding may
            # make a request seem to start before the one it followed ended.
            end = round(float(msec) * 1000)
            entries.append(AccessEntry(int(conn), end - round(float(rtime) * 1000),
                                       end, proto, int(status), uri))
        return entries
