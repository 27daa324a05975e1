//! `match`: the arms' patterns against the scrutinee's type, and whether the arms cover it.

use super::*;

impl ExprChecker<'_, '_> {
    pub(super) fn match_expr(
        &mut self,
        span: Span,
        scrutinee: &Expr,
        arms: &[Arm],
        hint: Option<&Ty>,
    ) -> Ty {
        let sty = self.infer(scrutinee, None);
        let mut coverage = Coverage::default();
        let mut result = hint.filter(|h| **h != Ty::Unknown).cloned();
        for arm in arms {
            let before = self.scopes.len();
            let shape = self.pattern(&arm.pattern, &sty);
            let exhausted = sty != Ty::Unknown && coverage.missing(&sty, &self.types).is_empty();
            if coverage.covers(&shape) || exhausted {
                self.cx.report(
                    codes::UNREACHABLE_ARM,
                    arm.pattern.span,
                    "this arm is never chosen",
                    |d| d.label("earlier arms already match everything this one does"),
                );
            }
            if matches!(shape, Shape::All) && !coverage.covers(&shape) && !exhausted {
                self.swallowed_variants(&arm.pattern, &sty, coverage.missing(&sty, &self.types));
            }
            coverage.add(shape);
            match &result {
                Some(t) => {
                    let t = t.clone();
                    self.check(&arm.body, &t);
                }
                None => {
                    let t = self.infer(&arm.body, None);
                    if t != Ty::Unknown {
                        result = Some(t);
                    }
                }
            }
            let added = self.scopes.len() - before;
            self.pop(added);
        }
        let missing = coverage.missing(&sty, &self.types);
        if !missing.is_empty() {
            let list = missing.join("`, `");
            self.cx.report(
                codes::NON_EXHAUSTIVE_MATCH,
                span,
                format!("`match` does not cover `{list}`"),
                |d| {
                    d.label("not every value has an arm")
                        .help("add the missing arms, or a `_ => ...` arm")
                },
            );
        }
        result.unwrap_or(Ty::Unknown)
    }

    /// Checks a pattern against the scrutinee type, binds its names, and says what it covers.
    pub(super) fn pattern(&mut self, p: &Pattern, ty: &Ty) -> Shape {
        match &p.kind {
            PatternKind::Wildcard => Shape::All,
            PatternKind::None => {
                if !matches!(ty, Ty::Option(_) | Ty::Unknown) {
                    self.pattern_mismatch(p, ty, "`none`");
                }
                Shape::Case("none".into(), true)
            }
            PatternKind::Some(inner) => {
                let inner_ty = match ty {
                    Ty::Option(t) => t.as_ref().clone(),
                    Ty::Unknown => Ty::Unknown,
                    _ => {
                        self.pattern_mismatch(p, ty, "`some(...)`");
                        Ty::Unknown
                    }
                };
                let full = matches!(self.pattern(inner, &inner_ty), Shape::All);
                Shape::Case("some(_)".into(), full)
            }
            PatternKind::Lit(lit) => {
                let lty = self.literal(lit, Some(ty), p.span, false);
                self.expect(&lty, ty, p.span);
                match lit {
                    Lit::Bool(b) => Shape::Case(b.to_string(), true),
                    Lit::Int(n) => Shape::Case(format!("literal {n}"), true),
                    Lit::Str(t) => Shape::Case(format!("literal {t:?}"), true),
                    _ => Shape::Partial,
                }
            }
            PatternKind::NegInt(n) => {
                let lty = self.literal(&Lit::Int(*n), Some(ty), p.span, true);
                self.expect(&lty, ty, p.span);
                Shape::Case(format!("literal -{n}"), true)
            }
            PatternKind::Variant { path, payload } => {
                let en = match ty {
                    Ty::Named(r) => self.types.env(r.version).and_then(|e| e.enums.get(&r.name)),
                    _ => None,
                };
                let Some((vname, rest)) = path.split_last() else {
                    return Shape::Partial;
                };
                let is_variant = en.is_some_and(|e| e.variant(&vname.name).is_some());
                if path.len() == 1 && payload.is_none() && !is_variant {
                    self.push(vname, ty.clone(), false);
                    return Shape::All;
                }
                let Some(en) = en else {
                    if *ty != Ty::Unknown {
                        self.pattern_mismatch(p, ty, "an enum variant");
                    }
                    if let Some(inner) = payload {
                        self.pattern(inner, &Ty::Unknown);
                    }
                    return Shape::Partial;
                };
                if let Some(tn) = rest.last() {
                    if tn.name != en.name.name {
                        let (want, got) = (en.name.name.clone(), tn.name.clone());
                        self.cx.report(
                            codes::TYPE_MISMATCH,
                            tn.span,
                            format!("expected a variant of `{want}`, found `{got}`"),
                            |d| d.label(format!("the value matched is a `{want}`")),
                        );
                    }
                }
                let Some(def) = en.variant(&vname.name) else {
                    let names: Vec<&str> =
                        en.variants.iter().map(|v| v.name.name.as_str()).collect();
                    let help = did_you_mean(&vname.name, names.iter().copied());
                    let ename = en.name.name.clone();
                    self.cx.report(
                        codes::UNKNOWN_VARIANT,
                        vname.span,
                        format!("enum `{ename}` has no variant `{}`", vname.name),
                        |d| d.label("unknown variant").maybe_help(help),
                    );
                    return Shape::Partial;
                };
                let full = match (&def.payload, payload) {
                    (Some(t), Some(inner)) => {
                        let t = t.clone();
                        matches!(self.pattern(inner, &t), Shape::All)
                    }
                    (None, None) => true,
                    (Some(t), None) => {
                        let names = (en.name.name.as_str(), vname.name.as_str());
                        let help = format!("write `{}(_)` to ignore it", vname.name);
                        self.payload_mismatch(p.span, names, Some(t), "payload not matched", help);
                        true
                    }
                    (None, Some(inner)) => {
                        let names = (en.name.name.as_str(), vname.name.as_str());
                        let help = format!("write `{}`", vname.name);
                        self.payload_mismatch(
                            inner.span,
                            names,
                            None,
                            "nothing to match here",
                            help,
                        );
                        true
                    }
                };
                Shape::Case(vname.name.clone(), full)
            }
        }
    }

