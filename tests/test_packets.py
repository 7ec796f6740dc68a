"""Packet-in/packet-out tests of rtr-dataplane on net_pcap (copy TX mode).

Each test writes the frames it sends into a pcap, starts the dataplane with
--rx-hold, programs apps and members through the shared-memory rings,
resumes RX, waits on the counters, stops the dataplane and reads exactly
what it sent.
"""
import errno
import os
import struct
import time

import pytest
from scapy.all import (ARP, Dot1Q, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IP, IPv6, PcapWriter, Raw, TCP, UDP, rdpcap)

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
        with PcapWriter(self.inp, linktype=1, sync=True) as w:
            for f in frames:
                w.write(f if isinstance(f, bytes) else bytes(f))
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
        self.dp.check_exit(self.dp.stop())
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


def test_isolation_and_privileges_with_forged_headers():
    """Security rules 1-3: forged app_index, channel_hash, member_id and media
    kind, wrong endpoints and publishing subscribers never reach anyone."""
    sub_privs = PRIV_JOIN
    bad = [
        # (frame, drop reason)
        (frame(1, media(APP2, CH_X, mid(1))), "member_wrong_channel"),      # forged app
        (frame(1, media(APP1, CH_Y, mid(1))), "member_wrong_channel"),      # forged channel
        (frame(1, media(APP1, CH_Y, mid(5))), "member_wrong_endpoint"),     # E's id from A
        (frame(1, media(APP2, CH_X, mid(3))), "member_wrong_endpoint"),     # C's id from A
        (frame(1, media(APP1, CH_X, mid(1, gen=2))), "member_unknown"),     # stale generation
        (frame(1, media(APP1, CH_X, mid(1000))), "member_unknown"),         # free slot
        (frame(1, media(APP1, CH_X, (1 << 22) | 0x3fffff)), "member_unknown"),  # beyond table
        (frame(2, media(APP1, CH_X, mid(2))), "privilege_denied"),          # subscriber publishes
        (frame(7, media(APP1, CH_X, mid(7), kind=VIDEO)), "privilege_denied"),  # audio-only sends video
        (frame(1, media(APP1, CH_X, mid(1)), sport=40999), "member_wrong_endpoint"),
        (Ether(src=mac(1), dst=PCAP_MAC) / IP(src="10.0.1.99", dst=SVC4) /
         UDP(sport=40001, dport=PORT) / Raw(media(APP1, CH_X, mid(1))), "member_wrong_endpoint"),
    ]
    good = frame(1, media(APP1, CH_X, mid(1), payload=b"ok" * 20))
    frames = [f for f, _ in bad] + [good]
    with Run("isolation", frames, args=["--max-members", "4096"]) as r:
        r.ctl.ok("app-set", APP1)
        r.ctl.ok("app-set", APP2)
        r.member(APP1, CH_X, 1)                    # A: publisher
        r.member(APP1, CH_X, 2, privs=sub_privs)   # B: subscriber
        r.member(APP1, CH_X, 7, privs=PRIV_JOIN | PRIV_AUDIO)
        r.member(APP2, CH_X, 3)                    # app 2, same channel hash
        r.member(APP2, CH_X, 4)
        r.member(APP1, CH_Y, 5)                    # app 1, other channel
        r.member(APP1, CH_Y, 6)
        st = r.go()
        out = r.finish()
    want = {}
    for _, reason in bad:
        want[reason] = want.get(reason, 0) + 1
    assert drops(st) == want
    # the one good frame reaches B and member 7 of app 1 / channel X, nobody else
    assert sorted(p[IP].dst for p in out) == sorted([ip4(2), ip4(7)])
    for p in out:
        assert bytes(p[UDP].payload) == bytes(good[UDP].payload)


