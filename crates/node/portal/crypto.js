// The portal's cryptography: the browser's half of `medledger-crypto` and `medledger-privacy`.
//
// One ES module without dependencies. Hashing, HMAC, Ed25519 and X25519 come from WebCrypto
// (`globalThis.crypto.subtle`); ChaCha20, Poly1305 and their AEADs, which WebCrypto lacks, are
// written here from the specifications. Everything is byte-compatible with the Rust crates, which
// `crates/privacy/tests/portal_crypto.rs` checks by running `tests/crypto_check.mjs` under Node.
//
//   hex, unhex, concat, utf8, fromUtf8       bytes and text
//   sha256, domainHash, hmacSha256, hkdf*    hashing (medledger_crypto::hash, RFC 2104, RFC 5869)
//   SigningKey, NAMESPACE                    Ed25519 signatures over namespaced messages
//   pseudonymOf, walletIdentity,             a patient's per-institution identity
//     encryptionFromSigningSeed, deriveKeyPair, x25519PublicKey
//   chacha20*, poly1305, hchacha20,          RFC 8439 and draft-irtf-cfrg-xchacha
//     xchacha20Poly1305*
//   hpkeSeal, hpkeOpen                       RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256),
//                                            HKDF-SHA256, ChaCha20-Poly1305
//   encodeBody, decodeBody, validateBody,    the private bill body's canonical binary form
//     encodeChainId, encodeBillId, binding
//   sealBody, openBody, disclose             sealing bill bodies (medledger_privacy::seal)
//
// Keys, digests and ids cross the API as the JSON the Rust types serialize to: lowercase hex
// strings for keys, digests, nonces and ciphertexts, "CODE/NUMBER" for bill ids. Functions that
// take a key accept either its hex string or its bytes.

const subtle = globalThis.crypto.subtle;
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------
// Bytes and text

