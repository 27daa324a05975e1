//! pest pairs to AST. The grammar guarantees the shape of each pair, so a pair of an
//! unexpected shape is skipped rather than trusted; literal problems (bad escapes, overflow,
//! unknown duration units) become diagnostics.

use super::Rule;
use crate::ast::*;
use crate::diagnostic::{codes, Diagnostic};
use crate::span::{FileId, Span};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::OnceLock;

mod expr;

type P<'i> = Pair<'i, Rule>;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::or, Assoc::Left))
            .op(Op::infix(Rule::and, Assoc::Left))
            .op(Op::infix(Rule::eq, Assoc::Left) | Op::infix(Rule::ne, Assoc::Left))
            .op(Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left)
                | Op::infix(Rule::div, Assoc::Left)
                | Op::infix(Rule::rem, Assoc::Left))
            .op(Op::prefix(Rule::neg) | Op::prefix(Rule::not))
            .op(Op::postfix(Rule::method_call)
                | Op::postfix(Rule::field_access)
                | Op::postfix(Rule::index))
    })
}

pub(super) struct Builder {
    file: FileId,
    offset: usize,
    diagnostics: Vec<Diagnostic>,
    /// Where building stopped because the input nests deeper than the stack allows.
    too_deep_at: Option<usize>,
    /// Identifiers in the reserved namespace ([`RESERVED_PREFIX`]). Found by `ident`, which
    /// only borrows the builder (it is called from inside iterator chains).
    reserved: std::cell::RefCell<Vec<Ident>>,
    /// How many type expressions enclose the one being built.
    type_depth: usize,
}

/// The prefix of the names generated code gives its own variables and functions
/// (`compiler::codegen::names::internal`). A spec's name with it could collide with them, so
/// the prefix is reserved: every identifier starting with it is refused (U0008).
pub const RESERVED_PREFIX: &str = "__up_";

/// Stack the builder keeps in reserve: with less left, it stops descending and the item is
/// refused (U0007) instead of overflowing the stack. Constructs that nest without brackets
/// (`else if` chains, `let`, closures, quantifiers, `list<list<...>>`) reach here unbounded
/// by the chunker; pest's own guard only keeps 64 KiB for itself.
const STACK_RESERVE: usize = 256 * 1024;

impl Builder {
    pub(super) fn new(file: FileId, offset: usize) -> Self {
        Builder {
            file,
            offset,
            diagnostics: Vec::new(),
            too_deep_at: None,
            reserved: std::cell::RefCell::new(Vec::new()),
            type_depth: 0,
        }
    }

