//! Past and future rules: each names a method of the simulated version, binds its parameters,
//! returns its result type, and `call`s only the reachable version. And coverage: every old
//! method is answered on new nodes and every new method on old nodes.

use super::expr::{Delegate, ExprChecker};
use super::suggest::did_you_mean;
use super::types::Types;
use super::Cx;
use crate::model::{FieldDef, MethodDef, ServiceDef, SpecModel, Ty, VersionEnv};
use lang::ast::{ExprKind, Ident, RuleBlock, RuleKind};
use lang::diagnostic::{codes, Severity};
use lang::span::Span;
use std::collections::{BTreeSet, HashMap};

/// (simulated version, reachable version) of a rule kind.
pub(crate) fn sides(model: &SpecModel, kind: RuleKind) -> (&VersionEnv, &VersionEnv) {
    match kind {
        RuleKind::Past => (&model.old, &model.new),
        RuleKind::Future => (&model.new, &model.old),
    }
}

/// Whether a method reads and answers the same in both versions (then it needs no rule): the
/// same parameters and result, or ones that differ only by renamed fields (then its calls are
/// converted on the way, see [`pass_conversions`]).
pub(crate) fn unchanged_method(types: &Types<'_>, a: &MethodDef, b: &MethodDef) -> bool {
    a.params.len() == b.params.len()
        && a.params
            .iter()
            .zip(&b.params)
            .all(|(x, y)| x.name.name == y.name.name && types.fits(&x.ty, &y.ty))
        && types.fits(&b.ret, &a.ret)
        && !types.marked(a.changed.or(b.changed))
}

/// For every method that needs no rule but whose signature differs by renamed fields, how its
/// calls convert, in each direction.
pub(crate) fn pass_conversions(
    cx: &mut Cx,
    model: &SpecModel,
) -> std::collections::BTreeMap<(u64, String, String), crate::model::PassConversion> {
    let types = Types::new(model);
    let mut out = std::collections::BTreeMap::new();
    for caller in [&model.old, &model.new] {
        for service in caller.services.values() {
            for m in &service.methods {
                let (s, name) = (&service.name.name, &m.name.name);
                if !model.method_unchanged(s, name) {
                    continue;
                }
                let Some(c) = model.counterpart(caller.number, s, name) else {
                    continue;
                };
                let mut table = std::mem::take(&mut cx.named_conversions);
                let args: Option<Vec<_>> = m
                    .params
                    .iter()
                    .zip(&c.params)
                    .map(|(p, q)| types.conversion(&p.ty, &q.ty, &mut table))
                    .collect();
                let ret = types.conversion(&c.ret, &m.ret, &mut table);
                cx.named_conversions = table;
                if let (Some(args), Some(ret)) = (args, ret) {
                    let same = crate::model::Conversion::Same;
                    if args.iter().chain([&ret]).any(|c| *c != same) {
                        out.insert(
                            (caller.number, s.clone(), name.clone()),
                            crate::model::PassConversion { args, ret },
                        );
                    }
                }
            }
        }
    }
    out
}

/// `(service, method)` of every method declared in both versions that reads and answers the
/// same in both: the decision code generation follows for pass-through calls. A renamed
/// method is there under both its names.
pub(crate) fn unchanged_methods(model: &SpecModel) -> BTreeSet<(String, String)> {
    let types = Types::new(model);
    let mut out = BTreeSet::new();
    for service in model.old.services.values() {
        for method in &service.methods {
            let counterpart =
                model.counterpart(model.old.number, &service.name.name, &method.name.name);
            if let Some(c) = counterpart.filter(|c| {
                unchanged_method(&types, method, c) && unchanged_method(&types, c, method)
            }) {
                out.insert((service.name.name.clone(), method.name.name.clone()));
                out.insert((service.name.name.clone(), c.name.name.clone()));
            }
        }
    }
    out
}

/// The items of one record, state or service that `renamed from` may rename, and the words of
/// its diagnostics.
struct Renames<'a> {
    /// `field` or `method`.
    kind: &'static str,
    /// The old version's names of that kind (none when the old version lacks the owner).
    old: Vec<&'a str>,
    /// The new version's items: each one's name and what it is renamed from.
    new: Vec<(&'a Ident, Option<&'a Ident>)>,
    /// The owner in the old version: "record `R` of version 1", "version 1 of `S`".
    in_old: String,
    /// Says that the new version keeps a name: "the state of version 2 still has".
    still: String,
    /// What the help on a kept name `old` adds after `renamed from old`.
    kept: fn(&str) -> String,
}

