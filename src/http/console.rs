//! The playground at `GET /`: a console written for this project (HTML, CSS and a small
//! script, embedded in the binary), so exploring the API needs no network but the gateway's.
//! In `auto` mode (`THREADLINE_PLAYGROUND`, the default) the page first tries GraphiQL from
//! its CDN and opens the built-in console when that does not load within two seconds; in
//! `builtin` mode it never asks the CDN; `off` serves nothing. The examples of `playground.md`
//! are one click away (`/console/examples.json`, read from the copy built into the binary).
//! On a loopback listener with the demo organization, the console also offers the demo users
//! and signs in with one click (`/console/demo.json`, see [`demo`]), to a request from this
//! machine only (see [`local`]); on any other listener that route does not exist and the
//! examples show a placeholder instead of the demo password.
//!
//! Every answer carries a Content-Security-Policy that admits the gateway's own origin only
//! (plus the CDN, in `auto` mode), `X-Content-Type-Options: nosniff` and a `Referrer-Policy`,
//! and no CORS headers (see [`super::router`]).

pub mod demo;
pub mod local;

use std::sync::LazyLock;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use super::{AppState, auth::Client};
use crate::{config::Playground, demo::DEMO_PASSWORD};

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");
const PLAYGROUND_MD: &str = include_str!("../../playground.md");

/// The CDN GraphiQL is loaded from in `auto` mode.
const CDN: &str = "https://unpkg.com";

/// The policy of the built-in console: its own origin for scripts, styles and requests
/// (`'self'` covers the same origin's WebSocket), nothing inline, never framed.
const CSP_BUILTIN: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The policy in `auto` mode: the same, plus GraphiQL's scripts, styles and fonts from the CDN
/// (GraphiQL sets inline styles).
static CSP_AUTO: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src 'self' {CDN}; style-src 'self' 'unsafe-inline' {CDN}; \
         font-src {CDN} data:; connect-src 'self'; img-src 'self' data: {CDN}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// The console's routes (`/` and its assets), or none when the playground is off. The demo
/// sign-in's route exists only when `demo_sign_in` (the listener is a loopback address, see
/// [`demo::offered_on`]).
pub fn routes(mode: Playground, demo_sign_in: bool) -> Router<AppState> {
    if mode == Playground::Off {
        return Router::new();
    }
    let routes = Router::new()
        .route("/", get(page))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .route("/console/examples.json", get(examples));
    if demo_sign_in {
        routes.route("/console/demo.json", get(demo_users))
    } else {
        routes
    }
}

