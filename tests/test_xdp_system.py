"""rtr-controld programs the XDP pre-filter in front of a running dataplane:
its global deny rules become the XDP deny tries, its --xdp-* settings the
flood limits; rtrctl acl list / stats / xdp show report what XDP dropped next
to the dataplane's counters. The pre-filter runs in generic mode on the
dataplane's veth (rtr-xdp attach --pass-service), so packets it passes go on
to net_af_packet and packets it drops never reach the dataplane."""
import json
import os
import subprocess

from netns import SVC4, sh
from rtr import RTRCTL, drops, media, wait_for
from system import APP_ID, System

BUILD = os.environ.get("RTR_BUILD", os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "build"))
XDP = os.path.join(BUILD, "rtr-xdp")
ATTACKER = "10.77.0.3"


def xdp(s, *args, check=True):
    # nsenter --net: the dataplane's namespace with the host's bpffs
    p = subprocess.run(["nsenter", "--net=/run/netns/" + s.net.dp, XDP] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def xdp_counts(s):
    """as rtr-controld last read them (once a second)"""
    return s.cd.ctl("xdp", "show")["counters"]


def pkts(s, name):
    return xdp_counts(s)[name]["packets"]


def test_controld_programs_the_prefilter():
    with System("xdp_sys", controld_args=("--xdp-src-pps", "100", "--xdp-src-burst", "200",
                                          "--xdp-prefix-pps", "0")) as s:
        sh("ip", "-n", s.net.cl, "addr", "add", ATTACKER + "/24", "dev", "cl0")
        try:
            st = s.cd.ctl("xdp", "show")
            assert st["present"] is False
            xdp(s, "attach", "--dev", "dp0", "--instance", s.instance, "--skb", "--pass-service")
            wait_for(lambda: s.cd.ctl("xdp", "show")["syncs"] >= 1, what="controld synced the maps")
            cfg = xdp(s, "config", "--instance", s.instance).stdout
            assert "port 7700" in cfg and "per source limited" in cfg and \
                "per prefix unlimited" in cfg, cfg

            pub = s.join(42801, uid=801)[0]
            sub = s.join(42802, uid=802, role=2)[0]
            assert pub["type"] == sub["type"] == "ack"
            assert s.validate(42801, pub) and s.validate(42802, sub)
            wait_for(lambda: len(s.cd.ctl("member", "list", APP_ID, "lobby")) == 2 and all(
                m["state"] == "active" for m in s.cd.ctl("member", "list", APP_ID, "lobby")),
                what="two active members")

            # a global deny rule goes into the XDP tries; a per-app one does not
            rule = s.cd.ctl("acl", "add", "deny", ATTACKER + "/32")["id"]
            s.cd.ctl("acl", "add", "deny", "192.0.2.0/24", "--app", APP_ID)
            wait_for(lambda: [r["xdp"] for r in s.cd.ctl("acl", "list")] ==
                     ["dropped", "join only"], what="the global rule loaded into XDP")
            lst = xdp(s, "deny", "--instance", s.instance, "list").stdout
            assert ATTACKER + "/32" in lst and "rule %d" % rule in lst and "192.0.2" not in lst

            # the attacker forges the publisher's ids: XDP drops it all, the
            # dataplane never sees it; the publisher's stream arrives whole
            before = s.dp.stats()
            f = media(pub["app_index"], pub["channel_hash"], pub["member_id"], payload=b"a" * 200)
            rx = s.net.receivers([42802], expect=50, timeout=20)
            s.net.run_agent("send", "--sport", 43000, "--src", ATTACKER, "--dst", SVC4,
                            "--frames", f.hex(), "--repeat", 300)
            s.net.run_agent("send", "--sport", 42801, "--dst", SVC4, "--frames", f.hex(),
                            "--repeat", 50, "--pps", 1000, "--seq")
            got = s.net.collect(rx)["42802"]
            wait_for(lambda: pkts(s, "drop_deny") >= 300, what="300 denied frames counted")
            after = s.dp.stats()
            assert sorted(c for c, _ in got) == list(range(50)), got
            assert pkts(s, "drop_deny") == 300
            # nothing of the attacker's reached the dataplane: it saw the
            # publisher's 50 (and neighbour traffic), not 300 more
            assert after["rx_pkts"] - before["rx_pkts"] < 100, (before["rx_pkts"],
                                                                after["rx_pkts"])
            # (neighbour traffic for other hosts may add eth_not_our_mac)
            moved = {k: after["drops"][k] - v for k, v in before["drops"].items()
                     if after["drops"][k] != v and k != "eth_not_our_mac"}
            assert moved == {}, (drops(before), drops(after))

            # what the operator sees
            out = subprocess.run([RTRCTL, "--socket", s.cd.sock, "acl", "list"],
                                 capture_output=True, text=True).stdout
            assert "dropped" in out and "drop_deny 300 packets" in out, out
            out = subprocess.run([RTRCTL, "--instance", s.instance, "stats"],
                                 capture_output=True, text=True).stdout
            assert "xdp drop_deny" in out and "300" in out, out
            js = json.loads(subprocess.run([RTRCTL, "--instance", s.instance, "--json", "stats"],
                                           capture_output=True, text=True).stdout)
            assert js["xdp"]["drop_deny"] == 300 and js["xdp"]["pass_service"] >= 50, js

            # one member at far more than its rate: the limiter takes the
            # excess, counted; its first burst still goes through
            rx = s.net.receivers([42802], expect=100, timeout=20)
            s.net.run_agent("send", "--sport", 42801, "--dst", SVC4, "--frames", f.hex(),
                            "--repeat", 2000, "--seq")
            got = s.net.collect(rx)["42802"]
            assert len(got) >= 100, len(got)
            # 2000 sent in well under 2 s: at most the burst and 2 s of refill passed
            wait_for(lambda: pkts(s, "drop_src_rate") >= 2000 - 200 - 200,
                     what="the excess dropped by the per-source limiter")

            # the rule removed: gone from the tries at controld's next tick
            s.cd.ctl("acl", "del", rule)
            wait_for(lambda: ATTACKER not in xdp(s, "deny", "--instance", s.instance,
                                                  "list").stdout, what="the rule left XDP")
            # an operator's hand edit is undone by the periodic sync
            xdp(s, "deny", "--instance", s.instance, "add", "10.77.0.9/32")
            wait_for(lambda: "10.77.0.9" not in xdp(s, "deny", "--instance", s.instance,
                                                     "list").stdout,
                     timeout=25, what="controld restored the deny list")
        finally:
            xdp(s, "detach", "--dev", "dp0", "--instance", s.instance, check=False)


def test_af_xdp_dataplane_behind_its_own_prefilter():
    """The dataplane on net_af_xdp with xdp_prog=rtr_xdp.bpf.o: rtr-xdp adopts
    the program DPDK loaded, rtr-controld configures it; the service port
    is redirected to the dataplane's AF_XDP socket, the rest (ARP, ICMP,
    TCP) stays with the kernel, denied sources are dropped before either."""
    with System("xdp_afxdp", port="af_xdp") as s:
        sh("ip", "-n", s.net.cl, "addr", "add", ATTACKER + "/24", "dev", "cl0")
        try:
            xdp(s, "adopt", "--dev", "dp0", "--instance", s.instance)
            wait_for(lambda: s.cd.ctl("xdp", "show")["syncs"] >= 1, what="controld synced the maps")
            pub = s.join(42811, uid=811)[0]
            sub = s.join(42812, uid=812, role=2)[0]
            assert pub["type"] == sub["type"] == "ack"
            assert s.validate(42811, pub) and s.validate(42812, sub)
            wait_for(lambda: len(s.cd.ctl("member", "list", APP_ID, "lobby")) == 2 and all(
                m["state"] == "active" for m in s.cd.ctl("member", "list", APP_ID, "lobby")),
                what="two active members")
            s.cd.ctl("acl", "add", "deny", ATTACKER + "/32")
            wait_for(lambda: [r["xdp"] for r in s.cd.ctl("acl", "list")] == ["dropped"],
                     what="the rule loaded")

            f = media(pub["app_index"], pub["channel_hash"], pub["member_id"], payload=b"x" * 300)
            rx = s.net.receivers([42812], expect=100, timeout=20)
            s.net.run_agent("send", "--sport", 43001, "--src", ATTACKER, "--dst", SVC4,
                            "--frames", f.hex(), "--repeat", 200)
            s.net.run_agent("send", "--sport", 42811, "--dst", SVC4, "--frames", f.hex(),
                            "--repeat", 100, "--pps", 2000, "--seq")
            got = s.net.collect(rx)["42812"]
            assert sorted(c for c, _ in got) == list(range(100)), got
            wait_for(lambda: pkts(s, "drop_deny") >= 200, what="the attacker's frames counted")
            # joins, keepalives and 100 frames went to the dataplane's socket
            wait_for(lambda: pkts(s, "redirect_xsk") >= 100 + 4, what="the stream counted")
            c = xdp_counts(s)
            assert c["drop_deny"]["packets"] == 200 and c["pass_service"]["packets"] == 0, c
            # ICMP to the service address: the kernel's, through the pre-filter
            before = pkts(s, "pass_not_service")
            ping = subprocess.run(["ip", "netns", "exec", s.net.cl, "ping", "-c", "2", "-W", "2",
                                   "-i", "0.2", SVC4], capture_output=True, text=True)
            assert ping.returncode == 0, ping.stdout + ping.stderr
            # controld reads the counters once a second
            wait_for(lambda: pkts(s, "pass_not_service") >= before + 2,
                     what="the echo requests counted as the kernel's")
            assert pkts(s, "pass_not_ip") > 0            # ARP
        finally:
            xdp(s, "detach", "--dev", "dp0", "--instance", s.instance, check=False)