/// Each `renamed from` names an item the old version has, which no other item claims and which
/// the new version does not also keep under its old name.
fn check_renamed(cx: &mut Cx, model: &SpecModel, r: &Renames<'_>) {
    let (old_v, new_v, kind) = (model.old.number, model.new.number, r.kind);
    let mut claimed: HashMap<&str, Span> = HashMap::new();
    for &(name, from) in &r.new {
        let Some(from) = from else {
            continue;
        };
        let (was, now) = (from.name.as_str(), name.name.as_str());
        if !r.old.contains(&was) {
            let help = did_you_mean(was, r.old.iter().copied());
            cx.report(
                codes::BAD_RENAME,
                from.span,
                format!("{} has no {kind} `{was}` to rename", r.in_old),
                |d| {
                    d.label(format!("not a {kind} of version {old_v}"))
                        .note(format!(
                            "`renamed from` names the old version's {kind} that this one replaces"
                        ))
                        .maybe_help(help)
                },
            );
            continue;
        }
        if let Some(first) = claimed.get(was) {
            let first = *first;
            cx.report(
                codes::BAD_RENAME,
                from.span,
                format!("`{was}` is renamed twice"),
                |d| {
                    d.label(format!("`{now}` also claims to be `{was}`"))
                        .also(first, "first renamed here")
                        .help(format!(
                            "an old {kind} becomes one new {kind}: keep one `renamed from`"
                        ))
                },
            );
            continue;
        }
        claimed.insert(was, from.span);
        if let Some((again, _)) = r.new.iter().find(|(g, _)| g.name == was && was != now) {
            cx.report(
                codes::BAD_RENAME,
                from.span,
                format!("`{was}` is renamed to `{now}` but {} `{was}`", r.still),
                |d| {
                    d.label(format!("`{was}` would mean two {kind}s of version {new_v}"))
                        .also(again.span, format!("version {new_v}'s own `{was}`"))
                        .help(format!(
                            "remove `renamed from {}`{}, or rename the other {kind}",
                            from.written(),
                            (r.kept)(was)
                        ))
                },
            );
        }
    }
}

/// The renames among fields of a record or of the state (`owner`).
fn field_renames<'a>(
    model: &SpecModel,
    owner: &str,
    old: Option<&'a [FieldDef]>,
    new: &'a [FieldDef],
) -> Renames<'a> {
    Renames {
        kind: "field",
        old: old
            .unwrap_or_default()
            .iter()
            .map(|o| o.name.name.as_str())
            .collect(),
        new: new
            .iter()
            .map(|f| (&f.name, f.renamed_from.as_ref()))
            .collect(),
        in_old: format!("{owner} of version {}", model.old.number),
        still: format!("{owner} of version {} still has", model.new.number),
        kept: |_| String::new(),
    }
}

/// `renamed from` names a method the old version's service has, which no other method of the
/// new version claims and which the new version does not also declare under its old name; and
/// the same of fields of records and of the state.
pub(crate) fn check_renames(cx: &mut Cx, model: &SpecModel) {
    for (name, record) in &model.new.records {
        let old = model.old.records.get(name).map(|r| r.fields.as_slice());
        let owner = format!("record `{name}`");
        check_renamed(
            cx,
            model,
            &field_renames(model, &owner, old, &record.fields),
        );
    }
    if let Some(state) = &model.new.state {
        let old = model.old.state.as_ref().map(|s| s.fields.as_slice());
        check_renamed(
            cx,
            model,
            &field_renames(model, "the state", old, &state.fields),
        );
    }
    for service in model.new.services.values() {
        let sname = &service.name.name;
        let old_service = model.old.services.get(sname);
        let renames = Renames {
            kind: "method",
            old: old_service
                .map(|s| s.methods.iter().map(|x| x.name.name.as_str()).collect())
                .unwrap_or_default(),
            new: service
                .methods
                .iter()
                .map(|m| (&m.name, m.renamed_from.as_ref()))
                .collect(),
            in_old: format!("version {} of `{sname}`", model.old.number),
            still: format!("version {} still declares", model.new.number),
            kept: |old| format!(" (old callers of `{old}` reach this `{old}`)"),
        };
        check_renamed(cx, model, &renames);
    }
}

