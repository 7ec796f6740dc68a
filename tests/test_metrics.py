"""rtr-controld's Prometheus metrics and alarms, end to end: a dataplane on a
veth (net_af_packet) in one namespace, rtr-controld with --metrics on a
loopback port in the root namespace, clients in another namespace.

The page is refreshed by controld's main loop about every 100 ms, so every
check polls (wait_for) rather than sleeping."""
import http.client
import os
import re
import socket
import subprocess
import time

from netns import SVC4
from rtr import CONTROLD, join_frame, make_token, media, outdir, wait_for
from system import APP_ID, OTHER_CERT, System

CONTENT_TYPE = "text/plain; version=0.0.4"
CSP = "default-src 'none'; frame-ancestors 'none'"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(port, path="/metrics", method="GET", headers=None, body=None, host="127.0.0.1"):
    """(status, headers with lower-case names, body text)"""
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        c.close()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The exposition format, checked as it is read: every sample after its
    family's TYPE line, no sample twice, counters named *_total."""
    types, out = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            assert name not in types, "family twice: " + name
            assert typ in ("counter", "gauge"), line
            assert typ != "counter" or name.endswith("_total"), line
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample: %r" % line
        name, labels = m.group(1), tuple(sorted(_LABEL.findall(m.group(2) or "")))
        assert name in types, "sample before its TYPE line: " + line
        assert (name, labels) not in out, "sample twice: " + line
        out[(name, labels)] = float(m.group(3))
    return out


def val(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))))


class MetricsSystem(System):
    """The whole system with controld serving metrics on a free loopback port."""

    def __init__(self, name, extra=()):
        self.mport = free_port()
        super().__init__(name, ["--metrics", "127.0.0.1:%d" % self.mport] + list(extra))

    def metrics(self):
        status, hdrs, body = fetch(self.mport)
        assert status == 200, (status, body)
        return parse(body)

    def wait_metric(self, name, pred, what=None, timeout=15.0, **labels):
        """Poll the page until pred(value of name{labels}) holds; the page."""
        def ok():
            m = self.metrics()
            v = val(m, name, **labels)
            return m if v is not None and pred(v) else None
        return wait_for(ok, timeout=timeout, what=what or "%s%s" % (name, labels))

    def alarms(self):
        return {a["alarm"]: a for a in self.cd.ctl("status")["alarms"]}



