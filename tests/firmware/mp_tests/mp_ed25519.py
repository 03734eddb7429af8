"""Ed25519 verification and SHA-512 (firmware/ed25519.py): RFC 8032 and FIPS 180 vectors."""

import binascii

import ed25519

_h = binascii.unhexlify

# RFC 8032 section 7.1: TEST 1, 2, 3 and SHA(abc) (public key, message, signature).
RFC8032 = (
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
)


def test_sha512_fips_vectors():
    assert ed25519.sha512(b"abc") == _h(
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    )
    assert ed25519.sha512(b"") == _h(
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
    )
    abc = b"abcdefghijklmnopqrstu"
    two_blocks = b"".join([abc[i : i + 8] for i in range(14)])  # 112 bytes: 2 blocks
    assert ed25519.sha512(two_blocks) == _h(
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"
    )


def test_rfc8032_vectors_verify():
    for pub, msg, sig in RFC8032:
        assert ed25519.verify(_h(pub), _h(msg), _h(sig)), pub


def test_a_changed_message_key_or_signature_fails():
    pub, msg, sig = RFC8032[2]
    assert not ed25519.verify(_h(pub), _h("af83"), _h(sig))
    assert not ed25519.verify(_h(RFC8032[1][0]), _h(msg), _h(sig))
    bad = bytearray(_h(sig))
    bad[0] ^= 1
    assert not ed25519.verify(_h(pub), _h(msg), bytes(bad))
    bad = bytearray(_h(sig))
    bad[40] ^= 1
    assert not ed25519.verify(_h(pub), _h(msg), bytes(bad))


def test_s_not_below_the_group_order_is_refused():
    pub, msg, sig = RFC8032[0]
    s = int.from_bytes(_h(sig)[32:], "little") + ed25519._L  # same point, non-canonical S
    assert not ed25519.verify(_h(pub), _h(msg), _h(sig)[:32] + s.to_bytes(32, "little"))


def test_malformed_inputs_are_not_valid():
    pub, msg, sig = RFC8032[0]
    assert not ed25519.verify(_h(pub), _h(msg), _h(sig)[:63])
    assert not ed25519.verify(b"\xff" * 32, _h(msg), _h(sig))  # y >= p: not a point
    assert not ed25519.verify_hex("zz" * 32, "", sig)
    assert not ed25519.verify_hex(pub[:62], "", sig)
    assert ed25519.verify_hex(pub, "", sig)
