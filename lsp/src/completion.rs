//! Completion. The text around the cursor rarely parses while one types, so the context is
//! read from tokens: which top-level item the cursor is in, the brackets open around it, and
//! the token before the word being typed. The checked model (of what parses) supplies the
//! names: types of a version, methods of a service, state fields, fields of a receiver.
//!
//! - in a version block, after `:`, `->`, `<` (and in tuple types): type names;
//! - at the start of a rule in a `past`/`future` block: the simulated service's methods, those
//!   still missing a rule first, inserted with their parameters (`put(key, value) = `);
//! - after `call`: the methods of the version `call` reaches;
//! - in a rule's `#[allow(...)]`: the names of the warnings;
//! - in an expression: built-ins, variables in scope, keywords, record and enum names;
//! - after `.`: built-ins in method form, and the receiver's fields when its type is known;
//! - after `Enum::`: its variants; in a transform: the new state's fields; in a schedule: its
//!   settings and values; between items: item keywords.

use super::analysis::Analysis;
use super::hover::{signature, ty_text};
use compiler::builtins::BUILTINS;
use compiler::model::{Ty, VersionEnv};
use lang::ast::{Expr, Item, RuleKind};
use lang::diagnostic::codes;
use lang::incremental::regions;
use lang::lex::{tokens, Token, TokenKind};
use lsp_types::{CompletionItem, CompletionItemKind};

use lang::parse::ITEM_KEYWORDS;
const DECL_KEYWORDS: &[&str] = &["record", "enum", "service", "state"];
const EXPR_KEYWORDS: &[&str] = &[
    "call", "disallow", "if", "else", "match", "let", "forall", "exists", "none", "true", "false",
];
const SCHEDULE_KEYS: &[&str] = &[
    "rolling",
    "all_at_once",
    "order",
    "healthy_for",
    "timeout",
    "canary",
    "window",
    "after",
];
const BUILTIN_TYPES: &[&str] = &[
    "bool", "i64", "u64", "f64", "string", "bytes", "unit", "option", "list", "set", "map",
];

/// Completions at byte `offset`. `previous` is an earlier analysis of the same document whose
/// text agreed up to the cursor's line, used for the types of receivers that no longer parse.
/// A declared name that is a keyword (a method `r#in`, a field `r#match`) is inserted with its
/// escape, as a spec writes it.
pub fn completion(a: &Analysis, previous: Option<&Analysis>, offset: usize) -> Vec<CompletionItem> {
    let mut items = completion_items(a, previous, offset);
    for it in &mut items {
        let written = lang::ast::written_name(&it.label);
        if it.kind != Some(CompletionItemKind::KEYWORD)
            && it.insert_text.is_none()
            && written != it.label.as_str()
        {
            it.insert_text = Some(written.into_owned());
        }
    }
    items
}

