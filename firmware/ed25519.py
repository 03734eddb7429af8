"""Ed25519 signature verification (RFC 8032) in pure MicroPython, with its own SHA-512.

The device checks a release manifest's signature with this before it downloads anything
(firmware/ota.py; docs/firmware.md, Updates; ADR 0012). Verification only: the release key that
signs never comes near a device (gateway/ota/signing.py makes and uses it). The port's hashlib
has no SHA-512, so it is here too; both run on CPython as well (tests cross-check them with
hashlib and the cryptography package). Imported only while an offer is checked: its code and
constants are heap, so firmware/ota.py drops it from sys.modules afterwards.

The check is the cofactorless one of RFC 8032 5.1.7 (the same as OpenSSL's): S < L, A a valid
point, and the encoding of [S]B - [k]A equal to R's 32 bytes.
"""

_M = 0xFFFFFFFFFFFFFFFF
_K = (
    0x428A2F98D728AE22,
    0x7137449123EF65CD,
    0xB5C0FBCFEC4D3B2F,
    0xE9B5DBA58189DBBC,
    0x3956C25BF348B538,
    0x59F111F1B605D019,
    0x923F82A4AF194F9B,
    0xAB1C5ED5DA6D8118,
    0xD807AA98A3030242,
    0x12835B0145706FBE,
    0x243185BE4EE4B28C,
    0x550C7DC3D5FFB4E2,
    0x72BE5D74F27B896F,
    0x80DEB1FE3B1696B1,
    0x9BDC06A725C71235,
    0xC19BF174CF692694,
    0xE49B69C19EF14AD2,
    0xEFBE4786384F25E3,
    0xFC19DC68B8CD5B5,
    0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275,
    0x4A7484AA6EA6E483,
    0x5CB0A9DCBD41FBD4,
    0x76F988DA831153B5,
    0x983E5152EE66DFAB,
    0xA831C66D2DB43210,
    0xB00327C898FB213F,
    0xBF597FC7BEEF0EE4,
    0xC6E00BF33DA88FC2,
    0xD5A79147930AA725,
    0x6CA6351E003826F,
    0x142929670A0E6E70,
    0x27B70A8546D22FFC,
    0x2E1B21385C26C926,
    0x4D2C6DFC5AC42AED,
    0x53380D139D95B3DF,
    0x650A73548BAF63DE,
    0x766A0ABB3C77B2A8,
    0x81C2C92E47EDAEE6,
    0x92722C851482353B,
    0xA2BFE8A14CF10364,
    0xA81A664BBC423001,
    0xC24B8B70D0F89791,
    0xC76C51A30654BE30,
    0xD192E819D6EF5218,
    0xD69906245565A910,
    0xF40E35855771202A,
    0x106AA07032BBD1B8,
    0x19A4C116B8D2D0C8,
    0x1E376C085141AB53,
    0x2748774CDF8EEB99,
    0x34B0BCB5E19B48A8,
    0x391C0CB3C5C95A63,
    0x4ED8AA4AE3418ACB,
    0x5B9CCA4F7763E373,
    0x682E6FF3D6B2B8A3,
    0x748F82EE5DEFB2FC,
    0x78A5636F43172F60,
    0x84C87814A1F0AB72,
    0x8CC702081A6439EC,
    0x90BEFFFA23631E28,
    0xA4506CEBDE82BDE9,
    0xBEF9A3F7B2C67915,
    0xC67178F2E372532B,
    0xCA273ECEEA26619C,
    0xD186B8C721C0C207,
    0xEADA7DD6CDE0EB1E,
    0xF57D4F7FEE6ED178,
    0x6F067AA72176FBA,
    0xA637DC5A2C898A6,
    0x113F9804BEF90DAE,
    0x1B710B35131C471B,
    0x28DB77F523047D84,
    0x32CAAB7B40C72493,
    0x3C9EBE0A15C9BEBC,
    0x431D67C49C100D4C,
    0x4CC5D4BECB3E42B6,
    0x597F299CFC657E2A,
    0x5FCB6FAB3AD6FAEC,
    0x6C44198C4A475817,
)
_H = (
    0x6A09E667F3BCC908,
    0xBB67AE8584CAA73B,
    0x3C6EF372FE94F82B,
    0xA54FF53A5F1D36F1,
    0x510E527FADE682D1,
    0x9B05688C2B3E6C1F,
    0x1F83D9ABFB41BD6B,
    0x5BE0CD19137E2179,
)


def _r(x, n):
    return ((x >> n) | (x << (64 - n))) & _M


