#!/usr/bin/python3
"""Write a pcap of relay frames for replay into rtr-dataplane (testpmd's
net_pcap with infinite_rx=1, or tcpreplay).

  mkpcap.py OUT.pcap --dst-mac MAC [--svc 10.0.0.1] [--app 1] [--chan HEX]
            [--member-id N] [--src 10.0.2.1] [--sport 42000] [--payload 200]
            [--count 32] [--bad]

--bad mixes in frames the dataplane must refuse (forged app, unknown
member, bad checksum) so drop counters move too.
"""
import argparse
import struct

from scapy.all import IP, UDP, Ether, Raw, wrpcap


def relay(app, chan, mid, counter, payload, kind=0):
    return struct.pack("!HBBIQIHHQ", 0x5254, 1, 1, app, chan, mid, kind << 8,
                       len(payload), counter) + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", default="02:00:00:00:02:00")
    ap.add_argument("--svc", default="10.0.0.1")
    ap.add_argument("--src", default="10.0.2.1")
    ap.add_argument("--sport", type=int, default=42000)
    ap.add_argument("--port", type=int, default=7700)
    ap.add_argument("--app", type=int, default=1)
    ap.add_argument("--chan", type=lambda s: int(s, 0), default=0xC0FFEE)
    ap.add_argument("--member-id", type=lambda s: int(s, 0), default=1 << 22)
    ap.add_argument("--payload", type=int, default=200)
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--bad", action="store_true")
    a = ap.parse_args()

    def frame(app, mid, i, chksum=None):
        u = UDP(sport=a.sport, dport=a.port)
        if chksum is not None:
            u.chksum = chksum
        return (Ether(src=a.src_mac, dst=a.dst_mac) / IP(src=a.src, dst=a.svc) / u /
                Raw(relay(app, a.chan, mid, i, bytes([i & 0xff]) * a.payload)))

    frames = [frame(a.app, a.member_id, i) for i in range(a.count)]
    if a.bad:
        frames += [frame(a.app + 1, a.member_id, 0),          # forged app
                   frame(a.app, a.member_id + 77, 0),         # unknown member
                   frame(a.app, a.member_id, 0, chksum=0x1234)]
    wrpcap(a.out, frames)


if __name__ == "__main__":
    main()
