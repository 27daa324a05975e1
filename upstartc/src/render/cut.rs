//! Long source lines, cut for display: a diagnostic on a line of megabytes (a generated or
//! minified spec, a file that is not a spec at all) must not echo the whole line. A line longer
//! than [`MAX_LINE`] bytes is shown as windows of [`CONTEXT`] bytes around the labels on it,
//! joined by ` … `; the diagnostics' spans are mapped into the shortened text. Lines are kept,
//! so line numbers stay right.

use std::ops::Range;

/// Lines longer than this (in bytes) are cut: wide enough for any line written by hand.
pub const MAX_LINE: usize = 512;
/// Bytes kept on each side of a label on a cut line.
pub const CONTEXT: usize = 60;
/// Bytes of a label itself kept on a cut line (a label over a whole long line is cut too).
const MAX_LABEL: usize = 80;
const MARK: &str = " … ";

/// A file's text as shown, and how its offsets map into it.
#[derive(Debug)]
pub struct CutText {
    pub text: String,
    /// Kept pieces of the original: (original range, start in `text`), in order.
    pieces: Vec<(Range<usize>, usize)>,
    /// Lines that were cut: (line start, line end) in the original.
    pub cut_lines: Vec<Range<usize>>,
}

impl CutText {
    /// `text` with each line longer than [`MAX_LINE`] reduced to windows around `spans`
    /// (original byte ranges of the labels shown).
    pub fn new(text: &str, spans: &[Range<usize>]) -> CutText {
        let mut out = CutText {
            text: String::with_capacity(text.len().min(1 << 20)),
            pieces: Vec::new(),
            cut_lines: Vec::new(),
        };
        let mut spans: Vec<Range<usize>> = spans.to_vec();
        spans.sort_by_key(|s| s.start);
        let mut start = 0;
        while start < text.len() {
            let end = text[start..]
                .find('\n')
                .map_or(text.len(), |i| start + i + 1);
            if end - start <= MAX_LINE {
                out.keep(text, start..end);
            } else {
                out.cut_line(text, start..end, &spans);
            }
            start = end;
        }
        out
    }

    fn keep(&mut self, text: &str, range: Range<usize>) {
        if let Some(piece) = text.get(range.clone()) {
            self.pieces.push((range, self.text.len()));
            self.text.push_str(piece);
        }
    }

    fn cut_line(&mut self, text: &str, line: Range<usize>, spans: &[Range<usize>]) {
        self.cut_lines.push(line.clone());
        // Windows around the labels that start on this line (or the line's start).
        let mut windows: Vec<Range<usize>> = spans
            .iter()
            .filter(|s| s.start >= line.start && s.start < line.end)
            .map(|s| {
                let end = s.end.min(s.start + MAX_LABEL).max(s.start);
                s.start.saturating_sub(CONTEXT).max(line.start)..(end + CONTEXT).min(line.end)
            })
            .collect();
        if windows.is_empty() {
            windows.push(line.start..(line.start + CONTEXT * 2).min(line.end));
        }
        let mut merged: Vec<Range<usize>> = Vec::new();
        for w in windows {
            let w = floor(text, w.start)..ceil(text, w.end);
            match merged.last_mut() {
                Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
                _ => merged.push(w),
            }
        }
        let mut at = line.start;
        for w in merged {
            if w.start > at {
                self.text.push_str(MARK);
            }
            self.keep(text, w.clone());
            at = w.end;
        }
        if at < line.end {
            self.text.push_str(MARK.trim_end());
            // The line's end stays a line end.
            if text.get(line.end.saturating_sub(1)..line.end) == Some("\n") {
                self.keep(text, line.end - 1..line.end);
            }
        }
    }

    /// Where the original offset `offset` is in the shown text: inside a kept piece exactly,
    /// in a cut part at the end of the piece before it.
    pub fn map(&self, offset: usize) -> usize {
        let i = self.pieces.partition_point(|(r, _)| r.start <= offset);
        let Some((range, at)) = i.checked_sub(1).and_then(|i| self.pieces.get(i)) else {
            return 0;
        };
        at + offset.min(range.end) - range.start
    }

    /// Whether `offset` is on a cut line.
    pub fn on_cut_line(&self, offset: usize) -> bool {
        self.cut_lines
            .iter()
            .any(|l| l.start <= offset && offset < l.end.max(l.start + 1))
    }
}

fn floor(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept_as_they_are() {
        let text = "a\nbc\n";
        let cut = CutText::new(text, &[1..2, 0..1]);
        assert_eq!(cut.text, text);
        assert_eq!(cut.map(3), 3);
        assert!(cut.cut_lines.is_empty());
    }

    #[test]
    fn a_long_line_keeps_windows_around_its_labels() {
        let long = format!(
            "{}ERR{}X{}",
            "a".repeat(1000),
            "b".repeat(1000),
            "c".repeat(5000)
        );
        let text = format!("first\n{long}\nlast\n");
        let err = text.find("ERR").unwrap();
        let x = text.find('X').unwrap();
        let cut = CutText::new(&text, &[err..err + 3, x..x + 1]);
        assert!(cut.text.len() < 500, "{}", cut.text.len());
        assert!(cut.text.starts_with("first\n … "), "{}", cut.text);
        assert!(cut.text.ends_with("…\nlast\n"), "{}", cut.text);
        let at = cut.map(err);
        assert_eq!(&cut.text[at..at + 3], "ERR");
        let at = cut.map(x);
        assert_eq!(&cut.text[at..at + 1], "X");
        assert_eq!(cut.text.lines().count(), 3);
        let last = text.find("last").unwrap();
        assert_eq!(&cut.text[cut.map(last)..cut.map(last) + 4], "last");
    }

    #[test]
    fn cuts_respect_characters() {
        let text = "é".repeat(1000);
        let cut = CutText::new(&text, &[100..102, 100..102]);
        assert!(cut.text.len() < 300);
        assert!(cut.text.contains('é'));
    }
}