/** Lowercase hexadecimal of `bytes`. */
export function hex(bytes) {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** The bytes of hexadecimal `text` (either case, as the Rust side accepts). */
export function unhex(text) {
  if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError('expected an even number of hexadecimal characters');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

/** The arrays (or arrays of byte values) one after the other. */
export function concat(...arrays) {
  const out = new Uint8Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** UTF-8 of `text`. Refuses lone surrogates, which have no UTF-8 form (serde refuses them too). */
export function utf8(text) {
  if (typeof text !== 'string' || !text.isWellFormed()) {
    throw new TypeError('expected a well-formed string');
  }
  return new TextEncoder().encode(text);
}

/** The text of UTF-8 `bytes`; throws on invalid UTF-8. A leading BOM is kept, as Rust keeps it. */
export function fromUtf8(bytes) {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
}

/** Whether two byte arrays are equal, in time that depends only on their lengths. */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** `n` bytes from the platform's cryptographic generator. */
export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** The bytes of a fixed-size value given as hex or bytes; `what` names it in errors. */
function fixedBytes(value, length, what) {
  const bytes = typeof value === 'string' ? unhex(value) : value;
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new TypeError(`${what} must be ${length} bytes (or ${2 * length} hex characters)`);
  }
  return bytes;
}

function base64UrlDecode(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------------------------------------
// Hashing

/** Domain tags of `medledger_crypto::hash`, one per use, so no two kinds of object share digests. */
export const DOMAIN = Object.freeze({
  transactionId: 'medledger/tx-id/v1',
  billCheckCode: 'medledger/bill-check-code/v1',
  bodyCommitment: 'medledger/body-commitment/v1',
  sealedBody: 'medledger/sealed-body/v1',
  pseudonym: 'medledger/pseudonym/v1',
  blockTxRoot: 'medledger/block-tx-root/v1',
  blockDigest: 'medledger/block/v1',
  stateRoot: 'medledger/state-root/v1',
  stateCommitment: 'medledger/state-root/v2',
  stateLeaf: 'medledger/state-leaf/v1',
  genesis: 'medledger/genesis/v1',
  testKey: 'medledger/test-key/v1',
});

/** SHA-256 of `bytes`. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

/**
 * `medledger_crypto::hash`: SHA-256 of the tag's length (one byte), the tag, then the parts.
 * Hashing the length first keeps a tag from running into the data that follows it.
 */
export async function domainHash(tag, ...parts) {
  const tagBytes = utf8(tag);
  if (tagBytes.length > 255) throw new RangeError('domain tags are shorter than 256 bytes');
  return sha256(concat([tagBytes.length], tagBytes, ...parts));
}

/** HMAC-SHA256 (RFC 2104). */
export async function hmacSha256(key, data) {
  // WebCrypto refuses an empty HMAC key. HMAC pads keys with zeros to the block size, so an
  // empty key and 32 zero bytes are the same key; HKDF's "no salt" is exactly that case.
  const raw = key.length === 0 ? new Uint8Array(32) : key;
  const hmacKey = await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return new Uint8Array(await subtle.sign('HMAC', hmacKey, data));
}

/** HKDF-Extract with SHA-256 (RFC 5869 section 2.2). An empty salt means no salt. */
export async function hkdfExtract(salt, ikm) {
  return hmacSha256(salt, ikm);
}

/** HKDF-Expand with SHA-256 (RFC 5869 section 2.3). */
export async function hkdfExpand(prk, info, length) {
  if (length > 255 * 32) throw new RangeError('HKDF-SHA256 output is at most 8160 bytes');
  const out = new Uint8Array(length);
  let block = EMPTY;
  for (let i = 1, at = 0; at < length; i++) {
    block = await hmacSha256(prk, concat(block, info, [i]));
    out.set(block.subarray(0, Math.min(32, length - at)), at);
    at += 32;
  }
  return out;
}

/** HKDF-SHA256 without salt, as Rust's `Hkdf::<Sha256>::new(None, ikm).expand(info, ..)`. */
export async function hkdf(ikm, info, length) {
  return hkdfExpand(await hkdfExtract(EMPTY, ikm), info, length);
}

// ---------------------------------------------------------------------------------------------
// Ed25519 signatures

/** Signature namespaces of `medledger_crypto::Namespace`. */
export const NAMESPACE = Object.freeze({
  transaction: 'medledger/tx/v1',
  patientConsent: 'medledger/patient-consent/v1',
  apiRequest: 'medledger/api-request/v1',
});

// PKCS#8 (RFC 8410) wrappings of a raw 32-byte private key: everything before the key bytes.
const ED25519_PKCS8_PREFIX = unhex('302e020100300506032b657004220420');
const X25519_PKCS8_PREFIX = unhex('302e020100300506032b656e04220420');

/**
 * What an Ed25519 signature under `namespace` signs, as commonware-cryptography's
 * `union_unique` builds it: the namespace's length (varint), the namespace, the message.
 */
function namespacedMessage(namespace, message) {
  const ns = utf8(namespace);
  return concat(varint(ns.length), ns, message);
}

/** An Ed25519 signing key, as `medledger_crypto::SigningKey`. */
export class SigningKey {
  #key;

  constructor(key, publicKey) {
    this.#key = key;
    /** The 32-byte public key. */
    this.publicKey = publicKey;
  }

  /** The key with this 32-byte secret seed (`SigningKey::from_seed`). */
  static async fromSeed(seed) {
    const pkcs8 = concat(ED25519_PKCS8_PREFIX, fixedBytes(seed, 32, 'signing seed'));
    // WebCrypto gives the public key only by exporting the private one; the key kept for
    // signing is imported again, not extractable.
    const exportable = await subtle.importKey('pkcs8', pkcs8, 'Ed25519', true, ['sign']);
    const publicKey = base64UrlDecode((await subtle.exportKey('jwk', exportable)).x);
    const key = await subtle.importKey('pkcs8', pkcs8, 'Ed25519', false, ['sign']);
    return new SigningKey(key, publicKey);
  }

  /** The 64-byte signature of `message` (bytes) under `namespace` (one of NAMESPACE). */
  async sign(namespace, message) {
    const signed = namespacedMessage(namespace, message);
    return new Uint8Array(await subtle.sign('Ed25519', this.#key, signed));
  }
}

// ---------------------------------------------------------------------------------------------
// X25519 and a patient's identities

async function importX25519Secret(secret, extractable) {
  const pkcs8 = concat(X25519_PKCS8_PREFIX, fixedBytes(secret, 32, 'X25519 secret'));
  return subtle.importKey('pkcs8', pkcs8, 'X25519', extractable, ['deriveBits']);
}

/** The X25519 public key of a 32-byte secret. */
export async function x25519PublicKey(secret) {
  const key = await importX25519Secret(secret, true);
  return base64UrlDecode((await subtle.exportKey('jwk', key)).x);
}

/** X25519(secret, public). Refuses an all-zero result (a low-order public key), as HPKE must. */
async function x25519(secret, publicKey) {
  const privateKey = await importX25519Secret(secret, false);
  const peerBytes = fixedBytes(publicKey, 32, 'X25519 key');
  const peer = await subtle.importKey('raw', peerBytes, 'X25519', false, []);
  // Browsers already refuse an all-zero shared secret; the check below does not rely on it.
  const bits = await subtle.deriveBits({ name: 'X25519', public: peer }, privateKey, 256);
  const shared = new Uint8Array(bits);
  if (bytesEqual(shared, new Uint8Array(32))) throw new Error('X25519 with a low-order key');
  return shared;
}

/** `medledger_privacy::pseudonym_of`: the first 16 bytes of the key's hash under DOMAIN.pseudonym. */
export async function pseudonymOf(publicKey) {
  const digest = await domainHash(DOMAIN.pseudonym, fixedBytes(publicKey, 32, 'public key'));
  return digest.slice(0, 16);
}

const IDENTITY_INFO = 'medledger/patient-identity/v1';
const ENCRYPTION_FROM_SIGNING = 'medledger/encryption-key/v1';

/**
 * `EncryptionSecret::from_signing_key`: HKDF-SHA256 of the signing seed, then RFC 9180
 * DeriveKeyPair. Returns `{ secret, public }`, 32 bytes each.
 */
export async function encryptionFromSigningSeed(seed) {
  const ikm = await hkdf(fixedBytes(seed, 32, 'signing seed'), utf8(ENCRYPTION_FROM_SIGNING), 32);
  return deriveKeyPair(ikm);
}

/**
 * `Wallet::identity`: a patient's identity at one institution, from the wallet's 32-byte seed.
 * Returns `{ institution, pseudonym, publicKey, signingSeed, signingKey, encryptionSecret,
 * encryptionPublic }` (bytes, and the SigningKey).
 */
export async function walletIdentity(seed, institutionId) {
  checkIdent(institutionId, 'institution id');
  const info = concat(utf8(IDENTITY_INFO), utf8(institutionId));
  const signingSeed = await hkdf(fixedBytes(seed, 32, 'wallet seed'), info, 32);
  const signingKey = await SigningKey.fromSeed(signingSeed);
  const encryption = await encryptionFromSigningSeed(signingSeed);
  return {
    institution: institutionId,
    pseudonym: await pseudonymOf(signingKey.publicKey),
    publicKey: signingKey.publicKey,
    signingSeed,
    signingKey,
    encryptionSecret: encryption.secret,
    encryptionPublic: encryption.public,
  };
}

// ---------------------------------------------------------------------------------------------
// ChaCha20 (RFC 8439 section 2.3-2.4) and HChaCha20 (draft-irtf-cfrg-xchacha section 2.2)

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

function readWordsLE(bytes, count) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => view.getUint32(4 * i, true));
}

/** The 16 words after 20 rounds (10 double rounds) of `state`, without the final addition. */
function chachaRounds(state) {
  const x = Uint32Array.from(state);
  const quarter = (a, b, c, d) => {
    x[a] += x[b]; x[d] ^= x[a]; x[d] = (x[d] << 16) | (x[d] >>> 16);
    x[c] += x[d]; x[b] ^= x[c]; x[b] = (x[b] << 12) | (x[b] >>> 20);
    x[a] += x[b]; x[d] ^= x[a]; x[d] = (x[d] << 8) | (x[d] >>> 24);
    x[c] += x[d]; x[b] ^= x[c]; x[b] = (x[b] << 7) | (x[b] >>> 25);
  };
  for (let i = 0; i < 10; i++) {
    quarter(0, 4, 8, 12); quarter(1, 5, 9, 13); quarter(2, 6, 10, 14); quarter(3, 7, 11, 15);
    quarter(0, 5, 10, 15); quarter(1, 6, 11, 12); quarter(2, 7, 8, 13); quarter(3, 4, 9, 14);
  }
  return x;
}

/** One 64-byte ChaCha20 block: 32-byte key, 32-bit block counter, 12-byte nonce. */
export function chacha20Block(key, counter, nonce) {
  const state = [...SIGMA, ...readWordsLE(key, 8), counter >>> 0, ...readWordsLE(nonce, 3)];
  const x = chachaRounds(state);
  const out = new Uint8Array(64);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 16; i++) view.setUint32(4 * i, (x[i] + state[i]) >>> 0, true);
  return out;
}

/** ChaCha20 encryption (or decryption) of `data`, starting at block `counter`. */
export function chacha20(key, nonce, counter, data) {
  if (key.length !== 32 || nonce.length !== 12) {
    throw new TypeError('ChaCha20 takes a 32-byte key and a 12-byte nonce');
  }
  if (counter + Math.ceil(data.length / 64) > 2 ** 32) {
    throw new RangeError('ChaCha20 block counter overflow');
  }
  const out = new Uint8Array(data.length);
  for (let at = 0, block = counter; at < data.length; at += 64, block++) {
    const stream = chacha20Block(key, block, nonce);
    const end = Math.min(at + 64, data.length);
    for (let i = at; i < end; i++) out[i] = data[i] ^ stream[i - at];
  }
  return out;
}

/** HChaCha20: a 32-byte subkey from a 32-byte key and a 16-byte nonce. */
export function hchacha20(key, nonce16) {
  if (key.length !== 32 || nonce16.length !== 16) {
    throw new TypeError('HChaCha20 takes a 32-byte key and a 16-byte nonce');
  }
  const x = chachaRounds([...SIGMA, ...readWordsLE(key, 8), ...readWordsLE(nonce16, 4)]);
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((word, i) => view.setUint32(4 * i, x[word], true));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Poly1305 (RFC 8439 section 2.5)
//
// Numbers mod p = 2^130 - 5 are ten 13-bit limbs held in doubles. A product of two limbs, even
// times 5, stays below 2^31 and a row of ten below 2^35, far inside the 2^53 that doubles hold
// exactly, so the arithmetic is exact without BigInt, whose timing depends on the values.

const LIMB = 8192; // 2^13

/** Ten 13-bit limbs of the little-endian number in `bytes` (at most 17 bytes). */
function limbs(bytes) {
  const padded = new Uint8Array(19);
  padded.set(bytes);
  const out = new Float64Array(10);
  for (let i = 0; i < 10; i++) {
    const bit = 13 * i;
    const at = bit >>> 3;
    const window = padded[at] | (padded[at + 1] << 8) | (padded[at + 2] << 16);
    out[i] = (window >>> (bit & 7)) & 0x1fff;
  }
  return out;
}

/** Carries `h`, folding 2^130 back in as 5: every limb ends below 2^13 but the second, a little over. */
function carry(h) {
  let c = 0;
  for (let i = 0; i < 10; i++) {
    h[i] += c;
    c = Math.floor(h[i] / LIMB);
    h[i] -= c * LIMB;
  }
  h[0] += 5 * c;
  c = Math.floor(h[0] / LIMB);
  h[0] -= c * LIMB;
  h[1] += c;
}

/** h = h × r mod p, with r's limbs and r's limbs times 5 precomputed. */
function multiply(h, r, r5) {
  const d = new Float64Array(10);
  for (let i = 0; i < 10; i++) {
    let sum = 0;
    for (let j = 0; j < 10; j++) sum += h[j] * (j <= i ? r[i - j] : r5[i + 10 - j]);
    d[i] = sum;
  }
  h.set(d);
  carry(h);
}

/** The 16-byte Poly1305 tag of `message` under a one-time 32-byte key. */
export function poly1305(key, message) {
  if (key.length !== 32) throw new TypeError('Poly1305 takes a 32-byte key');
  const clamped = key.slice(0, 16);
  for (const i of [3, 7, 11, 15]) clamped[i] &= 15;
  for (const i of [4, 8, 12]) clamped[i] &= 252;
  const r = limbs(clamped);
  const r5 = r.map((limb) => 5 * limb);
  const h = new Float64Array(10);
  for (let at = 0; at < message.length; at += 16) {
    const chunk = message.subarray(at, Math.min(at + 16, message.length));
    const m = limbs(concat(chunk, [1])); // the block with a 1 byte after it (2^(8·length))
    for (let i = 0; i < 10; i++) h[i] += m[i];
    multiply(h, r, r5);
  }
  // Fully reduce: carry twice (the second leaves h < 2^130), then take h - p when h ≥ p.
  carry(h);
  carry(h);
  const g = new Float64Array(10);
  let c = 5;
  for (let i = 0; i < 10; i++) {
    g[i] = h[i] + c;
    c = Math.floor(g[i] / LIMB);
    g[i] -= c * LIMB;
  }
  // c is the bit 2^130 of h + 5, set exactly when h ≥ p; choose g or h without branching.
  const reduced = h.map((limb, i) => c * g[i] + (1 - c) * limb);
  // Tag = (h + s) mod 2^128, written little-endian.
  const s = key.subarray(16, 32);
  const tag = new Uint8Array(16);
  let acc = 0;
  let bits = 0;
  let limb = 0;
  let sum = 0;
  for (let i = 0; i < 16; i++) {
    while (bits < 8) {
      acc += reduced[limb++] * 2 ** bits;
      bits += 13;
    }
    sum += (acc % 256) + s[i];
    tag[i] = sum & 0xff;
    sum = sum >>> 8;
    acc = Math.floor(acc / 256);
    bits -= 8;
  }
  return tag;
}

// ---------------------------------------------------------------------------------------------
// ChaCha20-Poly1305 (RFC 8439 section 2.8) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha)

const TAG_LEN = 16;

function le64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

function pad16(length) {
  return new Uint8Array((16 - (length % 16)) % 16);
}

function aeadTag(key, nonce, aad, ciphertext) {
  const oneTimeKey = chacha20Block(key, 0, nonce).subarray(0, 32);
  const macData = concat(
    aad,
    pad16(aad.length),
    ciphertext,
    pad16(ciphertext.length),
    le64(aad.length),
    le64(ciphertext.length),
  );
  return poly1305(oneTimeKey, macData);
}

/** ChaCha20-Poly1305 encryption: the ciphertext with its 16-byte tag appended. */
export function chacha20Poly1305Seal(key, nonce, plaintext, aad = EMPTY) {
  const ciphertext = chacha20(key, nonce, 1, plaintext);
  return concat(ciphertext, aeadTag(key, nonce, aad, ciphertext));
}

/** ChaCha20-Poly1305 decryption of ciphertext ‖ tag; throws if it does not authenticate. */
export function chacha20Poly1305Open(key, nonce, sealed, aad = EMPTY) {
  if (sealed.length < TAG_LEN) throw new Error('ChaCha20-Poly1305: authentication failed');
  const ciphertext = sealed.subarray(0, sealed.length - TAG_LEN);
  const tag = sealed.subarray(sealed.length - TAG_LEN);
  if (!bytesEqual(aeadTag(key, nonce, aad, ciphertext), tag)) {
    throw new Error('ChaCha20-Poly1305: authentication failed');
  }
  return chacha20(key, nonce, 1, ciphertext);
}

/** The ChaCha20-Poly1305 key and nonce XChaCha20-Poly1305 uses for a 24-byte nonce. */
function xchachaKeyAndNonce(key, nonce) {
  if (nonce.length !== 24) throw new TypeError('XChaCha20-Poly1305 takes a 24-byte nonce');
  return [hchacha20(key, nonce.subarray(0, 16)), concat(new Uint8Array(4), nonce.subarray(16))];
}

/** XChaCha20-Poly1305 encryption: the ciphertext with its 16-byte tag appended. */
export function xchacha20Poly1305Seal(key, nonce, plaintext, aad = EMPTY) {
  const [subkey, nonce12] = xchachaKeyAndNonce(key, nonce);
  return chacha20Poly1305Seal(subkey, nonce12, plaintext, aad);
}

/** XChaCha20-Poly1305 decryption of ciphertext ‖ tag; throws if it does not authenticate. */
export function xchacha20Poly1305Open(key, nonce, sealed, aad = EMPTY) {
  const [subkey, nonce12] = xchachaKeyAndNonce(key, nonce);
  return chacha20Poly1305Open(subkey, nonce12, sealed, aad);
}

// ---------------------------------------------------------------------------------------------
// HPKE (RFC 9180), base mode, single shot, with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
// ChaCha20-Poly1305: KEM 0x0020, KDF 0x0001, AEAD 0x0003.

const HPKE_V1 = utf8('HPKE-v1');
const KEM_SUITE = concat(utf8('KEM'), [0x00, 0x20]);
const HPKE_SUITE = concat(utf8('HPKE'), [0x00, 0x20, 0x00, 0x01, 0x00, 0x03]);

async function labeledExtract(suite, salt, label, ikm) {
  return hkdfExtract(salt, concat(HPKE_V1, suite, utf8(label), ikm));
}

async function labeledExpand(suite, prk, label, info, length) {
  const labeledInfo = concat([length >> 8, length & 0xff], HPKE_V1, suite, utf8(label), info);
  return hkdfExpand(prk, labeledInfo, length);
}

/**
 * RFC 9180 DeriveKeyPair for DHKEM(X25519, HKDF-SHA256): `{ secret, public }` from `ikm`.
 * The secret is serialized as RFC 9180 section 7.1.2 requires, clamped (RFC 7748 section 5),
 * which is what Rust's `EncryptionSecret::to_bytes` writes; X25519 clamps anyway, so the
 * clamped and unclamped forms are the same key.
 */
export async function deriveKeyPair(ikm) {
  const prk = await labeledExtract(KEM_SUITE, EMPTY, 'dkp_prk', ikm);
  const secret = await labeledExpand(KEM_SUITE, prk, 'sk', EMPTY, 32);
  secret[0] &= 248;
  secret[31] = (secret[31] & 127) | 64;
  return { secret, public: await x25519PublicKey(secret) };
}

/** The KEM's shared secret from the Diffie-Hellman result and enc ‖ pkR. */
async function extractAndExpand(dh, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, EMPTY, 'eae_prk', dh);
  return labeledExpand(KEM_SUITE, prk, 'shared_secret', kemContext, 32);
}

/** The base-mode key schedule: the AEAD key and base nonce (the first message uses it as is). */
async function keySchedule(sharedSecret, info) {
  const pskIdHash = await labeledExtract(HPKE_SUITE, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = await labeledExtract(HPKE_SUITE, EMPTY, 'info_hash', info);
  const context = concat([0x00], pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, sharedSecret, 'secret', EMPTY);
  return {
    key: await labeledExpand(HPKE_SUITE, secret, 'key', context, 32),
    nonce: await labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12),
  };
}

/**
 * Encrypts `plaintext` to `recipientPublic`. Returns `{ enc, ciphertext }` (the encapsulated
 * key, and the ciphertext with its tag). `ephemeralSecret` is fresh randomness unless given
 * (only test vectors give it).
 */
export async function hpkeSeal(recipientPublic, info, aad, plaintext, ephemeralSecret) {
  ephemeralSecret ??= randomBytes(32);
  const pkR = fixedBytes(recipientPublic, 32, 'recipient key');
  const enc = await x25519PublicKey(ephemeralSecret);
  const sharedSecret = await extractAndExpand(await x25519(ephemeralSecret, pkR), concat(enc, pkR));
  const { key, nonce } = await keySchedule(sharedSecret, info);
  return { enc, ciphertext: chacha20Poly1305Seal(key, nonce, plaintext, aad) };
}

/** Decrypts what `hpkeSeal` encrypted to the public key of `recipientSecret`; throws if it cannot. */
export async function hpkeOpen(recipientSecret, enc, info, aad, ciphertext) {
  const pkR = await x25519PublicKey(recipientSecret);
  const sharedSecret = await extractAndExpand(await x25519(recipientSecret, enc), concat(enc, pkR));
  const { key, nonce } = await keySchedule(sharedSecret, info);
  return chacha20Poly1305Open(key, nonce, ciphertext, aad);
}

// ---------------------------------------------------------------------------------------------
// Canonical binary forms (commonware-codec): fixed-width integers are big-endian, lengths and
// counts are varints (LEB128, at most a u32, shortest form only), strings are a length and UTF-8.

/** Bounds of `medledger_privacy::body` and `medledger_types::limits`. */
export const LIMITS = Object.freeze({
  bodyTextBytes: 256,
  bodyDiagnosisBytes: 1024,
  bodyItems: 1000,
  bodyCiphertextBytes: 64 * 1024,
  bodyWraps: 8,
  identBytes: 32,
});

const U64_MAX = (1n << 64n) - 1n;

function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function u32(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

function u64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), false);
  return out;
}

