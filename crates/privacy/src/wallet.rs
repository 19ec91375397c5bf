//! A patient's wallet: one secret seed, and from it a separate identity at each institution.
//!
//! Each institution knows the patient by a different pseudonym, signing key and encryption key,
//! all derived from the seed and the institution's id. Without the seed, nothing links the
//! identities a patient uses at two hospitals; with it, the patient can recover every one.
//!
//! ```text
//! seed ──HKDF-SHA256(info = "medledger/patient-identity/v1" ‖ institution)──▶ signing seed
//! signing seed ──▶ signing key ──▶ public key ──H(Pseudonym)[..16]──▶ pseudonym
//!             └──▶ encryption secret (EncryptionSecret::from_signing_key)
//! ```

use crate::keys::EncryptionSecret;
use chacha20poly1305::aead::Generate;
use medledger_crypto::{PublicKey, SigningKey};
use medledger_types::{MemberId, Pseudonym};
use std::fmt;
use zeroize::Zeroizing;

/// HKDF info prefix of a per-institution identity; the institution's id follows. Member ids
/// are the whole remainder, so no two institutions share an info string.
const IDENTITY_INFO: &[u8] = b"medledger/patient-identity/v1";

/// Bytes of a wallet's seed.
pub const WALLET_SEED_LEN: usize = 32;

/// A patient's secret seed. Wiped when dropped; its `Debug` output never shows it.
#[derive(Clone)]
pub struct Wallet {
    seed: Zeroizing<[u8; WALLET_SEED_LEN]>,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Wallet(..)")
    }
}

/// A patient's identity at one institution.
#[derive(Clone, Debug)]
pub struct PatientIdentity {
    /// The institution this identity is for.
    pub institution: MemberId,
    /// How the ledger knows the patient at this institution: [`pseudonym_of`] the signing key.
    pub pseudonym: Pseudonym,
    /// Signs the patient's consents for bills from this institution.
    pub signing_key: SigningKey,
    /// Opens the bill bodies this institution seals for the patient.
    pub encryption: EncryptionSecret,
}

impl Wallet {
    /// A wallet with a fresh random seed.
    pub fn generate() -> Self {
        // Without OS randomness no key can be made safely; this is a broken machine, not bad
        // input, so stopping is the right answer (as `SigningKey::generate` does).
        Self::from_seed(<[u8; WALLET_SEED_LEN]>::generate())
    }

    /// The wallet with this seed.
    pub fn from_seed(seed: [u8; WALLET_SEED_LEN]) -> Self {
        Self { seed: Zeroizing::new(seed) }
    }

    /// The seed, for storing in an owner-only file.
    pub fn seed(&self) -> Zeroizing<[u8; WALLET_SEED_LEN]> {
        self.seed.clone()
    }

    /// The patient's identity at `institution`. The same wallet and institution always give
    /// the same identity; different institutions give unrelated ones.
    pub fn identity(&self, institution: &MemberId) -> PatientIdentity {
        let mut info = Vec::with_capacity(IDENTITY_INFO.len() + institution.as_str().len());
        info.extend_from_slice(IDENTITY_INFO);
        info.extend_from_slice(institution.as_str().as_bytes());
        let mut signing_seed = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, self.seed.as_slice())
            .expand(&info, signing_seed.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let signing_key = SigningKey::from_seed(*signing_seed);
        let encryption = EncryptionSecret::from_signing_key(&signing_key);
        PatientIdentity {
            institution: institution.clone(),
            pseudonym: pseudonym_of(&signing_key.public_key()),
            signing_key,
            encryption,
        }
    }
}

/// The pseudonym of a patient's signing key: the first 16 bytes of its hash under
/// `Domain::Pseudonym` ([`Pseudonym::of_key`]). Used wherever a patient key is registered.
pub fn pseudonym_of(key: &PublicKey) -> Pseudonym {
    Pseudonym::of_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medledger_crypto::encode_hex;

    #[test]
    fn identities_are_deterministic_per_institution_and_unlinked_across() {
        let wallet = Wallet::from_seed([7; 32]);
        let a = MemberId::new("hosp-a").unwrap();
        let b = MemberId::new("hosp-b").unwrap();

        let at_a = wallet.identity(&a);
        let again = Wallet::from_seed(*wallet.seed()).identity(&a);
        assert_eq!(at_a.pseudonym, again.pseudonym);
        assert_eq!(at_a.signing_key.public_key(), again.signing_key.public_key());
        assert_eq!(at_a.encryption.public(), again.encryption.public());
        assert_eq!(at_a.institution, a);
        assert_eq!(at_a.pseudonym, pseudonym_of(&at_a.signing_key.public_key()));

        let at_b = wallet.identity(&b);
        assert_ne!(at_a.pseudonym, at_b.pseudonym);
        assert_ne!(at_a.signing_key.public_key(), at_b.signing_key.public_key());
        assert_ne!(at_a.encryption.public(), at_b.encryption.public());

        // Another wallet at the same institution is another patient.
        let other = Wallet::from_seed([8; 32]).identity(&a);
        assert_ne!(at_a.pseudonym, other.pseudonym);
    }

    #[test]
    fn debug_hides_the_seed() {
        let wallet = Wallet::from_seed([0xab; 32]);
        assert_eq!(format!("{wallet:?}"), "Wallet(..)");
        let identity = wallet.identity(&MemberId::new("hosp-a").unwrap());
        let shown = format!("{identity:?}");
        assert!(!shown.contains(&encode_hex(&identity.signing_key.seed())));
        assert!(!shown.contains(&encode_hex(identity.encryption.to_bytes().as_slice())));
    }
}
