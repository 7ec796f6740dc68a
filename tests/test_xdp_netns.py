"""The XDP pre-filter on its own in front of the kernel stack (rtr-xdp attach
--pass-service), end to end on a veth between two namespaces this test
makes: kernel UDP sockets on the service port behind it, clients with several
addresses in front. Denied sources and floods never reach the socket, other
traffic (TCP, as SSH would be) always does, and the counters say what was
dropped where."""
import json
import os
import subprocess
import time

import pytest

from rtr import wait_for

BUILD = os.environ.get("RTR_BUILD", os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "build"))
XDP = os.path.join(BUILD, "rtr-xdp")
PY = "/usr/bin/python3"
SRV4, SRV6 = "10.78.0.1", "fd78::1"

# the server side: counts datagrams per source until it reads a line on stdin,
# then drains what is queued and prints the counts
RECEIVER = r"""
import json, select, socket, sys, time
socks = []
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, 7700))
    socks.append(s)
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 2222))
t.listen(8)
got = {}
print("ready", flush=True)
def drain(timeout):
    while True:
        r, _, _ = select.select(socks + [t], [], [], timeout)
        if not r:
            return
        for s in r:
            if s is t:
                c, _ = t.accept(); c.close(); continue
            _, src = s.recvfrom(2048)
            got[src[0]] = got.get(src[0], 0) + 1
while True:
    r, _, _ = select.select(socks + [t, sys.stdin], [], [], 1.0)
    if sys.stdin in r:
        line = sys.stdin.readline()
        drain(0.2)
        print(json.dumps(got), flush=True)
        got.clear()
        if not line.strip():
            break
        continue
    drain(0)
"""

# the client side: N datagrams from one source address, as fast as it can
SENDER = r"""
import socket, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for i in range(n):
    s.sendto(b"x" * 100, (dst, 7700))
"""

TCP = r"""
import socket, sys
s = socket.create_connection((sys.argv[2], 2222), timeout=5, source_address=(sys.argv[1], 0))
s.close()
print("connected")
"""


def sh(*cmd, check=True):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True)