def test_metrics_page_headers_and_values():
    with MetricsSystem("metrics_page") as s:
        status, hdrs, body = fetch(s.mport)
        assert status == 200
        assert hdrs["content-type"].startswith(CONTENT_TYPE)
        assert hdrs["x-content-type-options"] == "nosniff"
        assert hdrs["content-security-policy"] == CSP
        assert hdrs["cache-control"] == "no-store"

        s.wait_metric("rtrelay_apps", lambda v: v == 1)
        other = os.path.join(s.dir, "other_cert")
        with open(other, "w") as f:
            f.write(OTHER_CERT)
        forged = s.join(42601, uid=601, token=make_token(APP_ID, other, "lobby", 601))[0]
        pub = s.join(42602, uid=602)[0]
        sub = s.join(42603, uid=603, role=2)[0]
        assert forged["name"] == "TOKEN_INVALID"
        assert pub["type"] == "ack" and sub["type"] == "ack"
        # controld's counters are copied by its main loop (~100 ms); the store is read live
        m = s.wait_metric("rtrelay_controld_joins_total", lambda v: v == 2, result="ok")
        assert val(m, "rtrelay_members", state="pending") == 2
        assert val(m, "rtrelay_controld_joins_total", result="TOKEN_INVALID") == 1
        assert val(m, "rtrelay_controld_joins_total", result="UID_CONFLICT") == 0
        assert val(m, "rtrelay_channels") == 1

        assert s.validate(42602, pub) is not None and s.validate(42603, sub) is not None
        s.wait_metric("rtrelay_members", lambda v: v == 2, state="active")
        f = media(pub["app_index"], pub["channel_hash"], pub["member_id"], payload=b"p" * 100)
        s.net.run_agent("send", "--sport", 42602, "--dst", SVC4, "--frames", f.hex(),
                        "--repeat", 20, "--pps", 1000, "--seq")
        s.wait_metric("rtrelay_app_out_packets_total", lambda v: v >= 20, app="1")
        # the dataplane refreshes port counters every 100 ms
        m = s.wait_metric("rtrelay_port_ipackets_total", lambda v: v >= 25, port="0")

        assert val(m, "rtrelay_app_in_packets_total", app="1") >= 20
        assert val(m, "rtrelay_dataplane_media_in_total") >= 20
        assert val(m, "rtrelay_dataplane_media_out_total") >= 20
        assert val(m, "rtrelay_dataplane_punted_total") >= 3
        assert val(m, "rtrelay_dataplane_keepalives_echoed_total") >= 2
        assert val(m, "rtrelay_dataplane_rx_packets_total") >= 25
        assert val(m, "rtrelay_dataplane_tx_bytes_total") > 0
        # the tables are allocated at start-up: the heap gauge holds them
        assert val(m, "rtrelay_dataplane_heap_used_bytes") > 1 << 20
        # Pair.resolve sent one short datagram per family
        assert val(m, "rtrelay_dataplane_drops_total", reason="relay_short") >= 2
        assert val(m, "rtrelay_dataplane_drops_total", reason="member_unknown") == 0
        assert val(m, "rtrelay_punt_drops_total", reason="ring_full") == 0
        assert val(m, "rtrelay_port_link_up", port="0") == 1
        assert val(m, "rtrelay_dataplane_attached") == 1
        assert val(m, "rtrelay_dataplane_members", state="active") == 2
        assert 0 <= val(m, "rtrelay_dataplane_heartbeat_age_seconds") < 1
        assert val(m, "rtrelay_punt_ring_backlog") == 0
        assert val(m, "rtrelay_controld_up") == 1
        assert val(m, "rtrelay_controld_loop_lag_seconds") < 2
        assert val(m, "rtrelay_alarms_active") == 0
        assert val(m, "rtrelay_alarm_active", alarm="dataplane_heartbeat") == 0
        assert val(m, "rtrelay_alarm_active", alarm="drop_rate:member_unknown") == 0
        assert val(m, "rtrelay_alarm_drop_rate_threshold") == 10000
        assert val(m, "rtrelay_alarm_punt_backlog_threshold") == 512
        assert s.alarms() == {}

        # nothing but GET/HEAD /metrics, for a loopback Host
        errors = {
            "root": fetch(s.mport, "/"),
            "other": fetch(s.mport, "/metrics/x"),
            "post": fetch(s.mport, method="POST", body=b"x=1"),
            "rebound": fetch(s.mport, headers={"Host": "attacker.example:%d" % s.mport}),
        }
        head = fetch(s.mport, method="HEAD")
        localhost = fetch(s.mport, headers={"Host": "localhost:%d" % s.mport})
        assert s.cd.proc.poll() is None
    assert {k: v[0] for k, v in errors.items()} == {"root": 404, "other": 404, "post": 405,
                                                    "rebound": 403}
    assert errors["post"][1]["allow"] == "GET, HEAD"
    for st, h, _ in errors.values():
        assert h["x-content-type-options"] == "nosniff" and h["content-security-policy"] == CSP
    assert head[0] == 200 and head[2] == ""
    assert localhost[0] == 200


