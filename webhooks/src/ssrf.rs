//! The SSRF guard: webhook URLs may only reach the public internet.
//!
//! A URL must be `http` or `https`, name a host and carry no user name or password. Every
//! address it leads to is classified ([`classify`]): loopback, private (RFC 1918, IPv6 unique
//! local), link-local, cloud metadata, shared (CGNAT), multicast, unspecified, broadcast,
//! documentation, benchmarking and reserved ranges are refused, as are IPv6 forms that embed
//! such an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4, Teredo). A guard built with
//! `allow_private` refuses none of them (development, or receivers on the same network).
//!
//! DNS can change between an endpoint's creation and a delivery, so the check happens on the
//! addresses actually connected to: [`Guard`] is the `reqwest` resolver of the
//! [`Sender`](crate::client::Sender) and refuses a name when any of its addresses is forbidden,
//! and IP-literal URLs (which `reqwest` connects to without resolving) are checked by
//! [`Guard::check_url`] before each request. [`Guard::validate_url`] does the same checks up
//! front, when an endpoint is created, with a message that says why a URL is refused.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// How long a name lookup may take before the guard gives up on it.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The kind of a forbidden address; its `Display` reads "a private address" and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forbidden {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// The instance metadata services of cloud providers (169.254.169.254, fd00:ec2::254,
    /// 100.100.100.200, 168.63.129.16).
    CloudMetadata,
    /// 100.64.0.0/10, shared by carrier-grade NATs.
    SharedAddressSpace,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 0.0.0.0, :: (connecting to them reaches the local host).
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// Everything else not routed on the public internet: 0.0.0.0/8, 192.0.0.0/24,
    /// 192.88.99.0/24, 240.0.0.0/4, and IPv6 outside 2000::/3 or in special-purpose blocks.
    Reserved,
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::CloudMetadata => "a cloud metadata address",
            Self::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            Self::Multicast => "a multicast address",
            Self::Unspecified => "an unspecified address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::Reserved => "a reserved address",
        })
    }
}

/// Why a webhook URL or one of its addresses was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    /// The text is not a URL.
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    /// The scheme is neither `http` nor `https`.
    #[error("the URL's scheme must be http or https, not {0}")]
    UnsupportedScheme(String),
    /// The URL names no host.
    #[error("the URL has no host")]
    MissingHost,
    /// The URL carries a user name or a password.
    #[error("the URL must not contain a user name or password")]
    Userinfo,
    /// The host name could not be resolved.
    #[error("{host} could not be resolved: {reason}")]
    Unresolvable {
        /// The host name.
        host: String,
        /// What the lookup reported.
        reason: String,
    },
    /// The host name resolved to no address.
    #[error("{host} resolves to no address")]
    NoAddress {
        /// The host name.
        host: String,
    },
    /// The URL leads to a forbidden address.
    #[error("{}", describe_forbidden(host.as_deref(), *ip, *kind))]
    Forbidden {
        /// The host name that resolved to `ip`, or `None` for an IP-literal URL.
        host: Option<String>,
        /// The forbidden address.
        ip: IpAddr,
        /// What kind of address it is.
        kind: Forbidden,
    },
}

fn describe_forbidden(host: Option<&str>, ip: IpAddr, kind: Forbidden) -> String {
    let subject = match host {
        Some(host) => format!("{host} resolves to {ip}, {kind}"),
        None => format!("{ip} is {kind}"),
    };
    match ip {
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => format!("{subject} (it embeds the IPv4 address {v4})"),
            None => subject,
        },
        IpAddr::V4(_) => subject,
    }
}

