//! Payer policies and deterministic adjudication: what a payer's registered policy pays on a
//! claim, computed the same way on every validator when the claim's block is executed.
//!
//! ```text
//!  per item (one bill):   submitted ─► eligible ─► − deductible ─► × coverage ─► caps ─► benefit
//!                         (asked)      (0 if the   (the patient's   (the bill's   (claim cap,
//!                                       hospital    yearly          category mix  then yearly
//!                                       is not      deductible,     weighs the    cap, in item
//!                                       covered)    in item order)  ratios)       order)
//! ```
//!
//! All arithmetic is integer fen with one rounding, down, per item (coverage), so a benefit
//! never exceeds what was asked, and no validator can round differently. The ledger only ever
//! asks to adjudicate amounts it has already locked on the bills, so a benefit is also within
//! each bill's claimable amount: several payers in any order never pay more than the patient
//! paid (coordination of benefits).
//!
//! The policy is data, checked by [`Policy::validate`] when it is registered; it is never code.
//! Its fields follow FHIR `ClaimResponse.adjudication` categories: submitted, eligible,
//! deductible, benefit.

use crate::codec_util::{codec_struct, read_vec};
use crate::{CategoryAmount, ChargeCategory, Fen, MemberId};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, Write};
use serde::{Deserialize, Serialize};

/// Coverage ratios are in basis points: 10,000 is all of it.
pub const BASIS_POINTS_FULL: u16 = 10_000;

/// Most hospitals a policy may list (a region's hospitals; a longer list is a data error).
pub const POLICY_HOSPITALS_MAX: usize = 256;

/// The share a policy pays of one charge category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryCoverage {
    /// The category.
    pub category: ChargeCategory,
    /// Basis points of the category's eligible amount paid, 0 to 10,000.
    pub ratio_bp: u16,
}

/// A payer's claim policy: coverage per category, yearly deductible, caps, the hospitals it
/// covers and the largest benefit the ledger settles without the payer's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    /// The payer.
    pub payer: MemberId,
    /// 1, 2, …: each registration of the payer's policy takes the next version.
    pub version: u32,
    /// Coverage per category; a category not listed is not covered.
    pub coverage: Vec<CategoryCoverage>,
    /// What the patient bears each year before the payer pays, per patient pseudonym.
    pub deductible_yearly: Fen,
    /// The most one claim pays.
    pub claim_cap: Fen,
    /// The most one patient pseudonym is paid in a year.
    pub yearly_cap: Fen,
    /// The hospitals whose bills are covered.
    pub hospitals: Vec<MemberId>,
    /// Claims whose benefit is at most this settle in the block that accepts them; larger ones
    /// wait for the payer with the computed benefit as its recommendation.
    pub auto_approve_max: Fen,
}

/// Why a policy cannot be registered. Each names the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Versions start at 1.
    #[error("version must be 1 or more")]
    ZeroVersion,
    /// A policy that covers nothing would reject every claim silently.
    #[error("coverage lists no category")]
    NoCoverage,
    /// A ratio above 100%.
    #[error("coverage of {category:?} is {ratio_bp} basis points, more than 10000")]
    RatioOverFull {
        /// The category.
        category: ChargeCategory,
        /// The ratio given.
        ratio_bp: u16,
    },
    /// A category listed twice: which ratio would apply is ambiguous.
    #[error("coverage lists {0:?} twice")]
    DuplicateCategory(ChargeCategory),
    /// No hospital is covered.
    #[error("hospitals lists no hospital")]
    NoHospitals,
    /// Longer than [`POLICY_HOSPITALS_MAX`].
    #[error("hospitals lists {count}, more than {POLICY_HOSPITALS_MAX}")]
    TooManyHospitals {
        /// How many.
        count: usize,
    },
    /// A hospital listed twice.
    #[error("hospitals lists {0} twice")]
    DuplicateHospital(MemberId),
    /// A cap of zero pays nothing.
    #[error("{0} is zero: the policy would pay nothing")]
    ZeroCap(&'static str),
}

