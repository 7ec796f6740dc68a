"""Transport encryption end to end (docs/protocol.md section 16): a dataplane
on a veth (net_af_packet), rtr-controld, and members on kernel sockets in the
client namespace, sealed and opened by tests/encclient.py — a Python
implementation written from the protocol document, sharing no code with the C
one."""
import itertools
import json
import os
import struct
import subprocess

from encclient import F_ENC, F_KEY_PHASE, F_REKEY, KEEPALIVE, MEDIA, EncMember
from netns import SVC4, SVC6
from noise_ref import pub_of
from rtr import CLIENT, drops, media, parse_reply, wait_for
from system import APP_ID, System


_files = itertools.count()


def enc_join(s, sport, uid, role=1, channel="lobby", suite=1, server_pub=None, token=None):
    m = EncMember(s.server_pub(), suite)
    tok = token or s.token(channel, uid, "pub" if role == 1 else "sub")
    f = m.join_frame(tok, APP_ID, channel, uid, role, server_pub=server_pub)
    assert tok.encode() not in f, "the token travels sealed"
    r = s.send(sport, f)
    return m, r, f


def enc_member(s, sport, uid, role=1, channel="lobby", suite=1, token=None):
    """Joined and path-validated."""
    m, r, f = enc_join(s, sport, uid, role, channel, suite, token=token)
    assert r is not None, "no JOIN_ACK"
    ack = m.on_ack(r)
    assert ack["status"] == 0 and len(r) <= len(f)
    echo = s.send(sport, m.keepalive())
    assert echo is not None, "no KEEPALIVE echo"
    h, pt = m.open(echo)
    assert h["type"] == KEEPALIVE and len(pt) == 24
    assert struct.unpack("!Q", pt[:8])[0] == ack["path_token"]
    return m


