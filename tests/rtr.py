"""Test harness for rtrelay: start rtr-dataplane on virtual ports, drive it
through rtr-dpctl (the shared-memory control channel), build relay frames.

Every dataplane gets its own --file-prefix, -m limit, --huge-unlink and
--lcores map (worker on CPU 1, the rest on CPU 0); stop() ends it by pid and
removes /var/run/dpdk/<prefix>. Waits are on counters, never fixed sleeps.
"""
import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("RTR_BUILD", "build"))
DATAPLANE = os.path.join(BUILD, "rtr-dataplane")
DPCTL = os.path.join(BUILD, "rtr-dpctl")
OUT = os.path.join(ROOT, "build", "test-out")

PCAP_MAC = "02:70:63:61:70:00"   # net_pcap port 0
SVC4 = "10.0.0.1"
SVC6 = "2001:db8::1"
PORT = 7700

MEDIA, JOIN, JOIN_ACK, LEAVE, KEEPALIVE, ERROR, COOKIE = range(1, 8)
AUDIO, VIDEO, DATA = 0, 1, 2
PRIV_JOIN, PRIV_AUDIO, PRIV_VIDEO, PRIV_DATA = 1 << 1, 1 << 2, 1 << 3, 1 << 4
PRIV_ALL = PRIV_JOIN | PRIV_AUDIO | PRIV_VIDEO | PRIV_DATA

_ids = itertools.count()


