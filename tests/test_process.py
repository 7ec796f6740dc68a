"""rtr-dataplane as a process: options, start-up refusals, clean shutdown,
and the file modes of security rule 12."""
import glob
import os
import signal
import stat
import struct
import subprocess

import pytest

from rtr import DPCTL, Dataplane, outdir


def null_dp(args=(), **kw):
    return Dataplane(["net_null0"], list(args), **kw)


@pytest.mark.parametrize("args,needle", [
    (["--udp-port", "80"], "--udp-port: '80' is not a number from 1024 to 65535"),
    (["--tx-mode", "fast"], "--tx-mode: 'fast' is not auto, chain or copy"),
    (["--ip", "0=10.0.0.300"], "--ip: '10.0.0.300' is not an IPv4 or IPv6 address"),
    (["--ip", "9=10.0.0.1"], "--ip: '9' is not a number from 0 to 7"),
    (["--instance", "../etc"], "--instance: '../etc' must be"),
    (["--max-members", "99999999"], "--max-members: '99999999' is not a number from 2 to 4194304"),
    (["--bogus"], "unrecognized option"),
])
def test_bad_option_is_named_and_exits_2(args, needle):
    dp = null_dp(args)
    p = subprocess.run(dp.cmd, capture_output=True, text=True, timeout=60)
    subprocess.run(["rm", "-rf", "/var/run/dpdk/" + dp.prefix])
    assert p.returncode == 2
    assert needle in p.stderr


def test_chain_mode_refused_on_a_port_without_multiseg():
    empty = os.path.join(outdir("nochain"), "empty.pcap")
    with open(empty, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    dp = Dataplane(["net_pcap0,rx_pcap=%s,tx_pcap=/dev/null" % empty], ["--tx-mode", "chain"])
    p = subprocess.run(dp.cmd, capture_output=True, text=True, timeout=60)
    subprocess.run(["rm", "-rf", "/var/run/dpdk/" + dp.prefix])
    assert p.returncode != 0
    assert "does not offer MULTI_SEGS TX: use --tx-mode copy or auto" in p.stdout + p.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_leaves_nothing(sig):
    dp = null_dp().start()
    ctl_path = "/dev/shm/rtrelay.%s.ctl" % dp.instance
    st_path = "/dev/shm/rtrelay.%s.stats" % dp.instance
    assert stat.S_IMODE(os.stat(ctl_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(st_path).st_mode) == 0o640
    dp.ctl.close()
    dp.ctl = None
    dp.proc.send_signal(sig)
    assert dp.proc.wait(20) == 0
    assert not os.path.exists(ctl_path) and not os.path.exists(st_path)
    assert glob.glob("/dev/hugepages/%s*" % dp.prefix) == []
    dp.stop()


def test_second_dataplane_for_a_live_instance_is_refused_and_restart_changes_generation():
    a = null_dp().start()
    try:
        gen1 = a.ctl.ok("ping")["generation"]
        b = Dataplane(["net_null0"], [])
        b.cmd[b.cmd.index("--instance") + 1] = a.instance
        p = subprocess.run(b.cmd, capture_output=True, text=True, timeout=60)
        subprocess.run(["rm", "-rf", "/var/run/dpdk/" + b.prefix])
        assert p.returncode == 1
        assert "a live dataplane already serves this instance" in p.stderr
        assert a.ctl.ok("ping")["generation"] == gen1      # untouched
    finally:
        a.stop()
    # a new process on the same instance: a new generation, the old one is gone
    c = Dataplane(["net_null0"], [])
    c.cmd[c.cmd.index("--instance") + 1] = a.instance
    c.instance = a.instance
    c.start()
    try:
        assert c.ctl.ok("ping")["generation"] != gen1
    finally:
        c.stop()


def test_unreachable_and_second_controller():
    r = subprocess.run([DPCTL, "--instance", "nosuch", "ping"], capture_output=True, text=True)
    assert r.returncode == 3 and "no such dataplane instance" in r.stdout
    dp = null_dp().start()
    try:
        # the harness's rtr-dpctl holds the controller lock: a second one is refused
        r = subprocess.run([DPCTL, "--instance", dp.instance, "ping"], capture_output=True,
                           text=True)
        assert r.returncode == 3 and "another controller holds the control lock" in r.stdout
        # readers need no lock
        r = subprocess.run([DPCTL, "--instance", dp.instance, "stats"], capture_output=True,
                           text=True)
        assert r.returncode == 0 and '"alive": true' in r.stdout
    finally:
        dp.stop()


def test_hugetlbfs_is_not_world_readable():
    """Security rule 12: frames sit in hugepages; setup mounts them 0700."""
    mode = stat.S_IMODE(os.stat("/dev/hugepages").st_mode)
    assert mode & 0o077 == 0, oct(mode)
