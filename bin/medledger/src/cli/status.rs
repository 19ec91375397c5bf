//! `medledger status`: where a node stands.

use super::{NodeArgs, print_json, utc};
use std::process::ExitCode;

/// Long help of `medledger status`.
pub const HELP: &str = concat!(
    "Examples:
  medledger status
  medledger status --node http://127.0.0.1:8701 --json

",
    super::exit_codes_help!()
);

pub fn run(args: &NodeArgs) -> anyhow::Result<ExitCode> {
    let node = args.connect()?;
    let status = node.client.status()?;
    if node.json {
        print_json(&status)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("node        {}", node.url);
    println!("chain       {}", status.chain_id);
    println!(
        "validator   {} of {}, {} peers connected",
        status.validator_index, status.validators, status.peers_connected
    );
    println!("height      {}", status.height);
    println!("last block  {} at {}", status.last_block_hash, utc(status.last_block_time_ms));
    println!("state root  {}", status.state_root);
    println!("mempool     {} transactions, {} bytes", status.mempool_txs, status.mempool_bytes);
    Ok(ExitCode::SUCCESS)
}