/// What kind of forbidden address `ip` is, or `None` for an address on the public internet.
pub fn classify(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether `ip` lies in `network`/`len`.
fn in_v4(ip: Ipv4Addr, network: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    const METADATA: [[u8; 4]; 3] = [
        // AWS, GCP, Azure, OCI and most others.
        [169, 254, 169, 254],
        // Alibaba Cloud (inside the shared range, named here for a clearer message).
        [100, 100, 100, 200],
        // Azure's host endpoint (WireServer): public space, but only meaningful inside Azure.
        [168, 63, 129, 16],
    ];
    const RANGES: &[([u8; 4], u32, Forbidden)] = &[
        ([0, 0, 0, 0], 8, Forbidden::Reserved),
        ([10, 0, 0, 0], 8, Forbidden::Private),
        ([100, 64, 0, 0], 10, Forbidden::SharedAddressSpace),
        ([127, 0, 0, 0], 8, Forbidden::Loopback),
        ([169, 254, 0, 0], 16, Forbidden::LinkLocal),
        ([172, 16, 0, 0], 12, Forbidden::Private),
        ([192, 0, 0, 0], 24, Forbidden::Reserved),
        ([192, 0, 2, 0], 24, Forbidden::Documentation),
        ([192, 88, 99, 0], 24, Forbidden::Reserved),
        ([192, 168, 0, 0], 16, Forbidden::Private),
        ([198, 18, 0, 0], 15, Forbidden::Benchmarking),
        ([198, 51, 100, 0], 24, Forbidden::Documentation),
        ([203, 0, 113, 0], 24, Forbidden::Documentation),
        ([224, 0, 0, 0], 4, Forbidden::Multicast),
        ([240, 0, 0, 0], 4, Forbidden::Reserved),
    ];
    if METADATA.contains(&ip.octets()) {
        return Some(Forbidden::CloudMetadata);
    }
    if ip.is_unspecified() {
        return Some(Forbidden::Unspecified);
    }
    if ip.is_broadcast() {
        return Some(Forbidden::Broadcast);
    }
    RANGES
        .iter()
        .find(|(network, len, _)| in_v4(ip, *network, *len))
        .map(|(_, _, kind)| *kind)
}

/// The IPv4 address an IPv6 address stands for, in the forms that route to it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`), 6to4
/// (`2002:aabb:ccdd::`) and Teredo (`2001:0:...`, the client address inverted in the last
/// 32 bits).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // `::` and `::1` are not IPv4-compatible addresses; they are classified on their own.
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_unspecified() && !ip.is_loopback() => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(low))),
        _ => None,
    }
}

/// Whether `ip` lies in `network`/`len`.
fn in_v6(ip: Ipv6Addr, network: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(network)) & mask
}

fn classify_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    // AWS's instance metadata service over IPv6 (inside fc00::/7, named for the message).
    const AWS_METADATA: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    const RANGES: &[([u16; 8], u32, Forbidden)] = &[
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Forbidden::Multicast),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Forbidden::LinkLocal),
        // Deprecated site-local addresses: private by intent.
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Forbidden::Private),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Forbidden::Private),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            Forbidden::Documentation,
        ),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Forbidden::Documentation),
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48, Forbidden::Benchmarking),
        // ORCHID and ORCHIDv2: identifiers, not routable.
        ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, Forbidden::Reserved),
        ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, Forbidden::Reserved),
    ];
    // Global unicast is 2000::/3; the rest is not routed on the internet (this covers the
    // discard prefix 100::/64, the local-use NAT64 prefix 64:ff9b:1::/48, SRv6 5f00::/16).
    const GLOBAL_UNICAST: [u16; 8] = [0x2000, 0, 0, 0, 0, 0, 0, 0];
    if ip.is_unspecified() {
        return Some(Forbidden::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Forbidden::Loopback);
    }
    if ip == AWS_METADATA {
        return Some(Forbidden::CloudMetadata);
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_v4(v4);
    }
    if let Some((_, _, kind)) = RANGES
        .iter()
        .find(|(network, len, _)| in_v6(ip, *network, *len))
    {
        return Some(*kind);
    }
    (!in_v6(ip, GLOBAL_UNICAST, 3)).then_some(Forbidden::Reserved)
}

/// The future a [`Lookup`] returns.
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Turns a host name into addresses; pluggable so tests can map names without real DNS.
pub trait Lookup: Send + Sync {
    /// The addresses of `host` (a domain name, never an IP literal).
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a>;
}

/// The operating system's resolver (`getaddrinfo`, run off the async threads by tokio).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A fixed table of names and their addresses; other names do not resolve. For tests.
#[derive(Clone, Debug, Default)]
pub struct StaticLookup {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticLookup {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table with `host` (matched case-insensitively, a trailing dot ignored) resolving
    /// to `addresses`.
    pub fn with(mut self, host: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.names
            .insert(normalize(host), addresses.into_iter().collect());
        self
    }
}

fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl Lookup for StaticLookup {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        let found =
            self.names.get(&normalize(host)).cloned().ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no such host {host}"))
            });
        Box::pin(std::future::ready(found))
    }
}

