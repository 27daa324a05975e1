//! Leaves: names, paths and literals (integers, strings, durations). Literal problems
//! (overflow, bad escapes, unknown duration units) become diagnostics here.

use super::*;

impl Builder {
    pub(super) fn ident(&self, pair: P<'_>) -> Ident {
        let text = pair.as_str();
        let ident = Ident {
            // `r#exists` names `exists`: the escape is spelling, not part of the name.
            name: text.strip_prefix("r#").unwrap_or(text).to_string(),
            span: self.span(&pair),
        };
        if ident.name.starts_with(RESERVED_PREFIX) {
            self.reserved.borrow_mut().push(ident.clone());
        }
        ident
    }

    pub(super) fn ident_opt(&self, pair: Option<P<'_>>) -> Ident {
        match pair {
            Some(p) => self.ident(p),
            None => Ident {
                name: String::new(),
                span: Span::default(),
            },
        }
    }

    /// The expression `pair` holds, or `()` at `span` where the parse has none (a part left
    /// out of a broken input).
    pub(super) fn expr_or_unit(&mut self, pair: Option<P<'_>>, span: Span) -> Expr {
        match pair {
            Some(e) => self.expr(e),
            None => Expr {
                id: ExprId::default(),
                kind: ExprKind::Lit(Lit::Unit),
                span,
            },
        }
    }

    pub(super) fn number_opt(&mut self, pair: Option<P<'_>>) -> Number {
        match pair {
            Some(p) => {
                let span = self.span(&p);
                Number {
                    value: self.int_value(p.as_str(), span),
                    span,
                }
            }
            None => Number {
                value: 0,
                span: Span::default(),
            },
        }
    }

    pub(super) fn int_value(&mut self, text: &str, span: Span) -> u64 {
        let digits: String = text.chars().filter(|c| *c != '_').collect();
        match digits.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                self.error(
                    codes::INT_OVERFLOW,
                    span,
                    format!("integer `{text}` is too large"),
                    |d| {
                        d.label("does not fit in 64 bits")
                            .note(format!("the largest integer is {}", u64::MAX))
                    },
                );
                0
            }
        }
    }

    pub(super) fn string_value(&mut self, pair: P<'_>) -> String {
        // `string` wraps `string_inner`
        let inner = pair.into_inner().next();
        let Some(inner) = inner else {
            return String::new();
        };
        let base = self.span(&inner).start;
        let raw = inner.as_str();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => out.push('\0'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((j, other)) => {
                    let span = Span::new(base + i, base + j + other.len_utf8());
                    self.error(
                        codes::BAD_ESCAPE,
                        span,
                        format!("unknown escape `\\{other}`"),
                        |d| {
                            d.label("not an escape").help(
                                "the escapes are `\\n`, `\\t`, `\\r`, `\\0`, `\\\\` and `\\\"`",
                            )
                        },
                    );
                }
                None => {}
            }
        }
        out
    }

    pub(super) fn path(&self, pair: P<'_>) -> Vec<Ident> {
        pair.into_inner().map(|p| self.ident(p)).collect()
    }

    pub(super) fn duration(&mut self, text: &str, span: Span) -> u64 {
        let split = text
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let n = self.int_value(digits, span);
        let factor = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                self.error(
                    codes::BAD_DURATION_UNIT,
                    span,
                    format!("unknown duration unit `{unit}`"),
                    |d| {
                        d.label("not a unit")
                            .help("durations are written `250ms`, `5s`, `10m`, `2h` or `1d`")
                    },
                );
                return 0;
            }
        };
        match n.checked_mul(factor) {
            Some(ms) => ms,
            None => {
                self.error(
                    codes::INT_OVERFLOW,
                    span,
                    format!("duration `{text}` is too long"),
                    |d| d.label("does not fit in 64 bits of milliseconds"),
                );
                u64::MAX
            }
        }
    }
}
