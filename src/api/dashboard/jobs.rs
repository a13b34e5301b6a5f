//! The job list (`/`) and a job's page (`/jobs/{id}`): status, progress, best metrics, the
//! charts, the model downloads, the resolved spec and the status history.

use maud::{Markup, html};
use serde_json::Value;

use super::markup::{
    Progress, Section, best_text, job_label, number, page, progress_cell, status_badge, time,
};
use crate::api::jobs::stored_json;
use crate::jobs::queue::JobDetails;
use crate::store::{EventRow, JobRow};

/// The list page: newest jobs first, a checkbox on each to compare them, and a link to the
/// next page when there is one. Only the first page follows new jobs live.
pub fn list_page(jobs: &[JobRow], limit: u32, next_cursor: Option<String>, first: bool) -> Markup {
    let content = html! {
        h1 { "Jobs" }
        div.actions {
            a.button href="/submit" { "Submit a job" }
            a.button.secondary href="/descent" { "Try gradient descent" }
        }
        p #no-jobs hidden[!jobs.is_empty()] {
            "No jobs yet. " a href="/submit" { "Submit one" } " from an example spec."
        }
        form method="get" action="/compare" aria-labelledby="jobs-title" {
            h2 #jobs-title .visually-hidden { "Job list" }
            table data-live-jobs[first] data-limit=(limit) hidden[jobs.is_empty()] {
                caption.visually-hidden {
                    "Jobs, newest first" @if first { ", updated live" }
                }
                thead {
                    tr {
                        th scope="col" { "Compare" }
                        th scope="col" { "Job" }
                        th scope="col" { "Status" }
                        th scope="col" { "Progress (epochs)" }
                        th scope="col" { "Best" }
                        th scope="col" { "Created" }
                    }
                }
                tbody {
                    @for job in jobs { (job_row(job)) }
                }
            }
            div.actions {
                button type="submit" { "Compare selected jobs" }
                @if let Some(cursor) = &next_cursor {
                    a href={ "/?cursor=" (cursor) "&limit=" (limit) } { "Older jobs" }
                }
                @if !first { a href="/" { "Newest jobs" } }
            }
        }
        template #job-row { (empty_row()) }
    };
    page("Jobs", Section::Jobs, content)
}

/// One row of the list; the page script fills copies of [`empty_row`] the same way.
fn job_row(job: &JobRow) -> Markup {
    let progress = Progress::of(job);
    let checkbox = format!("pick-{}", job.id);
    html! {
        tr data-job-id=(job.id) {
            td {
                input type="checkbox" name="jobs" value=(job.id) id=(checkbox);
                label.visually-hidden for=(checkbox) { "Compare " (job_label(job)) }
            }
            td.name {
                a data-field="link" href={ "/jobs/" (job.id) } { (job_label(job)) }
                br;
                span.id data-field="id" { (job.id) }
            }
            td { (status_badge(job.status.as_str())) }
            td { (progress_cell(job, &progress)) }
            td data-field="best" { (best_text(&progress.best)) }
            td data-field="created" { (time(job.created_at)) }
        }
    }
}

fn empty_row() -> Markup {
    html! {
        tr {
            td {
                input type="checkbox" name="jobs";
                label.visually-hidden { "Compare" }
            }
            td.name { a data-field="link" {} br; span.id data-field="id" {} }
            td { span.status data-field="status" {} }
            td {
                progress data-field="progress" max="1" value="0" {}
                " " span data-field="epochs" {}
            }
            td data-field="best" { "—" }
            td data-field="created" {}
        }
    }
}

/// The charts of a job: loss, each logged metric, learning rate, gradient norms, and the
/// per-step loss when the spec records it.
pub fn chart_names(job: &JobRow) -> Vec<String> {
    let resolved: Value = serde_json::from_str(&job.resolved_spec).unwrap_or(Value::Null);
    let mut names: Vec<String> = vec!["loss".into()];
    for metric in resolved["training"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !names.iter().any(|n| n == metric) && metric != "loss" {
            names.push(metric.to_owned());
        }
    }
    names.push("learning_rate".into());
    names.push("gradients".into());
    if !resolved["training"]["log_every_steps"].is_null() {
        names.push("steps".into());
    }
    names
}