/// The SSRF policy of one gateway: whether private addresses are allowed, and how names are
/// looked up. Cheap to clone; also a `reqwest` resolver that refuses forbidden addresses.
#[derive(Clone)]
pub struct Guard {
    allow_private: bool,
    lookup: Arc<dyn Lookup>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard using the system resolver; `allow_private` turns every refusal of an address
    /// off (`THREADLINE_WEBHOOK_ALLOW_PRIVATE`).
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            lookup: Arc::new(SystemLookup),
        }
    }

    /// The same guard looking names up with `lookup` instead.
    pub fn with_lookup(mut self, lookup: impl Lookup + 'static) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// Whether this guard lets private and other forbidden addresses through.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Refuses `ip` if it is forbidden and private addresses are not allowed; `host` is the name
    /// it was resolved from, if any, for the message.
    fn check_ip(&self, host: Option<&str>, ip: IpAddr) -> Result<(), SsrfError> {
        match classify(ip) {
            Some(kind) if !self.allow_private => Err(SsrfError::Forbidden {
                host: host.map(str::to_owned),
                ip,
                kind,
            }),
            _ => Ok(()),
        }
    }

    /// Checks what can be checked without DNS: the URL's syntax, scheme, host and userinfo,
    /// and the address of an IP-literal host. Run before every request: `reqwest` does not
    /// resolve IP literals, so the resolver never sees them.
    pub fn check_url(&self, url: &str) -> Result<Url, SsrfError> {
        let url = Url::parse(url).map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SsrfError::UnsupportedScheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SsrfError::Userinfo);
        }
        match url.host() {
            None => return Err(SsrfError::MissingHost),
            Some(Host::Domain("")) => return Err(SsrfError::MissingHost),
            Some(Host::Domain(_)) => {}
            Some(Host::Ipv4(ip)) => self.check_ip(None, IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(None, IpAddr::V6(ip))?,
        }
        Ok(url)
    }

    /// The addresses of `host`, refused as a whole when any of them is forbidden (a name that
    /// mixes public and private addresses is a rebinding attempt as far as we can tell).
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, SsrfError> {
        let unresolvable = |reason: String| SsrfError::Unresolvable {
            host: host.to_owned(),
            reason,
        };
        let addresses = tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup.lookup(host))
            .await
            .map_err(|_| unresolvable(format!("no answer within {} s", LOOKUP_TIMEOUT.as_secs())))?
            .map_err(|e| unresolvable(e.to_string()))?;
        if addresses.is_empty() {
            return Err(SsrfError::NoAddress {
                host: host.to_owned(),
            });
        }
        for ip in &addresses {
            self.check_ip(Some(host), *ip)?;
        }
        Ok(addresses)
    }

    /// Validates a webhook URL when an endpoint is created or changed:
    /// [`check_url`](Self::check_url), then the host name resolved and every address checked.
    /// The error's message says why, e.g. "hooks.internal resolves to 10.1.2.3, a private
    /// address".
    pub async fn validate_url(&self, url: &str) -> Result<Url, SsrfError> {
        let url = self.check_url(url)?;
        if let Some(Host::Domain(domain)) = url.host() {
            self.resolve(domain).await?;
        }
        Ok(url)
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let addresses = Guard::resolve(&guard, name.as_str()).await?;
            // Port 0: reqwest puts in the URL's port.
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<Forbidden> {
        classify(text.parse().expect("an IP address"))
    }

    #[test]
    fn classifies_ipv4() {
        use Forbidden::*;
        for (ip, expected) in [
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(CloudMetadata)),
            ("169.254.1.1", Some(LinkLocal)),
            ("100.100.100.200", Some(CloudMetadata)),
            ("168.63.129.16", Some(CloudMetadata)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.127.255.255", Some(SharedAddressSpace)),
            ("100.128.0.1", None),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.2.1", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("198.20.0.1", None),
            ("192.88.99.1", Some(Reserved)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.215.14", None),
            ("11.0.0.1", None),
            ("223.255.255.255", None),
        ] {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    #[test]
    fn classifies_ipv6_and_embedded_ipv4() {
        use Forbidden::*;
        for (ip, expected) in [
            ("::1", Some(Loopback)),
            ("::", Some(Unspecified)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fd00:ec2::254", Some(CloudMetadata)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("ff0e::1", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("2001:2::1", Some(Benchmarking)),
            ("2001:20::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            ("64:ff9b:1::a01:203", Some(Reserved)),
            ("5f00::1", Some(Reserved)),
            ("4000::1", Some(Reserved)),
            // IPv4-mapped, -compatible, NAT64, 6to4 and Teredo forms.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(CloudMetadata)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Loopback)),
            ("::10.0.0.1", Some(Private)),
            ("::8.8.8.8", None),
            ("64:ff9b::10.1.2.3", Some(Private)),
            ("64:ff9b::169.254.169.254", Some(CloudMetadata)),
            ("64:ff9b::8.8.8.8", None),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:a01:203::1", Some(Private)),
            ("2002:808:808::1", None),
            // Teredo: client 10.1.2.3 inverted is f5fe:fdfc.
            ("2001:0:4136:e378:8000:63bf:f5fe:fdfc", Some(Private)),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001:80b::200e", None),
        ] {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_for_syntax_and_literal_addresses() {
        let guard = Guard::new(false);
        assert!(guard.check_url("https://hooks.example.com/in?x=1").is_ok());
        assert!(guard.check_url("http://8.8.8.8:8080/").is_ok());
        for (url, error) in [
            (
                "ftp://example.com/",
                SsrfError::UnsupportedScheme("ftp".into()),
            ),
            (
                "file:///etc/passwd",
                SsrfError::UnsupportedScheme("file".into()),
            ),
            ("https://user:pw@example.com/", SsrfError::Userinfo),
            ("https://user@example.com/", SsrfError::Userinfo),
            ("https://:pw@example.com/", SsrfError::Userinfo),
        ] {
            assert_eq!(guard.check_url(url).err(), Some(error), "{url}");
        }
        for url in ["not a url", "http://", "https://exa mple.com/", ""] {
            assert!(
                matches!(guard.check_url(url), Err(SsrfError::InvalidUrl(_))),
                "{url}"
            );
        }
        // Literal addresses in every spelling the URL parser accepts.
        for (url, ip) in [
            ("http://127.0.0.1/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://[::1]:8080/", "::1"),
            ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
            ("http://0.0.0.0/", "0.0.0.0"),
        ] {
            match guard.check_url(url) {
                Err(SsrfError::Forbidden {
                    host: None,
                    ip: got,
                    ..
                }) => {
                    assert_eq!(got, ip.parse::<IpAddr>().expect("ip"), "{url}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(Guard::new(true).check_url("http://127.0.0.1/").is_ok());
    }

    #[test]
    fn messages_say_why() {
        let guard = Guard::new(false);
        let message = |url: &str| {
            guard
                .check_url(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            message("http://127.0.0.1/"),
            "127.0.0.1 is a loopback address"
        );
        assert_eq!(
            message("http://169.254.169.254/"),
            "169.254.169.254 is a cloud metadata address"
        );
        assert_eq!(
            message("http://[2002:a01:203::]/"),
            "2002:a01:203:: is a private address (it embeds the IPv4 address 10.1.2.3)"
        );
        assert_eq!(
            message("gopher://x/"),
            "the URL's scheme must be http or https, not gopher"
        );
    }

    #[tokio::test]
    async fn names_are_resolved_and_every_address_checked() {
        let lookup = StaticLookup::new()
            .with("internal.example", ["10.1.2.3".parse().expect("ip")])
            .with("public.example", ["93.184.215.14".parse().expect("ip")])
            .with(
                "mixed.example",
                [
                    "93.184.215.14".parse().expect("ip"),
                    "::1".parse().expect("ip"),
                ],
            )
            .with("empty.example", []);
        let guard = Guard::new(false).with_lookup(lookup.clone());

        let err = guard
            .validate_url("https://Internal.Example/hook")
            .await
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "internal.example resolves to 10.1.2.3, a private address"
        );
        assert!(
            guard
                .validate_url("https://public.example/hook")
                .await
                .is_ok()
        );
        assert_eq!(
            guard
                .validate_url("https://mixed.example/")
                .await
                .expect_err("refused")
                .to_string(),
            "mixed.example resolves to ::1, a loopback address"
        );
        assert_eq!(
            guard.validate_url("https://empty.example/").await.err(),
            Some(SsrfError::NoAddress {
                host: "empty.example".into()
            })
        );
        assert!(matches!(
            guard.validate_url("https://nowhere.example/").await,
            Err(SsrfError::Unresolvable { .. })
        ));
        assert!(matches!(
            guard.validate_url("http://[fe80::1]/").await,
            Err(SsrfError::Forbidden {
                kind: Forbidden::LinkLocal,
                ..
            })
        ));

        let open = Guard::new(true).with_lookup(lookup);
        assert!(open.validate_url("https://internal.example/").await.is_ok());
        assert!(open.validate_url("http://127.0.0.1:1/").await.is_ok());
    }

    #[tokio::test]
    async fn the_system_lookup_resolves_localhost_and_it_is_refused() {
        let err = Guard::new(false)
            .validate_url("http://localhost:8080/")
            .await
            .expect_err("refused");
        assert!(
            matches!(
                err,
                SsrfError::Forbidden {
                    kind: Forbidden::Loopback,
                    ..
                }
            ),
            "{err}"
        );
    }
}