    /// Warns when a catch-all arm over an enum declared in both versions takes variants the
    /// other version's enum does not have: a value that is new (or gone) in one version is
    /// silently answered like some other case.
    fn swallowed_variants(&mut self, p: &Pattern, ty: &Ty, swallowed: Vec<String>) {
        let Ty::Named(r) = ty else {
            return;
        };
        let Some(other_env) = [self.types.old, self.types.new]
            .into_iter()
            .find(|e| e.number != r.version)
        else {
            return;
        };
        let Some(other) = other_env.enums.get(&r.name) else {
            return;
        };
        let differing: Vec<String> = swallowed
            .into_iter()
            .filter(|v| other.variant(v).is_none())
            .collect();
        if differing.is_empty() {
            return;
        }
        let (name, version, other_version) = (r.name.clone(), r.version, other_env.number);
        let list = differing
            .iter()
            .map(|v| format!("`{name}::{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let what = if p.kind == PatternKind::Wildcard {
            "`_`"
        } else {
            "this catch-all arm"
        };
        let (s, has) = if differing.len() == 1 {
            ("", "has")
        } else {
            ("s", "have")
        };
        let arms = differing
            .iter()
            .map(|v| format!("`{name}::{v} => ...`"))
            .collect::<Vec<_>>()
            .join(", ");
        let other_span = other.name.span;
        self.cx.report(
            codes::WILDCARD_SWALLOWS_VARIANTS,
            p.span,
            format!("{what} also matches {list}, which version {other_version}'s `{name}` does not have"),
            |d| {
                d.label(format!("swallows the variant{s} only version {version} {has}"))
                    .also(other_span, format!("version {other_version}'s `{name}`"))
                    .help(format!("say what the variant{s} should become with an arm of {}: {arms}", if differing.len() == 1 { "its own" } else { "their own" }))
            },
        );
    }

    pub(super) fn pattern_mismatch(&mut self, p: &Pattern, ty: &Ty, what: &str) {
        self.cx.report(
            codes::TYPE_MISMATCH,
            p.span,
            format!("{what} cannot match a `{ty}`"),
            |d| d.label(format!("the value matched is `{ty}`")),
        );
    }
}

/// What one pattern covers.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    All,
    /// A case (variant name, `none`, `some(_)`, `true`); `true` when fully covered.
    Case(String, bool),
    Partial,
}

#[derive(Default)]
struct Coverage {
    all: bool,
    cases: BTreeSet<String>,
}

impl Coverage {
    fn covers(&self, shape: &Shape) -> bool {
        self.all || matches!(shape, Shape::Case(c, _) if self.cases.contains(c))
    }

    fn add(&mut self, shape: Shape) {
        match shape {
            Shape::All => self.all = true,
            Shape::Case(c, true) => {
                self.cases.insert(c);
            }
            _ => {}
        }
    }

    fn missing(&self, ty: &Ty, types: &Types<'_>) -> Vec<String> {
        if self.all {
            return Vec::new();
        }
        let needed: Vec<String> = match ty {
            Ty::Unknown => return Vec::new(),
            Ty::Option(_) => vec!["none".into(), "some(_)".into()],
            Ty::Bool => vec!["true".into(), "false".into()],
            Ty::Named(r) => match types.env(r.version).and_then(|e| e.enums.get(&r.name)) {
                Some(en) => en.variants.iter().map(|v| v.name.name.clone()).collect(),
                None => vec!["_".into()],
            },
            _ => vec!["_".into()],
        };
        needed
            .into_iter()
            .filter(|c| !self.cases.contains(c))
            .collect()
    }
}
