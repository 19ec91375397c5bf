//! Key files on disk: one JSON object with the public key and the secret seed in hex.
//!
//! Files are created with owner-only permissions (0600 on Unix) because they hold a secret, and
//! an existing file is never overwritten silently.

use crate::{KeyError, PublicKey, SigningKey, decode_hex, encode_hex};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

/// The JSON form of a key file.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyFile {
    /// Which signature scheme the key belongs to (today always `ed25519`).
    pub scheme: String,
    /// The public key, hex.
    pub public_key: String,
    /// The 32-byte secret seed, hex.
    pub secret_key: String,
}

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a key file.
    #[error("{path}: not a medledger key file: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Writes `key` to `path`, refusing to overwrite an existing file.
pub fn write(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io { path: path.display().to_string(), source };
    let body = KeyFile {
        scheme: "ed25519".to_string(),
        public_key: key.public_key().to_hex(),
        secret_key: encode_hex(&key.seed()),
    };
    let mut text = serde_json::to_string_pretty(&body).expect("key file serializes");
    text.push('\n');
    write_private(path, text.as_bytes()).map_err(io)
}

/// Creates `path` with owner-only permissions (0600 on Unix), refusing to overwrite an existing
/// file, writes `bytes` and syncs. For anything holding secrets.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads a key file and checks that its public key matches its secret.
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|source| KeyFileError::Io { path: display.clone(), source })?;
    let format = |reason: String| KeyFileError::Format { path: display.clone(), reason };
    let body: KeyFile = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    if body.scheme != "ed25519" {
        return Err(format(format!("unsupported scheme {:?}", body.scheme)));
    }
    let seed = decode_hex(&body.secret_key).map_err(|e| format(format!("secret_key: {e}")))?;
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| format(KeyError::Length { expected: 32, got: seed.len() }.to_string()))?;
    let key = SigningKey::from_seed(seed);
    let public =
        PublicKey::from_hex(&body.public_key).map_err(|e| format(format!("public_key: {e}")))?;
    if public != key.public_key() {
        return Err(format("public_key does not match secret_key".to_string()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_and_refuse_overwrite() {
        let dir = std::env::temp_dir().join(format!("medledger-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.json");
        let _ = std::fs::remove_file(&path);
        let key = SigningKey::generate();
        write(&path, &key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read(&path).unwrap().public_key(), key.public_key());
        assert!(matches!(write(&path, &key), Err(KeyFileError::Io { .. })));
        std::fs::write(
            &path,
            "{\"scheme\":\"ed25519\",\"public_key\":\"00\",\"secret_key\":\"zz\"}",
        )
        .unwrap();
        assert!(matches!(read(&path), Err(KeyFileError::Format { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
