//! Quick fixes. A method with no rule (`U0033`, `U0034`) gets two: a rule skeleton that calls
//! the other version's method of the same name (parameters of the same name passed on, an
//! optional one as `none`), and a rule that disallows the call. The rule goes into the
//! existing `past`/`future` block of the service, or a new block after the last rule block. A
//! rule for an unchanged method (`U0040`) can be removed; when it converts values, the
//! preferred fix declares the method `changed` in the new version instead.

use super::analysis::Analysis;
use compiler::model::{MethodDef, Ty};
use lang::ast::RuleKind;
use lang::diagnostic::{codes, Diagnostic};
use lang::span::Span;

/// A fix: a title and the text edits (byte span replaced by text) that make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<(Span, String)>,
    /// The diagnostic it fixes.
    pub fixes: Diagnostic,
    pub preferred: bool,
}

/// The fixes for the diagnostics whose primary span meets `range`.
pub fn fixes(a: &Analysis, range: Span) -> Vec<Fix> {
    let meets = |s: Span| s.start <= range.end && range.start <= s.end;
    let mut out = Vec::new();
    for d in a.diagnostics.iter().filter(|d| meets(d.primary.span)) {
        match d.code {
            codes::MISSING_PAST_RULE => missing_rule(a, d, RuleKind::Past, &mut out),
            codes::MISSING_FUTURE_RULE => missing_rule(a, d, RuleKind::Future, &mut out),
            codes::UNNEEDED_RULE => remove_rule(a, d, &mut out),
            _ => {}
        }
    }
    out
}

fn missing_rule(a: &Analysis, d: &Diagnostic, kind: RuleKind, out: &mut Vec<Fix>) {
    let Some(model) = a.model.as_ref() else {
        return;
    };
    let (simulated, reachable) = match kind {
        RuleKind::Past => (&model.old, &model.new),
        RuleKind::Future => (&model.new, &model.old),
    };
    // The method the diagnostic is about: its name is the primary span.
    let Some((service, method)) = simulated.services.values().find_map(|s| {
        s.methods
            .iter()
            .find(|m| m.name.span == d.primary.span)
            .map(|m| (s.name.name.clone(), m))
    }) else {
        return;
    };
    // Names as a spec writes them (`r#in` for a keyword).
    let params: Vec<_> = method.params.iter().map(|p| p.name.written()).collect();
    let head = format!("{}({})", method.name.written(), params.join(", "));
    let kw = kind.keyword();
    // The same method of the other version, under its name there (`renamed from`).
    if let Some(target) = model
        .counterpart(simulated.number, &service, &method.name.name)
        .filter(|_| reachable.services.contains_key(&service))
    {
        let body = format!(
            "call {}({})",
            target.name.written(),
            delegate_args(method, target).join(", ")
        );
        out.push(Fix {
            title: format!(
                "Add a `{kw}` rule for `{service}.{}` that calls version {}'s",
                method.name.name, reachable.number
            ),
            edits: insert_rule(a, kind, &service, &format!("{head} = {body}")),
            fixes: d.clone(),
            preferred: kind == RuleKind::Past,
        });
    }
    let reason = match kind {
        RuleKind::Past => format!(
            "{} is not available on version {} nodes",
            method.name.name, reachable.number
        ),
        RuleKind::Future => format!("{} needs version {}", method.name.name, simulated.number),
    };
    out.push(Fix {
        title: format!(
            "Disallow `{service}.{}` for version-{} callers",
            method.name.name, simulated.number
        ),
        edits: insert_rule(
            a,
            kind,
            &service,
            &format!("{head} = disallow {}", upstart_fmt::escape(&reason)),
        ),
        fixes: d.clone(),
        preferred: kind == RuleKind::Future,
    });
}

/// The arguments for `call target(...)` from a rule for `method`: a parameter of the same
/// name, `none` for a missing optional one, else the parameter's name (for the user to bind).
fn delegate_args(method: &MethodDef, target: &MethodDef) -> Vec<String> {
    target
        .params
        .iter()
        .map(|p| {
            if matches!(p.ty, Ty::Option(_))
                && !method.params.iter().any(|q| q.name.name == p.name.name)
            {
                "none".to_string()
            } else {
                p.name.written().into_owned()
            }
        })
        .collect()
}