MALFORMED = [
    ("eth_runt", lambda: bytes(Ether(dst=PCAP_MAC))[:13]),
    ("eth_not_our_mac", lambda: frame(1, media(1, 1, 1), dst_mac="02:00:00:00:99:99")),
    ("eth_unknown_type", lambda: Ether(dst=PCAP_MAC, type=0x88b5) / Raw(b"x" * 50)),
    ("arp_malformed", lambda: Ether(dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"\x00\x01" * 5)),
    ("ipv4_malformed", lambda: Ether(dst=PCAP_MAC) / IP(dst=SVC4, len=2000) / UDP(dport=PORT)),
    ("ipv4_bad_checksum", lambda: Ether(dst=PCAP_MAC) / IP(dst=SVC4, chksum=0x1234) /
     UDP(sport=40000, dport=PORT) / Raw(media(1, 1, 1))),
    ("ipv4_fragment", lambda: Ether(dst=PCAP_MAC) / IP(dst=SVC4, flags="MF") /
     UDP(sport=40000, dport=PORT) / Raw(media(1, 1, 1))),
    ("ipv6_malformed", lambda: Ether(dst=PCAP_MAC) / IPv6(dst=SVC6, plen=900) / UDP(dport=PORT)),
    ("ipv6_ext_header", lambda: Ether(dst=PCAP_MAC) / IPv6(dst=SVC6, nh=0) / Raw(b"\x11" + b"\x00" * 30)),
    ("ip_not_ours", lambda: Ether(dst=PCAP_MAC) / IP(dst="10.0.0.2") / UDP(sport=40000, dport=PORT) /
     Raw(media(1, 1, 1))),
    ("ip_not_udp", lambda: Ether(dst=PCAP_MAC) / IP(dst=SVC4) / TCP(dport=PORT)),
    ("udp_bad_length", lambda: Ether(dst=PCAP_MAC) / IP(dst=SVC4) / UDP(sport=40000, dport=PORT, len=500) /
     Raw(media(1, 1, 1))),
    ("udp_bad_checksum", lambda: Ether(dst=PCAP_MAC) / IP(dst=SVC4) / UDP(sport=40000, dport=PORT, chksum=0x4321) /
     Raw(media(1, 1, 1))),
    ("udp_not_service_port", lambda: frame(1, media(1, 1, 1), dport=7701)),
    ("udp_src_port_reserved", lambda: frame(1, media(1, 1, 1), sport=53)),
    ("relay_short", lambda: frame(1, b"RT\x01\x01" + b"\x00" * 20)),
    ("relay_bad_magic", lambda: frame(1, relay(MEDIA, 1, 1, 1, payload=b"x" * 8, magic=0x1234))),
    ("relay_bad_version", lambda: frame(1, relay(MEDIA, 1, 1, 1, payload=b"x" * 8, version=2))),
    ("relay_bad_type", lambda: frame(1, relay(9, 1, 1, 1, payload=b"x" * 8))),
    ("relay_bad_length", lambda: frame(1, relay(MEDIA, 1, 1, 1, payload=b"x" * 8, plen=9))),
    ("relay_bad_media_kind", lambda: frame(1, relay(MEDIA, 1, 1, 1, flags=3 << 8, payload=b"x" * 8))),
    ("relay_server_type", lambda: frame(1, relay(JOIN_ACK, 1, 1, 1, payload=b"x" * 40))),
    ("join_too_short", lambda: frame(1, relay(JOIN, payload=b"\x00" * 100))),
    ("join_bad_header", lambda: frame(1, relay(JOIN, 5, 0, payload=b"\x00" * 300))),
]


def test_every_malformed_frame_has_its_own_counter_and_nothing_goes_out():
    frames = [f() for _, f in MALFORMED]
    with Run("malformed", frames) as r:
        r.ctl.ok("app-set", 1)
        st = r.go()
        out = r.finish()
    assert out == []
    assert st["tx_pkts"] == 0
    assert drops(st) == {name: 1 for name, _ in MALFORMED}


