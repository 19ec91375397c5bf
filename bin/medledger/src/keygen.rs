//! `medledger keygen`: a fresh signing key.

use anyhow::Context as _;
use medledger_crypto::{SigningKey, encode_hex, keyfile};
use std::path::Path;
use std::process::ExitCode;

pub fn run(out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let key = SigningKey::generate();
    match out {
        Some(path) => {
            keyfile::write(path, &key).with_context(|| "could not write the key file")?;
            println!("public key: {}", key.public_key());
            println!("key file:   {} (owner-only permissions; keep it secret)", path.display());
        }
        None => {
            let file = keyfile::KeyFile {
                scheme: "ed25519".to_string(),
                public_key: key.public_key().to_hex(),
                secret_key: encode_hex(&key.seed()),
            };
            println!("{}", serde_json::to_string_pretty(&file)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
