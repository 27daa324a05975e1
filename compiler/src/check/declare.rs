//! Resolves the declarations of each version (records, enums, services, state) into a
//! [`VersionEnv`], reporting duplicates, unknown types, bad map keys and infinite records;
//! and reads the protocol.

use super::suggest::did_you_mean;
use super::{Cx, Seen, DEFAULT_FRAMING};
use crate::model::*;
use lang::ast::{self, Decl, Ident, Spec, TypeExpr, TypeExprKind};
use lang::diagnostic::codes;
use lang::span::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Type names declared by each version, known before any field is resolved.
pub(crate) struct TypeNames {
    pub by_version: BTreeMap<u64, BTreeSet<String>>,
    /// The enum names among them (enums can key maps; records cannot).
    pub enums: BTreeMap<u64, BTreeSet<String>>,
}

impl TypeNames {
    fn defines(&self, version: u64, name: &str) -> bool {
        self.by_version
            .get(&version)
            .is_some_and(|s| s.contains(name))
    }
}

/// Resolves the old and new version blocks of `spec`.
pub(crate) fn versions(cx: &mut Cx, spec: &Spec) -> (VersionEnv, VersionEnv) {
    let wanted = [spec.from.value, spec.to.value];
    let mut seen: HashMap<u64, Span> = HashMap::new();
    let mut blocks: Vec<&ast::VersionBlock> = Vec::new();
    for block in spec.versions() {
        let n = block.number.value;
        if let Some(first) = seen.get(&n) {
            cx.given_twice(&format!("version {n}"), block.number.span, *first, None);
            continue;
        }
        seen.insert(n, block.number.span);
        if !wanted.contains(&n) {
            cx.report(
                codes::STRAY_VERSION,
                block.number.span,
                format!("version {n} is not part of this upgrade"),
                |d| {
                    d.label(format!(
                        "the header upgrades {} -> {}",
                        spec.from.value, spec.to.value
                    ))
                    .also(spec.header_span, "header")
                    .help("each spec describes exactly the two versions of its header")
                },
            );
            continue;
        }
        blocks.push(block);
    }
    let mut names = TypeNames {
        by_version: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    for block in &blocks {
        let set = names.by_version.entry(block.number.value).or_default();
        for decl in &block.decls {
            match decl {
                Decl::Record(r) => {
                    set.insert(r.name.name.clone());
                }
                Decl::Enum(e) => {
                    set.insert(e.name.name.clone());
                    names
                        .enums
                        .entry(block.number.value)
                        .or_default()
                        .insert(e.name.name.clone());
                }
                _ => {}
            }
        }
    }
    let mut envs = Vec::new();
    for &n in &wanted {
        match blocks.iter().find(|b| b.number.value == n) {
            Some(block) => envs.push(version_env(cx, block, &names, &wanted)),
            None => {
                cx.report(
                    codes::MISSING_VERSION,
                    spec.header_span,
                    format!("version {n} has no `version {n} {{ ... }}` block"),
                    |d| {
                        d.label(format!("the header names version {n}"))
                            .help(format!("declare the interface and state of version {n} in a `version {n}` block"))
                    },
                );
                envs.push(VersionEnv::empty(n, spec.header_span));
            }
        }
    }
    let new = envs
        .pop()
        .unwrap_or_else(|| VersionEnv::empty(spec.to.value, spec.header_span));
    let old = envs
        .pop()
        .unwrap_or_else(|| VersionEnv::empty(spec.from.value, spec.header_span));
    (old, new)
}

fn version_env(
    cx: &mut Cx,
    block: &ast::VersionBlock,
    names: &TypeNames,
    wanted: &[u64],
) -> VersionEnv {
    let v = block.number.value;
    let mut env = VersionEnv::empty(v, block.span);
    let mut type_spans: HashMap<&str, Span> = HashMap::new();
    let resolver = Resolver {
        version: v,
        names,
        wanted,
    };
    for decl in &block.decls {
        // Records and enums share one namespace: the first of a name is the type.
        if let Decl::Record(ast::RecordDecl { name, .. }) | Decl::Enum(ast::EnumDecl { name, .. }) =
            decl
        {
            if let Some(first) = type_spans.get(name.name.as_str()) {
                cx.duplicate(codes::DUPLICATE_TYPE, "type", name, *first);
                continue;
            }
            type_spans.insert(&name.name, name.span);
        }
        match decl {
            Decl::Record(r) => {
                let fields = resolver.fields(cx, &r.fields, "field");
                env.records.insert(
                    r.name.name.clone(),
                    RecordDef {
                        name: r.name.clone(),
                        fields,
                        span: r.span,
                    },
                );
            }
            Decl::Enum(e) => {
                let mut seen = Seen::default();
                let mut variants = Vec::new();
                for variant in &e.variants {
                    if !seen.fresh(cx, codes::DUPLICATE_FIELD, "variant", &variant.name) {
                        continue;
                    }
                    let payload = variant.payload.as_ref().map(|t| resolver.ty(cx, t));
                    variants.push(VariantDef {
                        name: variant.name.clone(),
                        payload,
                    });
                }
                env.enums.insert(
                    e.name.name.clone(),
                    EnumDef {
                        name: e.name.clone(),
                        variants,
                        span: e.span,
                    },
                );
            }
            Decl::Service(s) => {
                if let Some(first) = env.services.get(&s.name.name) {
                    let first = first.name.span;
                    cx.duplicate(codes::DUPLICATE_METHOD, "service", &s.name, first);
                    continue;
                }
                let mut methods: Vec<MethodDef> = Vec::new();
                let mut seen = Seen::default();
                for m in &s.methods {
                    if !seen.fresh(cx, codes::DUPLICATE_METHOD, "method", &m.name) {
                        continue;
                    }
                    let params = resolver.fields(cx, &m.params, "parameter");
                    let ret = m.ret.as_ref().map_or(Ty::Unit, |t| resolver.ty(cx, t));
                    // Diagnostics point at the signature, not at a model below it.
                    let span = match (&m.model, &m.ret) {
                        (Some(_), Some(t)) => Span::new(m.span.start, t.span.end),
                        (Some(model), None) => Span::new(m.span.start, model.span.start),
                        (None, _) => m.span,
                    };
                    methods.push(MethodDef {
                        name: m.name.clone(),
                        params,
                        ret,
                        model: m.model.clone(),
                        span,
                        changed: m.changed.filter(|_| resolver.is_new()),
                        renamed_from: m.renamed_from.clone().filter(|_| resolver.is_new()),
                    });
                }
                env.services.insert(
                    s.name.name.clone(),
                    ServiceDef {
                        name: s.name.clone(),
                        methods,
                        span: s.span,
                    },
                );
            }
            Decl::State(st) => {
                if let Some(first) = &env.state {
                    let first = first.span;
                    cx.report(
                        codes::DUPLICATE_ITEM,
                        st.span,
                        format!("version {v} declares its state twice"),
                        |d| {
                            d.label("declared again here")
                                .also(first, "first declared here")
                        },
                    );
                    continue;
                }
                let fields = resolver.fields(cx, &st.fields, "state field");
                env.state = Some(StateDef {
                    storage: st.storage.unwrap_or(lang::ast::StateStorage::Json),
                    fields,
                    wellformed: st.wellformed.clone(),
                    span: st.span,
                });
            }
        }
    }
    infinite_records(cx, &env);
    env
}

/// Resolves type expressions written inside one version block.
pub(crate) struct Resolver<'a> {
    pub version: u64,
    pub names: &'a TypeNames,
    pub wanted: &'a [u64],
}