pub(crate) fn check_rules(cx: &mut Cx, model: &SpecModel) {
    let mut blocks: HashMap<(RuleKind, &str), Span> = HashMap::new();
    let mut covered: BTreeSet<(RuleKind, String, String)> = BTreeSet::new();
    for block in model.spec.rule_blocks() {
        let key = (block.kind, block.service.name.as_str());
        if let Some(first) = blocks.get(&key) {
            let kw = block.kind.keyword();
            cx.given_twice(
                &format!("`{kw} {}`", block.service.name),
                block.service.span,
                *first,
                Some("put all rules of the service in one block"),
            );
            continue;
        }
        blocks.insert(key, block.service.span);
        check_block(cx, model, block, &mut covered);
    }
    coverage(cx, model, RuleKind::Past, &covered);
    coverage(cx, model, RuleKind::Future, &covered);
}

fn check_block(
    cx: &mut Cx,
    model: &SpecModel,
    block: &RuleBlock,
    covered: &mut BTreeSet<(RuleKind, String, String)>,
) {
    let (simulated, reachable) = sides(model, block.kind);
    let kw = block.kind.keyword();
    let sname = block.service.name.clone();
    let Some(service) = simulated.services.get(&sname) else {
        let names: Vec<&str> = simulated.services.keys().map(String::as_str).collect();
        let help = did_you_mean(&sname, names);
        let in_other = reachable.services.get(&sname).map(|s| s.name.span);
        let (sv, rv) = (simulated.number, reachable.number);
        cx.report(codes::UNKNOWN_SERVICE, block.service.span, format!("version {sv} has no service `{sname}`"), |d| {
            let d = d.label(format!("a `{kw}` block simulates a service of version {sv}"));
            match in_other {
                Some(s) => d.also(s, format!("`{sname}` exists only in version {rv}")).help(format!(
                    "`past` rules simulate the old version's services and `future` rules the new version's: use `{}`",
                    if block.kind == RuleKind::Past { "future" } else { "past" }
                )),
                None => d.maybe_help(help),
            }
        });
        return;
    };
    let other = reachable.services.get(&sname);
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for rule in &block.rules {
        let mname = rule.method.name.as_str();
        if let Some(first) = seen.get(mname) {
            let first = *first;
            cx.report(
                codes::DUPLICATE_RULE,
                rule.method.span,
                format!("`{mname}` has two `{kw}` rules"),
                |d| d.label("second rule").also(first, "first rule"),
            );
            continue;
        }
        seen.insert(mname, rule.method.span);
        let Some(method) = service.method(mname) else {
            unknown_method(
                cx,
                block.kind,
                service,
                simulated.number,
                other,
                reachable.number,
                &rule.method,
            );
            continue;
        };
        covered.insert((block.kind, sname.clone(), mname.to_string()));
        let first_diagnostic = cx.diagnostics.len();
        let types = Types::new(model);
        if let Some(counterpart) = model.counterpart(simulated.number, &sname, mname) {
            if unchanged_method(&types, method, counterpart) {
                let (sv, rv) = (simulated.number, reachable.number);
                let new = model.new.number;
                // A rule that does more than pass the call on converts values: its author
                // believes the meaning changed, which `changed` says; removing it would lose that.
                let help = if rule.forwards(&counterpart.name.name) {
                    "remove the rule".to_string()
                } else {
                    // The new version's method, as written there (its own name when renamed).
                    let declared = if simulated.number == new {
                        method.name.written()
                    } else {
                        counterpart.name.written()
                    };
                    format!(
                        "this rule converts values: if `{mname}` means something else in version {new} \
                         (a unit, a flag), declare it `changed fn {declared}(...)` in version {new} and keep \
                         the rule; otherwise remove the rule"
                    )
                };
                cx.report(
                    codes::UNNEEDED_RULE,
                    rule.method.span,
                    format!("`{mname}` did not change, so this rule is never needed"),
                    |d| {
                        d.label(format!(
                            "`{mname}` reads and answers the same in versions {sv} and {rv}"
                        ))
                        .also(counterpart.span, format!("version {rv}'s `{mname}`"))
                        .note("unchanged methods translate themselves")
                        .help(help)
                    },
                );
            }
        }
        if rule.params.len() != method.params.len() {
            let (n, got) = (method.params.len(), rule.params.len());
            let names: Vec<&str> = method.params.iter().map(|p| p.name.name.as_str()).collect();
            cx.report(
                codes::RULE_ARITY,
                rule.method.span,
                format!(
                    "`{mname}` takes {n} parameter{}, the rule binds {got}",
                    if n == 1 { "" } else { "s" }
                ),
                |d| {
                    d.label("wrong number of parameters")
                        .also(
                            method.span,
                            format!("version {}'s `{mname}`", simulated.number),
                        )
                        .help(format!("write `{mname}({}) = ...`", names.join(", ")))
                },
            );
        }
        let mut params_seen: HashMap<&str, Span> = HashMap::new();
        for p in &rule.params {
            if let Some(first) = params_seen.get(p.name.as_str()) {
                let first = *first;
                cx.duplicate(codes::DUPLICATE_FIELD, "parameter", p, first);
            }
            params_seen.insert(&p.name, p.span);
        }
        if matches!(rule.body.kind, ExprKind::Disallow(_)) {
            let (sv, rv) = (simulated.number, reachable.number);
            cx.report(codes::DISALLOWED_METHOD, rule.method.span, format!("`{mname}` is refused to version {sv} callers on version {rv} nodes"), |d| {
                d.label("always disallowed").note("callers get an error with the reason until every node runs the same version").help("if the refusal is deliberate, say so with `#[allow(disallowed_method)]` before the rule")
            });
        }
        let place = match block.kind {
            RuleKind::Past => "a past rule",
            RuleKind::Future => "a future rule",
        };
        let mut ec = ExprChecker::new(cx, types, simulated.number, place);
        ec.delegate = Some(Delegate {
            kind: block.kind,
            service_name: sname.clone(),
            target: other,
            target_version: reachable.number,
            other: Some(service),
            other_version: simulated.number,
        });
        for (i, p) in rule.params.iter().enumerate() {
            ec.bind(
                p,
                method.params.get(i).map_or(Ty::Unknown, |d| d.ty.clone()),
            );
        }
        ec.check(&rule.body, &method.ret);
        // A rule that refuses every call needs none of its arguments.
        if !matches!(rule.body.kind, ExprKind::Disallow(_)) {
            for (name, span) in ec.unread_bound() {
                if !name.starts_with('_') {
                    unused_parameter(ec.cx, block.kind, mname, &name, span);
                }
            }
        }
        super::differs::check_differs(cx, model, rule, &method.ret);
        apply_allow(cx, rule, first_diagnostic);
    }
}

