//! `medledger init`: a demo consortium with fresh keys, ready to run as a local network.
//!
//! ```text
//! DIR/genesis.json                     chain id, members and roles, validators and addresses,
//!                                      bill-number ranges, demo patients (public keys only)
//! DIR/keys/members/<member>.key.json   each member institution's signing key (owner-only)
//! DIR/keys/patients.json               the demo patients' wallet keys (owner-only)
//! DIR/nodeI/config.toml                validator I's configuration
//! DIR/nodeI/validator.key.json         validator I's consensus key (owner-only)
//! DIR/nodeI/genesis.json               a copy, so each home is self-contained
//! ```
//!
//! Each new network gets its own chain id (`medledger-` and 8 random hex digits) unless one is
//! given: transactions, receipts and the validators' certificates name it, so nothing made on
//! one network is accepted on another. [`InitReport::genesis_digest`] is the digest verifiers
//! pin to know a genesis file is this network's (docs/formats/genesis.md).

use crate::config::{
    API_BASE_PORT, ApiConfig, ConsensusConfig, MempoolConfig, NodeConfig, P2P_PORT_OFFSET,
};
use anyhow::{Context as _, bail};
use medledger_crypto::{Digest, SigningKey, encode_hex, keyfile};
use medledger_ledger::MemoryState;
use medledger_testkit::Consortium;
use medledger_types::GenesisValidator;
use medledger_types::limits::VALIDATORS_MAX;
use serde::Serialize;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// What to create.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Number of validators.
    pub validators: usize,
    /// The directory to fill; must be empty or absent.
    pub dir: PathBuf,
    /// API port of validator 0; P2P ports start at `base_port + 1000`.
    pub base_port: u16,
    /// Number of demo patients.
    pub patients: usize,
    /// The chain id; `None` gives the network a fresh one, `medledger-` and 8 random hex
    /// digits.
    pub chain_id: Option<String>,
    /// Bills the ledger starts with, generated at genesis (capacity tests and benchmarks; see
    /// [`medledger_types::SyntheticBills`]); 0 for none.
    pub synthetic_bills: u64,
}

/// The bill code of synthetic genesis bills: apart from the demo hospitals' ranges.
pub const SYNTHETIC_BILL_CODE: u32 = 99_000_001;
/// Each synthetic bill's amount, all patient-paid (100.00 yuan).
pub const SYNTHETIC_BILL_FEN: u64 = 10_000;

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            validators: 4,
            dir: PathBuf::from("localnet"),
            base_port: API_BASE_PORT,
            patients: 300,
            chain_id: None,
            synthetic_bills: 0,
        }
    }
}

/// One created validator home.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedNode {
    /// Its home directory.
    pub home: PathBuf,
    /// Its API address.
    pub api_address: SocketAddr,
    /// Its P2P address.
    pub p2p_address: SocketAddr,
}

/// What was created.
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    /// The network's chain id.
    pub chain_id: String,
    /// The genesis digest verifiers pin: `H("medledger/genesis/v1" ‖ canonical genesis JSON)`,
    /// also the `tx_root` of block 0 (`medledger_receipt::genesis_digest`).
    pub genesis_digest: Digest,
    /// The genesis file.
    pub genesis: PathBuf,
    /// The validator homes.
    pub nodes: Vec<CreatedNode>,
}

/// A demo patient's entry in `keys/patients.json`.
#[derive(Serialize, serde::Deserialize)]
struct PatientKey {
    pseudonym: String,
    public_key: String,
    secret_key: String,
    /// The wallet seed the identity (pseudonym and key) at `institution` derives from.
    #[serde(default)]
    wallet_seed: Option<String>,
    #[serde(default)]
    institution: Option<String>,
}

