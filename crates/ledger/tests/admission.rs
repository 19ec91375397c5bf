//! Admission refuses by role what the ledger would refuse, with the ledger's own code: every
//! kind of transaction signed by every kind of signer (each member, a patient, a stranger, a
//! frozen member), checked against what executing it gives.

mod common;

use common::World;
use medledger_ledger::{StateReader, admission_refusal};
use medledger_types::{Outcome, Payload, SigningKey};

#[test]
fn admission_refuses_by_role_exactly_as_the_ledger_does() {
    let (c, examples) = medledger_testkit::every_payload("medledger-test");
    let stranger = SigningKey::from_label("stranger");
    let mut signers: Vec<(String, SigningKey)> = vec![
        ("regulator".into(), c.regulator.key.clone()),
        ("hospital".into(), c.hospitals[0].key.clone()),
        ("social security".into(), c.social_security.key.clone()),
        ("insurer".into(), c.insurers[0].key.clone()),
        ("platform".into(), c.platform.key.clone()),
        ("patient".into(), c.patients[0].key.clone()),
        ("stranger".into(), stranger),
    ];
    signers.push(("frozen insurer".into(), c.insurers[1].key.clone()));
    let mut refused = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (name, example) in &examples {
        for (who, key) in &signers {
            let mut w = World::with(c.clone());
            // The second insurer is frozen first, so its transactions show that refusal.
            let freeze = Payload::FreezeMember { member: c.insurers[1].id.clone() };
            w.accept(&c.regulator.key.clone(), freeze);
            let tx = w.tx(key, example.body().payload.clone());
            let Some(expected) = admission_refusal(&w.state, &tx) else { continue };
            assert!(w.state.height() > 0);
            match w.submit(&tx) {
                Outcome::Rejected(rejection) => assert_eq!(
                    rejection, expected,
                    "{name} signed by the {who}: admission and the ledger disagree"
                ),
                Outcome::Accepted(effect) => {
                    panic!("{name} signed by the {who}: refused on admission, accepted: {effect:?}")
                }
            }
            refused += 1;
            kinds.insert(expected.code());
        }
    }
    // Every kind was refused for someone, and each refusal code came up.
    assert!(refused > 40, "{refused} refusals");
    for code in ["not_authorized", "unknown_signer", "signer_frozen"] {
        assert!(kinds.contains(code), "{code} in {kinds:?}");
    }
}