impl Resolver<'_> {
    /// Whether this resolves the new version of the spec, the one whose `changed` marks count
    /// (a version block copied along a chain keeps the marks of its own upgrade).
    fn is_new(&self) -> bool {
        self.wanted.last() == Some(&self.version)
    }

    fn fields(&self, cx: &mut Cx, fields: &[ast::Field], what: &str) -> Vec<FieldDef> {
        let mut out: Vec<FieldDef> = Vec::new();
        let mut seen = Seen::default();
        for f in fields {
            if !seen.fresh(cx, codes::DUPLICATE_FIELD, what, &f.name) {
                continue;
            }
            let ty = self.ty(cx, &f.ty);
            out.push(FieldDef {
                name: f.name.clone(),
                ty,
                changed: f.changed.filter(|_| self.is_new()),
                renamed_from: f.renamed_from.clone().filter(|_| self.is_new()),
            });
        }
        out
    }

    pub fn ty(&self, cx: &mut Cx, t: &TypeExpr) -> Ty {
        match &t.kind {
            TypeExprKind::Tuple(items) if items.is_empty() => Ty::Unit,
            TypeExprKind::Tuple(items) => Ty::Tuple(items.iter().map(|i| self.ty(cx, i)).collect()),
            TypeExprKind::Named { path, args } => self.named(cx, t.span, path, args),
        }
    }

    fn named(&self, cx: &mut Cx, span: Span, path: &[Ident], args: &[TypeExpr]) -> Ty {
        let (version, name) = match path {
            [name] => (self.version, name),
            [qualifier, name] => {
                match parse_qualifier(&qualifier.name).filter(|v| self.wanted.contains(v)) {
                    Some(v) => (v, name),
                    None => {
                        self.unknown(cx, qualifier, "version qualifier");
                        return Ty::Unknown;
                    }
                }
            }
            _ => {
                let last = path.last().map_or("", |i| i.name.as_str());
                cx.report(
                    codes::UNKNOWN_TYPE,
                    span,
                    format!("unknown type path ending in `{last}`"),
                    |d| {
                        d.label("not a type").help(
                            "a type is a name, optionally qualified by its version: `v1::Entry`",
                        )
                    },
                );
                return Ty::Unknown;
            }
        };
        let builtin_arity = match name.name.as_str() {
            "bool" | "i64" | "u64" | "f64" | "string" | "bytes" | "unit" => Some(0),
            "option" | "list" | "set" => Some(1),
            "map" => Some(2),
            _ => None,
        };
        let arity = builtin_arity.unwrap_or(0);
        if (path.len() == 1 || builtin_arity.is_none()) && args.len() != arity {
            let plural = if arity == 1 { "" } else { "s" };
            cx.report(
                codes::TYPE_ARITY,
                span,
                format!(
                    "type `{}` takes {arity} type argument{plural}, found {}",
                    name.name,
                    args.len()
                ),
                |d| {
                    d.label(format!("{} given", args.len()))
                        .maybe_help(match name.name.as_str() {
                            "map" => Some("write `map<K, V>`".to_string()),
                            "option" | "list" | "set" => Some(format!("write `{}<T>`", name.name)),
                            _ => None,
                        })
                },
            );
            return Ty::Unknown;
        }
        let arg = |i: usize, cx: &mut Cx| args.get(i).map_or(Ty::Unknown, |a| self.ty(cx, a));
        let ty = match name.name.as_str() {
            "bool" => Ty::Bool,
            "i64" => Ty::I64,
            "u64" => Ty::U64,
            "f64" => Ty::F64,
            "string" => Ty::Str,
            "bytes" => Ty::Bytes,
            "unit" => Ty::Unit,
            "option" => Ty::Option(Box::new(arg(0, cx))),
            "list" => Ty::List(Box::new(arg(0, cx))),
            "set" => {
                let elem = arg(0, cx);
                if matches!(elem, Ty::F64) {
                    let elem_span = args.first().map_or(span, |a| a.span);
                    cx.report(
                        codes::BAD_MAP_KEY,
                        elem_span,
                        "`f64` cannot be a set element",
                        |d| {
                            d.label("floats have no exact equality")
                                .help("store the values in a `list<f64>`, or scale them to `i64`")
                        },
                    );
                }
                Ty::Set(Box::new(elem))
            }
            "map" => {
                let key = arg(0, cx);
                if !self.is_key_type(&key) {
                    let key_span = args.first().map_or(span, |a| a.span);
                    cx.report(
                        codes::BAD_MAP_KEY,
                        key_span,
                        format!("`{key}` cannot be a map key"),
                        |d| {
                            d.label("not a key type")
                                .note("map keys are `string`, `i64`, `u64`, `bool` or an enum")
                                .help(
                                    "key the map by a field of the value, or use a `list` of pairs",
                                )
                        },
                    );
                }
                Ty::Map(Box::new(key), Box::new(arg(1, cx)))
            }
            other if self.names.defines(version, other) => Ty::named(version, other),
            _ => {
                self.unknown(cx, name, "type");
                Ty::Unknown
            }
        };
        ty
    }

    /// Map keys become JSON object keys: strings, integers, booleans and enums qualify.
    fn is_key_type(&self, t: &Ty) -> bool {
        match t {
            Ty::Str | Ty::I64 | Ty::U64 | Ty::Bool | Ty::Unknown => true,
            Ty::Named(r) => self
                .names
                .enums
                .get(&r.version)
                .is_some_and(|e| e.contains(&r.name)),
            _ => false,
        }
    }

    fn unknown(&self, cx: &mut Cx, name: &Ident, what: &str) {
        let mut candidates: Vec<&str> = Ty::BUILTIN_NAMES.to_vec();
        if let Some(names) = self.names.by_version.get(&self.version) {
            candidates.extend(names.iter().map(String::as_str));
        }
        let other = self
            .wanted
            .iter()
            .copied()
            .find(|v| *v != self.version && self.names.defines(*v, &name.name));
        cx.report(codes::UNKNOWN_TYPE, name.span, format!("unknown {what} `{}`", name.name), |d| {
            let d = d.label(format!("not defined in version {}", self.version));
            match other {
                Some(v) => d.note(format!("`{}` is defined in version {v}", name.name)).help(format!(
                    "a version's interface may only use its own types: declare `{}` in version {} too",
                    name.name, self.version
                )),
                None => d.maybe_help(did_you_mean(&name.name, candidates)),
            }
        });
    }
}