/// `#[allow(name, ...)]` on a rule: drops the warnings of those names reported from
/// `first_diagnostic` on (the rule's own), and reports names that are not warnings.
fn apply_allow(cx: &mut Cx, rule: &lang::ast::Rule, first_diagnostic: usize) {
    if rule.allow.is_empty() {
        return;
    }
    let allowed = |code: lang::diagnostic::Code| {
        code.info()
            .is_some_and(|i| i.allowable() && rule.allow.iter().any(|a| a.name == i.name))
    };
    let mut index = 0;
    cx.diagnostics.retain(|d| {
        index += 1;
        index <= first_diagnostic || !allowed(d.code)
    });
    for name in &rule.allow {
        let info = codes::ALL.iter().find(|i| i.name == name.name);
        if info.is_some_and(|i| i.allowable()) {
            continue;
        }
        let warnings = codes::ALL.iter().filter(|i| i.allowable()).map(|i| i.name);
        let help = did_you_mean(&name.name, warnings);
        let known = info.map(|i| i.severity == Severity::Error);
        cx.report(
            codes::UNKNOWN_ALLOW,
            name.span,
            format!("`{}` is not a warning that can be allowed", name.name),
            |d| {
                let d = d.label(match known {
                    Some(true) => "an error, which cannot be allowed",
                    Some(false) => "found by `verify`, which an allow does not reach",
                    None => "no warning has this name",
                });
                match help {
                    Some(h) if known.is_none() => d.help(h),
                    _ => d.note("`upstartc explain` names each warning; an allow takes the name, such as `disallowed_method`"),
                }
            },
        );
    }
}

