//! Test-only reading of the documents this module writes: parse as XML (failing the test if
//! the document is not well-formed) and collect what the assertions look at.

use roxmltree::Document;

/// What a test can check about one SVG document.
#[derive(Debug)]
pub struct Inspected {
    pub root_role: Option<String>,
    pub aria_label: Option<String>,
    pub title: Option<String>,
    /// Every `<text>` element's content, trimmed.
    pub texts: Vec<String>,
    /// Every `<polyline>`: its stroke colour and number of points.
    pub polylines: Vec<(String, usize)>,
    /// Fill colours of every `<circle>`.
    pub circles: Vec<String>,
}

impl Inspected {
    pub fn has_text(&self, wanted: &str) -> bool {
        self.texts.iter().any(|t| t == wanted)
    }

    pub fn has_text_containing(&self, wanted: &str) -> bool {
        self.texts.iter().any(|t| t.contains(wanted))
    }

    /// Polylines drawn in `colour` (`#RRGGBB`).
    pub fn polylines_in(&self, colour: &str) -> usize {
        self.polylines
            .iter()
            .filter(|(stroke, _)| stroke == colour)
            .count()
    }
}

/// Parses `svg`, panicking with the parser's message if it is not well-formed XML.
pub fn inspect(svg: &str) -> Inspected {
    let document = Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let elements = || root.descendants().filter(|n| n.is_element());
    Inspected {
        root_role: root.attribute("role").map(str::to_string),
        aria_label: root.attribute("aria-label").map(str::to_string),
        title: elements()
            .find(|n| n.tag_name().name() == "title")
            .and_then(|n| n.text())
            .map(str::to_string),
        texts: elements()
            .filter(|n| n.tag_name().name() == "text")
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect(),
        polylines: elements()
            .filter(|n| n.tag_name().name() == "polyline")
            .map(|n| {
                let points = n
                    .attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .count();
                (n.attribute("stroke").unwrap_or("").to_string(), points)
            })
            .collect(),
        circles: elements()
            .filter(|n| n.tag_name().name() == "circle")
            .map(|n| n.attribute("fill").unwrap_or("").to_string())
            .collect(),
    }
}