fn chart_caption(name: &str) -> String {
    match name {
        "loss" => "Loss per epoch (training and validation)".into(),
        "learning_rate" => "Learning rate per epoch".into(),
        "gradients" => "Gradient norm of each layer per epoch (log scale)".into(),
        "steps" => "Loss per recorded step".into(),
        metric => format!("{metric} per epoch"),
    }
}

/// A job's own page.
pub fn job_page(details: &JobDetails) -> Markup {
    let job = &details.job;
    let label = job_label(job);
    let progress = Progress::of(job);
    let status = job.status.as_str();
    let succeeded = status == "succeeded";
    let error = stored_json(job.error.as_deref());
    let resolved = stored_json(Some(&job.resolved_spec));
    let resolved_text = serde_json::to_string_pretty(&resolved).unwrap_or_default();
    let model = |format: &str| format!("/v1/jobs/{}/model?format={format}", job.id);
    let content = html! {
        div data-job-page data-job-id=(job.id) data-epochs=(job.epochs) data-status=(status) {
            h1 { (label) }
            p.id { "Job " (job.id) }
            dl.summary {
                div { dt { "Status" } dd aria-live="polite" { (status_badge(status)) } }
                div { dt { "Progress (epochs)" } dd { (progress_cell(job, &progress)) } }
                div { dt { "Best" } dd data-field="best" { (best_text(&progress.best)) } }
                div { dt { "Parameters" } dd { (job.parameter_count) } }
                div { dt { "Seed" } dd { (job.seed) } }
                div { dt { "Created" } dd { (time(job.created_at)) } }
            }
            @if matches!(status, "queued" | "running") {
                form.actions method="post" action={ "/jobs/" (job.id) "/cancel" } data-field="cancel" {
                    button type="submit" { "Cancel job" }
                }
            }
            p.error-box data-field="error" hidden[error.is_null()] {
                @if !error.is_null() {
                    (number(&error["code"])) ": " (number(&error["message"]))
                }
            }
        }
        section aria-labelledby="latest-title" {
            h2 #latest-title { "Latest epoch" }
            dl.summary data-field="latest" {
                @if let Some(fields) = progress.latest.as_object() {
                    @for (key, value) in fields {
                        @if value.is_number() && !["epoch", "step", "duration_ms"].contains(&key.as_str()) {
                            div { dt { (key) } dd { (number(value)) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="charts-title" {
            h2 #charts-title { "Charts" }
            div.charts {
                @for name in chart_names(job) {
                    @let src = format!("/v1/jobs/{}/plots/{name}.svg", job.id);
                    figure {
                        img src=(src) data-plot=(src) alt={ (chart_caption(&name)) " of " (label) }
                            width="720" height="450";
                        figcaption { (chart_caption(&name)) }
                    }
                }
            }
        }
        section aria-labelledby="model-title" {
            h2 #model-title { "Model" }
            p #downloads-pending hidden[succeeded] {
                "The trained model can be downloaded once the job has succeeded."
            }
            ul.downloads #downloads hidden[!succeeded] {
                li { a.button.secondary href=(model("json")) download { "JSON" } }
                li { a.button.secondary href=(model("safetensors")) download { "safetensors" } }
                li { a.button.secondary href=(model("onnx")) download { "ONNX" } }
            }
        }
        section aria-labelledby="spec-title" {
            h2 #spec-title { "Resolved spec" }
            p.hint { "Every default filled in; submitting it again trains the same numbers." }
            pre tabindex="0" aria-labelledby="spec-title" { code { (resolved_text) } }
        }
        section aria-labelledby="history-title" {
            h2 #history-title { "History" }
            ol { @for event in &details.history { li { (history_line(event)) } } }
        }
        p {
            a href={ "/compare?jobs=" (job.id) } { "Compare this job with others" }
            " · "
            a href={ "/v1/jobs/" (job.id) } { "JSON" }
            " · "
            a href={ "/v1/jobs/" (job.id) "/metrics?format=csv" } { "Metrics as CSV" }
        }
    };
    page(label, Section::Jobs, content)
}

fn history_line(event: &EventRow) -> Markup {
    let body = stored_json(Some(&event.body));
    html! {
        (number(&body["status"])) " at " (time(event.at))
        @if let Some(note) = body["note"].as_str() { " — " (note) }
    }
}