function text(value) {
  const bytes = utf8(value);
  return concat(varint(bytes.length), bytes);
}

/** Reads a canonical encoding front to back; every method throws on malformed input. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  take(n) {
    if (this.at + n > this.bytes.length) throw new Error('codec: end of buffer');
    this.at += n;
    return this.bytes.subarray(this.at - n, this.at);
  }

  u8() {
    return this.take(1)[0];
  }

  u32() {
    this.take(4);
    return this.view.getUint32(this.at - 4, false);
  }

  /** A u64 as a Number when it is exactly one (below 2^53), else as a BigInt. */
  u64() {
    this.take(8);
    const value = this.view.getBigUint64(this.at - 8, false);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  /** A length or count, at most `max`. */
  length(max) {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.u8();
      if (shift === 28 && byte > 0x0f) throw new Error('codec: varint exceeds a u32');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && shift > 0) throw new Error('codec: varint not in its shortest form');
        break;
      }
    }
    if (value > max) throw new Error(`codec: length ${value} over the limit of ${max}`);
    return value;
  }

  text(max) {
    return fromUtf8(this.take(this.length(max)));
  }

  end() {
    if (this.at !== this.bytes.length) throw new Error('codec: trailing bytes');
  }
}

/** Charge categories in the order of their one-byte tags, with their serde (snake_case) names. */
export const CHARGE_CATEGORIES = Object.freeze([
  'consultation',
  'examination',
  'imaging',
  'treatment',
  'surgery',
  'western_medicine',
  'chinese_medicine',
  'materials',
  'bed',
  'other',
]);

