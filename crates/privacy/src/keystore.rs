//! A hospital's per-patient body keys, so that its copy of one patient's bodies can be erased.
//!
//! A hospital seals each bill for the patient and for itself ("the issuer's copy"). Its own
//! wrap goes to a key it keeps for that patient alone, so that erasing that one key makes every
//! body of that patient unreadable to the hospital while the chain, which holds only
//! ciphertexts, still verifies.
//!
//! Layout: one file per patient, `DIR/<pseudonym hex>.key`, holding exactly the 32 raw bytes of
//! the X25519 secret; owner-only (0600 in a 0700 directory on Unix). Raw bytes rather than JSON
//! keep the file one fixed size, so that erasing overwrites exactly what was written.
//!
//! Erasure overwrites a file with zeros, syncs it, removes it and syncs the directory. On a
//! journaling, copy-on-write or flash file system the old bytes may survive in blocks the file
//! no longer owns; the overwrite is a best effort, and real erasure also needs the key never to
//! have been copied (backups of this directory must be encrypted and expire).

use crate::keys::EncryptionSecret;
use chacha20poly1305::aead::Generate;
use medledger_crypto::encode_hex;
use medledger_crypto::keyfile::write_private;
use medledger_types::Pseudonym;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Bytes of a key file: one raw X25519 secret.
const KEY_FILE_BYTES: usize = 32;

/// A directory of per-patient body keys.
#[derive(Debug, Clone)]
pub struct IssuerKeystore {
    dir: PathBuf,
}

impl IssuerKeystore {
    /// Opens the key store in `dir`, creating the directory (0700 on Unix) if needed.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds (or would hold) `patient`'s key.
    pub fn key_path(&self, patient: &Pseudonym) -> PathBuf {
        self.dir.join(format!("{patient}.key"))
    }

    /// The hospital's key for `patient`'s bodies, created at random on first use.
    ///
    /// A new key is written to a temporary file, synced, then linked into place (which never
    /// replaces an existing file), so a crash never leaves a torn key file and two concurrent
    /// callers end up with the same key.
    pub fn key_for(&self, patient: &Pseudonym) -> io::Result<EncryptionSecret> {
        if let Some(secret) = self.existing(patient)? {
            return Ok(secret);
        }
        let secret = EncryptionSecret::generate();
        let temp = self.dir.join(format!(".{patient}.{}.tmp", encode_hex(&<[u8; 8]>::generate())));
        write_private(&temp, secret.to_bytes().as_slice())?;
        match fs::hard_link(&temp, self.key_path(patient)) {
            Ok(()) => {
                // The key file now holds the same data under its own name.
                fs::remove_file(&temp)?;
                sync_dir(&self.dir)?;
                Ok(secret)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Another caller created this patient's key first: use theirs.
                shred_file(&temp)?;
                self.existing(patient)?.ok_or_else(|| {
                    io::Error::other(format!("the key file of {patient} disappeared"))
                })
            }
            Err(e) => {
                // Best effort: the link failure is what the caller needs to hear about.
                let _ = shred_file(&temp);
                Err(e)
            }
        }
    }

    /// The hospital's key for `patient`'s bodies, if it has one (and it was not erased).
    pub fn existing(&self, patient: &Pseudonym) -> io::Result<Option<EncryptionSecret>> {
        let path = self.key_path(patient);
        let bytes = match fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a {KEY_FILE_BYTES}-byte body key", path.display()),
            )
        };
        let mut raw = Zeroizing::new([0u8; KEY_FILE_BYTES]);
        if bytes.len() != KEY_FILE_BYTES {
            return Err(invalid());
        }
        raw.copy_from_slice(&bytes);
        EncryptionSecret::from_bytes(&raw).map(Some).ok_or_else(invalid)
    }

    /// Erases the hospital's key for `patient` (see the module documentation for what erasure
    /// can and cannot promise). Returns whether there was one.
    pub fn erase(&self, patient: &Pseudonym) -> io::Result<bool> {
        match shred_file(&self.key_path(patient)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Overwrites the regular file at `path` with zeros, syncs it, removes it and syncs its
/// directory: how a key file (the hospital's per-patient key, or a patient's own key file) is
/// erased. Refuses anything but a regular file, so that a symbolic link never redirects the
/// overwrite.
pub fn shred_file(path: &Path) -> io::Result<()> {
    if !fs::symlink_metadata(path)?.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a regular file", path.display()),
        ));
    }
    let mut file = OpenOptions::new().write(true).open(path)?;
    let mut left = file.metadata()?.len();
    let zeros = [0u8; 4096];
    while left > 0 {
        let chunk = usize::try_from(left.min(4096)).expect("at most 4096");
        file.write_all(&zeros[..chunk])?;
        left -= 4096u64.min(left);
    }
    file.sync_all()?;
    drop(file);
    fs::remove_file(path)?;
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Makes a directory's entries (a created or removed file) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    // Only Unix can open a directory to sync it; elsewhere the file system's own ordering is
    // all there is.
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("medledger-privacy-keystore-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn keys_are_created_once_owner_only_and_erased() {
        let root = scratch("lifecycle");
        let store = IssuerKeystore::open(root.join("keys")).unwrap();
        let patient = Pseudonym([3; 16]);
        assert!(store.existing(&patient).unwrap().is_none());

        let key = store.key_for(&patient).unwrap();
        assert_eq!(store.key_for(&patient).unwrap().public(), key.public());
        assert_eq!(store.existing(&patient).unwrap().unwrap().public(), key.public());
        assert_eq!(fs::read(store.key_path(&patient)).unwrap().len(), KEY_FILE_BYTES);
        // Only the key file is left: no temporary file survives.
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.dir()), 0o700);
            assert_eq!(mode(&store.key_path(&patient)), 0o600);
        }

        assert!(store.erase(&patient).unwrap());
        assert!(!store.key_path(&patient).exists());
        assert!(store.existing(&patient).unwrap().is_none());
        assert!(!store.erase(&patient).unwrap());
        assert_ne!(store.key_for(&patient).unwrap().public(), key.public());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_torn_key_file_is_an_error_not_a_key() {
        let root = scratch("torn");
        let store = IssuerKeystore::open(&root).unwrap();
        let patient = Pseudonym([4; 16]);
        fs::write(store.key_path(&patient), [1u8; 31]).unwrap();
        assert_eq!(store.existing(&patient).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(store.key_for(&patient).is_err());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn shred_file_removes_files_and_refuses_anything_else() {
        let root = scratch("shred");
        fs::create_dir_all(&root).unwrap();
        let file = root.join("patient.json");
        fs::write(&file, vec![0x5a; 10_000]).unwrap();
        // A second name for the same file shows what the shredding wrote before removing.
        let witness = root.join("witness");
        fs::hard_link(&file, &witness).unwrap();
        shred_file(&file).unwrap();
        assert!(!file.exists());
        assert_eq!(fs::read(&witness).unwrap(), vec![0; 10_000]);
        fs::remove_file(&witness).unwrap();
        assert_eq!(shred_file(&file).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(shred_file(&root).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        #[cfg(unix)]
        {
            let target = root.join("target");
            fs::write(&target, b"keep").unwrap();
            let link = root.join("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert_eq!(shred_file(&link).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert_eq!(fs::read(&target).unwrap(), b"keep");
        }
        fs::remove_dir_all(&root).unwrap();
    }
}
