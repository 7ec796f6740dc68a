#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake relay on 127.0.0.1 that speaks the encrypted wire protocol
(docs/protocol.md 13.1, 13.2, 16.1-16.8) well enough to drive rtr-client
without DPDK: Noise_NK JOIN / JOIN_ACK (the handshake of tests/noise_ref.py),
sealed MEDIA, KEEPALIVE and LEAVE, downlink counters lane || sequence over
two lanes, roaming validated by a challenge, REKEY_REQUESTED (once per
member) and the rekey JOIN with its MAC, the downlink switched to the new
phase after the first uplink frame under it. It checks what the client sends
(sizes, padding, MAC, one uplink counter per phase advancing by one, ENC on
every member frame) and lists every deviation in "errors".

Not a relay: no token is verified, every JOIN gets app_index 7 and a channel
hash derived from the channel name, there are no rate limits and no replay
window (the strict counter check stands in for it). Suite 0 JOINs get a
plaintext session (echoes and copies unchanged), for comparisons.

  fake_relay_enc.py --port P [--duration S] [--keepalive-ms MS (200)]
      [--rekey-after-echoes N]   set REKEY_REQUESTED from the N-th echo on
      [--ignore-rekey]           verify rekey JOINs, answer none
      [--dl-switch-delay S]      move the downlink to a new phase S s late
      [--restart-after S]        forget every member (a dataplane restart)
      [--inject-every N]         every N-th copy: a replay and a forgery too
      [--drop-first-ack]         the first JOIN_ACK is lost
      [--log FILE]               every datagram received, in hex

