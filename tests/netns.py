"""Network namespaces for end-to-end tests, in the manner of WireGuard's
netns.sh: a dataplane namespace and a client namespace joined by a veth
pair. Addresses exist only inside the namespaces; everything is deleted
afterwards. The dataplane's veth carries no IP: rtr-dataplane owns it
through net_af_packet and answers ARP/ND for its service addresses."""
import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "nsagent.py")
SVC4, CL4 = "10.77.0.1", "10.77.0.2"
SVC6, CL6 = "fd77::1", "fd77::2"


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


class Pair:
    def __init__(self, tag):
        self.dp = "rtrdp%s" % tag
        self.cl = "rtrcl%s" % tag

    def __enter__(self):
        self.down()
        sh("ip", "netns", "add", self.dp)
        sh("ip", "netns", "add", self.cl)
        sh("ip", "link", "add", "dp0", "netns", self.dp, "type", "veth",
           "peer", "name", "cl0", "netns", self.cl)
        for ns, dev in ((self.dp, "dp0"), (self.cl, "cl0")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "netns", "exec", self.dp, "sysctl", "-qw", "net.ipv6.conf.dp0.disable_ipv6=1")
        sh("ip", "-n", self.cl, "addr", "add", CL4 + "/24", "dev", "cl0")
        sh("ip", "-n", self.cl, "addr", "add", CL6 + "/64", "dev", "cl0", "nodad")
        # kernel UDP would otherwise leave partial checksums for the peer to fill
        sh("ip", "netns", "exec", self.cl, "ethtool", "-K", "cl0", "tx", "off")
        self.dp_mac = self.mac(self.dp, "dp0")
        self.cl_mac = self.mac(self.cl, "cl0")
        return self

    @staticmethod
    def mac(ns, dev):
        return json.loads(sh("ip", "-j", "-n", ns, "link", "show", dev))[0]["address"]

    def down(self):
        for ns in (self.dp, self.cl):
            sh("ip", "netns", "del", ns, check=False)

    def __exit__(self, *exc):
        self.down()

    def agent(self, *args):
        """Start nsagent.py in the client namespace."""
        return subprocess.Popen(["ip", "netns", "exec", self.cl, "/usr/bin/python3", AGENT] +
                                [str(a) for a in args], stdout=subprocess.PIPE, text=True)

    def run_agent(self, *args, timeout=60):
        p = self.agent(*args)
        out, _ = p.communicate(timeout=timeout)
        assert p.returncode == 0, out
        return json.loads(out.strip().splitlines()[-1])

    def receivers(self, ports, **kw):
        args = ["recv", "--ports", ",".join(str(p) for p in ports)]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-")] + ([] if v is True else [v])
        p = self.agent(*args)
        assert p.stdout.readline().strip() == "ready"
        return p

    @staticmethod
    def collect(p, timeout=60):
        out, _ = p.communicate(timeout=timeout)
        assert p.returncode == 0
        return json.loads(out.strip().splitlines()[-1])

    def resolve(self, v6=True):
        """Have the client kernel resolve the service addresses (ARP and ND,
        answered by the dataplane) before a stream starts, so no frame waits
        in the kernel's neighbour queue. One short datagram per family goes to
        the service port and is dropped there as relay_short."""
        dsts = (SVC4, SVC6) if v6 else (SVC4,)
        for dst in dsts:
            sh("ip", "netns", "exec", self.cl, "/usr/bin/python3", "-c",
               "import socket; s=socket.socket(socket.AF_INET%s, socket.SOCK_DGRAM); "
               "s.sendto(b'x', ('%s', 7700))" % ("6" if ":" in dst else "", dst))

        def resolved():
            out = json.loads(sh("ip", "-j", "-n", self.cl, "neigh", "show", "dev", "cl0"))
            ok = {e["dst"] for e in out if e.get("lladdr") == self.dp_mac}
            return all(d in ok for d in dsts)
        deadline = time.monotonic() + 15
        while not resolved():
            assert time.monotonic() < deadline, "the dataplane did not answer ARP/ND"
            time.sleep(0.02)

    def snmp_udp(self):
        """The client namespace's UDP counters (InCsumErrors catches bad checksums)."""
        lines = [l.split() for l in open_ns_file(self.cl, "/proc/net/snmp") if l.startswith("Udp:")]
        d = dict(zip(lines[0][1:], map(int, lines[1][1:])))
        for l in open_ns_file(self.cl, "/proc/net/snmp6"):
            k, v = l.split()
            if k.startswith("Udp6"):
                d[k] = int(v)
        return d


def open_ns_file(ns, path):
    return sh("ip", "netns", "exec", ns, "cat", path).splitlines()
