//! Tokens from an OpenID Connect identity provider (issue 13): a key set served by a local
//! HTTP server on 127.0.0.1, RS256 and ES256 tokens signed with test keys.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Json, Router, extract::State, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use ring::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair},
};
use serde_json::{Value, json};
use sha2::Sha256;
use threadline::auth::Role;

use crate::helpers::{TestApp, new_org, spawn_app_with_config, staff, user_id, world};

const ISSUER: &str = "https://idp.example.test";
const AUDIENCE: &str = "threadline-web";
const ME: &str = "{ me { email role } }";

/// A fake identity provider: its keys, and a JWKS endpoint on 127.0.0.1 that counts fetches.
struct Provider {
    url: String,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    rng: SystemRandom,
}

#[derive(Clone)]
struct Served {
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks(State(served): State<Served>) -> Json<Value> {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    Json(served.jwks.lock().expect("jwks").clone())
}

/// The big-endian integers of an RSAPublicKey DER (`SEQUENCE { n INTEGER, e INTEGER }`),
/// without leading zeros, as a JWK carries them.
fn rsa_n_e(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn read(der: &[u8], at: &mut usize) -> (u8, Vec<u8>) {
        let tag = der[*at];
        let mut len = usize::from(der[*at + 1]);
        *at += 2;
        if len & 0x80 != 0 {
            let bytes = len & 0x7f;
            len = der[*at..*at + bytes]
                .iter()
                .fold(0, |n, b| (n << 8) | usize::from(*b));
            *at += bytes;
        }
        let value = der[*at..*at + len].to_vec();
        *at += len;
        (tag, value)
    }
    let mut at = 0;
    let (tag, body) = read(der, &mut at);
    assert_eq!(tag, 0x30, "an RSAPublicKey sequence");
    let mut inner = 0;
    let (_, n) = read(&body, &mut inner);
    let (_, e) = read(&body, &mut inner);
    let strip = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>();
    (strip(n), strip(e))
}

impl Provider {
    async fn start() -> Self {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::from_pkcs8(include_bytes!("fixtures/oidc_test_rsa.pk8"))
            .expect("the test RSA key");
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("an EC key");
        let ec = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .expect("the EC key");
        let served = Served {
            jwks: Arc::new(Mutex::new(json!({ "keys": [] }))),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("addr")
        );
        let router = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(served.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let provider = Self {
            url,
            jwks: served.jwks,
            fetches: served.fetches,
            rsa,
            ec,
            rng,
        };
        provider.publish(vec![provider.rsa_jwk("rsa-1"), provider.ec_jwk("ec-1")]);
        provider
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.jwks.lock().expect("jwks") = json!({ "keys": keys });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn rsa_jwk(&self, kid: &str) -> Value {
        let (n, e) = rsa_n_e(self.rsa.public().as_ref());
        json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        })
    }