def test_unknown_members_and_server_frames_are_never_answered():
    frames = [
        frame(1, media(APP1, CH_X, mid(9))),
        frame(1, keepalive(APP1, CH_X, mid(9), 1)),
        frame(1, relay(LEAVE, APP1, CH_X, mid(9))),
        frame(1, relay(ERROR, APP1, CH_X, 0, payload=b"\x00\x05")),
        frame(1, relay(COOKIE, 0, 0, 0, payload=b"c" * 40)),
        frame(1, relay(JOIN_ACK, APP1, CH_X, 0, payload=b"a" * 33)),
    ]
    with Run("unknown", frames) as r:
        r.ctl.ok("app-set", APP1)
        st = r.go()
        out = r.finish()
    assert out == []
    assert drops(st) == {"member_unknown": 3, "relay_server_type": 3}
    assert st["punted"] == 0 and st["ka_echoed"] == 0


def test_keepalive_echo_and_path_validation():
    tok_a, tok_p = 0xA1A2A3A4A5A6A7A8, 0x0102030405060708
    frames = [
        frame(1, keepalive(APP1, CH_X, mid(1), tok_a, extra=b"rtt-stamp")),   # echoed
        frame(1, keepalive(APP1, CH_X, mid(1), tok_a ^ 1)),                   # bad token
        frame(1, relay(KEEPALIVE, APP1, CH_X, mid(1), payload=b"\x01\x02")),   # too short
        frame(3, keepalive(APP1, CH_X, mid(1), tok_a)),                       # wrong endpoint
        frame(2, media(APP1, CH_X, mid(2))),             # PENDING member sends: dropped
        frame(1, media(APP1, CH_X, mid(1))),             # to PENDING member 2: nothing
        frame(2, keepalive(APP1, CH_X, mid(2), tok_p)),  # path token echoed: activates
    ]
    with Run("keepalive", frames) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1, token=tok_a)
        r.member(APP1, CH_X, 2, token=tok_p, active=False)
        st = r.go()
        r.ctl.wait("main.members_active", 2)
        members = r.ctl.ok("dump", "members")["members"]
        out = r.finish()
    assert drops(st) == {"keepalive_bad_path_token": 1, "keepalive_bad_length": 1,
                         "member_wrong_endpoint": 1, "member_pending": 1, "no_receivers": 1}
    assert st["ka_echoed"] == 2 and st["activations"] == 1
    assert {m["member_id"]: m["state"] for m in members} == {mid(1): "active", mid(2): "active"}
    assert len(out) == 2
    for p, src in zip(out, (frames[0], frames[6])):
        assert len(p) == len(src), "an echo is exactly as large as what it answers"
        assert p[Ether].dst == src[Ether].src and p[Ether].src == PCAP_MAC
        assert p[IP].src == SVC4 and p[IP].dst == src[IP].src
        assert p[UDP].sport == PORT and p[UDP].dport == src[UDP].sport
        assert bytes(p[UDP].payload) == bytes(src[UDP].payload)
        assert csum_ok(p)


def test_arp_and_neighbour_discovery():
    frames = [
        Ether(src=mac(1), dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac(1), psrc=ip4(1), pdst=SVC4),
        Ether(src=mac(1), dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac(1), psrc=ip4(1), pdst="10.0.0.77"),
        Ether(src=mac(1), dst=PCAP_MAC) / ARP(op=2, hwsrc=mac(1), psrc=ip4(1), pdst=SVC4),
        Ether(src=mac(1), dst="33:33:ff:00:00:01") / IPv6(src=ip6(1), dst="ff02::1:ff00:1", hlim=255) /
        ICMPv6ND_NS(tgt=SVC6) / ICMPv6NDOptSrcLLAddr(lladdr=mac(1)),
        Ether(src=mac(1), dst="33:33:ff:00:00:77") / IPv6(src=ip6(1), dst="ff02::1:ff00:77", hlim=255) /
        ICMPv6ND_NS(tgt="2001:db8::77") / ICMPv6NDOptSrcLLAddr(lladdr=mac(1)),
        Ether(src=mac(1), dst="33:33:ff:00:00:01") / IPv6(src=ip6(1), dst="ff02::1:ff00:1", hlim=64) /
        ICMPv6ND_NS(tgt=SVC6),
    ]
    with Run("arp_nd", frames) as r:
        st = r.go()
        out = r.finish()
    assert drops(st) == {"arp_not_for_us": 2, "nd_not_for_us": 1, "nd_malformed": 1}
    assert st["arp_replies"] == 1 and st["nd_replies"] == 1
    assert len(out) == 2
    arp, na = out
    assert arp[ARP].op == 2 and arp[ARP].psrc == SVC4 and arp[ARP].hwsrc == PCAP_MAC
    assert arp[ARP].pdst == ip4(1) and arp[ARP].hwdst == mac(1) and arp[Ether].dst == mac(1)
    assert na[IPv6].src == SVC6 and na[IPv6].dst == ip6(1) and na[IPv6].hlim == 255
    assert na[ICMPv6ND_NA].tgt == SVC6 and na[ICMPv6ND_NA].S == 1
    assert na[ICMPv6NDOptDstLLAddr].lladdr == PCAP_MAC
    q = Ether(bytes(na))
    c = q[ICMPv6ND_NA].cksum
    del q[ICMPv6ND_NA].cksum
    assert Ether(bytes(q))[ICMPv6ND_NA].cksum == c


