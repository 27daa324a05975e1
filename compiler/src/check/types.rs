//! Type comparison across the two versions of a spec. A record or enum that is the same in
//! both versions is one type ("unchanged: translates itself"); one that changed is two types,
//! and is never converted implicitly.

use super::Cx;
use crate::model::{
    Conversion, FunctionDef, NamedConversion, NamedConversions, SpecModel, Ty, TypeRef, VersionEnv,
};
use lang::diagnostic::codes;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Why two types differ.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mismatch {
    /// The same name in two versions, but the declaration changed.
    Changed {
        name: String,
        actual: u64,
        expected: u64,
    },
    Different,
}

/// Compares types of a spec's two versions.
pub(crate) struct Types<'a> {
    pub old: &'a VersionEnv,
    pub new: &'a VersionEnv,
    /// The spec's helper functions (none when built from two versions alone).
    pub functions: &'a BTreeMap<String, FunctionDef>,
    /// Whether `changed` marks make declarations differ (within a spec; not when comparing
    /// the same version across the specs of a chain).
    marks: bool,
    assumed: RefCell<BTreeSet<(TypeRef, TypeRef)>>,
}

/// The names of the records and enums declared identically in both versions.
pub(crate) fn unchanged_types(model: &SpecModel) -> std::collections::BTreeSet<String> {
    let types = Types::new(model);
    model
        .old
        .records
        .keys()
        .chain(model.old.enums.keys())
        .filter(|n| types.unchanged(n))
        .cloned()
        .collect()
}

impl<'a> Types<'a> {
    pub fn new(model: &'a SpecModel) -> Self {
        Types {
            functions: &model.functions,
            marks: true,
            ..Types::of(&model.old, &model.new)
        }
    }

