"""rtr-gen, the benchmark generator and sink: it programs a dataplane on a
memif port as its controller, sends paced MEDIA (plaintext or sealed) over
a zero-copy memif client, and counts every copy that comes back; and it
writes pcaps of valid frames."""
import json
import os
import shutil
import subprocess

import pytest
from scapy.all import IP, UDP, rdpcap

from rtr import BUILD, PORT, SVC4, Dataplane, outdir

GEN = os.path.join(BUILD, "rtr-gen")


def run_gen(prefix, cmd):
    """rtr-gen to completion; its runtime directory removed afterwards."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)


def gen_cmd(prefix, vdev=None):
    cmd = [GEN, "--file-prefix", prefix, "-m", "256", "--single-file-segments", "--in-memory",
           "--lcores", "0@0", "--no-pci", "--log-level", "*:error"]
    if vdev:
        cmd += ["--vdev", vdev]
    return cmd + ["--"]


@pytest.mark.parametrize("cipher", ["none", "aes128gcm"])
def test_rtr_gen_programs_sends_and_counts_every_copy(cipher):
    d = outdir("gen_" + cipher)
    sock, rep = os.path.join(d, "memif.sock"), os.path.join(d, "gen.json")
    dp = Dataplane(["net_memif0,role=server,socket=%s,socket-abstract=no" % sock],
                   ["--ip", "0=" + SVC4], control=False, mem=512)
    try:
        dp.start()
        pfx = "rtr_gen_%d" % os.getpid()
        p = run_gen(pfx, gen_cmd(pfx, "net_memif0,role=client,socket=%s,socket-abstract=no,"
                                      "zero-copy=yes" % sock) +
                    ["--instance", dp.instance, "--channels", "3", "--fanout", "4",
                     "--payload", "300", "--cipher", cipher, "--rate", "0.02",
                     "--duration", "1", "--warmup", "0.3", "--json", rep])
        assert p.returncode == 0, p.stderr
        r = json.load(open(rep))
        st = dp.stats()
    finally:
        dp.stop()
    assert r["members"] == 15 and st["main"]["members_active"] == 15, (r, st["main"])
    assert r["sent"] > 10000 and r["received"] == r["expected"] == 4 * r["sent"], r
    assert r["lost"] == 0 and r["reordered"] == 0, r
    assert r["dataplane"]["drops"] == {} and r["dataplane"]["media_out"] >= r["received"], r
    if cipher == "none":
        assert r["latency_us"]["samples"] == r["received"]
    else:
        assert r["latency_us"] is None and st["enc_opened"] >= r["sent"]


def test_rtr_gen_writes_pcaps_of_valid_frames():
    d = outdir("gen_pcap")
    out = os.path.join(d, "f.pcap")
    pfx = "rtr_genp_%d" % os.getpid()
    p = run_gen(pfx, gen_cmd(pfx) +
                ["--pcap", out, "--pcap-count", "40", "--channels", "4", "--fanout", "2",
                 "--payload", "1200", "--dst-mac", "02:70:63:61:70:00"])
    assert p.returncode == 0, p.stderr
    frames = rdpcap(out)
    assert len(frames) == 40
    senders = set()
    for f in frames:
        assert f[IP].dst == SVC4 and f[UDP].dport == PORT
        got_ip, got_udp = f[IP].chksum, f[UDP].chksum
        f2 = f.__class__(bytes(f))
        del f2[IP].chksum
        del f2[UDP].chksum
        f2 = f2.__class__(bytes(f2))
        assert (f2[IP].chksum, f2[UDP].chksum) == (got_ip, got_udp)
        pl = bytes(f[UDP].payload)
        assert pl[:2] == b"RT" and len(pl) == 32 + 1200
        senders.add(pl[16:20])
    assert len(senders) == 4