fn completion_items(
    a: &Analysis,
    previous: Option<&Analysis>,
    offset: usize,
) -> Vec<CompletionItem> {
    let text = a.text.as_str();
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let mut word_start = offset;
    while word_start > 0
        && bytes
            .get(word_start - 1)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        word_start -= 1;
    }
    let all = regions(text);
    let Some(region) = all.iter().rev().find(|r| r.start <= word_start) else {
        return keywords(ITEM_KEYWORDS.iter().chain(["upgrade"].iter()));
    };
    let region_text = text
        .get(region.start..region.end.max(word_start))
        .unwrap_or("");
    let toks: Vec<Token> = tokens(region_text)
        .into_iter()
        .map(|t| Token {
            start: t.start + region.start,
            end: t.end + region.start,
            ..t
        })
        .collect();
    // Inside a comment or a string: nothing.
    if toks.iter().any(|t| {
        matches!(
            t.kind,
            TokenKind::LineComment | TokenKind::BlockComment | TokenKind::Str
        ) && t.start < word_start
            && word_start < t.end
            || t.kind == TokenKind::LineComment && t.start < word_start && word_start <= t.end
    }) {
        return Vec::new();
    }
    let before: Vec<&Token> = toks
        .iter()
        .filter(|t| !t.is_comment() && t.end <= word_start)
        .collect();
    let tok = |t: &Token| t.text(text);
    let Some(first) = before.first() else {
        // Typing the item keyword itself.
        return keywords(ITEM_KEYWORDS.iter());
    };
    let cx = Context::new(text, &before, word_start);
    match tok(first) {
        "version" => {
            let v = before
                .get(1)
                .and_then(|t| tok(t).parse::<u64>().ok())
                .unwrap_or(0);
            // In a method model: after `.` (types have none), after `=` in a service, or
            // anywhere inside a model the checked text has.
            let model_of = model_at(a, v, word_start);
            let in_model = cx.prev == Some(".")
                || (cx.prev == Some("=") && before.iter().any(|t| tok(t) == "fn"))
                || model_of.is_some();
            if in_model {
                let mut out = expression_completions(a, previous, &cx, offset);
                if let Some((method, has_state)) =
                    model_of.filter(|_| !matches!(cx.prev, Some("." | "::")))
                {
                    for p in &method.params {
                        out.push(item(
                            &p.name.name,
                            CompletionItemKind::VARIABLE,
                            Some(ty_text(&p.ty, v)),
                        ));
                    }
                    if has_state {
                        out.push(item(
                            compiler::model::STATE_VAR,
                            CompletionItemKind::VARIABLE,
                            Some(format!("the state of version {v}")),
                        ));
                    }
                }
                out
            } else {
                version_completions(a, &cx, v, region_text)
            }
        }
        "past" | "future" => {
            let kind = if tok(first) == "past" {
                RuleKind::Past
            } else {
                RuleKind::Future
            };
            let service = before.get(1).map(|t| tok(t)).unwrap_or("");
            if matches!(cx.top(), Some(("(", Some("allow"), Some("[")))) {
                allow_completions()
            } else {
                rule_completions(a, previous, &cx, kind, service, offset)
            }
        }
        "invariant" | "transform" => {
            state_item_completions(a, previous, &cx, tok(first), &before, offset)
        }
        "schedule" => schedule_completions(&cx),
        "protocol" => match cx.prev {
            Some("protocol") => keywords(["jsonrpc"].iter()),
            Some("{" | ",") => keywords(["framing"].iter()),
            Some(":") => keywords(["lines", "length"].iter()),
            _ => Vec::new(),
        },
        _ => {
            if cx.depth == 0 {
                keywords(ITEM_KEYWORDS.iter())
            } else {
                Vec::new()
            }
        }
    }
}

/// The method of version `v` whose model holds byte `at`, and whether the version has a state.
fn model_at(a: &Analysis, v: u64, at: usize) -> Option<(&compiler::model::MethodDef, bool)> {
    let env = a.env(v)?;
    let method = env.services.values().flat_map(|s| &s.methods).find(|m| {
        m.model
            .as_ref()
            .is_some_and(|mm| mm.span.start <= at && at <= mm.span.end)
    })?;
    Some((method, env.state.is_some()))
}

/// What surrounds the word being typed.
struct Context<'t> {
    /// The token before the word.
    prev: Option<&'t str>,
    /// The token before that.
    prev2: Option<&'t str>,
    /// Open brackets, innermost last, each with the two tokens before it.
    open: Vec<(&'t str, Option<&'t str>, Option<&'t str>)>,
    depth: usize,
    /// The word starts its line.
    line_start: bool,
}

impl<'t> Context<'t> {
    fn new(text: &'t str, before: &[&Token], word_start: usize) -> Self {
        let tok = |t: &Token| t.text(text);
        let mut open: Vec<(&str, Option<&str>, Option<&str>)> = Vec::new();
        for (i, t) in before.iter().enumerate() {
            let s = tok(t);
            let back = |n: usize| i.checked_sub(n).and_then(|j| before.get(j)).map(|t| tok(t));
            match s {
                "{" | "(" | "[" => open.push((s, back(1), back(2))),
                "}" | ")" | "]" => {
                    open.pop();
                }
                _ => {}
            }
        }
        let line_start = text
            .get(..word_start)
            .and_then(|s| s.rsplit('\n').next())
            .is_some_and(|l| l.trim().is_empty());
        let n = before.len();
        Context {
            prev: n.checked_sub(1).and_then(|i| before.get(i)).map(|t| tok(t)),
            prev2: n.checked_sub(2).and_then(|i| before.get(i)).map(|t| tok(t)),
            depth: open.len(),
            open,
            line_start,
        }
    }

    /// The word starts a new element of the innermost block: after its `{`, or at the start of
    /// a line after something that ends an element.
    fn at_element_start(&self) -> bool {
        match self.prev {
            None | Some("{" | "}" | ";" | ",") => true,
            Some(p) => self.line_start && !is_continuation(p),
        }
    }

