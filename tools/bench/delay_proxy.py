#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that adds network latency, for tools/bench/run.

    delay_proxy.py --target HOST:PORT --rtt-ms 200 [--port 0]

Prints its port on the first line of stdout, then forwards every
connection to the target: each chunk of bytes, in either direction, is
delivered rtt/2 after it arrived (order kept, bandwidth unlimited), and a
new connection's first bytes wait one more round trip, as a TCP handshake
over such a path would. So a request and its response cost one round trip,
a TLS 1.3 handshake one more, and HTTP/1.1 and HTTP/2 pay the same network.
(`tc netem` in a network namespace would do this in the kernel; the
sandbox this was written in has no netem module.) Stops on SIGTERM.
"""

import argparse
import asyncio
import os
import signal


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read():
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def write():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except OSError:
                return

    await asyncio.gather(read(), write())


async def handle(client_reader, client_writer, target, rtt):
    await asyncio.sleep(rtt)  # the TCP handshake's round trip
    try:
        up_reader, up_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(pump(client_reader, up_writer, rtt / 2),
                             pump(up_reader, client_writer, rtt / 2))
    finally:
        for w in (client_writer, up_writer):
            w.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--rtt-ms", type=float, required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    rtt = a.rtt_ms / 1000
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, (host, int(port)), rtt), "127.0.0.1", a.port)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Connections in flight are simply dropped: nothing to flush or report.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, os._exit, 0)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
