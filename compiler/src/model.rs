//! The checked model of a spec: resolved types and the declarations of each version.
//! Produced by `check`, consumed by later stages (evaluation, code generation, verification).

use lang::ast::Ident;
use lang::span::{FileId, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A named type: a record or enum of one version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeRef {
    pub version: u64,
    pub name: String,
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    I64,
    U64,
    F64,
    Str,
    Bytes,
    Unit,
    Option(Box<Ty>),
    List(Box<Ty>),
    Set(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    Tuple(Vec<Ty>),
    Named(TypeRef),
    /// The persistent state of a version (`old` and `new` in transforms and invariants).
    State(u64),
    /// Not known: `none`, `[]`, `disallow`, or a part that already had an error. Fits anything,
    /// so one mistake gives one diagnostic.
    Unknown,
}

impl Ty {
    pub fn named(version: u64, name: &str) -> Ty {
        Ty::Named(TypeRef {
            version,
            name: name.to_string(),
        })
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::I64 | Ty::U64 | Ty::F64 | Ty::Unknown)
    }

    /// Scalar names that users write in type positions.
    pub const BUILTIN_NAMES: &'static [&'static str] = &[
        "bool", "i64", "u64", "f64", "string", "bytes", "unit", "option", "list", "set", "map",
    ];
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Bool => write!(f, "bool"),
            Ty::I64 => write!(f, "i64"),
            Ty::U64 => write!(f, "u64"),
            Ty::F64 => write!(f, "f64"),
            Ty::Str => write!(f, "string"),
            Ty::Bytes => write!(f, "bytes"),
            Ty::Unit => write!(f, "unit"),
            Ty::Option(t) => write!(f, "option<{t}>"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Set(t) => write!(f, "set<{t}>"),
            Ty::Map(k, v) => write!(f, "map<{k}, {v}>"),
            Ty::Tuple(items) => {
                write!(f, "(")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, ")")
            }
            Ty::Named(r) => write!(f, "v{}::{}", r.version, r.name),
            Ty::State(v) => write!(f, "state of version {v}"),
            Ty::Unknown => write!(f, "_"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: Ident,
    pub ty: Ty,
    /// Where the new version says `changed` before the field: its meaning changed, so the
    /// record (or state) counts as changed whatever its types. Always `None` in the old version.
    pub changed: Option<Span>,
    /// `renamed from old`: the old version's field `old` under a new name. Always `None` in the
    /// old version.
    pub renamed_from: Option<Ident>,
}

/// The field of `fields` (a new version's) that is the old version's field `old`: the one
/// renamed from it, else the one of its name that is not itself renamed.
pub fn field_from<'a>(fields: &'a [FieldDef], old: &str) -> Option<&'a FieldDef> {
    fields
        .iter()
        .find(|f| f.renamed_from.as_ref().is_some_and(|o| o.name == old))
        .or_else(|| {
            fields
                .iter()
                .find(|f| f.name.name == old && f.renamed_from.is_none())
        })
}

/// How a value of one version becomes a value of the other where their types differ only by
/// `renamed from` (fields renamed, nothing else changed): the checker records one where such a
/// value is used as the other version's, the evaluator and the generated code apply it.
#[derive(Debug, Clone, PartialEq)]
pub enum Conversion {
    /// Nothing to convert.
    Same,
    /// A record or enum, by the table entry `(name, from version, to version)`.
    Named {
        name: String,
        from: u64,
        to: u64,
    },
    Option(Box<Conversion>),
    List(Box<Conversion>),
    Set(Box<Conversion>),
    /// The values of a map (keys are never renamed records).
    Map(Box<Conversion>),
    Tuple(Vec<Conversion>),
}

/// The conversion of one record or enum between the versions.
#[derive(Debug, Clone, PartialEq)]
pub enum NamedConversion {
    /// `(field in the source version, field in the target version, its conversion)`.
    Record(Vec<(String, String, Conversion)>),
    /// `(variant, its payload's conversion)`.
    Enum(Vec<(String, Option<Conversion>)>),
}

/// The conversions of records and enums, by `(name, from version, to version)`.
pub type NamedConversions = BTreeMap<(String, u64, u64), NamedConversion>;

/// How a call passed through to the other version converts: each argument to the reachable
/// version's parameter type, and the answer back to the caller's result type.
#[derive(Debug, Clone, PartialEq)]
pub struct PassConversion {
    pub args: Vec<Conversion>,
    pub ret: Conversion,
}

/// The signature of a top-level helper function (`fn name(params) -> T = body`); its body is
/// the spec's [`lang::ast::Function`] of that name.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub name: Ident,
    pub params: Vec<FieldDef>,
    pub ret: Ty,
}

#[derive(Debug, Clone)]
pub struct RecordDef {
    pub name: Ident,
    pub fields: Vec<FieldDef>,
    pub span: Span,
}

impl RecordDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct VariantDef {
    pub name: Ident,
    pub payload: Option<Ty>,
}

#[derive(Debug, Clone)]
pub struct EnumDef {
    pub name: Ident,
    pub variants: Vec<VariantDef>,
    pub span: Span,
}

impl EnumDef {
    pub fn variant(&self, name: &str) -> Option<&VariantDef> {
        self.variants.iter().find(|v| v.name.name == name)
    }
}

/// The name a method model reads its version's state by (`state.entries`).
pub const STATE_VAR: &str = "state";

