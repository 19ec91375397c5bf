//! A test world: the demo consortium, the real ledger and the reference model side by side.
//! Every block runs through both; their receipts must be equal and the ledger's audit must pass.

#![allow(dead_code)]

use medledger_crypto::SigningKey;
use medledger_ledger::{BlockContext, MemoryState, StateReader, StateWriter, execute_block};
use medledger_model::Model;
use medledger_testkit::{Consortium, TxFactory};
use medledger_types::{Effect, Outcome, Payload, Receipt, Rejection, Transaction};

pub struct World {
    pub c: Consortium,
    pub state: MemoryState,
    pub model: Model,
    pub txs: TxFactory,
    pub height: u64,
}

pub const BLOCK_TIME_MS: u64 = 100;

impl World {
    pub fn new() -> Self {
        Self::with(Consortium::demo("medledger-test", 4))
    }

    /// A world on `c`'s genesis (changed by the test as it needs).
    pub fn with(c: Consortium) -> Self {
        let state = MemoryState::from_genesis(&c.genesis).expect("demo genesis is valid");
        let model = Model::new(&c.genesis);
        let txs = TxFactory::new(c.chain_id().clone(), 1_000);
        Self { c, state, model, txs, height: 0 }
    }

    pub fn next_ctx(&self) -> BlockContext {
        BlockContext {
            height: self.height + 1,
            timestamp_ms: self.c.genesis.genesis_time_ms + (self.height + 1) * BLOCK_TIME_MS,
        }
    }

    /// Runs one block through the ledger and the model and checks they agree.
    pub fn block(&mut self, txs: &[Transaction]) -> Vec<Receipt> {
        let ctx = self.next_ctx();
        let receipts = execute_block(&mut self.state, &ctx, txs);
        let expected = self.model.apply_block(ctx.height, ctx.timestamp_ms, txs);
        assert_eq!(receipts, expected, "ledger and model disagree");
        self.state.audit().expect("ledger invariants hold");
        self.height = ctx.height;
        receipts
    }

    pub fn tx(&mut self, signer: &SigningKey, payload: Payload) -> Transaction {
        self.txs.sign(signer, payload)
    }

    /// Submits one transaction in its own block.
    pub fn submit(&mut self, tx: &Transaction) -> Outcome {
        self.block(std::slice::from_ref(tx)).remove(0).outcome
    }

    /// Signs and submits; the transaction must be accepted.
    pub fn accept(&mut self, signer: &SigningKey, payload: Payload) -> Effect {
        let tx = self.tx(signer, payload);
        match self.submit(&tx) {
            Outcome::Accepted(effect) => effect,
            Outcome::Rejected(r) => panic!("expected acceptance, got {r:?}: {r}"),
        }
    }

    /// Submits a transaction that must be rejected, and checks it changed nothing.
    pub fn refuse(&mut self, tx: &Transaction) -> Rejection {
        let mut before = self.state.clone();
        let ctx = self.next_ctx();
        before.set_height(ctx.height);
        before.forget_txs_expiring_before(ctx.height);
        // Inclusion is final: a genuine transaction is remembered even when rejected.
        let body = tx.body();
        let genuine = body.chain_id == *before.chain_id()
            && body.expires_at_height >= ctx.height
            && body.signer.verify(
                medledger_crypto::Namespace::Transaction,
                tx.signed_bytes(),
                tx.signature(),
            );
        if genuine && !before.tx_included(&tx.id()) {
            before.record_tx(tx.id(), body.expires_at_height);
        }
        match self.submit(tx) {
            Outcome::Rejected(rejection) => {
                assert_eq!(self.state, before, "a rejected transaction changed the state");
                // Every rejection has a stable code and a readable message.
                assert!(!rejection.code().is_empty() && rejection.code() != "unknown");
                assert!(!rejection.to_string().is_empty());
                rejection
            }
            Outcome::Accepted(effect) => panic!("expected rejection, got {effect:?}"),
        }
    }

    /// Signs and submits a payload that must be rejected.
    pub fn reject(&mut self, signer: &SigningKey, payload: Payload) -> Rejection {
        let tx = self.tx(signer, payload);
        self.refuse(&tx)
    }
}
