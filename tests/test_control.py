"""rtr-controld end to end: a dataplane on a veth (net_af_packet) in one
namespace, rtr-controld attached to it, clients on kernel sockets in another
namespace sending JOINs with tokens from `rtrctl token new`."""
import json
import os
import socket
import subprocess
import time

from netns import CL4, SVC4
from rtr import CLIENT, RTRCTL, join_frame, make_token, media, relay, wait_for
from system import APP_ID, CERT, OTHER_CERT, System


def test_join_ack_then_path_validation_makes_an_active_member():
    with System("join_ok") as s:
        ack, j = s.join(42001)
        assert ack["type"] == "ack" and ack["status"] == 0, ack
        assert ack["app_index"] == 1 and ack["member_id"] != 0 and ack["path_token"] != 0
        assert ack["len"] <= len(j), "a reply is never larger than its JOIN"
        members = s.cd.ctl("member", "list", APP_ID, "lobby")
        assert [(m["member_id"], m["state"]) for m in members] == [(ack["member_id"], "pending")]
        echo = s.validate(42001, ack)
        assert echo is not None and echo[32:40] == ack["path_token"].to_bytes(8, "big")
        wait_for(lambda: s.cd.ctl("member", "list", APP_ID, "lobby")[0]["state"] == "active",
                 what="member active in the store")
        log = s.cd.read_log()
    assert "join ok" in log
    for secret in (CERT, "lobby", CL4):
        assert secret not in log, "logs carry no certificate, channel name or address"


def test_strangers_learn_only_token_invalid():
    with System("strangers") as s:
        unknown_app = "00000000000000000000000000000042"
        forged = make_token(APP_ID, _cert_file(s, OTHER_CERT), "lobby", 42)
        cases = [
            s.join(42002, token=forged)[0],                                   # wrong certificate
            s.join(42003, app_id=unknown_app, token=make_token(
                unknown_app, s.cert, "lobby", 42))[0],                         # unknown app
            s.join(42004, token=s.token("lobby")[:-4] + "AAAA")[0],           # mangled
        ]
        st = s.cd.ctl("status")
    assert [c and c["name"] for c in cases] == ["TOKEN_INVALID"] * 3
    assert all(c["len"] == 34 for c in cases)
    assert st["joins_refused"] == {"5": 3} and st["joins_ok"] == 0


def _cert_file(s, cert):
    p = os.path.join(s.dir, "other_cert")
    with open(p, "w") as f:
        f.write(cert)
    return p


def test_refusals_after_the_signature():
    now = int(time.time())
    with System("refusals") as s:
        expired = s.token("lobby", 7, issue_ts=now - 100, expire=50)
        wrong_channel = s.token("other", 8)
        sub_token = s.token("lobby", 9, role="sub")
        got = {
            "expired": s.join(42010, uid=7, token=expired)[0],
            "wrong_channel": s.join(42011, uid=8, token=wrong_channel)[0],
            "sub_as_pub": s.join(42012, uid=9, role=1, token=sub_token)[0],
        }
        s.cd.ctl("app", "set", APP_ID, "--regions", "us,ap")
        got["geofenced"] = s.join(42013, uid=10)[0]
        s.cd.ctl("app", "set", APP_ID, "--regions", "", "--enc", "required")
        got["enc_required"] = s.join(42014, uid=11)[0]
        s.cd.ctl("app", "set", APP_ID, "--enc", "off", "--disable")
        got["disabled"] = s.join(42015, uid=12)[0]
        s.cd.ctl("app", "set", APP_ID, "--enable", "--max-members", "1")
        first = s.join(42016, uid=13)[0]
        got["full"] = s.join(42017, uid=14)[0]
        # uid 13 again, with a token for any uid: not allowed to replace
        got["uid_conflict"] = s.join(42018, uid=13, token=s.token("lobby", 0))[0]
        # a uid-bound token and a newer JOIN replace the member
        replaced = s.join(42019, uid=13)[0]
        members = s.cd.ctl("member", "list", APP_ID, "lobby")
    names = {k: v and v.get("name") for k, v in got.items()}
    assert first["type"] == "ack" and replaced["type"] == "ack"
    assert [m["member_id"] for m in members] == [replaced["member_id"]]
    assert names == {"expired": "TOKEN_EXPIRED", "wrong_channel": "TOKEN_INVALID",
                     "sub_as_pub": "PRIVILEGE", "geofenced": "GEOFENCED",
                     "enc_required": "ENC_REQUIRED", "disabled": "APP_DISABLED",
                     "full": "CHANNEL_FULL", "uid_conflict": "UID_CONFLICT"}


