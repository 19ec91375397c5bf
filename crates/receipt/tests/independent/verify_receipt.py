#!/usr/bin/env python3
"""An independent verifier of medledger receipts, written from docs/formats/ alone.

It uses nothing but the Python standard library: hashlib for SHA-256 and SHA-512, and its own
ed25519 verification under the ZIP-215 rules (docs/formats/hashing-and-signatures.md). It shares
no code with the Rust verifier (crates/receipt), so the two agreeing on the golden vector and on
tampered receipts shows the documents are enough to write a verifier.

    verify_receipt.py RECEIPT GENESIS.json [--genesis-digest HEX] [--dump] [--each-line]

RECEIPT is a file holding the receipt's hex, the text of its QR code (ML1*...), the JSON a
node answers at .../proof, or its raw bytes. Prints `valid: ...` and exits 0, or
`invalid: <link>: <reason>` and exits 1. `--genesis-digest` refuses a genesis file whose
digest (docs/formats/genesis.md) is not the one given. `--dump` also prints every field with
its offset (the worked example of docs/formats/receipt.md was made with it). `--each-line`
verifies one receipt per line of the file.
"""

import argparse
import datetime
import hashlib
import json
import sys

# ---------------------------------------------------------------------------------------------
# Errors: every failure names the link of the chain that broke (docs/formats/receipt.md,
# "Verifying a receipt").


class Invalid(Exception):
    def __init__(self, link, reason):
        super().__init__(f"{link}: {reason}")
        self.link = link
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# ed25519 verification, ZIP-215 rules (docs/formats/hashing-and-signatures.md, "Signatures").

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def _add(p, q):
    """Adds two points in extended coordinates (RFC 8032, section 5.1.4)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(scalar, point):
    result = IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _neg(point):
    x, y, z, t = point
    return ((-x) % P, y, z, (-t) % P)


def _decompress(encoding):
    """A point from 32 bytes, as ZIP-215 decodes it: the y coordinate may be non-canonical
    (2^255 - 19 or more: it is reduced), and x = 0 with the sign bit set is accepted. Returns
    None when y gives no point on the curve."""
    if len(encoding) != 32:
        return None
    value = int.from_bytes(encoding, "little")
    sign = value >> 255
    y = (value & ((1 << 255) - 1)) % P
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = (-x) % P  # for x = 0 this stays 0, which ZIP-215 accepts
    return (x, y, 1, x * y % P)


_BY = 4 * pow(5, P - 2, P) % P
BASE = _decompress(_BY.to_bytes(32, "little"))


def _is_identity(point):
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def ed25519_verify(public_key, message, signature):
    """ZIP-215: A and R may be non-canonical encodings, S must be below L, and the check is
    the cofactored [8][S]B = [8]R + [8][k]A with k = SHA-512(R || A || M) mod L, hashing A
    and R exactly as encoded."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decompress(public_key)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % L
    difference = _add(_mul(s, BASE), _neg(_add(r, _mul(k, a))))
    for _ in range(3):
        difference = _add(difference, difference)
    return _is_identity(difference)


# ---------------------------------------------------------------------------------------------
# Hashing (docs/formats/hashing-and-signatures.md, "Domain-separated hashes").


def sha256(*parts):
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part)
    return hasher.digest()


def tagged_hash(tag, *parts):
    """H(tag, parts) = SHA-256(u8(len(tag)) || tag || parts...)."""
    tag = tag.encode()
    return sha256(bytes([len(tag)]), tag, *parts)


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# ---------------------------------------------------------------------------------------------
# The canonical binary codec (docs/formats/encoding.md).