def test_ipv6_and_vlan_media():
    """A v4 untagged sender reaches a v6 member on VLAN 100 and a v4 member on
    VLAN 200; a v6 tagged sender reaches both others."""
    frames = [
        frame(1, media(APP1, CH_X, mid(1), payload=b"x" * 300)),
        frame(2, media(APP1, CH_X, mid(2), payload=b"y" * 300), v6=True, vlan=100),
    ]
    with Run("v6vlan", frames) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1)
        r.member(APP1, CH_X, 2, local=SVC6, vlan=100)
        r.member(APP1, CH_X, 3, vlan=200)
        st = r.go()
        out = r.finish()
    assert st["drops_total"] == 0, drops(st)
    assert len(out) == 4
    seen = set()
    for p in out:
        assert csum_ok(p)
        if IPv6 in p:
            assert p[Dot1Q].vlan == 100 and p[IPv6].dst == ip6(2) and p[IPv6].src == SVC6
            seen.add(("v6", bytes(p[UDP].payload)[32:33]))
        else:
            assert p[IP].src == SVC4
            vl = p[Dot1Q].vlan if Dot1Q in p else 0
            assert (p[IP].dst, vl) in ((ip4(1), 0), (ip4(3), 200))
            seen.add((p[IP].dst, bytes(p[UDP].payload)[32:33]))
    assert seen == {("v6", b"x"), (ip4(3), b"x"), (ip4(1), b"y"), (ip4(3), b"y")}


def test_token_and_privilege_expiry_enforced_by_the_dataplane():
    now = int(time.time())
    frames = [
        frame(1, media(APP1, CH_X, mid(1))),               # token expired
        frame(2, media(APP1, CH_X, mid(2), kind=VIDEO)),   # video privilege expired
        frame(2, media(APP1, CH_X, mid(2), kind=AUDIO)),   # audio still valid
    ]
    with Run("expiry", frames) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1, expire=now - 1)
        r.member(APP1, CH_X, 2, expire=now + 3600, pexp="0,0,%d,0" % (now - 1))
        r.member(APP1, CH_X, 3, expire=now + 3600)
        st = r.go()
        # the sweep removes the expired member and reports it
        r.ctl.wait("main.members_removed_expired", 1)
        notes = r.ctl.ok("notify")["items"]
        out = r.finish()
    # member 1 neither sends nor receives once its token expired
    assert drops(st) == {"token_expired": 1, "privilege_expired": 1, "receiver_token_expired": 1}
    assert [p[IP].dst for p in out] == [ip4(3)]
    assert any(n["type"] == 2 and n["member_id"] == mid(1) for n in notes)


def test_member_rate_limit():
    frames = [frame(1, media(APP1, CH_X, mid(1), counter=i)) for i in range(50)]
    with Run("ratelimit", frames) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1, fps=10)
        r.member(APP1, CH_X, 2)
        st = r.go()
        out = r.finish()
    # a burst of max(fps/4, 8) frames passes, the rest is counted
    assert 8 <= len(out) <= 9
    assert drops(st) == {"rate_frames": 50 - len(out)}


