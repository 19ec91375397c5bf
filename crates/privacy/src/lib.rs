//! Private bill bodies, patient pseudonyms and erasure.
//!
//! A bill's private body (patient name and identifiers, department, diagnosis, itemised
//! charges, payment channel) is encrypted by the issuing hospital under a fresh per-bill data
//! key with XChaCha20-Poly1305. The data key is wrapped to each entitled reader's X25519 key with
//! HPKE (RFC 9180, base mode). The public header commits to the body with a salted hash. See
//! `docs/design/0007-privacy.md`.

mod keys;

pub use keys::EncryptionSecret;
