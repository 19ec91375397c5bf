//! Payer policies: for random policies, bills and claim sequences across two payers (the
//! social security bureau first or second, an insurer the other), the benefit never exceeds
//! what was asked, the policy's coverage, its caps or a bill's claimable amount, and it equals
//! a reference calculation written independently (prefix sums instead of running balances).

use medledger_ledger::policy::{
    Adjudication, BASIS_POINTS_FULL, CategoryCoverage, ItemInput, Policy, PolicyError, YearUsage,
    adjudicate,
};
use medledger_types::{CategoryAmount, ChargeCategory, Fen, MemberId};
use proptest::prelude::*;

const CATEGORIES: [ChargeCategory; 10] = ChargeCategory::ALL;

fn member(id: &str) -> MemberId {
    id.parse().unwrap()
}

fn cases() -> u32 {
    std::env::var("MEDLEDGER_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

/// The specification, written as directly as possible: each line in exact rational terms,
/// one floor per item, deductible and caps as clamps of prefix sums.
fn reference(policy: &Policy, items: &[ItemInput], usage: YearUsage) -> Vec<[u64; 4]> {
    let deductible_left = policy.deductible_yearly.0.saturating_sub(usage.deductible.0);
    let cap = policy.claim_cap.0.min(policy.yearly_cap.0.saturating_sub(usage.paid.0));
    let eligible: Vec<u64> = items
        .iter()
        .map(|i| if policy.hospitals.contains(&i.issuer) { i.requested.0 } else { 0 })
        .collect();
    let mut out = Vec::new();
    let (mut eligible_before, mut covered_before) = (0u64, 0u64);
    for (item, &eligible) in items.iter().zip(&eligible) {
        let deductible = deductible_left.saturating_sub(eligible_before).min(eligible);
        eligible_before += eligible;
        let net = u128::from(eligible - deductible);
        let categories: Vec<(ChargeCategory, u64)> = if item.categories.is_empty() {
            vec![(ChargeCategory::Other, item.bill_total.0)]
        } else {
            item.categories.iter().map(|c| (c.category, c.amount.0)).collect()
        };
        let whole: u128 = categories.iter().map(|(_, a)| u128::from(*a)).sum();
        let paid_share: u128 =
            categories.iter().map(|(c, a)| u128::from(*a) * u128::from(policy.ratio_bp(*c))).sum();
        let covered = if whole == 0 {
            net * u128::from(policy.ratio_bp(ChargeCategory::Other)) / u128::from(BASIS_POINTS_FULL)
        } else {
            net * paid_share / (whole * u128::from(BASIS_POINTS_FULL))
        };
        let covered = u64::try_from(covered).unwrap();
        let benefit = cap.saturating_sub(covered_before).min(covered);
        covered_before += covered;
        out.push([item.requested.0, eligible, deductible, benefit]);
    }
    out
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    (
        proptest::collection::vec((0..10usize, 0..=BASIS_POINTS_FULL), 1..6),
        0..50_000u64,
        1..200_000u64,
        1..500_000u64,
        0..3usize,
        0..150_000u64,
    )
        .prop_map(|(coverage, deductible, claim_cap, yearly_cap, hospitals, auto)| {
            let mut seen = Vec::new();
            let coverage = coverage
                .into_iter()
                .filter(|(c, _)| {
                    let new = !seen.contains(c);
                    seen.push(*c);
                    new
                })
                .map(|(c, ratio_bp)| CategoryCoverage { category: CATEGORIES[c], ratio_bp })
                .collect();
            Policy {
                payer: member("payer"),
                version: 1,
                coverage,
                deductible_yearly: Fen(deductible),
                claim_cap: Fen(claim_cap),
                yearly_cap: Fen(yearly_cap),
                hospitals: ["h0", "h1", "h2"][..=hospitals].iter().map(|h| member(h)).collect(),
                auto_approve_max: Fen(auto),
            }
        })
}

/// A bill: its issuer, total, patient-pay part and category totals adding up to the total.
#[derive(Clone, Debug)]
struct TestBill {
    issuer: MemberId,
    total: u64,
    claimable: u64,
    categories: Vec<CategoryAmount>,
}

fn bill_strategy() -> impl Strategy<Value = TestBill> {
    (0..4usize, 1..100_000u64, 0..=100u64, proptest::collection::vec((0..10usize, 1..100u64), 0..4))
        .prop_map(|(issuer, total, pay_pct, weights)| {
            let mut categories: Vec<CategoryAmount> = Vec::new();
            let weight_sum: u64 = weights.iter().map(|(_, w)| w).sum();
            let mut left = total;
            for (i, (c, w)) in weights.iter().enumerate() {
                let amount =
                    if i + 1 == weights.len() { left } else { total * w / weight_sum.max(1) };
                let amount = amount.min(left);
                left -= amount;
                if amount == 0 {
                    continue;
                }
                match categories.iter_mut().find(|x| x.category == CATEGORIES[*c]) {
                    Some(x) => x.amount = Fen(x.amount.0 + amount),
                    None => categories
                        .push(CategoryAmount { category: CATEGORIES[*c], amount: Fen(amount) }),
                }
            }
            TestBill {
                issuer: member(["h0", "h1", "h2", "h3"][issuer]),
                total,
                claimable: total * pay_pct / 100,
                categories,
            }
        })
}

fn input(bill: &TestBill, requested: u64) -> ItemInput {
    ItemInput {
        requested: Fen(requested),
        issuer: bill.issuer.clone(),
        bill_total: Fen(bill.total),
        categories: bill.categories.clone(),
    }
}

fn check(policy: &Policy, items: &[ItemInput], usage: YearUsage, got: &Adjudication) {
    let expected = reference(policy, items, usage);
    let lines: Vec<[u64; 4]> = got
        .items
        .iter()
        .map(|l| [l.submitted.0, l.eligible.0, l.deductible.0, l.benefit.0])
        .collect();
    assert_eq!(lines, expected, "{policy:?} {items:?} {usage:?}");
    let benefit = got.total.benefit.0;
    assert_eq!(benefit, got.items.iter().map(|l| l.benefit.0).sum::<u64>());
    assert!(benefit <= policy.claim_cap.0);
    assert!(usage.paid.0 + benefit <= policy.yearly_cap.0.max(usage.paid.0));
    assert!(
        got.total.deductible.0 <= policy.deductible_yearly.0.saturating_sub(usage.deductible.0)
    );
    for (line, item) in got.items.iter().zip(items) {
        assert!(line.benefit <= line.eligible && line.eligible <= line.submitted);
        assert!(line.deductible <= line.eligible);
        if !policy.hospitals.contains(&item.issuer) {
            assert_eq!(line.benefit, Fen::ZERO, "a hospital the policy does not cover");
        }
        // Never more than the best category's ratio of what is left after the deductible.
        let best = policy.coverage.iter().map(|c| c.ratio_bp).max().unwrap_or(0);
        let ceiling = u128::from(line.eligible.0 - line.deductible.0) * u128::from(best)
            / u128::from(BASIS_POINTS_FULL);
        assert!(u128::from(line.benefit.0) <= ceiling, "{line:?} over the best ratio {best}");
    }
    assert_eq!(got.auto_approved, got.total.benefit <= policy.auto_approve_max);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Two payers, claims in a random order on shared bills: every adjudication equals the
    /// reference, and no bill is ever paid beyond its claimable amount, whoever pays first.
    #[test]
    fn benefits_stay_within_policy_caps_and_claimable_across_two_payers(
        social in policy_strategy(),
        insurer in policy_strategy(),
        bills in proptest::collection::vec(bill_strategy(), 1..5),
        claims in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec((0..5usize, 0..=100u64), 1..4)), 1..12),
    ) {
        let policies = [social, insurer];
        let mut reserved_or_paid = vec![0u64; bills.len()];
        let mut usage = [YearUsage::default(); 2];
        for (payer, wanted) in claims {
            let payer = usize::from(payer);
            // What the ledger would lock: each bill once per claim, a share of what is left.
            let mut items = Vec::new();
            let mut claimed = Vec::new();
            for (b, pct) in wanted {
                let b = b % bills.len();
                if claimed.contains(&b) {
                    continue;
                }
                let left = bills[b].claimable - reserved_or_paid[b];
                let requested = left * pct / 100;
                if requested == 0 {
                    continue;
                }
                claimed.push(b);
                items.push(input(&bills[b], requested));
            }
            if items.is_empty() {
                continue;
            }
            let got = adjudicate(&policies[payer], &items, usage[payer], 2026);
            check(&policies[payer], &items, usage[payer], &got);
            // Settled at the benefit: the rest of each request is released.
            for (b, line) in claimed.iter().zip(&got.items) {
                reserved_or_paid[*b] += line.benefit.0;
                prop_assert!(reserved_or_paid[*b] <= bills[*b].claimable, "bill {b} paid beyond claimable");
            }
            usage[payer].paid = Fen(usage[payer].paid.0 + got.total.benefit.0);
            usage[payer].deductible = Fen(usage[payer].deductible.0 + got.total.deductible.0);
            prop_assert!(usage[payer].paid <= policies[payer].yearly_cap);
            prop_assert!(usage[payer].deductible <= policies[payer].deductible_yearly);
        }
    }

    /// Random policies are either valid or refused with a reason, and a valid one survives
    /// JSON (the form a payer registers it in).
    #[test]
    fn policies_validate_or_name_their_fault(policy in policy_strategy()) {
        prop_assert_eq!(policy.validate(), Ok(()));
        let text = serde_json::to_string(&policy).unwrap();
        prop_assert_eq!(serde_json::from_str::<Policy>(&text).unwrap(), policy);
    }
}