    /// What opened the innermost bracket: `(bracket, token before, token before that)`.
    fn top(&self) -> Option<(&'t str, Option<&'t str>, Option<&'t str>)> {
        self.open.last().copied()
    }
}

/// A token after which an expression goes on.
fn is_continuation(tok: &str) -> bool {
    let ends_something = tok == ")"
        || tok == "]"
        || tok == "}"
        || tok.starts_with('"')
        || tok.chars().all(|c| c.is_alphanumeric() || c == '_');
    !ends_something
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    }
}

fn keywords<'a>(words: impl Iterator<Item = &'a &'a str>) -> Vec<CompletionItem> {
    words
        .map(|w| item(w, CompletionItemKind::KEYWORD, None))
        .collect()
}

fn type_names(env: Option<&VersionEnv>, qualify: Option<u64>) -> Vec<CompletionItem> {
    let Some(env) = env else { return Vec::new() };
    let name = |n: &str| match qualify {
        Some(v) => format!("v{v}::{n}"),
        None => n.to_string(),
    };
    let records = env.records.keys().map(|n| {
        item(
            &name(n),
            CompletionItemKind::STRUCT,
            Some(format!("record of version {}", env.number)),
        )
    });
    let enums = env.enums.keys().map(|n| {
        item(
            &name(n),
            CompletionItemKind::ENUM,
            Some(format!("enum of version {}", env.number)),
        )
    });
    records.chain(enums).collect()
}

fn version_completions(
    a: &Analysis,
    cx: &Context<'_>,
    v: u64,
    region_text: &str,
) -> Vec<CompletionItem> {
    let in_type = matches!(cx.prev, Some(":" | "->" | "<"))
        || (cx.prev == Some(",")
            && (is_angle_open(region_text, cx)
                || matches!(cx.top(), Some(("(", Some(":" | "->" | "<" | ","), _)))))
        || (cx.prev == Some("(") && matches!(cx.prev2, Some(":" | "->" | "<" | ",")));
    if in_type {
        let mut out: Vec<CompletionItem> = BUILTIN_TYPES
            .iter()
            .map(|t| {
                item(
                    t,
                    CompletionItemKind::TYPE_PARAMETER,
                    Some("built-in type".to_string()),
                )
            })
            .collect();
        let mut local = type_names(a.env(v), None);
        // Declarations of this version that do not parse yet are still worth offering.
        for (kw, name) in declared_types(region_text) {
            if !local.iter().any(|i| i.label == name) {
                let kind = if kw == "record" {
                    CompletionItemKind::STRUCT
                } else {
                    CompletionItemKind::ENUM
                };
                local.push(item(&name, kind, Some(format!("{kw} of version {v}"))));
            }
        }
        out.extend(local);
        return out;
    }
    match cx.top() {
        Some(("{", Some(n), Some("version")))
            if n.parse::<u64>().is_ok() && cx.at_element_start() =>
        {
            keywords(DECL_KEYWORDS.iter())
        }
        Some(("{", Some(_), Some("service"))) if cx.at_element_start() => {
            keywords(["fn", "changed"].iter())
        }
        _ => Vec::new(),
    }
}

/// Whether the innermost unclosed `<` is after the innermost open bracket (a type argument).
fn is_angle_open(region_text: &str, _cx: &Context<'_>) -> bool {
    let mut depth = 0i64;
    for t in tokens(region_text).iter().filter(|t| !t.is_comment()) {
        match t.text(region_text) {
            "<" => depth += 1,
            ">" => depth -= 1,
            "{" | "}" | ";" => depth = 0,
            _ => {}
        }
    }
    depth > 0
}

/// `record X` and `enum X` written in a region, parsed or not.
fn declared_types(region_text: &str) -> Vec<(String, String)> {
    let toks: Vec<Token> = tokens(region_text)
        .into_iter()
        .filter(|t| !t.is_comment())
        .collect();
    toks.windows(2)
        .filter_map(|w| {
            let (a, b) = (w.first()?, w.get(1)?);
            let kw = a.text(region_text);
            (matches!(kw, "record" | "enum") && b.kind == TokenKind::Word)
                .then(|| (kw.to_string(), b.text(region_text).to_string()))
        })
        .collect()
}

