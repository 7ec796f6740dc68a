"""rtr-controld programs the dataplane's JOIN guard (dataplane/guard.h) on a
port with no XDP program (net_af_packet here, standing in for a vfio-pci
NIC): its global deny rules and --join-* limits reach the workers, which drop
denied and flooding sources' JOINs before they are punted, while other
clients still join; the list follows rule changes and a dataplane restart."""
import subprocess

from netns import SVC4, sh
from rtr import RTRCTL, join_frame, wait_for
from system import APP_ID, System

ATTACKER = "10.77.0.3"
FLOODER = "10.77.0.4"


def main(s):
    return s.dp.stats()["main"]


def punted(s):
    return s.dp.stats()["punted"]


def test_controld_programs_the_join_guard_and_floods_stay_off_the_control_plane():
    with System("guard_sys", controld_args=("--join-src-rate", "5", "--join-src-burst", "10",
                                            "--join-prefix-rate", "0")) as s:
        for a in (ATTACKER, FLOODER):
            sh("ip", "-n", s.net.cl, "addr", "add", a + "/24", "dev", "cl0")
        wait_for(lambda: main(s)["guard_src_rate"] == 5, what="the JOIN limits in the dataplane")
        assert main(s)["guard_prefix_rate"] == 0

        # a global deny rule reaches the dataplane; a per-app one stays at JOIN
        rule = s.cd.ctl("acl", "add", "deny", ATTACKER + "/32")["id"]
        s.cd.ctl("acl", "add", "deny", "192.0.2.0/24", "--app", APP_ID)
        wait_for(lambda: [r["dataplane"] for r in s.cd.ctl("acl", "list")] ==
                 ["dropped before punt", "join only"], what="the global rule in the dataplane")
        assert main(s)["deny_rules4"] == 1 and main(s)["deny_rules6"] == 0

        # the attacker holds a valid token: it still never reaches controld
        st0 = s.cd.ctl("status")
        p0 = punted(s)
        f = join_frame(s.token(uid=900), APP_ID, "lobby", 900, 1)
        s.net.run_agent("send", "--sport", 43000, "--src", ATTACKER, "--dst", SVC4,
                        "--frames", f.hex(), "--repeat", 200)
        wait_for(lambda: s.dp.stats()["drops"]["join_denied"] >= 200, what="200 JOINs denied")
        # one source floods JOINs: its bucket (10, then 5/s) is all that gets through
        g = join_frame(s.token(uid=901), APP_ID, "lobby", 901, 1)
        s.net.run_agent("send", "--sport", 43001, "--src", FLOODER, "--dst", SVC4,
                        "--frames", g.hex(), "--repeat", 300)
        wait_for(lambda: s.dp.stats()["drops"]["join_src_rate"] >= 250,
                 what="the flood cut to its bucket")
        # meanwhile a client elsewhere joins as ever
        ack = s.join(42901, uid=902)[0]
        assert ack is not None and ack["type"] == "ack", ack
        st1 = s.cd.ctl("status")
        p1 = punted(s)
        dr = s.dp.stats()["drops"]
        assert dr["join_denied"] == 200
        # what got past the flood limit: the burst and what refilled meanwhile
        flood_punted = p1 - p0 - 1
        assert 10 <= flood_punted <= 50 and dr["join_src_rate"] == 300 - flood_punted
        # controld saw nothing of the attacker, and the flooder's JOINs as
        # one join and its retransmissions
        assert st1["joins_ok"] == st0["joins_ok"] + 2
        assert st1["joins_retransmit"] - st0["joins_retransmit"] == flood_punted - 1

        # the operator sees it: acl list's column, stats' guard line and drops
        out = subprocess.run([RTRCTL, "--socket", s.cd.sock, "acl", "list"], capture_output=True,
                             text=True, timeout=30).stdout
        assert "dropped before punt" in out, out
        out = subprocess.run([RTRCTL, "--instance", s.instance, "stats"],
                             capture_output=True, text=True, timeout=30).stdout
        assert "join guard: 1 IPv4 + 0 IPv6 deny rules" in out and "join_denied" in out, out

        # a restarted dataplane gets the list and limits again
        s.dp.stop()
        s.dp = s.new_dataplane()
        wait_for(lambda: s.cd.attached() and main(s)["deny_rules4"] == 1 and
                 main(s)["guard_src_rate"] == 5, what="the guard on the new dataplane")

        # the rule deleted: the attacker's JOIN goes through to controld
        s.cd.ctl("acl", "del", rule)
        wait_for(lambda: main(s)["deny_rules4"] == 0, what="the rule out of the dataplane")
        h = s.net.run_agent("ka", "--sport", 43002, "--src", ATTACKER, "--dst", SVC4,
                            "--frame", join_frame(s.token(uid=903), APP_ID, "lobby", 903,
                                                  1).hex(), "--timeout", 5)
        assert h, "no answer once the rule was deleted"
