//! Whether a request comes from this machine, as far as HTTP can tell: what the demo sign-in
//! (`/console/demo.json`, and `signIn` with the documented demo password) asks before it answers.
//!
//! A loopback listener is not enough on its own:
//! - any web page the developer opens can send requests to `127.0.0.1`; with DNS rebinding its
//!   own host name then resolves to `127.0.0.1`, and the browser treats the gateway's answers
//!   as same-origin to that page. Such a request names the page's host in `Host` (and in
//!   `Origin`, when there is one), never a loopback one;
//! - a reverse proxy on the same machine forwards everyone's requests from a loopback peer. A
//!   proxy that says so (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`) is recognised; one
//!   that adds none of them and rewrites `Host` to the upstream's loopback address cannot be
//!   told from a local browser, which is why the README says to run a proxied gateway with
//!   `--no-demo`.
//!
//! So a request is local when its peer is a loopback address, it has exactly one `Host` and it
//! names a loopback host (`127.0.0.0/8`, `[::1]` or `localhost`, any port), the request target
//! names none other, every `Origin` it carries is an `http`/`https` origin on such a host, and
//! it carries none of the proxy headers. Anything unusual (`Origin: null`, two `Host` headers,
//! `localhost.`, an IPv4-mapped address) counts as not local: refusing is the safe side.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::{HeaderMap, Uri, header};

/// The headers a reverse proxy adds to say whom it forwards for: any of them makes a request
/// not local.
pub const PROXY_HEADERS: [&str; 7] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-server",
    "x-real-ip",
    "via",
];

/// Whether a request from `peer` with `uri` and `headers` comes from this machine (see the
/// module's documentation).
pub fn is_local_request(peer: Option<IpAddr>, uri: &Uri, headers: &HeaderMap) -> bool {
    peer.is_some_and(|ip| ip.is_loopback())
        && !PROXY_HEADERS.iter().any(|name| headers.contains_key(*name))
        && single_loopback_host(headers)
        && uri.authority().is_none_or(|a| is_loopback_host(a.as_str()))
        && headers
            .get_all(header::ORIGIN)
            .iter()
            .all(|origin| origin.to_str().is_ok_and(is_loopback_origin))
}

fn single_loopback_host(headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().is_ok_and(is_loopback_host),
        _ => false,
    }
}

/// Whether `host` (a `Host` header: a name or address, with an optional port) names this
/// machine: `localhost`, an address of `127.0.0.0/8`, or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal: `[addr]` or `[addr]:port`.
        let Some((address, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        };
        return valid_port(port) && address.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    valid_port(port)
        && (name.eq_ignore_ascii_case("localhost")
            || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()))
}

/// An absent port, or 1 to 5 digits (`Host: 127.0.0.1:` is not a loopback host).
fn valid_port(port: Option<&str>) -> bool {
    port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `origin` (an `Origin` header) is a page served from this machine:
/// `http://` or `https://` and a loopback host (see [`is_loopback_host`]), nothing after it.
pub fn is_loopback_origin(origin: &str) -> bool {
    let scheme_len = if origin.len() >= 8 && origin[..8].eq_ignore_ascii_case("https://") {
        8
    } else if origin.len() >= 7 && origin[..7].eq_ignore_ascii_case("http://") {
        7
    } else {
        return false;
    };
    let host = &origin[scheme_len..];
    !host.contains('/') && is_loopback_host(host)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn loopback_hosts_are_localhost_127_8_and_ipv6_one() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:1",
            "localhost",
            "LocalHost:3000",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.",
            "localhost.evil.example",
            "app.localhost",
            "127.1",
            "0177.0.0.1",
            "0.0.0.0:8080",
            "10.0.0.5",
            "[::]:8080",
            "[::ffff:127.0.0.1]",
            "::1",
            "[::1]8080",
            "127.0.0.1:",
            "127.0.0.1:80a",
            "127.0.0.1:8080:1",
            "user@127.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn loopback_origins_are_http_or_https_on_a_loopback_host() {
        for origin in [
            "http://127.0.0.1:8080",
            "https://localhost",
            "HTTP://[::1]:3000",
        ] {
            assert!(is_loopback_origin(origin), "{origin}");
        }
        for origin in [
            "null",
            "",
            "http://evil.example",
            "https://evil.example:8080",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1:8080/",
            "file://",
            "ws://127.0.0.1:8080",
            "http://user@127.0.0.1",
        ] {
            assert!(!is_loopback_origin(origin), "{origin}");
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_local_request_has_a_loopback_peer_host_and_origin_and_no_proxy() {
        let local = Some(IpAddr::from([127, 0, 0, 1]));
        let path: Uri = "/console/demo.json".parse().expect("uri");
        let check = |peer, pairs: &[(&'static str, &'static str)]| {
            is_local_request(peer, &path, &headers(pairs))
        };
        assert!(check(local, &[("host", "127.0.0.1:8080")]));
        assert!(check(
            local,
            &[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:5173")
            ]
        ));
        // DNS rebinding: the page's own name in Host, or in Origin.
        assert!(!check(local, &[("host", "evil.example:8080")]));
        assert!(!check(
            local,
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "https://evil.example")
            ]
        ));
        assert!(!check(
            local,
            &[("host", "127.0.0.1:8080"), ("origin", "null")]
        ));
        assert!(!check(
            local,
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                ("origin", "https://evil.example"),
            ]
        ));
        // No Host, or two.
        assert!(!check(local, &[]));
        assert!(!check(
            local,
            &[("host", "127.0.0.1:8080"), ("host", "evil.example")]
        ));
        // A proxy that says so.
        for proxy in PROXY_HEADERS {
            assert!(
                !check(local, &[("host", "127.0.0.1:8080"), (proxy, "203.0.113.9")]),
                "{proxy}"
            );
        }
        // A peer elsewhere, or unknown.
        assert!(!check(
            Some(IpAddr::from([192, 168, 1, 20])),
            &[("host", "127.0.0.1:8080")]
        ));
        assert!(!check(None, &[("host", "127.0.0.1:8080")]));
        // An absolute-form target naming another host.
        let absolute: Uri = "http://evil.example/console/demo.json"
            .parse()
            .expect("uri");
        assert!(!is_local_request(
            local,
            &absolute,
            &headers(&[("host", "127.0.0.1:8080")])
        ));
    }
}