const BODY_FIELDS = ['patient_name', 'patient_id', 'department', 'diagnosis', 'items', 'payment_channel'];
const ITEM_FIELDS = ['code', 'name', 'category', 'unit_price', 'quantity', 'amount', 'self_paid'];

/** Checks that `object` has exactly `fields`, as serde's `deny_unknown_fields` does. */
function checkFields(object, fields, what) {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new TypeError(`${what} must be an object`);
  }
  for (const key of Object.keys(object)) {
    if (!fields.includes(key)) throw new TypeError(`${what}: unknown field ${key}`);
  }
  for (const key of fields) {
    if (!(key in object)) throw new TypeError(`${what}: missing field ${key}`);
  }
}

function checkString(value, what) {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
}

/** An amount of fen (a u64) given as a Number (a safe integer) or a BigInt, as a BigInt. */
function fen(value, what) {
  const ok =
    (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === 'bigint' && value >= 0n && value <= U64_MAX);
  if (!ok) throw new TypeError(`${what} must be a whole number of fen from 0 to 2^64 - 1`);
  return BigInt(value);
}

function checkQuantity(value, what) {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new TypeError(`${what} must be a whole number from 0 to 2^32 - 1`);
  }
  return value;
}

/** Checks a body's JSON shape and types, as deserializing `PrivateBody` would. */
function checkBodyShape(body) {
  checkFields(body, BODY_FIELDS, 'body');
  for (const field of BODY_FIELDS) if (field !== 'items') checkString(body[field], field);
  if (!Array.isArray(body.items)) throw new TypeError('items must be an array');
  body.items.forEach((item, i) => {
    const at = `items[${i}]`;
    checkFields(item, ITEM_FIELDS, at);
    checkString(item.code, `${at}.code`);
    checkString(item.name, `${at}.name`);
    if (!CHARGE_CATEGORIES.includes(item.category)) {
      throw new TypeError(`${at}.category: unknown category`);
    }
    for (const field of ['unit_price', 'amount', 'self_paid']) fen(item[field], `${at}.${field}`);
    checkQuantity(item.quantity, `${at}.quantity`);
  });
}

