//! The page frame (landmarks, navigation, the inline CSS and script) and the small pieces every
//! page shares: numbers, timestamps, status badges, progress, best metrics, error lists.
//!
//! Every value is spliced with maud's `(…)`, which escapes it; `PreEscaped` is used only for
//! the embedded CSS and script and for SVG documents the `plot` module wrote (which escapes
//! every text it draws).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use crate::api::problem::Problem;
use crate::store::JobRow;

const CSS: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Jobs,
    Submit,
    Compare,
    Descent,
    /// An error page: no entry is current.
    None,
}

const NAVIGATION: [(Section, &str, &str); 4] = [
    (Section::Jobs, "/", "Jobs"),
    (Section::Submit, "/submit", "Submit a job"),
    (Section::Compare, "/compare", "Compare"),
    (Section::Descent, "/descent", "Descent"),
];

/// A whole page: `title` names it in the tab, `content` goes in `<main>`.
pub fn page(title: &str, section: Section, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · trainyard" }
                style { (PreEscaped(CSS)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/" { "trainyard" }
                        ul {
                            @for (entry, href, label) in NAVIGATION {
                                li {
                                    @if entry == section {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (content) }
                footer {
                    "trainyard " (env!("CARGO_PKG_VERSION")) " · "
                    a href="/openapi.yaml" { "HTTP API (OpenAPI)" } " · "
                    a href="/metrics" { "Prometheus metrics" }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// An error page from a problem: its title, detail and each offending field.
pub fn problem_page(problem: &Problem) -> Markup {
    page(
        problem.title,
        Section::None,
        html! {
            h1 { (problem.title) }
            (problem_box(problem))
            p { a href="/" { "Back to the jobs" } }
        },
    )
}

/// The alert box listing a problem's detail and fields.
pub fn problem_box(problem: &Problem) -> Markup {
    html! {
        section.errors role="alert" aria-labelledby="errors-title" {
            h2 #errors-title { "Not accepted (" (problem.status) " " (problem.title) ")" }
            @if problem.errors.is_empty() {
                p { (problem.detail) }
            } @else {
                ul {
                    @for field in &problem.errors {
                        li {
                            @if !field.path.is_empty() { code { (field.path) } ": " }
                            (field.message)
                        }
                    }
                }
            }
        }
    }
}

/// A number as the dashboard prints it: integers whole, others to 4 significant digits
/// (scientific notation far from 1), the same rule as the page script's `fmt`.
pub fn number(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(String::new, significant),
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs();
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude.log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// `val_loss 0.061 at epoch 110` from a job's `best`, or a dash.
pub fn best_text(best: &Value) -> String {
    let Some(fields) = best.as_object() else {
        return "—".into();
    };
    let parts: Vec<String> = fields
        .iter()
        .filter(|(key, _)| key.as_str() != "epoch")
        .map(|(key, value)| format!("{key} {}", number(value)))
        .collect();
    if parts.is_empty() {
        return "—".into();
    }
    match fields.get("epoch").filter(|e| !e.is_null()) {
        Some(epoch) => format!("{} at epoch {}", parts.join(", "), number(epoch)),
        None => parts.join(", "),
    }
}

/// The store's milliseconds as `2026-11-28 05:02:11 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A job's status as a badge the page script keeps current.
pub fn status_badge(status: &str) -> Markup {
    html! { span class={ "status status-" (status) } data-field="status" { (status) } }
}

/// What a job is called on the pages: its name, else its id.
pub fn job_label(job: &JobRow) -> &str {
    job.name.as_deref().unwrap_or(&job.id)
}

/// The `progress`, `best` and `latest` parts of what a job's worker last wrote.
pub struct Progress {
    pub epoch: u64,
    pub epochs: u64,
    pub best: Value,
    pub latest: Value,
}

impl Progress {
    pub fn of(job: &JobRow) -> Progress {
        let stored: Value = job
            .progress
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Progress {
            epoch: stored["epoch"].as_u64().unwrap_or(0),
            epochs: job.epochs,
            best: stored["best"].clone(),
            latest: stored["latest"].clone(),
        }
    }
}

/// A progress bar and `epoch / epochs`, named after the job for screen readers.
pub fn progress_cell(job: &JobRow, progress: &Progress) -> Markup {
    html! {
        progress data-field="progress" max=(progress.epochs.max(1))
            value=(progress.epoch.min(progress.epochs))
            aria-label={ "Progress of " (job_label(job)) } {}
        " "
        span data-field="epochs" { (progress.epoch) " / " (progress.epochs) }
    }
}

/// Percent-encodes a query value: unreserved characters stay, every other byte is `%XX`.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_keep_four_significant_digits() {
        for (value, text) in [
            (json!(12), "12"),
            (json!(0.061234), "0.06123"),
            (json!(0.5), "0.5"),
            (json!(1234.56), "1235"),
            (json!(0.00001234), "1.234e-5"),
            (json!(null), ""),
        ] {
            assert_eq!(number(&value), text, "{value}");
        }
    }

    #[test]
    fn best_names_its_metric_and_epoch() {
        assert_eq!(
            best_text(&json!({"epoch": 110, "val_loss": 0.061})),
            "val_loss 0.061 at epoch 110"
        );
        assert_eq!(best_text(&Value::Null), "—");
    }
}