IDENT_MAX = 32
TEXT_MAX = 128
CLAIM_BILLS_MAX = 64
BILL_CATEGORIES_MAX = 16
BILL_CLAIMS_MAX = 64
BILL_ACCESSES_MAX = 16
PROOF_DIGESTS_MAX = 122
MMR_LEAVES_MAX = 1 << 62
FINALIZATION_BYTES_MAX = 64 * 1024
RECEIPT_BYTES_MAX = FINALIZATION_BYTES_MAX + 16 * 1024
VALIDATORS_MAX = 100
CHECK_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Invisible formatting characters free text may not hold (encoding.md, `Text`).
INVISIBLE = [
    (0x00AD, 0x00AD),
    (0x061C, 0x061C),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x2069),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
]
IDENT_ALPHABET = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class Reader:
    """Reads the canonical encoding; every malformation is an `Invalid("decode", ...)`."""

    def __init__(self, data, fields=None):
        self.data = data
        self.pos = 0
        self.fields = fields  # (offset, size, name, shown value) for --dump

    def fail(self, reason):
        raise Invalid("decode", f"at byte {self.pos}: {reason}")

    def note(self, start, name, value):
        if self.fields is not None:
            self.fields.append((start, self.pos - start, name, value))
        return value

    def take(self, n, name=None):
        if self.pos + n > len(self.data):
            self.fail(f"{name or 'field'} needs {n} bytes, {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size, name):
        start = self.pos
        value = int.from_bytes(self.take(size, name), "big")
        return self.note(start, name, value)

    def u8(self, name):
        return self.uint(1, name)

    def u16(self, name):
        return self.uint(2, name)

    def u32(self, name):
        return self.uint(4, name)

    def u64(self, name):
        return self.uint(8, name)

    def varint(self, bits, name):
        """Unsigned LEB128, at most ceil(bits/7) bytes, minimal: a 0x00 byte after the first
        is refused, and the last byte may not carry bits beyond `bits`."""
        start = self.pos
        value = 0
        shift = 0
        while True:
            byte = self.take(1, name)[0]
            if byte == 0 and shift > 0:
                self.fail(f"{name}: non-canonical varint")
            if bits - shift <= 7 and (byte.bit_length() > bits - shift):
                self.fail(f"{name}: varint overflows {bits} bits")
            value |= (byte & 0x7F) << shift
            if byte & 0x80 == 0:
                return self.note(start, name, value)
            shift += 7

    def length(self, maximum, name):
        value = self.varint(32, name)
        if value > maximum:
            self.fail(f"{name}: length {value} over the limit {maximum}")
        return value

    def bytes_field(self, n, name):
        start = self.pos
        value = self.take(n, name)
        self.note(start, name, value.hex())
        return value

    def boolean(self, name):
        start = self.pos
        byte = self.take(1, name)[0]
        if byte > 1:
            self.fail(f"{name}: a bool is 0 or 1, got {byte}")
        return self.note(start, name, byte == 1)

    def ident(self, name):
        n = self.length(IDENT_MAX, f"{name} length")
        start = self.pos
        text = self.take(n, name).decode("ascii", errors="replace")
        if n == 0 or any(c not in IDENT_ALPHABET for c in text):
            self.fail(f"{name}: not an identifier")
        return self.note(start, name, text)

    def text(self, name):
        n = self.length(TEXT_MAX, f"{name} length")
        start = self.pos
        try:
            value = self.take(n, name).decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{name}: not UTF-8")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
            self.fail(f"{name}: control characters")
        if any(any(low <= ord(c) <= high for low, high in INVISIBLE) for c in value):
            self.fail(f"{name}: invisible formatting characters")
        return self.note(start, name, value)

    def option(self, name, read):
        if self.boolean(f"{name} present"):
            return read()
        return None

    def vec(self, maximum, name, read):
        n = self.length(maximum, f"{name} count")
        return [read(i) for i in range(n)]

    def end(self):
        if self.pos != len(self.data):
            self.fail(f"{len(self.data) - self.pos} bytes left over")


def read_bill_id(r, name):
    code = r.u32(f"{name}.code")
    number = r.u64(f"{name}.number")
    if code > 99_999_999 or number > 9_999_999_999:
        r.fail(f"{name}: bill code has 8 digits and number 10")
    return f"{code:08}/{number:010}"


def read_fen(r, name):
    return r.u64(name)


def read_bill(r):
    bill = {}
    start = r.pos
    bill["id"] = read_bill_id(r, "bill.issue.id")
    key = r.data[start : r.pos]
    visit = r.u8("bill.issue.visit_type")
    if visit > 3:
        r.fail("visit type tag over 3")
    bill["visit_type"] = ["registration", "outpatient", "inpatient", "check_up"][visit]
    bill["patient"] = r.bytes_field(16, "bill.issue.patient").hex()
    amounts = {}
    for part in ["total", "pooled_fund", "personal_account", "other_fund", "patient_pay"]:
        amounts[part] = read_fen(r, f"bill.issue.amounts.{part}")
    bill["amounts"] = amounts

    def category(i):
        tag = r.u8(f"bill.issue.categories[{i}].category")
        if tag > 9:
            r.fail("charge category tag over 9")
        return (tag, read_fen(r, f"bill.issue.categories[{i}].amount"))

    bill["categories"] = r.vec(BILL_CATEGORIES_MAX, "bill.issue.categories", category)
    bill["body_commitment"] = r.bytes_field(32, "bill.issue.body_commitment").hex()
    bill["issuer"] = r.ident("bill.issuer")
    bill["issued_height"] = r.u64("bill.issued_height")
    bill["issued_at_ms"] = r.u64("bill.issued_at_ms")
    check_start = r.pos
    check = r.take(6, "bill.check_code").decode("ascii", errors="replace")
    if any(c not in CHECK_CODE_ALPHABET for c in check):
        r.fail("check code outside its alphabet")
    bill["check_code"] = r.note(check_start, "bill.check_code", check)
    kind = r.u8("bill.kind")
    if kind == 0:
        bill["kind"] = "normal"
    elif kind == 1:
        bill["kind"] = "red, reverses " + read_bill_id(r, "bill.kind.reverses")
    else:
        r.fail("bill kind tag over 1")
    bill["voided_by"] = r.option("bill.voided_by", lambda: read_bill_id(r, "bill.voided_by"))
    bill["reserved"] = read_fen(r, "bill.reserved")
    bill["reimbursed"] = read_fen(r, "bill.reimbursed")
    bill["claims"] = r.vec(
        BILL_CLAIMS_MAX, "bill.claims", lambda i: r.bytes_field(16, f"bill.claims[{i}]").hex()
    )
    sealed = r.option("bill.sealed_body", lambda: r.bytes_field(32, "bill.sealed_body"))
    bill["sealed_body"] = sealed.hex() if sealed else None
    bill["accessed_by"] = r.vec(
        BILL_ACCESSES_MAX, "bill.accessed_by", lambda i: r.ident(f"bill.accessed_by[{i}]")
    )
    return key, bill


def read_lines(r, name):
    return {
        part: read_fen(r, f"{name}.{part}")
        for part in ["submitted", "eligible", "deductible", "benefit"]
    }


def read_claim(r):
    claim = {}
    start = r.pos
    claim["id"] = r.bytes_field(16, "claim.submission.claim_id").hex()
    key = r.data[start : r.pos]
    claim["payer"] = r.ident("claim.submission.payer")
    claim["patient"] = r.bytes_field(16, "claim.submission.patient").hex()

    def item(i):
        return (read_bill_id(r, f"claim.items[{i}].bill"), read_fen(r, f"claim.items[{i}].amount"))

    claim["items"] = r.vec(CLAIM_BILLS_MAX, "claim.submission.items", item)

    def disclosure(i):
        bill = read_bill_id(r, f"claim.disclosures[{i}].bill")
        r.bytes_field(32, f"claim.disclosures[{i}].wrap.recipient")
        r.bytes_field(32, f"claim.disclosures[{i}].wrap.encapsulated")
        r.bytes_field(48, f"claim.disclosures[{i}].wrap.wrapped_key")
        return bill

    claim["disclosed"] = r.vec(CLAIM_BILLS_MAX, "claim.submission.disclosures", disclosure)
    claim["filed_by"] = r.option("claim.filed_by", lambda: r.ident("claim.filed_by"))
    claim["submitted_height"] = r.u64("claim.submitted_height")
    status = r.u8("claim.status")
    if status == 0:
        claim["status"] = {"status": "locked"}
    elif status == 1:
        approved = r.vec(
            CLAIM_BILLS_MAX, "claim.status.approved", lambda i: read_fen(r, f"claim.approved[{i}]")
        )
        reference = r.text("claim.status.payment_reference")
        height = r.u64("claim.status.height")
        claim["status"] = {
            "status": "settled",
            "approved": approved,
            "payment_reference": reference,
            "height": height,
        }
    elif status == 2:
        reason = r.text("claim.status.reason")
        height = r.u64("claim.status.height")
        claim["status"] = {"status": "rejected", "reason": reason, "height": height}
    elif status == 3:
        claim["status"] = {"status": "withdrawn", "height": r.u64("claim.status.height")}
    else:
        r.fail("claim status tag over 3")

    def adjudication():
        out = {"policy_version": r.u32("claim.adjudication.policy_version")}
        out["year"] = r.u16("claim.adjudication.year")
        out["items"] = r.vec(
            CLAIM_BILLS_MAX,
            "claim.adjudication.items",
            lambda i: read_lines(r, f"claim.adjudication.items[{i}]"),
        )
        out["total"] = read_lines(r, "claim.adjudication.total")
        out["auto_approved"] = r.boolean("claim.adjudication.auto_approved")
        return out

    claim["adjudication"] = r.option("claim.adjudication", adjudication)
    return key, claim


def read_header(r):
    header = {}
    header["parent"] = r.bytes_field(32, "header.parent")
    header["height"] = r.u64("header.height")
    header["timestamp_ms"] = r.u64("header.timestamp_ms")
    header["tx_root"] = r.bytes_field(32, "header.tx_root")
    header["executed_height"] = r.u64("header.executed_height")
    header["state_root"] = r.bytes_field(32, "header.state_root")
    return header


def decode_receipt(data, fields=None):
    if len(data) > RECEIPT_BYTES_MAX:
        raise Invalid(
            "decode", f"{len(data)} bytes, more than a receipt can be ({RECEIPT_BYTES_MAX})"
        )
    if not data:
        raise Invalid("decode", "empty")
    if data[0] != 1:
        raise Invalid(
            "decode", f"receipt format version {data[0]} is not known (this verifier reads 1)"
        )
    r = Reader(data, fields)
    receipt = {"version": r.u8("version")}
    receipt["chain_id"] = r.ident("chain_id")
    tag = r.u8("record tag")
    record_start = r.pos
    if tag == 1:
        key, record = read_bill(r)
        receipt["kind"] = "bill"
    elif tag == 2:
        key, record = read_claim(r)
        receipt["kind"] = "claim"
    else:
        r.fail(f"record tag {tag} is neither 1 (bill) nor 2 (claim)")
    receipt["record_bytes"] = data[record_start : r.pos]
    receipt["key"] = key
    receipt["record"] = record
    receipt["leaf"] = r.u64("leaf")
    leaves = r.varint(64, "proof.leaves")
    if leaves > MMR_LEAVES_MAX:
        r.fail("proof.leaves over 2^62")
    receipt["proof_leaves"] = leaves
    receipt["proof_inactive_peaks"] = r.varint(64, "proof.inactive_peaks")
    receipt["proof_digests"] = r.vec(
        PROOF_DIGESTS_MAX, "proof.digests", lambda i: r.bytes_field(32, f"proof.digests[{i}]")
    )
    receipt["mmr_root"] = r.bytes_field(32, "mmr_root")
    receipt["receipts_root"] = r.bytes_field(32, "receipts_root")
    header_start = r.pos
    receipt["header"] = read_header(r)
    receipt["header_bytes"] = data[header_start : r.pos]
    n = r.length(FINALIZATION_BYTES_MAX, "finalization length")
    receipt["finalization"] = r.bytes_field(n, "finalization")
    r.end()
    return receipt


# ---------------------------------------------------------------------------------------------
# The state tree (docs/formats/state-tree.md): commonware-storage's MMR, SHA-256, peaks bagged
# backward (newest first), proofs of one element.


def leaf_position(location):
    return 2 * location - bin(location).count("1")


def mmr_peaks(leaves):
    """(position, height, first leaf) of each peak, oldest (largest) first."""
    peaks = []
    start = 0
    for height in range(62, -1, -1):
        if leaves >> height & 1:
            position = leaf_position(start) + (1 << (height + 1)) - 2
            peaks.append((position, height, start))
            start += 1 << height
    return peaks


def mmr_root_from_proof(leaves, location, element, digests):
    if location >= leaves:
        raise Invalid("proof", f"leaf {location} is not below the tree's {leaves} leaves")
    peaks = mmr_peaks(leaves)
    before = [p for p in peaks if p[2] + (1 << p[1]) <= location]
    after = [p for p in peaks if p[2] > location]
    (peak,) = [p for p in peaks if p[2] <= location < p[2] + (1 << p[1])]
    expected = len(before) + (1 if after else 0) + peak[1]
    if len(digests) != expected:
        raise Invalid(
            "proof",
            f"{len(digests)} digests, but a proof of leaf {location} of {leaves} needs {expected}",
        )
    siblings = iter(digests[len(before) + (1 if after else 0) :])

    def rebuild(position, height, first):
        # Left-first depth-first walk: a subtree off the path takes the next sibling digest.
        if not first <= location < first + (1 << height):
            return next(siblings)
        if height == 0:
            return sha256(position.to_bytes(8, "big"), element)
        left = rebuild(position - (1 << height), height - 1, first)
        right = rebuild(position - 1, height - 1, first + (1 << (height - 1)))
        return sha256(position.to_bytes(8, "big"), left, right)

    peak_digests = list(digests[: len(before)])
    peak_digests.append(rebuild(*peak))
    if after:
        peak_digests.append(digests[len(before)])
    # Backward bagging: fold from the newest peak, bag = H(peak || bag).
    bag = peak_digests[-1]
    for digest in reversed(peak_digests[:-1]):
        bag = sha256(digest, bag)
    return sha256(bytes([0, 1]), leaves.to_bytes(8, "big"), bag)


# ---------------------------------------------------------------------------------------------
# Genesis (docs/formats/genesis.md): the validators and the canonical digest.


def load_genesis(path):
    try:
        with open(path, encoding="utf-8") as f:
            genesis = json.load(f)
        chain_id = genesis["chain_id"]
        keys = [bytes.fromhex(v["public_key"]) for v in genesis.get("validators", [])]
    except (OSError, KeyError, TypeError, AttributeError, ValueError) as e:
        raise Invalid("genesis", f"{path} is not a readable genesis file: {e}")
    return genesis, chain_id, keys


def canonical_genesis(genesis):
    """The canonical JSON of a genesis: fields in the documented order, defaults filled in,
    no whitespace, UTF-8, escaping as serde_json does it."""

    roles = ["hospital", "regulator", "social_security", "insurer", "payment_platform"]

    def hex_(text):
        return None if text is None else text.lower()

    def member(m):
        return {
            "id": m["id"],
            "name": m["name"],
            "roles": [role for role in roles if role in m["roles"]],
            "keys": [hex_(key) for key in m["keys"]],
            "encryption_key": hex_(m.get("encryption_key")),
            "body_reader": m.get("body_reader", False),
        }

    def patient(p):
        return {k: hex_(p[k]) for k in ["pseudonym", "public_key", "encryption_key"]}

    def range_(r):
        return {k: r[k] for k in ["hospital", "code", "first", "last"]}

    def validator(v):
        out = {k: v[k] for k in ["member", "public_key", "p2p_address", "api_address"]}
        out["public_key"] = hex_(out["public_key"])
        return out

    out = {
        "chain_id": genesis["chain_id"],
        "genesis_time_ms": genesis["genesis_time_ms"],
        "members": [member(m) for m in genesis["members"]],
        "patients": [patient(p) for p in genesis.get("patients", [])],
        "ranges": [range_(r) for r in genesis.get("ranges", [])],
        "validators": [validator(v) for v in genesis.get("validators", [])],
    }
    if genesis.get("synthetic_bills") is not None:
        s = genesis["synthetic_bills"]
        out["synthetic_bills"] = {k: s[k] for k in ["issuer", "code", "count", "amount_fen"]}
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def genesis_digest(genesis):
    return tagged_hash("medledger/genesis/v1", canonical_genesis(genesis))


# ---------------------------------------------------------------------------------------------
# The finalization certificate (docs/formats/certificate.md).


def check_finalization(data, chain_id, validators, block_digest):
    n = len(validators)
    if n == 0:
        raise Invalid("genesis", "genesis names no validators")
    if n > VALIDATORS_MAX:
        raise Invalid("genesis", f"genesis names {n} validators, more than {VALIDATORS_MAX}")
    if len(set(validators)) != n:
        raise Invalid("genesis", "genesis names a validator key twice")
    for key in validators:
        if len(key) != 32 or _decompress(key) is None:
            raise Invalid("genesis", f"validator key {key.hex()} is not an ed25519 public key")
    participants = sorted(validators)

    r = Reader(data)
    try:
        epoch = r.varint(64, "epoch")
        r.varint(64, "view")
        r.varint(64, "parent view")
        payload = r.bytes_field(32, "payload")
        proposal = data[: r.pos]
        bits = r.u64("signer bitmap length")
        if bits > n:
            r.fail(f"signer bitmap of {bits} bits for {n} validators")
        bitmap = r.bytes_field((bits + 7) // 8, "signer bitmap")
        if bits % 8 and bitmap[-1] >> (bits % 8):
            r.fail("signer bitmap has bits set past its length")
        signers = [i for i in range(bits) if bitmap[i // 8] >> (i % 8) & 1]
        if not signers:
            r.fail("the certificate has no signers")
        count = r.length(n, "signature count")
        if count != len(signers):
            r.fail(f"{len(signers)} signers marked but {count} signatures")
        signatures = [r.bytes_field(64, f"signature[{i}]") for i in range(count)]
        r.end()
    except Invalid as e:
        raise Invalid("finality", f"the certificate does not decode: {e.reason}")
    if epoch != 0:
        raise Invalid("finality", f"the certificate is for epoch {epoch}, medledger runs epoch 0")
    if payload != block_digest:
        raise Invalid(
            "finality",
            f"the certificate finalizes block {payload.hex()}, "
            f"not this header ({block_digest.hex()})",
        )
    if bits != n:
        raise Invalid(
            "finality", f"the signer bitmap covers {bits} validators but genesis names {n}"
        )
    quorum = n - (n - 1) // 3
    if len(signers) < quorum:
        raise Invalid(
            "finality", f"only {len(signers)} of {n} validators signed; finality needs {quorum}"
        )
    namespace = b"medledger:" + chain_id.encode() + b"_FINALIZE"
    message = varint(len(namespace)) + namespace + proposal
    for index, signature in zip(signers, signatures):
        key = participants[index]
        if not ed25519_verify(key, message, signature):
            raise Invalid(
                "finality",
                f"the signature of validator {index} ({key.hex()}) does not verify as a "
                f"finalization of this block on chain {chain_id}",
            )
    return len(signers), n


# ---------------------------------------------------------------------------------------------
# Reading the forms a receipt comes in (docs/formats/receipt.md, "Text forms").

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45_decode(text):
    values = []
    for c in text:
        if c not in BASE45:
            raise Invalid("decode", f"QR data: {c!r} is not a Base45 character")
        values.append(BASE45.index(c))
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            n = group[0] + group[1] * 45 + group[2] * 2025
            if n > 0xFFFF:
                raise Invalid("decode", "QR data: a Base45 triple over 65535")
            out += n.to_bytes(2, "big")
        elif len(group) == 2:
            n = group[0] + group[1] * 45
            if n > 0xFF:
                raise Invalid("decode", "QR data: a Base45 pair over 255")
            out.append(n)
        else:
            raise Invalid("decode", "QR data: Base45 text cannot end with a single character")
    return bytes(out)


def readable_key(receipt):
    record = receipt["record"]
    if receipt["kind"] == "bill":
        return record["id"], record["check_code"]
    return record["id"], "-"


def parse_input(raw):
    """The receipt's bytes and, for a node's JSON answer, its unsigned fields."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw, None, None
    if text.startswith("ML1*"):
        parts = text[4:].split("*", 2)
        if len(parts) != 3:
            raise Invalid("decode", "QR text must be ML1*KEY*CHECK*DATA")
        data = base45_decode(parts[2])
        return data, None, (parts[0], parts[1])
    if text.startswith("{"):
        try:
            answer = json.loads(text)
            return bytes.fromhex(answer["receipt"].strip()), answer, None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Invalid("decode", f"not a node's receipt JSON: {e}")
    if text and all(c in "0123456789abcdefABCDEF" for c in text):
        if len(text) % 2:
            raise Invalid("decode", "hex with an odd number of characters")
        return bytes.fromhex(text), None, None
    if raw[:1] == b"\x01":
        return raw, None, None
    raise Invalid("decode", "not a receipt: expected hex, QR text (ML1*...), proof JSON or bytes")


def check_stated(answer, receipt, data):
    """A node's JSON answer carries unsigned copies of what the receipt says; each one present
    must agree with the signed receipt. (The `bill` and `claim` copies are not compared here:
    this verifier shows only what it decoded from the signed bytes.)"""
    header = receipt["header"]
    signed = {
        "size_bytes": len(data),
        "as_of_height": header["executed_height"],
        "block_height": header["height"],
        "block_time_ms": header["timestamp_ms"],
    }
    for field, value in signed.items():
        if field in answer and answer[field] != value:
            raise Invalid(
                "stated field",
                f"the answer's {field} is {answer[field]!r} but the signed receipt says {value}",
            )
    if "qr" in answer:
        key, check = readable_key(receipt)
        prefix = f"ML1*{key}*{check}*"
        if not isinstance(answer["qr"], str) or not answer["qr"].startswith(prefix):
            raise Invalid("stated field", "the answer's qr names another record")
        if base45_decode(answer["qr"][len(prefix) :]) != data:
            raise Invalid("stated field", "the answer's qr holds another receipt")
    if "bill" in answer and receipt["kind"] != "bill":
        raise Invalid("stated field", "the answer has a bill but the signed receipt is a claim's")
    if "claim" in answer and receipt["kind"] != "claim":
        raise Invalid("stated field", "the answer has a claim but the signed receipt is a bill's")


# ---------------------------------------------------------------------------------------------
# Verifying (docs/formats/receipt.md, "Verifying a receipt").


def verify(raw, genesis_path, pinned_digest=None, fields=None):
    genesis, chain_id, validators = load_genesis(genesis_path)
    if pinned_digest is not None:
        try:
            digest = genesis_digest(genesis)
        except (KeyError, TypeError, AttributeError) as e:
            raise Invalid("genesis", f"the genesis file lacks a field of the canonical form: {e}")
        if digest.hex() != pinned_digest.lower():
            raise Invalid(
                "genesis",
                f"the genesis file's digest is {digest.hex()}, not the pinned {pinned_digest}",
            )
    data, answer, readable = parse_input(raw)
    receipt = decode_receipt(data, fields)
    if readable is not None and readable != readable_key(receipt):
        raise Invalid("decode", "the QR text's readable bill or check code is not the receipt's")

    # 1. The chain.
    if receipt["chain_id"] != chain_id:
        raise Invalid(
            "chain", f"the receipt is for chain {receipt['chain_id']}, genesis is {chain_id}"
        )
    # 2. The record's leaf, under the MMR root.
    if receipt["proof_inactive_peaks"] != 0:
        raise Invalid("proof", "the proof declares inactive peaks; medledger's never has any")
    tag = b"\x01" if receipt["kind"] == "bill" else b"\x02"
    element = tagged_hash("medledger/state-leaf/v1", tag, receipt["key"], receipt["record_bytes"])
    root = mmr_root_from_proof(
        receipt["proof_leaves"], receipt["leaf"], element, receipt["proof_digests"]
    )
    header = receipt["header"]
    if root != receipt["mmr_root"]:
        raise Invalid(
            "proof",
            f"the proof does not place this {receipt['kind']}'s record at leaf {receipt['leaf']} "
            f"under the MMR root",
        )
    # 3. The roots, under the header's state root.
    state_root = tagged_hash(
        "medledger/state-root/v2",
        header["executed_height"].to_bytes(8, "big"),
        receipt["mmr_root"],
        receipt["receipts_root"],
    )
    if state_root != header["state_root"]:
        raise Invalid("state root", "the header's state root does not commit to these roots")
    # 4. The header, finalized by a quorum of the genesis validators.
    block_digest = tagged_hash("medledger/block/v1", receipt["header_bytes"])
    signers, n = check_finalization(receipt["finalization"], chain_id, validators, block_digest)
    # 5. A node's JSON answer: its unsigned copies agree with what was just verified.
    if answer is not None:
        check_stated(answer, receipt, data)
    return receipt, signers, n


def utc(ms):
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(receipt, signers, n):
    header = receipt["header"]
    record = receipt["record"]
    lines = [
        f"valid: {receipt['kind']} {record['id']} on chain {receipt['chain_id']} as of height "
        f"{header['executed_height']}, finalized in block {header['height']} "
        f"({utc(header['timestamp_ms'])}) by {signers} of {n} validators"
    ]
    if receipt["kind"] == "bill":
        a = record["amounts"]
        lines.append(
            f"  issuer {record['issuer']}, check code {record['check_code']}, {record['kind']}, "
            f"total {a['total']} fen, patient paid {a['patient_pay']}, "
            f"reserved {record['reserved']}, "
            f"reimbursed {record['reimbursed']}, voided by {record['voided_by']}, "
            f"{len(record['claims'])} claim(s)"
        )
    else:
        lines.append(
            f"  payer {record['payer']}, items {record['items']}, filed by {record['filed_by']}, "
            f"status {record['status']}"
        )
    return "\n".join(lines)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("receipt", help="file with the receipt's hex, QR text, proof JSON or bytes")
    parser.add_argument("genesis", help="the network's genesis.json")
    parser.add_argument("--genesis-digest", help="refuse a genesis file whose digest is not this")
    parser.add_argument("--dump", action="store_true", help="print every field with its offset")
    parser.add_argument(
        "--each-line",
        action="store_true",
        help="the file holds one receipt (text form) per line: print `N: valid: ...` or "
        "`N: invalid: ...` for each, exit 0 only if all are valid",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.receipt, "rb") as f:
            raw = f.read(4 * RECEIPT_BYTES_MAX if not args.each_line else -1)
    except OSError as e:
        print(f"invalid: decode: cannot read {args.receipt}: {e}")
        return 1
    if args.each_line:
        all_valid = True
        for number, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                receipt, signers, n = verify(line, args.genesis, args.genesis_digest)
                print(f"{number}: {describe(receipt, signers, n).splitlines()[0]}")
            except Invalid as e:
                all_valid = False
                print(f"{number}: invalid: {e.link}: {e.reason}")
        return 0 if all_valid else 1
    fields = [] if args.dump else None
    try:
        receipt, signers, n = verify(raw, args.genesis, args.genesis_digest, fields)
    except Invalid as e:
        print(f"invalid: {e.link}: {e.reason}")
        return 1
    finally:
        for offset, size, name, value in fields or []:
            print(f"{offset:6} {size:4}  {name:40} {value}")
    print(describe(receipt, signers, n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