def test_retransmit_gets_the_cached_ack_and_replays_are_silent():
    with System("replay") as s:
        tok = s.token("lobby", 21)
        f = join_frame(tok, APP_ID, "lobby", 21, 1)
        a1 = s.send(42021, f)
        a2 = s.send(42021, f)          # a retransmission: the very same bytes back
        replay = s.send(42022, f, timeout=1)    # the same JOIN from elsewhere: nothing
        st = s.cd.ctl("status")
    assert a1 is not None and a1 == a2
    assert replay is None
    assert st["joins_retransmit"] == 1 and st["joins_dropped_replay"] == 1


def _active(s, channel="lobby"):
    return [m for m in s.cd.ctl("member", "list", APP_ID, channel) if m["state"] == "active"]


def _joined_pair(s):
    """A publisher on 42101 and a subscriber on 42102, both path-validated."""
    pub = s.join(42101, uid=101)[0]
    sub = s.join(42102, uid=102, role=2)[0]
    assert pub["type"] == sub["type"] == "ack"
    assert s.validate(42101, pub) is not None and s.validate(42102, sub) is not None
    wait_for(lambda: len(_active(s)) == 2, what="two active members")
    return pub, sub


def _stream(s, pub, n, pps):
    f = media(pub["app_index"], pub["channel_hash"], pub["member_id"], payload=b"s" * 200)
    return s.net.agent("send", "--sport", 42101, "--dst", SVC4, "--frames", f.hex(),
                       "--repeat", n, "--pps", pps, "--seq")


def test_fanout_between_joined_members_and_leave_ends_the_channel():
    with System("fanout_leave") as s:
        pub, sub = _joined_pair(s)
        rx = s.net.receivers([42102], expect=50, timeout=15)
        _stream(s, pub, 50, 1000).wait(30)
        got = s.net.collect(rx)["42102"]
        chans = s.cd.ctl("channel", "list")
        leave = relay(4, sub["app_index"], sub["channel_hash"], sub["member_id"])
        s.send(42102, leave, timeout=0.5)
        wait_for(lambda: [m["member_id"] for m in s.cd.ctl("member", "list", APP_ID, "lobby")]
                 == [pub["member_id"]], what="the subscriber gone after LEAVE")
        s.send(42101, relay(4, pub["app_index"], pub["channel_hash"], pub["member_id"]),
               timeout=0.5)
        wait_for(lambda: s.cd.ctl("channel", "list") == [], what="channel gone with its last member")
    assert [c for c, _ in got] == list(range(50))
    assert [(c["channel"], c["members"], c["active"]) for c in chans] == [("lobby", 2, 2)]


def test_controld_killed_under_traffic_loses_nothing_and_recovers_its_state():
    with System("kill9") as s:
        pub, sub = _joined_pair(s)
        before = s.cd.ctl("member", "list", APP_ID, "lobby")
        rx = s.net.receivers([42102], expect=3000, timeout=30)
        sender = _stream(s, pub, 3000, 1500)
        s.cd.kill9()
        s.cd.start()           # a new controld on the same store, same dataplane
        wait_for(s.cd.attached, what="controld re-attached")
        sender.wait(30)
        got = s.net.collect(rx)["42102"]
        after = s.cd.ctl("member", "list", APP_ID, "lobby")
        log = s.cd.read_log()
    assert [c for c, _ in got] == list(range(3000)), "frames lost while controld was down"
    assert sorted(before, key=lambda m: m["member_id"]) == sorted(after, key=lambda m: m["member_id"])
    assert "same generation" in log


