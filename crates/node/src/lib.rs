//! The medledger validator node: configuration, genesis creation and (next) consensus, mempool
//! and storage around the pure ledger.
//!
//! ```text
//! medledger init      ─► DIR/genesis.json, DIR/nodeI/{config.toml, validator.key.json}, DIR/keys/…
//! medledger node      ─► config ─► (consensus, mempool, storage, API)          [in progress]
//! ```

pub mod api;
pub mod app;
pub mod block;
pub mod chain;
pub mod config;
pub mod events;
pub mod gossip;
pub mod init;
pub mod localnet;
pub mod mempool;
pub mod metrics;
pub mod node;
#[cfg(feature = "planted-bugs")]
pub mod planted;
pub mod state_tree;