fn secured(mode: Playground, content_type: &'static str, body: impl IntoResponse) -> Response {
    let policy = match mode {
        Playground::Auto => CSP_AUTO.as_str(),
        Playground::Builtin | Playground::Off => CSP_BUILTIN,
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn page(State(state): State<AppState>) -> Response {
    let mode = state.playground;
    let name: &'static str = mode.into();
    secured(
        mode,
        "text/html; charset=utf-8",
        PAGE.replace("{{MODE}}", name),
    )
}

async fn script(State(state): State<AppState>) -> Response {
    secured(state.playground, "text/javascript; charset=utf-8", SCRIPT)
}

async fn style(State(state): State<AppState>) -> Response {
    secured(state.playground, "text/css; charset=utf-8", STYLE)
}

async fn examples(State(state): State<AppState>) -> Response {
    let examples = if state.demo_sign_in {
        EXAMPLES.as_slice()
    } else {
        PUBLIC_EXAMPLES.as_slice()
    };
    secured(
        state.playground,
        "application/json",
        (StatusCode::OK, Json(examples)),
    )
}

/// `GET /console/demo.json` (loopback listeners only): the demo users and their password, or
/// 404 when this database has none to offer or the request may not come from this machine (a
/// proxy, a rebound host name, another page: see [`local`]). Never stored by the browser or a
/// proxy.
async fn demo_users(State(state): State<AppState>, Client(client): Client) -> Response {
    let offer = if client.local {
        demo::demo_sign_in(&state.db).await
    } else {
        tracing::debug!(
            "not offering the demo sign-in to a request that may not come from this machine"
        );
        Ok(None)
    };
    let mut response = match offer {
        Ok(Some(offer)) => secured(state.playground, "application/json", Json(offer)),
        Ok(None) => secured(
            state.playground,
            "text/plain; charset=utf-8",
            (StatusCode::NOT_FOUND, "no demo users to sign in as\n"),
        ),
        Err(error) => {
            tracing::error!(%error, "reading the demo users for the console");
            secured(
                state.playground,
                "text/plain; charset=utf-8",
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the demo users could not be read\n",
                ),
            )
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One example of `playground.md`: the operation under a heading and the variables after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The heading it is under.
    pub title: String,
    /// `query`, `mutation` or `subscription`.
    pub kind: String,
    /// The operation's name, when it has one.
    pub name: Option<String>,
    /// The GraphQL document.
    pub document: String,
    /// The JSON variables ("" when none).
    pub variables: String,
}

static EXAMPLES: LazyLock<Vec<Example>> = LazyLock::new(|| examples_of(PLAYGROUND_MD));

/// What stands for the demo password in the examples served on a non-loopback listener.
pub const PASSWORD_PLACEHOLDER: &str = "your password";

/// The examples a non-loopback listener serves: the same, without the demo password (a
/// database created on a loopback listener may still have it when served publicly).
static PUBLIC_EXAMPLES: LazyLock<Vec<Example>> = LazyLock::new(|| {
    EXAMPLES
        .iter()
        .map(|e| Example {
            document: e.document.replace(DEMO_PASSWORD, PASSWORD_PLACEHOLDER),
            variables: e.variables.replace(DEMO_PASSWORD, PASSWORD_PLACEHOLDER),
            ..e.clone()
        })
        .collect()
});

/// Reads the examples of a markdown page: each fenced `graphql` block with the heading above
/// it, and the fenced `json` block that follows it (before the next operation), if any.
pub fn examples_of(markdown: &str) -> Vec<Example> {
    let mut found: Vec<Example> = Vec::new();
    let mut heading = String::new();
    let mut fence: Option<(String, Vec<&str>)> = None;
    let mut variables_open = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some((lang, body)) = &mut fence {
            if trimmed.starts_with("```") {
                let text = body.join("\n");
                match lang.as_str() {
                    "graphql" => {
                        let (kind, name) = kind_and_name(&text);
                        found.push(Example {
                            title: heading.clone(),
                            kind,
                            name,
                            document: format!("{text}\n"),
                            variables: String::new(),
                        });
                        variables_open = true;
                    }
                    "json" if variables_open => {
                        if let Some(last) = found.last_mut() {
                            last.variables = format!("{text}\n");
                        }
                        variables_open = false;
                    }
                    _ => {}
                }
                fence = None;
            } else {
                body.push(line);
            }
            continue;
        }
        if let Some(lang) = trimmed.strip_prefix("```") {
            fence = Some((lang.trim().to_owned(), Vec::new()));
        } else if let Some(title) = line.strip_prefix("## ") {
            heading = title.trim().to_owned();
            variables_open = false;
        }
    }
    found
}

fn kind_and_name(document: &str) -> (String, Option<String>) {
    let mut words = document
        .split(|c: char| c.is_whitespace() || c == '(' || c == '{')
        .filter(|w| !w.is_empty());
    match words.next() {
        Some(kind @ ("query" | "mutation" | "subscription")) => {
            let name = words
                .next()
                .filter(|w| w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .map(str::to_owned);
            (kind.to_owned(), name)
        }
        _ => ("query".to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_take_their_heading_and_the_variables_after_them() {
        let page = "# Title\n\n## Who am I\n\n```graphql\nquery Me {\n  me { id }\n}\n```\n\n\
                    ## Search\n\n```graphql\nquery Search($t: String!) { contacts { totalCount } }\n```\n\n\
                    ```json\n{ \"t\": \"x\" }\n```\n\n## Shell\n\n```sh\ncurl ...\n```\n\n```json\n{}\n```\n\n\
                    ## Anonymous\n\n```graphql\n{ me { id } }\n```\n";
        let examples = examples_of(page);
        assert_eq!(examples.len(), 3);
        assert_eq!(examples[0].title, "Who am I");
        assert_eq!(examples[0].name.as_deref(), Some("Me"));
        assert_eq!(examples[0].variables, "");
        assert_eq!(examples[1].name.as_deref(), Some("Search"));
        assert_eq!(examples[1].variables, "{ \"t\": \"x\" }\n");
        assert_eq!(examples[2].kind, "query");
        assert_eq!(examples[2].name, None);
    }

    #[test]
    fn the_built_in_examples_are_those_of_playground_md() {
        assert!(EXAMPLES.len() >= 10, "{} examples", EXAMPLES.len());
        assert!(EXAMPLES.iter().any(|e| e.kind == "subscription"));
        assert!(EXAMPLES.iter().all(|e| !e.title.is_empty()));
    }

    #[test]
    fn public_examples_are_the_same_without_the_demo_password() {
        assert!(EXAMPLES.iter().any(|e| e.variables.contains(DEMO_PASSWORD)));
        assert_eq!(PUBLIC_EXAMPLES.len(), EXAMPLES.len());
        for (public, local) in PUBLIC_EXAMPLES.iter().zip(EXAMPLES.iter()) {
            assert!(!public.document.contains(DEMO_PASSWORD), "{}", public.title);
            assert!(
                !public.variables.contains(DEMO_PASSWORD),
                "{}",
                public.title
            );
            assert_eq!(
                public.variables,
                local.variables.replace(DEMO_PASSWORD, PASSWORD_PLACEHOLDER)
            );
            assert_eq!(public.title, local.title);
        }
    }
}