def outdir(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def relay(typ, app=0, chan=0, mid=0, flags=0, counter=0, payload=b"", plen=None,
          magic=0x5254, version=1):
    """A relay frame: the 32-byte header and its payload."""
    if plen is None:
        plen = len(payload)
    return struct.pack("!HBBIQIHHQ", magic, version, typ, app, chan, mid, flags,
                       plen, counter) + payload


def media(app, chan, mid, kind=AUDIO, counter=1, payload=b"m" * 64, flags=0):
    return relay(MEDIA, app, chan, mid, flags | (kind << 8), counter, payload)


def keepalive(app, chan, mid, token, extra=b""):
    return relay(KEEPALIVE, app, chan, mid, 0, 0, struct.pack("!Q", token) + extra)


class Ctl:
    """A persistent rtr-dpctl session (holds the controller lock)."""

    def __init__(self, instance, netns=None):
        cmd = [DPCTL, "--instance", instance, "-"]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)

    def __call__(self, *args):
        self.p.stdin.write(" ".join(str(a) for a in args) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("rtr-dpctl exited (rc=%s)" % self.p.poll())
        return json.loads(line)

    def ok(self, *args):
        r = self(*args)
        assert r.get("status") == "ok", (args, r)
        return r

    def stats(self):
        return self.ok("stats")

    def wait(self, key, value, timeout_ms=15000):
        r = self("wait", key, value, timeout_ms)
        assert r["status"] == "ok", r
        return r["value"]

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Dataplane:
    """One rtr-dataplane process on the given vdevs."""

    def __init__(self, vdevs, args=(), workers=1, mem=256, netns=None, name="dp",
                 control=True, instance=None):
        """control=False: no rtr-dpctl session holds the controller lock
        (rtr-controld will); start() then waits on the stats segment."""
        self.with_ctl = control
        self.instance = instance or "t%d_%d" % (os.getpid(), next(_ids))
        self.prefix = "rtr_" + self.instance
        self.log = os.path.join(OUT, self.instance + ".log")
        os.makedirs(OUT, exist_ok=True)
        lcores = "0@0," + ",".join("%d@1" % (i + 1) for i in range(workers))
        cmd = [DATAPLANE, "--file-prefix", self.prefix, "-m", str(mem), "--huge-unlink",
               "--lcores", lcores, "--no-pci", "--log-level", "pmd.net.*:error"]
        for v in vdevs:
            cmd += ["--vdev", v]
        cmd += ["--", "--instance", self.instance, "--idle-sleep-us", "20"] + list(args)
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.cmd = cmd
        self.netns = netns
        self.proc = None
        self.ctl = None

    def start(self, timeout=30):
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        self.ctl = Ctl(self.instance) if self.with_ctl else None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("rtr-dataplane exited %d:\n%s" % (self.proc.returncode,
                                                                   self.read_log()))
            r = self.ctl("ping") if self.ctl else self.stats()
            if r.get("status") == "ok":
                return self
            if time.monotonic() > deadline:
                raise RuntimeError("rtr-dataplane did not come up:\n" + self.read_log())
            time.sleep(0.05)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def stats(self):
        """The stats segment through a one-shot rtr-dpctl (no controller lock)."""
        p = subprocess.run([DPCTL, "--instance", self.instance, "stats"], capture_output=True,
                           text=True, timeout=30)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {"status": "unreachable"}

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        rc = None
        if self.ctl:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
            self.proc = None
            self.logf.close()
        shutil.rmtree("/var/run/dpdk/" + self.prefix, ignore_errors=True)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None:
            self.check_exit(rc)

    def check_exit(self, rc):
        """A clean exit, and no sanitizer report in the log."""
        log = self.read_log()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, log[-3000:]
        assert rc == 0, "rtr-dataplane exited %s:\n%s" % (rc, log[-2000:])


def wait_for(fn, timeout=15.0, what="condition"):
    """Poll fn() until it returns something true; fail after timeout. The
    poll starts at 10 ms and backs off to 100 ms, so a long wait on
    rtr-controld's API stays within its per-uid request budget (50/s)."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(pause)
        pause = min(pause * 1.5, 0.1)


def member_args(app, chan, port=0, mac="02:00:00:00:01:01", ip="10.0.1.1", uport=40000,
                local=SVC4, privs=PRIV_ALL, token=0x1122334455667788, active=True, **kw):
    a = ["app=%d" % app, "chan=%d" % chan, "port=%d" % port, "mac=" + mac, "ip=" + ip,
         "uport=%d" % uport, "local=" + local, "privs=%d" % privs, "token=%d" % token]
    if active:
        a.append("active")
    for k, v in kw.items():
        a.append("%s=%s" % (k, v))
    return a


def drops(st):
    """Only the drop reasons that counted something."""
    return {k: v for k, v in st["drops"].items() if v}


# --- control plane helpers -------------------------------------------------

RTRCTL = os.path.join(BUILD, "rtrctl")
CONTROLD = os.path.join(BUILD, "rtr-controld")
CLIENT = os.path.join(BUILD, "rtr-client")
ERR = {1: "MALFORMED", 2: "VERSION", 3: "APP_UNKNOWN", 4: "APP_DISABLED", 5: "TOKEN_INVALID",
       6: "TOKEN_EXPIRED", 7: "PRIVILEGE", 8: "CHANNEL_FULL", 9: "QUOTA", 10: "GEOFENCED",
       11: "ACL_DENIED", 12: "RATE_LIMITED", 13: "ENC_REQUIRED", 14: "BUSY", 15: "UID_CONFLICT"}


def join_frame(token, app_id, channel, uid, role=1, counter=None, suite=0, pad_to=256):
    """A plaintext JOIN: suite, token, App ID, channel, uid, role; padded."""
    if counter is None:
        counter = int(time.time() * 1000)
    t, a, c = token.encode(), app_id.encode(), channel.encode()
    body = (bytes([suite]) + struct.pack("!H", len(t)) + t + struct.pack("!H", len(a)) + a +
            struct.pack("!H", len(c)) + c + struct.pack("!IB", uid, role))
    body += b"\0" * max(0, pad_to - 32 - len(body))
    return relay(JOIN, 0, 0, 0, 0, counter, body)


def parse_reply(data):
    """A JOIN_ACK or ERROR as a dict."""
    magic, ver, typ, app, chan, mid, flags, plen, counter = struct.unpack("!HBBIQIHHQ", data[:32])
    b = data[32:]
    if typ == ERROR:
        code = struct.unpack("!H", b[:2])[0]
        return {"type": "error", "code": code, "name": ERR.get(code), "counter": counter,
                "len": len(data)}
    st, app_i, ch, member, ka, exp, tok = struct.unpack("!BIQIIIQ", b[:33])
    return {"type": "ack", "status": st, "app_index": app_i, "channel_hash": ch,
            "member_id": member, "keepalive_ms": ka, "expires_at": exp, "path_token": tok,
            "counter": counter, "len": len(data)}


class Controld:
    """rtr-controld with its store and socket in a test directory."""

    def __init__(self, instance, d, region="eu", extra=()):
        self.instance, self.dir = instance, d
        self.extra = list(extra)
        self.sock = os.path.join(d, "ctl.sock")
        self.db = os.path.join(d, "store.db")
        self.log = os.path.join(d, "controld.log")
        self.region = region
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)        # left by a killed predecessor
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([CONTROLD, "--instance", self.instance, "--db", self.db,
                                      "--socket", self.sock, "--region", self.region] +
                                     self.extra, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or os.path.exists(self.sock),
                 what="controld socket")
        assert self.proc.poll() is None, open(self.log).read()
        return self

    def ctl(self, *args, check=True):
        p = subprocess.run([RTRCTL, "--socket", self.sock, "--json"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30)
        if check:
            assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            out = p.stdout
        return (p.returncode, out) if not check else out

    def attached(self):
        rc, st = self.ctl("status", check=False)
        return rc == 0 and st["dataplane"] == "attached"

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.logf.close()

    def stop(self):
        """SIGTERM; a clean exit and no sanitizer report, or the test fails."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            rc = self.proc.returncode
            self.proc = None
            self.logf.close()
            log = self.read_log()
            for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                assert bad not in log, log[-3000:]
            assert rc == 0, "rtr-controld exited %s:\n%s" % (rc, log[-2000:])

    def read_log(self):
        with open(self.log) as f:
            return f.read()


def make_token(app_id, cert_file, channel, uid, role="pub", expire=3600, issue_ts=None,
               privs=None):
    args = [RTRCTL, "token", "new", "--app-id", app_id, "--cert-file", cert_file,
            "--channel", channel, "--uid", str(uid), "--role", role, "--expire", str(expire)]
    if privs is not None:
        args += ["--privs", privs]
    if issue_ts is not None:
        args += ["--issue-ts", str(issue_ts)]
    p = subprocess.run(args, capture_output=True, text=True, check=True)
    return p.stdout.strip()