/// Reads the demo patients' keys written by [`init`] (`DIR/keys/patients.json`).
pub fn read_patients(dir: &Path) -> anyhow::Result<Vec<(medledger_types::Pseudonym, SigningKey)>> {
    let path = dir.join("keys").join("patients.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let list: Vec<PatientKey> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    list.into_iter()
        .map(|p| {
            let pseudonym =
                p.pseudonym.parse().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let seed: [u8; 32] = medledger_crypto::decode_hex(&p.secret_key)?
                .try_into()
                .map_err(|_| anyhow::anyhow!("{}: a secret key is not 32 bytes", path.display()))?;
            Ok((pseudonym, SigningKey::from_seed(seed)))
        })
        .collect()
}

/// Reads a member's signing key written by [`init`] (`DIR/keys/members/<member>.key.json`).
pub fn read_member_key(dir: &Path, member: &str) -> anyhow::Result<SigningKey> {
    Ok(keyfile::read(&dir.join("keys").join("members").join(format!("{member}.key.json")))?)
}

/// Whether `dir` is absent or an empty directory.
pub fn is_empty_dir(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => !dir.exists(),
    }
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A fresh chain id: `medledger-` and 8 hex digits from the operating system's randomness.
pub fn random_chain_id() -> String {
    // A signing key's seed is 32 bytes straight from the operating system; four of them name
    // the network (medledger-crypto is this crate's source of randomness).
    let seed = SigningKey::generate().seed();
    format!("medledger-{}", encode_hex(&seed[..4]))
}

/// Creates the consortium described by `options`.
pub fn init(options: &InitOptions) -> anyhow::Result<InitReport> {
    let chain_id = options.chain_id.clone().unwrap_or_else(random_chain_id);
    medledger_types::ChainId::new(chain_id.as_str())
        .map_err(|e| anyhow::anyhow!("--chain-id {chain_id:?}: {e}"))?;
    let n = options.validators;
    if n == 0 || n > VALIDATORS_MAX {
        bail!("--validators must be between 1 and {VALIDATORS_MAX}, got {n}");
    }
    // `n` is at most VALIDATORS_MAX here, so it fits u16.
    let count = u16::try_from(n).expect("validator count is bounded");
    let last_p2p = u32::from(options.base_port) + u32::from(P2P_PORT_OFFSET) + u32::from(count) - 1;
    if last_p2p > u32::from(u16::MAX) {
        bail!("--base-port {} leaves no room for {n} validators' ports", options.base_port);
    }
    if !is_empty_dir(&options.dir) {
        bail!("{} is not empty; choose an empty or new directory", options.dir.display());
    }

    let mut consortium = Consortium::generate(&chain_id, options.patients);
    let actors: Vec<_> = consortium.actors().into_iter().cloned().collect();
    // Validators are run by the institutions in this order: the regulator and the social
    // security bureau first, then hospitals and insurers alternately, then the platform.
    let order = [0, 3, 1, 4, 2, 5, 6];
    let validator_keys: Vec<SigningKey> = (0..n).map(|_| SigningKey::generate()).collect();
    let mut nodes = Vec::with_capacity(n);
    for (i, key) in validator_keys.iter().enumerate() {
        let index = u16::try_from(i).expect("validator count is bounded");
        let port = |offset: u16| options.base_port + offset + index;
        let api_address = SocketAddr::from((Ipv4Addr::LOCALHOST, port(0)));
        let p2p_address = SocketAddr::from((Ipv4Addr::LOCALHOST, port(P2P_PORT_OFFSET)));
        consortium.genesis.validators.push(GenesisValidator {
            member: actors[order[i % order.len()]].id.clone(),
            public_key: key.public_key(),
            p2p_address: p2p_address.to_string(),
            api_address: api_address.to_string(),
        });
        nodes.push(CreatedNode {
            home: options.dir.join(format!("node{i}")),
            api_address,
            p2p_address,
        });
    }
    if options.synthetic_bills > 0 {
        consortium.genesis.synthetic_bills = Some(medledger_types::SyntheticBills {
            issuer: consortium.hospitals[0].id.clone(),
            code: medledger_types::BillCode::new(SYNTHETIC_BILL_CODE).expect("a valid code"),
            count: options.synthetic_bills,
            amount_fen: SYNTHETIC_BILL_FEN,
        });
    }
    // Refuse to write a genesis the ledger would not start from (the synthetic bills are
    // checked without generating millions of them here).
    let _unused_bills = medledger_ledger::genesis::synthetic_bills(&consortium.genesis)
        .context("the generated genesis is invalid")?;
    let mut checked = consortium.genesis.clone();
    if let Some(spec) = checked.synthetic_bills.as_mut() {
        spec.count = 1;
    }
    MemoryState::from_genesis(&checked).context("the generated genesis is invalid")?;

    fs::create_dir_all(&options.dir)?;
    let genesis_text = serde_json::to_string_pretty(&consortium.genesis)? + "\n";
    let genesis_path = options.dir.join("genesis.json");
    fs::write(&genesis_path, &genesis_text)?;

    let members_dir = options.dir.join("keys").join("members");
    create_private_dir(&members_dir)?;
    for actor in &actors {
        keyfile::write(&members_dir.join(format!("{}.key.json", actor.id)), &actor.key)?;
    }
    let patients: Vec<PatientKey> = consortium
        .patients
        .iter()
        .map(|p| PatientKey {
            pseudonym: p.pseudonym.to_string(),
            public_key: p.key.public_key().to_hex(),
            secret_key: encode_hex(&p.key.seed()),
            wallet_seed: p.wallet.as_ref().map(|w| encode_hex(w.seed().as_slice())),
            institution: Some("city-central-hospital".to_string()),
        })
        .collect();
    let patients_path = options.dir.join("keys").join("patients.json");
    keyfile::write_private(
        &patients_path,
        (serde_json::to_string_pretty(&patients)? + "\n").as_bytes(),
    )
    .with_context(|| format!("writing {}", patients_path.display()))?;

    for (i, (node, key)) in nodes.iter().zip(&validator_keys).enumerate() {
        create_private_dir(&node.home)?;
        keyfile::write(&node.home.join("validator.key.json"), key)?;
        fs::write(node.home.join("genesis.json"), &genesis_text)?;
        let config = NodeConfig {
            chain_id: chain_id.clone(),
            validator_index: i,
            api_address: node.api_address,
            p2p_address: node.p2p_address,
            genesis: PathBuf::from("genesis.json"),
            validator_key: PathBuf::from("validator.key.json"),
            data_dir: PathBuf::from("data"),
            mempool: MempoolConfig::default(),
            consensus: ConsensusConfig::default(),
            api: ApiConfig::default(),
            peer_addresses: Default::default(),
        };
        let text = format!(
            "# medledger validator {i} of {n} on chain {chain_id}\n{}",
            toml::to_string(&config)?
        );
        fs::write(node.home.join("config.toml"), text)?;
    }
    let genesis_digest = medledger_receipt::genesis_digest(&consortium.genesis);
    Ok(InitReport { chain_id, genesis_digest, genesis: genesis_path, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("medledger-init-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_a_consortium_that_loads() {
        let dir = temp_dir("ok");
        let options = InitOptions { dir: dir.clone(), patients: 20, ..InitOptions::default() };
        let report = init(&options).unwrap();
        assert_eq!(report.nodes.len(), 4);
        let genesis: medledger_types::Genesis =
            serde_json::from_str(&fs::read_to_string(&report.genesis).unwrap()).unwrap();
        assert_eq!(genesis.validators.len(), 4);
        assert_eq!(genesis.patients.len(), 20);
        assert!(genesis.members.len() >= 7);
        MemoryState::from_genesis(&genesis).unwrap();
        for (index, node) in report.nodes.iter().enumerate() {
            let config = NodeConfig::load(&node.home).unwrap();
            assert_eq!(config.validator_index, index);
            let i = u16::try_from(index).unwrap();
            assert_eq!(config.api_address.port(), 8700 + i);
            assert_eq!(config.p2p_address.port(), 9700 + i);
            let key = keyfile::read(&config.validator_key).unwrap();
            assert_eq!(key.public_key(), genesis.validators[index].public_key);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&config.validator_key).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "validator key must be owner-only");
            }
        }
        // A second init into the same directory is refused.
        assert!(init(&options).unwrap_err().to_string().contains("not empty"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_network_gets_its_own_chain_id_and_the_digest_of_its_first_block() {
        let created: Vec<(InitReport, medledger_types::Genesis)> = ["id-a", "id-b"]
            .iter()
            .map(|name| {
                let dir = temp_dir(name);
                let options =
                    InitOptions { dir: dir.clone(), patients: 1, ..InitOptions::default() };
                let report = init(&options).unwrap();
                let genesis: medledger_types::Genesis =
                    serde_json::from_str(&fs::read_to_string(&report.genesis).unwrap()).unwrap();
                fs::remove_dir_all(&dir).unwrap();
                (report, genesis)
            })
            .collect();
        for (report, genesis) in &created {
            assert_eq!(report.chain_id, genesis.chain_id.as_str());
            assert!(report.chain_id.starts_with("medledger-"), "{}", report.chain_id);
            assert_eq!(report.chain_id.len(), "medledger-".len() + 8);
            // The digest verifiers pin is the one block 0 commits to, read back from the file.
            assert_eq!(report.genesis_digest, medledger_receipt::genesis_digest(genesis));
            assert_eq!(report.genesis_digest, crate::block::Block::genesis(genesis).tx_root);
        }
        assert_ne!(created[0].0.chain_id, created[1].0.chain_id, "two networks, two chain ids");
        assert_ne!(created[0].0.genesis_digest, created[1].0.genesis_digest);

        // A chain id given is kept; a malformed one is refused before anything is written.
        let dir = temp_dir("given-id");
        let given = InitOptions {
            dir: dir.clone(),
            patients: 1,
            chain_id: Some("medledger-demo".to_string()),
            ..InitOptions::default()
        };
        assert_eq!(init(&given).unwrap().chain_id, "medledger-demo");
        fs::remove_dir_all(&dir).unwrap();
        let bad = InitOptions {
            dir: temp_dir("bad-id"),
            chain_id: Some("not a chain id".to_string()),
            ..InitOptions::default()
        };
        assert!(init(&bad).unwrap_err().to_string().contains("--chain-id"));
        assert!(!bad.dir.exists());
    }

    #[test]
    fn base_port_moves_every_port() {
        let dir = temp_dir("ports");
        let options = InitOptions {
            dir: dir.clone(),
            base_port: 18000,
            validators: 7,
            patients: 1,
            ..InitOptions::default()
        };
        let report = init(&options).unwrap();
        assert_eq!(report.nodes[6].api_address.port(), 18006);
        assert_eq!(report.nodes[6].p2p_address.port(), 19006);
        fs::remove_dir_all(&dir).unwrap();
        let bad = InitOptions { dir: temp_dir("bad"), base_port: 65000, ..InitOptions::default() };
        assert!(init(&bad).is_err());
        let none = InitOptions { dir: temp_dir("none"), validators: 0, ..InitOptions::default() };
        assert!(init(&none).is_err());
    }
}
