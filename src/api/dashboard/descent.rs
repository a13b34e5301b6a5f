//! The descent page (`/descent`): a formula (or a named classic), a starting point and an
//! optimizer in a GET form, and the path drawn over the contour lines, rendered by the same
//! functions as `POST /v1/descent?format=svg`.

use maud::{Markup, PreEscaped, html};
use serde_json::{Map, Value, json};

use super::examples::DESCENT_EXAMPLES;
use super::markup::{Section, page, percent_encode, problem_box};
use crate::api::problem::Problem;
use crate::jobs::Rejection;

/// The optimizers the form offers (all of the API's).
const OPTIMIZERS: [&str; 6] = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"];
/// Named classics: typed in the function field, they are sent as `{"name": …}`.
const CLASSICS: [&str; 6] = [
    "rosenbrock",
    "himmelblau",
    "beale",
    "booth",
    "saddle",
    "rastrigin",
];

/// The form's fields as typed (the page shows them back as they were).
#[derive(Debug, Clone)]
pub struct DescentForm {
    pub function: String,
    pub x0: String,
    pub optimizer: String,
    pub learning_rate: String,
    pub momentum: String,
    pub steps: String,
}

impl Default for DescentForm {
    fn default() -> Self {
        DescentForm {
            function: "x1^2 + 2*x2^2 - x1*x2".into(),
            x0: "-5, 4".into(),
            optimizer: "sgd".into(),
            learning_rate: "0.1".into(),
            momentum: String::new(),
            steps: "30".into(),
        }
    }
}

impl DescentForm {
    /// The form from the query; absent fields keep their defaults.
    pub fn from_query(pairs: &[(String, String)]) -> DescentForm {
        let mut form = DescentForm::default();
        for (name, value) in pairs {
            let field = match name.as_str() {
                "function" => &mut form.function,
                "x0" => &mut form.x0,
                "optimizer" => &mut form.optimizer,
                "learning_rate" => &mut form.learning_rate,
                "momentum" => &mut form.momentum,
                "steps" => &mut form.steps,
                _ => continue,
            };
            value.trim().clone_into(field);
        }
        form
    }

    /// The `POST /v1/descent` body the fields stand for, or the fields that are not numbers.
    pub fn request(&self) -> Result<Value, Vec<Rejection>> {
        let mut rejections = Vec::new();
        let mut number = |field: &str, text: &str| match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                rejections.push(Rejection::new(
                    field,
                    format!("must be a number, got {text:?}"),
                ));
                None
            }
        };
        let x0: Vec<Option<f64>> = self
            .x0
            .split(',')
            .enumerate()
            .map(|(i, part)| number(&format!("x0[{i}]"), part.trim()))
            .collect();
        let learning_rate = number("optimizer.learning_rate", &self.learning_rate);
        let momentum = if self.momentum.is_empty() {
            None
        } else {
            number("optimizer.momentum", &self.momentum)
        };
        let steps = match self.steps.parse::<u64>() {
            Ok(steps) => Some(steps),
            Err(_) => {
                rejections.push(Rejection::new(
                    "steps",
                    format!("must be a non-negative integer, got {:?}", self.steps),
                ));
                None
            }
        };
        if !rejections.is_empty() {
            return Err(rejections);
        }
        let function = if CLASSICS.contains(&self.function.as_str()) {
            json!({"name": self.function})
        } else {
            json!(self.function)
        };
        let mut optimizer = Map::new();
        optimizer.insert("type".into(), json!(self.optimizer));
        optimizer.insert("learning_rate".into(), json!(learning_rate));
        if let Some(momentum) = momentum {
            optimizer.insert("momentum".into(), json!(momentum));
        }
        Ok(json!({
            "function": function,
            "x0": x0.into_iter().flatten().collect::<Vec<f64>>(),
            "optimizer": optimizer,
            "steps": steps,
        }))
    }
}

