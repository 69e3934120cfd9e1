//! The cryptography behind `jsonwebtoken`, done by `ring`: the crate the build already has for
//! TLS (rustls, sqlx) and for the webhooks' ed25519 signatures. `jsonwebtoken`'s own providers
//! would add either aws-lc-rs or RustCrypto's RSA and elliptic-curve crates, a second crypto
//! stack for the same primitives. This module only adapts `ring`'s calls to the
//! [`JwtSigner`]/[`JwtVerifier`] traits; parsing, algorithm pinning and claim checks stay
//! `jsonwebtoken`'s.
//!
//! Signing is offered for HS256 only (the gateway's own tokens); verification for HS256 and
//! for the identity-provider algorithms RS256/384/512, PS256/384/512, ES256/384 and EdDSA.
//! Every verifier checks that its key is of the algorithm's family, so a public key can never
//! be used as an HMAC secret (algorithm confusion).

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey,
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::{Error, ErrorKind},
    jwk::ThumbprintHash,
};
use jsonwebtoken::{AlgorithmFamily, DecodingKeyKind, signature as sig};
use ring::{
    hmac,
    signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm},
};

/// The provider installed at start-up (see [`install`]).
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| {
            Err(ErrorKind::InvalidRsaKey(UNSUPPORTED.into()).into())
        },
        rsa_pub_components_from_public_key: |_| {
            Err(ErrorKind::InvalidRsaKey(UNSUPPORTED.into()).into())
        },
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidEcdsaKey.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidEddsaKey.into()),
        compute_digest,
    },
};

const UNSUPPORTED: &str = "deriving JWKs from keys is not used by Threadline";

/// Makes `ring` the process's `jsonwebtoken` crypto provider. Idempotent; every entry point
/// that signs or checks a token calls it first.
pub fn install() {
    // Another install (by this function, earlier) is the same provider: nothing to do.
    let _ = PROVIDER.install_default();
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

/// HMAC-SHA256 with a secret, the one algorithm the gateway signs with.
struct Hs256 {
    key: hmac::Key,
}

impl sig::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, sig::Error> {
        Ok(hmac::sign(&self.key, msg).as_ref().to_vec())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl sig::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), sig::Error> {
        // Constant-time comparison of the recomputed tag.
        hmac::verify(&self.key, msg, signature).map_err(|_| sig::Error::new())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    match algorithm {
        Algorithm::HS256 if key.family() == AlgorithmFamily::Hmac => Ok(Box::new(Hs256 {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        })),
        Algorithm::HS256 => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

/// A public-key verifier: `ring`'s algorithm and the key as `ring` takes it.
struct PublicKey {
    algorithm: Algorithm,
    ring: &'static dyn VerificationAlgorithm,
    key: Key,
}

/// A public key in the form its `ring` algorithm reads.
enum Key {
    /// SEC1 points (ECDSA), raw Ed25519 keys, PKCS#1 `RSAPublicKey` DER.
    Bytes(Vec<u8>),
    /// RSA modulus and exponent, big-endian (from a JWK's `n` and `e`).
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl sig::Verifier<Vec<u8>> for PublicKey {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), sig::Error> {
        let checked = match &self.key {
            Key::Bytes(bytes) => UnparsedPublicKey::new(self.ring, bytes).verify(msg, signature),
            Key::Rsa { n, e } => {
                let params = rsa_params(self.algorithm).ok_or_else(sig::Error::new)?;
                RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
            }
        };
        checked.map_err(|_| sig::Error::new())
    }
}

impl JwtVerifier for PublicKey {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// The RSA parameters of an RSA algorithm (keys of 2048 to 8192 bits).
fn rsa_params(algorithm: Algorithm) -> Option<&'static signature::RsaParameters> {
    Some(match algorithm {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    // The key must be of the algorithm's family: an RSA or EC public key is never an HMAC
    // secret, whatever the token's header says.
    if key.family() != algorithm.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let ring: &'static dyn VerificationAlgorithm = match algorithm {
        Algorithm::HS256 => {
            let DecodingKeyKind::SecretOrDer(secret) = key.kind() else {
                return Err(ErrorKind::InvalidKeyFormat.into());
            };
            return Ok(Box::new(Hs256 {
                key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            }));
        }
        Algorithm::HS384 | Algorithm::HS512 => return Err(ErrorKind::InvalidAlgorithm.into()),
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        rsa => rsa_params(*rsa).ok_or(ErrorKind::InvalidAlgorithm)?,
    };
    let key = match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => Key::Bytes(bytes.clone()),
        DecodingKeyKind::RsaModulusExponent { n, e } => Key::Rsa {
            n: n.clone(),
            e: e.clone(),
        },
    };
    Ok(Box::new(PublicKey {
        algorithm: *algorithm,
        ring,
        key,
    }))
}
