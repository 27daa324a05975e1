//! Record literals and enum variants in expressions: which version's declaration a name means,
//! fields given and missing, payloads; and map literals `{k: v}`.

use super::*;
use crate::check::Seen;

impl ExprChecker<'_, '_> {
    /// `{k: v, ...}`: the expected map type checks every entry; without one, the first entry
    /// gives the key and value types the others must have (`{}` alone is a map of `_`).
    pub(super) fn map_literal(&mut self, entries: &[(Expr, Expr)], hint: Option<&Ty>) -> Ty {
        let (mut key, mut value) = match hint {
            Some(Ty::Map(k, v)) => (Some(k.as_ref().clone()), Some(v.as_ref().clone())),
            _ => (None, None),
        };
        for (k, v) in entries {
            for (slot, e) in [(&mut key, k), (&mut value, v)] {
                match slot {
                    Some(t) if *t != Ty::Unknown => {
                        let t = t.clone();
                        self.check(e, &t);
                    }
                    _ => *slot = Some(self.infer(e, None)),
                }
            }
        }
        let key = key.unwrap_or(Ty::Unknown);
        if let Some((k, _)) = entries.first() {
            let keyable = match &key {
                Ty::Str | Ty::I64 | Ty::U64 | Ty::Bool | Ty::Unknown => true,
                Ty::Named(r) => self
                    .types
                    .env(r.version)
                    .is_some_and(|env| env.enums.contains_key(&r.name)),
                _ => false,
            };
            if !keyable {
                self.cx.report(
                    codes::BAD_MAP_KEY,
                    k.span,
                    format!("`{key}` cannot be a map key"),
                    |d| {
                        d.label("not a key type")
                            .note("map keys are `string`, `i64`, `u64`, `bool` or an enum")
                    },
                );
            }
        }
        Ty::Map(Box::new(key), Box::new(value.unwrap_or(Ty::Unknown)))
    }

    /// Finds which version's declaration a type name in an expression means.
    pub(super) fn resolve_named(
        &mut self,
        span: Span,
        path: &[Ident],
        hint: Option<&Ty>,
        what: &str,
    ) -> Option<(u64, Ident)> {
        let (qualifier, name) = match path {
            [name] => (None, name),
            [q, name] => (Some(q), name),
            _ => return None,
        };
        let old = self.types.old.number;
        let new = self.types.new.number;
        let defines =
            |v: u64, types: &Types<'_>| types.env(v).is_some_and(|e| e.defines_type(&name.name));
        if let Some(q) = qualifier {
            return match parse_qualifier(&q.name).filter(|v| *v == old || *v == new) {
                Some(v) if defines(v, &self.types) => Some((v, name.clone())),
                Some(v) => {
                    self.cx.report(
                        codes::UNKNOWN_TYPE,
                        name.span,
                        format!("version {v} has no {what} `{}`", name.name),
                        |d| d.label(format!("not in version {v}")),
                    );
                    None
                }
                None => {
                    self.cx.report(
                        codes::UNKNOWN_TYPE,
                        q.span,
                        format!("unknown version qualifier `{}`", q.name),
                        |d| d.label(format!("this spec has `v{old}` and `v{new}`")),
                    );
                    None
                }
            };
        }
        if let Some(Ty::Named(r)) = hint {
            if r.name == name.name {
                return Some((r.version, name.clone()));
            }
        }
        // A method model speaks of its own version only.
        if let Some(v) = self.own_version.filter(|v| defines(*v, &self.types)) {
            return Some((v, name.clone()));
        }
        match (defines(old, &self.types), defines(new, &self.types)) {
            (true, true) if self.types.unchanged(&name.name) => Some((self.home, name.clone())),
            (true, true) => {
                let n = name.name.clone();
                self.cx.report(
                    codes::AMBIGUOUS_NAME,
                    span,
                    format!("`{n}` means different types in versions {old} and {new}"),
                    |d| {
                        d.label("which version's?")
                            .note(format!("`{n}` changed between the versions, and nothing here says which one is meant"))
                            .help(format!("qualify it: `v{old}::{n}` or `v{new}::{n}`"))
                    },
                );
                None
            }
            (true, false) => Some((old, name.clone())),
            (false, true) => Some((new, name.clone())),
            (false, false) => {
                let mut candidates: Vec<String> = self.types.old.records.keys().cloned().collect();
                candidates.extend(self.types.new.records.keys().cloned());
                candidates.extend(self.types.old.enums.keys().cloned());
                candidates.extend(self.types.new.enums.keys().cloned());
                let help = did_you_mean(&name.name, candidates.iter().map(String::as_str));
                self.cx.report(
                    codes::UNKNOWN_TYPE,
                    name.span,
                    format!("unknown {what} `{}`", name.name),
                    |d| d.label("not defined in either version").maybe_help(help),
                );
                None
            }
        }
    }

