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
    /// The checked type of every expression, by its id (the type of an expression that had an
    /// error is [`Ty::Unknown`]).
    pub expr_types: std::collections::HashMap<lang::ast::ExprId, Ty>,
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
