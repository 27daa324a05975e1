//! Completion inside a `past`/`future` block: the simulated service's methods at the start of
//! a rule (those missing a rule first), the reachable version's methods after `call`, the
//! rule's parameters in its body, and warning names in `#[allow(...)]`.

use super::context::Context;
use super::expression::expression_completions;
use super::items::item;
use super::Request;
use crate::analysis::Analysis;
use crate::hover::{signature, ty_text};
use lang::ast::RuleKind;
use lang::diagnostic::codes;
use lsp_types::{CompletionItem, CompletionItemKind};

/// Inside a rule's `#[allow(...)]`: the names of the warnings, with code and summary.
pub(super) fn allow_completions() -> Vec<CompletionItem> {
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

/// Inside a rule's `#[differs(...)]`: the fields of the records of the version the block's
/// rules simulate (the answer's records among them).
pub(super) fn differs_completions(a: &Analysis, kind: RuleKind) -> Vec<CompletionItem> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    let env = match kind {
        RuleKind::Past => &model.old,
        RuleKind::Future => &model.new,
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for r in env.records.values() {
        for f in &r.fields {
            if seen.insert(f.name.name.clone()) {
                out.push(item(
                    &f.name.name,
                    CompletionItemKind::FIELD,
                    Some(format!(
                        "field of `{}`: the answer may differ in it",
                        r.name.name
                    )),
                ));
            }
        }
    }
    out
}

pub(super) fn rule_completions(
    at: Request<'_>,
    cx: &Context<'_>,
    kind: RuleKind,
    service: &str,
) -> Vec<CompletionItem> {
    let Request {
        analysis: a,
        previous,
        offset,
    } = at;
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
    let mut out = expression_completions(at, cx);
    if cx.prev != Some(".") && cx.prev != Some("::") {
        // The rule's parameters.
        if let Some(rule) = model
            .spec
            .rule_blocks()
            .filter(|b| b.kind == kind && b.service.name == service)
            .flat_map(|b| b.rules.iter())
            .find(|r| r.span.start <= offset && offset <= r.span.end)
        {
            let method = simulated.method(service, &rule.method.name);
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