/// Inside a rule's `#[allow(...)]`: the names of the warnings, with code and summary.
fn allow_completions() -> Vec<CompletionItem> {
    lang::diagnostic::codes::ALL
        .iter()
        .filter(|i| i.allowable())
        .map(|i| {
            item(
                i.name,
                CompletionItemKind::CONSTANT,
                Some(format!("{}: {}", i.code, i.summary)),
            )
        })
        .collect()
}

fn rule_completions(
    a: &Analysis,
    previous: Option<&Analysis>,
    cx: &Context<'_>,
    kind: RuleKind,
    service: &str,
    offset: usize,
) -> Vec<CompletionItem> {
    // The versions as last seen declaring the service (the version blocks may be mid-edit).
    let declares = |x: &&Analysis| {
        x.model.as_ref().is_some_and(|m| {
            m.old.services.contains_key(service) || m.new.services.contains_key(service)
        })
    };
    let Some(model) = [Some(a), previous]
        .into_iter()
        .flatten()
        .find(declares)
        .or(Some(a))
        .and_then(|x| x.model.as_ref())
    else {
        return Vec::new();
    };
    let (simulated, reachable) = match kind {
        RuleKind::Past => (&model.old, &model.new),
        RuleKind::Future => (&model.new, &model.old),
    };
    if cx.depth == 1 && cx.at_element_start() {
        let Some(svc) = simulated.services.get(service) else {
            return Vec::new();
        };
        // Which methods lack a rule: from this analysis, or while the text does not parse,
        // the last one that did (by name: its spans may have moved).
        let checked = if a.syntax_ok { Some(a) } else { previous };
        let missing = |m: &compiler::model::MethodDef| {
            checked.is_some_and(|c| {
                c.diagnostics.iter().any(|d| {
                    matches!(
                        d.code,
                        codes::MISSING_PAST_RULE | codes::MISSING_FUTURE_RULE
                    ) && c.text.get(d.primary.span.start..d.primary.span.end)
                        == Some(m.name.written().as_ref())
                        && (d.code == codes::MISSING_PAST_RULE) == (kind == RuleKind::Past)
                })
            })
        };
        return svc
            .methods
            .iter()
            .map(|m| {
                let params: Vec<_> = m.params.iter().map(|p| p.name.written()).collect();
                let needs = missing(m);
                let mut it = item(
                    &m.name.name,
                    CompletionItemKind::METHOD,
                    Some(signature(m, simulated.number)),
                );
                it.insert_text = Some(format!("{}({}) = ", m.name.written(), params.join(", ")));
                it.sort_text = Some(format!("{}{}", if needs { "0" } else { "1" }, m.name.name));
                it.label_details = needs.then(|| lsp_types::CompletionItemLabelDetails {
                    detail: None,
                    description: Some("needs a rule".to_string()),
                });
                it
            })
            .collect();
    }
    if cx.prev == Some("call") {
        let Some(svc) = reachable.services.get(service) else {
            return Vec::new();
        };
        return svc
            .methods
            .iter()
            .map(|m| {
                item(
                    &m.name.name,
                    CompletionItemKind::METHOD,
                    Some(format!(
                        "version {}: {}",
                        reachable.number,
                        signature(m, reachable.number)
                    )),
                )
            })
            .collect();
    }
    let mut out = expression_completions(a, previous, cx, offset);
    if cx.prev != Some(".") && cx.prev != Some("::") {
        // The rule's parameters.
        if let Some(rule) = model
            .spec
            .rule_blocks()
            .filter(|b| b.kind == kind && b.service.name == service)
            .flat_map(|b| b.rules.iter())
            .find(|r| r.span.start <= offset && offset <= r.span.end)
        {
            let method = simulated
                .services
                .get(service)
                .and_then(|s| s.method(&rule.method.name));
            for (i, p) in rule.params.iter().enumerate() {
                let ty = method
                    .and_then(|m| m.params.get(i))
                    .map(|f| ty_text(&f.ty, simulated.number));
                out.push(item(&p.name, CompletionItemKind::VARIABLE, ty));
            }
        }
    }
    out
}

