#!/usr/bin/python3
"""A WebSocket client we did not write (python3-websockets), for the gateway's tests.

ws_client.py URL [--send TEXT]... [--count N] [--timeout S] [--header 'K: V']...
Connects, sends each --send text, prints every text message received (one per line) until
the server closes or N messages arrived; exit 0 when the server closed normally or N came,
3 on a handshake refusal (the HTTP status printed on stderr), 4 on a timeout.
"""
import argparse
import asyncio
import sys

import websockets


async def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--send", action="append", default=[])
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--header", action="append", default=[])
    a = p.parse_args()
    headers = [tuple(h.split(": ", 1)) for h in a.header]
    try:
        async with websockets.connect(a.url, extra_headers=headers, open_timeout=a.timeout,
                                      max_size=2**22) as ws:
            for text in a.send:
                await ws.send(text)
            got = 0
            while a.count == 0 or got < a.count:
                try:
                    msg = await asyncio.wait_for(ws.recv(), a.timeout)
                except websockets.ConnectionClosedOK:
                    return 0
                print(msg, flush=True)
                got += 1
            return 0
    except websockets.InvalidStatusCode as e:
        print(f"refused: {e.status_code}", file=sys.stderr)
        return 3
    except asyncio.TimeoutError:
        print("timed out", file=sys.stderr)
        return 4


sys.exit(asyncio.run(main()))
