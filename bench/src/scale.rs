//! The named dataset scales: `small` for CI, `standard` (issue 15's numbers) and `large`
//! (ten times `standard`, in ten organizations).

use std::fmt;

/// How much data one dataset holds. Every count but `organizations` is per organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// The scale's name (`small`, `standard`, `large`).
    pub name: &'static str,
    /// Organizations, each with the counts below.
    pub organizations: usize,
    /// Staff users: one owner, [`Scale::admins`] admins, the rest members.
    pub staff: usize,
    /// Admins among the staff.
    pub admins: usize,
    /// Contacts.
    pub contacts: usize,
    /// Timeline events: one per contact (created), note and task, and one per message for as
    /// many messages as the count leaves.
    pub events: usize,
    /// Notes.
    pub notes: usize,
    /// Tasks.
    pub tasks: usize,
    /// Channels (phone numbers and email identities), half of each kind.
    pub channels: usize,
    /// Conversations (one contact and one channel each).
    pub conversations: usize,
    /// Messages over the conversations.
    pub messages: usize,
    /// Per mille of the contacts each member holds a grant on (100 = 10%).
    pub member_contacts_per_mille: usize,
    /// Channels each member holds a grant on.
    pub member_channels: usize,
    /// Labels (for contacts and notes).
    pub labels: usize,
    /// Task types.
    pub task_types: usize,
}

/// Issue 15's `standard`: 1 organization, 50 staff users, 10,000 contacts, 300,000 timeline
/// events, 200,000 notes and tasks (100,000 each), 100,000 messages over 20 channels, a member
/// sees 10% of the contacts and 3 channels.
pub const STANDARD: Scale = Scale {
    name: "standard",
    organizations: 1,
    staff: 50,
    admins: 2,
    contacts: 10_000,
    events: 300_000,
    notes: 100_000,
    tasks: 100_000,
    channels: 20,
    conversations: 20_000,
    messages: 100_000,
    member_contacts_per_mille: 100,
    member_channels: 3,
    labels: 20,
    task_types: 5,
};

/// `large`: ten times `standard`, in ten organizations of `standard`'s size.
pub const LARGE: Scale = Scale {
    name: "large",
    organizations: 10,
    ..STANDARD
};

/// `small`, for CI: the same shapes and proportions, 1/20 of `standard`'s rows.
pub const SMALL: Scale = Scale {
    name: "small",
    organizations: 1,
    staff: 10,
    admins: 2,
    contacts: 500,
    events: 15_000,
    notes: 5_000,
    tasks: 5_000,
    channels: 20,
    conversations: 1_000,
    messages: 5_000,
    member_contacts_per_mille: 100,
    member_channels: 3,
    labels: 20,
    task_types: 5,
};

/// Every named scale.
pub const ALL: [Scale; 3] = [SMALL, STANDARD, LARGE];

impl Scale {
    /// The scale called `name`.
    pub fn named(name: &str) -> Option<Self> {
        ALL.into_iter().find(|s| s.name == name.trim())
    }

    /// Members per organization (staff who are neither the owner nor an admin).
    pub fn members(&self) -> usize {
        self.staff - 1 - self.admins
    }

    /// Contacts each member holds a grant on.
    pub fn member_contacts(&self) -> usize {
        (self.contacts * self.member_contacts_per_mille).div_ceil(1000)
    }

    /// Messages that have a timeline event (the events left after contacts, notes and tasks).
    pub fn message_events(&self) -> usize {
        self.events - self.contacts - self.notes - self.tasks
    }

    /// Checks that the counts fit together (see each field).
    pub fn check(&self) -> Result<(), String> {
        let fits = self.staff > self.admins + 1
            && self.contacts > 0
            && self.channels >= self.member_channels
            && self.events >= self.contacts + self.notes + self.tasks
            && self.message_events() <= self.messages
            && self.conversations <= self.messages
            && self.conversations <= self.contacts * self.channels
            && self.member_contacts_per_mille <= 1000
            && self.labels >= 2
            && self.task_types >= 1;
        if fits {
            Ok(())
        } else {
            Err(format!(
                "scale {} has counts that do not fit together",
                self.name
            ))
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} organization(s) of {} staff, {} contacts, {} events, {} notes, {} tasks, \
             {} messages in {} conversations over {} channels)",
            self.name,
            self.organizations,
            self.staff,
            self.contacts,
            self.events,
            self.notes,
            self.tasks,
            self.messages,
            self.conversations,
            self.channels
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scale_fits_together_and_standard_is_the_issues() {
        for scale in ALL {
            scale.check().expect("consistent");
            assert_eq!(Scale::named(scale.name), Some(scale));
        }
        assert_eq!(STANDARD.contacts, 10_000);
        assert_eq!(STANDARD.events, 300_000);
        assert_eq!(STANDARD.notes + STANDARD.tasks, 200_000);
        assert_eq!(STANDARD.messages, 100_000);
        assert_eq!(STANDARD.channels, 20);
        assert_eq!(STANDARD.staff, 50);
        assert_eq!(STANDARD.member_contacts(), 1_000);
        assert_eq!(LARGE.organizations * LARGE.contacts, 100_000);
        assert_eq!(Scale::named("huge"), None);
    }
}