fn state_item_completions(
    a: &Analysis,
    previous: Option<&Analysis>,
    cx: &Context<'_>,
    keyword: &str,
    before: &[&Token],
    offset: usize,
) -> Vec<CompletionItem> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    let text = a.text.as_str();
    // The names bound in the header: `invariant (old, new)`, `transform (old) -> new`.
    let header: Vec<&str> = before
        .iter()
        .take_while(|t| t.text(text) != "{")
        .filter(|t| t.kind == TokenKind::Word)
        .skip(1)
        .map(|t| t.text(text))
        .collect();
    // `transform (new) -> old`: reads the new state and assigns the old one.
    let reverse = keyword == "transform"
        && matches!(header.as_slice(), [p, r, ..] if lang::ast::Transform::is_reverse_header(p, r));
    let (read, given) = if reverse {
        (&model.new, &model.old)
    } else {
        (&model.old, &model.new)
    };
    if keyword == "transform" && cx.depth == 1 && cx.at_element_start() {
        let assigned: Vec<&str> = model
            .spec
            .all_transforms()
            .filter(|t| t.reverse == reverse)
            .flat_map(|t| t.fields.iter())
            .map(|f| f.name.name.as_str())
            .collect();
        return given
            .state
            .iter()
            .flat_map(|s| s.fields.iter())
            .filter(|f| !assigned.contains(&f.name.name.as_str()))
            .map(|f| {
                let mut it = item(
                    &f.name.name,
                    CompletionItemKind::FIELD,
                    Some(ty_text(&f.ty, given.number)),
                );
                it.insert_text = Some(format!("{}: ", f.name.name));
                it
            })
            .collect();
    }
    if cx.prev == Some(".") {
        // `old.` / `new.`: the state's fields.
        let receiver = cx.prev2.unwrap_or("");
        let version = match (keyword, header.as_slice()) {
            ("invariant", [o, n, ..]) if receiver == *o || receiver == *n => {
                Some(if receiver == *o {
                    model.old.number
                } else {
                    model.new.number
                })
            }
            ("transform", [o, ..]) if receiver == *o => Some(read.number),
            _ => None,
        };
        if let Some(v) = version {
            let env = if v == model.old.number {
                &model.old
            } else {
                &model.new
            };
            let mut out: Vec<CompletionItem> = env
                .state
                .iter()
                .flat_map(|s| s.fields.iter())
                .map(|f| {
                    item(
                        &f.name.name,
                        CompletionItemKind::FIELD,
                        Some(ty_text(&f.ty, v)),
                    )
                })
                .collect();
            out.extend(method_builtins());
            return out;
        }
    }
    let mut out = expression_completions(a, previous, cx, offset);
    if cx.prev != Some(".") && cx.prev != Some("::") {
        let bound = if keyword == "invariant" {
            header.len().min(2)
        } else {
            header.len().min(1)
        };
        for (i, name) in header.iter().take(bound).enumerate() {
            let v = if i == 0 {
                model.old.number
            } else {
                model.new.number
            };
            out.push(item(
                name,
                CompletionItemKind::VARIABLE,
                Some(format!("state of version {v}")),
            ));
        }
    }
    out
}

fn schedule_completions(cx: &Context<'_>) -> Vec<CompletionItem> {
    match (cx.prev, cx.prev2) {
        (Some(":"), Some("order")) => keywords(["node_id", "reverse_node_id", "random"].iter()),
        (Some("then"), _) => keywords(["pause", "continue"].iter()),
        _ if cx.at_element_start() => match cx.top() {
            Some(("{", Some("rolling"), _)) => keywords(["batch", "max_unavailable"].iter()),
            Some(("{", Some("schedule"), _)) => keywords(SCHEDULE_KEYS.iter()),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The spec's helper functions, with their signatures.
fn helper_functions(a: &Analysis, kind: CompletionItemKind) -> Vec<CompletionItem> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    model
        .functions
        .values()
        .map(|f| {
            let params: Vec<String> = f
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name.name, ty_text(&p.ty, model.new.number)))
                .collect();
            let sig = format!(
                "fn {}({}) -> {}",
                f.name.name,
                params.join(", "),
                ty_text(&f.ret, model.new.number)
            );
            item(&f.name.name, kind, Some(sig))
        })
        .collect()
}

fn method_builtins() -> Vec<CompletionItem> {
    BUILTINS
        .iter()
        .map(|b| {
            let mut it = item(
                b.name,
                CompletionItemKind::METHOD,
                Some(b.signature.to_string()),
            );
            it.documentation = Some(lsp_types::Documentation::String(b.doc.to_string()));
            it
        })
        .collect()
}