def test_leave_from_endpoint_only():
    frames = [
        frame(1, relay(LEAVE, APP1, CH_X, mid(1)), sport=41111),   # not from its endpoint
        frame(1, relay(LEAVE, APP1, CH_X, mid(1))),
    ]
    with Run("leave", frames) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1)
        r.member(APP1, CH_X, 2)
        st = r.go()
        r.ctl.wait("main.members_left", 1)
        members = r.ctl.ok("dump", "members")["members"]
        notes = r.ctl.ok("notify")["items"]
        out = r.finish()
    assert drops(st) == {"member_wrong_endpoint": 1}
    assert st["leaves"] == 1 and out == []
    assert [m["member_id"] for m in members] == [mid(2)]
    assert [(n["type"], n["member_id"]) for n in notes] == [(5, mid(1))]


def test_tx_frame_and_reply_policy():
    with Run("txframe", [frame(9, b"")]) as r:
        base = ["port=0", "mac=" + mac(1), "ip=" + ip4(1), "src=" + SVC4, "hex=" + relay(ERROR, payload=b"\x00\x05").hex()]
        r.ctl.ok("tx-frame", "uport=40001", *base)
        for bad in (["uport=80"], ["uport=7700"]):
            assert r.ctl("tx-frame", *bad, *base)["status"] == "refused"
        own = [a.replace(ip4(1), SVC4) for a in base]
        assert r.ctl("tx-frame", "uport=40001", *own)["status"] == "refused"
        r.go()
        r.ctl.wait("tx_frames", 1)
        r.ctl.ok("sync")
        st = r.ctl.stats()
        out = r.finish()
    assert st["main"]["tx_frames_refused"] == 3
    assert len(out) == 1
    p = out[0]
    assert p[IP].dst == ip4(1) and p[UDP].dport == 40001 and p[UDP].sport == PORT
    assert bytes(p[UDP].payload) == relay(ERROR, payload=b"\x00\x05") and csum_ok(p)


def test_join_is_punted_with_metadata():
    join = relay(JOIN, counter=int(time.time() * 1000), payload=b"\x00" * 300)
    frames = [frame(1, join), frame(2, join, v6=True, vlan=42)]
    with Run("join", frames) as r:
        st = r.go()
        items = r.ctl.ok("punt")["items"]
        r.finish()
    assert st["punted"] == 2 and st["drops_total"] == 0
    assert [(i["src"], i["sport"], i["vlan"], i["len"]) for i in items] == [
        (ip4(1), 40001, 0, len(join)), (ip6(2), 40002, 42, len(join))]


def test_app_egress_budget_and_disabled_app():
    # app 1: 10000 bytes/s of egress; each copy costs its UDP payload + 66 bytes
    per_copy = 32 + 100 + 66
    frames = [frame(1, media(APP1, CH_X, mid(1), counter=i, payload=b"e" * 100)) for i in range(80)]
    frames += [frame(3, media(APP2, CH_Y, mid(3)))]           # app 2 is disabled
    with Run("egress", frames) as r:
        r.ctl.ok("app-set", APP1, "egress=10000")
        r.ctl.ok("app-set", APP2, "disabled")
        r.member(APP1, CH_X, 1)
        r.member(APP1, CH_X, 2)
        r.member(APP2, CH_Y, 3)
        r.member(APP2, CH_Y, 4)
        st = r.go()
        out = r.finish()
    passed = 10000 // per_copy
    assert passed <= len(out) <= passed + 1      # + what refills while the burst runs
    assert drops(st) == {"app_egress_budget": 80 - len(out), "app_disabled": 1}
    assert st["apps"]["1"]["out_pkts"] == len(out) and st["apps"]["2"]["drops"] == 1


