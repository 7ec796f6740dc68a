#!/usr/bin/python3
"""Client side of the network tests, run inside a test namespace with
`ip netns exec`: real kernel UDP sockets talking to the dataplane.

  nsagent.py recv --ports 41002,41003 --expect N --timeout S
      binds the ports, prints "ready", then prints one JSON line:
      {"41002": [[counter, payload_hex], ...], ...} when every port has N
      frames or the timeout passes.
  nsagent.py send --sport P --dst ADDR --frames HEX[,HEX...]|@FILE [--repeat N] [--pps R] [--src A]
      sends the frames (in order, repeated) from source port P; @FILE: the
      hex frames from a file, one per line (for more than fits an argument).
  nsagent.py ka --sport P --dst ADDR --frame HEX --timeout S
      sends one frame and prints the answer's hex (or null).
"""
import argparse
import json
import select
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(a):
    ports = [int(p) for p in a.ports.split(",")]
    fam = family(a.bind)
    socks = {}
    for p in ports:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((a.bind, p))
        socks[s.fileno()] = (p, s)
    got = {str(p): [] for p in ports}
    print("ready", flush=True)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        waited = [str(p) for p in a.wait_ports.split(",")] if a.wait_ports else list(got)
        if a.expect and all(len(got[p]) >= a.expect for p in waited):
            # anything more that is already queued counts too
            deadline = min(deadline, time.monotonic() + a.linger)
        r, _, _ = select.select(list(socks), [], [], 0.05)
        for fd in r:
            p, s = socks[fd]
            data = s.recv(65535)
            counter = int.from_bytes(data[24:32], "big") if len(data) >= 32 else -1
            got[str(p)].append([counter, data.hex() if a.payloads else len(data)])
    print(json.dumps(got), flush=True)


def send(a):
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    s.bind((a.src or ("::" if ":" in a.dst else "0.0.0.0"), a.sport))
    spec = open(a.frames[1:]).read() if a.frames.startswith("@") else a.frames
    frames = [bytes.fromhex(h) for h in spec.replace("\n", ",").split(",") if h]
    gap = 1.0 / a.pps if a.pps else 0
    t = time.monotonic()
    n = 0
    for _ in range(a.repeat):
        for f in frames:
            if a.seq:
                f = f[:24] + n.to_bytes(8, "big") + f[32:]
            s.sendto(f, (a.dst, 7700))
            n += 1
            if gap:
                t += gap
                d = t - time.monotonic()
                if d > 0:
                    time.sleep(d)
    print(json.dumps({"sent": n}), flush=True)


def ka(a):
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    s.bind((a.src or ("::" if ":" in a.dst else "0.0.0.0"), a.sport))
    s.sendto(bytes.fromhex(a.frame), (a.dst, 7700))
    r, _, _ = select.select([s], [], [], a.timeout)
    print(json.dumps(s.recv(65535).hex() if r else None), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--ports", required=True)
    r.add_argument("--bind", default="0.0.0.0")
    r.add_argument("--expect", type=int, default=0)
    r.add_argument("--timeout", type=float, default=10)
    r.add_argument("--linger", type=float, default=0.2)
    r.add_argument("--wait-ports", default="", help="ports that must reach --expect (default: all)")
    r.add_argument("--payloads", action="store_true")
    s = sub.add_parser("send")
    s.add_argument("--sport", type=int, required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--frames", required=True)
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--pps", type=float, default=0)
    s.add_argument("--seq", action="store_true", help="put a sequence number in the counter field")
    s.add_argument("--src", default="", help="the source address (default: any)")
    k = sub.add_parser("ka")
    k.add_argument("--sport", type=int, required=True)
    k.add_argument("--dst", required=True)
    k.add_argument("--frame", required=True)
    k.add_argument("--timeout", type=float, default=5)
    k.add_argument("--src", default="", help="the source address (default: any)")
    a = ap.parse_args()
    {"recv": recv, "send": send, "ka": ka}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