/// In an expression: after `.`, built-ins as methods and the receiver's fields; after `E::`,
/// variants (or a version's types after `v2::`); else built-ins, keywords and type names.
fn expression_completions(
    a: &Analysis,
    previous: Option<&Analysis>,
    cx: &Context<'_>,
    offset: usize,
) -> Vec<CompletionItem> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    match cx.prev {
        Some(".") => {
            let mut out = receiver_fields(a, previous, offset);
            out.extend(method_builtins());
            out.extend(helper_functions(a, CompletionItemKind::METHOD));
            out
        }
        Some("::") => {
            let qualifier = cx.prev2.unwrap_or("");
            if let Some(v) = super::locate::version_prefix(qualifier) {
                return type_names(a.env(v), None);
            }
            [&model.new, &model.old]
                .into_iter()
                .filter_map(|env| env.enums.get(qualifier).map(|e| (env.number, e)))
                .take(1)
                .flat_map(|(v, e)| {
                    e.variants.iter().map(move |var| {
                        let detail = var.payload.as_ref().map(|t| format!("({})", ty_text(t, v)));
                        item(&var.name.name, CompletionItemKind::ENUM_MEMBER, detail)
                    })
                })
                .collect()
        }
        _ => {
            let mut out: Vec<CompletionItem> = BUILTINS
                .iter()
                .map(|b| {
                    let mut it = item(
                        b.name,
                        CompletionItemKind::FUNCTION,
                        Some(b.signature.to_string()),
                    );
                    it.documentation = Some(lsp_types::Documentation::String(b.doc.to_string()));
                    it
                })
                .collect();
            out.extend(helper_functions(a, CompletionItemKind::FUNCTION));
            out.extend(keywords(EXPR_KEYWORDS.iter()));
            for env in [&model.old, &model.new] {
                let other = if env.number == model.old.number {
                    &model.new
                } else {
                    &model.old
                };
                let clash = |n: &str| other.defines_type(n);
                for it in type_names(Some(env), None) {
                    if clash(&it.label) {
                        // A name both versions declare is written qualified.
                        out.extend(
                            type_names(Some(env), Some(env.number))
                                .into_iter()
                                .filter(|q| q.label.ends_with(&format!("::{}", it.label))),
                        );
                    } else {
                        out.push(it);
                    }
                }
            }
            out
        }
    }
}

/// The fields of the expression just before the `.` at the cursor, from this analysis or,
/// when the text there does not parse any more, from an earlier one that agrees up to it.
fn receiver_fields(
    a: &Analysis,
    previous: Option<&Analysis>,
    offset: usize,
) -> Vec<CompletionItem> {
    let text = a.text.as_bytes();
    let mut dot = offset;
    while dot > 0
        && text
            .get(dot - 1)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        dot -= 1;
    }
    let dot = dot.saturating_sub(1);
    for candidate in [Some(a), previous].into_iter().flatten() {
        let agrees = candidate.text.as_bytes().get(..dot) == text.get(..dot);
        let Some(model) = candidate.model.as_ref().filter(|_| agrees) else {
            continue;
        };
        let mut found = None;
        for item in &model.spec.items {
            if item.span().start > dot || item.span().end < dot {
                continue;
            }
            // Outer expressions come first: the last one ending at the dot is the innermost.
            each_expr(item, &mut |e| {
                if e.span.end == dot {
                    found = Some(model.type_of(e).clone());
                }
            });
        }
        let fields: Vec<CompletionItem> = match found {
            Some(Ty::Named(r)) => {
                let env = [&model.old, &model.new]
                    .into_iter()
                    .find(|e| e.number == r.version);
                env.and_then(|e| e.records.get(&r.name))
                    .map(|rec| {
                        rec.fields
                            .iter()
                            .map(|f| {
                                item(
                                    &f.name.name,
                                    CompletionItemKind::FIELD,
                                    Some(ty_text(&f.ty, r.version)),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Some(Ty::State(v)) => {
                let env = [&model.old, &model.new].into_iter().find(|e| e.number == v);
                env.and_then(|e| e.state.as_ref())
                    .map(|s| {
                        s.fields
                            .iter()
                            .map(|f| {
                                item(
                                    &f.name.name,
                                    CompletionItemKind::FIELD,
                                    Some(ty_text(&f.ty, v)),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        if !fields.is_empty() {
            return fields;
        }
    }
    Vec::new()
}

/// Every expression of an item.
fn each_expr<'a>(item: &'a Item, f: &mut dyn FnMut(&'a Expr)) {
    for e in item.root_exprs() {
        super::locate::visit(e, f);
    }
}