The node's static key is fixed; its public key is printed as
{"public_key": HEX} on the first line of stdout, and a JSON report of what
happened when the relay stops (SIGTERM, SIGINT or --duration).
"""
import argparse
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from noise_ref import Handshake, hkdf_rfc5869, pub_of, LABEL_I2R, LABEL_R2I  # noqa: E402
from cryptography.exceptions import InvalidTag  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

MEDIA, JOIN, JOIN_ACK, LEAVE, KEEPALIVE, ERROR = 1, 2, 3, 4, 5, 6
F_ENC, F_PHASE, F_REKEY = 1, 2, 4
HDR = struct.Struct(">HBBIQIHHQ")
TAG = 16
LANES = (3, 200)                 # downlink frames alternate between these lanes
APP_INDEX = 7
NODE_PRIV = bytes(range(0x81, 0xa1))


class Hdr:
    def __init__(self, b):
        (self.magic, self.version, self.type, self.app, self.chan, self.mid,
         self.flags, self.plen, self.counter) = HDR.unpack_from(b)

    def pack(self):
        return HDR.pack(self.magic, self.version, self.type, self.app, self.chan,
                        self.mid, self.flags, self.plen, self.counter)


def nonce(counter):
    return bytes(4) + counter.to_bytes(8, "big")


def transport_keys(suite, k1, k2):
    if suite == 2:
        c2n, n2c = k1, k2
    else:
        c2n, n2c = hkdf_rfc5869(k1, LABEL_I2R, 16), hkdf_rfc5869(k2, LABEL_R2I, 16)
    return c2n, n2c, hkdf_rfc5869(k1 + k2, b"rtrelay/1 rekey", 32)


class Member:
    def __init__(self, mid, addr, suite, channel, uid, role, join_counter):
        self.mid, self.addr, self.suite = mid, addr, suite
        self.channel, self.uid, self.role = channel, uid, role
        self.chash = int.from_bytes(hashlib.sha256(channel).digest()[:8], "big") or 1
        self.path_token = int.from_bytes(os.urandom(8), "big")
        self.join_counter = join_counter
        self.c2n = {}             # phase -> uplink key
        self.n2c = {}             # phase -> downlink key
        self.next_up = {}         # phase -> the counter expected next (strictly +1)
        self.dl_phase = 0
        self.new_phase = None     # installed by a rekey, not yet used by the client
        self.seq = {lane: 0 for lane in LANES}
        self.lane_turn = 0
        self.rekey_key = None
        self.candidate = None
        self.challenge = 0
        self.echoes = 0
        self.want_rekey = False
        self.rekey_requested = False
        self.wipe_at = None       # old phase's keys go then
        self.switch_at = None     # the downlink moves to new_phase then

    def dl_counter(self):
        lane = LANES[self.lane_turn % len(LANES)]
        self.lane_turn += 1
        c = (lane << 56) | self.seq[lane]
        self.seq[lane] += 1
        return c


class Relay:
    def __init__(self, a):
        self.a = a
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", a.port))
        self.members = {}
        self.next_mid = (1 << 22) | 1
        self.acks = {}            # (addr, counter) -> (join bytes, ack bytes)
        self.log = open(a.log, "w") if a.log else None
        self.r = {k: 0 for k in (
            "joins", "join_retransmits", "rekey_joins", "rekey_macs_ok", "acks",
            "leaves", "keepalives", "echoes", "media_in", "media_out", "roams",
            "candidates", "injected_replays", "injected_forgeries", "restarts",
            "phase_switches", "plaintext_joins")}
        self.r["errors"] = []
        self.r["suites"] = []
        self.r["join_sizes"] = []

    def err(self, msg):
        if len(self.r["errors"]) < 50:
            self.r["errors"].append(msg)

    def send(self, b, addr):
        self.sock.sendto(b, addr)

    # ---- JOIN ------------------------------------------------------------

    def on_join(self, d, h, addr):
        if len(d) < 256:
            return self.err("JOIN of %d bytes (< 256)" % len(d))
        if h.app != 0 or h.chan != 0:
            return self.err("JOIN with app_index/channel_hash set")
        key = (addr, h.counter)
        if key in self.acks:
            if self.acks[key][0] != d:
                self.err("retransmitted JOIN differs from the first")
            self.r["join_retransmits"] += 1
            return self.send(self.acks[key][1], addr)
        suite = d[32]
        self.r["suites"].append(suite)
        self.r["join_sizes"].append(len(d))
        if suite == 0:
            return self.on_join_plain(d, h, addr)
        if h.flags != 0:
            self.err("JOIN flags 0x%x" % h.flags)
        prologue = b"rtrelay/1" + bytes([suite]) + d[:32]
        hs = Handshake(False, prologue, s=NODE_PRIV)
        msg1 = d[33:]
        try:
            pt = hs.read_message_1(msg1)
        except (InvalidTag, ValueError):
            return self.err("message 1 does not authenticate")
        f = self.fields(pt)
        if f is None:
            return self.err("sealed JOIN fields malformed")
        token, app_id, channel, uid, role, rest = f
        if h.mid != 0:
            return self.on_rekey(d, h, addr, hs, suite, msg1[:32], channel, uid, rest)
        if any(rest):
            self.err("JOIN padding not zero")
        self.r["joins"] += 1
        m = Member(self.next_mid, addr, suite, channel, uid, role, h.counter)
        self.next_mid += 1
        self.members[m.mid] = m
        self.answer(d, h, addr, hs, m, phase=0)

    def fields(self, pt):
        """The JOIN fields of 13.1, then what follows them; None if malformed."""
        out, o = [], 0
        try:
            for _ in range(3):                      # token, App ID, channel
                n = int.from_bytes(pt[o:o + 2], "big")
                if o + 2 + n > len(pt):
                    return None
                out.append(pt[o + 2:o + 2 + n])
                o += 2 + n
            uid, role = int.from_bytes(pt[o:o + 4], "big"), pt[o + 4]
        except IndexError:
            return None
        token, app, ch = out
        if not (1 <= len(token) <= 512 and len(app) == 32 and 1 <= len(ch) <= 64
                and role in (1, 2)):
            return None
        return token, app, ch, uid, role, pt[o + 5:]

    def answer(self, d, h, addr, hs, m, phase):
        body = (bytes([0]) + struct.pack(">IQIIIQ", APP_INDEX, m.chash, m.mid,
                                          self.a.keepalive_ms, int(time.time()) + 3600,
                                          m.path_token))
        msg2 = hs.write_message_2(body)
        k1, k2 = hs.ss.split()
        c2n, n2c, rk = transport_keys(m.suite, k1, k2)
        m.c2n[phase], m.n2c[phase], m.rekey_key = c2n, n2c, rk
        m.next_up[phase] = 0
        ack = Hdr(bytes(32))
        ack.magic, ack.version, ack.type = 0x5254, 1, JOIN_ACK
        ack.app, ack.chan, ack.mid, ack.flags = APP_INDEX, m.chash, m.mid, F_ENC
        ack.plen, ack.counter = 1 + len(msg2), h.counter
        if ack.plen != 82:
            self.err("JOIN_ACK payload_len %d" % ack.plen)
        out = ack.pack() + bytes([m.suite]) + msg2
        self.acks[(addr, h.counter)] = (d, out)
        self.r["acks"] += 1
        if self.a.drop_first_ack and self.r["acks"] == 1:
            return                # the client must retransmit the same bytes
        self.send(out, addr)

    def on_rekey(self, d, h, addr, hs, suite, epub, channel, uid, rest):
        self.r["rekey_joins"] += 1
        m = self.members.get(h.mid)
        if m is None or m.suite != suite or m.channel != channel or m.uid != uid:
            return self.err("rekey JOIN for no such member")
        if len(rest) < 32:
            return self.err("rekey JOIN without a MAC")
        want = hmac.new(m.rekey_key, d[:32] + epub, hashlib.sha256).digest()
        if not hmac.compare_digest(want, rest[:32]):
            return self.err("rekey MAC wrong")
        if any(rest[32:]):
            self.err("rekey JOIN padding not zero")
        self.r["rekey_macs_ok"] += 1
        if self.a.ignore_rekey:
            return
        m.want_rekey = False
        m.new_phase = m.dl_phase ^ 1
        self.answer(d, h, addr, hs, m, phase=m.new_phase)

    def on_join_plain(self, d, h, addr):
        f = self.fields(d[33:])
        if f is None:
            return self.err("plaintext JOIN malformed")
        self.r["plaintext_joins"] += 1
        token, app_id, channel, uid, role, rest = f
        m = Member(self.next_mid, addr, 0, channel, uid, role, h.counter)
        self.next_mid += 1
        self.members[m.mid] = m
        body = (bytes([0]) + struct.pack(">IQIIIQ", APP_INDEX, m.chash, m.mid,
                                          self.a.keepalive_ms, int(time.time()) + 3600,
                                          m.path_token))
        out = HDR.pack(0x5254, 1, JOIN_ACK, APP_INDEX, m.chash, m.mid, 0, 33,
                       h.counter) + body
        self.acks[(addr, h.counter)] = (d, out)
        self.send(out, addr)

    # ---- member frames ---------------------------------------------------

    def open_up(self, m, d, h):
        """Authenticate an uplink frame; (plaintext, phase) or None."""
        if not h.flags & F_ENC:
            return self.err("member frame without ENC (type %d)" % h.type)
        phase = 1 if h.flags & F_PHASE else 0
        if phase not in m.c2n:
            return self.err("frame under phase %d without a key" % phase)
        try:
            pt = AESGCM(m.c2n[phase]).decrypt(nonce(h.counter), d[32:], d[:32])
        except InvalidTag:
            return self.err("uplink frame does not authenticate (type %d)" % h.type)
        if h.counter != m.next_up[phase]:
            self.err("uplink counter %d, expected %d (phase %d, type %d)"
                     % (h.counter, m.next_up[phase], phase, h.type))
        m.next_up[phase] = h.counter + 1
        if phase == m.new_phase and m.switch_at is None:
            # first frame under the new keys: the downlink follows (after
            # --dl-switch-delay), the old keys go 2 s after that
            m.switch_at = time.monotonic() + self.a.dl_switch_delay
        return pt, phase

    def seal_down(self, m, h, pt, flags_extra=0):
        o = Hdr(h.pack())
        o.flags = (h.flags & ~(F_PHASE | F_REKEY)) | F_ENC | (F_PHASE if m.dl_phase else 0)
        o.flags |= flags_extra
        o.plen = len(pt) + TAG
        o.counter = m.dl_counter()
        hb = o.pack()
        return hb + AESGCM(m.n2c[m.dl_phase]).encrypt(nonce(o.counter), pt, hb)

    def on_member(self, d, h, addr):
        m = self.members.get(h.mid)
        if m is None:
            return                    # unknown members are never answered
        if h.app != APP_INDEX or h.chan != m.chash:
            return self.err("member frame with wrong app/channel")
        if m.suite == 0:
            if addr != m.addr:
                return
            if h.type == KEEPALIVE:
                self.r["keepalives"] += 1
                self.r["echoes"] += 1
                return self.send(d, addr)
            if h.type == MEDIA:
                self.r["media_in"] += 1
                return self.forward_plain(m, d)
            if h.type == LEAVE:
                self.r["leaves"] += 1
                del self.members[m.mid]
            return
        got = self.open_up(m, d, h)
        if got is None:
            return
        pt, phase = got
        if addr != m.addr:
            if addr == m.candidate and h.type == KEEPALIVE and len(pt) >= 16 \
                    and int.from_bytes(pt[8:16], "big") == m.challenge != 0:
                m.addr, m.candidate, m.challenge = addr, None, 0
                self.r["roams"] += 1
            elif h.counter + 1 == m.next_up[phase] and addr != m.candidate:
                m.candidate = addr
                m.challenge = int.from_bytes(os.urandom(8), "big") | 1
                self.r["candidates"] += 1
        if h.type == LEAVE:
            if pt:
                self.err("LEAVE with a plaintext of %d bytes" % len(pt))
            self.r["leaves"] += 1
            del self.members[m.mid]
        elif h.type == KEEPALIVE:
            self.on_keepalive(m, d, h, pt, addr)
        elif h.type == MEDIA:
            self.r["media_in"] += 1
            self.forward(m, h, pt)

    def on_keepalive(self, m, d, h, pt, addr):
        self.r["keepalives"] += 1
        if len(pt) != 24:
            self.err("KEEPALIVE plaintext of %d bytes" % len(pt))
        if len(pt) < 24 or int.from_bytes(pt[:8], "big") != m.path_token:
            return self.err("KEEPALIVE with a wrong path token")
        m.echoes += 1
        if (self.a.rekey_after_echoes and m.echoes >= self.a.rekey_after_echoes
                and not m.rekey_requested):
            m.want_rekey = m.rekey_requested = True   # once per member
        challenge = m.challenge if addr == m.candidate else 0
        echo = pt[:8] + challenge.to_bytes(8, "big") + pt[16:]
        out = self.seal_down(m, h, echo, F_REKEY if m.want_rekey else 0)
        self.r["echoes"] += 1
        self.send(out, addr)

    def receivers(self, m):
        return [r for r in self.members.values()
                if r is not m and r.chash == m.chash]

    def forward(self, m, h, pt):
        for r in self.receivers(m):
            if r.suite == 0:
                continue
            out = self.seal_down(r, h, pt)
            self.send(out, r.addr)
            self.r["media_out"] += 1
            n = self.r["media_out"]
            if self.a.inject_every and n % self.a.inject_every == 0:
                self.send(out, r.addr)                      # a replay
                self.r["injected_replays"] += 1
                bad = bytearray(self.seal_down(r, h, pt))   # a forgery, fresh counter
                bad[-1] ^= 0x80
                self.send(bytes(bad), r.addr)
                self.r["injected_forgeries"] += 1

    def forward_plain(self, m, d):
        for r in self.receivers(m):
            if r.suite == 0:
                self.send(d, r.addr)
                self.r["media_out"] += 1

    # ---- loop ------------------------------------------------------------

    def on_datagram(self, d, addr):
        if self.log:
            self.log.write("%s %d %s\n" % (addr[1], len(d), d.hex()))
        if len(d) < 32:
            return self.err("short datagram")
        h = Hdr(d)
        if h.magic != 0x5254 or h.version != 1 or h.plen != len(d) - 32:
            return self.err("bad header")
        if h.type == JOIN:
            self.on_join(d, h, addr)
        elif h.type in (MEDIA, KEEPALIVE, LEAVE):
            self.on_member(d, h, addr)
        else:
            self.err("client sent type %d" % h.type)

    def tick(self, now):
        for m in self.members.values():
            if m.switch_at is not None and now >= m.switch_at:
                m.dl_phase, m.new_phase, m.switch_at = m.new_phase, None, None
                m.wipe_at = now + 2
                self.r["phase_switches"] += 1
            if m.wipe_at is not None and now >= m.wipe_at:
                old = m.dl_phase ^ 1
                m.c2n.pop(old, None)
                m.n2c.pop(old, None)
                m.wipe_at = None

    def run(self):
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        t0 = time.monotonic()
        restarted = False
        while not stop:
            now = time.monotonic()
            if self.a.duration and now - t0 >= self.a.duration:
                break
            if self.a.restart_after and not restarted and now - t0 >= self.a.restart_after:
                self.members.clear()      # a new dataplane: every session key is gone
                self.acks.clear()
                restarted = True
                self.r["restarts"] += 1
            self.tick(now)
            try:
                rd, _, _ = select.select([self.sock], [], [], 0.05)
            except InterruptedError:
                continue
            if rd:
                d, addr = self.sock.recvfrom(4096)
                self.on_datagram(d, addr)
        self.r["members_left"] = len(self.members)
        json.dump(self.r, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration", type=float, default=0)
    p.add_argument("--keepalive-ms", type=int, default=200)
    p.add_argument("--rekey-after-echoes", type=int, default=0)
    p.add_argument("--ignore-rekey", action="store_true")
    p.add_argument("--restart-after", type=float, default=0)
    p.add_argument("--inject-every", type=int, default=0)
    p.add_argument("--drop-first-ack", action="store_true")
    p.add_argument("--dl-switch-delay", type=float, default=0)
    p.add_argument("--log")
    a = p.parse_args()
    r = Relay(a)
    print(json.dumps({"public_key": pub_of(NODE_PRIV).hex()}), flush=True)
    r.run()


if __name__ == "__main__":
    main()
