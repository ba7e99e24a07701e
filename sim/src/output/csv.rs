//! CSV as result files write and read it, through the `csv` crate: RFC 4180 quoting (a cell is
//! quoted only when it holds a comma, quote or line break), text cells neutralised against
//! spreadsheet formulas ([`text_cell`]), numbers in their shortest exact form ([`number_cell`]).

use std::borrow::Cow;
use std::io::{BufRead, Read};

/// A text cell with spreadsheet formulas neutralised: text that starts like a formula (`=`, `+`,
/// `-`, `@`, tab or carriage return) without being a number gets a `'` prefix, so that a
/// spreadsheet shows it as text instead of evaluating it (OWASP's CSV-injection advice). Numbers
/// such as `-1` or `+2.5e3` are left alone, and so is a cell already neutralised (idempotent).
/// Quoting is the writer's.
pub fn text_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<f64>().is_err() {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A number in CSV: shortest exact form; non-finite values become empty cells.
pub fn number_cell(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { String::new() }
}

/// A CSV writer as result files use: `,` between cells, `\n` after rows, quotes only where
/// needed, rows of any width.
pub fn writer<W: std::io::Write>(out: W) -> ::csv::Writer<W> {
    ::csv::WriterBuilder::new()
        .quote_style(::csv::QuoteStyle::Necessary)
        .terminator(::csv::Terminator::Any(b'\n'))
        .flexible(true)
        .from_writer(out)
}

/// A CSV reader as result files are read: no header row taken apart (callers check theirs),
/// rows of any width (callers say what a wrong width means), blank lines skipped.
pub fn reader<R: Read>(input: R) -> ::csv::Reader<R> {
    reader_builder().from_reader(input)
}

/// The builder behind [`reader`], for callers that change an option (comments, trimming).
pub fn reader_builder() -> ::csv::ReaderBuilder {
    let mut builder = ::csv::ReaderBuilder::new();
    builder.has_headers(false).flexible(true);
    builder
}

/// One row as a line, without its line break. Cells are written as given: neutralise text
/// with [`text_cell`] first. (A row of a single empty cell is written `""`, as a reader can
/// tell it from a blank line.)
pub fn line<I, T>(cells: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut out = writer(Vec::new());
    for cell in cells {
        out.write_field(cell.as_ref()).expect("writing to memory");
    }
    out.write_record(None::<&[u8]>).expect("writing to memory");
    let mut bytes = out.into_inner().expect("writing to memory");
    bytes.pop(); // the `\n`
    String::from_utf8(bytes).expect("cells are text")
}

/// A row read from text: the line it starts on (1-based), its text as written (without the
/// line break) and its cells.
#[derive(Debug)]
pub struct Record<'a> {
    pub line: u64,
    pub text: &'a str,
    pub cells: ::csv::StringRecord,
}

/// The rows of `text` with where each is and its text as written, for callers that check rows
/// against a checksum or quote them in errors. Blank lines are skipped.
pub fn records(text: &str) -> Result<Vec<Record<'_>>, ::csv::Error> {
    let mut start = 0;
    let mut out = Vec::new();
    for row in Rows::new(text.as_bytes()) {
        let row = row?;
        // Between the row before and this one's end: blank lines, the row, its line break. A
        // row starts with neither `\r` nor `\n` (a cell holding one is quoted) and ends with
        // neither (its last cell is quoted or holds none).
        let raw = text[start..row.end].trim_matches(['\r', '\n']);
        start = row.end;
        out.push(Record { line: row.line, text: raw, cells: row.cells });
    }
    Ok(out)
}

/// A row streamed by [`Rows`]: the line it starts on (1-based), where it ends (the byte after
/// its line break) and its cells.
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    pub end: usize,
    pub cells: ::csv::StringRecord,
}

/// The rows of a stream with their lines, as [`reader`] reads them, without holding the stream.
pub struct Rows<R: BufRead> {
    reader: ::csv::Reader<OneLine<R>>,
}

impl<R: BufRead> Rows<R> {
    pub fn new(input: R) -> Self {
        let source = OneLine { inner: input, handed: 0, lines: 0, at_line_start: true };
        Rows { reader: reader(source) }
    }

    /// The last line read (1-based), whole or in part: after a row, its last line; after an
    /// error, the line it is on.
    pub fn line(&self) -> u64 {
        let source = self.reader.get_ref();
        source.lines + u64::from(!source.at_line_start)
    }
}

impl<R: BufRead> Iterator for Rows<R> {
    type Item = Result<Row, ::csv::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut cells = ::csv::StringRecord::new();
        match self.reader.read_record(&mut cells) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(Err(e)),
        }
        // The source has handed out the row's last line and nothing after it.
        let breaks: usize = cells.iter().map(|c| c.bytes().filter(|b| *b == b'\n').count()).sum();
        let line = self.line() - breaks as u64;
        Some(Ok(Row { line, end: self.reader.get_ref().handed, cells }))
    }
}

/// A source that hands the CSV reader at most one line per read, counting what it handed: the
/// reader then never holds a line past the row it returns, so the row's line and end are known.
struct OneLine<R> {
    inner: R,
    /// Bytes and line breaks handed out.
    handed: usize,
    lines: u64,
    /// Whether the last byte handed out was a line break.
    at_line_start: bool,
}

impl<R: BufRead> Read for OneLine<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.inner.fill_buf()?;
        let line = available.iter().position(|b| *b == b'\n').map_or(available.len(), |i| i + 1);
        let n = line.min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        if n > 0 {
            self.at_line_start = available[n - 1] == b'\n';
            self.lines += u64::from(self.at_line_start);
        }
        self.handed += n;
        self.inner.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text cell as files hold it.
    fn cell(text: &str) -> String {
        line([text_cell(text).as_ref(), "x"]).strip_suffix(",x").unwrap().to_string()
    }

    #[test]
    fn text_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=1+2"), "'=1+2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
        assert_eq!(cell("-1"), "-1");
        assert_eq!(cell("+2.5e3"), "+2.5e3");
        assert_eq!(text_cell(&text_cell("-cmd")), text_cell("-cmd"), "idempotent");
        assert_eq!(cell("a\rb"), "\"a\rb\"");
        assert_eq!(line(["", ""]), ",");
        assert_eq!(line([""]), "\"\"");
    }

    #[test]
    fn records_keep_their_text_and_line() {
        let text = format!("{}\n\n{}\r\nlast", line(["a,\"b\"\nc", "d"]), line(["e", "f"]));
        let rows = records(&text).unwrap();
        let cells: Vec<Vec<&str>> = rows.iter().map(|r| r.cells.iter().collect()).collect();
        assert_eq!(cells, [vec!["a,\"b\"\nc", "d"], vec!["e", "f"], vec!["last"]]);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 4, 5]);
        let texts: Vec<&str> = rows.iter().map(|r| r.text).collect();
        assert_eq!(texts, ["\"a,\"\"b\"\"\nc\",d", "e,f", "last"]);
        let streamed: Vec<(u64, usize)> = Rows::new("x\r\n\r\n\"a\r\nb\"\r\nz".as_bytes())
            .map(|r| r.unwrap())
            .map(|r| (r.line, r.end))
            .collect();
        assert_eq!(streamed, [(1, 3), (3, 13), (5, 14)]);
    }
}
