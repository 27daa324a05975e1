//! Hover: what the name under the cursor is. A type shows its declaration in its version; a
//! method shows its signature in both versions (or says which lacks it); a variable, field or
//! expression shows its type; a built-in its signature.

use super::analysis::Analysis;
use super::locate::{target_at, MethodSite, Owner, Target};
use compiler::model::{MethodDef, Ty, TypeRef, VersionEnv};
use lang::ast::RuleKind;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

/// The hover text at byte `offset`, as Markdown.
pub fn hover(a: &Analysis, offset: usize) -> Option<Hover> {
    let model = a.model.as_ref()?;
    let target = target_at(model, offset)?;
    let text = match &target {
        Target::Type { r, .. } => type_doc(a, r)?,
        Target::Variant { r, variant, .. } => {
            let def = a.env(r.version)?.enums.get(&r.name)?.variant(variant)?;
            let payload = def
                .payload
                .as_ref()
                .map(|t| format!("({})", ty_text(t, r.version)))
                .unwrap_or_default();
            format!(
                "{}\n\nvariant of `{}` (version {})",
                code(&format!("{}::{variant}{payload}", r.name)),
                r.name,
                r.version
            )
        }
        Target::Service { name, .. } => service_doc(a, name),
        Target::Method {
            version,
            service,
            name,
            site,
            ..
        } => method_doc(a, *version, service, name, *site),
        Target::Field { owner, name, .. } => field_doc(a, owner, name)?,
        Target::Var { name, ty, .. } | Target::Binding { name, ty, .. } => {
            code(&format!("{name}: {}", ty_text(ty, home(a, ty))))
        }
        Target::Builtin { name, ty, .. } if a.model.as_ref()?.functions.contains_key(name) => {
            let model = a.model.as_ref()?;
            let f = model.functions.get(name)?;
            let v = model.new.number;
            let params: Vec<String> = f
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name.name, ty_text(&p.ty, v)))
                .collect();
            let sig = format!("fn {name}({}) -> {}", params.join(", "), ty_text(&f.ret, v));
            let result = if *ty == Ty::Unknown {
                String::new()
            } else {
                format!("\n\nhere: `{}`", ty_text(ty, home(a, ty)))
            };
            format!("{}\n\nhelper function of this spec{result}", code(&sig))
        }
        Target::Builtin { name, ty, .. } => {
            let b = compiler::builtins::lookup(name)?;
            let (sig, what) = (b.signature, b.doc);
            let result = if *ty == Ty::Unknown {
                String::new()
            } else {
                format!("\n\nhere: `{}`", ty_text(ty, home(a, ty)))
            };
            format!(
                "{}\n\nbuilt-in: {what}; `x.{name}(...)` is `{name}(x, ...)`{result}",
                code(sig)
            )
        }
        Target::Expr { ty, .. } => {
            if *ty == Ty::Unknown {
                return None;
            }
            code(&ty_text(ty, home(a, ty)))
        }
        Target::Allow { name, .. } => {
            let info = lang::diagnostic::codes::ALL
                .iter()
                .find(|i| i.name == name.as_str())?;
            format!(
                "warning `{name}` ({}): {}\n\nallowed for this rule: not reported for it",
                info.code, info.summary
            )
        }
        Target::Differs { name, .. } => format!(
            "record field `{name}`: this rule's answer may differ from the model's in it; `upstartc verify` compares the rest"
        ),
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(a.index.range(&a.text, target.span())),
    })
}

fn code(s: &str) -> String {
    format!("```ups\n{s}\n```")
}

/// The version a type's names are shown unqualified in: the newest one it mentions.
fn home(a: &Analysis, ty: &Ty) -> u64 {
    fn walk(ty: &Ty, out: &mut Option<u64>) {
        match ty {
            Ty::Named(r) => *out = Some(out.map_or(r.version, |v: u64| v.max(r.version))),
            Ty::Option(t) | Ty::List(t) | Ty::Set(t) => walk(t, out),
            Ty::Map(k, v) => {
                walk(k, out);
                walk(v, out);
            }
            Ty::Tuple(items) => items.iter().for_each(|t| walk(t, out)),
            _ => {}
        }
    }
    let mut v = None;
    walk(ty, &mut v);
    v.unwrap_or_else(|| a.model.as_ref().map_or(0, |m| m.new.number))
}