/// Query strings for the embedded `examples/descent/*.json`, as `(name, query)`; an example
/// the form cannot express (a schedule, a quadratic's matrix) is left out.
pub fn presets() -> Vec<(&'static str, String)> {
    DESCENT_EXAMPLES
        .iter()
        .filter_map(|(name, text)| {
            let body: Value = serde_json::from_str(text).ok()?;
            let function = match &body["function"] {
                Value::String(formula) => formula.clone(),
                Value::Object(named) if named.len() == 1 => named.get("name")?.as_str()?.into(),
                _ => return None,
            };
            if body.get("schedule").is_some() {
                return None;
            }
            let optimizer = body["optimizer"].as_object()?;
            if optimizer
                .keys()
                .any(|k| !["type", "learning_rate", "momentum"].contains(&k.as_str()))
            {
                return None;
            }
            let x0: Vec<String> = body["x0"]
                .as_array()?
                .iter()
                .map(|x| x.to_string())
                .collect();
            let mut query = vec![
                ("function", function),
                ("x0", x0.join(", ")),
                ("optimizer", optimizer.get("type")?.as_str()?.to_owned()),
                ("learning_rate", optimizer.get("learning_rate")?.to_string()),
                ("steps", body["steps"].as_u64().unwrap_or(100).to_string()),
            ];
            if let Some(momentum) = optimizer.get("momentum") {
                query.push(("momentum", momentum.to_string()));
            }
            let text: Vec<String> = query
                .into_iter()
                .map(|(k, v)| format!("{k}={}", percent_encode(&v)))
                .collect();
            Some((*name, text.join("&")))
        })
        .collect()
}

/// The page: the form with the fields as typed, then the picture or what was wrong.
pub fn descent_page(form: &DescentForm, outcome: Result<&str, &Problem>) -> Markup {
    let content = html! {
        h1 { "Gradient descent on a formula" }
        p {
            "Pick a function of " code { "x1" } ", " code { "x2" }
            ", a starting point and an optimizer, and see the path it takes over the contour lines."
        }
        form method="get" action="/descent" {
            label for="function" { "Function" }
            p.hint #function-hint {
                "A formula in x1 and x2 (" code { "+ - * / ^" } ", sin, cos, exp, log, sqrt, …) or a classic: "
                (CLASSICS.join(", ")) "."
            }
            input #function type="text" name="function" value=(form.function) size="60"
                aria-describedby="function-hint" required;
            div.fields {
                div {
                    label for="x0" { "Starting point (x1, x2)" }
                    input #x0 type="text" name="x0" value=(form.x0) required;
                }
                div {
                    label for="optimizer" { "Optimizer" }
                    select #optimizer name="optimizer" {
                        @for name in OPTIMIZERS {
                            option value=(name) selected[form.optimizer == name] { (name) }
                        }
                    }
                }
                div {
                    label for="learning_rate" { "Learning rate" }
                    input #learning_rate type="number" step="any" min="0" name="learning_rate"
                        value=(form.learning_rate) required;
                }
                div {
                    label for="momentum" { "Momentum (sgd, rmsprop)" }
                    input #momentum type="number" step="any" min="0" max="1" name="momentum"
                        value=(form.momentum);
                }
                div {
                    label for="steps" { "Steps" }
                    input #steps type="number" min="0" step="1" name="steps" value=(form.steps) required;
                }
            }
            div.actions { button type="submit" { "Descend" } }
        }
        @let presets = presets();
        @if !presets.is_empty() {
            h2 { "Examples" }
            ul {
                @for (name, query) in &presets {
                    li { a href={ "/descent?" (query) } { (name) } }
                }
            }
        }
        section aria-labelledby="path-title" {
            h2 #path-title { "Path" }
            @match outcome {
                Ok(svg) => figure.wide-figure {
                    (PreEscaped(without_xml_declaration(svg)))
                    figcaption { "The path of " (form.optimizer) " from (" (form.x0) ") over the contour lines of " (form.function) }
                },
                Err(problem) => (problem_box(problem)),
            }
        }
    };
    page("Descent", Section::Descent, content)
}

/// An SVG document as an element of the HTML page.
fn without_xml_declaration(svg: &str) -> &str {
    match svg.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(svg, |end| &rest[end + 2..]),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_form_is_the_api_example() {
        assert_eq!(
            DescentForm::default().request().unwrap(),
            json!({"function": "x1^2 + 2*x2^2 - x1*x2", "x0": [-5.0, 4.0],
                   "optimizer": {"type": "sgd", "learning_rate": 0.1}, "steps": 30})
        );
    }

    #[test]
    fn classics_are_sent_by_name_and_bad_numbers_name_their_field() {
        let form = DescentForm::from_query(&[
            ("function".into(), "rosenbrock".into()),
            ("x0".into(), "1, zwei".into()),
            ("learning_rate".into(), "fast".into()),
        ]);
        let rejections = form.request().unwrap_err();
        let paths: Vec<_> = rejections.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["x0[1]", "optimizer.learning_rate"]);
        let form = DescentForm::from_query(&[("function".into(), "rosenbrock".into())]);
        assert_eq!(
            form.request().unwrap()["function"],
            json!({"name": "rosenbrock"})
        );
    }

    #[test]
    fn every_embedded_descent_example_is_a_preset() {
        assert_eq!(presets().len(), DESCENT_EXAMPLES.len());
        assert!(!presets().is_empty());
    }
}
