//! A compact, stable text form of the AST for snapshot tests: an indented S-expression tree,
//! one node per line, each line ending with the node's byte span `@start..end`.
//!
//! ```text
//! spec kv 1 -> 2 @156..173
//!   version 1 @212..467
//!     record Entry @226..269
//!       field key: string @241..252
//!   ...
//!   past Kv @1123..1338
//!     rule get(key) @1135..1181
//!       builtin map @1146..1178
//!         delegate get @1146..1161
//!           var key @1156..1159
//!         closure |i| @1166..1177
//!           field .value @1170..1177
//!             var i @1170..1171
//! ```
//!
//! Every node kind and every field appears: literals with their values (strings quoted and
//! escaped as Rust's `{:?}` does), operators, patterns, schedule values (durations in
//! milliseconds), and type expressions written back as text (`map<string, v1::Item>`).
//! Children come in the order of the AST's fields. The `spec` line carries the header's span
//! (the AST has no span for the whole file). Names, version numbers and type expressions are
//! shown without spans of their own: the line of the node that holds them carries its span.
//! A name left empty by error recovery prints as `?`.

use super::*;
use crate::span::Span;

/// Renders `spec` as an indented tree, one node per line, each with its byte span.
pub fn print_spec(spec: &Spec) -> String {
    let mut p = Printer { out: String::new() };
    p.spec(spec);
    p.out
}

/// Renders one expression the same way, starting at indentation depth 0 (for tests and
/// debugging).
pub fn print_expr(expr: &Expr) -> String {
    let mut p = Printer { out: String::new() };
    p.expr(0, expr);
    p.out
}

/// A type expression as source text: `map<string, Item>`, `(u64, string)`, `()`.
pub fn type_text(ty: &TypeExpr) -> String {
    match &ty.kind {
        TypeExprKind::Named { path, args } => {
            let mut s = path_text(path);
            if !args.is_empty() {
                s.push('<');
                s.push_str(&args.iter().map(type_text).collect::<Vec<_>>().join(", "));
                s.push('>');
            }
            s
        }
        TypeExprKind::Tuple(items) => {
            let inner = items.iter().map(type_text).collect::<Vec<_>>().join(", ");
            if items.len() == 1 {
                format!("({inner},)")
            } else {
                format!("({inner})")
            }
        }
    }
}

fn name(id: &Ident) -> &str {
    if id.name.is_empty() {
        "?"
    } else {
        &id.name
    }
}

fn path_text(path: &[Ident]) -> String {
    if path.is_empty() {
        return "?".to_string();
    }
    path.iter().map(name).collect::<Vec<_>>().join("::")
}

fn names(ids: &[Ident]) -> String {
    ids.iter().map(name).collect::<Vec<_>>().join(", ")
}

fn lit_text(lit: &Lit) -> String {
    match lit {
        Lit::Int(v) => format!("int {v}"),
        Lit::Float(v) => format!("float {v:?}"),
        Lit::Str(s) => format!("str {s:?}"),
        Lit::Bool(b) => format!("bool {b}"),
        Lit::None => "none".to_string(),
        Lit::Unit => "unit".to_string(),
    }
}

fn field_text(f: &Field) -> String {
    let changed = if f.changed.is_some() { "changed " } else { "" };
    let renamed = f
        .renamed_from
        .as_ref()
        .map_or(String::new(), |old| format!(" renamed from {}", name(old)));
    format!("{changed}{}: {}{renamed}", name(&f.name), type_text(&f.ty))
}

struct Printer {
    out: String,
}

