//! The submit form (`/submit`): a textarea for a job spec and every embedded example one
//! click away (`/submit?example=NAME` fills the textarea). The form posts to `/submit`, which
//! queues the job as `POST /v1/jobs` does and redirects to its page, or shows the form again
//! with what was wrong.

use maud::{Markup, html};

use super::examples::JOB_EXAMPLES;
use super::markup::{Section, page, problem_box};
use crate::api::problem::Problem;

/// The form with `spec` in the textarea, the example it came from, and the refusal of the last
/// attempt.
pub fn submit_page(spec: &str, example: Option<&str>, problem: Option<&Problem>) -> Markup {
    let content = html! {
        h1 { "Submit a job" }
        @if let Some(problem) = problem { (problem_box(problem)) }
        form method="post" action="/submit" {
            label for="spec" { "Job spec (JSON)" }
            p.hint #spec-hint {
                "The spec of " code { "POST /v1/jobs" } ": data, architecture, initializer, optimizer, schedule, training."
                @if let Some(example) = example { " Loaded from the example " strong { (example) } "." }
            }
            textarea #spec name="spec" rows="22" spellcheck="false" required
                aria-describedby="spec-hint" aria-invalid=[problem.map(|_| "true")] { (spec) }
            div.actions { button type="submit" { "Submit job" } }
        }
        section aria-labelledby="examples-title" {
            h2 #examples-title { "Examples" }
            p.hint { "From the lecture; each loads its spec into the form above." }
            ul.examples {
                @for (name, _) in JOB_EXAMPLES {
                    li { a href={ "/submit?example=" (name) } { (name) } }
                }
            }
        }
    };
    page("Submit a job", Section::Submit, content)
}