/// Edits that add `rule` to the `kind` block of `service`, creating the block if needed.
fn insert_rule(a: &Analysis, kind: RuleKind, service: &str, rule: &str) -> Vec<(Span, String)> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    let text = a.text.as_str();
    if let Some(block) = model
        .spec
        .rule_blocks()
        .find(|b| b.kind == kind && b.service.name == service)
    {
        let close = block.span.end.saturating_sub(1);
        let indent = block
            .rules
            .first()
            .map_or_else(|| "  ".to_string(), |r| indentation(text, r.span.start));
        let line_start = text
            .get(..close)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |p| p + 1);
        let only_space_before = text
            .get(line_start..close)
            .is_some_and(|s| s.trim().is_empty());
        return if only_space_before {
            vec![(
                Span::new(line_start, line_start),
                format!("{indent}{rule}\n"),
            )]
        } else {
            vec![(Span::new(close, close), format!("\n{indent}{rule}\n"))]
        };
    }
    let block = format!(
        "{} {} {{\n  {rule}\n}}\n",
        kind.keyword(),
        lang::ast::written_name(service)
    );
    match model.spec.rule_blocks().last() {
        Some(last) => vec![(
            Span::new(last.span.end, last.span.end),
            format!("\n\n{}", block.trim_end()),
        )],
        None => {
            let sep = if text.ends_with("\n\n") || text.is_empty() {
                ""
            } else if text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            vec![(Span::new(text.len(), text.len()), format!("{sep}{block}"))]
        }
    }
}

/// The whitespace that starts the line holding `pos`.
fn indentation(text: &str, pos: usize) -> String {
    let line_start = text
        .get(..pos)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |p| p + 1);
    text.get(line_start..pos).map_or(String::new(), |s| {
        s.chars().take_while(|c| c.is_whitespace()).collect()
    })
}

fn remove_rule(a: &Analysis, d: &Diagnostic, out: &mut Vec<Fix>) {
    let Some(model) = a.model.as_ref() else {
        return;
    };
    let text = a.text.as_str();
    let Some(rule) = model
        .spec
        .rule_blocks()
        .flat_map(|b| b.rules.iter())
        .find(|r| r.method.span == d.primary.span)
    else {
        return;
    };
    // The whole lines of the rule when it has them to itself.
    let line_start = text
        .get(..rule.span.start)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |p| p + 1);
    let alone_before = text
        .get(line_start..rule.span.start)
        .is_some_and(|s| s.trim().is_empty());
    let rest = text.get(rule.span.end..).unwrap_or("");
    let line_end = rest
        .find('\n')
        .map_or(text.len(), |p| rule.span.end + p + 1);
    let alone_after = text
        .get(rule.span.end..line_end)
        .is_some_and(|s| s.trim().is_empty());
    let span = if alone_before && alone_after {
        Span::new(line_start, line_end)
    } else {
        rule.span
    };
    // A rule that converts values says the meaning changed: keep it, and say so.
    let Some(block) = model
        .spec
        .rule_blocks()
        .find(|b| b.rules.iter().any(|r| r.span == rule.span))
    else {
        return;
    };
    let (service, name) = (block.service.name.as_str(), rule.method.name.as_str());
    // The new version's declaration, and the name the rule's `call` would pass the call on to
    // (they differ from the rule's own name across a `renamed from`).
    let (declaration, target) = match block.kind {
        RuleKind::Past => {
            let new = model.counterpart(model.old.number, service, name);
            (new, new)
        }
        RuleKind::Future => (
            model.new.method(service, name),
            model.counterpart(model.new.number, service, name),
        ),
    };
    let target = target.map_or(name, |m| m.name.name.as_str());
    let converts = !rule.forwards(target);
    if let Some(m) = declaration.filter(|_| converts) {
        out.push(Fix {
            title: format!(
                "Declare `{}` changed in version {}",
                rule.method.name, model.new.number
            ),
            edits: vec![(
                Span::new(m.span.start, m.span.start),
                "changed ".to_string(),
            )],
            fixes: d.clone(),
            preferred: true,
        });
    }
    out.push(Fix {
        title: format!("Remove the rule for `{}`", rule.method.name),
        edits: vec![(span, String::new())],
        fixes: d.clone(),
        preferred: !converts,
    });
}