    fn ec_jwk(&self, kid: &str) -> Value {
        let point = self.ec.public_key().as_ref();
        json!({
            "kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    fn signing_input(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn rs256(&self, kid: &str, claims: &Value) -> String {
        let input =
            Self::signing_input(&json!({ "alg": "RS256", "typ": "JWT", "kid": kid }), claims);
        let mut sig = vec![0; self.rsa.public().modulus_len()];
        self.rsa
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                input.as_bytes(),
                &mut sig,
            )
            .expect("RS256");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn es256(&self, kid: &str, claims: &Value) -> String {
        let input =
            Self::signing_input(&json!({ "alg": "ES256", "typ": "JWT", "kid": kid }), claims);
        let sig = self.ec.sign(&self.rng, input.as_bytes()).expect("ES256");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// Claims for `email`, valid for five minutes.
fn claims(email: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": format!("idp|{email}"),
        "email": email, "email_verified": true, "name": "Ida Provider",
        "iat": now, "exp": now + 300,
    })
}

async fn gateway(provider: &Provider, auto_create: bool, min_refetch: Duration) -> TestApp {
    let url = provider.url.clone();
    spawn_app_with_config(move |c| {
        c.oidc_issuer = Some(ISSUER.into());
        c.oidc_audience = Some(AUDIENCE.into());
        c.oidc_jwks_url = Some(url);
        c.oidc_auto_create = auto_create;
        c.oidc_jwks_min_refetch = min_refetch;
    })
    .await
}

async fn me(app: &TestApp, token: &str) -> crate::helpers::Gql {
    app.gql(Some(token), ME, json!({})).await
}

#[tokio::test]
async fn identity_provider_tokens_are_verified_against_its_keys() {
    let provider = Provider::start().await;
    let app = gateway(&provider, false, Duration::from_secs(600)).await;
    let w = world(&app).await;

    let rs = me(&app, &provider.rs256("rsa-1", &claims("READ@acme.test"))).await;
    assert_eq!(rs.data()["me"]["email"], "read@acme.test");
    let es = me(&app, &provider.es256("ec-1", &claims("owner@acme.test"))).await;
    assert_eq!(es.data()["me"]["role"], "OWNER");
    // The gateway's own tokens keep working beside them.
    me(&app, &app.token(&w.admin)).await.data();

    let now = chrono::Utc::now().timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("read@acme.test");
        change(&mut c);
        c
    };
    let good = provider.rs256("rsa-1", &claims("read@acme.test"));
    let mut tampered = good.clone();
    let last = tampered.pop().expect("a character");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (header_part, rest) = good.split_once('.').expect("a JWT");
    let _ = header_part;
    let payload = rest.split_once('.').expect("a JWT").0;
    let alg_none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": "rsa-1" }).to_string())
    );
    // Algorithm confusion: HS256 "signed" with the provider's public key, as text and as DER.
    let confused = |secret: &[u8]| {
        let input = Provider::signing_input(
            &json!({ "alg": "HS256", "typ": "JWT", "kid": "rsa-1" }),
            &claims("read@acme.test"),
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("key");
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let public_jwk = provider.rsa_jwk("rsa-1").to_string();
    let refused = [
        (
            "expired",
            provider.rs256("rsa-1", &with(&|c| c["exp"] = json!(now - 120))),
        ),
        (
            "not yet valid",
            provider.rs256("rsa-1", &with(&|c| c["nbf"] = json!(now + 600))),
        ),
        (
            "wrong audience",
            provider.rs256("rsa-1", &with(&|c| c["aud"] = json!("another-app"))),
        ),
        (
            "wrong issuer",
            provider.rs256("rsa-1", &with(&|c| c["iss"] = json!("https://evil.test"))),
        ),
        (
            "no audience",
            provider.rs256(
                "rsa-1",
                &with(&|c| {
                    c.as_object_mut().expect("claims").remove("aud");
                }),
            ),
        ),
        (
            "unverified email",
            provider.rs256("rsa-1", &with(&|c| c["email_verified"] = json!(false))),
        ),
        (
            "unknown user",
            provider.rs256("rsa-1", &claims("stranger@acme.test")),
        ),
        ("tampered signature", tampered),
        ("alg none", alg_none),
        (
            "HS256 with the public key (DER)",
            confused(provider.rsa.public().as_ref()),
        ),
        (
            "HS256 with the public key (JWK)",
            confused(public_jwk.as_bytes()),
        ),
        (
            "ES256 header on the RSA key",
            provider.es256("rsa-1", &claims("read@acme.test")),
        ),
    ];
    for (what, token) in refused {
        let response = me(&app, &token).await;
        assert_eq!(
            response.code(),
            Some("UNAUTHENTICATED"),
            "{what}: {}",
            response.body
        );
    }
    // A token inside the clock skew (expired 30 s ago) still works.
    me(
        &app,
        &provider.rs256("rsa-1", &with(&|c| c["exp"] = json!(now - 30))),
    )
    .await
    .data();
    // A deactivated user is refused at once.
    app.gql(
        Some(&app.token(&w.owner)),
        "mutation ($id: ID!) { deactivateUser(id: $id) { active } }",
        json!({ "id": user_id(w.member_read.id) }),
    )
    .await
    .data();
    me(&app, &good).await.expect_code("UNAUTHENTICATED");
    // Every check above used the key set fetched once.
    assert_eq!(provider.fetches(), 1);
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set_once() {
    let provider = Provider::start().await;
    let app = gateway(&provider, false, Duration::from_secs(2)).await;
    let org = new_org(&app.db, "Acme").await;
    staff(&app.db, org, "ida@acme.test", Role::Member).await;
    me(&app, &provider.rs256("rsa-1", &claims("ida@acme.test")))
        .await
        .data();
    assert_eq!(provider.fetches(), 1);

    // The provider rotates in a new key; a token with its kid makes one refetch (once the
    // minimum interval since the last fetch has passed).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    provider.publish(vec![provider.rsa_jwk("rsa-1"), provider.ec_jwk("ec-2")]);
    me(&app, &provider.es256("ec-2", &claims("ida@acme.test")))
        .await
        .data();
    assert_eq!(provider.fetches(), 2);
    me(&app, &provider.es256("ec-2", &claims("ida@acme.test")))
        .await
        .data();
    assert_eq!(provider.fetches(), 2, "a known kid needs no fetch");

    // A kid the provider never published: refused, and within the minimum interval it does
    // not make the gateway fetch again, however often it is sent.
    for _ in 0..3 {
        me(&app, &provider.es256("ghost", &claims("ida@acme.test")))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    assert_eq!(provider.fetches(), 2);
}

#[tokio::test]
async fn an_unknown_verified_email_becomes_a_member_when_auto_create_is_on() {
    let provider = Provider::start().await;
    let app = gateway(&provider, true, Duration::from_secs(600)).await;
    new_org(&app.db, "Acme").await;
    let token = provider.rs256("rsa-1", &claims("New.Person@acme.test"));
    let first = me(&app, &token).await;
    assert_eq!(first.data()["me"]["email"], "new.person@acme.test");
    assert_eq!(first.data()["me"]["role"], "MEMBER");
    // The second request finds the user created by the first.
    me(&app, &token).await.data();
    assert_eq!(app.count_rows("users").await, 1);
    // Unverified emails are still refused.
    let mut unverified = claims("other@acme.test");
    unverified["email_verified"] = json!(false);
    me(&app, &provider.rs256("rsa-1", &unverified))
        .await
        .expect_code("UNAUTHENTICATED");
    assert_eq!(app.count_rows("users").await, 1);
}
