"""dpdk-testpmd as the peer of rtr-dataplane's memif port: it replays a pcap
into memif and writes what comes back into another pcap (io forwarding
between its memif port 0 and its pcap port 1). Interactive mode, so the test
can read its port counters and quit only once every frame is through."""
import os
import re
import select
import shutil
import subprocess
import time

from rtr import OUT


class PmdPeer:
    def __init__(self, memif_sock, rx_pcap, tx_pcap, infinite=False, name="pmd"):
        self.prefix = "rtr_pmd%d_%s" % (os.getpid(), name)
        pcap = "net_pcap0,rx_pcap=%s,tx_pcap=%s%s" % (rx_pcap, tx_pcap,
                                                      ",infinite_rx=1" if infinite else "")
        self.cmd = ["stdbuf", "-oL", "dpdk-testpmd", "--file-prefix", self.prefix, "-m", "256", "--huge-unlink",
                    "--lcores", "0@0,1@0", "--no-pci", "--log-level", "*:error",
                    "--vdev", "net_memif0,role=client,socket=%s,socket-abstract=no" % memif_sock,
                    "--vdev", pcap, "--", "-i", "--forward-mode=io", "--total-num-mbufs=16384",
                    "--nb-cores=1", "--no-flush-rx"]
        self.log = os.path.join(OUT, self.prefix + ".log")
        self.p = None

    def start(self):
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.until("testpmd> ")
        return self

    def until(self, marker, timeout=30):
        buf = ""
        fd = self.p.stdout.fileno()
        deadline = time.monotonic() + timeout
        while marker not in buf:
            if time.monotonic() > deadline:
                raise RuntimeError("testpmd: no %r in:\n%s" % (marker, buf))
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError("testpmd exited:\n" + buf)
                buf += chunk.decode(errors="replace")
        return buf

    def cmd_(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        return self.until("testpmd> ")

    def tx_packets(self, port):
        out = self.cmd_("show port stats %d" % port)
        m = re.search(r"TX-packets:\s+(\d+)", out)
        return int(m.group(1)) if m else -1

    def wait_tx(self, port, n, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            have = self.tx_packets(port)
            if have >= n:
                return have
            if time.monotonic() > deadline:
                raise AssertionError("testpmd port %d sent %d of %d" % (port, have, n))
            time.sleep(0.02)

    def stop(self):
        if self.p is None:
            return
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b"stop\nquit\n")
                self.p.stdin.flush()
                self.p.wait(20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.p = None
        shutil.rmtree("/var/run/dpdk/" + self.prefix, ignore_errors=True)
