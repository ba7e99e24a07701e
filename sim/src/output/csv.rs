//! CSV cells as result files write them: quoting, numbers in their shortest exact form, and
//! splitting a line back into cells.

/// Quotes a CSV cell when it needs it.
pub fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
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
