"""Packet-in/packet-out tests of rtr-dataplane on net_pcap (copy TX mode).

Each test writes the frames it sends into a pcap, starts the dataplane with
--rx-hold, programs apps and members through the shared-memory rings,
resumes RX, waits on the counters, stops the dataplane and reads exactly
what it sent.
"""
import os
import struct
import time

import pytest
from scapy.all import (ARP, Dot1Q, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IP, IPv6, Raw, TCP, UDP, rdpcap, wrpcap)

from rtr import (AUDIO, COOKIE, DATA, ERROR, JOIN, JOIN_ACK, KEEPALIVE, LEAVE, MEDIA,
                 PCAP_MAC, PORT, PRIV_ALL, PRIV_AUDIO, PRIV_JOIN, PRIV_VIDEO, SVC4, SVC6,
                 VIDEO, Dataplane, drops, keepalive, media, member_args, outdir, relay)

APP1, APP2 = 1, 2
CH_X, CH_Y = 0x1111222233334444, 0x5555666677778888


def mac(i):
    return "02:00:00:00:01:%02x" % i


def ip4(i):
    return "10.0.1.%d" % i


def ip6(i):
    return "2001:db8:1::%x" % i


def mid(i, gen=1):
    return (gen << 22) | i


def frame(i, payload, sport=None, vlan=None, v6=False, dst_mac=PCAP_MAC, dport=PORT):
    """A UDP frame from client i to the service."""
    l2 = Ether(src=mac(i), dst=dst_mac)
    if vlan:
        l2 = l2 / Dot1Q(vlan=vlan)
    l3 = IPv6(src=ip6(i), dst=SVC6) if v6 else IP(src=ip4(i), dst=SVC4)
    return l2 / l3 / UDP(sport=sport or 40000 + i, dport=dport) / Raw(payload)


def csum_ok(p):
    q = Ether(bytes(p))
    ic = q[IP].chksum if IP in q else None
    uc = q[UDP].chksum
    if IP in q:
        del q[IP].chksum
    del q[UDP].chksum
    r = Ether(bytes(q))
    return (ic is None or r[IP].chksum == ic) and r[UDP].chksum == uc and uc != 0


class Run:
    def __init__(self, name, frames, args=()):
        d = outdir(name)
        self.inp = os.path.join(d, "in.pcap")
        self.out = os.path.join(d, "out.pcap")
        wrpcap(self.inp, frames)
        self.n = len(frames)
        self.dp = Dataplane(["net_pcap0,rx_pcap=%s,tx_pcap=%s" % (self.inp, self.out)],
                            ["--rx-hold", "--ip", "0=" + SVC4, "--ip", "0=" + SVC6,
                             "--tx-mode", "copy"] + list(args))

    def __enter__(self):
        self.dp.start()
        self.ctl = self.dp.ctl
        st = self.ctl.stats()
        assert st["ports"][0]["mac"] == PCAP_MAC
        return self

    def member(self, app, chan, i, gen=1, **kw):
        """Member i (slot i, so its id is known before the frames are written)."""
        kw.setdefault("handle", (gen << 32) | i)
        kw.setdefault("mac", mac(i))
        kw.setdefault("ip", ip6(i) if kw.get("local") == SVC6 else ip4(i))
        kw.setdefault("uport", 40000 + i)
        return self.ctl.ok("member-add", *member_args(app, chan, **kw))

    def go(self):
        """Let the frames in and wait until every one was handled."""
        self.ctl.ok("resume")
        self.ctl.wait("rx_pkts", self.n)
        self.ctl.ok("sync")
        self.stats = self.ctl.stats()
        return self.stats

    def finish(self):
        assert self.dp.stop() == 0
        return list(rdpcap(self.out)) if os.path.getsize(self.out) > 24 else []

    def __exit__(self, *exc):
        if self.dp.alive():
            self.dp.stop()


def test_fanout_to_every_active_member_but_sender():
    payloads = [b"a" * 100, b"v" * 600, b"d" * 1200]
    kinds = [AUDIO, VIDEO, DATA]
    frames = [frame(1, media(APP1, CH_X, mid(1), k, counter=i + 1, payload=p))
              for i, (k, p) in enumerate(zip(kinds, payloads))]
    with Run("fanout", frames) as r:
        r.ctl.ok("app-set", APP1)
        for i in (1, 2, 3, 4):
            assert r.member(APP1, CH_X, i)["member_id"] == mid(i)
        r.member(APP1, CH_X, 5, active=False)     # PENDING: receives nothing
        st = r.go()
        out = r.finish()
    assert st["media_in"] == 3 and st["media_out"] == 9
    assert st["drops_total"] == 0, drops(st)
    assert len(out) == 9
    got = {}
    for p in out:
        assert p[Ether].src == PCAP_MAC
        assert p[IP].src == SVC4 and p[UDP].sport == PORT
        i = int(p[IP].dst.split(".")[-1])
        assert p[Ether].dst == mac(i) and p[UDP].dport == 40000 + i
        assert i in (2, 3, 4), "sent to the sender or a PENDING member"
        assert csum_ok(p)
        got.setdefault(i, []).append(bytes(p[UDP].payload))
    for i in (2, 3, 4):
        assert got[i] == [bytes(f[UDP].payload) for f in frames]
