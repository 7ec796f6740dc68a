"""The whole system for end-to-end tests: a dataplane on a veth
(net_af_packet) in one namespace, rtr-controld attached to it, one app (with
encryption off unless asked), and helpers that speak for clients in the
other namespace."""
import itertools
import os

from netns import SVC4, SVC6, Pair, sh
from rtr import (BUILD, Controld, Dataplane, join_frame, keepalive, make_token, outdir,
                 parse_reply, wait_for)

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
OTHER_CERT = "0123456789abcdef0123456789abcdef"
_n = itertools.count()


class System:
    """Namespaces, dataplane, controld (with controld_args) and one app."""

    controld_args = ()

    def __init__(self, name, controld_args=(), enc="off", dp_args=(), workers=1, port="af_packet"):
        """port="af_xdp": the dataplane on net_af_xdp with rtrelay's XDP
        pre-filter as its program; the kernel then owns the service address
        (ARP, ICMP) and only the service port reaches the dataplane (IPv4
        only: the dataplane's veth has IPv6 off)."""
        self.port_kind = port
        self.enc = enc
        self.workers = workers
        self.dp_args = tuple(dp_args)
        self.dir = outdir(name)
        self.tag = "%d%d" % (os.getpid() % 10000, next(_n))
        self.controld_args = tuple(self.controld_args) + tuple(controld_args)

    def new_dataplane(self, *args):
        vdev = "net_af_packet0,iface=dp0"
        if self.port_kind == "af_xdp":
            vdev = "net_af_xdp0,iface=dp0,xdp_prog=" + os.path.join(BUILD, "rtr_xdp.bpf.o")
        elif self.workers > 1:
            vdev += ",qpairs=%d" % self.workers   # kernel fan-out by flow hash
        return Dataplane([vdev],
                         ["--ip", "0=" + SVC4, "--ip", "0=" + SVC6] +
                         list(args or ("--idle-timeout", "30")) + list(self.dp_args),
                         netns=self.net.dp, mem=512, control=False, workers=self.workers,
                         instance=self.instance).start()

    def __enter__(self):
        self.net = Pair(self.tag).__enter__()
        self.instance = "c%s" % self.tag
        if self.port_kind == "af_xdp":
            sh("ip", "-n", self.net.dp, "addr", "add", SVC4 + "/24", "dev", "dp0")
        self.dp = self.cd = None
        try:
            self.dp = self.new_dataplane()
            self.cd = Controld(self.instance, self.dir, extra=self.controld_args).start()
            wait_for(self.cd.attached, what="controld attached")
            self.cert = os.path.join(self.dir, "cert")
            with open(self.cert, "w") as f:
                f.write(CERT + "\n")
            self.cd.ctl("app", "add", APP_ID, "--cert-file", self.cert, "--name", "demo",
                        "--enc", self.enc)
            self.net.resolve(v6=self.port_kind != "af_xdp")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.cd:
            self.cd.stop()
        if self.dp:
            self.dp.stop()
        self.net.__exit__(*exc)

    def server_pub(self):
        """The node's static public key, as clients are given it."""
        return bytes.fromhex(self.cd.ctl("node", "show")["public_key"])

    def token(self, channel="lobby", uid=42, role="pub", **kw):
        return make_token(APP_ID, self.cert, channel, uid, role, **kw)

    def send(self, sport, frame, timeout=3):
        """One datagram from the client namespace; the answer (or None)."""
        h = self.net.run_agent("ka", "--sport", sport, "--dst", SVC4, "--frame", frame.hex(),
                               "--timeout", timeout)
        return bytes.fromhex(h) if h else None

    def join(self, sport, channel="lobby", uid=42, role=1, token=None, **kw):
        tok = token or self.token(channel, uid, "pub" if role == 1 else "sub")
        f = join_frame(tok, kw.pop("app_id", APP_ID), channel, uid, role, **kw)
        r = self.send(sport, f)
        return (parse_reply(r) if r else None), f

    def validate(self, sport, ack):
        ka = keepalive(ack["app_index"], ack["channel_hash"], ack["member_id"], ack["path_token"])
        return self.send(sport, ka)