#[test]
fn a_simple_claim_is_adjudicated_as_a_claims_clerk_would() {
    // The pilot's 97-yuan claim: 70% of examinations, 50% of medicines, a 10-yuan deductible.
    let policy = Policy {
        payer: member("tai-insurance"),
        version: 2,
        coverage: vec![
            CategoryCoverage { category: ChargeCategory::Examination, ratio_bp: 7_000 },
            CategoryCoverage { category: ChargeCategory::WesternMedicine, ratio_bp: 5_000 },
        ],
        deductible_yearly: Fen(1_000),
        claim_cap: Fen(100_000),
        yearly_cap: Fen(1_000_000),
        hospitals: vec![member("city-central-hospital")],
        auto_approve_max: Fen(20_000),
    };
    let item = ItemInput {
        requested: Fen(9_700),
        issuer: member("city-central-hospital"),
        bill_total: Fen(9_700),
        categories: vec![
            CategoryAmount { category: ChargeCategory::Examination, amount: Fen(3_000) },
            CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_700) },
        ],
    };
    let got = adjudicate(&policy, std::slice::from_ref(&item), YearUsage::default(), 2026);
    // Eligible 97.00, deductible 10.00, net 87.00 × (30.00×70% + 67.00×50%) / 97.00 = 48.88 (rounded down).
    assert_eq!(got.total.eligible, Fen(9_700));
    assert_eq!(got.total.deductible, Fen(1_000));
    assert_eq!(got.total.benefit, Fen(4_888));
    assert!(got.auto_approved);
    assert_eq!(got.policy_version, 2);

    // The deductible is yearly: the next claim bears none of it.
    let usage = YearUsage { deductible: Fen(1_000), paid: got.total.benefit };
    let again = adjudicate(&policy, std::slice::from_ref(&item), usage, 2026);
    assert_eq!(again.total.deductible, Fen::ZERO);
    assert_eq!(again.total.benefit, Fen(5_450));

    // Another hospital's bill is not covered; a claim over the ceiling waits for the payer.
    let other = ItemInput { issuer: member("childrens-hospital"), ..item.clone() };
    assert_eq!(adjudicate(&policy, &[other], usage, 2026).total.benefit, Fen::ZERO);
    let big = ItemInput {
        requested: Fen(97_000),
        bill_total: Fen(97_000),
        categories: vec![CategoryAmount {
            category: ChargeCategory::Examination,
            amount: Fen(97_000),
        }],
        ..item
    };
    let big = adjudicate(&policy, &[big], usage, 2026);
    assert_eq!(big.total.benefit, Fen(67_900));
    assert!(!big.auto_approved, "67,900 fen is over the 20,000 ceiling");
}