def sha512(data):
    """The SHA-512 digest (64 bytes) of ``data`` (FIPS 180-4)."""
    n = len(data)
    data = bytes(data) + b"\x80" + bytes((111 - n) % 128) + (n * 8).to_bytes(16, "big")
    h = list(_H)
    k = _K
    w = [0] * 80
    for off in range(0, len(data), 128):
        for i in range(16):
            j = off + i * 8
            w[i] = int.from_bytes(data[j : j + 8], "big")
        for i in range(16, 80):
            a = w[i - 15]
            b = w[i - 2]
            s0 = _r(a, 1) ^ _r(a, 8) ^ (a >> 7)
            s1 = _r(b, 19) ^ _r(b, 61) ^ (b >> 6)
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & _M
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            t1 = hh + (_r(e, 14) ^ _r(e, 18) ^ _r(e, 41)) + ((e & f) ^ (~e & g)) + k[i] + w[i]
            t2 = (_r(a, 28) ^ _r(a, 34) ^ _r(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))
            hh = g
            g = f
            f = e
            e = (d + t1) & _M
            d = c
            c = b
            b = a
            a = (t1 + t2) & _M
        v = (a, b, c, d, e, f, g, hh)
        for i in range(8):
            h[i] = (h[i] + v[i]) & _M
    out = b""
    for x in h:
        out += x.to_bytes(8, "big")
    return out


# ---- the curve (edwards25519), points in extended coordinates (X, Y, Z, T) -------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = 0x52036CEE2B6FFE738CC740797779E89800700A4D4141D8AB75EB4DCA135978A3
_D2 = _D * 2 % _P
_I = 0x2B8324804FC1DF0B2B4D00993DFBD7A72F431806AD2FE478C4EE1B274A0EA0B0  # sqrt(-1)
_B = (
    0x216936D3CD6E53FEC0A4E231FDD6DC5C692CC7609525A7B2C9562D608F25D51A,
    0x6666666666666666666666666666666666666666666666666666666666666658,
    1,
    0x67875F0FD78B766566EA4E8E64ABE37D20F09F80775152F56DDE8AB3A5B7DDA3,
)
_ZERO = (0, 1, 1, 0)


def _add(p, q):
    p0, p1, p2, p3 = p
    q0, q1, q2, q3 = q
    a = (p1 - p0) * (q1 - q0) % _P
    b = (p1 + p0) * (q1 + q0) % _P
    c = p3 * _D2 * q3 % _P
    d = 2 * p2 * q2 % _P
    e = b - a
    f = d - c
    g = d + c
    h = b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _double(p):
    x, y, z, _ = p
    a = x * x % _P
    b = y * y % _P
    c = 2 * z * z % _P
    h = a + b
    s = x + y
    e = h - s * s % _P
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _decode(s):
    """The point of a 32-byte encoding, or None when it is not one (RFC 8032 5.1.3)."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        if sign:
            return None
        return (0, y, 1, 0)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _I % _P
        if (x * x - x2) % _P:
            return None
    if (x & 1) != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _encode(p):
    zi = pow(p[2], _P - 2, _P)
    x = p[0] * zi % _P
    y = p[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def verify(pub, msg, sig):
    """True when ``sig`` (64 bytes) is ``pub``'s (32 bytes) Ed25519 signature of ``msg``."""
    if len(sig) != 64:
        return False
    a = _decode(bytes(pub))
    if a is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _L:
        return False
    rb = bytes(sig[:32])
    k = int.from_bytes(sha512(rb + bytes(pub) + bytes(msg)), "little") % _L
    # [S]B + [k](-A) in one pass (Straus): 253 doublings, an add per set bit of either scalar.
    na = ((_P - a[0]) % _P, a[1], 1, (_P - a[3]) % _P)
    both = _add(_B, na)
    q = _ZERO
    for i in range(252, -1, -1):  # s, k < L < 2**253
        q = _double(q)
        bs = (s >> i) & 1
        bk = (k >> i) & 1
        if bs and bk:
            q = _add(q, both)
        elif bs:
            q = _add(q, _B)
        elif bk:
            q = _add(q, na)
    return _encode(q) == rb


def verify_hex(pub_hex, text, sig_hex):
    """verify() with the key and signature as hex and the message as text; malformed hex is
    simply not a valid signature."""
    import binascii

    try:
        pub = binascii.unhexlify(pub_hex)
        sig = binascii.unhexlify(sig_hex)
    except (ValueError, TypeError):
        return False
    if len(pub) != 32:
        return False
    return verify(pub, text.encode(), sig)
