//! OpenAPI schemas (utoipa) for the JSON form of keys, signatures and digests, which `serde_hex`
//! below writes as lowercase hexadecimal strings.
//!
//! The patterns describe what serde writes. On input the parser is a little more lenient: it
//! also accepts capital hex digits and surrounding whitespace, and a public key must in addition
//! be a valid curve point, which no pattern can express.

use crate::{DIGEST_LEN, Digest, PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, Signature};
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string schema of exactly `bytes` bytes in lowercase hex.
fn hex_schema(bytes: usize, description: &str, example: String) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^[0-9a-f]{{{}}}$", 2 * bytes)))
        .min_length(Some(2 * bytes))
        .max_length(Some(2 * bytes))
        .description(Some(description))
        .examples([example])
        .into()
}

impl utoipa::PartialSchema for Digest {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            DIGEST_LEN,
            "A 32-byte SHA-256 digest as 64 lowercase hexadecimal characters.",
            "3f".repeat(DIGEST_LEN),
        )
    }
}
impl utoipa::ToSchema for Digest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Digest")
    }
}

impl utoipa::PartialSchema for PublicKey {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            PUBLIC_KEY_LEN,
            "An ed25519 public key (32 bytes) as 64 lowercase hexadecimal characters. It must \
             encode a valid curve point.",
            crate::SigningKey::from_label("openapi-example").public_key().to_hex(),
        )
    }
}
impl utoipa::ToSchema for PublicKey {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PublicKey")
    }
}

impl utoipa::PartialSchema for Signature {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            SIGNATURE_LEN,
            "An ed25519 signature (64 bytes) as 128 lowercase hexadecimal characters.",
            "5a".repeat(SIGNATURE_LEN),
        )
    }
}
impl utoipa::ToSchema for Signature {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Signature")
    }
}
