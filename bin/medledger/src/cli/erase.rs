//! `medledger erase`: crypto-shredding of bill bodies.

use anyhow::Context as _;
use medledger_privacy::{IssuerKeystore, shred_file};
use medledger_types::Pseudonym;
use std::path::PathBuf;
use std::process::ExitCode;

/// Long help of `medledger erase`.
pub const HELP: &str = concat!(
    "Examples:
  # The hospital erases its copy of one patient's bodies (per its retention policy):
  medledger erase --keystore localnet/keys/members/city-central-hospital.bodies \\
      --patient 9f86d081884c7d659a2feaa0c55ad015
  # The patient erases their own wallet key file:
  medledger erase --key-file wallet.key.json

Files are overwritten with zeros, synced and removed. On SSDs and copy-on-write file systems
overwriting is best effort; keep key stores on encrypted volumes.

",
    super::exit_codes_help!()
);

/// `medledger erase …`.
#[derive(clap::Args, Debug)]
pub struct EraseArgs {
    /// A hospital's key store of per-patient body keys (with --patient).
    #[arg(long, value_name = "DIR", requires = "patient")]
    keystore: Option<PathBuf>,
    /// The patient whose bodies' issuer copy to erase.
    #[arg(long, value_name = "PSEUDONYM", requires = "keystore")]
    patient: Option<Pseudonym>,
    /// A key file to shred (a patient's wallet key).
    #[arg(long, value_name = "FILE", required_unless_present = "keystore")]
    key_file: Option<PathBuf>,
}

pub fn run(args: &EraseArgs) -> anyhow::Result<ExitCode> {
    if let (Some(dir), Some(patient)) = (&args.keystore, &args.patient) {
        let store =
            IssuerKeystore::open(dir).with_context(|| format!("opening {}", dir.display()))?;
        if store.erase(patient)? {
            println!("erased the issuer's key for patient {patient} from {}", dir.display());
        } else {
            println!("no key for patient {patient} in {}: nothing to erase", dir.display());
        }
    }
    if let Some(path) = &args.key_file {
        shred_file(path).with_context(|| format!("shredding {}", path.display()))?;
        println!("shredded {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
