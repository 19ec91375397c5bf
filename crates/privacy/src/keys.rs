//! X25519 secrets for reading bill bodies.

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, Serializable};
use medledger_crypto::SigningKey;
use medledger_types::EncryptionKey;
use zeroize::Zeroizing;

/// Info string of the derivation of a body-reading key from a signing key's seed.
const FROM_SIGNING_KEY: &[u8] = b"medledger/encryption-key/v1";

/// An X25519 secret that opens bill bodies wrapped to its public key. Its `Debug` output never
/// shows the secret, and its bytes are wiped when dropped.
#[derive(Clone)]
pub struct EncryptionSecret {
    secret: <X25519HkdfSha256 as hpke::Kem>::PrivateKey,
    public: EncryptionKey,
}

impl std::fmt::Debug for EncryptionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionSecret({})", self.public)
    }
}

impl EncryptionSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let (secret, public) = X25519HkdfSha256::gen_keypair();
        Self::from_pair(secret, &public)
    }

    /// The secret derived (RFC 9180 DeriveKeyPair) from 32 bytes of keying material.
    pub fn derive(ikm: &[u8; 32]) -> Self {
        let (secret, public) = X25519HkdfSha256::derive_keypair(ikm);
        Self::from_pair(secret, &public)
    }

    /// The body-reading secret that belongs with a signing key: members and patients keep one
    /// key file, and its seed yields both keys.
    pub fn from_signing_key(key: &SigningKey) -> Self {
        let seed = Zeroizing::new(key.seed());
        let mut ikm = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, seed.as_slice())
            .expand(FROM_SIGNING_KEY, ikm.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self::derive(&ikm)
    }

    /// The secret from its 32 stored bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let secret = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(bytes).ok()?;
        let public = X25519HkdfSha256::sk_to_pk(&secret);
        Some(Self::from_pair(secret, &public))
    }

    /// The 32 secret bytes, for storing in an owner-only file.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.secret.to_bytes());
        out
    }

    /// The public key bodies are wrapped to.
    pub fn public(&self) -> EncryptionKey {
        self.public
    }

    /// The HPKE secret, for unwrapping.
    pub(crate) fn hpke_secret(&self) -> &<X25519HkdfSha256 as hpke::Kem>::PrivateKey {
        &self.secret
    }

    fn from_pair(
        secret: <X25519HkdfSha256 as hpke::Kem>::PrivateKey,
        public: &<X25519HkdfSha256 as hpke::Kem>::PublicKey,
    ) -> Self {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&public.to_bytes());
        Self { secret, public: EncryptionKey(bytes) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_from_a_signing_key_is_stable_and_distinct() {
        let a = SigningKey::from_label("a");
        let b = SigningKey::from_label("b");
        assert_eq!(
            EncryptionSecret::from_signing_key(&a).public(),
            EncryptionSecret::from_signing_key(&a).public()
        );
        assert_ne!(
            EncryptionSecret::from_signing_key(&a).public(),
            EncryptionSecret::from_signing_key(&b).public()
        );
        let secret = EncryptionSecret::generate();
        let again = EncryptionSecret::from_bytes(&secret.to_bytes()).expect("valid");
        assert_eq!(secret.public(), again.public());
    }
}
