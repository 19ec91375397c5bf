// The JavaScript half of the portal's crypto cross-check: `crates/privacy/tests/portal_crypto.rs`
// runs `node crypto_check.mjs VECTORS.json OUT.json`.
//
// 1. Checks the primitives of ../crypto.js against published test vectors (RFC 8439,
//    draft-irtf-cfrg-xchacha, RFC 9180) and Poly1305 against a plain BigInt reference; a
//    mismatch exits non-zero.
// 2. From the inputs the Rust test wrote to VECTORS.json, computes what the Rust test compares
//    with its own results: identities, signatures, hashes, body encodings, error messages; opens
//    the body Rust sealed; seals the same body itself and discloses it; and tries the refusals.
//    Everything goes to OUT.json; the Rust side does the comparing.

import { readFileSync, writeFileSync } from 'node:fs';
import * as c from '../crypto.js';

const [vectorsPath, outPath] = process.argv.slice(2);
if (!vectorsPath || !outPath) {
  console.error('usage: node crypto_check.mjs VECTORS.json OUT.json');
  process.exit(2);
}

const checked = [];

function expectHex(name, actual, expected) {
  if (c.hex(actual) !== expected) {
    throw new Error(`${name}: got ${c.hex(actual)}, expected ${expected}`);
  }
}

function expectThrows(name, f) {
  try {
    f();
  } catch {
    return;
  }
  throw new Error(`${name}: accepted what it must refuse`);
}

// ---- Published test vectors -------------------------------------------------------------------

const sunscreen = c.utf8(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, " +
    'sunscreen would be it.',
);

function rfc8439ChaCha20() {
  // RFC 8439 section 2.4.2.
  const key = c.unhex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const nonce = c.unhex('000000000000004a00000000');
  expectHex(
    'RFC 8439 2.4.2 ChaCha20',
    c.chacha20(key, nonce, 1, sunscreen),
    '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dab' +
      'cd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806' +
      '818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d',
  );
  checked.push('rfc8439 2.4.2 chacha20');
}

function rfc8439Poly1305() {
  // RFC 8439 section 2.5.2.
  const key = c.unhex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b');
  const message = c.utf8('Cryptographic Forum Research Group');
  expectHex('RFC 8439 2.5.2 Poly1305', c.poly1305(key, message), 'a8061dc1305136c6c22b8baf0c0127a9');
  checked.push('rfc8439 2.5.2 poly1305');
}

const aeadKey = c.unhex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
const aeadAad = c.unhex('50515253c0c1c2c3c4c5c6c7');

function rfc8439Aead() {
  // RFC 8439 section 2.8.2.
  const nonce = c.unhex('070000004041424344454647');
  const expected =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69' +
    'da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594' +
    '5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  const sealed = c.chacha20Poly1305Seal(aeadKey, nonce, sunscreen, aeadAad);
  expectHex('RFC 8439 2.8.2 AEAD seal', sealed, expected);
  const opened = c.chacha20Poly1305Open(aeadKey, nonce, sealed, aeadAad);
  expectHex('RFC 8439 2.8.2 AEAD open', opened, c.hex(sunscreen));
  const tampered = sealed.slice();
  tampered[0] ^= 1;
  expectThrows('AEAD open of a tampered ciphertext', () =>
    c.chacha20Poly1305Open(aeadKey, nonce, tampered, aeadAad),
  );
  expectThrows('AEAD open under other associated data', () =>
    c.chacha20Poly1305Open(aeadKey, nonce, sealed, c.utf8('x')),
  );
  checked.push('rfc8439 2.8.2 chacha20-poly1305');
}

function xchachaVectors() {
  // draft-irtf-cfrg-xchacha-03 section 2.2.1 (HChaCha20) and appendix A.3.1 (the AEAD).
  const key = c.unhex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  expectHex(
    'XChaCha draft 2.2.1 HChaCha20',
    c.hchacha20(key, c.unhex('000000090000004a0000000031415927')),
    '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc',
  );
  checked.push('xchacha 2.2.1 hchacha20');

  const nonce = c.unhex('404142434445464748494a4b4c4d4e4f5051525354555657');
  const expected =
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f' +
    '4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f' +
    '76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49';
  const sealed = c.xchacha20Poly1305Seal(aeadKey, nonce, sunscreen, aeadAad);
  expectHex('XChaCha draft A.3.1 AEAD seal', sealed, expected);
  const opened = c.xchacha20Poly1305Open(aeadKey, nonce, sealed, aeadAad);
  expectHex('XChaCha draft A.3.1 AEAD open', opened, c.hex(sunscreen));
  const otherNonce = nonce.slice();
  otherNonce[23] ^= 1;
  expectThrows('XChaCha open under another nonce', () =>
    c.xchacha20Poly1305Open(aeadKey, otherNonce, sealed, aeadAad),
  );
  checked.push('xchacha a.3.1 xchacha20-poly1305');
}