    pub(super) fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        let mut seen = std::collections::BTreeSet::new();
        // Once per name: its uses after the first are echoes.
        for name in self.reserved.into_inner() {
            if !seen.insert(name.name.clone()) {
                continue;
            }
            diagnostics.push(
                Diagnostic::new(
                    codes::RESERVED_NAME,
                    self.file,
                    name.span,
                    format!("`{}` is a reserved name", name.name),
                )
                .label(format!(
                    "names beginning with `{RESERVED_PREFIX}` are reserved"
                ))
                .note("the generated plugin names its own variables and functions with this prefix")
                .help(format!(
                    "rename it, for example to `{}`",
                    name.name.trim_start_matches('_')
                )),
            );
        }
        diagnostics
    }

    /// The pair's span without the whitespace pest's implicit skipping leaves at its end.
    fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        let len = significant_len(pair.as_str());
        Span::new(s.start(), s.start() + len).shift(self.offset)
    }

    fn error(
        &mut self,
        code: crate::diagnostic::Code,
        span: Span,
        message: String,
    ) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::new(code, self.file, span, message));
        let last = self.diagnostics.len() - 1;
        #[allow(clippy::indexing_slicing, reason = "`last` is the element just pushed")]
        &mut self.diagnostics[last]
    }

    pub(super) fn header(&mut self, pair: P<'_>) -> (Ident, Number, Number, Span) {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident_opt(inner.next());
        let before = self.diagnostics.len();
        let from = self.number_opt(inner.next());
        let to = self.number_opt(inner.next());
        if self.diagnostics.len() > before {
            // An overflowing version was already reported; its placeholder value says nothing.
        } else if to.value <= from.value {
            let d = self.error(
                codes::VERSIONS_NOT_ASCENDING,
                from.span.to(to.span),
                format!(
                    "upgrade from version {} to version {} does not go forward",
                    from.value, to.value
                ),
            );
            *d = d
                .clone()
                .label("the target version must be newer")
                .help(format!(
                    "a spec upgrades to the next version: write `{} -> {}`",
                    to.value,
                    to.value.saturating_add(1)
                ));
        } else if to.value != from.value.saturating_add(1) {
            let d = self.error(
                codes::VERSIONS_NOT_ADJACENT,
                from.span.to(to.span),
                format!(
                    "upgrade from version {} to version {} skips versions",
                    from.value, to.value
                ),
            );
            *d = d.clone().label("not adjacent versions").help(format!(
                "write one spec per step (`{} -> {}`, ...) and give them together: chains compose",
                from.value,
                from.value.saturating_add(1)
            ));
        }
        (name, from, to, span)
    }

    pub(super) fn item(&mut self, pair: P<'_>) -> Option<Item> {
        Some(match pair.as_rule() {
            Rule::protocol => Item::Protocol(self.protocol(pair)),
            Rule::version_block => Item::Version(self.version_block(pair)),
            Rule::invariant => Item::Invariant(self.invariant(pair)),
            Rule::transform => Item::Transform(self.transform(pair)),
            Rule::rule_block => Item::Rules(self.rule_block(pair)),
            Rule::schedule => Item::Schedule(self.schedule(pair)),
            Rule::function => Item::Function(self.function(pair)),
            _ => return None,
        })
    }

    // ------------------------------------------------------------ leaves

    fn ident(&self, pair: P<'_>) -> Ident {
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

    fn ident_opt(&self, pair: Option<P<'_>>) -> Ident {
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
    fn expr_or_unit(&mut self, pair: Option<P<'_>>, span: Span) -> Expr {
        match pair {
            Some(e) => self.expr(e),
            None => Expr {
                id: ExprId::default(),
                kind: ExprKind::Lit(Lit::Unit),
                span,
            },
        }
    }

    fn number_opt(&mut self, pair: Option<P<'_>>) -> Number {
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

    fn int_value(&mut self, text: &str, span: Span) -> u64 {
        let digits: String = text.chars().filter(|c| *c != '_').collect();
        match digits.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                let d = self.error(
                    codes::INT_OVERFLOW,
                    span,
                    format!("integer `{text}` is too large"),
                );
                *d = d
                    .clone()
                    .label("does not fit in 64 bits")
                    .note(format!("the largest integer is {}", u64::MAX));
                0
            }
        }
    }

    fn string_value(&mut self, pair: P<'_>) -> String {
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
                    let d = self.error(
                        codes::BAD_ESCAPE,
                        span,
                        format!("unknown escape `\\{other}`"),
                    );
                    *d = d
                        .clone()
                        .label("not an escape")
                        .help("the escapes are `\\n`, `\\t`, `\\r`, `\\0`, `\\\\` and `\\\"`");
                }
                None => {}
            }
        }
        out
    }

    fn path(&self, pair: P<'_>) -> Vec<Ident> {
        pair.into_inner().map(|p| self.ident(p)).collect()
    }

    // ------------------------------------------------------------ items

    fn protocol(&mut self, pair: P<'_>) -> Protocol {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident_opt(inner.next());
        let options = inner
            .map(|opt| {
                let mut kv = opt.into_inner();
                (self.ident_opt(kv.next()), self.ident_opt(kv.next()))
            })
            .collect();
        Protocol {
            name,
            options,
            span,
        }
    }

    fn version_block(&mut self, pair: P<'_>) -> VersionBlock {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let number = self.number_opt(inner.next());
        let decls = inner.filter_map(|d| self.decl(d)).collect();
        VersionBlock {
            number,
            decls,
            span,
        }
    }

    fn decl(&mut self, pair: P<'_>) -> Option<Decl> {
        let span = self.span(&pair);
        let kind_rule = pair.as_rule();
        let mut inner = pair.into_inner();
        Some(match kind_rule {
            Rule::record_decl => {
                let name = self.ident_opt(inner.next());
                let fields = inner.next().map(|f| self.fields(f)).unwrap_or_default();
                Decl::Record(RecordDecl { name, fields, span })
            }
            Rule::enum_decl => {
                let name = self.ident_opt(inner.next());
                let variants = inner
                    .map(|v| {
                        let span = self.span(&v);
                        let mut vi = v.into_inner();
                        let name = self.ident_opt(vi.next());
                        let payload = vi.next().map(|t| self.type_expr(t));
                        Variant {
                            name,
                            payload,
                            span,
                        }
                    })
                    .collect();
                Decl::Enum(EnumDecl {
                    name,
                    variants,
                    span,
                })
            }
            Rule::service_decl => {
                let name = self.ident_opt(inner.next());
                let methods = inner
                    .map(|m| {
                        let span = self.span(&m);
                        let mut mi = m.into_inner().peekable();
                        let changed = mi
                            .next_if(|p| p.as_rule() == Rule::changed)
                            .map(|p| self.span(&p));
                        let name = self.ident_opt(mi.next());
                        let params = mi.next().map(|f| self.fields(f)).unwrap_or_default();
                        let ret = mi
                            .next_if(|p| p.as_rule() == Rule::type_expr)
                            .map(|t| self.type_expr(t));
                        let renamed_from = mi
                            .next_if(|p| p.as_rule() == Rule::renamed)
                            .map(|r| self.ident_opt(r.into_inner().nth(1)));
                        let model = mi
                            .next_if(|p| {
                                matches!(p.as_rule(), Rule::model_expr | Rule::model_block)
                            })
                            .map(|part| self.method_model(part));
                        MethodDecl {
                            changed,
                            name,
                            params,
                            ret,
                            renamed_from,
                            model,
                            span,
                        }
                    })
                    .collect();
                Decl::Service(ServiceDecl {
                    name,
                    methods,
                    span,
                })
            }
            Rule::state_decl => {
                let mut storage = None;
                let mut fields = Vec::new();
                for part in inner {
                    match part.as_rule() {
                        Rule::state_kind => storage = StateStorage::from_name(part.as_str()),
                        _ => fields = self.fields(part),
                    }
                }
                Decl::State(StateDecl {
                    storage,
                    fields,
                    span,
                })
            }
            _ => return None,
        })
    }

    /// `= expr` or `{ let x = e; state.f = e; result }`.
    fn method_model(&mut self, pair: P<'_>) -> MethodModel {
        let span = self.span(&pair);
        let block = pair.as_rule() == Rule::model_block;
        let mut stmts = Vec::new();
        let mut result = None;
        for part in pair.into_inner() {
            let pspan = self.span(&part);
            match part.as_rule() {
                Rule::model_let | Rule::model_assign => {
                    let is_let = part.as_rule() == Rule::model_let;
                    let mut inner = part.into_inner();
                    let name = self.ident_opt(inner.next());
                    let value = self.expr_or_unit(inner.next(), pspan);
                    stmts.push(if is_let {
                        ModelStmt::Let {
                            name,
                            value,
                            span: pspan,
                        }
                    } else {
                        ModelStmt::Assign {
                            field: name,
                            value,
                            span: pspan,
                        }
                    });
                }
                _ => result = Some(self.expr(part)),
            }
        }
        MethodModel {
            stmts,
            result,
            block,
            span,
        }
    }

    fn fields(&mut self, pair: P<'_>) -> Vec<Field> {
        pair.into_inner()
            .map(|f| {
                let span = self.span(&f);
                let mut fi = f.into_inner().peekable();
                let changed = fi
                    .next_if(|p| p.as_rule() == Rule::changed)
                    .map(|p| self.span(&p));
                let name = self.ident_opt(fi.next());
                let ty = match fi.next() {
                    Some(t) => self.type_expr(t),
                    None => TypeExpr {
                        kind: TypeExprKind::Tuple(Vec::new()),
                        span,
                    },
                };
                let renamed_from = fi
                    .next_if(|p| p.as_rule() == Rule::renamed)
                    .map(|r| self.ident_opt(r.into_inner().nth(1)));
                Field {
                    changed,
                    name,
                    ty,
                    renamed_from,
                    span,
                }
            })
            .collect()
    }

    /// A type expression; type arguments nested deeper than the bracket limit
    /// ([`super::chunk::MAX_NESTING`], `list<list<...>>`) are refused (U0007) whatever the
    /// stack, as brackets are: later passes over types recurse.
    fn type_expr(&mut self, pair: P<'_>) -> TypeExpr {
        let limit = usize::try_from(super::chunk::MAX_NESTING).unwrap_or(usize::MAX);
        if self.type_depth >= limit && self.too_deep_at.is_none() {
            self.too_deep_at = Some(self.offset + pair.as_span().start());
        }
        self.type_depth += 1;
        let t = self.type_expr_inner(pair);
        self.type_depth -= 1;
        t
    }

    fn type_expr_inner(&mut self, pair: P<'_>) -> TypeExpr {
        let span = self.span(&pair);
        if self.out_of_stack(pair.as_span().start()) {
            return TypeExpr {
                kind: TypeExprKind::Tuple(Vec::new()),
                span,
            };
        }
        // type_expr wraps named_type or tuple_type
        let pair = match pair.as_rule() {
            Rule::type_expr => match pair.into_inner().next() {
                Some(p) => p,
                None => {
                    return TypeExpr {
                        kind: TypeExprKind::Tuple(Vec::new()),
                        span,
                    }
                }
            },
            _ => pair,
        };
        let kind = match pair.as_rule() {
            Rule::tuple_type => {
                TypeExprKind::Tuple(pair.into_inner().map(|t| self.type_expr(t)).collect())
            }
            _ => {
                let mut inner = pair.into_inner();
                let path = inner.next().map(|p| self.path(p)).unwrap_or_default();
                let args = inner.map(|t| self.type_expr(t)).collect();
                TypeExprKind::Named { path, args }
            }
        };
        TypeExpr { kind, span }
    }

    fn function(&mut self, pair: P<'_>) -> Function {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident_opt(inner.next());
        let params = inner.next().map(|f| self.fields(f)).unwrap_or_default();
        let ret = match inner.next() {
            Some(t) => self.type_expr(t),
            None => TypeExpr {
                kind: TypeExprKind::Tuple(Vec::new()),
                span,
            },
        };
        let body = self.expr_or_unit(inner.next(), span);
        Function {
            name,
            params,
            ret,
            body,
            span,
        }
    }

    fn invariant(&mut self, pair: P<'_>) -> Invariant {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let old = self.ident_opt(inner.next());
        let new = self.ident_opt(inner.next());
        let clauses = inner.map(|e| self.expr(e)).collect();
        Invariant {
            old,
            new,
            clauses,
            span,
        }
    }

    fn transform(&mut self, pair: P<'_>) -> Transform {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let old = self.ident_opt(inner.next());
        let new = self.ident_opt(inner.next());
        let fields = inner
            .next()
            .map(|f| self.field_inits(f))
            .unwrap_or_default();
        let reverse = Transform::is_reverse_header(&old.name, &new.name);
        Transform {
            old,
            new,
            fields,
            reverse,
            span,
        }
    }

    fn rule_block(&mut self, pair: P<'_>) -> RuleBlock {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let kind = match inner.next().map(|k| k.as_str() == "past") {
            Some(true) => RuleKind::Past,
            _ => RuleKind::Future,
        };
        let service = self.ident_opt(inner.next());
        let rules = inner
            .map(|r| {
                let span = self.span(&r);
                let mut parts: Vec<P<'_>> = r.into_inner().collect();
                let body = self.expr_or_unit(parts.pop(), span);
                let (attrs, parts): (Vec<P<'_>>, Vec<P<'_>>) = parts
                    .into_iter()
                    .partition(|p| p.as_rule() == Rule::rule_attr);
                let allow = attrs
                    .into_iter()
                    .flat_map(|a| a.into_inner())
                    .map(|p| self.ident(p))
                    .collect();
                let mut idents = parts.into_iter().map(|p| self.ident(p));
                let method = idents.next().unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                crate::ast::Rule {
                    allow,
                    method,
                    params: idents.collect(),
                    body,
                    span,
                }
            })
            .collect();
        RuleBlock {
            kind,
            service,
            rules,
            span,
        }
    }

    fn schedule(&mut self, pair: P<'_>) -> Schedule {
        let span = self.span(&pair);
        let entries = pair.into_inner().map(|e| self.sched_entry(e)).collect();
        Schedule { entries, span }
    }

    fn sched_entry(&mut self, pair: P<'_>) -> SchedEntry {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let key = self.ident_opt(inner.next());
        let value = match inner.next() {
            Some(v) if v.as_rule() == Rule::sched_block => {
                let vspan = self.span(&v);
                let entries = v.into_inner().map(|e| self.sched_entry(e)).collect();
                SchedValue {
                    kind: SchedValueKind::Block(entries),
                    span: vspan,
                }
            }
            Some(v) => self.sched_value(v),
            None => SchedValue {
                kind: SchedValueKind::Block(Vec::new()),
                span,
            },
        };
        SchedEntry { key, value, span }
    }

    fn sched_value(&mut self, pair: P<'_>) -> SchedValue {
        let span = self.span(&pair);
        let pair = match pair.as_rule() {
            Rule::sched_value => match pair.into_inner().next() {
                Some(p) => p,
                None => {
                    return SchedValue {
                        kind: SchedValueKind::Int(0),
                        span,
                    }
                }
            },
            _ => pair,
        };
        let kind = match pair.as_rule() {
            Rule::sched_then => {
                let mut inner = pair.into_inner();
                let count = match inner.next() {
                    Some(a) => self.sched_value(a),
                    None => SchedValue {
                        kind: SchedValueKind::Int(0),
                        span,
                    },
                };
                let action = self.ident_opt(inner.next());
                SchedValueKind::Then(Box::new(count), action)
            }
            Rule::sched_range => {
                let mut inner = pair.into_inner();
                let a = inner
                    .next()
                    .map(|s| self.string_value(s))
                    .unwrap_or_default();
                let b = inner
                    .next()
                    .map(|s| self.string_value(s))
                    .unwrap_or_default();
                SchedValueKind::Range(a, b)
            }
            Rule::duration => SchedValueKind::Duration(self.duration(pair.as_str(), span)),
            Rule::int => SchedValueKind::Int(self.int_value(pair.as_str(), span)),
            Rule::string => SchedValueKind::Str(self.string_value(pair)),
            _ => SchedValueKind::Ident(pair.as_str().to_string()),
        };
        SchedValue { kind, span }
    }

    fn duration(&mut self, text: &str, span: Span) -> u64 {
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
                let d = self.error(
                    codes::BAD_DURATION_UNIT,
                    span,
                    format!("unknown duration unit `{unit}`"),
                );
                *d = d
                    .clone()
                    .label("not a unit")
                    .help("durations are written `250ms`, `5s`, `10m`, `2h` or `1d`");
                return 0;
            }
        };
        match n.checked_mul(factor) {
            Some(ms) => ms,
            None => {
                let d = self.error(
                    codes::INT_OVERFLOW,
                    span,
                    format!("duration `{text}` is too long"),
                );
                *d = d.clone().label("does not fit in 64 bits of milliseconds");
                u64::MAX
            }
        }
    }

    fn field_inits(&mut self, pair: P<'_>) -> Vec<FieldInit> {
        pair.into_inner()
            .map(|f| {
                let span = self.span(&f);
                let mut fi = f.into_inner();
                let name = self.ident_opt(fi.next());
                let value = self.expr_or_unit(fi.next(), span);
                FieldInit { name, value, span }
            })
            .collect()
    }
}