impl Policy {
    /// Checks the policy's own consistency (the ledger also checks that the payer and the
    /// hospitals are members with those roles, and the version is the next one).
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version == 0 {
            return Err(PolicyError::ZeroVersion);
        }
        if self.coverage.is_empty() {
            return Err(PolicyError::NoCoverage);
        }
        for (i, c) in self.coverage.iter().enumerate() {
            if c.ratio_bp > BASIS_POINTS_FULL {
                return Err(PolicyError::RatioOverFull {
                    category: c.category,
                    ratio_bp: c.ratio_bp,
                });
            }
            if self.coverage[..i].iter().any(|d| d.category == c.category) {
                return Err(PolicyError::DuplicateCategory(c.category));
            }
        }
        if self.hospitals.is_empty() {
            return Err(PolicyError::NoHospitals);
        }
        if self.hospitals.len() > POLICY_HOSPITALS_MAX {
            return Err(PolicyError::TooManyHospitals { count: self.hospitals.len() });
        }
        for (i, h) in self.hospitals.iter().enumerate() {
            if self.hospitals[..i].contains(h) {
                return Err(PolicyError::DuplicateHospital(h.clone()));
            }
        }
        if self.claim_cap.is_zero() {
            return Err(PolicyError::ZeroCap("claim_cap"));
        }
        if self.yearly_cap.is_zero() {
            return Err(PolicyError::ZeroCap("yearly_cap"));
        }
        Ok(())
    }

    /// The ratio the policy pays of `category`, in basis points (0 when not covered).
    pub fn ratio_bp(&self, category: ChargeCategory) -> u16 {
        self.coverage.iter().find(|c| c.category == category).map_or(0, |c| c.ratio_bp)
    }
}

/// One claimed bill, as adjudication sees it: all public ledger data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemInput {
    /// The amount the claim asks on this bill (already locked: within its claimable amount).
    pub requested: Fen,
    /// The hospital that issued the bill.
    pub issuer: MemberId,
    /// The bill's total.
    pub bill_total: Fen,
    /// The bill's public totals per category (empty when the hospital gave none: then all of
    /// it counts as `other`).
    pub categories: Vec<CategoryAmount>,
}

/// What the patient has already used this year under the payer's policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct YearUsage {
    /// Deductible already borne this year.
    pub deductible: Fen,
    /// Benefit already paid (or approved) this year.
    pub paid: Fen,
}

/// The adjudication of one item, as FHIR `ClaimResponse.item.adjudication`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lines {
    /// Asked.
    pub submitted: Fen,
    /// Eligible under the policy (zero when the hospital is not covered).
    pub eligible: Fen,
    /// The part of the eligible amount the patient bears as deductible.
    pub deductible: Fen,
    /// What the payer pays.
    pub benefit: Fen,
}

/// The adjudication of a claim: per item and in total, and whether it settles by itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Adjudication {
    /// The policy version applied.
    pub policy_version: u32,
    /// The benefit year whose deductible and yearly cap were applied (see [`benefit_year`]).
    pub year: u16,
    /// One per claimed bill, in the claim's order.
    pub items: Vec<Lines>,
    /// The sums of the items' lines.
    pub total: Lines,
    /// Whether the benefit is within the auto-approve ceiling (the ledger settles it now).
    pub auto_approved: bool,
}

/// The coverage of one bill's amount: Σ category total × ratio, over the bill total, in basis
/// points × fen (the weighted ratio's numerator), and the denominator.
fn weighted(policy: &Policy, item: &ItemInput) -> (u128, u128) {
    if item.categories.is_empty() || item.bill_total.is_zero() {
        let ratio = u128::from(policy.ratio_bp(ChargeCategory::Other));
        return (ratio, u128::from(BASIS_POINTS_FULL));
    }
    let numerator = item
        .categories
        .iter()
        .map(|c| u128::from(c.amount.0) * u128::from(policy.ratio_bp(c.category)))
        .sum();
    (numerator, u128::from(item.bill_total.0) * u128::from(BASIS_POINTS_FULL))
}

/// Adjudicates a claim of `items` under `policy`, given the patient's `usage` in benefit `year`.
/// Deterministic, integer-only, and never more than asked per item, than the claim cap, or
/// than what the yearly cap has left.
pub fn adjudicate(
    policy: &Policy,
    items: &[ItemInput],
    usage: YearUsage,
    year: u16,
) -> Adjudication {
    let mut deductible_left = policy.deductible_yearly.0.saturating_sub(usage.deductible.0);
    let mut claim_left = policy.claim_cap.0;
    let mut year_left = policy.yearly_cap.0.saturating_sub(usage.paid.0);
    let mut lines = Vec::with_capacity(items.len());
    for item in items {
        let submitted = item.requested.0;
        let eligible = if policy.hospitals.contains(&item.issuer) { submitted } else { 0 };
        let deductible = eligible.min(deductible_left);
        deductible_left -= deductible;
        let (numerator, denominator) = weighted(policy, item);
        let covered = u128::from(eligible - deductible) * numerator / denominator;
        // The weighted ratio is at most 1 (category totals add up to the bill total, checked at
        // issue), so `covered` fits in the eligible amount; `min` keeps it so even if not.
        let covered = u64::try_from(covered).unwrap_or(u64::MAX).min(eligible - deductible);
        let benefit = covered.min(claim_left).min(year_left);
        claim_left -= benefit;
        year_left -= benefit;
        lines.push(Lines {
            submitted: Fen(submitted),
            eligible: Fen(eligible),
            deductible: Fen(deductible),
            benefit: Fen(benefit),
        });
    }
    // Sums of amounts each at most their item's `submitted`, whose sum the ledger bounded when
    // it locked the claim; saturation is unreachable but keeps this total.
    let sum = |f: fn(&Lines) -> Fen| Fen(lines.iter().fold(0u64, |s, l| s.saturating_add(f(l).0)));
    let total = Lines {
        submitted: sum(|l| l.submitted),
        eligible: sum(|l| l.eligible),
        deductible: sum(|l| l.deductible),
        benefit: sum(|l| l.benefit),
    };
    Adjudication {
        policy_version: policy.version,
        year,
        auto_approved: total.benefit <= policy.auto_approve_max,
        items: lines,
        total,
    }
}