async function rfc9180() {
  // RFC 9180 appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, base
  // mode, first encryption.
  const v = {
    info: '4f6465206f6e2061204772656369616e2055726e',
    ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
    skEm: 'f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600',
    pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
    ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
    skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
    pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
    aad: '436f756e742d30',
    pt: '4265617574792069732074727574682c20747275746820626561757479',
    ct: '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28',
  };
  // The vectors list secrets unclamped; deriveKeyPair serializes them clamped (RFC 9180 7.1.2).
  const clamped = (secret) => {
    const out = c.unhex(secret);
    out[0] &= 248;
    out[31] = (out[31] & 127) | 64;
    return c.hex(out);
  };
  const ephemeral = await c.deriveKeyPair(c.unhex(v.ikmE));
  expectHex('RFC 9180 DeriveKeyPair(ikmE) secret', ephemeral.secret, clamped(v.skEm));
  expectHex('RFC 9180 DeriveKeyPair(ikmE) public', ephemeral.public, v.pkEm);
  const recipient = await c.deriveKeyPair(c.unhex(v.ikmR));
  expectHex('RFC 9180 DeriveKeyPair(ikmR) secret', recipient.secret, clamped(v.skRm));
  expectHex('RFC 9180 DeriveKeyPair(ikmR) public', recipient.public, v.pkRm);
  const [info, aad, pt] = [c.unhex(v.info), c.unhex(v.aad), c.unhex(v.pt)];
  const { enc, ciphertext } = await c.hpkeSeal(v.pkRm, info, aad, pt, ephemeral.secret);
  expectHex('RFC 9180 enc', enc, v.pkEm);
  expectHex('RFC 9180 ciphertext', ciphertext, v.ct);
  expectHex('RFC 9180 open', await c.hpkeOpen(recipient.secret, enc, info, aad, ciphertext), v.pt);
  const unclamped = await c.hpkeSeal(v.pkRm, info, aad, pt, c.unhex(v.skEm));
  expectHex('RFC 9180 ciphertext from the unclamped secret', unclamped.ciphertext, v.ct);
  const otherInfo = await c
    .hpkeOpen(recipient.secret, enc, c.utf8('other info'), aad, ciphertext)
    .then(() => 'opened', () => 'refused');
  if (otherInfo !== 'refused') throw new Error('RFC 9180: opened under another info string');
  checked.push('rfc9180 a.2.1 base x25519 hkdf-sha256 chacha20poly1305');
}

/** Poly1305 straight from RFC 8439 section 2.5.1, in BigInt: the reference for the limb code. */
function poly1305Reference(key, message) {
  const le = (bytes) => bytes.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  const p = (1n << 130n) - 5n;
  const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key.subarray(16, 32));
  let acc = 0n;
  for (let at = 0; at < message.length; at += 16) {
    const block = message.subarray(at, Math.min(at + 16, message.length));
    acc = ((acc + le(block) + (1n << BigInt(8 * block.length))) * r) % p;
  }
  const tag = (acc + s) & ((1n << 128n) - 1n);
  return Uint8Array.from({ length: 16 }, (_, i) => Number((tag >> BigInt(8 * i)) & 0xffn));
}

function poly1305AgainstReference() {
  const cases = [];
  // r = 1 and two all-ones blocks make the accumulator 2^130 - 2, above p: the final
  // subtraction. All-ones keys exercise the largest limbs.
  cases.push([c.concat([1], new Uint8Array(31)), new Uint8Array(32).fill(0xff)]);
  cases.push([new Uint8Array(32).fill(0xff), new Uint8Array(1000).fill(0xff)]);
  cases.push([new Uint8Array(32), new Uint8Array(64).fill(0xff)]);
  for (let i = 0; i < 500; i++) cases.push([c.randomBytes(32), c.randomBytes(i % 97)]);
  for (const [key, message] of cases) {
    const expected = c.hex(poly1305Reference(key, message));
    expectHex(`Poly1305 against the reference (key ${c.hex(key)})`, c.poly1305(key, message), expected);
  }
  checked.push('poly1305 bigint reference');
}

rfc8439ChaCha20();
rfc8439Poly1305();
rfc8439Aead();
xchachaVectors();
await rfc9180();
poly1305AgainstReference();

// ---- What the Rust test compares ---------------------------------------------------------------

const v = JSON.parse(readFileSync(vectorsPath, 'utf8'));
const out = { rfc_vectors: checked };