#[test]
fn invalid_policies_are_refused_with_the_field_at_fault() {
    let good = Policy {
        payer: member("social-security"),
        version: 1,
        coverage: vec![CategoryCoverage { category: ChargeCategory::Other, ratio_bp: 10_000 }],
        deductible_yearly: Fen::ZERO,
        claim_cap: Fen(1),
        yearly_cap: Fen(1),
        hospitals: vec![member("h0")],
        auto_approve_max: Fen::ZERO,
    };
    assert_eq!(good.validate(), Ok(()));
    let cases: Vec<(Policy, PolicyError)> = vec![
        (Policy { version: 0, ..good.clone() }, PolicyError::ZeroVersion),
        (Policy { coverage: vec![], ..good.clone() }, PolicyError::NoCoverage),
        (
            Policy {
                coverage: vec![CategoryCoverage {
                    category: ChargeCategory::Bed,
                    ratio_bp: 10_001,
                }],
                ..good.clone()
            },
            PolicyError::RatioOverFull { category: ChargeCategory::Bed, ratio_bp: 10_001 },
        ),
        (
            Policy { coverage: vec![good.coverage[0], good.coverage[0]], ..good.clone() },
            PolicyError::DuplicateCategory(ChargeCategory::Other),
        ),
        (Policy { hospitals: vec![], ..good.clone() }, PolicyError::NoHospitals),
        (
            Policy { hospitals: vec![member("h0"), member("h0")], ..good.clone() },
            PolicyError::DuplicateHospital(member("h0")),
        ),
        (Policy { claim_cap: Fen::ZERO, ..good.clone() }, PolicyError::ZeroCap("claim_cap")),
        (Policy { yearly_cap: Fen::ZERO, ..good.clone() }, PolicyError::ZeroCap("yearly_cap")),
    ];
    for (policy, error) in cases {
        assert_eq!(policy.validate(), Err(error));
    }
}