/// The benefit year of a block: its consensus time's calendar year in China Standard Time
/// (UTC+8, no daylight saving), the year a patient's deductible and yearly cap reset.
pub fn benefit_year(timestamp_ms: u64) -> u16 {
    const CST_OFFSET_MS: u64 = 8 * 3_600_000;
    let (year, _, _) = civil_date(timestamp_ms.saturating_add(CST_OFFSET_MS) / 86_400_000);
    u16::try_from(year).unwrap_or(u16::MAX)
}

/// The calendar date `(year, month, day)` of a count of days since 1970-01-01 (H. Hinnant,
/// "chrono-compatible low-level date algorithms": years shifted to start on 1 March, so that
/// leap days fall last).
pub fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

codec_struct!(CategoryCoverage { category: ChargeCategory, ratio_bp: u16 });
codec_struct!(Lines { submitted: Fen, eligible: Fen, deductible: Fen, benefit: Fen });

impl Write for Policy {
    fn write(&self, buf: &mut impl BufMut) {
        self.payer.write(buf);
        self.version.write(buf);
        self.coverage.write(buf);
        self.deductible_yearly.write(buf);
        self.claim_cap.write(buf);
        self.yearly_cap.write(buf);
        self.hospitals.write(buf);
        self.auto_approve_max.write(buf);
    }
}
impl EncodeSize for Policy {
    fn encode_size(&self) -> usize {
        self.payer.encode_size()
            + self.version.encode_size()
            + self.coverage.encode_size()
            + self.deductible_yearly.encode_size()
            + self.claim_cap.encode_size()
            + self.yearly_cap.encode_size()
            + self.hospitals.encode_size()
            + self.auto_approve_max.encode_size()
    }
}
impl Read for Policy {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self {
            payer: MemberId::read_cfg(buf, &())?,
            version: u32::read_cfg(buf, &())?,
            coverage: read_vec(buf, ChargeCategory::ALL.len())?,
            deductible_yearly: Fen::read_cfg(buf, &())?,
            claim_cap: Fen::read_cfg(buf, &())?,
            yearly_cap: Fen::read_cfg(buf, &())?,
            hospitals: read_vec(buf, POLICY_HOSPITALS_MAX)?,
            auto_approve_max: Fen::read_cfg(buf, &())?,
        })
    }
}

impl Write for Adjudication {
    fn write(&self, buf: &mut impl BufMut) {
        self.policy_version.write(buf);
        self.year.write(buf);
        self.items.write(buf);
        self.total.write(buf);
        self.auto_approved.write(buf);
    }
}
impl EncodeSize for Adjudication {
    fn encode_size(&self) -> usize {
        self.policy_version.encode_size()
            + self.year.encode_size()
            + self.items.encode_size()
            + self.total.encode_size()
            + self.auto_approved.encode_size()
    }
}
impl Read for Adjudication {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self {
            policy_version: u32::read_cfg(buf, &())?,
            year: u16::read_cfg(buf, &())?,
            items: read_vec(buf, crate::limits::CLAIM_BILLS_MAX)?,
            total: Lines::read_cfg(buf, &())?,
            auto_approved: bool::read_cfg(buf, &())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::benefit_year;

    #[test]
    fn benefit_years_turn_at_midnight_in_beijing() {
        // 2025-12-31T15:59:59.999Z is 23:59:59.999 in Beijing; one millisecond later is 2026.
        assert_eq!(benefit_year(1_767_196_799_999), 2025);
        assert_eq!(benefit_year(1_767_196_800_000), 2026);
        assert_eq!(benefit_year(0), 1970);
        // 2024-02-29T12:00:00Z, a leap day.
        assert_eq!(benefit_year(1_709_208_000_000), 2024);
        assert_eq!(benefit_year(u64::MAX), u16::MAX);
    }
}
