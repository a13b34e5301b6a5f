//! Extractors that refuse with problem+json: a JSON body, a CSV body, query parameters, page
//! cursors, the `Idempotency-Key` and `Last-Event-ID` headers.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::problem::ApiError;
use crate::jobs::Rejection;

/// A JSON request body as a `serde_json::Value`; the handler's domain code checks its shape,
/// so that every error names its path. Requires `Content-Type: application/json`.
#[derive(Debug)]
pub struct JsonBody(pub serde_json::Value);

/// The configured body limit, put in every request's extensions by the router so that a 413
/// can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn body_limit(request: &Request) -> usize {
    request
        .extensions()
        .get::<BodyLimit>()
        .map_or(0, |limit| limit.0)
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
        let bytes = read_body(request, state).await?;
        let parsed = if bytes.len() >= PARSE_OFF_RUNTIME_FROM {
            tokio::task::spawn_blocking(move || parse_json(&bytes))
                .await
                .map_err(|e| ApiError::UnreadableBody(format!("reading the body stopped: {e}")))?
        } else {
            parse_json(&bytes)
        };
        parsed
            .map(JsonBody)
            .map_err(|e| ApiError::MalformedJson(e.to_string()))
    }
}

/// The whole body, within the configured limit (413 naming it beyond).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = body_limit(&request);
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
            _ => ApiError::UnreadableBody(rejection.body_text()),
        })
}

/// JSON bodies at least this long are parsed on the blocking pool: tens of megabytes (a large
/// predict) would hold an async worker, and every request it serves, for most of a second.
const PARSE_OFF_RUNTIME_FROM: usize = 256 * 1024;

/// `application/json` or any `application/*+json`, parameters such as `charset` allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| {
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
}

/// Any JSON value whose objects name each key once. `serde_json::Value` keeps the last of
/// repeated keys, so `{"epochs": 1, "epochs": 1000}` would train for 1000 epochs while the
/// stored spec showed both; RFC 8259 leaves such a body's meaning open, so it is refused.
struct UniqueKeys(Value);

/// Parses JSON text as a request body is parsed: any value, each object naming each key once.
pub fn parse_json(text: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(text).map(|UniqueKeys(value)| value)
}

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// Whether the request's content type is `expected` (parameters such as `charset` allowed).
fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

/// A `text/csv` request body.
#[derive(Debug)]
pub struct CsvBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for CsvBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_content_type(request.headers(), "text/csv") {
            return Err(ApiError::UnsupportedMediaType {
                expected: "text/csv",
            });
        }
        read_body(request, state).await.map(CsvBody)
    }
}

/// The body of a model import: `application/json` (a trainyard model document) or
/// `application/octet-stream` (a safetensors file).
#[derive(Debug)]
pub enum ModelBody {
    Json(serde_json::Value),
    Bytes(Bytes),
}

impl<S: Send + Sync> FromRequest<S> for ModelBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if has_content_type(request.headers(), "application/json") {
            return JsonBody::from_request(request, state)
                .await
                .map(|JsonBody(value)| ModelBody::Json(value));
        }
        if !has_content_type(request.headers(), "application/octet-stream") {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/json or application/octet-stream",
            });
        }
        read_body(request, state).await.map(ModelBody::Bytes)
    }
}

/// The query string as name → value (a repeated name keeps its last value).
#[derive(Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => Ok(Params(pairs.into_iter().collect())),
            Err(rejection) => Err(ApiError::BadParameter(Rejection::new(
                "query",
                rejection.body_text(),
            ))),
        }
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer parameter in `[min, max]`, or `default` when absent.
    pub fn integer(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.parse::<i64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::BadParameter(Rejection::new(
                name,
                format!("must be an integer in [{min}, {max}], got {text:?}"),
            ))),
        }
    }

    /// A boolean parameter (`true`/`false`), or `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::BadParameter(Rejection::new(
                name,
                format!("must be true or false, got {other:?}"),
            ))),
        }
    }

    /// One of `choices`, or the first choice when absent.
    pub fn choice(&self, name: &str, choices: &[&'static str]) -> Result<&'static str, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(choices[0]);
        };
        choices.iter().copied().find(|c| *c == text).ok_or_else(|| {
            ApiError::BadParameter(Rejection::new(
                name,
                format!("must be one of {}, got {text:?}", choices.join(", ")),
            ))
        })
    }
}

/// Default and largest page sizes of every list.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

/// `?limit=` and `?cursor=` of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: u32,
    /// The `(created_at, id)` after which the page starts.
    pub before: Option<(i64, String)>,
}

impl Page {
    pub fn from_params(params: &Params) -> Result<Page, ApiError> {
        let limit = params.integer("limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
        let before = params.get("cursor").map(decode_cursor).transpose()?;
        Ok(Page {
            limit: u32::try_from(limit).unwrap_or(50),
            before,
        })
    }
}

/// An opaque cursor for the item keyed `(created_at, id)`.
pub fn encode_cursor(key: &(i64, String)) -> String {
    hex::encode(format!("{}:{}", key.0, key.1))
}

fn decode_cursor(text: &str) -> Result<(i64, String), ApiError> {
    let invalid = || {
        ApiError::BadParameter(Rejection::new(
            "cursor",
            "is not a cursor this server issued",
        ))
    };
    let bytes = hex::decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok((at.parse().map_err(|_| invalid())?, id.to_owned()))
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        match value.to_str() {
            Ok(key)
                if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(IdempotencyKey(Some(key.to_owned())))
            }
            _ => Err(ApiError::BadParameter(Rejection::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ))),
        }
    }
}

/// The `Last-Event-ID` header of a reconnecting SSE client; 0 when absent.
#[derive(Debug)]
pub struct LastEventId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("last-event-id") else {
            return Ok(LastEventId(0));
        };
        value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|id| *id >= 0)
            .map(LastEventId)
            .ok_or_else(|| {
                ApiError::BadParameter(Rejection::new(
                    "Last-Event-ID",
                    "must be an event id this server sent",
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let key = (1_764_000_000_000, "0196-abc".to_owned());
        assert_eq!(decode_cursor(&encode_cursor(&key)).ok(), Some(key));
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor(&hex::encode("no-colon")).is_err());
    }

    #[test]
    fn integer_parameters_are_range_checked() {
        let params = Params(
            [("limit".to_owned(), "501".to_owned())]
                .into_iter()
                .collect(),
        );
        assert!(params.integer("limit", 50, 1, 500).is_err());
        assert_eq!(
            Params::default().integer("limit", 50, 1, 500).ok(),
            Some(50)
        );
    }
}