def test_dataplane_restart_reprograms_plaintext_members_with_their_ids():
    with System("dp_restart") as s:
        pub, sub = _joined_pair(s)
        gen1 = s.cd.ctl("status")["generation"]
        s.dp.stop()
        s.dp = s.new_dataplane()
        wait_for(lambda: s.cd.attached() and s.cd.ctl("status")["generation"] != gen1,
                 what="controld on the new dataplane")
        wait_for(lambda: s.dp.stats()["main"]["members_active"] == 2,
                 what="members re-programmed")
        # the clients keep their member ids: no new JOIN
        rx = s.net.receivers([42102], expect=20, timeout=15)
        _stream(s, pub, 20, 500).wait(30)
        got = s.net.collect(rx)["42102"]
        st = s.cd.ctl("status")
    assert [c for c, _ in got] == list(range(20))
    assert st["dp_reprogrammed"] == 2


def _user(name, groups):
    subprocess.run(["groupadd", "-f", "rtrelay"], check=True)
    subprocess.run(["groupadd", "-f", "rtrelay-admin"], check=True)
    subprocess.run(["userdel", name], capture_output=True)
    args = ["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name]
    if groups:
        args += ["-G", ",".join(groups)]
    subprocess.run(args, check=True)


def _as(user, *args, sock):
    p = subprocess.run(["runuser", "-u", user, "--", RTRCTL, "--socket", sock, "--json"] +
                       list(args), capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def test_cli_permissions_by_group_and_rate_limit():
    users = {"rtrt_none": [], "rtrt_ro": ["rtrelay"], "rtrt_admin": ["rtrelay", "rtrelay-admin"]}
    for u, g in users.items():
        _user(u, g)
    try:
        with System("cli_perms") as s:
            os.chmod(s.dir, 0o755)
            os.chmod(os.path.dirname(s.dir), 0o755)
            sock = s.cd.sock
            none_rc, none_out = _as("rtrt_none", "status", sock=sock)
            ro = _as("rtrt_ro", "status", sock=sock)
            ro_write = _as("rtrt_ro", "app", "set", APP_ID, "--disable", sock=sock)
            admin_write = _as("rtrt_admin", "app", "set", APP_ID, "--rate", "77", sock=sock)
            apps = s.cd.ctl("app", "list")
            # one peer, many requests at once: past the budget they get a clear error
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            c.sendall(b'{"cmd":"status"}\n' * 300)
            buf = b""
            while buf.count(b"\n") < 300:
                buf += c.recv(1 << 20)
            c.close()
    finally:
        for u in users:
            subprocess.run(["userdel", u], capture_output=True)
    assert none_rc == 3 and "Permission denied" in none_out     # cannot even connect
    assert ro[0] == 0 and '"dataplane": "attached"' in ro[1]
    assert ro_write[0] == 1 and "needs group rtrelay-admin" in ro_write[1]
    assert admin_write[0] == 0
    assert apps[0]["rate_fps"] == 77 and apps[0]["enabled"] is True
    replies = [json.loads(l) for l in buf.splitlines()]
    limited = [r for r in replies if not r["ok"]]
    # the burst (100, less what this uid already spent) passes, then the rate holds
    assert 50 <= len(replies) - len(limited) <= 110 and len(limited) >= 190
    assert all("rate limited" in r["error"] for r in limited)


def test_kick_and_ban():
    with System("kick_ban") as s:
        ack = s.join(42201, uid=201)[0]
        s.cd.ctl("member", "kick", ack["member_id"], "--ban")
        members = s.cd.ctl("member", "list", APP_ID, "lobby")
        again = s.join(42202, uid=201)[0]
        other = s.join(42203, uid=202)[0]
    assert members == []
    assert again["name"] == "ACL_DENIED" and other["type"] == "ack"


def test_audit_log_catches_edits_deletions_and_truncation():
    with System("audit") as s:
        for i in range(5):
            s.cd.ctl("app", "set", APP_ID, "--rate", str(100 + i))
        rc, _ = s.cd.ctl("app", "set", APP_ID, "--rate", "x", check=False)   # refused: usage
        s.join(42301, uid=301)
        tail = s.cd.ctl("audit", "tail", "50")
        good = s.cd.ctl("audit", "verify")
        path = s.cd.db + ".audit"
        s.cd.stop()                     # anchors the head on the way out
        lines = open(path).read().splitlines(keepends=True)

        def check(content):
            with open(path, "w") as f:
                f.writelines(content)
            s.cd.start()
            r = s.cd.ctl("audit", "verify", check=False)
            s.cd.stop()
            return r

        edited = list(lines)
        k = next(i for i, l in enumerate(lines) if '"rate_fps":101' in l)
        edited[k] = edited[k].replace('"rate_fps":101', '"rate_fps":999')
        r_edit = check(edited)

        r_delete = check(lines[:2] + lines[3:])
        r_trunc = check(lines[:-2])
        r_ok = check(lines)
        s.cd.start()
    assert rc == 2
    cmds = [e["cmd"] for e in tail]
    assert cmds.count("app.set") == 5 and "app.add" in cmds and "member.join" in cmds
    assert all("cert" not in e["args"] or e["args"]["cert"] == "***" for e in tail)
    assert CERT not in open(path).read()
    assert good["ok"] is True and good["entries"] == len(lines)
    assert r_edit[0] == 1 and "edited" in r_edit[1]["error"], (r_edit, r_delete, r_trunc)
    assert r_delete[0] == 1 and "out of order" in r_delete[1]["error"]
    assert r_trunc[0] == 1 and "truncated" in r_trunc[1]["error"]
    assert r_ok[0] == 0


def test_isolation_rules_global_and_per_app():
    with System("acl") as s:
        deny = s.cd.ctl("acl", "add", "deny", CL4 + "/32")["id"]
        # a global deny rule holds in the dataplane, before the punt: no answer
        wait_for(lambda: s.cd.ctl("acl", "list")[0]["dataplane"] == "dropped before punt",
                 what="the rule in the dataplane's JOIN guard")
        denied = s.join(42401, uid=401)[0]
        dropped = s.dp.stats()["drops"]["join_denied"]
        s.cd.ctl("acl", "del", deny)
        wait_for(lambda: s.dp.stats()["main"]["deny_rules4"] == 0, what="the rule gone")
        s.cd.ctl("acl", "add", "allow", "192.0.2.0/24", "--app", APP_ID)
        not_listed = s.join(42402, uid=402)[0]
        s.cd.ctl("acl", "add", "allow", "10.77.0.0/16", "--app", APP_ID)
        listed = s.join(42403, uid=403)[0]
        s.cd.ctl("acl", "add", "deny", "fd77::/64")          # another family: no effect
        rules = s.cd.ctl("acl", "list")
        rc, bad = s.cd.ctl("acl", "add", "deny", "10.0.0.300/8", check=False)
    assert denied is None and dropped >= 1
    assert not_listed["name"] == "ACL_DENIED"
    assert listed["type"] == "ack"
    assert [(r["action"], r["prefix"]) for r in rules] == [
        ("allow", "192.0.2.0/24"), ("allow", "10.77.0.0/16"), ("deny", "fd77::/64")]
    assert rc == 2


def test_quota_on_channels_per_app():
    with System("quota") as s:
        s.cd.ctl("app", "set", APP_ID, "--max-channels", "1")
        a = s.join(42501, channel="room-a", uid=501)[0]
        b = s.join(42502, channel="room-b", uid=502)[0]
        a2 = s.join(42503, channel="room-a", uid=503)[0]
    assert a["type"] == "ack" and a2["type"] == "ack" and b["name"] == "QUOTA"


def test_idle_and_expired_members_leave_the_store():
    with System("idle_expiry") as s:
        s.dp.stop()
        s.dp = s.new_dataplane("--idle-timeout", "1")
        wait_for(s.cd.attached, what="controld on the new dataplane")
        idle = s.join(42601, uid=601)[0]                       # never validates its path
        short = s.join(42602, uid=602, token=s.token("lobby", 602, expire=2))[0]
        assert idle["type"] == short["type"] == "ack"
        wait_for(lambda: s.cd.ctl("member", "list", APP_ID, "lobby") == [], timeout=20,
                 what="idle and expired members removed")
        log = s.cd.read_log()
        tail = [e["args"].get("why") for e in s.cd.ctl("audit", "tail", "10")
                if e["cmd"] == "member.remove"]
    assert "idle" in log
    assert set(tail) <= {"idle", "expired"} and len(tail) == 2


APP2_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
CERT2 = "00112233445566778899aabbccddeeff"


def _load(s, app_id, cert_file, users, channels, tag):
    lines = []
    for u in range(users):
        ch = "c%d" % (u % channels)
        lines.append("%s %d %s" % (ch, 1000 + u, make_token(app_id, cert_file, ch, 1000 + u)))
    path = os.path.join(s.dir, "tokens-" + tag)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return subprocess.Popen(["ip", "netns", "exec", s.net.cl, CLIENT, "load", "--server",
                             SVC4 + ":7700", "--app-id", app_id, "--tokens", path,
                             "--users", str(users), "--channels", str(channels), "--rate", "25",
                             "--duration", "3", "--bind", "0.0.0.0:%d" % (43000 if tag == "a"
                                                                          else 44000)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_rtr_client_load_two_apps_same_channel_names_nothing_misdelivered():
    """Two apps with the same channel names side by side, every user on its own
    socket: each channel gets exactly its own frames."""
    with System("load2") as s:
        cert2 = _cert_file(s, CERT2)
        s.cd.ctl("app", "add", APP2_ID, "--cert-file", cert2, "--name", "second", "--enc", "off")
        pa = _load(s, APP_ID, s.cert, 18, 3, "a")
        pb = _load(s, APP2_ID, cert2, 12, 3, "b")
        out_a, _ = pa.communicate(timeout=120)
        out_b, _ = pb.communicate(timeout=120)
        st = s.dp.stats()
    for out, rc, users in ((out_a, pa.returncode, 18), (out_b, pb.returncode, 12)):
        rep = json.loads(out)
        assert rc == 0, out
        chans = rep["per_channel"]
        assert len(chans) == 3 and sum(c["joined"] for c in chans) == users
        for c in chans:
            assert c["misdelivered"] == 0 and c["lost"] == 0 and c["duplicated"] == 0, c
            assert c["delivered"] == c["expected"] > 0, c
    assert st["drops"]["member_wrong_channel"] == 0 and st["drops"]["member_unknown"] == 0


def test_app_delete_leaves_nothing_for_the_next_app_and_no_fixed_dummy_certificate():
    with System("app_del") as s:
        zero = make_token(APP_ID, _cert_file(s, "0" * 32), "lobby", 701)
        zero_signed = s.join(42701, uid=701, token=zero)[0]
        s.cd.ctl("acl", "add", "deny", CL4, "--app", APP_ID)
        ack = s.join(42702, uid=702)[0]
        s.cd.ctl("acl", "del", s.cd.ctl("acl", "list")[0]["id"])
        ack = s.join(42703, uid=702)[0]
        s.cd.ctl("member", "kick", ack["member_id"], "--ban")
        s.cd.ctl("acl", "add", "deny", CL4, "--app", APP_ID)
        s.cd.ctl("app", "del", APP_ID)
        s.cd.ctl("app", "add", APP_ID, "--cert-file", s.cert, "--enc", "off")
        again = s.join(42704, uid=702)[0]          # same index: no ban, no rule, no record
        rules = s.cd.ctl("acl", "list")
    assert zero_signed["name"] == "TOKEN_INVALID"
    assert again["type"] == "ack" and rules == []


def test_store_seals_certificates_and_is_private():
    import sqlite3
    import stat as st_
    with System("sealed") as s:
        cert2 = _cert_file(s, CERT2)
        s.cd.ctl("app", "add", APP2_ID, "--cert-file", cert2, "--enc", "off")
        s.cd.stop()
        modes = {p: st_.S_IMODE(os.stat(s.cd.db + p).st_mode) for p in ("", ".key", ".audit")}
        raw = open(s.cd.db, "rb").read() + open(s.cd.db + "-wal", "rb").read() \
            if os.path.exists(s.cd.db + "-wal") else open(s.cd.db, "rb").read()
        # move app 2's sealed certificate into app 1's row: bound to its row, it fails
        db = sqlite3.connect(s.cd.db)
        blob = db.execute("SELECT cert1 FROM apps WHERE app_id=?", (APP2_ID,)).fetchone()[0]
        db.execute("UPDATE apps SET cert1=? WHERE app_id=?", (blob, APP_ID))
        db.commit()
        db.close()
        s.cd.start()
        wait_for(s.cd.attached, what="controld back")
        apps = {a["app_id"]: a for a in s.cd.ctl("app", "list")}
        refused = s.join(42801, uid=801)[0]
        log = s.cd.read_log()
    assert modes == {"": 0o600, ".key": 0o600, ".audit": 0o600}
    for c in (CERT, CERT2):
        assert c.encode() not in raw and c.lower().encode() not in raw
    assert apps[APP_ID]["enabled"] is False and apps[APP2_ID]["enabled"] is True
    assert "does not decrypt" in log
    assert refused["name"] == "TOKEN_INVALID"


def test_audit_chain_survives_hostile_arguments():
    with System("audit_hostile") as s:
        c = socket.socket(socket.AF_UNIX)
        c.connect(s.cd.sock)
        for req in ({"cmd": "app.set", "args": {"app_id": "nope", "mac": "00" * 32}},
                    {"cmd": "app.set", "args": {"app_id": "nope", "name": "x" * 12000}},
                    {"cmd": "app.set", "args": {"app_id": "nope", "v": ',"mac":"' * 50}}):
            c.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                buf += c.recv(65536)
            assert json.loads(buf)["ok"] is False
        c.close()
        verify = s.cd.ctl("audit", "verify")
        tail = s.cd.ctl("audit", "tail", "3")
    assert verify["ok"] is True
    assert tail[1]["args"] == {"truncated": True, "bytes": tail[1]["args"]["bytes"]}


def test_per_kind_privileges_from_the_token_and_certificate_rotation():
    with System("kinds") as s:
        audio_only = s.token("lobby", 901, privs="audio")
        pub = s.join(42901, uid=901, token=audio_only)[0]
        sub = s.join(42902, uid=902, role=2)[0]
        assert s.validate(42901, pub) and s.validate(42902, sub)
        wait_for(lambda: len(_active(s)) == 2, what="both active")
        rx = s.net.receivers([42902], expect=5, timeout=10, wait_ports="42902")
        for kind in (0, 1, 2):            # audio passes, video and data do not
            f = media(pub["app_index"], pub["channel_hash"], pub["member_id"], kind=kind,
                      counter=kind + 1, payload=bytes([kind]) * 40)
            s.net.run_agent("send", "--sport", 42901, "--dst", SVC4, "--frames", f.hex(),
                            "--repeat", 5)
        wait_for(lambda: s.dp.stats()["drops"]["privilege_denied"] == 10, what="drops counted")
        got = s.net.collect(rx)["42902"]
        # rotation: a secondary certificate, then promoted; the old one stops working
        new_cert = _cert_file(s, CERT2)
        s.cd.ctl("app", "cert", "add", APP_ID, "--cert-file", new_cert)
        by_new = s.join(42903, uid=903, token=make_token(APP_ID, new_cert, "lobby", 903))[0]
        by_old = s.join(42904, uid=904)[0]
        s.cd.ctl("app", "cert", "promote", APP_ID)
        old_after = s.join(42905, uid=905)[0]
        new_after = s.join(42906, uid=906, token=make_token(APP_ID, new_cert, "lobby", 906))[0]
    assert [c for c, _ in got] == [1] * 5          # the audio frames, counter 1, only
    assert by_new["type"] == by_old["type"] == "ack"
    assert old_after["name"] == "TOKEN_INVALID" and new_after["type"] == "ack"


def test_forged_headers_between_two_apps_and_two_channels():
    with System("forged") as s:
        cert2 = _cert_file(s, CERT2)
        s.cd.ctl("app", "add", APP2_ID, "--cert-file", cert2, "--enc", "off")
        a = s.join(43001, channel="x", uid=1)[0]                   # app 1, channel x
        b = s.join(43002, channel="x", uid=2, role=2)[0]           # app 1, channel x
        c = s.join(43003, channel="y", uid=3, role=2)[0]           # app 1, channel y
        d = s.join(43004, channel="x", uid=4, role=2, app_id=APP2_ID,
                   token=make_token(APP2_ID, cert2, "x", 4, "sub"))[0]   # app 2, channel x
        for port, ack in ((43001, a), (43002, b), (43003, c), (43004, d)):
            assert s.validate(port, ack) is not None
        wait_for(lambda: s.dp.stats()["main"]["members_active"] == 4, what="four active")
        rx = s.net.receivers([43002, 43003, 43004], expect=1, timeout=5, wait_ports="43002")
        forged = [
            media(d["app_index"], a["channel_hash"], a["member_id"], counter=1),   # app 2
            media(a["app_index"], c["channel_hash"], a["member_id"], counter=2),   # channel y
            media(d["app_index"], d["channel_hash"], d["member_id"], counter=3),   # d's id
            media(a["app_index"], a["channel_hash"], a["member_id"], counter=4),   # honest
        ]
        s.net.run_agent("send", "--sport", 43001, "--dst", SVC4, "--frames",
                        ",".join(f.hex() for f in forged))
        wait_for(lambda: s.dp.stats()["media_in"] == 1, what="the honest frame handled")
        got = s.net.collect(rx)
        drops = s.dp.stats()["drops"]
    assert [c_ for c_, _ in got["43002"]] == [4]
    assert got["43003"] == [] and got["43004"] == []
    assert drops["member_wrong_channel"] == 2 and drops["member_wrong_endpoint"] == 1


def test_node_static_key_created_once_sealed_and_shown():
    with System("nodekey") as s:
        k1 = s.cd.ctl("node", "show")["public_key"]
        s.cd.stop()
        s.cd.start()
        k2 = s.cd.ctl("node", "show")["public_key"]
        import sqlite3
        db = sqlite3.connect(s.cd.db)
        sealed = db.execute("SELECT value FROM node WHERE key='node_static_key'").fetchone()[0]
        db.close()
    assert len(k1) == 64 and int(k1, 16) != 0 and k1 == k2
    # nonce (12) + the private key as 64 hex characters, encrypted (64) + tag (16), in hex
    assert len(sealed) == 2 * (12 + 64 + 16)


def test_policy_changes_apply_to_members_already_in():
    with System("policy_live") as s:
        a = s.join(43101, uid=1101)[0]
        b = s.join(43102, uid=1102)[0]
        assert a["type"] == b["type"] == "ack"
        r = s.cd.ctl("acl", "add", "deny", CL4 + "/32", "--app", APP_ID)
        after_acl = s.cd.ctl("member", "list", APP_ID, "lobby")
        dp_members = s.dp.stats()["main"]["members"]
        s.cd.ctl("acl", "del", r["id"])
        c = s.join(43103, uid=1103)[0]
        s.cd.ctl("app", "set", APP_ID, "--regions", "us")      # this node is in eu
        after_fence = s.cd.ctl("member", "list", APP_ID, "lobby")
    assert r["members_removed"] == 2 and after_acl == [] and dp_members == 0
    assert c["type"] == "ack" and after_fence == []