/// A parameter the rule never reads: the caller's argument is dropped on the way.
fn unused_parameter(cx: &mut Cx, kind: RuleKind, method: &str, name: &str, span: Span) {
    let who = match kind {
        RuleKind::Past => "old",
        RuleKind::Future => "new",
    };
    cx.report(
        codes::UNUSED_RULE_PARAMETER,
        span,
        format!("parameter `{name}` of the `{}` rule for `{method}` is never used", kind.keyword()),
        |d| {
            d.label(format!("{who} callers' `{name}` is dropped here"))
                .help(format!("pass it on, refuse the calls that need it with `disallow`, or name it `_{name}` if dropping it is deliberate"))
        },
    );
}

fn unknown_method(
    cx: &mut Cx,
    kind: RuleKind,
    service: &ServiceDef,
    version: u64,
    other: Option<&ServiceDef>,
    other_version: u64,
    method: &lang::ast::Ident,
) {
    let names: Vec<&str> = service
        .methods
        .iter()
        .map(|m| m.name.name.as_str())
        .collect();
    let help = did_you_mean(&method.name, names);
    let in_other = other.and_then(|s| s.method(&method.name)).map(|m| m.span);
    let sname = service.name.name.clone();
    cx.report(
        codes::UNKNOWN_METHOD,
        method.span,
        format!(
            "version {version} of `{sname}` has no method `{}`",
            method.name
        ),
        |d| {
            let d = d.label(format!(
                "a `{}` rule simulates a method of version {version}",
                kind.keyword()
            ));
            match in_other {
                Some(s) => d
                    .also(s, format!("declared in version {other_version}"))
                    .help(format!(
                        "a `{}` rule answers this method",
                        if kind == RuleKind::Past {
                            "future"
                        } else {
                            "past"
                        }
                    )),
                None => d.maybe_help(help),
            }
        },
    );
}

/// Every method of the simulated side that changed or vanished needs a rule.
fn coverage(
    cx: &mut Cx,
    model: &SpecModel,
    kind: RuleKind,
    covered: &BTreeSet<(RuleKind, String, String)>,
) {
    let (simulated, reachable) = sides(model, kind);
    let types = Types::new(model);
    for service in simulated.services.values() {
        for method in &service.methods {
            let key = (kind, service.name.name.clone(), method.name.name.clone());
            if covered.contains(&key) {
                continue;
            }
            let counterpart =
                model.counterpart(simulated.number, &service.name.name, &method.name.name);
            if counterpart.is_some_and(|c| unchanged_method(&types, method, c)) {
                continue;
            }
            let (code, who, whom) = match kind {
                RuleKind::Past => (codes::MISSING_PAST_RULE, "upgraded", "old"),
                RuleKind::Future => (codes::MISSING_FUTURE_RULE, "old", "new"),
            };
            let (sname, mname) = (service.name.name.clone(), method.name.name.clone());
            // The skeleton as a spec writes it (`r#in` for a keyword).
            let params: Vec<_> = method.params.iter().map(|p| p.name.written()).collect();
            let kw = kind.keyword();
            let body = if kind == RuleKind::Future {
                format!("disallow \"{mname} needs version {}\"", simulated.number)
            } else {
                "...".to_string()
            };
            let skeleton = format!(
                "{kw} {} {{ {}({}) = {body} }}",
                service.name.written(),
                method.name.written(),
                params.join(", ")
            );
            let (sv, rv) = (simulated.number, reachable.number);
            cx.report(
                code,
                method.name.span,
                format!("`{sname}.{mname}` of version {sv} is not answered on {who} nodes"),
                |d| {
                    let d = d.label(format!(
                        "{whom} callers of `{mname}` would get no answer from version {rv} nodes"
                    ));
                    let new = model.new.number;
                    let d = match counterpart {
                        Some(c) if types.marked(c.changed.or(method.changed)) => d.also(
                            c.changed.or(method.changed).unwrap_or(c.span),
                            format!("version {new} declares `{mname}` changed in meaning"),
                        ),
                        Some(c) => d.also(c.span, format!("version {rv}'s `{mname}` differs")),
                        None => d.note(format!("version {rv} has no `{mname}`")),
                    };
                    d.help(format!("add a rule: `{skeleton}`"))
                },
            );
        }
    }
}
