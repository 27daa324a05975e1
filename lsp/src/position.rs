//! Byte offsets to LSP positions and back. LSP counts lines from 0 and columns in UTF-16 code
//! units (the protocol's default encoding, the only one every client supports); our spans are
//! byte offsets into UTF-8 text.

use lang::span::Span;
use lsp_types::{Position, Range};

/// Where each line of a text starts, for conversions in both directions.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { line_starts }
    }

    /// The line (from 0) holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// The byte where `line` starts (the end of the text for a line past the last).
    pub fn line_start(&self, line: usize, text: &str) -> usize {
        self.line_starts.get(line).copied().unwrap_or(text.len())
    }

    /// The LSP position of a byte offset (clamped to the text, rounded down to a character).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let start = self.line_start(line, text);
        let character = text
            .get(start..offset)
            .map_or(0, |s| s.encode_utf16().count());
        Position {
            line: to_u32(line),
            character: to_u32(character),
        }
    }

    /// The byte offset of an LSP position: a column past the end of its line is the line's end
    /// (before its newline), a line past the last is the end of the text, and a column in the
    /// middle of a surrogate pair is the start of that character.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let line = pos.line as usize;
        let Some(&start) = self.line_starts.get(line) else {
            return text.len();
        };
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(text.len(), |next| next.saturating_sub(1));
        let line_text = text.get(start..end).unwrap_or("");
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        let mut units = 0usize;
        for (i, c) in line_text.char_indices() {
            let next = units + c.len_utf16();
            if next > pos.character as usize {
                return start + i;
            }
            units = next;
        }
        start + line_text.len()
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        Range {
            start: self.position(text, span.start),
            end: self.position(text, span.end),
        }
    }

    /// The byte range of an LSP range.
    pub fn span(&self, text: &str, range: Range) -> Span {
        let a = self.offset(text, range.start);
        let b = self.offset(text, range.end);
        Span::new(a.min(b), a.max(b))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn ascii_round_trips() {
        let text = "ab\ncd\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 4), pos(1, 1));
        assert_eq!(idx.offset(text, pos(1, 1)), 4);
        assert_eq!(idx.position(text, 6), pos(2, 0));
        assert_eq!(idx.offset(text, pos(2, 0)), 6);
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is 2 bytes and 1 unit; `𝄞` is 4 bytes and 2 units (a surrogate pair).
        let text = "é𝄞x\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 2), pos(0, 1));
        assert_eq!(idx.position(text, 6), pos(0, 3));
        assert_eq!(idx.offset(text, pos(0, 3)), 6);
        assert_eq!(idx.offset(text, pos(0, 1)), 2);
        // Inside the surrogate pair: the start of the character.
        assert_eq!(idx.offset(text, pos(0, 2)), 2);
        // In the middle of a UTF-8 sequence: rounded down.
        assert_eq!(idx.position(text, 1), pos(0, 0));
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let text = "ab\r\ncd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.offset(text, pos(0, 99)), 2, "before the \\r\\n");
        assert_eq!(idx.offset(text, pos(9, 0)), text.len());
        assert_eq!(idx.position(text, 999), pos(1, 2));
    }
}
