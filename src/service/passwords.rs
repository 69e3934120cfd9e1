//! Passwords: argon2id hashes with the parameters OWASP recommends (m = 19 MiB, t = 2, p = 1),
//! computed off the async runtime and a few at a time; and the policy a new password must meet.
//!
//! A password is never logged, stored or returned: only its PHC hash string is kept (in
//! `user_passwords`, which no user query reads).

use std::sync::{LazyLock, OnceLock};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// argon2id memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// argon2id passes (OWASP: 2).
pub const ITERATIONS: u32 = 2;
/// argon2id lanes (OWASP: 1).
pub const PARALLELISM: u32 = 1;
/// The fewest characters a password may have.
pub const MIN_CHARS: usize = 8;
/// The most characters a password may have (a bound on what one request makes us hash).
pub const MAX_CHARS: usize = 256;

/// The hasher with Threadline's parameters.
fn argon2() -> ApiResult<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| ApiError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// How many hashes run at once on this process: each holds 19 MiB and a core for tens of
/// milliseconds, so a burst of sign-ins queues here instead of exhausting memory.
static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// The hash checked when there is no real one (an unknown email, a user without a password),
/// so that every failed sign-in costs the same as a wrong password.
static DUMMY_HASH: OnceLock<String> = OnceLock::new();

/// Checks a new password against the policy: 8 to 256 characters, not only spaces. (No
/// composition rules, as NIST SP 800-63B advises; passphrases are welcome.)
pub fn validate(field: &str, password: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(ApiError::bad_input(
            field,
            format!("use at least {MIN_CHARS} characters"),
        ));
    }
    if chars > MAX_CHARS {
        return Err(ApiError::bad_input(
            field,
            format!("use at most {MAX_CHARS} characters"),
        ));
    }
    if password.trim().is_empty() {
        return Err(ApiError::bad_input(
            field,
            "a password cannot be only spaces",
        ));
    }
    Ok(())
}

/// Runs `work` on the blocking pool under the hashing limit.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("the hashing limit was closed".into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("a password hash task failed: {e}")))?
}

fn hash_now(password: &[u8]) -> ApiResult<String> {
    argon2()?
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub async fn hash(password: &str) -> ApiResult<String> {
    let password = password.as_bytes().to_vec();
    blocking(move || hash_now(&password)).await
}

/// Whether `password` matches `hash`; with no hash, checks against a dummy one (same cost) and
/// answers `false`. A stored hash that does not parse counts as a mismatch (and is logged).
pub async fn verify(password: &str, hash: Option<String>) -> ApiResult<bool> {
    let password = password.as_bytes().to_vec();
    blocking(move || {
        let real = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => match DUMMY_HASH.get() {
                Some(dummy) => dummy.clone(),
                None => {
                    let random = crate::db::random_bytes::<32>();
                    let dummy = hash_now(&random)?;
                    DUMMY_HASH.get_or_init(|| dummy).clone()
                }
            },
        };
        let parsed = match PasswordHash::new(&hash) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::error!(%error, "a stored password hash does not parse");
                return Ok(false);
            }
        };
        let matches = argon2()?.verify_password(&password, &parsed).is_ok();
        Ok(real && matches)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_with_the_owasp_parameters() {
        let hash = hash("correct horse battery").await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
        assert!(
            verify("correct horse battery", Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong horse battery", Some(hash))
                .await
                .expect("verify")
        );
        // No hash: the dummy is checked, and nothing matches it.
        assert!(!verify("anything at all", None).await.expect("verify"));
        assert!(
            !verify("x", Some("not a hash".into()))
                .await
                .expect("verify")
        );
    }

    #[test]
    fn the_policy_counts_characters() {
        assert!(validate("password", "short").is_err());
        assert!(validate("password", "        ").is_err());
        assert!(validate("password", "ünïcödé!").is_ok());
        assert!(validate("password", &"a".repeat(MAX_CHARS + 1)).is_err());
    }
}