/**
 * The canonical encoding of a private body (`PrivateBody`'s `Write`), given in its JSON shape:
 * `{ patient_name, patient_id, department, diagnosis, items: [{ code, name, category,
 * unit_price, quantity, amount, self_paid }], payment_channel }`. Amounts are fen, as Numbers
 * (or BigInts). Checks the shape and types, not the limits: see `validateBody`.
 */
export function encodeBody(body) {
  checkBodyShape(body);
  const items = body.items.map((item) =>
    concat(
      text(item.code),
      text(item.name),
      [CHARGE_CATEGORIES.indexOf(item.category)],
      u64(item.unit_price),
      u32(item.quantity),
      u64(item.amount),
      u64(item.self_paid),
    ),
  );
  return concat(
    text(body.patient_name),
    text(body.patient_id),
    text(body.department),
    text(body.diagnosis),
    varint(items.length),
    ...items,
    text(body.payment_channel),
  );
}

/**
 * The body a canonical encoding holds, in its JSON shape; throws on anything `PrivateBody`'s
 * `Read` refuses (lengths over their limits, invalid UTF-8, unknown categories, trailing bytes).
 * Amounts of 2^53 fen or more, which a Number cannot hold exactly, come back as BigInts.
 */
export function decodeBody(bytes) {
  const r = new Reader(bytes);
  const body = {
    patient_name: r.text(LIMITS.bodyTextBytes),
    patient_id: r.text(LIMITS.bodyTextBytes),
    department: r.text(LIMITS.bodyTextBytes),
    diagnosis: r.text(LIMITS.bodyDiagnosisBytes),
    items: [],
    payment_channel: '',
  };
  const count = r.length(LIMITS.bodyItems);
  for (let i = 0; i < count; i++) {
    const code = r.text(LIMITS.bodyTextBytes);
    const name = r.text(LIMITS.bodyTextBytes);
    const category = CHARGE_CATEGORIES[r.u8()];
    if (category === undefined) throw new Error('codec: unknown charge category');
    const unit_price = r.u64();
    const quantity = r.u32();
    const amount = r.u64();
    const self_paid = r.u64();
    body.items.push({ code, name, category, unit_price, quantity, amount, self_paid });
  }
  body.payment_channel = r.text(LIMITS.bodyTextBytes);
  r.end();
  return body;
}

