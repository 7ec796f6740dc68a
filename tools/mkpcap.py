#!/usr/bin/python3
"""Write a pcap of relay frames for replay into rtr-dataplane (testpmd's
net_pcap with infinite_rx=1, Pktgen-DPDK's -s P:FILE, or tcpreplay).

One sender (the original mode):

  mkpcap.py OUT.pcap --dst-mac MAC [--svc 10.0.0.1] [--app 1] [--chan HEX]
            [--member-id N] [--src 10.0.2.1] [--sport 42000] [--payload 200]
            [--count 32] [--bad]

--bad mixes in frames the dataplane must refuse (forged app, unknown
member, bad checksum) so drop counters move too.

A programmed set (--channels): C channels of app --app, each with one
sender and F receivers, and the rtr-dpctl commands that install them:

  mkpcap.py OUT.pcap --dst-mac MAC --channels C [--fanout F] [--program FILE]
            [--payload 200] [--count N] [--svc 10.0.0.1] [--src-mac MAC]
            [--in-port 0] [--out-port 0] [--out-svc ADDR] [--slot-base 0] [--gen 1]

The pcap holds --count valid MEDIA frames (at least one per sender, round
robin over the senders, each sender's counter increasing from 1); --program
writes `app-set` and one `member-add ... handle=H active` per member, so that
replaying the pcap gives F copies of every frame. The layout is fixed:

  channel c (0 <= c < C)   hash  --chan + c
  member k = c*(F+1) + j   j = 0 the sender, 1..F its receivers (role sub)
  slot     --slot-base + k
  handle   --gen << 32 | slot;  member_id  (--gen & 0x3ff) << 22 | slot
           (rtr_mid_make() in dataplane/rtr_wire.h)
  endpoint port --in-port (sender) or --out-port (receivers),
           ip --src + k, UDP port --sport, MAC --src-mac if given
           (the generator's port: copies need no promiscuous mode), else
           02:00 followed by k + 1 in 4 bytes; local= --svc (senders) or
           --out-svc (receivers: the --ip address of --out-port, default --svc)

A summary goes to stdout. The program file has one command per line and no
comments: feed it to `rtr-dpctl --instance NAME -`, which answers each line
with one line of JSON.
"""
import argparse
import ipaddress
import struct
import sys

from scapy.all import IP, UDP, Ether, Raw, PcapWriter

MID_SLOT_BITS = 22
MID_GEN_MASK = 0x3ff
KINDS = {"audio": 0, "video": 1, "data": 2}


def relay(app, chan, mid, counter, payload, kind=0):
    return struct.pack("!HBBIQIHHQ", 0x5254, 1, 1, app, chan, mid, kind << 8,
                       len(payload), counter) + payload


def mid_make(slot, gen):
    """dataplane/rtr_wire.h rtr_mid_make(): slot + 10-bit generation."""
    return ((gen & MID_GEN_MASK) << MID_SLOT_BITS) | slot


def handle_make(slot, gen):
    """The 64-bit handle controld and rtr-dpctl use: full generation, slot."""
    return (gen << 32) | slot


def int0(s):
    return int(s, 0)


def single(a):
    """The original mode: one sender, --count frames."""
    src_mac = a.src_mac or "02:00:00:00:02:00"
    count = 32 if a.count is None else a.count

    def frame(app, mid, i, chksum=None):
        u = UDP(sport=a.sport, dport=a.port)
        if chksum is not None:
            u.chksum = chksum
        return (Ether(src=src_mac, dst=a.dst_mac) / IP(src=a.src, dst=a.svc) / u /
                Raw(relay(app, a.chan, mid, i, bytes([i & 0xff]) * a.payload, a.kind)))

    frames = [frame(a.app, a.member_id, i) for i in range(count)]
    if a.bad:
        frames += [frame(a.app + 1, a.member_id, 0),          # forged app
                   frame(a.app, a.member_id + 77, 0),         # unknown member
                   frame(a.app, a.member_id, 0, chksum=0x1234)]
    w = PcapWriter(a.out, sync=False)
    w.write(frames)
    w.close()


def members(a):
    """Every member of the set, in slot order."""
    base = int(ipaddress.IPv4Address(a.src))
    out = []
    for c in range(a.channels):
        for j in range(a.fanout + 1):
            k = c * (a.fanout + 1) + j
            slot = a.slot_base + k
            out.append({
                "chan": a.chan + c, "sender": j == 0, "slot": slot,
                "mid": mid_make(slot, a.gen), "handle": handle_make(slot, a.gen),
                "ip": str(ipaddress.IPv4Address(base + k)), "uport": a.sport,
                "mac": a.src_mac or "02:00:%02x:%02x:%02x:%02x" % tuple((k + 1).to_bytes(4, "big")),
                "port": a.in_port if j == 0 else a.out_port,
                "local": a.svc if j == 0 else a.out_svc or a.svc})
    return out


