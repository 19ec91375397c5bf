//! Consortium members and their roles.

use crate::ids::MemberId;
use medledger_crypto::PublicKey;
use serde::{Deserialize, Serialize};

/// What a member may do on the ledger (../shared/DOMAIN.md, "Who takes part").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Issues and voids its own bills.
    Hospital,
    /// The finance bureau: allocates bill-number ranges, freezes members.
    Regulator,
    /// The social security bureau: adjudicates and settles claims it receives.
    SocialSecurity,
    /// A commercial insurer: adjudicates and settles claims it receives.
    Insurer,
    /// The patients' wallet app: registers patients, files claims with their consent.
    PaymentPlatform,
}

impl Role {
    /// Every role, in bit order.
    pub const ALL: [Role; 5] = [
        Role::Hospital,
        Role::Regulator,
        Role::SocialSecurity,
        Role::Insurer,
        Role::PaymentPlatform,
    ];

    const fn bit(self) -> u8 {
        match self {
            Role::Hospital => 1,
            Role::Regulator => 2,
            Role::SocialSecurity => 4,
            Role::Insurer => 8,
            Role::PaymentPlatform => 16,
        }
    }

    /// The role's name as used in messages and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Hospital => "hospital",
            Role::Regulator => "regulator",
            Role::SocialSecurity => "social_security",
            Role::Insurer => "insurer",
            Role::PaymentPlatform => "payment_platform",
        }
    }
}

/// A set of roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// The set of the given roles.
    pub fn of(roles: &[Role]) -> Self {
        Self(roles.iter().fold(0, |acc, role| acc | role.bit()))
    }

    /// Whether `role` is in the set.
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the member settles claims (social security or insurer).
    pub fn is_payer(self) -> bool {
        self.has(Role::SocialSecurity) || self.has(Role::Insurer)
    }

    /// The roles in the set.
    pub fn to_vec(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.has(*r)).collect()
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_vec().serialize(s)
    }
}
impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Roles::of(&Vec::<Role>::deserialize(d)?))
    }
}

/// A member as the ledger knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// Its identifier.
    pub id: MemberId,
    /// Its display name (an institution's public name, never a person's).
    pub name: String,
    /// What it may do.
    pub roles: Roles,
    /// The keys that sign for it.
    pub keys: Vec<PublicKey>,
    /// A frozen member's transactions are refused until the regulator unfreezes it.
    pub frozen: bool,
    /// Its key for reading bill bodies.
    pub encryption_key: Option<crate::ids::EncryptionKey>,
    /// Whether every bill body must be wrapped to it (defined by genesis).
    pub body_reader: bool,
}