    pub fn of(old: &'a VersionEnv, new: &'a VersionEnv) -> Self {
        static NO_FUNCTIONS: BTreeMap<String, FunctionDef> = BTreeMap::new();
        Types {
            old,
            new,
            functions: &NO_FUNCTIONS,
            marks: false,
            assumed: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn env(&self, version: u64) -> Option<&'a VersionEnv> {
        if self.old.number == version {
            Some(self.old)
        } else if self.new.number == version {
            Some(self.new)
        } else {
            None
        }
    }

    /// `Ok` when a value of `actual` can be used where `expected` is wanted.
    pub fn compare(&self, actual: &Ty, expected: &Ty) -> Result<(), Mismatch> {
        use Ty::*;
        match (actual, expected) {
            (Unknown, _) | (_, Unknown) => Ok(()),
            (Bool, Bool)
            | (I64, I64)
            | (U64, U64)
            | (F64, F64)
            | (Str, Str)
            | (Bytes, Bytes)
            | (Unit, Unit) => Ok(()),
            (Option(a), Option(b)) | (List(a), List(b)) | (Set(a), Set(b)) => self.compare(a, b),
            (Map(ak, av), Map(bk, bv)) => self.compare(ak, bk).and_then(|_| self.compare(av, bv)),
            (Tuple(a), Tuple(b)) if a.len() == b.len() => {
                a.iter().zip(b).try_for_each(|(x, y)| self.compare(x, y))
            }
            (State(a), State(b)) if a == b => Ok(()),
            (Named(a), Named(b)) if a == b => Ok(()),
            (Named(a), Named(b)) if a.name == b.name => {
                if self.same_decl(a, b) {
                    Ok(())
                } else {
                    Err(Mismatch::Changed {
                        name: a.name.clone(),
                        actual: a.version,
                        expected: b.version,
                    })
                }
            }
            _ => Err(Mismatch::Different),
        }
    }

    /// How a value of `actual` converts to `expected` when the two differ only by fields
    /// renamed with `renamed from` (in records, and in the records and enums they contain);
    /// `None` when anything else differs. Record and enum conversions go into `table`, which is
    /// left as it was when there is none.
    pub fn conversion(
        &self,
        actual: &Ty,
        expected: &Ty,
        table: &mut NamedConversions,
    ) -> Option<Conversion> {
        if !self.marks {
            return None;
        }
        let before = table.clone();
        let c = self.convert(actual, expected, table);
        if c.is_none() {
            *table = before;
        }
        c
    }

    fn convert(&self, a: &Ty, b: &Ty, table: &mut NamedConversions) -> Option<Conversion> {
        if self.same(a, b) {
            return Some(Conversion::Same);
        }
        let inner = |x: &Ty, y: &Ty, t: &mut NamedConversions| self.convert(x, y, t).map(Box::new);
        Some(match (a, b) {
            (Ty::Option(x), Ty::Option(y)) => Conversion::Option(inner(x, y, table)?),
            (Ty::List(x), Ty::List(y)) => Conversion::List(inner(x, y, table)?),
            (Ty::Set(x), Ty::Set(y)) => Conversion::Set(inner(x, y, table)?),
            (Ty::Map(k, x), Ty::Map(l, y)) if self.same(k, l) => {
                Conversion::Map(inner(x, y, table)?)
            }
            (Ty::Tuple(xs), Ty::Tuple(ys)) if xs.len() == ys.len() => {
                let mut items = Vec::new();
                for (x, y) in xs.iter().zip(ys) {
                    items.push(self.convert(x, y, table)?);
                }
                Conversion::Tuple(items)
            }
            (Ty::Named(ra), Ty::Named(rb)) if ra.name == rb.name && ra.version != rb.version => {
                let key = (ra.name.clone(), ra.version, rb.version);
                if !table.contains_key(&key) {
                    // Assumed while it is worked out, so a record containing itself ends.
                    table.insert(key.clone(), NamedConversion::Record(Vec::new()));
                    let named = self.convert_named(ra, rb, table)?;
                    table.insert(key, named);
                }
                Conversion::Named {
                    name: ra.name.clone(),
                    from: ra.version,
                    to: rb.version,
                }
            }
            _ => return None,
        })
    }

    fn convert_named(
        &self,
        ra: &TypeRef,
        rb: &TypeRef,
        table: &mut NamedConversions,
    ) -> Option<NamedConversion> {
        let (ea, eb) = (self.env(ra.version)?, self.env(rb.version)?);
        if let (Some(a), Some(b)) = (ea.records.get(&ra.name), eb.records.get(&rb.name)) {
            if a.fields.len() != b.fields.len() {
                return None;
            }
            let from_old = ra.version == self.old.number;
            let mut fields = Vec::new();
            for fa in &a.fields {
                let fb = if from_old {
                    crate::model::field_from(&b.fields, &fa.name.name)
                } else {
                    let old_name = fa.renamed_from.as_ref().unwrap_or(&fa.name);
                    b.field(&old_name.name)
                }?;
                if self.marked(fa.changed.or(fb.changed)) {
                    return None;
                }
                let c = self.convert(&fa.ty, &fb.ty, table)?;
                fields.push((fa.name.name.clone(), fb.name.name.clone(), c));
            }
            return Some(NamedConversion::Record(fields));
        }
        let (a, b) = (ea.enums.get(&ra.name)?, eb.enums.get(&rb.name)?);
        if a.variants.len() != b.variants.len() {
            return None;
        }
        let mut variants = Vec::new();
        for va in &a.variants {
            let vb = b.variant(&va.name.name)?;
            let payload = match (&va.payload, &vb.payload) {
                (None, None) => None,
                (Some(x), Some(y)) => Some(self.convert(x, y, table)?),
                _ => return None,
            };
            variants.push((va.name.name.clone(), payload));
        }
        Some(NamedConversion::Enum(variants))
    }

    /// Whether a value of `actual` is one of `expected`, or converts to it (renamed fields).
    pub fn fits(&self, actual: &Ty, expected: &Ty) -> bool {
        self.same(actual, expected)
            || self
                .conversion(actual, expected, &mut NamedConversions::new())
                .is_some()
    }

    /// Whether a `changed` mark (of a field or method) makes its declaration differ here.
    pub fn marked(&self, mark: Option<lang::span::Span>) -> bool {
        self.marks && mark.is_some()
    }

    pub fn same(&self, a: &Ty, b: &Ty) -> bool {
        self.compare(a, b).is_ok()
    }

    /// Whether the named type is declared identically in both versions.
    pub fn unchanged(&self, name: &str) -> bool {
        let a = TypeRef {
            version: self.old.number,
            name: name.to_string(),
        };
        let b = TypeRef {
            version: self.new.number,
            name: name.to_string(),
        };
        self.old.defines_type(name) && self.new.defines_type(name) && self.same_decl(&a, &b)
    }

    /// Structural equality of two declarations, assuming equality on cycles.
    fn same_decl(&self, a: &TypeRef, b: &TypeRef) -> bool {
        let key = (a.clone(), b.clone());
        if self.assumed.borrow().contains(&key) {
            return true;
        }
        let (Some(ea), Some(eb)) = (self.env(a.version), self.env(b.version)) else {
            return false;
        };
        self.assumed.borrow_mut().insert(key.clone());
        let result = match (ea.records.get(&a.name), eb.records.get(&b.name)) {
            (Some(ra), Some(rb)) => {
                ra.fields.len() == rb.fields.len()
                    && ra.fields.iter().all(|fa| {
                        rb.field(&fa.name.name).is_some_and(|fb| {
                            self.same(&fa.ty, &fb.ty) && !self.marked(fa.changed.or(fb.changed))
                        })
                    })
            }
            (None, None) => match (ea.enums.get(&a.name), eb.enums.get(&b.name)) {
                (Some(xa), Some(xb)) => {
                    xa.variants.len() == xb.variants.len()
                        && xa.variants.iter().all(|va| {
                            xb.variant(&va.name.name).is_some_and(|vb| {
                                match (&va.payload, &vb.payload) {
                                    (None, None) => true,
                                    (Some(pa), Some(pb)) => self.same(pa, pb),
                                    _ => false,
                                }
                            })
                        })
                }
                _ => false,
            },
            _ => false,
        };
        self.assumed.borrow_mut().remove(&key);
        result
    }
}

/// A field of a record that the new version drops is data the upgrade loses: warn, naming it.
pub(crate) fn lossy_records(cx: &mut Cx, model: &SpecModel) {
    for (name, old) in &model.old.records {
        let Some(new) = model.new.records.get(name) else {
            continue;
        };
        for field in &old.fields {
            if crate::model::field_from(&new.fields, &field.name.name).is_none() {
                let (rec, fname) = (name.clone(), field.name.name.clone());
                let new_span = new.name.span;
                cx.report(
                    codes::LOSSY_CONVERSION,
                    field.name.span,
                    format!(
                        "field `{fname}` of record `{rec}` is dropped in version {}",
                        model.new.number
                    ),
                    |d| {
                        d.label("this data is lost when a value crosses to the new version")
                            .also(
                                new_span,
                                format!("version {} has no `{fname}`", model.new.number),
                            )
                            .note("values taken old -> new -> old will not come back equal")
                    },
                );
            }
        }
    }
}
