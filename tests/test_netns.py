"""End-to-end on real kernel sockets: rtr-dataplane owns one end of a veth
pair through net_af_packet; clients are UDP sockets in another namespace.
The kernel validates every checksum the dataplane writes (UDP InCsumErrors)."""
import os
import signal
import subprocess
import time

import pytest
from scapy.all import UDP, rdpcap

from netns import CL4, CL6, SVC4, SVC6, Pair
from rtr import (PRIV_JOIN, Dataplane, drops, keepalive, media, member_args, outdir)

APP, CHAN = 7, 0x0102030405060708
_tag = iter(range(1000))
# the client kernel's own chatter (router solicitations, MLD reports, port
# unreachables for members that have no socket)
NOISE = {"eth_not_our_mac", "icmp6_other", "ip_not_udp", "nd_not_for_us"}


def quiet(st):
    return {k: v for k, v in drops(st).items() if k not in NOISE}


def dataplane(n, mode, extra=()):
    return Dataplane(["net_af_packet0,iface=dp0"],
                     ["--ip", "0=" + SVC4, "--ip", "0=" + SVC6, "--tx-mode", mode] + list(extra),
                     netns=n.dp, mem=512)


def tag():
    return "%d%d" % (os.getpid() % 10000, next(_tag))


def add(ctl, n, uport, slot, ip=CL4, local=SVC4, **kw):
    return ctl.ok("member-add", *member_args(APP, CHAN, mac=n.cl_mac, ip=ip, uport=uport,
                                             local=local, handle=(1 << 32) | slot, **kw))


@pytest.mark.parametrize("mode", ["chain", "copy"])
def test_fanout_to_kernel_sockets(mode):
    frames = [media(APP, CHAN, (1 << 22) | 1, payload=bytes([i]) * size)
              for i, size in enumerate((100, 1200, 600))]
    f6 = media(APP, CHAN, (1 << 22) | 8, payload=b"6" * 50)
    ports4 = ["41002", "41003", "41004"]
    with Pair(tag()) as n, dataplane(n, mode) as dp:
        ctl = dp.ctl
        assert ctl.stats()["ports"][0]["tx_mode"] == mode
        ctl.ok("app-set", APP)
        add(ctl, n, 41001, 1)
        for i, p in enumerate(ports4):
            add(ctl, n, int(p), 2 + i)
        add(ctl, n, 41006, 6, ip=CL6, local=SVC6)
        add(ctl, n, 41007, 7, active=False)            # PENDING
        add(ctl, n, 41008, 8, ip=CL6, local=SVC6)      # an IPv6 publisher
        n.resolve()
        rx4 = n.receivers([41002, 41003, 41004, 41007], expect=310, timeout=20, payloads=True,
                          wait_ports=",".join(ports4))
        rx6 = n.receivers([41006], bind="::", expect=310, timeout=20, payloads=True)
        n.run_agent("send", "--sport", 41001, "--dst", SVC4, "--frames",
                    ",".join(f.hex() for f in frames), "--repeat", 100, "--pps", 4000, "--seq")
        n.run_agent("send", "--sport", 41008, "--dst", SVC6, "--frames", f6.hex(),
                    "--repeat", 10, "--seq")
        ctl.wait("media_in", 310)
        got = n.collect(rx4)
        got.update(n.collect(rx6))
        st = ctl.stats()
        udp = n.snmp_udp()
    # every frame to the 5 other ACTIVE members (not the sender, not the PENDING one)
    assert st["media_out"] == 5 * 300 + 5 * 10
    assert quiet(st) == {"relay_short": 2}
    assert st["arp_replies"] >= 1 and st["nd_replies"] >= 1   # the kernel resolved us
    assert got["41007"] == [], "a PENDING member received media"
    for p in ports4 + ["41006"]:
        v4 = [(c, bytes.fromhex(h)) for c, h in got[p] if bytes.fromhex(h)[16:20] != f6[16:20]]
        v6 = [c for c, h in got[p] if bytes.fromhex(h)[16:20] == f6[16:20]]
        assert [c for c, _ in v4] == list(range(300)), p    # no loss, no reordering
        assert v6 == list(range(10)), p
        for c, b in v4:
            want = frames[c % 3]
            assert b[32:] == want[32:] and b[:24] == want[:24]
    assert udp["InCsumErrors"] == 0 and udp["InDatagrams"] >= 3 * 310
    assert udp["Udp6InCsumErrors"] == 0 and udp["Udp6InDatagrams"] >= 310


