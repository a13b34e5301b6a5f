//! Series colours. The first seven are the Okabe–Ito palette (Okabe & Ito, "Color Universal
//! Design", 2008), which stays distinguishable under the common colour-vision deficiencies; its
//! yellow (#F0E442) is left out because it has a 1.2:1 contrast on white. Past seven, colours
//! are generated: hues step by the golden angle (137.5°) so neighbours differ strongly, with
//! saturation and lightness chosen to keep lines visible on white. No palette keeps thirty
//! lines apart for every reader; the legend order and the labels carry the rest.

use plotters::style::RGBColor;

/// Okabe–Ito without yellow, ordered so that a chart's first two series (train and validation)
/// are blue and vermillion.
const OKABE_ITO: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
];

/// Grey for background lines (grid-like contour lines).
pub const CONTOUR_GREY: RGBColor = RGBColor(0x9A, 0x9A, 0x9A);

/// Dark grey for secondary text ("no data yet", notes): 7.5:1 contrast on white.
pub const NOTE_GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// The colour of the `index`-th series (0-based). Distinct for distinct indices in any chart
/// of practical size (checked for the first 200).
pub fn series_colour(index: usize) -> RGBColor {
    if let Some(colour) = OKABE_ITO.get(index) {
        return *colour;
    }
    let generated = index - OKABE_ITO.len();
    let hue = (20.0 + generated as f64 * 137.507_764) % 360.0;
    // Two lightness bands tell neighbours apart; each colour is then darkened until it has the
    // 3:1 contrast on white that WCAG 2.1 (1.4.11) asks of graphical objects. Greens and
    // yellows, whose luminance is high, end up darkest.
    let mut lightness = if generated.is_multiple_of(2) {
        0.36
    } else {
        0.48
    };
    let mut colour = hsl_to_rgb(hue, 0.75, lightness);
    while contrast_on_white(colour) < 3.0 && lightness > 0.1 {
        lightness -= 0.02;
        colour = hsl_to_rgb(hue, 0.75, lightness);
    }
    colour
}

/// WCAG 2.1 contrast ratio of `colour` against white, from 1 (white) to 21 (black).
pub fn contrast_on_white(colour: RGBColor) -> f64 {
    let channel = |c: u8| {
        let v = f64::from(c) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance =
        0.2126 * channel(colour.0) + 0.7152 * channel(colour.1) + 0.0722 * channel(colour.2);
    1.05 / (luminance + 0.05)
}

/// `#RRGGBB` exactly as the SVG backend writes a colour (upper-case hex).
pub fn hex(colour: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2)
}

/// HSL (hue in degrees, saturation and lightness in [0, 1]) to 8-bit RGB, the CSS Color 3
/// formula.
fn hsl_to_rgb(hue: f64, saturation: f64, lightness: f64) -> RGBColor {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = hue / 60.0;
    let x = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (r, g, b) = match sector as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(byte(r), byte(g), byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_first_two_series_are_okabe_ito_blue_and_vermillion() {
        assert_eq!(hex(series_colour(0)), "#0072B2");
        assert_eq!(hex(series_colour(1)), "#D55E00");
    }

    #[test]
    fn two_hundred_series_get_two_hundred_distinct_colours() {
        let colours: HashSet<String> = (0..200).map(|i| hex(series_colour(i))).collect();
        assert_eq!(colours.len(), 200);
    }

    #[test]
    fn generated_colours_have_a_three_to_one_contrast_on_white() {
        for index in OKABE_ITO.len()..200 {
            let colour = series_colour(index);
            let contrast = contrast_on_white(colour);
            assert!(
                contrast >= 3.0,
                "series {index} {} has contrast {contrast}",
                hex(colour)
            );
        }
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        // WCAG: black on white is 21:1; #767676 is the lightest grey with 4.5:1.
        assert!((contrast_on_white(RGBColor(0, 0, 0)) - 21.0).abs() < 1e-9);
        assert!((contrast_on_white(RGBColor(255, 255, 255)) - 1.0).abs() < 1e-9);
        assert!((contrast_on_white(RGBColor(0x76, 0x76, 0x76)) - 4.54).abs() < 0.01);
        assert!(contrast_on_white(NOTE_GREY) > 7.0);
    }

    #[test]
    fn hsl_primaries_convert_exactly() {
        assert_eq!(hsl_to_rgb(0.0, 1.0, 0.5), RGBColor(255, 0, 0));
        assert_eq!(hsl_to_rgb(120.0, 1.0, 0.5), RGBColor(0, 255, 0));
        assert_eq!(hsl_to_rgb(240.0, 1.0, 0.5), RGBColor(0, 0, 255));
    }
}