def check_set(a, ap):
    n = a.channels * (a.fanout + 1)
    if a.channels < 1 or a.fanout < 1:
        ap.error("--channels and --fanout must be at least 1")
    if a.gen & MID_GEN_MASK == 0 or a.gen >= 1 << 32:
        ap.error("--gen: the low 10 bits must not all be 0 (no member id is 0), below 2^32")
    if a.slot_base < 0 or a.slot_base + n > 1 << MID_SLOT_BITS:
        ap.error("%d members from slot %d do not fit the 22-bit slot space" % (n, a.slot_base))
    if int(ipaddress.IPv4Address(a.src)) + n - 1 > 0xffffffff:
        ap.error("--src + %d members runs past 255.255.255.255" % n)
    if a.chan + a.channels - 1 >= 1 << 64:
        ap.error("--chan + --channels runs past 2^64")
    if a.payload + 32 + 8 + 20 > 1500:
        ap.error("--payload %d: the copies would not fit an MTU of 1500 (at most 1440)" % a.payload)
    if a.count is None:
        # 32 frames or one per sender, a whole number of rounds
        a.count = max(32, a.channels)
        a.count += (-a.count) % a.channels
    if a.count < a.channels:
        ap.error("--count %d is below --channels %d: every sender needs a frame" %
                 (a.count, a.channels))


def programmed_set(a):
    ms = members(a)
    senders = [m for m in ms if m["sender"]]
    rounds = [0] * len(senders)
    w = PcapWriter(a.out, sync=False)
    for i in range(a.count):
        s = i % len(senders)
        m = senders[s]
        rounds[s] += 1
        w.write(Ether(src=m["mac"], dst=a.dst_mac) / IP(src=m["ip"], dst=a.svc) /
                UDP(sport=m["uport"], dport=a.port) /
                Raw(relay(a.app, m["chan"], m["mid"], rounds[s],
                          bytes([i & 0xff]) * a.payload, a.kind)))
    if a.bad:
        m = senders[0]

        def bad(app, mid, chksum=None):
            u = UDP(sport=m["uport"], dport=a.port)
            if chksum is not None:
                u.chksum = chksum
            return (Ether(src=m["mac"], dst=a.dst_mac) / IP(src=m["ip"], dst=a.svc) / u /
                    Raw(relay(app, m["chan"], mid, 0, b"\0" * a.payload, a.kind)))
        w.write([bad(a.app + 1, m["mid"]),                     # forged app
                 bad(a.app, mid_make(a.slot_base + len(ms), a.gen)),  # unknown member
                 bad(a.app, m["mid"], chksum=0x1234)])
    w.close()

    if a.program:
        with open(a.program, "w") as f:
            f.write("app-set %d\n" % a.app)
            for m in ms:
                f.write("member-add app=%d chan=0x%x port=%d mac=%s ip=%s uport=%d local=%s "
                        "role=%s handle=0x%x active\n" %
                        (a.app, m["chan"], m["port"], m["mac"], m["ip"], m["uport"], m["local"],
                         "pub" if m["sender"] else "sub", m["handle"]))
    flen = 14 + 20 + 8 + 32 + a.payload
    print("mkpcap: %s: %d MEDIA frames of %d B (UDP payload %d B), round robin over %d "
          "senders; app %d, %d channels x (1 sender + %d receiver%s) = %d members, slots "
          "%d-%d, generation %d; each frame fans out to %d%s" %
          (a.out, a.count, flen, 32 + a.payload, len(senders), a.app, a.channels, a.fanout,
           "" if a.fanout == 1 else "s",
           len(ms), a.slot_base, a.slot_base + len(ms) - 1, a.gen, a.fanout,
           "; program in " + a.program if a.program else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--dst-mac", required=True, help="the dataplane port's MAC")
    ap.add_argument("--src-mac", help="frames' source MAC (one sender: default "
                    "02:00:00:00:02:00; a set: every member's endpoint MAC, default one each)")
    ap.add_argument("--svc", default="10.0.0.1", help="the service address (--ip PORT=ADDR)")
    ap.add_argument("--src", default="10.0.2.1", help="the (first) member's IPv4 address")
    ap.add_argument("--sport", type=int, default=42000, help="members' UDP port")
    ap.add_argument("--port", type=int, default=7700, help="the service UDP port")
    ap.add_argument("--app", type=int, default=1)
    ap.add_argument("--chan", type=int0, default=0xC0FFEE, help="the (first) channel hash")
    ap.add_argument("--member-id", type=int0, default=1 << 22, help="one sender: its member id")
    ap.add_argument("--payload", type=int, default=200, help="bytes after the relay header")
    ap.add_argument("--count", type=int, help="frames (one sender: default 32; a set: "
                    "at least 32 and a multiple of --channels)")
    ap.add_argument("--kind", choices=sorted(KINDS), default="audio", help="media kind")
    ap.add_argument("--bad", action="store_true", help="append three frames to be refused")
    g = ap.add_argument_group("a programmed set")
    g.add_argument("--channels", type=int, help="channels, one sender each")
    g.add_argument("--fanout", type=int, default=1, help="receivers per channel")
    g.add_argument("--program", help="write the rtr-dpctl commands here")
    g.add_argument("--in-port", type=int, default=0, help="senders' dataplane port")
    g.add_argument("--out-port", type=int, default=0, help="receivers' dataplane port")
    g.add_argument("--out-svc", help="the service address of --out-port (default --svc)")
    g.add_argument("--slot-base", type=int, default=0, help="first member slot")
    g.add_argument("--gen", type=int0, default=1, help="member generation (handle bits 32-63)")
    a = ap.parse_args()
    a.kind = KINDS[a.kind]
    if a.channels is None:
        if a.program:
            ap.error("--program needs --channels")
        single(a)
        return 0
    check_set(a, ap)
    programmed_set(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
