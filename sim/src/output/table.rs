//! Plain aligned text tables for the terminal: a header row, then rows; numbers right-aligned.

/// Marks a cell as an alert (shown in red on a terminal, plain elsewhere): see [`alert`].
pub const ALERT: char = '\u{1}';

/// An alert cell: a figure a reader must not miss (a broken invariant, a failed check).
pub fn alert(text: impl Into<String>) -> String {
    format!("{ALERT}{}", text.into())
}

/// The cell as is, or as an alert when `bad`.
pub fn flag(text: impl Into<String>, bad: bool) -> String {
    if bad { alert(text) } else { text.into() }
}

/// A table of strings, printed with columns padded to their widest cell.
#[derive(Clone, Debug, Default)]
pub struct TextTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl TextTable {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        TextTable { header: header.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Renders the table; the first column is left-aligned, the others right-aligned.
    pub fn render(&self) -> String {
        self.render_with(false)
    }

    /// Renders the table, with ANSI colour when `colour` (bold header, alerts in red).
    pub fn render_with(&self, colour: bool) -> String {
        let visible = |cell: &str| cell.strip_prefix(ALERT).unwrap_or(cell).chars().count();
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| visible(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(visible(cell));
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String, bold: bool| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let raw = cells.get(i).map(String::as_str).unwrap_or("");
                let (cell, alert) = match raw.strip_prefix(ALERT) {
                    Some(rest) => (rest, true),
                    None => (raw, false),
                };
                let pad = " ".repeat(width - cell.chars().count());
                let shown = match (colour, alert, bold) {
                    (true, true, _) => format!("\x1b[1;31m{cell}\x1b[0m"),
                    (true, false, true) => format!("\x1b[1m{cell}\x1b[0m"),
                    _ => cell.to_string(),
                };
                if i > 0 {
                    text.push_str("  ");
                }
                if i == 0 {
                    text.push_str(&shown);
                    text.push_str(&pad);
                } else {
                    text.push_str(&pad);
                    text.push_str(&shown);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out, true);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, &mut out, false);
        for row in &self.rows {
            line(row, &mut out, false);
        }
        out
    }

    /// Renders the table as an HTML `<table class="CLASS">`: the header in `th`, each row's
    /// first cell as a row header, the other cells right-aligned (`class="num"`), alerts
    /// marked `class="alarm"`. `escape` is the page's HTML escaper (`&`, `<`, `>`).
    pub fn render_html(&self, class: &str, escape: impl Fn(&str) -> String) -> String {
        let cell = |tag: &str, i: usize, raw: &str| {
            let (text, alert) = match raw.strip_prefix(ALERT) {
                Some(rest) => (rest, true),
                None => (raw, false),
            };
            let class = match (i, alert) {
                (0, _) => "",
                (_, true) => " class=\"num alarm\"",
                (_, false) => " class=\"num\"",
            };
            format!("<{tag}{class}>{}</{tag}>", escape(text))
        };
        let mut out = format!("<table class=\"{class}\"><thead><tr>");
        for (i, h) in self.header.iter().enumerate() {
            out.push_str(&cell("th", i, h));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for i in 0..self.header.len() {
                let raw = row.get(i).map(String::as_str).unwrap_or("");
                out.push_str(&cell(if i == 0 { "th" } else { "td" }, i, raw));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

/// Seconds for people: `850 ns`, `37.2 us`, `12.5 ms`, `1.25 s`.
pub fn human_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "-".into();
    }
    let (value, unit) = if secs == 0.0 {
        (0.0, "s")
    } else if secs < 1e-6 {
        (secs * 1e9, "ns")
    } else if secs < 1e-3 {
        (secs * 1e6, "us")
    } else if secs < 1.0 {
        (secs * 1e3, "ms")
    } else {
        (secs, "s")
    };
    format!("{} {unit}", three_figures(value))
}

/// Counts for people: `950`, `12.3 k`, `1.2 M`.
pub fn human_count(n: f64) -> String {
    if n.abs() < 1e4 {
        return format!("{}", n.round());
    }
    let (value, unit) = if n.abs() < 1e6 { (n / 1e3, "k") } else { (n / 1e6, "M") };
    format!("{} {unit}", three_figures(value))
}

fn three_figures(value: f64) -> String {
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut t = TextTable::new(["name", "value"]);
        t.row(["a", "1"]);
        t.row(["longer", "12345"]);
        assert_eq!(t.render(), "name    value\n------  -----\na           1\nlonger  12345\n");
    }

    #[test]
    fn alerts_are_red_on_a_terminal_and_plain_elsewhere() {
        let mut t = TextTable::new(["m", "v"]);
        t.row(["failures".to_string(), alert("12")]);
        assert_eq!(t.render(), "m          v\n--------  --\nfailures  12\n");
        let coloured = t.render_with(true);
        assert!(coloured.contains("\x1b[1;31m12\x1b[0m") && coloured.contains("\x1b[1mm\x1b[0m"));
    }

    #[test]
    fn html_tables_escape_cells_and_mark_alerts() {
        let mut t = TextTable::new(["metric", "a<b"]);
        t.row(["failures".to_string(), alert("12")]);
        t.row(["short"]);
        let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
        assert_eq!(
            t.render_html("cmp", escape),
            "<table class=\"cmp\"><thead><tr><th>metric</th><th class=\"num\">a&lt;b</th></tr>\
             </thead><tbody><tr><th>failures</th><td class=\"num alarm\">12</td></tr>\
             <tr><th>short</th><td class=\"num\"></td></tr></tbody></table>"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(human_secs(0.0372), "37.2 ms");
        assert_eq!(human_secs(1.5), "1.50 s");
        assert_eq!(human_secs(2.5e-7), "250 ns");
        assert_eq!(human_count(1_234_567.0), "1.23 M");
        assert_eq!(human_count(950.0), "950");
    }
}