def test_pending_member_receives_only_after_its_path_token_echo():
    token = 0x5EC2E7
    with Pair(tag()) as n, dataplane(n, "auto") as dp:
        ctl = dp.ctl
        ctl.ok("app-set", APP)
        add(ctl, n, 41001, 1)
        add(ctl, n, 41002, 2)
        add(ctl, n, 41010, 10, token=token, active=False)
        f = media(APP, CHAN, (1 << 22) | 1, payload=b"p" * 200)
        n.resolve()
        rx = n.receivers([41002, 41010], expect=20, timeout=10, wait_ports="41002")
        n.run_agent("send", "--sport", 41001, "--dst", SVC4, "--frames", f.hex(), "--repeat", 20)
        ctl.wait("media_out", 20)
        first = n.collect(rx)
        st = ctl.stats()
        assert st["tx_pkts"] == 20 + st["arp_replies"] + st["nd_replies"]
        assert len(first["41002"]) == 20 and first["41010"] == []
        # a KEEPALIVE with the wrong token is neither echoed nor activates
        bad = keepalive(APP, CHAN, (1 << 22) | 10, token ^ 0xff)
        assert n.run_agent("ka", "--sport", 41010, "--dst", SVC4, "--frame", bad.hex(),
                           "--timeout", 1) is None
        ka = keepalive(APP, CHAN, (1 << 22) | 10, token, extra=b"t0")
        echo = n.run_agent("ka", "--sport", 41010, "--dst", SVC4, "--frame", ka.hex())
        assert echo == ka.hex()
        ctl.wait("main.members_active", 3)
        rx = n.receivers([41010], expect=20, timeout=10)
        n.run_agent("send", "--sport", 41001, "--dst", SVC4, "--frames", f.hex(), "--repeat", 20)
        second = n.collect(rx)
        st = ctl.stats()
    assert len(second["41010"]) == 20
    assert quiet(st) == {"keepalive_bad_path_token": 1, "relay_short": 2}


def test_churn_keeps_stable_members_whole():
    """Members join and leave as fast as the control channel allows while a
    stream flows: stable members lose nothing, and no copy reaches a member
    for a frame the dataplane took in after that member's DEL + SYNC."""
    total = 6000
    d = outdir("churn")
    cap = os.path.join(d, "churn.pcap")
    with Pair(tag()) as n, dataplane(n, "auto", ["--max-members", "65536"]) as dp:
        ctl = dp.ctl
        ctl.ok("app-set", APP)
        add(ctl, n, 41001, 1)
        for i, p in enumerate((41002, 41003, 41004)):
            add(ctl, n, p, 2 + i)
        n.resolve()
        dump = subprocess.Popen(["ip", "netns", "exec", n.cl, "tcpdump", "-U", "-n", "-i", "cl0",
                                 "-w", cap, "udp and dst portrange 42000-49999"],
                                stderr=subprocess.PIPE, text=True)
        assert "listening on" in dump.stderr.readline()
        rx = n.receivers([41002, 41003, 41004], expect=total, timeout=60)
        f = media(APP, CHAN, (1 << 22) | 1, payload=b"c" * 300)
        sender = n.agent("send", "--sport", 41001, "--dst", SVC4, "--frames", f.hex(),
                         "--repeat", total, "--pps", 2000, "--seq")
        removed = []          # (port, media_in read after its SYNC returned)
        t0 = time.monotonic()
        i = 0
        while sender.poll() is None and i < 7000:
            port = 42000 + i
            r = ctl.ok("member-add", *member_args(APP, CHAN, mac=n.cl_mac, ip=CL4, uport=port,
                                                  local=SVC4))
            ctl.ok("member-del", r["handle"])
            ctl.ok("sync")
            removed.append((port, ctl.stats()["media_in"]))
            i += 1
        elapsed = time.monotonic() - t0
        sender.wait(60)
        ctl.wait("media_in", total)
        # a marker through the same path: once captured, everything before it is
        ctl.ok("member-add", *member_args(APP, CHAN, mac=n.cl_mac, ip=CL4, uport=49999,
                                          local=SVC4))
        marker = media(APP, CHAN, (1 << 22) | 1, counter=0, payload=b"end")
        n.run_agent("send", "--sport", 41001, "--dst", SVC4, "--frames", marker.hex())

        def marker_seen():
            try:
                return any(p[UDP].dport == 49999 for p in rdpcap(cap))
            except Exception:
                return False
        deadline = time.monotonic() + 20
        while not marker_seen():
            assert time.monotonic() < deadline, "marker frame never captured"
            time.sleep(0.05)
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
        got = n.collect(rx)
        st = ctl.stats()
    print("churn: %d add+del+sync cycles in %.2f s (%.0f/s) under %d frames"
          % (i, elapsed, i / elapsed, total))
    assert i >= 200, "too little churn to mean anything"
    for p in ("41002", "41003", "41004"):
        stream = [c for c, size in got[p] if size == len(f)]      # the marker aside
        assert stream == list(range(total)), "stable member %s lost frames" % p
    after = {port: m for port, m in removed}
    late = [(p[UDP].dport, int.from_bytes(bytes(p[UDP].payload)[24:32], "big"))
            for p in rdpcap(cap) if p[UDP].dport in after]
    violations = [(port, seq) for port, seq in late if seq >= after[port]]
    assert violations == [], "copies after DEL+SYNC: %r" % violations[:5]
    assert st["main"]["members"] == 5
