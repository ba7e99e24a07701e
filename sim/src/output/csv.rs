//! CSV cells as result files write them: quoting, numbers in their shortest exact form, and
//! splitting a line back into cells.

/// A text cell for CSV: quoted when it holds a comma, quote or line break (RFC 4180), and, when it
/// starts like a spreadsheet formula (`=`, `+`, `-`, `@`, tab or carriage return) without being a
/// number, prefixed with `'` so that a spreadsheet shows it as text instead of evaluating it
/// (OWASP's CSV-injection advice). Numbers such as `-1` or `+2.5e3` are left alone.
pub fn csv_cell(text: &str) -> String {
    let neutralised;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<f64>().is_err()
    {
        neutralised = format!("'{text}");
        neutralised.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A number in CSV: shortest exact form; non-finite values become empty cells.
pub fn number_cell(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { String::new() }
}

/// Undoes [`csv_cell`]'s quoting.
pub fn unquote_cell(cell: &str) -> String {
    match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => cell.to_string(),
    }
}

/// Splits a CSV line on commas outside quotes (cells keep their quotes; see [`unquote_cell`]).
pub fn split_csv(line: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                cells.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cells.push(&line[start..]);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+2"), "'=1+2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
        assert_eq!(csv_cell("-1"), "-1");
        assert_eq!(csv_cell("+2.5e3"), "+2.5e3");
        assert_eq!(csv_cell(&csv_cell("-cmd")), csv_cell("-cmd"), "idempotent");
        let line = format!("{},{}", csv_cell("a,\"b\"\nc"), csv_cell("d"));
        let cells: Vec<String> = split_csv(&line).iter().map(|c| unquote_cell(c)).collect();
        assert_eq!(cells, ["a,\"b\"\nc", "d"]);
    }
}