class Net:
    def __init__(self):
        tag = "%d" % (os.getpid() % 100000)
        self.srv, self.cl = "rtrxs" + tag, "rtrxc" + tag
        self.instance = "xt" + tag

    def __enter__(self):
        self.down()
        sh("ip", "netns", "add", self.srv)
        sh("ip", "netns", "add", self.cl)
        sh("ip", "link", "add", "xs0", "netns", self.srv, "type", "veth", "peer", "name", "xc0",
           "netns", self.cl)
        for ns, dev in ((self.srv, "xs0"), (self.cl, "xc0")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.srv, "addr", "add", SRV4 + "/24", "dev", "xs0")
        sh("ip", "-n", self.srv, "addr", "add", SRV6 + "/64", "dev", "xs0", "nodad")
        for a in ("10.78.0.2", "10.78.0.3", "10.78.0.4", "10.78.0.5", "10.78.0.6"):
            sh("ip", "-n", self.cl, "addr", "add", a + "/24", "dev", "xc0")
        for a in ("fd78::2", "fd78::3"):
            sh("ip", "-n", self.cl, "addr", "add", a + "/64", "dev", "xc0", "nodad")
        sh("ip", "netns", "exec", self.cl, "ethtool", "-K", "xc0", "tx", "off")
        self.rx = None
        return self

    def down(self):
        for ns in (self.srv, self.cl):
            sh("ip", "netns", "del", ns, check=False)

    def __exit__(self, *exc):
        if self.rx is not None:
            self.rx.kill()
            self.rx.wait()
        # the program goes with the veth; the pins go with detach --instance
        self.xdp("detach", "--dev", "xs0", "--instance", self.instance, check=False)
        self.down()

    def xdp(self, *args, check=True):
        """rtr-xdp in the server's network namespace, with the host's bpffs
        (nsenter --net keeps the mount namespace; ip netns exec would not)."""
        p = sh("nsenter", "--net=/run/netns/" + self.srv, XDP, *args, check=False)
        if check:
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    def stats(self):
        return json.loads(self.xdp("stats", "--instance", self.instance, "--json").stdout)

    def start_receiver(self):
        self.rx = subprocess.Popen(["ip", "netns", "exec", self.srv, PY, "-c", RECEIVER],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.rx.stdout.readline().strip() == "ready"

    def received(self):
        self.rx.stdin.write("counts\n")
        self.rx.stdin.flush()
        return json.loads(self.rx.stdout.readline())

    def send(self, src, n, dst=SRV4):
        sh("ip", "netns", "exec", self.cl, PY, "-c", SENDER, src, dst, n)

    def wait_seen(self, total, what):
        """every packet counted by the program: XDP verdicts are synchronous,
        the counters are the event to wait on"""
        def seen():
            s = self.stats()
            return sum(v["packets"] for k, v in s.items() if k != "pass_not_ip" and
                       k != "pass_not_service" and k != "pass_ip6_ext_hdr") >= total
        wait_for(seen, what=what)


@pytest.fixture
def net():
    if not os.path.exists(XDP):
        pytest.fail("rtr-xdp not built: make all")
    with Net() as n:
        yield n


def counts(s):
    return {k: v["packets"] for k, v in s.items()}


def test_prefilter_in_front_of_the_kernel(net):
    out = net.xdp("attach", "--dev", "xs0", "--instance", net.instance, "--skb",
                  "--pass-service").stdout
    assert "instance " + net.instance in out and "to the kernel" in out
    net.start_receiver()
    net.xdp("deny", "--instance", net.instance, "add", "10.78.0.3/32", "--id", "7")
    net.xdp("deny", "--instance", net.instance, "add", "fd78::3/128", "--id", "8")
    lst = net.xdp("deny", "--instance", net.instance, "list").stdout
    assert "10.78.0.3/32" in lst and "rule 7" in lst and "fd78::3/128" in lst, lst
    net.xdp("config", "--instance", net.instance, "--src-pps", "50", "--src-burst", "20")

    # legitimate sources within their limits: everything arrives
    net.send("10.78.0.2", 10)
    net.send("fd78::2", 10, dst=SRV6)
    # denied sources: nothing arrives
    net.send("10.78.0.3", 10)
    net.send("fd78::3", 10, dst=SRV6)
    # one source flooding: its burst, and what its rate refills, arrive
    t0 = time.monotonic()
    net.send("10.78.0.4", 400)
    elapsed = time.monotonic() - t0
    net.wait_seen(440, "all 440 datagrams judged by the program")
    got = net.received()
    c = counts(net.stats())
    assert got.get("10.78.0.2") == 10 and got.get("fd78::2") == 10, got
    assert "10.78.0.3" not in got and "fd78::3" not in got, got
    assert c["drop_deny"] == 20, c
    flood = got.get("10.78.0.4", 0)
    assert 20 <= flood <= 20 + 50 * (elapsed + 1) + 2, (flood, elapsed)
    assert c["drop_src_rate"] == 400 - flood, (c, flood)
    assert c["pass_service"] == 20 + flood, c
    assert c["redirect_xsk"] == 0 and c["drop_prefix_rate"] == 0, c

    # a denied source's TCP (SSH, monitoring) still reaches the kernel
    before = counts(net.stats())["pass_not_service"]
    p = sh("ip", "netns", "exec", net.cl, PY, "-c", TCP, "10.78.0.3", SRV4)
    assert p.stdout.strip() == "connected", p.stderr
    assert counts(net.stats())["pass_not_service"] > before

    # per-prefix limit: two sources of one /24 share one bucket
    net.xdp("config", "--instance", net.instance, "--src-pps", "0", "--prefix-pps", "50",
            "--prefix-burst", "30")
    t0 = time.monotonic()
    net.send("10.78.0.5", 150)
    net.send("10.78.0.6", 150)
    elapsed = time.monotonic() - t0
    net.wait_seen(440 + 300, "the prefix flood judged")
    got = net.received()
    c2 = counts(net.stats())
    both = got.get("10.78.0.5", 0) + got.get("10.78.0.6", 0)
    assert got.get("10.78.0.5", 0) >= 30, got          # the first sender took the burst
    assert 30 <= both <= 30 + 50 * (elapsed + 1) + 2, (both, elapsed)
    assert c2["drop_prefix_rate"] == 300 - both, (c2, both)
    assert c2["drop_src_rate"] == c["drop_src_rate"], "the per-source limiter was off"


def test_rules_survive_a_reattach(net):
    """Maps pinned per instance: detach without --instance and attach again,
    the deny list and limits are still there."""
    net.xdp("attach", "--dev", "xs0", "--instance", net.instance, "--skb", "--pass-service")
    net.xdp("deny", "--instance", net.instance, "add", "10.78.0.0/30", "--id", "3")
    net.xdp("config", "--instance", net.instance, "--src-pps", "10", "--src-burst", "5")
    net.xdp("detach", "--dev", "xs0")
    net.xdp("attach", "--dev", "xs0", "--instance", net.instance, "--skb")
    lst = net.xdp("deny", "--instance", net.instance, "list").stdout
    assert "10.78.0.0/30" in lst and "rule 3" in lst, lst
    # --pass-service was not given again: the flag stays as it was
    out = net.xdp("config", "--instance", net.instance).stdout
    assert "to the kernel" in out and "per source limited" in out, out
    net.start_receiver()
    net.send("10.78.0.2", 5)      # inside 10.78.0.0/30
    net.send("10.78.0.4", 5)
    net.wait_seen(10, "10 datagrams judged")
    got = net.received()
    assert "10.78.0.2" not in got and got.get("10.78.0.4") == 5, got


def test_bad_input_gets_clear_errors(net):
    p = net.xdp("deny", "--instance", net.instance, "list", check=False)
    assert p.returncode == 1 and "has no pre-filter" in p.stderr, p.stderr
    net.xdp("attach", "--dev", "xs0", "--instance", net.instance, "--skb")
    p = net.xdp("deny", "--instance", net.instance, "add", "10.78.0.0/33", check=False)
    assert p.returncode == 2 and "not an IPv4 or IPv6 prefix" in p.stderr
    p = net.xdp("deny", "--instance", net.instance, "del", "10.1.0.0/16", check=False)
    assert p.returncode == 1 and "not on the deny list" in p.stderr
    p = net.xdp("attach", "--dev", "nosuch0", "--instance", net.instance, check=False)
    assert p.returncode == 2 and "no such interface" in p.stderr
    p = net.xdp("config", "--instance", "../etc", check=False)
    assert p.returncode != 0
    p = net.xdp("config", "--instance", net.instance, "--src-pps", "-5", check=False)
    assert p.returncode == 2 and "a number from 0" in p.stderr
