//! The comparison of several jobs: one metric overlaid (`GET /v1/plots/compare.svg`) and a row
//! per job. [`comparison`] renders it for any list of jobs and a title, so a page listing a
//! group of jobs can embed the same section.

use maud::{Markup, html};
use serde_json::Value;

use super::markup::{Progress, Section, best_text, job_label, page, progress_cell, status_badge};
use crate::store::JobRow;

/// The metrics a comparison offers: loss and validation loss, each metric the jobs' resolved
/// specs log (and its validation twin), the learning rate, and `current` if none of those.
pub fn metric_choices(jobs: &[JobRow], current: &str) -> Vec<String> {
    let mut choices: Vec<String> = vec!["loss".into(), "val_loss".into()];
    for job in jobs {
        let resolved: Value = serde_json::from_str(&job.resolved_spec).unwrap_or(Value::Null);
        for metric in resolved["training"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            for name in [metric.to_owned(), format!("val_{metric}")] {
                if !choices.contains(&name) {
                    choices.push(name);
                }
            }
        }
    }
    choices.push("learning_rate".into());
    if !choices.iter().any(|c| c == current) {
        choices.push(current.to_owned());
    }
    choices
}

/// The comparison section: `title` as its heading, a metric picker (which reloads `/compare`
/// for these jobs), the overlaid chart and a table of the jobs. While any job is unfinished,
/// the page script refreshes the chart and the rows.
pub fn comparison(title: &str, jobs: &[JobRow], metric: &str) -> Markup {
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let joined = ids.join(",");
    let chart = format!(
        "/v1/plots/compare.svg?jobs={joined}&metric={}",
        query_value(metric)
    );
    let live = jobs.iter().any(|j| !j.status.is_terminal());
    html! {
        section aria-labelledby="comparison-title" data-jobs=(joined) data-live-comparison[live] {
            h1 #comparison-title { (title) }
            form.actions method="get" action="/compare" {
                input type="hidden" name="jobs" value=(joined);
                label.inline for="metric" { "Metric" }
                select #metric name="metric" {
                    @for choice in metric_choices(jobs, metric) {
                        option value=(choice) selected[choice == metric] { (choice) }
                    }
                }
                button type="submit" { "Show" }
            }
            figure.wide-figure {
                img src=(chart) data-plot=(chart) width="720" height="450"
                    alt={ (metric) " of " (jobs.len()) " jobs per epoch, one line each" };
                figcaption { (metric) " per epoch, one line per job" }
            }
            table {
                caption.visually-hidden { "The compared jobs" }
                thead {
                    tr {
                        th scope="col" { "Job" }
                        th scope="col" { "Status" }
                        th scope="col" { "Progress (epochs)" }
                        th scope="col" { "Best" }
                    }
                }
                tbody {
                    @for job in jobs {
                        @let progress = Progress::of(job);
                        tr data-job-id=(job.id) {
                            td.name {
                                a href={ "/jobs/" (job.id) } { (job_label(job)) }
                                br; span.id { (job.id) }
                            }
                            td { (status_badge(job.status.as_str())) }
                            td { (progress_cell(job, &progress)) }
                            td data-field="best" { (best_text(&progress.best)) }
                        }
                    }
                }
            }
        }
    }
}

/// The compare page for `jobs`, or, with none, a form asking for their ids.
pub fn compare_page(jobs: &[JobRow], metric: &str) -> Markup {
    if jobs.is_empty() {
        return page("Compare jobs", Section::Compare, picker(metric));
    }
    let title = format!("Comparing {} jobs", jobs.len());
    page(&title, Section::Compare, comparison(&title, jobs, metric))
}

fn picker(metric: &str) -> Markup {
    html! {
        h1 { "Compare jobs" }
        p { "Tick jobs on the " a href="/" { "job list" } " and press “Compare selected jobs”, or give their ids here." }
        form method="get" action="/compare" {
            label for="jobs" { "Job ids" }
            p.hint #jobs-hint { "Separated by commas; at most 20." }
            input #jobs type="text" name="jobs" size="80" aria-describedby="jobs-hint" required;
            label for="metric" { "Metric" }
            input #metric type="text" name="metric" value=(metric);
            div.actions { button type="submit" { "Compare" } }
        }
    }
}

/// Percent-encodes a query value (metric names are plain words, but a typed one may not be).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
