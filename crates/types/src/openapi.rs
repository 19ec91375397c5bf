//! OpenAPI schemas (utoipa) for the types whose JSON form is written by hand rather than
//! derived: identifiers (strings with a fixed shape), money (a bare integer), role sets and
//! signed transactions. Everything else derives `utoipa::ToSchema` next to its `serde` derive,
//! so the two read the same attributes.
//!
//! Each pattern is built from the same constants the parsers check, so a limit cannot change in
//! one place and not the other. The patterns describe what serde writes; where the parser also
//! accepts more (capital hex digits, surrounding whitespace) the description says so.

use crate::ids::{
    BillCode, BillId, BillNumber, BodyNonce, ChainId, CheckCode, ClaimId, EncryptionKey, MemberId,
    Pseudonym, Text, TxId, WrappedKey,
};
use crate::limits::{IDENT_BYTES_MAX, TEXT_BYTES_MAX};
use crate::member::{Role, Roles};
use crate::money::Fen;
use crate::tx::{Transaction, TxBody};
use medledger_crypto::{DIGEST_LEN, Signature};
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, RefBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A string schema: `pattern`, length bounds, a description and one example.
fn string_schema(
    pattern: String,
    length: (usize, usize),
    description: &str,
    example: &str,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(length.0))
        .max_length(Some(length.1))
        .description(Some(description))
        .examples([example])
        .into()
}

