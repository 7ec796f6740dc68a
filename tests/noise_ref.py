#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Independent reference for rtrelay's Noise handshake (crypto/noise.c).

Noise_NK_25519_AESGCM_SHA256 written from the Noise Protocol Framework,
revision 34 (sections 4, 5, 7, 12), with python3-cryptography primitives,
plus rtrelay's prologue and transport key derivation (DESIGN.md, "Transport
encryption"):

  prologue = b"rtrelay/1" || u8 suite || 32-byte JOIN header
  suite 2 (AES-256-GCM): send/recv keys are Split()'s k1 (i->r), k2 (r->i)
  suite 1 (AES-128-GCM): HKDF-SHA256(salt=empty, ikm=k1,
      info=b"rtrelay/1 aes128gcm initiator->responder", L=16), and the same
      with k2 and b"rtrelay/1 aes128gcm responder->initiator"

Usage:
  noise_ref.py               fixed known-answer vectors (as in test_noise.c)
  noise_ref.py --random N    N vectors with random keys, prologues, payloads
Prints JSON on stdout. Exits 77 if python3-cryptography is missing.
"""
import hashlib
import json
import os
import sys

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey, X25519PublicKey)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError:  # pragma: no cover
    sys.stderr.write("noise_ref.py: python3-cryptography is not installed\n")
    sys.exit(77)

PROTOCOL_NAME = b"Noise_NK_25519_AESGCM_SHA256"
HASHLEN = 32
DHLEN = 32
LABEL_I2R = b"rtrelay/1 aes128gcm initiator->responder"
LABEL_R2I = b"rtrelay/1 aes128gcm responder->initiator"


def check(cond, what):
    """assert that survives python -O"""
    if not cond:
        raise AssertionError(what)


# ---- the Noise spec's functions (section 4) -------------------------------

def pub_of(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def DH(priv, pub):
    out = X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(pub))
    if out == bytes(DHLEN):          # refuse an all-zero result (rtrelay rule)
        raise ValueError("all-zero DH output")
    return out


def HASH(data):
    return hashlib.sha256(data).digest()


def HMAC_HASH(key, data):
    m = hmac.HMAC(key, hashes.SHA256())
    m.update(data)
    return m.finalize()


def HKDF2(chaining_key, ikm):
    """Noise section 4.3, num_outputs = 2."""
    temp_key = HMAC_HASH(chaining_key, ikm)
    out1 = HMAC_HASH(temp_key, b"\x01")
    out2 = HMAC_HASH(temp_key, out1 + b"\x02")
    return out1, out2


def nonce_aesgcm(n):
    """Section 12.4: 32 bits of zeros followed by big-endian encoding of n."""
    return bytes(4) + n.to_bytes(8, "big")


def ENCRYPT(k, n, ad, plaintext):
    return AESGCM(k).encrypt(nonce_aesgcm(n), plaintext, ad)


def DECRYPT(k, n, ad, ciphertext):
    return AESGCM(k).decrypt(nonce_aesgcm(n), ciphertext, ad)


# ---- CipherState / SymmetricState (section 5.1, 5.2) ---------------------

class CipherState:
    def __init__(self):
        self.k = None
        self.n = 0

    def initialize_key(self, key):
        self.k = key
        self.n = 0

    def encrypt_with_ad(self, ad, plaintext):
        if self.k is None:
            return plaintext
        c = ENCRYPT(self.k, self.n, ad, plaintext)
        self.n += 1
        return c

    def decrypt_with_ad(self, ad, ciphertext):
        if self.k is None:
            return ciphertext
        p = DECRYPT(self.k, self.n, ad, ciphertext)
        self.n += 1
        return p


class SymmetricState:
    def __init__(self, protocol_name):
        if len(protocol_name) <= HASHLEN:
            self.h = protocol_name + bytes(HASHLEN - len(protocol_name))
        else:
            self.h = HASH(protocol_name)
        self.ck = self.h
        self.cs = CipherState()

    def mix_key(self, ikm):
        self.ck, temp_k = HKDF2(self.ck, ikm)
        self.cs.initialize_key(temp_k[:32])      # HASHLEN 64 would truncate

    def mix_hash(self, data):
        self.h = HASH(self.h + data)

    def encrypt_and_hash(self, plaintext):
        c = self.cs.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(c)
        return c

    def decrypt_and_hash(self, ciphertext):
        p = self.cs.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return p

    def split(self):
        k1, k2 = HKDF2(self.ck, b"")
        return k1[:32], k2[:32]


# ---- HandshakeState for NK (section 5.3, 7.4) -----------------------------
#   NK:
#     <- s
#     ...
#     -> e, es
#     <- e, ee

class Handshake:
    def __init__(self, initiator, prologue, s=None, rs=None, e=None):
        self.initiator = initiator
        self.ss = SymmetricState(PROTOCOL_NAME)
        self.ss.mix_hash(prologue)
        self.s = s                       # responder: static private key
        self.rs = rs if initiator else pub_of(s)
        self.e = e                       # ephemeral private key (injected)
        self.re = None
        self.ss.mix_hash(self.rs)        # pre-message "<- s"

    def _write_e(self):
        if self.e is None:
            self.e = os.urandom(32)
        epub = pub_of(self.e)
        self.ss.mix_hash(epub)
        return epub

    def _read_e(self, msg):
        if len(msg) < DHLEN:
            raise ValueError("short message")
        self.re = msg[:DHLEN]
        self.ss.mix_hash(self.re)
        return msg[DHLEN:]

    def write_message_1(self, payload):        # -> e, es
        check(self.initiator, "initiator only")
        buf = self._write_e()
        self.ss.mix_key(DH(self.e, self.rs))
        return buf + self.ss.encrypt_and_hash(payload)

    def read_message_1(self, msg):
        check(not self.initiator, "responder only")
        rest = self._read_e(msg)
        self.ss.mix_key(DH(self.s, self.re))
        return self.ss.decrypt_and_hash(rest)

    def write_message_2(self, payload):        # <- e, ee
        check(not self.initiator, "responder only")
        buf = self._write_e()
        self.ss.mix_key(DH(self.e, self.re))
        return buf + self.ss.encrypt_and_hash(payload)

    def read_message_2(self, msg):
        check(self.initiator, "initiator only")
        rest = self._read_e(msg)
        self.ss.mix_key(DH(self.e, self.re))
        return self.ss.decrypt_and_hash(rest)


# ---- rtrelay on top --------------------------------------------------------

def prologue_for(suite, header):
    check(len(header) == 32, "32-byte header")
    return b"rtrelay/1" + bytes([suite]) + header


def hkdf_rfc5869(ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=info).derive(ikm)


def transport_keys(k1, k2):
    return {
        "aes256gcm_i2r": k1,
        "aes256gcm_r2i": k2,
        "aes128gcm_i2r": hkdf_rfc5869(k1, LABEL_I2R, 16),
        "aes128gcm_r2i": hkdf_rfc5869(k2, LABEL_R2I, 16),
        "rekey_key": hkdf_rfc5869(k1 + k2, b"rtrelay/1 rekey", 32),
    }


def run(name, suite, header, s_priv, ei, er, payload1, payload2):
    prologue = prologue_for(suite, header)
    ini = Handshake(True, prologue, rs=pub_of(s_priv), e=ei)
    res = Handshake(False, prologue, s=s_priv, e=er)
    msg1 = ini.write_message_1(payload1)
    check(res.read_message_1(msg1) == payload1, "message 1 payload")
    msg2 = res.write_message_2(payload2)
    check(ini.read_message_2(msg2) == payload2, "message 2 payload")
    check(ini.ss.h == res.ss.h, "handshake hash")
    k1, k2 = ini.ss.split()
    check((k1, k2) == res.ss.split(), "Split()")
    # a tampered message must not authenticate
    bad = bytearray(msg1)
    bad[-1] ^= 1
    try:
        Handshake(False, prologue, s=s_priv, e=er).read_message_1(bytes(bad))
        raise AssertionError("tampered message 1 accepted")
    except InvalidTag:
        pass
    v = {
        "name": name,
        "suite": suite,
        "header": header,
        "prologue": prologue,
        "resp_static_priv": s_priv,
        "resp_static_pub": pub_of(s_priv),
        "init_ephemeral_priv": ei,
        "init_ephemeral_pub": pub_of(ei),
        "resp_ephemeral_priv": er,
        "resp_ephemeral_pub": pub_of(er),
        "payload1": payload1,
        "payload2": payload2,
        "msg1": msg1,
        "msg2": msg2,
        "handshake_hash": ini.ss.h,
        "split_k1": k1,
        "split_k2": k2,
    }
    v.update(transport_keys(k1, k2))
    return {k: (x.hex() if isinstance(x, bytes) else x) for k, x in v.items()}


def join_header(payload_len, counter_ms):
    # magic "RT", version 1, type 2 (JOIN), app_index 0, channel_hash 0,
    # member_id 0, flags 0, payload_len, counter (all big-endian)
    return (b"\x52\x54\x01\x02" + bytes(4) + bytes(8) + bytes(4) + bytes(2)
            + payload_len.to_bytes(2, "big") + counter_ms.to_bytes(8, "big"))


def fixed_vectors():
    s_priv = bytes(range(0x01, 0x21))
    ei = bytes(range(0x21, 0x41))
    er = bytes(range(0x41, 0x61))
    p300 = bytes((i * 7 + 3) & 0xff for i in range(300))
    p33 = bytes((0xa0 + i) & 0xff for i in range(33))
    return [
        run("suite1-300-33", 1, join_header(1 + 48 + 300, 1700000000000),
            s_priv, ei, er, p300, p33),
        run("suite2-empty", 2, join_header(255, 1700000000123),
            s_priv, ei, er, b"", b""),
    ]


def random_vectors(n):
    out = []
    for i in range(n):
        r = os.urandom(2)
        suite = 1 + (r[0] & 1)
        l1 = int.from_bytes(os.urandom(2), "big") % 700
        l2 = r[1] % 80
        out.append(run("random-%d" % i, suite, os.urandom(32), os.urandom(32),
                       os.urandom(32), os.urandom(32), os.urandom(l1),
                       os.urandom(l2)))
    return out


# The Cacophony test vector for Noise_NK_25519_AESGCM_SHA256 (prologue
# "John Galt"; as shipped in mcginty/snow tests/vectors/cacophony.txt): two
# handshake messages, then four transport messages (i->r n=0, r->i n=0,
# i->r n=1, r->i n=1; AD empty). That file's "handshake_hash" field
# (c565c8cf...) is h after message 1, not after message 2; it is checked
# as such.
CACOPHONY = {
    "prologue": "4a6f686e2047616c74",
    "init_ephemeral": "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    "init_remote_static": "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
    "resp_static": "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    "resp_ephemeral": "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    "h_after_msg1": "c565c8cf52dab7ade3e41672cc9ae63eedf22529829801df9af3425f7ad3007d",
    "messages": [
        ("4c756477696720766f6e204d69736573",
         "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
         "75ab4d66d222457dd414bc5f296bc7b4078cc7d72af5192628b68bca7d28844b"),
        ("4d757272617920526f746862617264",
         "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
         "03c7d89310502baa8299520ba451624c3c0492e2698f8d457c32400b91fd8a"),
        ("462e20412e20486179656b",
         "304f70c37c93573099228016d54cb15213af94eb598d1b17df1153"),
        ("4361726c204d656e676572",
         "a1bf6c954529f29b31d8ae9f67d2c18dbd332aa1a0918690c6d80b"),
        ("4a65616e2d426170746973746520536179",
         "2e8f3e51888360b2b2d83a64dde9943c7dd3c5e84ac7c4b4e2d5cfc025b6c854d3"),
        ("457567656e2042f6686d20766f6e2042617765726b",
         "8498bf41212a8b87c9eeb408274c75b3558fd0530865b5a7932d4b3af812d85b3df27e6f33"),
    ],
}


def self_test():
    """This implementation against the external Cacophony vector."""
    v = CACOPHONY
    x = bytes.fromhex
    s = x(v["resp_static"])
    check(pub_of(s) == x(v["init_remote_static"]), "cacophony static key")
    ini = Handshake(True, x(v["prologue"]), rs=x(v["init_remote_static"]),
                    e=x(v["init_ephemeral"]))
    res = Handshake(False, x(v["prologue"]), s=s, e=x(v["resp_ephemeral"]))
    msgs = [(x(p), x(c)) for p, c in v["messages"]]
    check(ini.write_message_1(msgs[0][0]) == msgs[0][1], "cacophony message 1")
    check(res.read_message_1(msgs[0][1]) == msgs[0][0], "cacophony payload 1")
    check(ini.ss.h == res.ss.h == x(v["h_after_msg1"]), "cacophony h")
    check(res.write_message_2(msgs[1][0]) == msgs[1][1], "cacophony message 2")
    check(ini.read_message_2(msgs[1][1]) == msgs[1][0], "cacophony payload 2")
    k1, k2 = ini.ss.split()
    for i, (p, c) in enumerate(msgs[2:]):
        k = k1 if i % 2 == 0 else k2
        check(ENCRYPT(k, i // 2, b"", p) == c, "cacophony transport %d" % i)


def main(argv):
    self_test()
    if len(argv) == 3 and argv[1] == "--random":
        vecs = random_vectors(int(argv[2]))
    elif len(argv) == 1:
        vecs = fixed_vectors()
    else:
        sys.stderr.write("usage: noise_ref.py [--random N]\n")
        return 2
    json.dump({"protocol": PROTOCOL_NAME.decode(), "vectors": vecs},
              sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
