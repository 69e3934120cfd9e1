//! Outbound webhooks, the pieces without a database: what the gateway's delivery worker and
//! endpoint API build on.
//!
//! - [`signing`]: Standard Webhooks signatures, symmetric (`v1`, HMAC-SHA256, `whsec_`
//!   secrets, two signatures during a rotation) and asymmetric (`v1a`, ed25519, `whsk_` /
//!   `whpk_` keys); a [`Signer`](signing::Signer) per endpoint and a
//!   [`Verifier`](signing::Verifier) for receivers and tests.
//! - [`retry`]: the retry schedule with ±20 % jitter, and `Retry-After` parsing.
//! - [`ssrf`]: the SSRF guard: which URLs and addresses a webhook may reach, checked at
//!   endpoint creation and again on the addresses actually connected to.
//! - [`client`]: the [`Sender`](client::Sender) that posts one signed attempt and returns its
//!   [`Attempt`](client::Attempt) record (status, latency, error, response excerpt,
//!   `Retry-After`, outcome).
//!
//! The outbox tables, the worker loop and the GraphQL endpoints live in the gateway.

pub mod client;
pub mod retry;
pub mod signing;
pub mod ssrf;
