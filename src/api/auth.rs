//! API keys. With none configured every request is served; with some, every request but the
//! probes (`/healthz`, `/readyz`) must carry one, else 401:
//!
//! - `Authorization: Bearer KEY`, as API clients and Prometheus scrapers send it;
//! - `Authorization: Basic …` with the key as the password (the user name is ignored), which a
//!   browser asks for itself when a dashboard page answers 401 with a `Basic` challenge. A
//!   browser sends those credentials on its own only below the path it logged in at, so
//!   requests a browser makes (it says so in `Sec-Fetch-Site`) are challenged with `Basic` in
//!   the same realm wherever they go: the page's calls to `/v1/…` are answered with the
//!   cached key instead of failing.
//!
//! Keys are kept as SHA-256 digests and a presented key is compared with every one of them
//! without an early exit, so neither the keys nor the time taken tell which bytes matched.
//!
//! Also here: [`same_site_writes`], which refuses requests that would change something when a
//! browser says they come from another site (a page elsewhere posting to the dashboard's forms
//! with the user's cached credentials).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::problem::{ApiError, Challenge};

/// Paths served without a key: what load balancers and orchestrators probe.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The configured keys, as digests.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl ApiKeys {
    pub fn new(keys: &[String]) -> Self {
        ApiKeys {
            digests: keys.iter().map(|key| digest(key)).collect(),
        }
    }

    /// Whether keys are required at all.
    pub fn required(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether `presented` is one of the keys.
    fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        self.digests.iter().fold(false, |found, key| {
            let differing = key
                .iter()
                .zip(&presented)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            found | (differing == 0)
        })
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The key a request presents in its `Authorization` header, by either scheme.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        let (_user, password) = pair.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

/// Middleware: passes requests that need no key or carry a configured one; answers the rest
/// with 401 and the challenge their client understands (`Basic` for dashboard pages, so that
/// a browser asks for the key; `Bearer` for the API).
pub async fn require_key(
    State(keys): State<Arc<ApiKeys>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !keys.required() || OPEN_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let api_path = path.starts_with("/v1/") || path == "/metrics" || path == "/openapi.yaml";
    let from_browser = request.headers().contains_key("sec-fetch-site");
    let challenge = if api_path && !from_browser {
        Challenge::Bearer
    } else {
        Challenge::Basic
    };
    match presented_key(request.headers()) {
        Some(key) if keys.accepts(&key) => next.run(request).await,
        presented => ApiError::Unauthorized {
            challenge,
            presented: presented.is_some(),
        }
        .into_response(),
    }
}

/// Middleware: a request that may change something (any method but GET, HEAD and OPTIONS)
/// is refused with 403 when the browser that sends it says it comes from another site:
/// `Sec-Fetch-Site: cross-site` or `same-site`, or, from a browser too old to send that,
/// an `Origin` whose host is not the `Host` the request was sent to. Clients that are not
/// browsers send neither header and pass.
pub async fn same_site_writes(request: Request, next: Next) -> Response {
    let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
    if reads.contains(request.method()) || !from_another_site(request.headers()) {
        return next.run(request).await;
    }
    ApiError::CrossSite.into_response()
}

fn from_another_site(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "cross-site" | "same-site");
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match (origin_host, text(header::HOST.as_str())) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        // `Origin: null` (a sandboxed page, a file) or no Host to compare with.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).expect("a header value"),
        );
        headers
    }

    #[test]
    fn a_key_is_read_from_bearer_or_from_basics_password() {
        assert_eq!(
            presented_key(&headers("Bearer k-0123456789abcdef")).as_deref(),
            Some("k-0123456789abcdef")
        );
        // "anyone:k-0123456789abcdef"
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:k-0123456789abcdef");
        assert_eq!(
            presented_key(&headers(&format!("basic {basic}"))).as_deref(),
            Some("k-0123456789abcdef")
        );
        assert_eq!(presented_key(&headers("Basic %%%")), None);
        assert_eq!(presented_key(&headers("Token abc")), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn writes_from_another_site_are_told_by_fetch_metadata_then_by_origin() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for &(name, value) in pairs {
                headers.insert(name, HeaderValue::from_static(value));
            }
            from_another_site(&headers)
        };
        // curl, scripts: neither header.
        assert!(!with(&[]));
        assert!(!with(&[("host", "127.0.0.1:8080")]));
        assert!(with(&[("sec-fetch-site", "cross-site")]));
        assert!(with(&[("sec-fetch-site", "same-site")]));
        assert!(!with(&[("sec-fetch-site", "same-origin")]));
        assert!(!with(&[("sec-fetch-site", "none")]));
        // Fetch metadata wins over a Host a proxy rewrote.
        assert!(!with(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://trainyard.example"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(!with(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(with(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(with(&[("origin", "null"), ("host", "127.0.0.1:8080")]));
    }

    #[test]
    fn only_configured_keys_are_accepted() {
        let keys = ApiKeys::new(&["first-key-0123456".into(), "second-key-012345".into()]);
        assert!(keys.required());
        assert!(keys.accepts("first-key-0123456"));
        assert!(keys.accepts("second-key-012345"));
        assert!(!keys.accepts("first-key-012345"));
        assert!(!keys.accepts(""));
        assert!(!ApiKeys::default().required());
    }
}
