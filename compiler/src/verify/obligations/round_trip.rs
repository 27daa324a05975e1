//! Obligation 3: round trips are lossless. For a method of both versions with a past and a
//! future rule: a generated old-version result `r` is what the old object answers the future
//! rule's `call`, giving the new-version result `n`; `n` is what the new object answers the
//! past rule's `call`, giving `r'`; `r'` must equal `r`. Arguments of the same name in both
//! versions get the same value. Cases where a rule disallows, fails (which the totality
//! obligation reports) or makes no `call` of the method itself are discarded. Methods whose
//! result types drop a field are skipped: the checker already warns of that loss (U0069).

use super::total::{describe_args, HOST_SALT};
use super::{found_note, skipped, Case, Cx, MAX_SHRINK_RUNS};
use crate::eval::Value;
use crate::model::{MethodDef, ServiceDef, SpecModel, Ty};
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::host::{tape_values, Answer, Answers, TapeHost};
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::resolve::{self, Named};
use crate::verify::rng::Rng;
use lang::ast::{Rule, RuleKind};
use lang::diagnostic::codes;
use lang::Diagnostic;
use std::collections::BTreeSet;

/// One method with both rules.
struct Subject<'m> {
    service: &'m str,
    past: &'m Rule,
    future: &'m Rule,
    old: &'m MethodDef,
    new: &'m MethodDef,
    old_service: Option<&'m ServiceDef>,
    new_service: Option<&'m ServiceDef>,
    /// For each new parameter, the old parameter whose value it shares, if any.
    shared: Vec<Option<usize>>,
    name: String,
}

/// Where the parts of a case are: `[r, old args.., new args.., future tape, past tape]`. A new
/// argument that shares an old one's name takes the old one's value when that fits its type.
impl Subject<'_> {
    fn future_tape(&self) -> usize {
        1 + self.old.params.len() + self.new.params.len()
    }
}

/// How a case came out.
enum Outcome {
    Equal,
    /// A rule disallowed or failed.
    Discarded,
    Changed {
        n: Value,
        back: Value,
    },
}

pub(crate) fn check(cx: &mut Cx<'_>) -> Vec<ObligationResult> {
    let model = cx.model;
    let mut out = Vec::new();
    for block in model
        .spec
        .rule_blocks()
        .filter(|b| b.kind == RuleKind::Past)
    {
        let service = block.service.name.as_str();
        for past in &block.rules {
            let m = past.method.name.as_str();
            // The new version's name of the method (`renamed from` may give it another).
            let Some(new) = model.counterpart(model.old.number, service, m) else {
                continue;
            };
            let future = model
                .spec
                .rule_blocks()
                .filter(|b| b.kind == RuleKind::Future && b.service.name == service)
                .flat_map(|b| b.rules.iter())
                .find(|r| r.method.name == new.name.name);
            let (Some(future), Some(old)) = (future, model.old.method(service, m)) else {
                continue;
            };
            let name = format!("`{service}.{m}` round trips old -> new -> old");
            if past.params.len() != old.params.len() || future.params.len() != new.params.len() {
                out.push(skipped(
                    Obligation::RoundTrip,
                    name,
                    "a rule binds another number of parameters than its method has",
                ));
                continue;
            }
            if let Some((field, record)) = dropped_field(model, &old.ret) {
                out.push(skipped(
                    Obligation::RoundTrip,
                    name,
                    format!("lossy: field `{field}` of `{record}` is dropped"),
                ));
                continue;
            }
            let shared = new
                .params
                .iter()
                .map(|p| old.params.iter().position(|o| o.name.name == p.name.name))
                .collect();
            let subject = Subject {
                service,
                past,
                future,
                old,
                new,
                old_service: model.old.services.get(service),
                new_service: model.new.services.get(service),
                shared,
                name,
            };
            out.push(check_method(cx, &subject));
        }
    }
    out
}