const identity = await c.walletIdentity(v.wallet.seed, v.wallet.institution);
out.wallet = {
  pseudonym: c.hex(identity.pseudonym),
  public_key: c.hex(identity.publicKey),
  signing_seed: c.hex(identity.signingSeed),
  encryption_secret: c.hex(identity.encryptionSecret),
  encryption_public: c.hex(identity.encryptionPublic),
};

out.signatures = [];
for (const s of v.signatures) {
  const key = await c.SigningKey.fromSeed(s.seed);
  const signature = await key.sign(s.namespace, c.unhex(s.message));
  out.signatures.push({ public_key: c.hex(key.publicKey), signature: c.hex(signature) });
}

out.encryption_keys = [];
for (const seed of v.encryption_seeds) {
  const pair = await c.encryptionFromSigningSeed(seed);
  out.encryption_keys.push({ secret: c.hex(pair.secret), public: c.hex(pair.public) });
}

out.domain_hashes = [];
for (const h of v.domain_hashes) {
  out.domain_hashes.push(c.hex(await c.domainHash(h.tag, ...h.parts.map(c.unhex))));
}

out.pseudonyms = [];
for (const key of v.pseudonym_keys) out.pseudonyms.push(c.hex(await c.pseudonymOf(key)));

out.body_encodings = v.bodies.map((body) => c.hex(c.encodeBody(body)));
out.bodies_decoded = v.body_encodings.map((encoding) => c.decodeBody(c.unhex(encoding)));
out.body_validation = c.validateBody(v.body);
out.invalid_body_errors = v.invalid_bodies.map((body) => c.validateBody(body));
out.bindings = {
  body_aad: c.hex(c.binding(c.BODY_AAD, v.chain, v.bill)),
  key_info: c.hex(c.binding(c.KEY_INFO, v.chain, v.bill)),
};

// The body Rust sealed, opened by the patient's secret, and disclosed to the payer.
const rust = v.rust_sealed;
const { chain, bill } = v;
out.opened_rust_sealed = await c.openBody(chain, bill, rust.sealed, rust.commitment, v.reader_secret);
out.disclosure_of_rust_sealed = await c.disclose(chain, bill, rust.sealed, v.reader_secret, v.payer_public);

// The same body sealed here, to the patient and the other readers, and disclosed to the payer.
const readerPublic = await c.x25519PublicKey(c.unhex(v.reader_secret));
const ours = await c.sealBody(chain, bill, v.body, [readerPublic, ...v.other_readers]);
out.js_sealed = ours;
out.opened_js_sealed = await c.openBody(chain, bill, ours.sealed, ours.commitment, v.reader_secret);
out.disclosure_of_js_sealed = await c.disclose(chain, bill, ours.sealed, v.reader_secret, v.payer_public);

/** The error kind and message an async call throws, or null if it does not throw. */
async function refusal(f) {
  try {
    await f();
    return null;
  } catch (error) {
    return { kind: error.kind ?? error.name, message: error.message };
  }
}

// The first ciphertext byte with its low bit flipped, as the Rust side tampers it.
const ciphertext = c.unhex(rust.sealed.ciphertext);
ciphertext[0] ^= 1;
const tampered = { ...rust.sealed, ciphertext: c.hex(ciphertext) };
const zeros = '00'.repeat(32);
const [sealed, commitment] = [rust.sealed, rust.commitment];
out.open_refusals = {
  tampered: await refusal(() => c.openBody(chain, bill, tampered, commitment, v.reader_secret)),
  wrong_commitment: await refusal(() => c.openBody(chain, bill, sealed, zeros, v.reader_secret)),
  outsider: await refusal(() => c.openBody(chain, bill, sealed, commitment, v.outsider_secret)),
  other_bill: await refusal(() => c.openBody(chain, v.other_bill, sealed, commitment, v.reader_secret)),
  disclose_by_outsider: await refusal(() => c.disclose(chain, bill, sealed, v.outsider_secret, v.payer_public)),
  disclose_to_bad_key: await refusal(() => c.disclose(chain, bill, sealed, v.reader_secret, zeros)),
};
out.seal_refusals = {
  no_readers: await refusal(() => c.sealBody(chain, bill, v.body, [])),
  duplicate_reader: await refusal(() => c.sealBody(chain, bill, v.body, [readerPublic, readerPublic])),
  bad_reader: await refusal(() => c.sealBody(chain, bill, v.body, [zeros])),
  invalid_body: await refusal(() => c.sealBody(chain, bill, v.invalid_bodies[0], [readerPublic])),
};

writeFileSync(outPath, JSON.stringify(out, null, 2));