impl Printer {
    fn line(&mut self, depth: usize, text: &str, span: Span) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out
            .push_str(&format!(" @{}..{}\n", span.start, span.end));
    }

    fn spec(&mut self, spec: &Spec) {
        let head = format!(
            "spec {} {} -> {}",
            name(&spec.name),
            spec.from.value,
            spec.to.value
        );
        self.line(0, &head, spec.header_span);
        for item in &spec.items {
            self.item(1, item);
        }
    }

    fn item(&mut self, d: usize, item: &Item) {
        match item {
            Item::Protocol(p) => {
                let options = p
                    .options
                    .iter()
                    .map(|(k, v)| format!("{}: {}", name(k), name(v)))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.line(
                    d,
                    &format!("protocol {} {{{options}}}", name(&p.name)),
                    p.span,
                );
            }
            Item::Version(v) => {
                self.line(d, &format!("version {}", v.number.value), v.span);
                for decl in &v.decls {
                    self.decl(d + 1, decl);
                }
            }
            Item::Invariant(i) => {
                self.line(
                    d,
                    &format!("invariant ({}, {})", name(&i.old), name(&i.new)),
                    i.span,
                );
                for clause in &i.clauses {
                    self.expr(d + 1, clause);
                }
            }
            Item::Transform(t) => {
                self.line(
                    d,
                    &format!(
                        "{}transform ({}) -> {}",
                        if t.reverse { "reverse " } else { "" },
                        name(&t.old),
                        name(&t.new)
                    ),
                    t.span,
                );
                self.field_inits(d + 1, &t.fields);
            }
            Item::Rules(r) => {
                self.line(
                    d,
                    &format!("{} {}", r.kind.keyword(), name(&r.service)),
                    r.span,
                );
                for rule in &r.rules {
                    let mut head = format!("rule {}({})", name(&rule.method), names(&rule.params));
                    if !rule.allow.is_empty() {
                        head.push_str(&format!(" allow({})", names(&rule.allow)));
                    }
                    if !rule.differs.is_empty() {
                        head.push_str(&format!(" differs({})", names(&rule.differs)));
                    }
                    self.line(d + 1, &head, rule.span);
                    self.expr(d + 2, &rule.body);
                }
            }
            Item::Schedule(s) => {
                self.line(d, "schedule", s.span);
                for entry in &s.entries {
                    self.sched_entry(d + 1, entry);
                }
            }
            Item::Function(f) => {
                let head = format!("fn {} -> {}", name(&f.name), type_text(&f.ret));
                self.line(d, &head, f.span);
                self.fields(d + 1, "param", &f.params);
                self.expr(d + 1, &f.body);
            }
        }
    }

    fn decl(&mut self, d: usize, decl: &Decl) {
        match decl {
            Decl::Record(r) => {
                self.line(d, &format!("record {}", name(&r.name)), r.span);
                self.fields(d + 1, "field", &r.fields);
            }
            Decl::Enum(e) => {
                self.line(d, &format!("enum {}", name(&e.name)), e.span);
                for v in &e.variants {
                    let text = match &v.payload {
                        Some(t) => format!("variant {}({})", name(&v.name), type_text(t)),
                        None => format!("variant {}", name(&v.name)),
                    };
                    self.line(d + 1, &text, v.span);
                }
            }
            Decl::Service(s) => {
                self.line(d, &format!("service {}", name(&s.name)), s.span);
                for m in &s.methods {
                    let changed = if m.changed.is_some() { "changed " } else { "" };
                    let mut text = match &m.ret {
                        Some(t) => format!("{changed}method {} -> {}", name(&m.name), type_text(t)),
                        None => format!("{changed}method {}", name(&m.name)),
                    };
                    if let Some(old) = &m.renamed_from {
                        text.push_str(&format!(" renamed from {}", name(old)));
                    }
                    self.line(d + 1, &text, m.span);
                    self.fields(d + 2, "param", &m.params);
                    if let Some(model) = &m.model {
                        let form = if model.block { "block" } else { "expr" };
                        self.line(d + 2, &format!("model {form}"), model.span);
                        for stmt in &model.stmts {
                            let (text, value, span) = match stmt {
                                ModelStmt::Let {
                                    name: n,
                                    value,
                                    span,
                                } => (format!("let {}", name(n)), value, span),
                                ModelStmt::Assign { field, value, span } => {
                                    (format!("assign state.{}", name(field)), value, span)
                                }
                            };
                            self.line(d + 3, &text, *span);
                            self.expr(d + 4, value);
                        }
                        if let Some(e) = &model.result {
                            self.line(d + 3, "result", e.span);
                            self.expr(d + 4, e);
                        }
                    }
                }
            }
            Decl::State(s) => {
                match s.storage {
                    Some(kind) => self.line(d, &format!("state {}", kind.name()), s.span),
                    None => self.line(d, "state", s.span),
                }
                self.fields(d + 1, "field", &s.fields);
                if let Some(w) = &s.wellformed {
                    self.line(d + 1, "where", w.span);
                    for clause in &w.clauses {
                        self.expr(d + 2, clause);
                    }
                }
            }
        }
    }

    fn fields(&mut self, d: usize, word: &str, fields: &[Field]) {
        for f in fields {
            self.line(d, &format!("{word} {}", field_text(f)), f.span);
        }
    }

    fn field_inits(&mut self, d: usize, fields: &[FieldInit]) {
        for f in fields {
            self.line(d, &format!("init {}", name(&f.name)), f.span);
            self.expr(d + 1, &f.value);
        }
    }

    fn sched_entry(&mut self, d: usize, entry: &SchedEntry) {
        self.line(d, &format!("entry {}", name(&entry.key)), entry.span);
        self.sched_value(d + 1, &entry.value);
    }

    fn sched_value(&mut self, d: usize, value: &SchedValue) {
        match &value.kind {
            SchedValueKind::Int(v) => self.line(d, &format!("int {v}"), value.span),
            SchedValueKind::Duration(ms) => self.line(d, &format!("duration {ms}ms"), value.span),
            SchedValueKind::Ident(s) => self.line(d, &format!("ident {s}"), value.span),
            SchedValueKind::Str(s) => self.line(d, &format!("str {s:?}"), value.span),
            SchedValueKind::Block(entries) => {
                self.line(d, "block", value.span);
                for e in entries {
                    self.sched_entry(d + 1, e);
                }
            }
            SchedValueKind::Then(count, action) => {
                self.line(d, &format!("then {}", name(action)), value.span);
                self.sched_value(d + 1, count);
            }
            SchedValueKind::Range(a, b) => {
                self.line(d, &format!("range {a:?} .. {b:?}"), value.span);
            }
        }
    }

    fn exprs(&mut self, d: usize, exprs: &[Expr]) {
        for e in exprs {
            self.expr(d, e);
        }
    }

    fn expr(&mut self, d: usize, e: &Expr) {
        let span = e.span;
        match &e.kind {
            ExprKind::Lit(lit) => self.line(d, &lit_text(lit), span),
            ExprKind::Var(id) => self.line(d, &format!("var {}", name(id)), span),
            ExprKind::Variant { path, payload } => {
                self.line(d, &format!("variant {}", path_text(path)), span);
                if let Some(p) = payload {
                    self.expr(d + 1, p);
                }
            }
            ExprKind::Field(base, field) => {
                self.line(d, &format!("field .{}", name(field)), span);
                self.expr(d + 1, base);
            }
            ExprKind::Index(base, key) => {
                self.line(d, "index", span);
                self.expr(d + 1, base);
                self.expr(d + 1, key);
            }
            ExprKind::Builtin { name: n, args } => {
                self.line(d, &format!("builtin {}", name(n)), span);
                self.exprs(d + 1, args);
            }
            ExprKind::Delegate { method, args } => {
                self.line(d, &format!("delegate {}", name(method)), span);
                self.exprs(d + 1, args);
            }
            ExprKind::Disallow(reason) => self.line(d, &format!("disallow {reason:?}"), span),
            ExprKind::Record { path, fields } => {
                self.line(d, &format!("record {}", path_text(path)), span);
                self.field_inits(d + 1, fields);
            }
            ExprKind::Tuple(items) => {
                self.line(d, "tuple", span);
                self.exprs(d + 1, items);
            }
            ExprKind::List(items) => {
                self.line(d, "list", span);
                self.exprs(d + 1, items);
            }
            ExprKind::Map(entries) => {
                self.line(d, "map", span);
                for (k, v) in entries {
                    self.expr(d + 1, k);
                    self.expr(d + 1, v);
                }
            }
            ExprKind::Unary(op, operand) => {
                let symbol = match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                };
                self.line(d, &format!("unary {symbol}"), span);
                self.expr(d + 1, operand);
            }
            ExprKind::Binary(op, lhs, rhs) => {
                self.line(d, &format!("binary {}", op.symbol()), span);
                self.expr(d + 1, lhs);
                self.expr(d + 1, rhs);
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.line(d, "if", span);
                self.expr(d + 1, cond);
                self.expr(d + 1, then);
                self.expr(d + 1, otherwise);
            }
            ExprKind::Match { scrutinee, arms } => {
                self.line(d, "match", span);
                self.expr(d + 1, scrutinee);
                for arm in arms {
                    self.line(d + 1, "arm", arm.span);
                    self.pattern(d + 2, &arm.pattern);
                    self.expr(d + 2, &arm.body);
                }
            }
            ExprKind::Let {
                name: n,
                value,
                body,
            } => {
                self.line(d, &format!("let {}", name(n)), span);
                self.expr(d + 1, value);
                self.expr(d + 1, body);
            }
            ExprKind::Closure { params, body } => {
                self.line(d, &format!("closure |{}|", names(params)), span);
                self.expr(d + 1, body);
            }
            ExprKind::Quant {
                kind,
                var,
                domain,
                body,
            } => {
                let word = kind.keyword();
                self.line(d, &format!("{word} {}", name(var)), span);
                self.expr(d + 1, domain);
                self.expr(d + 1, body);
            }
        }
    }

    fn pattern(&mut self, d: usize, p: &Pattern) {
        match &p.kind {
            PatternKind::Wildcard => self.line(d, "pattern _", p.span),
            PatternKind::None => self.line(d, "pattern none", p.span),
            PatternKind::Some(inner) => {
                self.line(d, "pattern some", p.span);
                self.pattern(d + 1, inner);
            }
            PatternKind::Lit(lit) => self.line(d, &format!("pattern {}", lit_text(lit)), p.span),
            PatternKind::NegInt(n) => self.line(d, &format!("pattern -{n}"), p.span),
            PatternKind::Variant { path, payload } => {
                self.line(d, &format!("pattern variant {}", path_text(path)), p.span);
                if let Some(inner) = payload {
                    self.pattern(d + 1, inner);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::FileId;

    fn print(text: &str) -> String {
        let parsed = crate::parse(FileId(0), text);
        assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
        print_spec(&parsed.spec.expect("a spec"))
    }

    #[test]
    fn prints_a_tiny_spec() {
        let text = "\
upgrade kv 1 -> 2
protocol jsonrpc { framing: lines }
version 1 {
  record Entry { key: string, pair: (u64, v1::E) }
  enum E { A, B(map<string, list<u64>>) }
  service Kv { fn get(key: string) -> option<string> fn ping() }
  state { n: u64 }
}
invariant (old, new) { -old.n <= !x[0] }
transform (old) -> new { n: E::B(1.5) }
past Kv {
  get(key) = (call get(key)).map(|i| i.value)
  ping() = match 3 { some(1) => \"a\\n\", none => true, _ => disallow \"no\", E::A(x) => (1, 2) }
}
future Kv {
  get(k) = let a = [1]; if a == [] { none } else { Item { value: forall x in a: x > 2 } }
}
schedule { rolling { batch: 1 } healthy_for: 5s canary: 1 then pause window: \"02:00\" .. \"04:00\" order: node_id note: \"x\" }
";
        // Spans are pinned exactly.
        let expected = "\
spec kv 1 -> 2 @0..17
  protocol jsonrpc {framing: lines} @18..53
  version 1 @54..244
    record Entry @68..116
      field key: string @83..94
      field pair: (u64, v1::E) @96..114
    enum E @119..158
      variant A @128..129
      variant B(map<string, list<u64>>) @131..156
    service Kv @161..223
      method get -> option<string> @174..211
        param key: string @181..192
      method ping @212..221
    state @226..242
      field n: u64 @234..240
  invariant (old, new) @245..285
    binary <= @268..283
      unary - @268..274
        field .n @269..274
          var old @269..272
      unary ! @278..283
        index @279..283
          var x @279..280
          int 0 @281..282
  transform (old) -> new @286..325
    init n @311..323
      variant E::B @314..323
        float 1.5 @319..322
  past Kv @326..476
    rule get(key) @338..381
      builtin map @349..381
        delegate get @349..364
          var key @359..362
        closure |i| @369..380
          field .value @373..380
            var i @373..374
    rule ping() @384..474
      match @393..474
        int 3 @399..400
        arm @403..419
          pattern some @403..410
            pattern int 1 @408..409
          str \"a\\n\" @414..419
        arm @421..433
          pattern none @421..425
          bool true @429..433
        arm @435..453
          pattern _ @435..436
          disallow \"no\" @440..453
        arm @455..472
          pattern variant E::A @455..462
            pattern variant x @460..461
          tuple @466..472
            int 1 @467..468
            int 2 @470..471
  future Kv @477..580
    rule get(k) @491..578
      let a @500..578
        list @508..511
          int 1 @509..510
        if @513..578
          binary == @516..523
            var a @516..517
            list @521..523
          none @524..532
          record Item @538..578
            init value @547..574
              forall x @554..574
                var a @566..567
                binary > @569..574
                  var x @569..570
                  int 2 @573..574
  schedule @581..703
    entry rolling @592..612
      block @600..612
        entry batch @602..610
          int 1 @609..610
    entry healthy_for @613..628
      duration 5000ms @626..628
    entry canary @629..649
      then pause @637..649
        int 1 @637..638
    entry window @650..676
      range \"02:00\" .. \"04:00\" @658..676
    entry order @677..691
      ident node_id @684..691
    entry note @692..701
      str \"x\" @698..701
";
        assert_eq!(print(text), expected);
    }

    #[test]
    fn writes_types_back_as_text() {
        let text = "upgrade t 1 -> 2 version 1 { state { a: (), b: (u64,), c: m<a::B, (x, y)> } }";
        let got = print(text);
        assert!(got.contains("field a: () @"), "{got}");
        assert!(got.contains("field b: (u64,) @"), "{got}");
        assert!(got.contains("field c: m<a::B, (x, y)> @"), "{got}");
    }

    #[test]
    fn a_transform_from_new_to_old_is_the_reverse_one() {
        let text = "upgrade t 1 -> 2\ntransform (old) -> new { a: old.a }\ntransform (new) -> old { a: new.a }\ntransform (o) -> n { a: o.a }";
        let parsed = crate::parse(FileId(0), text);
        let spec = parsed.spec.expect("a spec");
        let reverse: Vec<bool> = spec.all_transforms().map(|t| t.reverse).collect();
        assert_eq!(reverse, [false, true, false]);
        assert_eq!(spec.reverse_transforms().count(), 1);
        assert_eq!(spec.transforms().count(), 2);
        assert!(print(text).contains("reverse transform (new) -> old @"));
    }

    #[test]
    fn every_kind_of_name_in_the_reserved_namespace_is_refused() {
        let text = "upgrade __up_a 1 -> 2\n\
            version 1 { record __up_b { __up_c: u64 } enum __up_d { __up_e } \
            service __up_f { fn __up_g(__up_h: u64) } state { __up_i: u64 } }\n\
            invariant (__up_j, new) { let __up_k = 1; forall __up_l in [1]: (|__up_m| __up_m)(1) == __up_k }\n\
            past S { m(__up_n) = match __up_n { some(__up_o) => __up_o, _ => 0 } }";
        let parsed = crate::parse(FileId(0), text);
        let reserved: Vec<&str> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.code == crate::diagnostic::codes::RESERVED_NAME)
            .map(|d| d.message.as_str())
            .collect();
        let letters = "abcdefghijklmno";
        for c in letters.chars() {
            let want = format!("`__up_{c}` is a reserved name");
            assert!(
                reserved.iter().any(|m| *m == want),
                "{want} not in {reserved:?}"
            );
        }
        // Only the prefix is reserved.
        let fine = crate::parse(
            FileId(0),
            "upgrade up_a 1 -> 2\nversion 1 { state { _up_b: u64, x__up_c: u64 } }",
        );
        assert!(fine.diagnostics.is_empty(), "{:?}", fine.diagnostics);
    }
}