/// `v12` -> 12
pub(crate) fn parse_qualifier(text: &str) -> Option<u64> {
    text.strip_prefix('v').and_then(|n| n.parse().ok())
}

/// A record that contains itself through fields and tuples only can never be built.
fn infinite_records(cx: &mut Cx, env: &VersionEnv) {
    fn reaches(env: &VersionEnv, ty: &Ty, target: &str, seen: &mut BTreeSet<String>) -> bool {
        match ty {
            Ty::Named(r) if r.version == env.number => {
                if r.name == target {
                    return true;
                }
                if !seen.insert(r.name.clone()) {
                    return false;
                }
                env.records
                    .get(&r.name)
                    .is_some_and(|rec| rec.fields.iter().any(|f| reaches(env, &f.ty, target, seen)))
            }
            Ty::Tuple(items) => items.iter().any(|t| reaches(env, t, target, seen)),
            _ => false,
        }
    }
    for rec in env.records.values() {
        let mut seen = BTreeSet::new();
        if let Some(field) = rec
            .fields
            .iter()
            .find(|f| reaches(env, &f.ty, &rec.name.name, &mut seen))
        {
            let name = rec.name.name.clone();
            cx.report(codes::INFINITE_RECORD, rec.name.span, format!("record `{name}` contains itself"), |d| {
                d.label("infinitely large")
                    .also(field.name.span, "through this field")
                    .help(format!("make the field an `option<...>` or a `list<...>` so a value of `{name}` can end"))
            });
        }
    }
}