/// Implements `PartialSchema` with `$schema` and `ToSchema` naming the schema after the type.
macro_rules! manual_schema {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

/// Lowercase hex of `bytes` bytes.
fn hex_pattern(bytes: usize) -> String {
    format!("^[0-9a-f]{{{}}}$", 2 * bytes)
}

manual_schema!(
    BillCode,
    "BillCode",
    string_schema(
        "^[0-9]{8}$".to_string(),
        (8, 8),
        "An 8-digit bill code: region, bill type and year, as allocated by the finance bureau.",
        "44010126",
    )
);

manual_schema!(
    BillNumber,
    "BillNumber",
    string_schema(
        "^[0-9]{10}$".to_string(),
        (10, 10),
        "A 10-digit sequential bill number within a bill code, with leading zeros.",
        "0000000042",
    )
);

manual_schema!(
    BillId,
    "BillId",
    string_schema(
        "^[0-9]{8}/[0-9]{10}$".to_string(),
        (19, 19),
        "A bill's identity, unique forever: its 8-digit bill code and 10-digit bill number, \
         written `CODE/NUMBER`.",
        "44010126/0000000042",
    )
);

manual_schema!(
    CheckCode,
    "CheckCode",
    string_schema(
        format!(
            "^[{}]{{6}}$",
            std::str::from_utf8(CheckCode::ALPHABET).expect("the check code alphabet is ASCII")
        ),
        (6, 6),
        "The 6-character check code printed on a bill, derived from the hash of its content: \
         digits and capital letters without I, L, O and U.",
        "7K3QZ2",
    )
);

manual_schema!(
    ClaimId,
    "ClaimId",
    string_schema(
        hex_pattern(ClaimId::LEN),
        (2 * ClaimId::LEN, 2 * ClaimId::LEN),
        "A claim's identity, chosen by whoever files it: 16 random bytes as 32 lowercase \
         hexadecimal characters (capital digits are accepted on input).",
        "00000000000000000000000000000001",
    )
);

manual_schema!(
    Pseudonym,
    "Pseudonym",
    string_schema(
        hex_pattern(Pseudonym::LEN),
        (2 * Pseudonym::LEN, 2 * Pseudonym::LEN),
        "A patient's pseudonym, the only way the ledger knows a patient: 16 bytes as 32 \
         lowercase hexadecimal characters (capital digits are accepted on input).",
        "9f86d081884c7d659a2feaa0c55ad015",
    )
);

manual_schema!(
    EncryptionKey,
    "EncryptionKey",
    string_schema(
        hex_pattern(EncryptionKey::LEN),
        (2 * EncryptionKey::LEN, 2 * EncryptionKey::LEN),
        "An X25519 public key (32 bytes, 64 hexadecimal characters): a reader's key that bill \
         bodies are wrapped to, or HPKE's encapsulated key inside a wrap.",
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    )
);

manual_schema!(
    WrappedKey,
    "WrappedKey",
    string_schema(
        hex_pattern(WrappedKey::LEN),
        (2 * WrappedKey::LEN, 2 * WrappedKey::LEN),
        "A bill's 32-byte data key encrypted to one reader with HPKE, with its 16-byte tag \
         (48 bytes, 96 hexadecimal characters).",
        "5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a5f0c9e2a",
    )
);

manual_schema!(
    BodyNonce,
    "BodyNonce",
    string_schema(
        hex_pattern(BodyNonce::LEN),
        (2 * BodyNonce::LEN, 2 * BodyNonce::LEN),
        "The XChaCha20-Poly1305 nonce of a sealed bill body (24 bytes, 48 hexadecimal \
         characters).",
        "9b3e71d49b3e71d49b3e71d49b3e71d49b3e71d49b3e71d4",
    )
);

/// Member and chain identifiers share one shape.
fn ident_schema(description: &str, example: &str) -> RefOr<Schema> {
    string_schema(
        format!("^[A-Za-z0-9._-]{{1,{IDENT_BYTES_MAX}}}$"),
        (1, IDENT_BYTES_MAX),
        description,
        example,
    )
}

manual_schema!(
    MemberId,
    "MemberId",
    ident_schema(
        "A consortium member (hospital, finance bureau, payer or payment platform): 1 to 32 \
         ASCII letters, digits, `.`, `_` or `-`.",
        "city-central-hospital",
    )
);

manual_schema!(
    ChainId,
    "ChainId",
    ident_schema(
        "The network a transaction is meant for: 1 to 32 ASCII letters, digits, `.`, `_` or \
         `-`.",
        "medledger-demo",
    )
);

manual_schema!(
    Text,
    "Text",
    // `maxLength` counts characters, the ledger counts UTF-8 bytes: the schema states the
    // necessary bound and the description the exact one. The class excludes exactly the
    // characters `text_refuses` refuses (Unicode Cc and invisible formatting characters).
    string_schema(
        "^[^\\x00-\\x1F\\x7F-\\x9F\\u00AD\\u061C\\u180E\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u2069\\uFEFF\\uFFF9-\\uFFFB]*$".to_string(),
        (0, TEXT_BYTES_MAX),
        &format!(
            "Short printable free text (payment references, reasons): at most {TEXT_BYTES_MAX} \
             bytes of UTF-8, no control, bidirectional or invisible formatting characters. \
             Never patient data."
        ),
        "PAY-2026-001",
    )
);

manual_schema!(
    TxId,
    "TxId",
    string_schema(
        hex_pattern(DIGEST_LEN),
        (2 * DIGEST_LEN, 2 * DIGEST_LEN),
        "A transaction's identity: the SHA-256 hash of its signed body, as 64 lowercase \
         hexadecimal characters (capital digits are accepted on input).",
        "5c2a9a1b7f0c4e6d8a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f",
    )
);

manual_schema!(
    Fen,
    "Fen",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        // An unsigned 64-bit integer: OpenAPI has no `uint64` format, so the bounds say it.
        .minimum(Some(0))
        .maximum(Some(u64::MAX))
        .description(Some(
            "An amount of money in fen (1/100 yuan), as a non-negative integer below 2^64: 9750 \
             is 97.50 yuan. Never a decimal number or a string.",
        ))
        .examples([9750])
        .into()
);

impl PartialSchema for Roles {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(RefBuilder::new().ref_location_from_schema_name(<Role as ToSchema>::name()))
            .description(Some(
                "A set of roles. Written without repeats in the order hospital, regulator, \
                 social_security, insurer, payment_platform; repeats are ignored on input.",
            ))
            .examples([serde_json::json!(["hospital"])])
            .into()
    }
}
impl ToSchema for Roles {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Roles")
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((<Role as ToSchema>::name().into(), Role::schema()));
        Role::schemas(schemas);
    }
}

/// The JSON form written by `Transaction`'s `Serialize`: `{id, body, signature}`, where `id`
/// is written on output and ignored on input (it is always recomputed from the body).
impl PartialSchema for Transaction {
    fn schema() -> RefOr<Schema> {
        let reference = |name: Cow<'static, str>, description: &str| {
            RefBuilder::new().ref_location_from_schema_name(name).description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A signed transaction: the body the signer signed, and the signature. `id` is \
                 always written in responses; in requests it may be left out and is ignored.",
            ))
            .property(
                "id",
                reference(TxId::name(), "The hash of the signed body (output only).")
                    .read_only(true),
            )
            .property("body", reference(TxBody::name(), "Everything the signer signs."))
            .required("body")
            .property(
                "signature",
                reference(
                    Signature::name(),
                    "The signer's signature over the canonical binary encoding of `body`.",
                ),
            )
            .required("signature")
            .into()
    }
}
impl ToSchema for Transaction {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Transaction")
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((TxId::name().into(), TxId::schema()));
        TxId::schemas(schemas);
        schemas.push((TxBody::name().into(), TxBody::schema()));
        TxBody::schemas(schemas);
        schemas.push((Signature::name().into(), Signature::schema()));
        Signature::schemas(schemas);
    }
}