/** Fen shown as yuan with two decimals, as Rust's `Display for Fen`: 9750 is "97.50". */
function yuan(amount) {
  return `${amount / 100n}.${String(amount % 100n).padStart(2, '0')}`;
}

/**
 * `PrivateBody::validate`: returns null for a valid body, else the message Rust's `BodyError`
 * gives (fields and positions, never content). Checks the shape first (throws TypeError).
 */
export function validateBody(body) {
  checkBodyShape(body);
  const tooLong = (field, value, max) => {
    const len = utf8(value).length;
    return len > max ? `${field} is ${len} bytes, more than the limit of ${max}` : null;
  };
  const texts = [
    ['patient_name', LIMITS.bodyTextBytes],
    ['patient_id', LIMITS.bodyTextBytes],
    ['department', LIMITS.bodyTextBytes],
    ['diagnosis', LIMITS.bodyDiagnosisBytes],
    ['payment_channel', LIMITS.bodyTextBytes],
  ];
  for (const [field, max] of texts) {
    const error = tooLong(field, body[field], max);
    if (error) return error;
  }
  if (body.items.length > LIMITS.bodyItems) {
    return `${body.items.length} itemised charges, more than the limit of ${LIMITS.bodyItems}`;
  }
  for (const [index, item] of body.items.entries()) {
    const error =
      tooLong(`items[${index}].code`, item.code, LIMITS.bodyTextBytes) ??
      tooLong(`items[${index}].name`, item.name, LIMITS.bodyTextBytes);
    if (error) return error;
    const expected = fen(item.unit_price, '') * BigInt(item.quantity);
    if (expected > U64_MAX) return `items[${index}]: unit price × quantity overflows`;
    const amount = fen(item.amount, '');
    if (amount !== expected) {
      return `items[${index}]: amount ${yuan(amount)} is not unit price × quantity = ${yuan(expected)}`;
    }
    const selfPaid = fen(item.self_paid, '');
    if (selfPaid > amount) {
      return `items[${index}]: self-paid ${yuan(selfPaid)} is more than the amount ${yuan(amount)}`;
    }
  }
  return null;
}

