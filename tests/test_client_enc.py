"""rtr-client's encrypted session against tests/fake_relay_enc.py on the
loopback (no DPDK): the paths the real relay rarely takes — a rekey JOIN
that is never answered, a relay that forgets its sessions, replayed and
forged copies — and a check of every datagram the client sends."""
import json
import os
import socket
import subprocess

from rtr import CLIENT, ROOT

RELAY = os.path.join(ROOT, "tests", "fake_relay_enc.py")
APP_ID = "970CA35de60c44645bbae8a215061b33"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_relay(relay_args):
    port = free_port()
    relay = subprocess.Popen(["/usr/bin/python3", RELAY, "--port", str(port)] + relay_args,
                             stdout=subprocess.PIPE, text=True)
    return relay, port, json.loads(relay.stdout.readline())["public_key"]


def client(tmp_path, port, key, cmd, uid, args):
    tok = tmp_path / ("token%d" % uid)
    tok.write_text("007eJxTYBBZfake\n")        # the fake relay verifies no token
    return subprocess.Popen([CLIENT, cmd, "--server", "127.0.0.1:%d" % port, "--app-id", APP_ID,
                             "--token-file", str(tok), "--channel", "lobby", "--uid", str(uid),
                             "--server-key", key, "--json"] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p):
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return json.loads(out)


def stop_relay(relay):
    relay.terminate()
    out, _ = relay.communicate(timeout=20)
    return json.loads(out.strip().splitlines()[-1])


def run(tmp_path, relay_args, client_args, cmd="sub"):
    relay, port, key = start_relay(relay_args)
    c = finish(client(tmp_path, port, key, cmd, 5, client_args))
    return c, stop_relay(relay)


def test_unanswered_rekey_falls_back_to_leave_and_a_fresh_join(tmp_path):
    c, r = run(tmp_path, ["--rekey-after-echoes", "2", "--ignore-rekey"], ["--duration", "6"])
    assert r["errors"] == [], r["errors"]
    assert r["rekey_joins"] >= 3 and r["rekey_macs_ok"] == r["rekey_joins"]
    assert c["keepalives"]["rejoins"] >= 1 and r["joins"] >= 2 and r["leaves"] >= 1


def test_a_relay_that_forgets_its_sessions_gets_a_fresh_handshake(tmp_path):
    c, r = run(tmp_path, ["--restart-after", "2"], ["--duration", "7"])
    assert r["errors"] == [] and r["restarts"] == 1
    assert c["keepalives"]["rejoins"] == 1 and r["joins"] == 2


def test_replayed_and_forged_copies_are_refused_and_counted(tmp_path):
    relay, port, key = start_relay(["--inject-every", "5"])
    # no --expect: the sub stays until every injected copy after the last frame is in
    sub = client(tmp_path, port, key, "sub", 6, ["--duration", "5"])
    # the pub starts once the sub is in: a copy that reached the sub before
    # its own path validation was done would not count as delivered
    line = "-"
    while line and "rtr-client: joined" not in line:
        line = sub.stderr.readline()
    assert "rtr-client: joined" in line, "the sub never joined"
    pub = client(tmp_path, port, key, "pub", 7, ["--rate", "200", "--count", "400"])
    cp, cs = finish(pub), finish(sub)
    r = stop_relay(relay)
    assert r["errors"] == [] and r["media_in"] == 400
    assert r["injected_replays"] > 0 and r["injected_forgeries"] > 0
    assert cs["replayed"] == r["injected_replays"], (cs, r)
    assert cs["auth_failed"] == r["injected_forgeries"]
    assert cs["delivered"] == r["media_out"] == 400 and cs["lost"] == 0
    assert cp["sent"] == 400