    pub(super) fn record(
        &mut self,
        span: Span,
        path: &[Ident],
        fields: &[FieldInit],
        hint: Option<&Ty>,
    ) -> Ty {
        let resolved = self.resolve_named(span, path, hint, "record");
        let rec = resolved
            .as_ref()
            .and_then(|(v, n)| self.types.env(*v).and_then(|e| e.records.get(&n.name)));
        let Some(rec) = rec else {
            if let Some((v, n)) = &resolved {
                self.cx.report(
                    codes::UNKNOWN_TYPE,
                    n.span,
                    format!("`{}` is an enum, not a record", n.name),
                    |d| {
                        d.label(format!("an enum of version {v}"))
                            .help(format!("build an enum value with `{}::Variant`", n.name))
                    },
                );
            }
            for f in fields {
                self.infer(&f.value, None);
            }
            return Ty::Unknown;
        };
        let version = resolved.map_or(self.home, |(v, _)| v);
        let mut seen = Seen::default();
        for f in fields {
            if !seen.fresh(self.cx, codes::DUPLICATE_FIELD, "field", &f.name) {
                continue;
            }
            match rec.field(&f.name.name) {
                Some(def) => self.check(&f.value, &def.ty),
                None => {
                    let names: Vec<&str> =
                        rec.fields.iter().map(|f| f.name.name.as_str()).collect();
                    let help = did_you_mean(&f.name.name, names);
                    let rname = rec.name.name.clone();
                    self.cx.report(
                        codes::UNKNOWN_FIELD,
                        f.name.span,
                        format!(
                            "record `{rname}` of version {version} has no field `{}`",
                            f.name.name
                        ),
                        |d| d.label("unknown field").maybe_help(help),
                    );
                    self.infer(&f.value, None);
                }
            }
        }
        let missing: Vec<&str> = rec
            .fields
            .iter()
            .filter(|d| !fields.iter().any(|f| f.name.name == d.name.name))
            .map(|d| d.name.name.as_str())
            .collect();
        if !missing.is_empty() {
            let rname = rec.name.name.clone();
            let list = missing.join("`, `");
            let rspan = rec.name.span;
            self.cx.report(
                codes::MISSING_FIELD,
                span,
                format!(
                    "record `{rname}` is missing field{} `{list}`",
                    if missing.len() == 1 { "" } else { "s" }
                ),
                |d| {
                    d.label("every field must be given")
                        .also(
                            rspan,
                            format!("`{rname}` of version {version} declared here"),
                        )
                        .help("give a value for each field; `none` fits an `option`")
                },
            );
        }
        Ty::named(version, &rec.name.name)
    }

    pub(super) fn variant(
        &mut self,
        span: Span,
        path: &[Ident],
        payload: Option<&Expr>,
        hint: Option<&Ty>,
    ) -> Ty {
        let (type_path, variant) = match path.split_last() {
            Some((v, rest)) if !rest.is_empty() => (rest, v),
            _ => return Ty::Unknown,
        };
        let resolved = self.resolve_named(span, type_path, hint, "enum");
        let en = resolved
            .as_ref()
            .and_then(|(v, n)| self.types.env(*v).and_then(|e| e.enums.get(&n.name)));
        let Some(en) = en else {
            if let Some((_, n)) = &resolved {
                self.cx.report(
                    codes::UNKNOWN_TYPE,
                    n.span,
                    format!("`{}` is a record, not an enum", n.name),
                    |d| {
                        d.label("a record").help(format!(
                            "build a record with `{} {{ field: value }}`",
                            n.name
                        ))
                    },
                );
            }
            if let Some(p) = payload {
                self.infer(p, None);
            }
            return Ty::Unknown;
        };
        let version = resolved.map_or(self.home, |(v, _)| v);
        let ty = Ty::named(version, &en.name.name);
        match en.variant(&variant.name) {
            None => {
                let names: Vec<&str> = en.variants.iter().map(|v| v.name.name.as_str()).collect();
                let help = did_you_mean(&variant.name, names.iter().copied());
                let (ename, list) = (en.name.name.clone(), names.join("`, `"));
                self.cx.report(
                    codes::UNKNOWN_VARIANT,
                    variant.span,
                    format!("enum `{ename}` has no variant `{}`", variant.name),
                    |d| {
                        d.label("unknown variant")
                            .note(format!("its variants are `{list}`"))
                            .maybe_help(help)
                    },
                );
                if let Some(p) = payload {
                    self.infer(p, None);
                }
            }
            Some(def) => match (&def.payload, payload) {
                (Some(t), Some(p)) => {
                    let t = t.clone();
                    self.check(p, &t);
                }
                (None, None) => {}
                (Some(t), None) => {
                    let names = (en.name.name.as_str(), variant.name.as_str());
                    let help = format!("write `{}::{}(...)`", names.0, names.1);
                    self.payload_mismatch(span, names, Some(t), "payload missing", help);
                }
                (None, Some(p)) => {
                    let names = (en.name.name.as_str(), variant.name.as_str());
                    let help = format!("write `{}::{}`", names.0, names.1);
                    self.payload_mismatch(p.span, names, None, "unexpected payload", help);
                    self.infer(p, None);
                }
            },
        }
        ty
    }

    /// Reports a variant written with a payload it does not carry (`carried`: `None`) or
    /// without the one it carries, in an expression or a pattern: the message is the same for
    /// both, the label and the help are the site's.
    pub(super) fn payload_mismatch(
        &mut self,
        at: Span,
        (ename, vname): (&str, &str),
        carried: Option<&Ty>,
        label: &str,
        help: String,
    ) {
        let message = match carried {
            Some(t) => format!("variant `{ename}::{vname}` carries a `{t}`"),
            None => format!("variant `{ename}::{vname}` carries no payload"),
        };
        self.cx.report(codes::PAYLOAD_MISMATCH, at, message, |d| {
            d.label(label).help(help)
        });
    }
}