function checkIdent(value, what) {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(value)) {
    throw new TypeError(`${what} must be 1-${LIMITS.identBytes} characters of a-z A-Z 0-9 - _ .`);
  }
}

/** The encoding of a `ChainId`: its length (varint) and its ASCII bytes. */
export function encodeChainId(chainId) {
  checkIdent(chainId, 'chain id');
  return text(chainId);
}

/** The encoding of a `BillId` written "CODE/NUMBER" (8 and 10 digits): u32 code, u64 number. */
export function encodeBillId(billId) {
  const match = typeof billId === 'string' ? /^(\d{8})\/(\d{10})$/.exec(billId) : null;
  if (!match) throw new TypeError('bill id must be written CODE/NUMBER (8 and 10 digits)');
  return concat(u32(Number(match[1])), u64(BigInt(match[2])));
}

/**
 * `prefix ‖ chain ‖ bill` (seal.rs `binding`): the associated data of a body's ciphertext
 * (prefix BODY_AAD) and the HPKE info of its key wraps (prefix KEY_INFO).
 */
export function binding(prefix, chainId, billId) {
  const prefixBytes = typeof prefix === 'string' ? utf8(prefix) : prefix;
  return concat(prefixBytes, encodeChainId(chainId), encodeBillId(billId));
}

// ---------------------------------------------------------------------------------------------
// Sealed bill bodies (medledger_privacy::seal)
//
//   sealBody:  salt, data key, nonce fresh; commitment = H(salt ‖ body);
//              ciphertext = XChaCha20-Poly1305(key, nonce, salt ‖ body, BODY_AAD ‖ chain ‖ bill);
//              each reader's wrap = HPKE(reader, key, info = KEY_INFO ‖ chain ‖ bill)
//   openBody:  unwrap, decrypt, decode, validate, check the commitment
//   disclose:  unwrap one's own wrap and wrap the key again to a payer

export const BODY_AAD = 'medledger/bill-body/v1';
export const KEY_INFO = 'medledger/bill-key/v1';
const SALT_LEN = 32;
const DATA_KEY_LEN = 32;

/** Why a body could not be opened or disclosed: `kind` is OpenError's variant in snake_case. */
export class OpenError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'OpenError';
    this.kind = kind;
  }
}

const openErrors = {
  noWrapForKey: () => new OpenError('no_wrap_for_key', 'the body is not wrapped to this key'),
  unwrapFailed: () =>
    new OpenError(
      'unwrap_failed',
      "the key wrap does not open with this secret (another reader's wrap, or tampered)",
    ),
  tampered: () =>
    new OpenError(
      'tampered',
      'the sealed body failed authentication (tampered, or presented for another bill)',
    ),
  malformed: (why) => new OpenError('malformed', `the sealed body decrypted but is not a valid body: ${why}`),
  commitmentMismatch: () =>
    new OpenError('commitment_mismatch', "the body does not match the bill's commitment"),
  badRecipient: (key) => new OpenError('bad_recipient', `${key} is not a usable encryption key`),
};

/** Why a body could not be sealed: `kind` is SealError's variant in snake_case. */
export class SealError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'SealError';
    this.kind = kind;
  }
}

/** Wraps a bill's data key to `to` (a KeyWrap in its JSON shape). */
async function wrapKey(chainId, billId, key, to) {
  const info = binding(KEY_INFO, chainId, billId);
  const { enc, ciphertext } = await hpkeSeal(to, info, EMPTY, key);
  return { recipient: hex(to), encapsulated: hex(enc), wrapped_key: hex(ciphertext) };
}

/** Unwraps a bill's data key from `wrap` with the reader's secret; throws OpenError. */
async function unwrapKey(chainId, billId, wrap, secret, ownPublic) {
  if (!bytesEqual(fixedBytes(wrap.recipient, 32, 'wrap recipient'), ownPublic)) {
    throw openErrors.unwrapFailed();
  }
  const enc = fixedBytes(wrap.encapsulated, 32, 'encapsulated key');
  const wrapped = fixedBytes(wrap.wrapped_key, DATA_KEY_LEN + TAG_LEN, 'wrapped key');
  const info = binding(KEY_INFO, chainId, billId);
  let key;
  try {
    key = await hpkeOpen(secret, enc, info, EMPTY, wrapped);
  } catch {
    throw openErrors.unwrapFailed();
  }
  if (key.length !== DATA_KEY_LEN) throw openErrors.unwrapFailed();
  return key;
}

/** The wrap of `sealed` addressed to `publicKey`, if any. */
function wrapFor(sealed, publicKey) {
  const addressed = (wrap) => bytesEqual(fixedBytes(wrap.recipient, 32, 'wrap recipient'), publicKey);
  return sealed.wraps.find(addressed);
}