/// The framing of the spec's protocol (JSON-RPC 2.0 is the one codec so far).
pub(crate) fn protocol(cx: &mut Cx, spec: &Spec) -> Framing {
    let mut framing = DEFAULT_FRAMING;
    let mut first: Option<Span> = None;
    for p in spec.protocols() {
        if let Some(first) = first {
            cx.given_twice("the protocol", p.name.span, first, None);
            continue;
        }
        first = Some(p.name.span);
        if p.name.name != "jsonrpc" {
            cx.report(
                codes::UNKNOWN_PROTOCOL,
                p.name.span,
                format!("unknown protocol `{}`", p.name.name),
                |d| {
                    d.label("not a known protocol")
                        .note("known protocols: `jsonrpc` (JSON-RPC 2.0 over TCP)")
                        .maybe_help(did_you_mean(&p.name.name, ["jsonrpc"]))
                },
            );
        }
        for (key, value) in &p.options {
            match (key.name.as_str(), value.name.as_str()) {
                ("framing", "lines") => framing = Framing::Lines,
                ("framing", "length") => framing = Framing::LengthPrefixed,
                ("framing", other) => cx.report(
                    codes::UNKNOWN_PROTOCOL,
                    value.span,
                    format!("unknown framing `{other}`"),
                    |d| {
                        d.label("not a framing")
                            .note("framings: `lines` (newline-delimited) and `length` (4-byte length prefix)")
                            .maybe_help(did_you_mean(other, ["lines", "length"]))
                    },
                ),
                (other, _) => cx.report(
                    codes::UNKNOWN_PROTOCOL,
                    key.span,
                    format!("unknown protocol option `{other}`"),
                    |d| d.label("not an option of `jsonrpc`").maybe_help(did_you_mean(other, ["framing"])),
                ),
            }
        }
    }
    framing
}