def test_receiver_mtu_subscriber_role_and_endpoint_refusals():
    big = b"B" * 1428          # UDP payload 1460: fits IPv4 (1488), not IPv6 (1508)
    frames = [
        frame(1, media(APP1, CH_X, mid(1), payload=big)),
        frame(4, media(APP1, CH_X, mid(4))),          # role sub with every privilege: refused
    ]
    with Run("mtu_role", frames) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1)
        r.member(APP1, CH_X, 2)                        # IPv4 receiver
        r.member(APP1, CH_X, 3, local=SVC6)            # IPv6 receiver
        r.member(APP1, CH_X, 4, role="sub")            # given PRIV_ALL, still a subscriber
        # the source of every copy must be one of the port's service addresses
        for local in ("10.0.0.99", "2001:db8::99"):
            bad = r.ctl("member-add", *member_args(APP1, CH_X, mac=mac(9), ip=ip4(9) if "." in local
                                                   else ip6(9), uport=40009, local=local))
            assert bad["status"] == "refused" and bad["errno"] == errno.EADDRNOTAVAIL, bad
        st = r.go()
        out = r.finish()
    assert drops(st) == {"receiver_mtu": 1, "privilege_denied": 1}
    # the big frame reached the IPv4 receiver and subscriber 4, not the IPv6 one
    assert sorted(p[IP].dst for p in out) == [ip4(2), ip4(4)]
    assert all(len(bytes(p[UDP].payload)) == len(big) + 32 for p in out)


def test_neighbour_advertisement_never_larger_than_the_solicitation():
    ns = (Ether(src=mac(1), dst="33:33:ff:00:00:01") /
          IPv6(src=ip6(1), dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=SVC6))
    with Run("na_size", [ns]) as r:
        st = r.go()
        out = r.finish()
    assert st["nd_replies"] == 1 and len(out) == 1
    na = out[0]
    assert len(na) <= len(ns)
    assert na[ICMPv6ND_NA].tgt == SVC6 and ICMPv6NDOptDstLLAddr not in na
    q = Ether(bytes(na))
    c = q[ICMPv6ND_NA].cksum
    del q[ICMPv6ND_NA].cksum
    assert Ether(bytes(q))[ICMPv6ND_NA].cksum == c


def test_dump_pages_through_every_table():
    with Run("dump", [frame(9, b"")], args=["--max-members", "256"]) as r:
        for app in (1, 2, 3):
            r.ctl.ok("app-set", app, "fps=%d" % (100 * app))
        handles = set()
        for i in range(1, 41):          # 40 members: three pages of 15
            handles.add(r.member(1 + i % 3, 0x100 + i % 5, i)["handle"])
        members = r.ctl.ok("dump", "members")["members"]
        channels = r.ctl.ok("dump", "channels")["channels"]
        apps = r.ctl.ok("dump", "apps")["apps"]
        r.go()
        r.finish()
    assert {m["handle"] for m in members} == handles and len(members) == 40
    assert sorted((a["app"], a["members"], a["fps"]) for a in apps) == [
        (1, 13, 100), (2, 14, 200), (3, 13, 300)]
    assert sum(c["members"] for c in channels) == 40
    assert len({(c["app"], c["chan"]) for c in channels}) == len(channels) == 15


def test_idle_members_are_removed_and_reported():
    with Run("idle", [frame(9, b"")], args=["--idle-timeout", "1"]) as r:
        r.ctl.ok("app-set", APP1)
        r.member(APP1, CH_X, 1)
        r.member(APP1, CH_X, 2, active=False)
        r.go()
        r.ctl.wait("main.members_removed_idle", 2)
        notes = r.ctl.ok("notify")["items"]
        left = r.ctl.ok("dump", "members")["members"]
        chans = r.ctl.ok("dump", "channels")["channels"]
        r.finish()
    assert sorted((n["type"], n["member_id"]) for n in notes) == [(1, mid(1)), (1, mid(2))]
    assert left == [] and chans == []     # the channel went with its last member


# --- the JOIN guard: deny list and limits before the punt (guard.h) ---------

def join_from(src, sport=41000, v6=False, i=1):
    join = relay(JOIN, counter=int(time.time() * 1000), payload=b"\x00" * 300)
    l3 = IPv6(src=src, dst=SVC6) if v6 else IP(src=src, dst=SVC4)
    return Ether(src=mac(i), dst=PCAP_MAC) / l3 / UDP(sport=sport, dport=PORT) / Raw(join)


