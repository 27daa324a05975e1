//! What the simulation obligations test: each rule of the spec, and each method passed
//! through unchanged that has a model in both versions, with where it is called from, which
//! version's models answer its `call`s, and what it allows.

use crate::model::{MethodDef, PassConversion, ServiceDef};
use crate::verify::obligations::{skipped, Cx};
use crate::verify::report::{Obligation, ObligationResult};
use crate::verify::resolve::sides;
use lang::ast::{Rule, RuleKind};
use lang::diagnostic::codes;
use lang::Span;

/// One rule, or one method passed through unchanged, under test.
pub(super) struct Subject<'m> {
    pub(super) kind: RuleKind,
    pub(super) service: &'m str,
    /// `None`: the method did not change and the call passes through to the node's model.
    pub(super) rule: Option<&'m Rule>,
    /// The caller's method (with its model).
    pub(super) caller: &'m MethodDef,
    /// A method passed through: the node's version's name for it (another one when it was
    /// renamed), and how its arguments and answer convert between the versions (renamed
    /// fields), as the plugin converts them.
    pub(super) through: &'m str,
    pub(super) pass: Option<&'m PassConversion>,
    /// The service of the node's version, whose models answer `call`s.
    pub(super) node: &'m ServiceDef,
    pub(super) name: String,
    /// Where diagnostics point.
    pub(super) at: Span,
    /// The node's version (shown with a renamed method's other name).
    pub(super) node_number: u64,
    /// The rule's `#[differs(...)]` field names.
    pub(super) differs: Vec<String>,
}

impl Subject<'_> {
    /// ``past rule `Kv.put` `` or ``unchanged method `Kv.delete` ``
    pub(super) fn what(&self) -> String {
        match self.rule {
            Some(_) => format!(
                "{} rule `{}.{}`",
                self.kind.keyword(),
                self.service,
                self.caller.name.name
            ),
            None if self.through != self.caller.name.name => format!(
                "unchanged method `{}.{}` (`{}` in version {})",
                self.service, self.caller.name.name, self.through, self.node_number
            ),
            None => format!(
                "unchanged method `{}.{}`",
                self.service, self.caller.name.name
            ),
        }
    }

    /// The rule says `#[allow(verify_simulation_answer)]`: it deliberately answers otherwise
    /// than the model, so only the states are checked.
    pub(super) fn answers_allowed(&self) -> bool {
        self.allows(codes::VERIFY_SIMULATION_ANSWER)
    }

    /// The record fields the rule's `#[differs(...)]` names: its answer may differ from the
    /// model's in these only.
    pub(super) fn differs(&self) -> &[String] {
        self.differs.as_slice()
    }

    /// The rule says `#[allow(verify_simulation_sequence)]`: it deliberately loses what a
    /// later call would show, so it is left out of the sequences.
    pub(super) fn sequences_allowed(&self) -> bool {
        self.allows(codes::VERIFY_SIMULATION_SEQUENCE)
    }

    fn allows(&self, code: lang::diagnostic::Code) -> bool {
        let name = code.info().map_or("", |i| i.name);
        self.rule
            .is_some_and(|r| r.allow.iter().any(|a| a.name == name))
    }

    pub(super) fn caller_version(&self, cx: &Cx<'_>) -> u64 {
        match self.kind {
            RuleKind::Past => cx.model.old.number,
            RuleKind::Future => cx.model.new.number,
        }
    }

    pub(super) fn node_version(&self, cx: &Cx<'_>) -> u64 {
        match self.kind {
            RuleKind::Past => cx.model.new.number,
            RuleKind::Future => cx.model.old.number,
        }
    }
}
/// The rules, in the order of the spec, and the methods passed through unchanged (without a
/// past rule) that have a model in both versions; those with a model in one version only are reported skipped into
/// `out`.
pub(super) fn subjects<'m>(cx: &Cx<'m>, out: &mut Vec<ObligationResult>) -> Vec<Subject<'m>> {
    let model = cx.model;
    let mut list = Vec::new();
    for block in model.spec.rule_blocks() {
        let (simulated, reachable) = sides(model, block.kind);
        let service = block.service.name.as_str();
        let (Some(callers), Some(node)) = (
            simulated.services.get(service),
            reachable.services.get(service),
        ) else {
            continue;
        };
        for rule in &block.rules {
            let name = format!(
                "{} rule `{service}.{}` simulates the model",
                block.kind.keyword(),
                rule.method.name
            );
            let Some(caller) = callers.method(&rule.method.name) else {
                continue;
            };
            if caller.params.len() != rule.params.len() {
                continue;
            }
            list.push(Subject {
                kind: block.kind,
                service,
                rule: Some(rule),
                caller,
                node,
                name,
                at: rule.method.span,
                through: rule.method.name.as_str(),
                pass: None,
                node_number: reachable.number,
                differs: rule.differs.iter().map(|d| d.name.clone()).collect(),
            });
        }
    }
    // Methods passed through unchanged: the node's model must answer as the caller's. The
    // set names a renamed method under both its names; it is paired once, from its old name
    // with its counterpart.
    for (service, method) in &model.unchanged_methods {
        let (Some(old), Some(new)) = (
            model.old.services.get(service),
            model.new.services.get(service),
        ) else {
            continue;
        };
        let (Some(om), Some(nm)) = (
            old.method(method),
            model.counterpart(model.old.number, service, method),
        ) else {
            continue;
        };
        // A past rule kept for it (warned unneeded) answers old callers instead: that rule
        // is the subject.
        let ruled = model
            .spec
            .rule_blocks()
            .filter(|b| b.kind == RuleKind::Past && b.service.name == *service)
            .any(|b| b.rules.iter().any(|r| r.method.name == *method));
        if ruled {
            continue;
        }
        let name = if nm.name.name == om.name.name {
            format!("unchanged method `{service}.{method}` simulates the model")
        } else {
            format!(
                "unchanged method `{service}.{method}` (`{}` in version {}) simulates the model",
                nm.name.name, model.new.number
            )
        };
        match (&om.model, &nm.model) {
            (None, None) => continue,
            (Some(_), Some(_)) => {}
            _ => {
                let (has, lacks) = if om.model.is_some() {
                    (model.old.number, model.new.number)
                } else {
                    (model.new.number, model.old.number)
                };
                out.push(skipped(
                    Obligation::Simulation,
                    name,
                    format!("version {has} gives a model, version {lacks} does not"),
                ));
                continue;
            }
        }
        list.push(Subject {
            kind: RuleKind::Past,
            service: old.name.name.as_str(),
            rule: None,
            caller: om,
            node: new,
            name,
            at: nm.name.span,
            through: nm.name.name.as_str(),
            pass: model
                .pass_conversions
                .get(&(model.old.number, service.clone(), method.clone())),
            node_number: model.new.number,
            differs: Vec::new(),
        });
    }
    list
}