#[derive(Debug, Clone)]
pub struct MethodDef {
    pub name: Ident,
    pub params: Vec<FieldDef>,
    pub ret: Ty,
    /// The method's model (its meaning over the version's state), when the spec gives one.
    pub model: Option<lang::ast::MethodModel>,
    /// The signature (without the model).
    pub span: Span,
    /// Where the new version says `changed fn`: the method's meaning changed, so it needs
    /// rules whatever its signature. Always `None` in the old version.
    pub changed: Option<Span>,
    /// `renamed from old`: the new version's name for the old version's method `old`. Always
    /// `None` in the old version.
    pub renamed_from: Option<Ident>,
}

#[derive(Debug, Clone)]
pub struct ServiceDef {
    pub name: Ident,
    pub methods: Vec<MethodDef>,
    pub span: Span,
}

impl ServiceDef {
    pub fn method(&self, name: &str) -> Option<&MethodDef> {
        self.methods.iter().find(|m| m.name.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct StateDef {
    /// How the program stores it (`state sqlite { ... }`); a JSON document when not said.
    pub storage: lang::ast::StateStorage,
    pub fields: Vec<FieldDef>,
    /// `where { clause* }`: what a well-formed state of the version is (boolean clauses over
    /// `state`); `None`: every value of the state's type is one.
    pub wellformed: Option<lang::ast::WellFormed>,
    pub span: Span,
}

impl StateDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name.name == name)
    }
}

/// Everything one version declares.
#[derive(Debug, Clone)]
pub struct VersionEnv {
    pub number: u64,
    pub span: Span,
    pub records: BTreeMap<String, RecordDef>,
    pub enums: BTreeMap<String, EnumDef>,
    pub services: BTreeMap<String, ServiceDef>,
    pub state: Option<StateDef>,
}

impl VersionEnv {
    pub fn empty(number: u64, span: Span) -> Self {
        VersionEnv {
            number,
            span,
            records: BTreeMap::new(),
            enums: BTreeMap::new(),
            services: BTreeMap::new(),
            state: None,
        }
    }

    pub fn defines_type(&self, name: &str) -> bool {
        self.records.contains_key(name) || self.enums.contains_key(name)
    }

    /// The method `service.name` of this version.
    pub fn method(&self, service: &str, name: &str) -> Option<&MethodDef> {
        self.services.get(service)?.method(name)
    }
}

/// How the shim reads the node's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Lines,
    LengthPrefixed,
}

/// A checked spec: the parsed AST, the resolved versions it bridges and every decision of the
/// checker that later stages (evaluation, verification, code generation, the editor) follow.
/// They read it and never ask the checker again.
#[derive(Debug, Clone)]
pub struct SpecModel {
    pub file: FileId,
    pub spec: lang::ast::Spec,
    pub old: VersionEnv,
    pub new: VersionEnv,
    pub framing: Framing,
    /// The records and enums declared identically in both versions: one type to both, values
    /// flow between versions without conversion.
    pub unchanged_types: BTreeSet<String>,
    /// `(service, method)` of the methods that read and answer the same in both versions:
    /// they need no rules, and their calls pass through to the other version.
    pub unchanged_methods: BTreeSet<(String, String)>,
    /// The helper functions, by name (the first one where a name is defined twice).
    pub functions: BTreeMap<String, FunctionDef>,
    /// The checked type of every expression, by its id (the type of an expression that had an
    /// error is [`Ty::Unknown`]).
    pub expr_types: std::collections::HashMap<lang::ast::ExprId, Ty>,
    /// The expressions whose value is used as the other version's (its type differs only by
    /// `renamed from`), and how it converts.
    pub conversions: std::collections::HashMap<lang::ast::ExprId, Conversion>,
    /// The record and enum conversions those use.
    pub named_conversions: NamedConversions,
    /// Methods that need no rule though their signatures differ by renamed fields, by
    /// `(version of the caller, service, method)`: how their calls convert.
    pub pass_conversions: BTreeMap<(u64, String, String), PassConversion>,
}

impl SpecModel {
    /// The version numbered `version`, if the spec bridges it.
    pub fn env(&self, version: u64) -> Option<&VersionEnv> {
        if self.old.number == version {
            Some(&self.old)
        } else if self.new.number == version {
            Some(&self.new)
        } else {
            None
        }
    }

    /// The same method in the other version than `version`: the one of the same name, or the
    /// one a `renamed from` pairs it with (a renamed method has no counterpart of its own name).
    pub fn counterpart(&self, version: u64, service: &str, method: &str) -> Option<&MethodDef> {
        let (own, other) = if version == self.old.number {
            (&self.old, &self.new)
        } else {
            (&self.new, &self.old)
        };
        let this = own.method(service, method)?;
        let theirs = other.services.get(service)?;
        if version == self.old.number {
            theirs
                .methods
                .iter()
                .find(|m| m.renamed_from.as_ref().is_some_and(|o| o.name == method))
                .or_else(|| theirs.method(method).filter(|m| m.renamed_from.is_none()))
        } else {
            match &this.renamed_from {
                Some(old) => theirs.method(&old.name),
                None => theirs.method(method).filter(|_| {
                    !own.services.get(service).is_some_and(|s| {
                        s.methods
                            .iter()
                            .any(|m| m.renamed_from.as_ref().is_some_and(|o| o.name == method))
                    })
                }),
            }
        }
    }

    /// Whether `service.method` reads and answers the same in both versions.
    pub fn method_unchanged(&self, service: &str, method: &str) -> bool {
        self.unchanged_methods
            .contains(&(service.to_string(), method.to_string()))
    }

    /// The checked type of an expression.
    pub fn type_of(&self, e: &lang::ast::Expr) -> &Ty {
        self.expr_types.get(&e.id).unwrap_or(&Ty::Unknown)
    }
}
