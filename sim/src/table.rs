//! Plain aligned text tables for the terminal: a header row, then rows; numbers right-aligned.

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
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = width - cell.chars().count();
                if i > 0 {
                    text.push_str("  ");
                }
                if i == 0 {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                } else {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
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
    fn numbers_read_well() {
        assert_eq!(human_secs(0.0372), "37.2 ms");
        assert_eq!(human_secs(1.5), "1.50 s");
        assert_eq!(human_secs(2.5e-7), "250 ns");
        assert_eq!(human_count(1_234_567.0), "1.23 M");
        assert_eq!(human_count(950.0), "950");
    }
}