/// A field that a record reachable from `ty` (in the old version) loses in the new version.
fn dropped_field(model: &SpecModel, ty: &Ty) -> Option<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![ty.clone()];
    while let Some(t) = todo.pop() {
        match t {
            Ty::Option(a) | Ty::List(a) | Ty::Set(a) => todo.push(*a),
            Ty::Map(k, v) => todo.extend([*k, *v]),
            Ty::Tuple(items) => todo.extend(items),
            Ty::Named(r) if seen.insert(r.clone()) => match resolve::named(model, &r) {
                Some(Named::Record(def)) => {
                    if r.version == model.old.number {
                        if let Some(newer) = model.new.records.get(&r.name) {
                            if let Some(f) = def.fields.iter().find(|f| {
                                crate::model::field_from(&newer.fields, &f.name.name).is_none()
                            }) {
                                return Some((f.name.name.clone(), r.name.clone()));
                            }
                        }
                    }
                    todo.extend(def.fields.iter().map(|f| f.ty.clone()));
                }
                Some(Named::Enum(def)) => {
                    todo.extend(def.variants.iter().filter_map(|v| v.payload.clone()))
                }
                None => {}
            },
            _ => {}
        }
    }
    None
}

fn check_method(cx: &mut Cx<'_>, s: &Subject<'_>) -> ObligationResult {
    let cases = cx.options.cases;
    let mut result = cx.cases(Obligation::RoundTrip, s.name.clone(), None, |cx, i| {
        let (mut rng, size) = cx.case(&s.name, i);
        let host_rng = rng.fork(HOST_SALT);
        let mut case = vec![(
            s.old.ret.clone(),
            cx.gen.generate(&s.old.ret, &mut rng, size),
        )];
        for p in &s.old.params {
            case.push((p.ty.clone(), cx.gen.generate(&p.ty, &mut rng, size)));
        }
        for p in &s.new.params {
            case.push((p.ty.clone(), cx.gen.generate(&p.ty, &mut rng, size)));
        }
        let empty = (Ty::Tuple(Vec::new()), Value::Tuple(Vec::new()));
        case.extend([empty.clone(), empty]);
        let (outcome, case, _) = run(cx, s, &case, &host_rng, size);
        match outcome {
            Outcome::Equal => return Case::Held,
            Outcome::Discarded => return Case::Discarded,
            Outcome::Changed { .. } => {}
        }
        let shrunk = shrink_case(case, cx.model, MAX_SHRINK_RUNS, |c| {
            let (outcome, next, _) = run(cx, s, c, &host_rng, size);
            matches!(outcome, Outcome::Changed { .. }).then_some(next)
        });
        let (outcome, case, logs) = run(cx, s, &shrunk.case, &host_rng, size);
        let d = diagnostic(cx, s, &case, &logs, outcome)
            .note(found_note(i + 1, cases, shrunk.steps))
            .note("if the change is intended, this warning can be ignored");
        Case::Failed(d)
    });
    if result.status == Status::Passed && result.discarded == cases && cases > 0 {
        result.status = Status::Skipped {
            reason: format!(
                "no case went through both rules: each was disallowed, failed, or did not \
                 `call {}`",
                s.past.method.name
            ),
        };
    }
    result
}

/// The arguments of the past rule and of the future rule in a case.
fn args(model: &SpecModel, s: &Subject<'_>, case: &[(Ty, Value)]) -> (Vec<Value>, Vec<Value>) {
    let old_args: Vec<Value> = case
        .iter()
        .skip(1)
        .take(s.old.params.len())
        .map(|(_, v)| v.clone())
        .collect();
    let own = case.iter().skip(1 + s.old.params.len());
    let new_args = s
        .new
        .params
        .iter()
        .zip(&s.shared)
        .zip(own)
        .map(
            |((p, shared), (_, own))| match shared.and_then(|j| old_args.get(j)) {
                Some(v) if conforms(v, &p.ty, model).is_ok() => v.clone(),
                _ => own.clone(),
            },
        )
        .collect();
    (old_args, new_args)
}