def test_join_guard_deny_list_both_families_replaced_whole():
    """Denied sources' JOINs are dropped before the punt (join_denied), in both
    families; a new list replaces the old one whole, in several messages, and
    IPv6 gets a new trie only when its rules change."""
    frames = [join_from(ip4(1)), join_from(ip4(9)), join_from(ip6(2), v6=True),
              join_from(ip6(9), v6=True), join_from("10.0.1.7", sport=41007)]
    with Run("guard_deny", frames) as r:
        m = r.ctl.stats()["main"]
        assert (m["deny_rules4"], m["deny_rules6"], m["deny_gen"]) == (0, 0, 0)
        # a long list first: 150 + 150 rules, three messages
        path = os.path.join(outdir("guard_deny_list"), "long.txt")
        with open(path, "w") as f:
            for k in range(150):
                f.write("192.0.2.%d\n2001:db8:ff:%x::/64\n" % (k, k))
        assert r.ctl.ok("deny", "gen=7", "@" + path)["rules"] == 300
        m = r.ctl.stats()["main"]
        assert (m["deny_rules4"], m["deny_rules6"], m["deny_gen"], m["deny_swaps6"]) == \
            (150, 150, 7, 1)
        # refused, and the list in force stays: host bits set, a duplicate
        for bad in (["10.0.1.1/24"], ["10.0.1.0/29", "10.0.1.0/29"], ["2001:db8::1/16"]):
            res = r.ctl("deny", "gen=8", *bad)
            assert res["status"] == "refused" and res["errno"] == errno.EINVAL, (bad, res)
        assert r.ctl.stats()["main"]["deny_gen"] == 7
        # the list in force: 10.0.1.0/29 (ip4(1), 10.0.1.7) and 2001:db8:1::/126 (ip6(2))
        r.ctl.ok("deny", "gen=9", "10.0.1.0/29", "2001:db8:1::/126")
        r.ctl.ok("deny", "gen=10", "10.0.1.0/29", "2001:db8:1::/126")   # IPv6 unchanged
        m = r.ctl.stats()["main"]
        assert (m["deny_rules4"], m["deny_rules6"], m["deny_gen"], m["deny_swaps6"]) == \
            (1, 1, 10, 2)
        st = r.go()
        items = r.ctl.ok("punt")["items"]
        r.finish()
    assert drops(st) == {"join_denied": 3}
    assert st["punted"] == 2
    assert sorted(i["src"] for i in items) == sorted([ip4(9), ip6(9)])


def test_join_guard_limits_per_source_and_prefix_before_the_budget():
    """One source over its bucket, then its /24 over the prefix bucket; other
    prefixes and the other family keep their own buckets."""
    frames = [join_from(ip4(1)) for _ in range(12)]                  # 5 pass, 7 over
    frames += [join_from(ip4(i), sport=41000 + i, i=i) for i in (2, 3, 4, 5, 6)]
    frames += [join_from("10.0.2.1")]                                # another /24
    frames += [join_from(ip6(1), v6=True) for _ in range(3)]         # IPv6: own buckets
    with Run("guard_rate", frames) as r:
        for bad in ("src=5/0", "prefix=x", "other=1/1"):
            res = r.ctl("guard", bad)
            assert res["status"] in ("refused", "usage"), (bad, res)
        # 1 JOIN/s refills nothing while the pcap is read; bursts 5 and 8
        r.ctl.ok("guard", "src=1/5", "prefix=1/8")
        m = r.ctl.stats()["main"]
        assert (m["guard_src_rate"], m["guard_prefix_rate"]) == (1, 1)
        st = r.go()
        items = r.ctl.ok("punt", 64)["items"]
        r.finish()
    # the /24 bucket: ip4(1)'s 5, then ip4(2..4); ip4(5) and ip4(6) are over
    assert drops(st) == {"join_src_rate": 7, "join_prefix_rate": 2}, drops(st)
    assert st["punted"] == 5 + 3 + 1 + 3
    srcs = [i["src"] for i in items]
    assert srcs.count(ip4(1)) == 5 and ip4(5) not in srcs and ip4(6) not in srcs
    assert "10.0.2.1" in srcs and srcs.count(ip6(1)) == 3
