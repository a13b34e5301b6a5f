//! The HTTP surface: routing, extraction and problem+json. No SQL and no math: every handler
//! extracts, calls one function of `jobs` (or `descent`), and renders the answer.
//!
//! Each resource module exposes `routes()`, a [`Routes`] that pairs its axum routes with a table
//! of the paths and methods it serves; [`route_table`] is what the OpenAPI drift test compares
//! with `openapi.yaml`.

pub mod auth;
pub mod dashboard;
pub mod datasets;
pub mod descent;
pub mod events;
pub mod extract;
pub mod jobs;
pub mod metrics;
pub mod models;
pub mod plots;
pub mod problem;
pub mod service;
pub mod state;
pub mod sweeps;

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use self::extract::BodyLimit;
use self::problem::ApiError;
pub use self::state::AppState;

/// One path and the methods served on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

/// Routes of one resource, with their table.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteEntry>,
}

impl Routes {
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    /// Serves `methods` on `path` with `handler`; `methods` must list exactly what `handler`
    /// answers (the drift test checks it against the live router).
    pub fn route(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, handler);
        self.table.push(RouteEntry { path, methods });
        self
    }

    fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

fn all_routes() -> Routes {
    Routes::new()
        .merge(service::routes())
        .merge(jobs::routes())
        .merge(events::routes())
        .merge(models::routes())
        .merge(datasets::routes())
        .merge(descent::routes())
        .merge(plots::routes())
        .merge(sweeps::routes())
        .merge(metrics::routes())
        .merge(dashboard::routes())
}

/// Every path and method the router serves.
pub fn route_table() -> Vec<RouteEntry> {
    all_routes().table
}

/// The whole HTTP application; with `keys` configured, every request but the probes must
/// carry one ([`auth`]).
pub fn router(state: AppState, keys: auth::ApiKeys) -> Router {
    let body_limit = state.queue.limits().max_body_bytes;
    all_routes()
        .router
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.queue),
            metrics::track,
        ))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::Extension(BodyLimit(body_limit)))
        .layer(axum::middleware::from_fn(auth::same_site_writes))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(keys),
            auth::require_key,
        ))
        .layer(
            // One INFO line per request when it is answered: method, URI, status, latency.
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

async fn route_not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// The last resort: a handler panicked. The message goes to the log, the client gets a 500.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::Panic.into_response()
}
