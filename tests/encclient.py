"""An encrypted rtrelay member, written in Python from docs/protocol.md
section 16 alone (Noise handshake from tests/noise_ref.py, AES-GCM from
python3-cryptography): it builds sealed JOINs and frames for the tests and
opens what the relay sends, so every test checks the wire format against an
implementation that shares no code with the C one."""
import hashlib
import hmac
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from noise_ref import Handshake, hkdf_rfc5869, prologue_for, pub_of

MEDIA, JOIN, JOIN_ACK, LEAVE, KEEPALIVE, ERROR = 1, 2, 3, 4, 5, 6
F_ENC, F_KEY_PHASE, F_REKEY = 1, 2, 4
TAG = 16
LANE_SHIFT = 56


def hdr(typ, app=0, chan=0, mid=0, flags=0, plen=0, counter=0):
    return struct.pack("!HBBIQIHHQ", 0x5254, 1, typ, app, chan, mid, flags, plen, counter)


def unhdr(b):
    magic, ver, typ, app, chan, mid, flags, plen, counter = struct.unpack("!HBBIQIHHQ", b[:32])
    return {"type": typ, "app_index": app, "channel_hash": chan, "member_id": mid,
            "flags": flags, "payload_len": plen, "counter": counter}


def nonce(counter):
    return b"\0" * 4 + counter.to_bytes(8, "big")


class Keys:
    """One key phase: client->node and node->client keys, the rekey key."""

    def __init__(self, hs, suite):
        k1, k2 = hs.ss.split()
        if suite == 2:
            self.c2n, self.n2c = k1, k2
        else:
            self.c2n = hkdf_rfc5869(k1, b"rtrelay/1 aes128gcm initiator->responder", 16)
            self.n2c = hkdf_rfc5869(k2, b"rtrelay/1 aes128gcm responder->initiator", 16)
        self.rekey = hkdf_rfc5869(k1 + k2, b"rtrelay/1 rekey", 32)
        self.up = 0                     # next uplink counter


class EncMember:
    def __init__(self, server_pub, suite=1):
        self.server_pub = server_pub
        self.suite = suite
        self.keys = [None, None]        # by key phase
        self.phase = 0                  # uplink phase
        self.ack = None
        self.hs = None

    # ---- JOIN ----------------------------------------------------------
    def join_frame(self, token, app_id, channel, uid, role=1, counter=None, rekey=False,
                   server_pub=None, pad_to=256):
        if counter is None:
            counter = int(time.time() * 1000)
        t, a, c = token.encode(), app_id.encode(), channel.encode()
        fields = (struct.pack("!H", len(t)) + t + struct.pack("!H", len(a)) + a +
                  struct.pack("!H", len(c)) + c + struct.pack("!IB", uid, role))
        mid = self.ack["member_id"] if rekey else 0
        # the rekey MAC takes 32 bytes after role; padding inside the sealed part
        n_mac = 32 if rekey else 0
        pt_len = max(len(fields) + n_mac, pad_to - 32 - 1 - 48)
        plen = 1 + 48 + pt_len
        h = hdr(JOIN, 0, 0, mid, 0, plen, counter)
        e = os.urandom(32)
        if rekey:
            mac = hmac.new(self.keys[self.phase].rekey, h + pub_of(e), hashlib.sha256).digest()
            fields += mac
        fields += b"\0" * (pt_len - len(fields))
        self.hs = Handshake(True, prologue_for(self.suite, h),
                            rs=server_pub or self.server_pub, e=e)
        msg1 = self.hs.write_message_1(fields)
        self.rekeying = rekey
        return h + bytes([self.suite]) + msg1

    def on_ack(self, data):
        """Read a JOIN_ACK: the ACK fields out of message 2, new keys."""
        h = unhdr(data)
        assert h["type"] == JOIN_ACK, h
        assert h["flags"] == F_ENC and h["payload_len"] == 82 and len(data) == 114, h
        assert data[32] == self.suite
        body = self.hs.read_message_2(data[33:])
        st, app, chan, mid, ka, exp, tok = struct.unpack("!BIQIIIQ", body)
        keys = Keys(self.hs, self.suite)
        self.hs = None
        if self.rekeying:
            assert mid == self.ack["member_id"]
            self.phase ^= 1
            self.keys[self.phase] = keys
        else:
            self.phase = 0
            self.keys = [keys, None]
        self.ack = {"status": st, "app_index": app, "channel_hash": chan, "member_id": mid,
                    "keepalive_ms": ka, "expires_at": exp, "path_token": tok,
                    "counter": h["counter"]}
        return self.ack

    # ---- frames --------------------------------------------------------
    def seal(self, typ, plaintext, kind=0, counter=None, flags_extra=0, phase=None):
        ph = self.phase if phase is None else phase
        k = self.keys[ph]
        if counter is None:
            counter = k.up
            k.up += 1
        flags = F_ENC | (F_KEY_PHASE if ph else 0) | (kind << 8) | flags_extra
        h = hdr(typ, self.ack["app_index"], self.ack["channel_hash"], self.ack["member_id"],
                flags, len(plaintext) + TAG, counter)
        return h + AESGCM(k.c2n).encrypt(nonce(counter), plaintext, h)

    def media(self, payload, kind=0, **kw):
        return self.seal(MEDIA, payload, kind, **kw)

    def keepalive(self, challenge=0, stamp=None, **kw):
        stamp = time.time_ns() if stamp is None else stamp
        return self.seal(KEEPALIVE, struct.pack("!QQQ", self.ack["path_token"], challenge, stamp),
                         **kw)

    def leave(self, **kw):
        return self.seal(LEAVE, b"", **kw)

    def open(self, data):
        """A frame from the relay: (header dict, plaintext); raises
        cryptography.exceptions.InvalidTag if it does not authenticate."""
        h = unhdr(data)
        assert h["flags"] & F_ENC, h
        assert h["payload_len"] == len(data) - 32, h
        ph = 1 if h["flags"] & F_KEY_PHASE else 0
        pt = AESGCM(self.keys[ph].n2c).decrypt(nonce(h["counter"]), data[32:], data[:32])
        h["lane"] = h["counter"] >> LANE_SHIFT
        h["seq"] = h["counter"] & ((1 << LANE_SHIFT) - 1)
        return h, pt
