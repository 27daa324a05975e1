//! The manifest a plugin embeds (`upstart_abi::manifest::Manifest`), built at code generation
//! time from the checked model, and the spec's content hash.

use super::rules::{find_rule, sides};
use super::types::Types;
use crate::model::{Framing, VersionEnv};
use lang::ast::{ExprKind, RuleKind, SchedEntry, SchedValueKind};
use sha2::{Digest, Sha256};
use upstart_abi::manifest::{Disallowed, Manifest, MethodSig, ServiceSig};

/// sha-256 of the spec text, lowercase hex.
pub fn spec_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn manifest(types: &Types<'_>, spec_text: &str) -> Manifest {
    let model = types.model;
    let mut past = Vec::new();
    let mut future = Vec::new();
    let mut disallowed = Vec::new();
    let (mut past_one_call, mut future_one_call) = (Vec::new(), Vec::new());
    for kind in [RuleKind::Past, RuleKind::Future] {
        let (simulated, _) = sides(types, kind);
        for service in simulated.services.values() {
            for m in &service.methods {
                let (s, n) = (&service.name.name, &m.name.name);
                let full = format!("{s}.{n}");
                let rule = find_rule(types, kind, s, n);
                // Without a rule, dispatch passes the call on: one call.
                if rule.is_none_or(|r| super::calls::at_most_one(&r.body)) {
                    match kind {
                        RuleKind::Past => past_one_call.push(full.clone()),
                        RuleKind::Future => future_one_call.push(full.clone()),
                    }
                }
                let Some(rule) = rule else {
                    // The plugin passes the call through under another name or converts its
                    // values: a host must run it (it runs only the listed methods).
                    if passes_translated(model, kind, s, n) {
                        match kind {
                            RuleKind::Past => past.push(full),
                            RuleKind::Future => future.push(full),
                        }
                    }
                    continue;
                };
                if let ExprKind::Disallow(reason) = &rule.body.kind {
                    disallowed.push(Disallowed {
                        direction: kind.keyword().to_string(),
                        method: full.clone(),
                        reason: reason.clone(),
                    });
                }
                match kind {
                    RuleKind::Past => past.push(full),
                    RuleKind::Future => future.push(full),
                }
            }
        }
    }
    let mut schedule = Vec::new();
    if let Some(s) = model.spec.schedules().next() {
        flatten("", &s.entries, spec_text, &mut schedule);
    }
    Manifest {
        abi_version: upstart_abi::ABI_VERSION,
        name: model.spec.name.name.clone(),
        from: model.old.number,
        to: model.new.number,
        spec_hash: spec_hash(spec_text),
        framing: match model.framing {
            Framing::Lines => "lines".into(),
            Framing::LengthPrefixed => "length".into(),
        },
        old: services(&model.old),
        new: services(&model.new),
        past,
        future,
        disallowed,
        schedule,
        reverse_transform: has_reverse(model),
        past_one_call,
        future_one_call,
        old_state: super::layout::layout(&model.old),
        new_state: super::layout::layout(&model.new),
    }
}

/// Whether a call of `service.method` from the caller's side of `kind`, passed through without
/// a rule, is not passed as it is: the method is renamed (the node's version knows it by
/// another name) or its values convert under renamed fields.
fn passes_translated(
    model: &crate::model::SpecModel,
    kind: RuleKind,
    service: &str,
    method: &str,
) -> bool {
    let caller = match kind {
        RuleKind::Past => model.old.number,
        RuleKind::Future => model.new.number,
    };
    let renamed = model
        .counterpart(caller, service, method)
        .is_some_and(|c| c.name.name != method);
    renamed
        || model
            .pass_conversions
            .contains_key(&(caller, service.to_string(), method.to_string()))
}

/// Whether the plugin exports a reverse transform: the spec declares one, or it needs no
/// transform at all (no state, or the same state in both versions, which the checker allows
/// only without a forward transform), so the document goes back as it is.
pub(crate) fn has_reverse(model: &crate::model::SpecModel) -> bool {
    model.spec.reverse_transforms().next().is_some()
        || model.old.state.is_none()
        || model.new.state.is_none()
        || model.spec.transforms().next().is_none()
}

fn services(env: &VersionEnv) -> Vec<ServiceSig> {
    env.services
        .values()
        .map(|s| ServiceSig {
            name: s.name.name.clone(),
            methods: s
                .methods
                .iter()
                .map(|m| MethodSig {
                    name: m.name.name.clone(),
                    params: m.params.iter().map(|p| p.name.name.clone()).collect(),
                })
                .collect(),
        })
        .collect()
}

/// Schedule entries as `key` (dotted inside blocks) to value text: `rolling.batch` -> `1`,
/// `healthy_for` -> `5s` (as written), `canary` -> `1 then pause`, `window` -> `02:00..04:00`.
fn flatten(prefix: &str, entries: &[SchedEntry], text: &str, out: &mut Vec<(String, String)>) {
    for e in entries {
        let key = format!("{prefix}{}", e.key.name);
        match &e.value.kind {
            SchedValueKind::Block(inner) if !inner.is_empty() => {
                flatten(&format!("{key}."), inner, text, out);
            }
            kind => out.push((key, value_text(kind, e.value.span, text))),
        }
    }
}

fn value_text(kind: &SchedValueKind, span: lang::Span, text: &str) -> String {
    match kind {
        SchedValueKind::Int(n) => n.to_string(),
        SchedValueKind::Duration(ms) => text
            .get(span.start..span.end)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map_or_else(|| format!("{ms}ms"), str::to_string),
        SchedValueKind::Ident(s) | SchedValueKind::Str(s) => s.clone(),
        SchedValueKind::Block(_) => String::new(),
        SchedValueKind::Then(v, action) => {
            format!("{} then {}", value_text(&v.kind, v.span, text), action.name)
        }
        SchedValueKind::Range(a, b) => format!("{a}..{b}"),
    }
}
