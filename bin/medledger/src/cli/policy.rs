//! `medledger policy`: a payer registers its claim policy (the terms the ledger adjudicates its
//! claims by, settling small ones by itself) and anyone reads the policy in force.

use super::{NodeArgs, print_json, read_key};
use anyhow::Context as _;
use medledger_types::policy::BASIS_POINTS_FULL;
use medledger_types::{CategoryCoverage, Fen, MemberId, Payload, Policy};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// `medledger policy …`.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    #[command(flatten)]
    node: NodeArgs,
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(clap::Subcommand, Debug)]
enum PolicyCommand {
    /// Register the next version of the signing payer's policy, from a JSON file.
    ///
    /// Claims accepted after it are adjudicated under it when their block is executed: those
    /// whose benefit is at most `auto_approve_max` settle in that block; larger ones wait for
    /// the payer's decision with the computed recommendation attached (`claim show`). The
    /// ledger checks the policy and names the field at fault.
    #[command(after_long_help = REGISTER_HELP)]
    Register {
        /// The policy, as JSON (see `medledger policy template`). `payer` and `version` may be
        /// left out: they default to the key's member and the next version.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// The payer's signing key file.
        #[arg(long, value_name = "PAYER_KEY")]
        key: PathBuf,
    },
    /// Show a payer's policy in force.
    #[command(after_long_help = SHOW_HELP)]
    Show {
        /// The payer's member id, e.g. social-security.
        payer: MemberId,
    },
    /// Print an example policy file to start from (amounts in fen, ratios in basis points).
    Template {
        /// The hospitals the example covers (member ids); default: every hospital on the
        /// network.
        #[arg(long = "hospital", value_name = "MEMBER")]
        hospitals: Vec<MemberId>,
    },
}

const REGISTER_HELP: &str = concat!(
    "Examples:
  medledger policy template > policy.json      # then edit it
  medledger policy register --file policy.json \\
      --key localnet/keys/members/social-security.key.json

The file is the API's policy JSON; amounts are integer fen, ratios basis points (7000 = 70%):
  {\"coverage\": [{\"category\": \"examination\", \"ratio_bp\": 7000}, …],
   \"deductible_yearly\": 1000, \"claim_cap\": 500000, \"yearly_cap\": 5000000,
   \"hospitals\": [\"city-central-hospital\"], \"auto_approve_max\": 50000}

",
    super::exit_codes_help!()
);

const SHOW_HELP: &str = concat!(
    "Example:
  medledger policy show social-security --json

",
    super::exit_codes_help!()
);

/// A policy file: the API's JSON, with the payer and version optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    payer: Option<MemberId>,
    version: Option<u32>,
    coverage: Vec<CategoryCoverage>,
    deductible_yearly: Fen,
    claim_cap: Fen,
    yearly_cap: Fen,
    hospitals: Vec<MemberId>,
    auto_approve_max: Fen,
}

pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    let node = args.node.connect()?;
    match args.command {
        PolicyCommand::Register { file, key } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let given: PolicyFile = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a policy file", file.display()))?;
            let key = read_key(&key)?;
            let payer = match given.payer {
                Some(payer) => payer,
                None => node
                    .client
                    .members()?
                    .into_iter()
                    .find(|m| m.keys.contains(&key.public_key()))
                    .map(|m| m.id)
                    .context("the key belongs to no member; give \"payer\" in the file")?,
            };
            let version = match given.version {
                Some(version) => version,
                None => node.client.policy(&payer)?.map_or(1, |p| p.version.saturating_add(1)),
            };
            let policy = Policy {
                payer,
                version,
                coverage: given.coverage,
                deductible_yearly: given.deductible_yearly,
                claim_cap: given.claim_cap,
                yearly_cap: given.yearly_cap,
                hospitals: given.hospitals,
                auto_approve_max: given.auto_approve_max,
            };
            let extra = [("version", version.to_string())];
            node.transact(&key, Payload::RegisterPolicy { policy }, &extra)
        }
        PolicyCommand::Show { payer } => match node.client.policy(&payer)? {
            Some(policy) if node.json => print_json(&policy).map(|()| ExitCode::SUCCESS),
            Some(policy) => {
                print!("{}", describe(&policy));
                Ok(ExitCode::SUCCESS)
            }
            None => anyhow::bail!("{payer} has registered no policy: its claims wait for it"),
        },
        PolicyCommand::Template { hospitals } => {
            let hospitals = if hospitals.is_empty() {
                node.client
                    .members()?
                    .into_iter()
                    .filter(|m| m.roles.has(medledger_types::Role::Hospital))
                    .map(|m| m.id)
                    .collect()
            } else {
                hospitals
            };
            let mut example = example_policy(&hospitals).context("building the example")?;
            if let Some(map) = example.as_object_mut() {
                map.remove("payer");
                map.remove("version");
            }
            println!("{}", serde_json::to_string_pretty(&example)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The example policy of `policy template`: a city's basic medical insurance (the test kit's
/// sample policy).
fn example_policy(hospitals: &[MemberId]) -> anyhow::Result<serde_json::Value> {
    let policy = medledger_testkit::sample_policy(&MemberId::new("payer")?, hospitals);
    Ok(serde_json::to_value(policy)?)
}

/// A policy for people: one term per line, amounts in yuan, ratios in percent.
pub fn describe(policy: &Policy) -> String {
    let percent = |bp: u16| {
        let whole = u32::from(bp) * 100 / u32::from(BASIS_POINTS_FULL);
        let hundredths = u32::from(bp) * 10_000 / u32::from(BASIS_POINTS_FULL) % 100;
        format!("{whole}.{hundredths:02}%")
    };
    let mut out = format!("policy of {}, version {}\n", policy.payer, policy.version);
    out.push_str("  coverage\n");
    for c in &policy.coverage {
        let name = serde_json::to_value(c.category)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!("    {name:<18} {:>8}\n", percent(c.ratio_bp)));
    }
    out.push_str("    (any other category is not covered)\n");
    out.push_str(&format!("  deductible        {} a year per patient\n", policy.deductible_yearly));
    out.push_str(&format!("  claim cap         {} a claim\n", policy.claim_cap));
    out.push_str(&format!("  yearly cap        {} a year per patient\n", policy.yearly_cap));
    out.push_str(&format!(
        "  auto-settles      claims paying at most {}; larger ones wait for the payer\n",
        policy.auto_approve_max
    ));
    let hospitals: Vec<String> = policy.hospitals.iter().map(ToString::to_string).collect();
    out.push_str(&format!("  hospitals         {}\n", hospitals.join(", ")));
    out
}
