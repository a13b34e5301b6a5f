//! The comparison of several jobs: one metric overlaid (`GET /v1/plots/compare.svg`) and a row
//! per job. [`comparison`] renders it for any list of jobs and a title, so a page listing a
//! group of jobs can embed the same section.

use maud::{Markup, html};
use serde_json::Value;

use super::markup::{
    Progress, Section, best_text, job_label, page, percent_encode, progress_cell, status_badge,
};
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
        percent_encode(metric)
    );
    let rows: Vec<(&JobRow, Option<&str>)> = jobs.iter().map(|job| (job, None)).collect();
    overlay(title, &rows, metric, &chart, "/compare", Some(&joined))
}

/// A sweep's comparison: its jobs in sweep order beside the values the grid set for each, and
/// the sweep's own overlay chart, whose legend names each job by those values.
pub fn sweep_comparison(
    title: &str,
    sweep_id: &str,
    jobs: &[(JobRow, String)],
    metric: &str,
) -> Markup {
    let chart = format!(
        "/v1/sweeps/{}/plots/{}.svg",
        percent_encode(sweep_id),
        percent_encode(metric)
    );
    let rows: Vec<(&JobRow, Option<&str>)> = jobs
        .iter()
        .map(|(job, overrides)| (job, Some(overrides.as_str())))
        .collect();
    let action = format!("/sweeps/{sweep_id}");
    overlay(title, &rows, metric, &chart, &action, None)
}

/// The section both comparisons share; `jobs_field` is the hidden `jobs` value the metric
/// picker sends back, when the page is addressed by its jobs.
fn overlay(
    title: &str,
    rows: &[(&JobRow, Option<&str>)],
    metric: &str,
    chart: &str,
    action: &str,
    jobs_field: Option<&str>,
) -> Markup {
    let jobs: Vec<JobRow> = rows.iter().map(|(job, _)| (*job).clone()).collect();
    let joined = jobs
        .iter()
        .map(|j| j.id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let live = jobs.iter().any(|j| !j.status.is_terminal());
    let with_overrides = rows.iter().any(|(_, overrides)| overrides.is_some());
    html! {
        section aria-labelledby="comparison-title" data-jobs=(joined) data-live-comparison[live] {
            h1 #comparison-title { (title) }
            form.actions method="get" action=(action) {
                @if let Some(field) = jobs_field {
                    input type="hidden" name="jobs" value=(field);
                }
                label.inline for="metric" { "Metric" }
                select #metric name="metric" {
                    @for choice in metric_choices(&jobs, metric) {
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
                        @if with_overrides {
                            th scope="col" { "Grid values" }
                        }
                        th scope="col" { "Status" }
                        th scope="col" { "Progress (epochs)" }
                        th scope="col" { "Best" }
                    }
                }
                tbody {
                    @for (job, overrides) in rows {
                        @let progress = Progress::of(job);
                        tr data-job-id=(job.id) {
                            td.name {
                                a href={ "/jobs/" (job.id) } { (job_label(job)) }
                                br; span.id { (job.id) }
                            }
                            @if with_overrides {
                                td { code { (overrides.unwrap_or("")) } }
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

/// The page of one sweep.
pub fn sweep_page(title: &str, sweep_id: &str, jobs: &[(JobRow, String)], metric: &str) -> Markup {
    page(
        title,
        Section::Compare,
        sweep_comparison(title, sweep_id, jobs, metric),
    )
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
