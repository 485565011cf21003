//! The audit as one self-contained HTML page (`report.html` beside this file): summary counts,
//! a chart of outcomes per namespace (inline SVG), a sortable, filterable table and the full
//! reason of every finding. The report travels inside the page as JSON; the page's own script
//! draws it with `textContent` only, so no image name or reason can inject markup. No network:
//! the page's Content-Security-Policy forbids loading anything.

use super::Report;

const TEMPLATE: &str = include_str!("report.html");

/// The page for `report`.
pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    let data = script_safe(&serde_json::to_string(report)?);
    let title = escape_html(&format!("Signet audit: {}", report.source));
    Ok(TEMPLATE
        .replace("{{TITLE}}", &title)
        .replace("{{DATA}}", &data))
}

/// JSON that cannot end its `<script>` element or open a comment: `<`, `>` and `&` become
/// `\u003c`, `\u003e`, `\u0026`, which JSON.parse reads back unchanged (they can only occur
/// inside strings).
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('{', "&#123;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_the_script_element() {
        let safe = script_safe(r#"{"reason":"</script><script>alert(1)</script>&"}"#);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["reason"], "</script><script>alert(1)</script>&");
    }
}
