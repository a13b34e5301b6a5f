//! The SVG document around a drawing: text made safe for XML, and an accessible root.
//!
//! `plotters` escapes `< > & " '` but passes control characters through, and XML 1.0 forbids
//! most of them; a series named with a stray `\u{1}` would make the whole document unreadable.
//! [`clean_text`] removes them from every caller-supplied string. [`make_accessible`] gives the
//! root `<svg>` `role="img"` and an `aria-label`, and inserts `<title>` and `<desc>` as its
//! first children, as the WAI-ARIA Graphics module recommends for images.

/// Longest label kept, in characters; longer ones end in "…".
pub const MAX_LABEL_CHARS: usize = 120;

/// `text` on one line, without the characters XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF),
/// line breaks and tabs turned into spaces, cut to `max_chars` characters (the last one "…").
pub fn clean_text(text: &str, max_chars: usize) -> String {
    let mut cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => None,
            c => Some(c),
        })
        .collect();
    if cleaned.chars().count() > max_chars {
        cleaned = cleaned.chars().take(max_chars.saturating_sub(1)).collect();
        cleaned.push('…');
    }
    cleaned.trim().to_string()
}

/// Escapes text for an XML attribute value or element content.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Adds `role="img"`, `aria-label="{name}"` to the root `<svg …>` of `document` and inserts
/// `<title>{name}</title><desc>{description}</desc>` as its first children. `name` and
/// `description` must already be clean (see [`clean_text`]); they are escaped here.
pub fn make_accessible(document: &str, name: &str, description: &str) -> String {
    let name = escape(name);
    let description = escape(description);
    // The backend writes the root as `<svg width=… xmlns=…>` first, with every attribute value
    // escaped, so the first '>' after "<svg" closes the root's start tag.
    let Some(root_start) = document.find("<svg") else {
        return document.to_string();
    };
    let Some(root_end) = document[root_start..].find('>').map(|i| root_start + i) else {
        return document.to_string();
    };
    let mut out = String::with_capacity(document.len() + name.len() * 2 + description.len() + 96);
    out.push_str(&document[..root_end]);
    out.push_str(&format!(r#" role="img" aria-label="{name}">"#));
    out.push_str(&format!(
        "\n<title>{name}</title>\n<desc>{description}</desc>"
    ));
    out.push_str(&document[root_end + 1..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_removed_and_line_breaks_become_spaces() {
        assert_eq!(clean_text("lo\u{1}ss\u{7f}", 50), "loss\u{7f}");
        assert_eq!(clean_text("val\nloss\t2", 50), "val loss 2");
        assert_eq!(clean_text("a\u{FFFE}b\u{FFFF}", 50), "ab");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(clean_text("abcdefgh", 5), "abcd…");
        assert_eq!(clean_text("abcde", 5), "abcde");
    }

    #[test]
    fn the_root_gets_a_role_a_label_a_title_and_a_description() {
        let document = "<svg width=\"10\" height=\"10\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect/>\n</svg>\n";
        let accessible = make_accessible(document, "loss & <val>", "two lines");
        let parsed = roxmltree::Document::parse(&accessible).expect("well-formed");
        let root = parsed.root_element();
        assert_eq!(root.attribute("role"), Some("img"));
        assert_eq!(root.attribute("aria-label"), Some("loss & <val>"));
        let children: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(children[0].tag_name().name(), "title");
        assert_eq!(children[0].text(), Some("loss & <val>"));
        assert_eq!(children[1].tag_name().name(), "desc");
        assert_eq!(children[2].tag_name().name(), "rect");
    }
}