def test_metrics_listen_on_loopback_only():
    d = outdir("metrics_refused")
    base = [CONTROLD, "--instance", "mref%d" % os.getpid(), "--db", os.path.join(d, "s.db"),
            "--socket", os.path.join(d, "s.sock")]

    def run(*args):
        p = subprocess.run(base + list(args), capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr

    for addr in ("0.0.0.0:9100", "[::]:9100", "10.77.0.1:9100", "192.168.1.1:9100"):
        rc, err = run("--metrics", addr)
        assert rc == 2 and "--metrics" in err and "not a loopback address" in err, (addr, err)
    for addr in ("127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "localhost:9100", "::1:9100"):
        rc, err = run("--metrics", addr)
        assert rc == 2 and "--metrics" in err, (addr, err)
    for opt, v in (("--alarm-drop-rate", "lots"), ("--alarm-punt-backlog", "5000"),
                   ("--alarm-heartbeat-ms", "10"), ("--alarm-heartbeat-ms", "-1")):
        rc, err = run(opt, v)
        assert rc == 2 and opt in err, (opt, v, err)
    assert not os.path.exists(os.path.join(d, "s.db")), "refused before touching the store"

    # a loopback port that is taken: a start-up failure that says why
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        rc, err = run("--metrics", "127.0.0.1:%d" % busy.getsockname()[1])
    finally:
        busy.close()
    assert rc == 1 and "Address already in use" in err, err


def test_drop_rate_alarm_raised_and_cleared():
    name = "drop_rate:member_unknown"
    with MetricsSystem("alarm_drop", ["--alarm-drop-rate", "100"]) as s:
        s.wait_metric("rtrelay_alarm_active", lambda v: v == 0, alarm=name)
        assert val(s.metrics(), "rtrelay_alarm_drop_rate_threshold") == 100
        bogus = media(1, 0x1234, 0x00abcdef, payload=b"f" * 64)
        flood = s.net.agent("send", "--sport", 42701, "--dst", SVC4, "--frames", bogus.hex(),
                            "--repeat", 2000, "--pps", 0)

        def raised():
            m = s.metrics()
            if val(m, "rtrelay_alarm_active", alarm=name) != 1:
                return None
            a = s.alarms().get(name)
            return a and (m, a)
        m, a = wait_for(raised, what="the drop-rate alarm in metrics and status")
        flood.communicate(timeout=60)
        assert val(m, "rtrelay_alarms_active") >= 1
        assert a["threshold"] == 100 and a["peak"] > 100 and a["value"] > 0
        assert abs(a["since"] - time.time()) < 60
        # no fixed sleep: the rate falls as the flood leaves the 1 s window
        m = s.wait_metric("rtrelay_alarm_active", lambda v: v == 0, alarm=name,
                          what="the drop-rate alarm cleared")
        assert val(m, "rtrelay_dataplane_drops_total", reason="member_unknown") >= 100
        assert name not in s.alarms()
        log = s.cd.read_log()
    raised_lines = [l for l in log.splitlines() if "ALARM raised: drop rate member_unknown" in l]
    cleared_lines = [l for l in log.splitlines() if "ALARM cleared: drop rate member_unknown" in l]
    assert len(raised_lines) == 1 and len(cleared_lines) == 1, log[-3000:]
    assert re.search(r"member_unknown \d+/s > 100/s", raised_lines[0]), raised_lines


def test_punt_backlog_alarm_under_a_join_flood():
    name = "punt_backlog"
    # the JOIN guard off: from one source it would cut the flood to 100 JOINs/s
    # before the punt ring (tests/test_guard_system.py)
    with MetricsSystem("alarm_punt", ["--alarm-punt-backlog", "20", "--join-src-rate", "0",
                                      "--join-prefix-rate", "0"]) as s:
        m = s.wait_metric("rtrelay_alarm_punt_backlog_threshold", lambda v: v == 20)
        assert val(m, "rtrelay_alarm_active", alarm=name) == 0
        # well-formed JOINs whose signature fails: each costs controld a verification and
        # an ERROR through the dataplane, so the punt ring fills faster than it drains
        tok = make_token(APP_ID, s.cert, "lobby", 0)[:-6] + "AAAAAA"
        f = join_frame(tok, APP_ID, "lobby", 801, 1)
        flood = s.net.agent("send", "--sport", 42801, "--dst", SVC4, "--frames", f.hex(),
                            "--repeat", 3000, "--pps", 0)

        def raised():
            m = s.metrics()
            if val(m, "rtrelay_alarm_active", alarm=name) != 1:
                return None
            a = s.alarms().get(name)
            return a and (m, a)
        m, a = wait_for(raised, what="the punt-backlog alarm in metrics and status")
        flood.communicate(timeout=60)
        assert a["threshold"] == 20 and a["peak"] > 20
        m = s.wait_metric("rtrelay_alarm_active", lambda v: v == 0, alarm=name, timeout=30,
                          what="the punt-backlog alarm cleared")
        assert val(m, "rtrelay_punt_ring_backlog") < 16
        assert val(m, "rtrelay_controld_joins_total", result="TOKEN_INVALID") > 20
        log = s.cd.read_log()
    assert re.search(r"ALARM raised: punt backlog \d+ entries > 20 entries", log), log[-2000:]
    assert "ALARM cleared: punt backlog" in log


def test_heartbeat_alarm_when_the_dataplane_stops():
    name = "dataplane_heartbeat"
    with MetricsSystem("alarm_heartbeat", ["--alarm-heartbeat-ms", "300"]) as s:
        m = s.wait_metric("rtrelay_dataplane_attached", lambda v: v == 1)
        assert val(m, "rtrelay_alarm_active", alarm=name) == 0
        assert val(m, "rtrelay_alarm_heartbeat_threshold_seconds") == 0.3
        s.dp.stop()

        def raised():
            m = s.metrics()
            if val(m, "rtrelay_alarm_active", alarm=name) != 1:
                return None
            a = s.alarms().get(name)
            return a and (m, a)
        m, a = wait_for(raised, what="the heartbeat alarm in metrics and status")
        assert val(m, "rtrelay_dataplane_attached") == 0
        assert val(m, "rtrelay_dataplane_heartbeat_age_seconds") > 0.3
        assert val(m, "rtrelay_dataplane_rx_packets_total") is None, "no dataplane, no counters"
        assert a["threshold"] == 300 and a["value"] > 300
        assert s.cd.ctl("status")["dataplane"] == "absent"

        s.dp = s.new_dataplane()        # a new generation: the alarm clears
        m = s.wait_metric("rtrelay_alarm_active", lambda v: v == 0, alarm=name, timeout=30,
                          what="the heartbeat alarm cleared")
        wait_for(s.cd.attached, what="controld attached to the new dataplane")
        assert name not in s.alarms()
        log = s.cd.read_log()
    assert "ALARM raised: dataplane heartbeat" in log and "(dataplane away)" in log
    assert "ALARM cleared: dataplane heartbeat" in log