/// A type as the user writes it in version `home`: its own records unqualified, the other
/// version's as `v1::Item`.
pub fn ty_text(ty: &Ty, home: u64) -> String {
    match ty {
        Ty::Named(r) if r.version == home => r.name.clone(),
        Ty::Option(t) => format!("option<{}>", ty_text(t, home)),
        Ty::List(t) => format!("list<{}>", ty_text(t, home)),
        Ty::Set(t) => format!("set<{}>", ty_text(t, home)),
        Ty::Map(k, v) => format!("map<{}, {}>", ty_text(k, home), ty_text(v, home)),
        Ty::Tuple(items) => {
            let parts: Vec<String> = items.iter().map(|t| ty_text(t, home)).collect();
            format!("({})", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn type_doc(a: &Analysis, r: &TypeRef) -> Option<String> {
    let env = a.env(r.version)?;
    let body = if let Some(rec) = env.records.get(&r.name) {
        let fields: Vec<String> = rec
            .fields
            .iter()
            .map(|f| format!("  {}: {},", f.name.name, ty_text(&f.ty, r.version)))
            .collect();
        format!("record {} {{\n{}\n}}", r.name, fields.join("\n"))
    } else {
        let e = env.enums.get(&r.name)?;
        let variants: Vec<String> = e
            .variants
            .iter()
            .map(|v| match &v.payload {
                Some(t) => format!("  {}({}),", v.name.name, ty_text(t, r.version)),
                None => format!("  {},", v.name.name),
            })
            .collect();
        format!("enum {} {{\n{}\n}}", r.name, variants.join("\n"))
    };
    let other = other_env(a, r.version);
    let elsewhere = match other {
        Some(o) if o.defines_type(&r.name) => {
            format!("; version {} declares its own `{}`", o.number, r.name)
        }
        Some(o) => format!("; version {} has no `{}`", o.number, r.name),
        None => String::new(),
    };
    Some(format!(
        "{}\n\nversion {}{elsewhere}",
        code(&body),
        r.version
    ))
}

fn other_env(a: &Analysis, v: u64) -> Option<&VersionEnv> {
    let m = a.model.as_ref()?;
    [&m.old, &m.new].into_iter().find(|e| e.number != v)
}

/// `fn name(a: T) -> R`
pub fn signature(m: &MethodDef, home: u64) -> String {
    let params: Vec<String> = m
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name.name, ty_text(&p.ty, home)))
        .collect();
    format!(
        "fn {}({}) -> {}",
        m.name.name,
        params.join(", "),
        ty_text(&m.ret, home)
    )
}

/// `service.name` of `version` and the same method of the other version (under its name
/// there, when renamed).
fn method_doc(a: &Analysis, version: u64, service: &str, name: &str, site: MethodSite) -> String {
    let mut lines = Vec::new();
    let Some(model) = a.model.as_ref() else {
        return String::new();
    };
    for env in [&model.old, &model.new] {
        let v = env.number;
        let m = if v == version {
            env.method(service, name)
        } else {
            model.counterpart(version, service, name)
        };
        match m {
            Some(m) => lines.push(format!("// version {v}\n{}", signature(m, v))),
            None => lines.push(format!("// version {v}: no `{service}.{name}`")),
        }
    }
    let role = match site {
        MethodSite::Decl => String::new(),
        MethodSite::Rule(RuleKind::Past) => format!(
            "\n\na `past` rule: answers version-{} callers on version-{} nodes",
            model.old.number, model.new.number
        ),
        MethodSite::Rule(RuleKind::Future) => format!(
            "\n\na `future` rule: answers version-{} callers on version-{} nodes",
            model.new.number, model.old.number
        ),
        MethodSite::Call(RuleKind::Past) => {
            format!("\n\n`call` reaches the version-{} object", model.new.number)
        }
        MethodSite::Call(RuleKind::Future) => {
            format!("\n\n`call` reaches the version-{} object", model.old.number)
        }
        MethodSite::RenamedFrom => {
            format!("\n\nversion {}'s name for this method", model.old.number)
        }
    };
    format!(
        "**`{service}.{name}`**\n\n{}{role}",
        code(&lines.join("\n"))
    )
}

fn service_doc(a: &Analysis, name: &str) -> String {
    let Some(model) = a.model.as_ref() else {
        return String::new();
    };
    let mut lines = Vec::new();
    for env in [&model.old, &model.new] {
        match env.services.get(name) {
            Some(s) => {
                lines.push(format!("// version {}", env.number));
                lines.push(format!("service {name} {{"));
                lines.extend(
                    s.methods
                        .iter()
                        .map(|m| format!("  {}", signature(m, env.number))),
                );
                lines.push("}".to_string());
            }
            None => lines.push(format!("// version {}: no service `{name}`", env.number)),
        }
    }
    code(&lines.join("\n"))
}

fn field_doc(a: &Analysis, owner: &Owner, name: &str) -> Option<String> {
    match owner {
        Owner::Record(r) => {
            let f = a.env(r.version)?.records.get(&r.name)?.field(name)?;
            Some(format!(
                "{}\n\nfield of `{}` (version {})",
                code(&format!("{name}: {}", ty_text(&f.ty, r.version))),
                r.name,
                r.version
            ))
        }
        Owner::State(v) => {
            let f = a.env(*v)?.state.as_ref()?.field(name)?;
            Some(format!(
                "{}\n\npersistent state of version {v}",
                code(&format!("{name}: {}", ty_text(&f.ty, *v)))
            ))
        }
    }
}
