//! Method models: a method may give its meaning over its version's state, `= expr` or a
//! block of `let`s and assignments `state.field = expr` with an optional result. The
//! parameters are bound with their declared types and `state` to the version's state (when it
//! declares one); each assignment must name a state field and give a value of its type, and
//! the result must be of the method's return type (a block without one answers `unit`).
//! `call` and `disallow` have no meaning in a model: the expression checker refuses them.
//! A state's well-formedness clauses (`state { ... } where { clause* }`) are checked here too:
//! each a `bool` over `state`, under the same rules as a model.

use super::expr::ExprChecker;
use super::suggest::did_you_mean;
use super::types::Types;
use super::Cx;
use crate::model::{MethodDef, SpecModel, Ty, VersionEnv, STATE_VAR};
use lang::ast::{Ident, MethodModel, ModelStmt};
use lang::diagnostic::codes;

pub(crate) fn check_models(cx: &mut Cx, model: &SpecModel) {
    for env in [&model.old, &model.new] {
        check_wellformed(cx, model, env);
        for service in env.services.values() {
            for method in &service.methods {
                if let Some(m) = &method.model {
                    check_model(cx, model, env, method, m);
                }
            }
        }
    }
}

/// A state's `where { clause* }`: each clause a `bool` over `state` (the version's state).
fn check_wellformed(cx: &mut Cx, spec: &SpecModel, env: &VersionEnv) {
    let Some(w) = env.state.as_ref().and_then(|s| s.wellformed.as_ref()) else {
        return;
    };
    let mut ec = ExprChecker::new(cx, Types::new(spec), env.number, "a well-formedness clause");
    ec.own_version = Some(env.number);
    let state = Ident {
        name: STATE_VAR.to_string(),
        span: w.span,
    };
    ec.bind(&state, Ty::State(env.number));
    for clause in &w.clauses {
        ec.check(clause, &Ty::Bool);
    }
    ec.unbind(1);
}

fn check_model(
    cx: &mut Cx,
    spec: &SpecModel,
    env: &VersionEnv,
    method: &MethodDef,
    m: &MethodModel,
) {
    let mut ec = ExprChecker::new(cx, Types::new(spec), env.number, "a method model");
    ec.own_version = Some(env.number);
    let mut bound = 0;
    for p in &method.params {
        ec.bind(&p.name, p.ty.clone());
        bound += 1;
    }
    if env.state.is_some() {
        let state = Ident {
            name: STATE_VAR.to_string(),
            span: m.span,
        };
        ec.bind(&state, Ty::State(env.number));
        bound += 1;
    }
    for stmt in &m.stmts {
        match stmt {
            ModelStmt::Let { name, value, .. } => {
                let ty = ec.infer_checked(value, None);
                ec.bind(name, ty);
                bound += 1;
            }
            ModelStmt::Assign { field, value, .. } => {
                match env.state.as_ref().and_then(|s| s.field(&field.name)) {
                    Some(def) => ec.check(value, &def.ty),
                    None => {
                        ec.infer_checked(value, None);
                        unknown_field(ec.cx, env, field);
                    }
                }
            }
        }
    }
    match &m.result {
        Some(e) => ec.check(e, &method.ret),
        None if !matches!(method.ret, Ty::Unit | Ty::Unknown) => {
            let ret = method.ret.clone();
            let name = method.name.name.clone();
            let end = lang::Span::new(m.span.end.saturating_sub(1).max(m.span.start), m.span.end);
            ec.cx.report(
                codes::MODEL_WITHOUT_RESULT,
                end,
                format!("the model of `{name}` gives no answer, but `{name}` returns `{ret}`"),
                |d| {
                    d.label("the block ends here without an expression")
                        .also(method.span, format!("declared to return `{ret}`"))
                        .help("end the block with the answer, after the last assignment")
                },
            );
        }
        None => {}
    }
    ec.unbind(bound);
}

fn unknown_field(cx: &mut Cx, env: &VersionEnv, field: &Ident) {
    let v = env.number;
    let Some(state) = &env.state else {
        cx.report(
            codes::MODEL_UNKNOWN_STATE_FIELD,
            field.span,
            format!(
                "version {v} declares no state, so a model cannot assign `state.{}`",
                field.name
            ),
            |d| {
                d.label("no state to assign").help(format!(
                    "declare `state {{ {}: ... }}` in version {v}",
                    field.written()
                ))
            },
        );
        return;
    };
    let names: Vec<&str> = state.fields.iter().map(|f| f.name.name.as_str()).collect();
    let help = did_you_mean(&field.name, names);
    cx.report(
        codes::MODEL_UNKNOWN_STATE_FIELD,
        field.span,
        format!("the state of version {v} has no field `{}`", field.name),
        |d| {
            d.label("assigned here")
                .also(state.span, format!("the state of version {v}"))
                .maybe_help(help)
        },
    );
}