/// Runs a case: the future rule on `r`, then the past rule on its answer. Gives the outcome,
/// the case with the tapes the run used, and the calls of each rule.
fn run(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    case: &[(Ty, Value)],
    rng: &Rng,
    size: u32,
) -> (Outcome, Vec<(Ty, Value)>, [Vec<Answer>; 2]) {
    let at = s.future_tape();
    let r = case.first().map_or(Value::Unit, |(_, v)| v.clone());
    let (old_args, new_args) = args(cx.model, s, case);
    // The future rule calls the old version's name, the past rule the new version's.
    let (m, m_new) = (s.past.method.name.as_str(), s.future.method.name.as_str());
    let mut future_host = TapeHost::new(Answers {
        gen: &cx.gen,
        service: s.old_service,
        version: cx.model.old.number,
        tape: tape_values(case.get(at)),
        rng: rng.fork(1),
        size,
    })
    .answering(m, &r);
    let n = cx.eval.eval_rule(s.future, new_args, &mut future_host);
    let mut next: Vec<(Ty, Value)> = case.iter().take(at).cloned().collect();
    next.push(future_host.tape());
    let Ok(n) = n else {
        next.extend(case.get(at + 1).cloned());
        return (Outcome::Discarded, next, [future_host.log, Vec::new()]);
    };
    let mut past_host = TapeHost::new(Answers {
        gen: &cx.gen,
        service: s.new_service,
        version: cx.model.new.number,
        tape: tape_values(case.get(at + 1)),
        rng: rng.fork(2),
        size,
    })
    .answering(m_new, &n);
    let back = cx.eval.eval_rule(s.past, old_args, &mut past_host);
    next.push(past_host.tape());
    let logs = [future_host.log, past_host.log];
    // A rule that did not `call` the method itself did not carry the result across.
    let carried =
        logs[0].iter().any(|a| a.method == m) && logs[1].iter().any(|a| a.method == m_new);
    match back {
        _ if !carried => (Outcome::Discarded, next, logs),
        Ok(back) if back == r => (Outcome::Equal, next, logs),
        Ok(back) => (Outcome::Changed { n, back }, next, logs),
        Err(_) => (Outcome::Discarded, next, logs),
    }
}

fn diagnostic(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    case: &[(Ty, Value)],
    logs: &[Vec<Answer>; 2],
    outcome: Outcome,
) -> Diagnostic {
    let model = cx.model;
    let (ov, nv) = (model.old.number, model.new.number);
    let r = case.first().map_or(Value::Unit, |(_, v)| v.clone());
    let (old_args, new_args) = args(model, s, case);
    let m = &s.past.method.name;
    let d = Diagnostic::new(
        codes::VERIFY_ROUND_TRIP,
        model.file,
        s.past.method.span,
        format!(
            "`{}.{m}` does not round trip: a version {ov} result comes back changed",
            s.service
        ),
    )
    .label(format!(
        "gives version {ov} callers back a different result"
    ))
    .also(
        s.future.method.span,
        format!("after this rule turned it into a version {nv} result"),
    )
    .note(format!("version {ov} result: {r}"));
    let d = match outcome {
        Outcome::Changed { n, back } => d
            .note(format!("the future rule made it: {n}"))
            .note(format!("the past rule gave back: {back}")),
        Outcome::Equal | Outcome::Discarded => {
            d.note("the round trip failed once but not on replay")
        }
    };
    let d = d
        .note(format!(
            "future rule arguments: {}",
            describe_args(s.future, &new_args)
        ))
        .note(format!(
            "past rule arguments: {}",
            describe_args(s.past, &old_args)
        ));
    let [future_log, past_log] = logs;
    let others = |log: &[Answer]| -> Vec<String> {
        log.iter()
            .filter(|a| a.method != *m)
            .map(Answer::describe)
            .collect()
    };
    let d = others(future_log)
        .into_iter()
        .fold(d, |d, a| d.note(format!("in the future rule, {a}")));
    others(past_log)
        .into_iter()
        .fold(d, |d, a| d.note(format!("in the past rule, {a}")))
}
