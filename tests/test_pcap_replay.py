"""The pcaps and program files of tools/mkpcap.py (the ones a Pktgen-DPDK
machine replays, tools/pktgen/) drive the dataplane: rtr-dataplane on a memif
server port is programmed with the file through rtr-dpctl, dpdk-testpmd
replays the pcap into it forever (net_pcap infinite_rx, io forwarding), and
every frame fans out to exactly F receivers.

The sink is testpmd itself, on CPU 0 next to everything else, so it may not
take every copy: those are counted as tx_full and nothing else may drop.
The rates measured on the way are written to build/test-out/pcap_replay_*/
result.json (and shown with pytest -s); they are a by-product, never asserted.
"""
import json
import os
import subprocess
import sys
import time

import pytest
from scapy.all import IP, UDP, rdpcap

from rtr import ROOT, SVC4, Dataplane, drops, outdir, wait_for
from testpmd import PmdPeer

MKPCAP = os.path.join(ROOT, "tools", "mkpcap.py")
APP, CHANNELS, FANOUT = 1, 4, 4
WARM = 64 * 1024        # frames before the rates are measured
WINDOW = 512 * 1024     # frames the rates are measured over


def mkpcap(d, payload):
    pcap, prog = os.path.join(d, "media.pcap"), os.path.join(d, "program.dpctl")
    return pcap, prog, [sys.executable, MKPCAP, pcap, "--channels", str(CHANNELS),
                        "--fanout", str(FANOUT), "--payload", str(payload), "--app", str(APP),
                        "--svc", SVC4, "--program", prog]


def drained(st):
    """The stats once every copy made has been sent or refused by the port."""
    return st if st["tx_pkts"] + st["drops"]["tx_full"] == st["media_out"] else None


@pytest.mark.parametrize("payload", [1200, 200])
def test_pcap_replay_fans_out_to_every_receiver(payload):
    d = outdir("pcap_replay_%d" % payload)
    sock = os.path.join(d, "memif.sock")
    dp = Dataplane(["net_memif0,role=server,socket=%s,socket-abstract=no" % sock],
                   ["--ip", "0=" + SVC4, "--idle-timeout", "0"])
    pmd = None
    res = {"payload": payload, "channels": CHANNELS, "fanout": FANOUT}
    try:
        dp.start()
        ctl = dp.ctl
        port_mac = ctl.stats()["ports"][0]["mac"]
        pcap, prog, cmd = mkpcap(d, payload)
        subprocess.run(cmd + ["--dst-mac", port_mac], check=True, stdout=subprocess.DEVNULL)

        # the pcap: one sender per channel, round robin, valid frames of the right size
        frames = rdpcap(pcap)
        n_frames = len(frames)
        assert n_frames >= CHANNELS and n_frames % CHANNELS == 0
        senders = {}
        for i, p in enumerate(frames):
            assert len(p) == 14 + 20 + 8 + 32 + payload
            rh = bytes(p[UDP].payload)
            chan, mid = int.from_bytes(rh[8:16], "big"), int.from_bytes(rh[16:20], "big")
            senders.setdefault((chan, mid), []).append(int.from_bytes(rh[24:32], "big"))
            assert p[IP].dst == SVC4 and list(senders)[i % CHANNELS] == (chan, mid)
        assert len(senders) == CHANNELS
        for counters in senders.values():
            assert counters == list(range(1, n_frames // CHANNELS + 1))

        # the program file, through the rtr-dpctl session: the dataplane
        # gives every member the handle and member id mkpcap computed
        with open(prog) as f:
            lines = f.read().splitlines()
        assert lines[0] == "app-set %d" % APP and len(lines) == 1 + CHANNELS * (1 + FANOUT)
        members = {}
        for line in lines:
            r = ctl(line)
            assert r["status"] == "ok", (line, r)
            if line.startswith("member-add"):
                kv = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
                h = int(kv["handle"], 0)
                assert r["handle"] == h
                assert r["member_id"] == ((h >> 32 & 0x3ff) << 22) | (h & 0xffffffff)
                members[r["member_id"]] = kv
        for chan, mid in senders:
            assert members[mid]["role"] == "pub" and int(members[mid]["chan"], 0) == chan
        chans = ctl.ok("dump", "channels")["channels"]
        assert sorted(c["chan"] for c in chans) == sorted(c for c, _ in senders)
        assert all(c["app"] == APP and c["members"] == 1 + FANOUT for c in chans), chans

        # replay the pcap forever into the memif port; testpmd is the sink too
        pmd = PmdPeer(sock, pcap, "/dev/null", infinite=True, name="replay%d" % payload).start()
        ctl.wait("ports.0.link_up", 1)
        pmd.cmd_("start")
        ctl.wait("media_in", WARM)
        t0, s0 = time.monotonic(), ctl.stats()
        ctl.wait("media_in", s0["media_in"] + WINDOW, 30000)
        t1, s1 = time.monotonic(), ctl.stats()
        pmd.cmd_("stop")
        # every frame testpmd put into the ring reaches the dataplane
        sent = pmd.tx_packets(0)
        wait_for(lambda: ctl.stats()["rx_pkts"] >= sent, what="rx_pkts to reach %d" % sent)
        ctl.ok("sync")      # a grace period: every frame taken in is handled
        # and every copy made has been sent or refused by the port
        st = wait_for(lambda: drained(ctl.stats()), what="the TX buffers to drain")
        dump = ctl.ok("dump", "members")["members"]
        dt = t1 - t0
        res.update({
            "frames_in_pcap": n_frames, "frame_bytes": len(frames[0]), "seconds": round(dt, 3),
            "testpmd_tx": sent, "media_in": st["media_in"], "media_out": st["media_out"],
            "tx_pkts": st["tx_pkts"], "tx_full": st["drops"]["tx_full"],
            "in_mpps": round((s1["media_in"] - s0["media_in"]) / dt / 1e6, 3),
            "out_mpps": round((s1["media_out"] - s0["media_out"]) / dt / 1e6, 3),
            "sent_mpps": round((s1["tx_pkts"] - s0["tx_pkts"]) / dt / 1e6, 3),
            "busy_cycles_per_out": round(st["busy_cycles"] / max(st["media_out"], 1), 1)})
    finally:
        if pmd:
            pmd.stop()
        dp.check_exit(dp.stop())
    with open(os.path.join(d, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("\n" + json.dumps(res))

    # exactly the frames testpmd sent, all of them valid MEDIA; F copies each
    assert st["rx_pkts"] == sent and st["media_in"] == sent >= WARM + WINDOW
    assert {k: v for k, v in drops(st).items() if k != "tx_full"} == {}
    assert st["media_out"] == st["media_in"] * FANOUT
    assert st["tx_pkts"] == st["media_out"] - st["drops"]["tx_full"]
    assert st["apps"][str(APP)] == {"in_pkts": st["media_in"], "in_bytes": st["media_in"] * (
        32 + payload), "out_pkts": st["media_out"], "out_bytes": st["media_out"] * (32 + payload),
        "drops": 0}
    # every channel's sender was seen: its last frame came after testpmd
    # started, while its receivers were last touched when they were added
    idle = {m["member_id"]: m["idle_ms"] for m in dump}
    assert len(idle) == CHANNELS * (1 + FANOUT)
    for chan, mid in senders:
        rx_idle = [idle[m] for m, kv in members.items()
                   if int(kv["chan"], 0) == chan and m != mid]
        assert len(rx_idle) == FANOUT and idle[mid] < min(rx_idle), (chan, dump)
