"""rtr-dataplane's memif server port driven by dpdk-testpmd in a second
process: the same fan-out, both TX modes (memif offers MULTI_SEGS)."""
import os

import pytest
from scapy.all import IP, UDP, Ether, Padding, Raw, rdpcap, wrpcap

from rtr import PORT, SVC4, Dataplane, drops, media, member_args, outdir
from testpmd import PmdPeer

APP, CHAN = 3, 0xABCDEF


@pytest.mark.parametrize("mode", ["chain", "copy"])
def test_memif_fanout(mode):
    d = outdir("memif_" + mode)
    sock = os.path.join(d, "memif.sock")
    inp, out = os.path.join(d, "in.pcap"), os.path.join(d, "out.pcap")
    n_frames, receivers = 64, 8
    dp = Dataplane(["net_memif0,role=server,socket=%s,socket-abstract=no" % sock],
                   ["--ip", "0=" + SVC4, "--tx-mode", mode])
    pmd = None
    try:
        dp.start()
        ctl = dp.ctl
        st = ctl.stats()
        port_mac = st["ports"][0]["mac"]
        assert st["ports"][0]["tx_mode"] == mode
        ctl.ok("app-set", APP)
        for i in range(1 + receivers):
            ctl.ok("member-add", *member_args(APP, CHAN, mac="02:00:00:00:02:%02x" % i,
                                              ip="10.0.2.%d" % (i + 1), uport=42000 + i,
                                              handle=(1 << 32) | i))
        frames = [Ether(src="02:00:00:00:02:00", dst=port_mac) / IP(src="10.0.2.1", dst=SVC4) /
                  UDP(sport=42000, dport=PORT) /
                  Raw(media(APP, CHAN, (1 << 22), counter=k, payload=bytes([k]) * (100 + 17 * k)))
                  for k in range(n_frames)]
        # Ethernet padding after the datagram never travels with the payload
        frames[0] = frames[0] / Padding(b"\xee" * 24)
        wrpcap(inp, frames)
        pmd = PmdPeer(sock, inp, out, name=mode).start()
        ctl.wait("ports.0.link_up", 1)      # memif connected
        pmd.cmd_("start")
        ctl.wait("rx_pkts", n_frames)
        ctl.ok("sync")      # a grace period: every frame taken in is handled
        assert ctl.stats()["media_in"] == n_frames, drops(ctl.stats())
        pmd.wait_tx(1, n_frames * receivers)
        st = ctl.stats()
    finally:
        if pmd:
            pmd.stop()
        dp.check_exit(dp.stop())
    assert st["media_out"] == n_frames * receivers and drops(st) == {}
    got = rdpcap(out)
    assert len(got) == n_frames * receivers
    per = {}
    for p in got:
        per.setdefault(p[IP].dst, []).append(bytes(p[UDP].payload))
        assert p[UDP].sport == PORT and p[IP].src == SVC4
    assert sorted(per) == sorted("10.0.2.%d" % (i + 2) for i in range(receivers))
    built = [Ether(bytes(f)) for f in frames]
    want = [bytes(f[UDP].payload)[:f[UDP].len - 8] for f in built]
    assert len(want[0]) == 32 + 100
    for dst, payloads in per.items():
        assert payloads == want, dst
