//! Type comparison across the two versions of a spec. A record or enum that is the same in
//! both versions is one type ("unchanged: translates itself"); one that changed is two types,
//! and is never converted implicitly.

use super::Cx;
use crate::model::{FunctionDef, SpecModel, Ty, TypeRef, VersionEnv};
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