/// The length of `text` without the whitespace and comments pest's implicit skipping leaves at
/// its end (a rule that ends in an optional part swallows the trivia before it).
fn significant_len(text: &str) -> usize {
    let trimmed = text.trim_end().len();
    if !text.contains("//") && !text.contains("/*") {
        return trimmed;
    }
    let bytes = text.as_bytes();
    let mut end = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if let Some(after) = super::chunk::comment_end(bytes, i) {
            i = after;
            continue;
        }
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
                end = i;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                i += 1;
                end = i;
            }
        }
    }
    end.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::significant_len;

    #[test]
    fn trailing_trivia_is_not_significant() {
        assert_eq!(significant_len("fn a() -> u64  \n"), 13);
        assert_eq!(significant_len("fn a() // note\n  "), 6);
        assert_eq!(significant_len("x /* c */ y /* d */"), 11);
        assert_eq!(significant_len("\"a // b\" // c"), 8);
        assert_eq!(significant_len("é // c"), 2);
    }
}

#[cfg(test)]
mod name_tests {
    use crate::ast::{Decl, Item};
    use crate::span::FileId;

    fn parse(text: &str) -> crate::Parsed {
        crate::parse(FileId(0), text)
    }

    #[test]
    fn escaped_keywords_are_names_and_changed_is_a_mark_or_a_name() {
        let p = parse(
            "upgrade t 1 -> 2\nversion 2 { record R { changed r#in: u64, changed: bool, changedx: u64 } \
             service S { changed fn r#exists() -> bool  fn changed() -> bool } }",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let spec = p.spec.expect("spec");
        let Some(Item::Version(v)) = spec.items.first() else {
            panic!("no version")
        };
        let (Some(Decl::Record(r)), Some(Decl::Service(s))) = (v.decls.first(), v.decls.get(1))
        else {
            panic!("no record and service")
        };
        let fields: Vec<(bool, &str)> = r
            .fields
            .iter()
            .map(|f| (f.changed.is_some(), f.name.name.as_str()))
            .collect();
        assert_eq!(
            fields,
            [(true, "in"), (false, "changed"), (false, "changedx")]
        );
        let methods: Vec<(bool, &str)> = s
            .methods
            .iter()
            .map(|m| (m.changed.is_some(), m.name.name.as_str()))
            .collect();
        assert_eq!(methods, [(true, "exists"), (false, "changed")]);
    }

    #[test]
    fn a_missing_name_is_asked_for_in_words() {
        let p = parse("upgrade t 1 -> 2\nversion 1 { record { } }");
        let messages: Vec<String> = p
            .diagnostics
            .iter()
            .map(|d| format!("{} / {}", d.message, d.primary.message))
            .collect();
        assert_eq!(messages, ["unexpected `{` / expected a name"]);
    }
}
