//! The ledger's event log: what each executed block did, as `GET /v1/events` streams it.
//!
//! Events are derived from a block's transactions, their receipts and the state after the
//! block, so every node derives the same events for the same block. They are held in memory
//! for recent blocks (bounded by [`EVENTS_HELD_MAX`]) and rebuilt on restart by re-execution.

use crate::chain::ExecutedBlock;
use medledger_ledger::{MemoryState, SignerRef, StateReader as _};
use medledger_types::api::{Event, EventEnvelope, IssuedBill};
use medledger_types::{BillId, Effect, Outcome, Payload, Receipt, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Events held at most (counting each bill of an issuance event), oldest blocks dropped first.
pub const EVENTS_HELD_MAX: usize = 2_000_000;

/// The events of one block, in order, the `block` event last.
pub fn block_events(
    state: &MemoryState,
    block: &ExecutedBlock,
    txs: &[Transaction],
    receipts: &[Receipt],
) -> Vec<EventEnvelope> {
    let mut events: Vec<Event> =
        txs.iter().zip(receipts).filter_map(|(tx, receipt)| tx_event(state, tx, receipt)).collect();
    events.push(Event::Block { block: block.summary() });
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let index = u32::try_from(index).expect("block size is bounded");
            EventEnvelope {
                id: format!("{}:{index}", block.height),
                height: block.height,
                index,
                event,
            }
        })
        .collect()
}

fn tx_event(state: &MemoryState, tx: &Transaction, receipt: &Receipt) -> Option<Event> {
    let tx_id = receipt.tx_id;
    let effect = match &receipt.outcome {
        Outcome::Rejected(rejection) => {
            return Some(Event::TxRejected {
                tx_id,
                payload: tx.body().payload.name().to_string(),
                code: rejection.code(),
                message: rejection.to_string(),
            });
        }
        Outcome::Accepted(effect) => effect,
    };
    let claim_parties = |claim_id| {
        state.claim(claim_id).map(|c| (c.submission.payer.clone(), c.submission.patient))
    };
    match (effect, &tx.body().payload) {
        (Effect::BillsIssued { .. }, Payload::IssueBills { bills, .. }) => {
            let issuer = state.bill(&bills.first()?.id)?.issuer.clone();
            let bills = bills
                .iter()
                .map(|b| IssuedBill {
                    id: b.id,
                    patient: b.patient,
                    claimable: b.amounts.patient_pay,
                })
                .collect();
            Some(Event::BillsIssued { tx_id, issuer, bills })
        }
        (Effect::BillVoided { bill, red_bill }, _) => {
            let voided = state.bill(bill)?;
            Some(Event::BillVoided {
                tx_id,
                issuer: voided.issuer.clone(),
                bill: *bill,
                red_bill: *red_bill,
                patient: voided.issue.patient,
            })
        }
        (Effect::ClaimLocked { claim_id, reserved }, _) => {
            let claim = state.claim(claim_id)?;
            let mut bills: Vec<BillId> = claim.submission.items.iter().map(|i| i.bill).collect();
            bills.dedup();
            Some(Event::ClaimSubmitted {
                tx_id,
                claim_id: *claim_id,
                payer: claim.submission.payer.clone(),
                patient: claim.submission.patient,
                bills,
                reserved: *reserved,
            })
        }
        (
            Effect::ClaimSettled { claim_id, approved: paid }
            | Effect::ClaimAutoSettled { claim_id, paid, .. },
            _,
        ) => {
            let (payer, patient) = claim_parties(claim_id)?;
            Some(Event::ClaimSettled {
                tx_id,
                claim_id: *claim_id,
                payer,
                patient,
                approved: *paid,
                auto: matches!(effect, Effect::ClaimAutoSettled { .. }),
            })
        }
        (
            Effect::PaymentRecorded { claim_id },
            Payload::RecordPayment { payment_reference, .. },
        ) => {
            let (payer, patient) = claim_parties(claim_id)?;
            Some(Event::PaymentRecorded {
                tx_id,
                claim_id: *claim_id,
                payer,
                patient,
                payment_reference: payment_reference.clone(),
            })
        }
        (Effect::PolicyRegistered { payer, version }, _) => {
            Some(Event::PolicyRegistered { tx_id, payer: payer.clone(), version: *version })
        }
        (Effect::ClaimRejected { claim_id, released }, _) => {
            let (payer, patient) = claim_parties(claim_id)?;
            Some(Event::ClaimRejected {
                tx_id,
                claim_id: *claim_id,
                payer,
                patient,
                released: *released,
            })
        }
        (Effect::ClaimWithdrawn { claim_id, released }, _) => {
            let (payer, patient) = claim_parties(claim_id)?;
            Some(Event::ClaimWithdrawn {
                tx_id,
                claim_id: *claim_id,
                payer,
                patient,
                released: *released,
            })
        }
        (Effect::BodyAccessed { bill }, Payload::AccessBody { purpose, .. }) => {
            let record = state.bill(bill)?;
            let Some(SignerRef::Member(reader)) = state.signer(&tx.body().signer) else {
                return None;
            };
            Some(Event::BodyAccessed {
                tx_id,
                bill: *bill,
                reader: reader.clone(),
                issuer: record.issuer.clone(),
                patient: record.issue.patient,
                purpose: *purpose,
            })
        }
        _ => None,
    }
}

/// Recent blocks' events by height, bounded.
#[derive(Debug, Default)]
pub struct EventLog {
    blocks: BTreeMap<u64, Arc<[EventEnvelope]>>,
    held: usize,
}

fn weight(events: &[EventEnvelope]) -> usize {
    events
        .iter()
        .map(|e| match &e.event {
            Event::BillsIssued { bills, .. } => bills.len().max(1),
            _ => 1,
        })
        .sum()
}

impl EventLog {
    /// Adds a block's events, dropping the oldest blocks past the bound.
    pub fn push(&mut self, height: u64, events: Vec<EventEnvelope>) {
        self.held += weight(&events);
        self.blocks.insert(height, events.into());
        while self.held > EVENTS_HELD_MAX && self.blocks.len() > 1 {
            if let Some((_, dropped)) = self.blocks.pop_first() {
                self.held -= weight(&dropped);
            }
        }
    }

    /// The oldest height whose events are held.
    pub fn oldest(&self) -> Option<u64> {
        self.blocks.first_key_value().map(|(h, _)| *h)
    }

    /// The events of blocks `from..=to`, at most `blocks_max` blocks.
    pub fn range(&self, from: u64, to: u64, blocks_max: usize) -> Vec<Arc<[EventEnvelope]>> {
        if from > to {
            return Vec::new();
        }
        self.blocks.range(from..=to).take(blocks_max).map(|(_, e)| e.clone()).collect()
    }
}