def capture(s, path):
    """tshark on the client side of the veth, recording the relay's port;
    returns once it captures."""
    p = subprocess.Popen(["ip", "netns", "exec", s.net.cl, "tshark", "-i", "cl0",
                          "-f", "udp port 7700", "-w", path], stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "Capturing on" in line:
            break
    return p


def wstats(s):
    return s.dp.stats()


def active(s, channel="lobby"):
    return [m for m in s.cd.ctl("member", "list", APP_ID, channel) if m["state"] == "active"]


def frames_arg(s, frames):
    """nsagent's --frames: inline, or from a file when too long for argv."""
    text = "\n".join(f.hex() for f in frames)
    if len(text) < 100000:
        return text.replace("\n", ",")
    path = os.path.join(s.dir, "frames%d.hex" % next(_files))
    with open(path, "w") as f:
        f.write(text)
    return "@" + path


def send_frames(s, sport, frames, pps=2000):
    s.net.run_agent("send", "--sport", sport, "--dst", SVC4, "--frames", frames_arg(s, frames),
                    "--pps", pps)


def payload(i, n=200):
    return struct.pack("!I", i) + bytes((i + k) & 0xff for k in range(n - 4))


def test_encrypted_join_path_validation_and_fanout_sealed_per_receiver():
    with System("enc_fanout", enc="required") as s:
        pub = enc_member(s, 42201, 201)
        subs = {42202: enc_member(s, 42202, 202, role=2),
                42203: enc_member(s, 42203, 203, role=2, suite=2)}
        wait_for(lambda: len(active(s)) == 3, what="three active members")
        members = s.cd.ctl("member", "list", APP_ID, "lobby")
        rx = s.net.receivers(list(subs), expect=30, timeout=20, payloads=True)
        frames = [pub.media(payload(i), kind=1) for i in range(30)]
        send_frames(s, 42201, frames)
        got = s.net.collect(rx)
        st = wstats(s)
    assert sorted(m["enc"] for m in members) == ["aes128gcm", "aes128gcm", "aes256gcm"]
    wire = {}
    for port, m in subs.items():
        seen = []
        assert len(got[str(port)]) == 30, (port, len(got[str(port)]))
        for _, data in got[str(port)]:
            data = bytes.fromhex(data)
            h, pt = m.open(data)
            assert h["type"] == MEDIA and h["member_id"] == pub.ack["member_id"]
            assert h["flags"] == F_ENC | (1 << 8), "ENC, phase 0, the sender's media kind"
            assert len(data) == 32 + 200 + 16
            seen.append((h["lane"], h["seq"]))
            wire.setdefault(struct.unpack("!I", pt[:4])[0], []).append(data[32:])
            assert pt == payload(struct.unpack("!I", pt[:4])[0])
        assert len(set(seen)) == 30, "no downlink nonce twice"
        assert [q for _, q in seen] == sorted(q for _, q in seen)
    assert sorted(wire) == list(range(30))
    # each receiver its own ciphertext of the same frame
    assert all(a != b for a, b in wire.values())
    assert st["enc_opened"] >= 30 and st["enc_sealed"] >= 60


def test_tampering_replay_wrong_key_and_plaintext_are_dropped_and_counted():
    with System("enc_tamper", enc="required") as s:
        pub = enc_member(s, 42301, 301)
        sub = enc_member(s, 42302, 302, role=2)
        wait_for(lambda: len(active(s)) == 2, what="two active members")
        good = [pub.media(payload(i)) for i in range(4)]
        bad_ct = bytearray(pub.media(payload(10)))
        bad_ct[40] ^= 1
        bad_hdr = bytearray(pub.media(payload(11)))
        bad_hdr[20] ^= 0x40               # an opaque flag bit: the header is the AAD
        bad_tag = bytearray(pub.media(payload(12)))
        bad_tag[-1] ^= 0x80
        # the publisher's id and address, keys of another session
        other = enc_member(s, 42303, 303)
        wait_for(lambda: len(active(s)) == 3, what="three active members")
        wrong_key = bytearray(other.media(payload(13), counter=1000))
        wrong_key[16:20] = pub.ack["member_id"].to_bytes(4, "big")
        plain = media(pub.ack["app_index"], pub.ack["channel_hash"], pub.ack["member_id"],
                      counter=99, payload=payload(14))
        before = drops(wstats(s))
        rx = s.net.receivers([42302], expect=4, timeout=10, payloads=True, linger=1.0)
        send_frames(s, 42301, [good[0], bytes(bad_ct), bytes(bad_hdr), bytes(bad_tag), good[1],
                               good[1], good[0], bytes(wrong_key), plain, good[2], good[3]])
        got = s.net.collect(rx)["42302"]
        after = drops(wstats(s))
        # a JOIN sealed to another node's key: no answer at all
        wrong_pub = pub_of(os.urandom(32))
        m2, r2, _ = enc_join(s, 42304, 304, server_pub=wrong_pub)
        st = s.cd.ctl("status")
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    opened = [sub.open(bytes.fromhex(d))[1] for _, d in got]
    assert [struct.unpack("!I", p[:4])[0] for p in opened] == [0, 1, 2, 3]
    assert delta.get("enc_auth_failed") == 4, delta     # 3 tampered + the wrong key
    assert delta.get("enc_replay") == 2, delta           # good[1], good[0] again
    assert delta.get("enc_plaintext_frame") == 1, delta
    assert r2 is None and st["joins_dropped_handshake"] == 1
    del m2


def test_replayed_and_retransmitted_encrypted_joins():
    with System("enc_join_replay", enc="required") as s:
        m, r, f = enc_join(s, 42311, 311)
        again = s.send(42311, f)              # a retransmission: the cached bytes
        elsewhere = s.send(42312, f)          # a copy from another port: a replay
        st = s.cd.ctl("status")
    assert r is not None and again == r
    assert elsewhere is None and st["joins_dropped_replay"] >= 1
    assert m.on_ack(r)["status"] == 0


def test_channel_modes_never_mix_and_policies_hold():
    with System("enc_modes", enc="optional") as s:
        sec = enc_member(s, 42321, 321, channel="secure")
        clear_ack, _ = s.join(42322, channel="clear", uid=322)
        assert clear_ack["type"] == "ack"
        # plaintext into the encrypted channel, encrypted into the plaintext one
        down, _ = s.join(42323, channel="secure", uid=323)
        m, up, _ = enc_join(s, 42324, 324, channel="clear")
        s.cd.ctl("app", "set", APP_ID, "--enc", "required")
        req, _ = s.join(42325, channel="other", uid=325)
        s.cd.ctl("app", "set", APP_ID, "--enc", "off")
        m2, off, _ = enc_join(s, 42326, 326, channel="other2")
    assert down["type"] == "error" and down["name"] == "ENC_REQUIRED"
    assert parse_reply(up)["name"] == "ENC_REQUIRED"
    assert req["name"] == "ENC_REQUIRED"
    assert parse_reply(off)["name"] == "ENC_REQUIRED"
    del sec


def test_roaming_to_a_new_port_validated_by_challenge():
    with System("enc_roam", enc="required") as s:
        pub = enc_member(s, 42401, 401)
        sub = enc_member(s, 42402, 402, role=2)
        wait_for(lambda: len(active(s)) == 2, what="two active members")
        # the subscriber's NAT binding changes: its KEEPALIVEs come from 42412
        e1 = s.send(42412, sub.keepalive())
        h1, p1 = sub.open(e1)
        wait_for(lambda: s.dp.stats()["roam_candidates"] >= 1, what="candidate")
        # until the move is validated, copies still go to the old port
        rx_old = s.net.receivers([42402], expect=1, timeout=10, payloads=True)
        send_frames(s, 42401, [pub.media(payload(0))])
        old = s.net.collect(rx_old)["42402"]
        e2 = s.send(42412, sub.keepalive())
        h2, p2 = sub.open(e2)
        challenge = struct.unpack("!Q", p2[8:16])[0]
        e3 = s.send(42412, sub.keepalive(challenge=challenge))
        wait_for(lambda: s.cd.ctl("status")["members_roamed"] == 1, what="the move")
        rx_new = s.net.receivers([42412], expect=1, timeout=10, payloads=True)
        send_frames(s, 42401, [pub.media(payload(1))])
        new = s.net.collect(rx_new)["42412"]
        ports = {m["member_id"]: m["udp_port"] for m in s.cd.ctl("member", "list", APP_ID,
                                                                   "lobby")}
        main = s.dp.stats()["main"]
        # a forged challenge from yet another port moves nothing
        e4 = s.send(42413, sub.keepalive(challenge=challenge))
    assert struct.unpack("!Q", p1[8:16])[0] == 0
    assert challenge != 0 and e3 is not None
    assert len(old) == 1 and struct.unpack("!I", sub.open(bytes.fromhex(old[0][1]))[1][:4])[0] == 0
    assert len(new) == 1 and struct.unpack("!I", sub.open(bytes.fromhex(new[0][1]))[1][:4])[0] == 1
    assert ports[sub.ack["member_id"]] == 42412 and ports[pub.ack["member_id"]] == 42401
    assert main["roams"] == 1
    assert struct.unpack("!Q", sub.open(e4)[1][8:16])[0] == 0


def test_rekey_switches_keys_with_overlap_and_checks_the_mac():
    with System("enc_rekey", enc="required", dp_args=("--rekey-frames", "16")) as s:
        pub = enc_member(s, 42501, 501)
        sub = enc_member(s, 42502, 502, role=2)
        wait_for(lambda: len(active(s)) == 2, what="two active members")
        rx = s.net.receivers([42502], expect=40, timeout=20, payloads=True)
        send_frames(s, 42501, [pub.media(payload(i)) for i in range(20)])
        echo = s.send(42501, pub.keepalive())
        h, _ = pub.open(echo)
        assert h["flags"] & F_REKEY, "REKEY_REQUESTED after 16 frames"
        tok = s.token("lobby", 501, "pub")
        # a rekey JOIN with a wrong MAC is dropped silently
        forged = EncMember(s.server_pub())
        forged.ack = dict(pub.ack)
        forged.keys = [type(pub.keys[0]).__new__(type(pub.keys[0])), None]
        forged.keys[0].rekey = b"\x01" * 32
        bad = s.send(42501, forged.join_frame(tok, APP_ID, "lobby", 501, rekey=True))
        ack = s.send(42501, pub.join_frame(tok, APP_ID, "lobby", 501, rekey=True))
        assert ack is not None
        a = pub.on_ack(ack)
        assert a["member_id"] == forged.ack["member_id"] and pub.phase == 1
        # old-phase frames still count during the overlap; then the new keys
        old = pub.media(payload(20), phase=0)
        send_frames(s, 42501, [old] + [pub.media(payload(i)) for i in range(21, 40)])
        got = s.net.collect(rx)["42502"]
        echo2 = s.send(42501, pub.keepalive())
        h2, _ = pub.open(echo2)
        st = s.cd.ctl("status")
        # after the overlap the old keys are gone: an old-phase frame has no key
        wait_for(lambda: _old_phase_refused(s, pub), timeout=20,
                 what="old keys wiped after the overlap")
    assert bad is None and st["joins_dropped_rekey"] == 1 and st["joins_rekeyed"] == 1
    vals = sorted(struct.unpack("!I", sub.open(bytes.fromhex(d))[1][:4])[0] for _, d in got)
    assert vals == list(range(40)), "no frame lost across the rekey"
    assert h2["flags"] & F_KEY_PHASE, "the downlink follows the new keys"


def _old_phase_refused(s, pub):
    """Send one new old-phase frame; True once it is refused for want of a key
    (it is forwarded, or refused otherwise, during the overlap)."""
    w = s.dp.stats()
    nokey, done = w["drops"]["enc_no_key"], w["media_in"] + w["drops_total"]
    send_frames(s, 42501, [pub.media(payload(99), phase=0)])
    wait_for(lambda: (lambda x: x["media_in"] + x["drops_total"] > done)(
        s.dp.stats()), what="the old-phase frame counted")
    return s.dp.stats()["drops"]["enc_no_key"] > nokey


def test_two_workers_never_share_a_downlink_nonce():
    """Two workers seal for one receiver: each uses its own lane, so no
    (key, nonce) pair repeats and no counter is shared between cores."""
    with System("enc_lanes", enc="required", workers=2) as s:
        sub = enc_member(s, 42602, 602, role=2)
        # twelve flows: all on one queue by chance once in 2048 runs
        pubs = {42610 + i: enc_member(s, 42610 + i, 610 + i) for i in range(12)}
        wait_for(lambda: len(active(s)) == 13, what="thirteen active members")
        rx = s.net.receivers([42602], expect=12 * 25, timeout=30, payloads=True)
        senders = [s.net.agent("send", "--sport", port, "--dst", SVC4, "--frames",
                               ",".join(p.media(payload(1000 * i + k)).hex() for k in range(25)),
                               "--pps", 500)
                   for i, (port, p) in enumerate(pubs.items())]
        for p in senders:
            p.wait(30)
        got = s.net.collect(rx)["42602"]
        lanes = s.dp.stats()
    nonces, vals = [], set()
    for _, d in got:
        h, pt = sub.open(bytes.fromhex(d))     # every copy authenticates
        nonces.append(h["counter"])
        vals.add(struct.unpack("!I", pt[:4])[0])
    assert len(got) == 300 and len(vals) == 300
    assert len(set(nonces)) == len(nonces), "a downlink nonce was used twice"
    used = {n >> 56 for n in nonces}
    assert used == {0, 1}, "both workers sealed for the receiver (lanes %s)" % used
    del lanes


def test_capture_of_an_encrypted_session_holds_no_token_and_no_plaintext(tmp_path):
    """tshark on the client side of the veth records a whole session: JOINs,
    path validation, MEDIA both ways, LEAVEs. Neither the token, nor the App
    ID, nor any plaintext payload appears in it."""
    marker = b"PLAINTEXT-MARKER-" * 10
    cap = str(tmp_path / "enc.pcap")
    with System("enc_capture", enc="required") as s:
        tshark = capture(s, cap)
        tokens = [s.token("lobby", 701, "pub"), s.token("lobby", 702, "sub")]
        pub = enc_member(s, 42701, 701, token=tokens[0])
        sub = enc_member(s, 42702, 702, role=2, token=tokens[1])
        wait_for(lambda: len(active(s)) == 2, what="two active members")
        rx = s.net.receivers([42702], expect=20, timeout=20, payloads=True)
        send_frames(s, 42701, [pub.media(marker + struct.pack("!I", i)) for i in range(20)])
        got = s.net.collect(rx)["42702"]
        s.send(42701, pub.leave(), timeout=0.3)
        s.send(42702, sub.leave(), timeout=0.3)
        wait_for(lambda: s.cd.ctl("member", "list", APP_ID, "lobby") == [], what="both gone")
        # everything has passed the veth once the LEAVEs were processed
        tshark.terminate()
        tshark.wait(20)
    data = open(cap, "rb").read()
    n = subprocess.run(["tshark", "-r", cap, "-Y", "udp.port == 7700", "-T", "fields",
                        "-e", "udp.length"], capture_output=True, text=True, check=True)
    lengths = [int(x) for x in n.stdout.split()]
    assert len(got) == 20 and all(sub.open(bytes.fromhex(d))[1].startswith(marker)
                                  for _, d in got)
    # 2 JOIN + 2 JOIN_ACK + 2 KA + 2 echoes + 20 MEDIA in + 20 out + 2 LEAVE
    assert len(lengths) >= 50, lengths
    for tok in tokens:
        assert tok.encode() not in data
        assert tok[3:40].encode() not in data
    assert APP_ID.encode() not in data and APP_ID.lower().encode() not in data
    assert b"PLAINTEXT-MARKER" not in data


def test_dataplane_restart_drops_session_keys_and_members_rejoin():
    """Keys never go into a new dataplane generation: the encrypted members
    are removed (and audited), the old keys open nothing there, and the
    clients' fresh handshakes bring the channel back."""
    with System("enc_dp_restart", enc="required") as s:
        pub = enc_member(s, 42801, 801)
        sub = enc_member(s, 42802, 802, role=2)
        wait_for(lambda: len(active(s)) == 2, what="two active members")
        gen1 = s.cd.ctl("status")["generation"]
        s.dp.stop()
        s.dp = s.new_dataplane()
        wait_for(lambda: s.cd.attached() and s.cd.ctl("status")["generation"] != gen1,
                 what="controld on the new dataplane")
        wait_for(lambda: s.cd.ctl("member", "list", APP_ID, "lobby") == [],
                 what="encrypted members removed, not re-programmed")
        main = s.dp.stats()["main"]
        # the old session goes nowhere: its frames name no member
        stale = s.send(42801, pub.keepalive(), timeout=0.5)
        unknown = s.dp.stats()["drops"]["member_unknown"]
        audit = s.cd.ctl("audit", "tail", "50")
        pub2 = enc_member(s, 42801, 801)
        sub2 = enc_member(s, 42802, 802, role=2)
        wait_for(lambda: len(active(s)) == 2, what="both back")
        rx = s.net.receivers([42802], expect=10, timeout=15, payloads=True)
        send_frames(s, 42801, [pub2.media(payload(i)) for i in range(10)])
        got = s.net.collect(rx)["42802"]
    assert main["members"] == 0 and main["enc_members"] == 0
    assert stale is None and unknown >= 1
    reasons = [e.get("args", {}).get("why") for e in audit if e.get("cmd") == "member.remove"]
    assert reasons.count("session keys lost with the dataplane") == 2, audit
    assert [struct.unpack("!I", sub2.open(bytes.fromhex(d))[1][:4])[0] for _, d in got] == \
        list(range(10))
    assert pub2.keys[0].c2n != pub.keys[0].c2n, "a fresh handshake, fresh keys"
    del sub


def test_forged_frames_from_elsewhere_are_capped_and_keys_never_reach_the_store():
    """A forger who knows a member id but not its keys gets at most 64 AES
    opens a second per member from other addresses; the member's own frames
    are all opened and forwarded meanwhile. The store holds no key."""
    with System("enc_budget", enc="required") as s:
        pub = enc_member(s, 42901, 901)
        sub = enc_member(s, 42902, 902, role=2)
        wait_for(lambda: len(active(s)) == 2, what="two active members")
        forged = []
        for i in range(300):
            f = bytearray(pub.media(payload(5000 + i), counter=100000 + i))
            f[-1] ^= 1
            forged.append(bytes(f))
        before = s.dp.stats()["drops"]
        rx = s.net.receivers([42902], expect=40, timeout=20, payloads=True)
        flood = s.net.agent("send", "--sport", 42911, "--dst", SVC4, "--frames",
                            frames_arg(s, forged), "--pps", 3000)
        send_frames(s, 42901, [pub.media(payload(i)) for i in range(40)], pps=400)
        flood.wait(30)
        got = s.net.collect(rx)["42902"]
        after = s.dp.stats()["drops"]
        store = b""
        for suffix in ("", "-wal", "-journal"):
            if os.path.exists(s.cd.db + suffix):
                store += open(s.cd.db + suffix, "rb").read()
    failed = after["enc_auth_failed"] - before["enc_auth_failed"]
    capped = after["enc_auth_budget"] - before["enc_auth_budget"]
    assert failed + capped == 300
    # the initial budget of 64, plus 64/s refill over the flood (0.1 s at 3000/s)
    assert 64 <= failed <= 64 + 64, (failed, capped)
    assert capped >= 100, capped
    assert sorted(struct.unpack("!I", sub.open(bytes.fromhex(d))[1][:4])[0] for _, d in got) == \
        list(range(40)), "the member's own frames all went through"
    for m in (pub, sub):
        k = m.keys[0]
        for secret in (k.c2n, k.n2c, k.rekey):
            assert secret not in store, "a session key in the store"


# ---- with rtr-client ------------------------------------------------------

def client(s, cmd, uid, *args, port, channel="lobby"):
    """rtr-client in the client namespace, with the node's key; JSON report."""
    tok = os.path.join(s.dir, "token-%d" % uid)
    with open(tok, "w") as f:
        f.write(s.token(channel, uid, "pub" if cmd == "pub" else "sub") + "\n")
    argv = ["ip", "netns", "exec", s.net.cl, CLIENT, cmd, "--server", SVC4 + ":7700",
            "--app-id", APP_ID, "--token-file", tok, "--channel", channel, "--uid", str(uid),
            "--server-key", s.cd.ctl("node", "show")["public_key"], "--bind",
            "0.0.0.0:%d" % port, "--json"] + [str(a) for a in args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def report(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, (p.returncode, out, err)
    return json.loads(out)


def test_rtr_client_rekeys_under_traffic_without_loss_and_the_capture_stays_sealed(tmp_path):
    cap = str(tmp_path / "client.pcap")
    with System("enc_client_rekey", enc="required",
                # a small table: the sweep visits each member every 0.1 s, so
                # the 2 s key overlap ends on time and rekeys follow quickly
                dp_args=("--idle-timeout", "30", "--rekey-frames", "300",
                         "--max-members", "16384")) as s:
        tshark = capture(s, cap)
        sub = client(s, "sub", 1101, "--duration", 25, "--expect", 3600, port=43101)
        wait_for(lambda: len(active(s)) == 1, what="the subscriber active")
        pub = client(s, "pub", 1102, "--rate", 400, "--count", 3600, "--size", 300, port=43102)
        rp, rs = report(pub), report(sub)
        st = s.dp.stats()
        cd = s.cd.ctl("status")
        tokens = [open(os.path.join(s.dir, "token-%d" % u)).read().strip() for u in (1101, 1102)]
        tshark.terminate()
        tshark.wait(20)
    data = open(cap, "rb").read()
    kp, ks = rp["keepalives"], rs["keepalives"]
    assert rs["delivered"] == 3600 and rs["lost"] == 0, rs
    assert rs["auth_failed"] == 0 and rs["replayed"] == 0 and rp["auth_failed"] == 0
    # the publisher's uplink and the subscriber's downlink pass 300 frames a key
    assert kp["rekeys"] >= 2 and ks["rekeys"] >= 2, (kp, ks)
    assert kp["rejoins"] == 0 and ks["rejoins"] == 0
    assert cd["joins_rekeyed"] == kp["rekeys"] + ks["rekeys"]
    assert st["main"]["rekeys"] == cd["joins_rekeyed"]
    for r in ("enc_auth_failed", "enc_replay", "enc_no_key", "enc_plaintext_frame"):
        assert st["drops"][r] == 0, (r, st["drops"])
    for tok in tokens:
        assert tok.encode() not in data and tok[3:40].encode() not in data
    # rtr-client's payload filler, byte k = k mod 256, never in clear
    assert bytes(range(28, 92)) not in data
    assert len(data) > 3600 * 300


def test_rtr_client_roams_to_a_new_port_and_the_downlink_follows():
    with System("enc_client_roam", enc="required") as s:
        sub = client(s, "sub", 1201, "--duration", 8, "--expect", 1200, "--roam-after", 2,
                     port=43201)
        wait_for(lambda: len(active(s)) == 1, what="the subscriber active")
        pub = client(s, "pub", 1202, "--rate", 200, "--count", 1200, port=43210)
        wait_for(lambda: s.cd.ctl("status")["members_roamed"] == 1, what="the move")
        ports = sorted(m["udp_port"] for m in s.cd.ctl("member", "list", APP_ID, "lobby"))
        rp, rs = report(pub), report(sub)
        main, cd = s.dp.stats()["main"], s.cd.ctl("status")
    k = rs["keepalives"]
    assert k["roams"] == 1 and k["roams_confirmed"] == 1, rs
    assert main["roams"] == 1 and cd["members_roamed"] == 1
    # copies sent to the old port while the move was being validated are lost
    assert rs["delivered"] >= 1200 - 40 and rs["auth_failed"] == 0, rs
    assert rs["senders"][0]["last"] == 1200, "the downlink followed the move"
    assert ports == [43202, 43210], "the store has the subscriber's new port (43201 + 1)"
    assert rp["sent"] == 1200


def test_rtr_client_rejoins_with_a_fresh_handshake_after_a_dataplane_restart():
    with System("enc_client_restart", enc="required") as s:
        sub = client(s, "sub", 1301, "--duration", 22, port=43301)
        wait_for(lambda: len(active(s)) == 1, what="the subscriber active")
        pub = client(s, "pub", 1302, "--rate", 100, "--duration", 16, port=43302)
        wait_for(lambda: s.dp.stats()["media_out"] >= 200, what="traffic")
        gen1 = s.cd.ctl("status")["generation"]
        s.dp.stop()
        s.dp = s.new_dataplane()
        wait_for(lambda: s.cd.attached() and s.cd.ctl("status")["generation"] != gen1,
                 what="controld on the new dataplane")
        wait_for(lambda: len(active(s)) == 2, timeout=20, what="both clients joined again")
        rp, rs = report(pub), report(sub)
        # their keys are wiped once the LEAVEs' grace period is over
        wait_for(lambda: s.dp.stats()["main"]["enc_members"] == 0, what="key slots wiped")
        st = s.dp.stats()
    kp, ks = rp["keepalives"], rs["keepalives"]
    assert kp["rejoins"] == 1 and ks["rejoins"] == 1, (kp, ks)
    assert rs["auth_failed"] == 0 and rs["replayed"] == 0
    sender = rs["senders"][0]
    assert sender["last"] >= rp["sent"] - 5, "frames flowed again after the re-JOIN"
    assert st["media_out"] > 0


def test_a_move_to_an_address_the_isolation_rules_deny_removes_the_member():
    """The member moves from IPv4 to IPv6; the new path validates, the
    dataplane moves it, and rtr-controld, told on notify, holds it to the
    app's isolation rules there: a denied prefix removes it (audited). (A
    global deny rule is refused in the dataplane before the move: the next
    test.)"""
    with System("enc_roam_denied", enc="required") as s:
        s.cd.ctl("acl", "add", "deny", "fd77::/64", "--app", APP_ID)
        sub = enc_member(s, 43401, 3401, role=2)
        wait_for(lambda: len(active(s)) == 1, what="active over IPv4")

        def ka6(challenge=0):
            h = s.net.run_agent("ka", "--sport", 43411, "--dst", SVC6, "--frame",
                                sub.keepalive(challenge=challenge).hex(), "--timeout", 3)
            return sub.open(bytes.fromhex(h))[1] if h else None

        first = ka6()
        wait_for(lambda: s.dp.stats()["roam_candidates"] >= 1, what="candidate")
        challenge = 0
        for _ in range(50):
            pt = ka6()
            challenge = struct.unpack("!Q", pt[8:16])[0]
            if challenge:
                break
        ka6(challenge)
        wait_for(lambda: s.cd.ctl("member", "list", APP_ID, "lobby") == [],
                 what="the member removed after moving into a denied prefix")
        roams = s.dp.stats()["main"]["roams"]
        tail = s.cd.ctl("audit", "tail", "20")
    assert first is not None and challenge != 0 and roams == 1
    cmds = [(e.get("cmd"), e.get("args", {}).get("why")) for e in tail]
    assert ("member.roam", None) in cmds
    assert ("member.remove", "moved to an address the isolation rules deny") in cmds


def test_a_move_onto_the_global_deny_list_is_refused_by_the_dataplane():
    """With the new address on the global deny list the dataplane never
    offers the candidate a challenge: the member stays where it was, keeps
    receiving there, and the refusal is counted."""
    with System("enc_roam_guard", enc="required") as s:
        s.cd.ctl("acl", "add", "deny", "fd77::/64")
        wait_for(lambda: s.dp.stats()["main"]["deny_rules6"] == 1, what="the rule in the dataplane")
        sub = enc_member(s, 43451, 3451, role=2)
        pub = enc_member(s, 43452, 3452, role=1)
        wait_for(lambda: len(active(s)) == 2, what="both active over IPv4")
        challenges = []
        for _ in range(5):
            h = s.net.run_agent("ka", "--sport", 43461, "--dst", SVC6, "--frame",
                                sub.keepalive().hex(), "--timeout", 3)
            # the echo of its own authenticated KEEPALIVE, same size, no challenge
            challenges.append(struct.unpack("!Q", sub.open(bytes.fromhex(h))[1][8:16])[0]
                              if h else None)
        wait_for(lambda: s.dp.stats()["main"]["roams_denied"] >= 1, what="the move refused")
        m = s.dp.stats()["main"]
        rx = s.net.receivers([43451], expect=5, timeout=15)
        for i in range(5):
            s.send(43452, pub.media(b"m%d" % i), timeout=0.2)
        got = s.net.collect(rx)["43451"]
        members = s.cd.ctl("member", "list", APP_ID, "lobby")
    assert all(c == 0 for c in challenges), challenges
    assert m["roams"] == 0 and m["roams_denied"] >= 1
    assert len(got) == 5, got
    assert sorted(x["uid"] for x in members) == [3451, 3452]


def test_rekey_requested_after_the_key_lifetime():
    """--rekey-seconds: the node asks for a rekey once a key is that old,
    however few frames it sealed."""
    with System("enc_rekey_time", enc="required",
                dp_args=("--idle-timeout", "30", "--rekey-seconds", "5")) as s:
        m = enc_member(s, 43501, 3501, role=2)
        h0, _ = m.open(s.send(43501, m.keepalive()))

        def asked():
            h, _ = m.open(s.send(43501, m.keepalive()))
            return bool(h["flags"] & F_REKEY)
        wait_for(asked, timeout=15, what="REKEY_REQUESTED after 5 s")
        frames = m.keys[0].up
    assert not h0["flags"] & F_REKEY
    assert frames < 1000, "asked for by age, not by count"
