//! Outbound webhooks: signing per the Standard Webhooks specification and the retry schedule.
//! The outbox, the delivery worker and the endpoint API build on these (see the README's
//! known gaps).

pub mod retry;
pub mod signing;