/**
 * `medledger_privacy::seal`: seals `body` (JSON shape) of bill `billId` on chain `chainId` for
 * `readerPublicKeys` (hex or bytes), in that order. Returns `{ sealed, commitment }`: `sealed`
 * as serde writes `SealedBody` (`{ nonce, ciphertext, wraps: [{ recipient, encapsulated,
 * wrapped_key }] }`, all hex) and the commitment as hex, ready for an IssueBills transaction.
 * Throws SealError for what Rust's `SealError` refuses.
 */
export async function sealBody(chainId, billId, body, readerPublicKeys) {
  if (readerPublicKeys.length === 0) {
    throw new SealError('no_readers', 'a sealed body needs at least one reader');
  }
  if (readerPublicKeys.length > LIMITS.bodyWraps) {
    throw new SealError(
      'too_many_readers',
      `${readerPublicKeys.length} readers, more than the limit of ${LIMITS.bodyWraps}`,
    );
  }
  const readers = readerPublicKeys.map((key) => fixedBytes(key, 32, 'reader key'));
  readers.forEach((reader, i) => {
    if (readers.slice(0, i).some((earlier) => bytesEqual(earlier, reader))) {
      throw new SealError('duplicate_reader', `reader ${hex(reader)} is listed twice`);
    }
  });
  const invalid = validateBody(body);
  if (invalid) throw new SealError('invalid_body', `invalid body: ${invalid}`);
  const encoded = encodeBody(body);
  const bytes = SALT_LEN + encoded.length + TAG_LEN;
  if (bytes > LIMITS.bodyCiphertextBytes) {
    throw new SealError(
      'too_large',
      `the sealed body would be ${bytes} bytes, more than the limit of ${LIMITS.bodyCiphertextBytes}`,
    );
  }

  const key = randomBytes(DATA_KEY_LEN);
  const salt = randomBytes(SALT_LEN);
  const nonce = randomBytes(24);
  const commitment = await domainHash(DOMAIN.bodyCommitment, salt, encoded);
  const aad = binding(BODY_AAD, chainId, billId);
  const ciphertext = xchacha20Poly1305Seal(key, nonce, concat(salt, encoded), aad);
  const wraps = [];
  for (const reader of readers) {
    try {
      wraps.push(await wrapKey(chainId, billId, key, reader));
    } catch {
      throw new SealError('bad_reader', `${hex(reader)} is not a usable encryption key`);
    }
  }
  return {
    sealed: { nonce: hex(nonce), ciphertext: hex(ciphertext), wraps },
    commitment: hex(commitment),
  };
}

/**
 * Opens a sealed body (serde JSON shape) with the reader's 32-byte encryption secret and checks
 * it against the bill's `commitment` (hex). Uses the wrap addressed to the secret's public key
 * (`open_own`), or `wrap` when given (`open`, for a payer holding a disclosure's wrap).
 * Returns the body in its JSON shape; throws OpenError as Rust's `OpenError`.
 */
export async function openBody(chainId, billId, sealed, commitment, encryptionSecret, wrap) {
  const ownPublic = await x25519PublicKey(encryptionSecret);
  const chosen = wrap ?? wrapFor(sealed, ownPublic);
  if (!chosen) throw openErrors.noWrapForKey();
  const key = await unwrapKey(chainId, billId, chosen, encryptionSecret, ownPublic);

  const nonce = fixedBytes(sealed.nonce, 24, 'nonce');
  const aad = binding(BODY_AAD, chainId, billId);
  let plaintext;
  try {
    plaintext = xchacha20Poly1305Open(key, nonce, unhex(sealed.ciphertext), aad);
  } catch {
    throw openErrors.tampered();
  }
  if (plaintext.length < SALT_LEN) throw openErrors.malformed('shorter than its salt');
  const salt = plaintext.subarray(0, SALT_LEN);
  const encoded = plaintext.subarray(SALT_LEN);
  let body;
  try {
    body = decodeBody(encoded);
  } catch {
    throw openErrors.malformed('not a canonical body encoding');
  }
  if (validateBody(body) !== null) {
    throw openErrors.malformed("a limit or an item's arithmetic does not hold");
  }
  // Decoding consumed every byte, so `encoded` is the body's canonical encoding.
  const digest = await domainHash(DOMAIN.bodyCommitment, salt, encoded);
  if (!bytesEqual(digest, fixedBytes(commitment, 32, 'commitment'))) {
    throw openErrors.commitmentMismatch();
  }
  return body;
}

/**
 * `medledger_privacy::disclose`: the patient's consent for a payer to read one bill. Unwraps
 * the data key with the reader's own wrap and wraps it to `payerEncryptionKey` (hex or bytes).
 * Returns the Disclosure as serde writes it: `{ bill: "CODE/NUMBER", wrap: { recipient,
 * encapsulated, wrapped_key } }`. Throws OpenError.
 */
export async function disclose(chainId, billId, sealed, readerSecret, payerEncryptionKey) {
  const ownPublic = await x25519PublicKey(readerSecret);
  const own = wrapFor(sealed, ownPublic);
  if (!own) throw openErrors.noWrapForKey();
  const key = await unwrapKey(chainId, billId, own, readerSecret, ownPublic);
  const payer = fixedBytes(payerEncryptionKey, 32, 'payer key');
  try {
    return { bill: billId, wrap: await wrapKey(chainId, billId, key, payer) };
  } catch {
    throw openErrors.badRecipient(hex(payer));
  }
}
