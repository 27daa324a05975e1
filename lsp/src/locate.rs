//! What is under the cursor: walks the checked model's syntax tree to the innermost name or
//! expression at a byte offset, resolving it on the way (which version a type name means,
//! which method a rule or `call` names, which binding a variable refers to, its type).

use compiler::model::{MethodDef, SpecModel, Ty, TypeRef};
use lang::ast::*;
use lang::span::Span;

/// Whose field a field name is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Record(TypeRef),
    State(u64),
}

/// Where a method name stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodSite {
    /// `fn name(...)` in a service.
    Decl,
    /// `name(...) = ...` in a rule block of this kind.
    Rule(RuleKind),
    /// `call name(...)` in a rule of this kind.
    Call(RuleKind),
    /// `renamed from name` after a method of the new version: the old version's method.
    RenamedFrom,
}

/// A resolved name or expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A record or enum of a version: a declaration, a type, a record literal, a variant path.
    Type { r: TypeRef, span: Span },
    /// A variant of an enum.
    Variant {
        r: TypeRef,
        variant: String,
        span: Span,
    },
    /// A service of a version (its declaration, or the block of rules simulating it).
    Service {
        version: u64,
        name: String,
        span: Span,
    },
    /// A method of a version's service.
    Method {
        version: u64,
        service: String,
        name: String,
        span: Span,
        site: MethodSite,
    },
    /// A field of a record or of a version's state (declared, read or assigned).
    Field {
        owner: Owner,
        name: String,
        span: Span,
    },
    /// A use of a variable, with where it is bound.
    Var {
        name: String,
        span: Span,
        binding: Option<Span>,
        ty: Ty,
    },
    /// Where a variable is bound (a parameter, `let`, closure, quantifier or pattern).
    Binding { name: String, span: Span, ty: Ty },
    /// A built-in function.
    Builtin { name: String, span: Span, ty: Ty },
    /// Any other expression.
    Expr { span: Span, ty: Ty },
    /// A warning name in a rule's `#[allow(...)]`.
    Allow { name: String, span: Span },
    /// A record field name in a rule's `#[differs(...)]`.
    Differs { name: String, span: Span },
}

impl Target {
    /// The name `at` bound to a value of `ty`.
    fn binding(at: &Ident, ty: Ty) -> Target {
        Target::Binding {
            name: at.name.clone(),
            span: at.span,
            ty,
        }
    }

    /// Method `at` (its name where it is written) of `service` in version `version`, its name
    /// standing at `site` (a declaration, a rule, a `call`, a `renamed from`).
    fn method(version: u64, service: &str, at: &Ident, site: MethodSite) -> Target {
        Target::Method {
            version,
            service: service.to_string(),
            name: at.name.clone(),
            span: at.span,
            site,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Target::Type { span, .. }
            | Target::Variant { span, .. }
            | Target::Service { span, .. }
            | Target::Method { span, .. }
            | Target::Field { span, .. }
            | Target::Allow { span, .. }
            | Target::Differs { span, .. }
            | Target::Var { span, .. }
            | Target::Binding { span, .. }
            | Target::Builtin { span, .. }
            | Target::Expr { span, .. } => *span,
        }
    }
}

/// The declared type of parameter `i` of `method` (unknown without one).
fn param_ty(method: Option<&MethodDef>, i: usize) -> Ty {
    method
        .and_then(|m| m.params.get(i))
        .map_or(Ty::Unknown, |f| f.ty.clone())
}

/// The target at byte `offset` (a cursor just after a name is still on it).
pub fn target_at(model: &SpecModel, offset: usize) -> Option<Target> {
    let w = Walker { model, offset };
    model
        .spec
        .items
        .iter()
        .filter(|i| on(i.span(), offset))
        .find_map(|i| w.item(i))
}

fn on(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

/// `v2` -> 2
pub fn version_prefix(name: &str) -> Option<u64> {
    name.strip_prefix('v')
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
}

/// Variables in scope: name, where bound.
type Scope<'a> = Vec<(&'a str, Span)>;

/// Where a rule's expressions run.
#[derive(Clone, Copy)]
struct RuleCx<'a> {
    kind: RuleKind,
    service: &'a str,
    /// The version `call` reaches.
    reachable: u64,
}

struct Walker<'m> {
    model: &'m SpecModel,
    offset: usize,
}

impl<'m> Walker<'m> {
    fn hit(&self, span: Span) -> bool {
        on(span, self.offset)
    }

    /// The state binding under the cursor among `bindings` (the names an invariant or a
    /// transform gives the old and new state, with the version each stands for).
    fn state_binding(&self, bindings: [(&Ident, u64); 2]) -> Option<Target> {
        bindings
            .into_iter()
            .find(|(ident, _)| self.hit(ident.span))
            .map(|(ident, v)| Target::binding(ident, Ty::State(v)))
    }

    fn ty(&self, e: &Expr) -> Ty {
        self.model.type_of(e).clone()
    }

    fn item(&self, item: &'m Item) -> Option<Target> {
        match item {
            Item::Protocol(_) | Item::Schedule(_) => None,
            Item::Function(f) => {
                let scope: Scope<'_> = f
                    .params
                    .iter()
                    .map(|p| (p.name.name.as_str(), p.name.span))
                    .collect();
                self.expr(&f.body, &scope, None)
            }
            Item::Version(v) => v.decls.iter().find_map(|d| self.decl(v.number.value, d)),
            Item::Invariant(i) => {
                let (o, n) = (self.model.old.number, self.model.new.number);
                if let Some(b) = self.state_binding([(&i.old, o), (&i.new, n)]) {
                    return Some(b);
                }
                let scope: Scope<'_> = vec![
                    (i.old.name.as_str(), i.old.span),
                    (i.new.name.as_str(), i.new.span),
                ];
                i.clauses.iter().find_map(|c| self.expr(c, &scope, None))
            }
            Item::Transform(t) => {
                // `o` is the state read, `n` the state given (swapped in a reverse transform).
                let (mut o, mut n) = (self.model.old.number, self.model.new.number);
                if t.reverse {
                    std::mem::swap(&mut o, &mut n);
                }
                if let Some(b) = self.state_binding([(&t.old, o), (&t.new, n)]) {
                    return Some(b);
                }
                let scope: Scope<'_> = vec![(t.old.name.as_str(), t.old.span)];
                t.fields.iter().find_map(|f| {
                    if self.hit(f.name.span) {
                        return Some(Target::Field {
                            owner: Owner::State(n),
                            name: f.name.name.clone(),
                            span: f.name.span,
                        });
                    }
                    self.expr(&f.value, &scope, None)
                })
            }
            Item::Rules(r) => {
                let (simulated, reachable) = match r.kind {
                    RuleKind::Past => (self.model.old.number, self.model.new.number),
                    RuleKind::Future => (self.model.new.number, self.model.old.number),
                };
                if self.hit(r.service.span) {
                    return Some(Target::Service {
                        version: simulated,
                        name: r.service.name.clone(),
                        span: r.service.span,
                    });
                }
                let cx = RuleCx {
                    kind: r.kind,
                    service: &r.service.name,
                    reachable,
                };
                r.rules
                    .iter()
                    .filter(|rule| self.hit(rule.span))
                    .find_map(|rule| {
                        if let Some(a) = rule.allow.iter().find(|a| self.hit(a.span)) {
                            return Some(Target::Allow {
                                name: a.name.clone(),
                                span: a.span,
                            });
                        }
                        if let Some(d) = rule.differs.iter().find(|d| self.hit(d.span)) {
                            return Some(Target::Differs {
                                name: d.name.clone(),
                                span: d.span,
                            });
                        }
                        if self.hit(rule.method.span) {
                            return Some(Target::method(
                                simulated,
                                &r.service.name,
                                &rule.method,
                                MethodSite::Rule(r.kind),
                            ));
                        }
                        let method = self
                            .env(simulated)
                            .and_then(|e| e.method(&r.service.name, &rule.method.name));
                        for (i, p) in rule.params.iter().enumerate() {
                            if self.hit(p.span) {
                                return Some(Target::binding(p, param_ty(method, i)));
                            }
                        }
                        let scope: Scope<'_> = rule
                            .params
                            .iter()
                            .map(|p| (p.name.as_str(), p.span))
                            .collect();
                        self.expr(&rule.body, &scope, Some(cx))
                    })
            }
        }
    }

    fn env(&self, v: u64) -> Option<&'m compiler::model::VersionEnv> {
        [&self.model.old, &self.model.new]
            .into_iter()
            .find(|e| e.number == v)
    }

    fn decl(&self, v: u64, d: &'m Decl) -> Option<Target> {
        let tref = |name: &Ident| TypeRef {
            version: v,
            name: name.name.clone(),
        };
        match d {
            Decl::Record(r) if self.hit(r.span) => {
                if self.hit(r.name.span) {
                    return Some(Target::Type {
                        r: tref(&r.name),
                        span: r.name.span,
                    });
                }
                r.fields
                    .iter()
                    .find_map(|f| self.field(v, f, Owner::Record(tref(&r.name))))
            }
            Decl::Enum(e) if self.hit(e.span) => {
                if self.hit(e.name.span) {
                    return Some(Target::Type {
                        r: tref(&e.name),
                        span: e.name.span,
                    });
                }
                e.variants.iter().find_map(|var| {
                    if self.hit(var.name.span) {
                        return Some(Target::Variant {
                            r: tref(&e.name),
                            variant: var.name.name.clone(),
                            span: var.name.span,
                        });
                    }
                    var.payload.as_ref().and_then(|t| self.type_expr(v, t))
                })
            }
            Decl::Service(s) if self.hit(s.span) => {
                if self.hit(s.name.span) {
                    return Some(Target::Service {
                        version: v,
                        name: s.name.name.clone(),
                        span: s.name.span,
                    });
                }
                s.methods.iter().filter(|m| self.hit(m.span)).find_map(|m| {
                    if self.hit(m.name.span) {
                        return Some(Target::method(v, &s.name.name, &m.name, MethodSite::Decl));
                    }
                    let def = self
                        .env(v)
                        .and_then(|e| e.method(&s.name.name, &m.name.name));
                    for (i, p) in m.params.iter().enumerate() {
                        if self.hit(p.name.span) {
                            return Some(Target::binding(&p.name, param_ty(def, i)));
                        }
                        if let Some(t) = self.type_expr(v, &p.ty) {
                            return Some(t);
                        }
                    }
                    if let Some(from) = m.renamed_from.as_ref().filter(|f| self.hit(f.span)) {
                        return Some(Target::method(
                            self.model.old.number,
                            &s.name.name,
                            from,
                            MethodSite::RenamedFrom,
                        ));
                    }
                    m.ret
                        .as_ref()
                        .and_then(|t| self.type_expr(v, t))
                        .or_else(|| m.model.as_ref().and_then(|b| self.method_model(v, m, b)))
                })
            }
            Decl::State(s) if self.hit(s.span) => s
                .fields
                .iter()
                .find_map(|f| self.field(v, f, Owner::State(v)))
                .or_else(|| {
                    // A `where` clause: `state` is in scope.
                    let w = s.wellformed.as_ref()?;
                    let scope: Scope<'_> = vec![(compiler::model::STATE_VAR, s.span)];
                    w.clauses.iter().find_map(|c| self.expr(c, &scope, None))
                }),
            _ => None,
        }
    }

    /// In a method's model: its parameters and `state` (bound where the version declares
    /// its state) are in scope, then each `let`; an assigned name is a field of the state.
    fn method_model(&self, v: u64, m: &'m MethodDecl, model: &'m MethodModel) -> Option<Target> {
        let mut scope: Scope<'_> = m
            .params
            .iter()
            .map(|p| (p.name.name.as_str(), p.name.span))
            .collect();
        if let Some(state) = self.env(v).and_then(|e| e.state.as_ref()) {
            scope.push((compiler::model::STATE_VAR, state.span));
        }
        for stmt in &model.stmts {
            match stmt {
                ModelStmt::Let { name, value, .. } => {
                    if self.hit(name.span) {
                        return Some(Target::binding(name, self.ty(value)));
                    }
                    if let Some(t) = self.expr(value, &scope, None) {
                        return Some(t);
                    }
                    scope.push((name.name.as_str(), name.span));
                }
                ModelStmt::Assign { field, value, .. } => {
                    if self.hit(field.span) {
                        return Some(Target::Field {
                            owner: Owner::State(v),
                            name: field.name.clone(),
                            span: field.span,
                        });
                    }
                    if let Some(t) = self.expr(value, &scope, None) {
                        return Some(t);
                    }
                }
            }
        }
        model
            .result
            .as_ref()
            .and_then(|e| self.expr(e, &scope, None))
    }

    fn field(&self, v: u64, f: &Field, owner: Owner) -> Option<Target> {
        if self.hit(f.name.span) {
            return Some(Target::Field {
                owner,
                name: f.name.name.clone(),
                span: f.name.span,
            });
        }
        self.type_expr(v, &f.ty)
    }

    fn type_expr(&self, v: u64, t: &TypeExpr) -> Option<Target> {
        if !self.hit(t.span) {
            return None;
        }
        match &t.kind {
            TypeExprKind::Named { path, args } => {
                if let Some(last) = path.last().filter(|l| self.hit(l.span)) {
                    let version = match path.as_slice() {
                        [q, _] => version_prefix(&q.name).unwrap_or(v),
                        _ => v,
                    };
                    let r = TypeRef {
                        version,
                        name: last.name.clone(),
                    };
                    let known = self
                        .env(version)
                        .is_some_and(|e| e.defines_type(&last.name));
                    return known.then_some(Target::Type { r, span: last.span });
                }
                args.iter().find_map(|a| self.type_expr(v, a))
            }
            TypeExprKind::Tuple(items) => items.iter().find_map(|a| self.type_expr(v, a)),
        }
    }

    /// The target inside `e`, or `e` itself.
    fn expr(&self, e: &'m Expr, scope: &Scope<'m>, rule: Option<RuleCx<'m>>) -> Option<Target> {
        if !self.hit(e.span) {
            return None;
        }
        let inner = self.expr_inner(e, scope, rule);
        inner.or_else(|| {
            Some(Target::Expr {
                span: e.span,
                ty: self.ty(e),
            })
        })
    }

    fn expr_inner(
        &self,
        e: &'m Expr,
        scope: &Scope<'m>,
        rule: Option<RuleCx<'m>>,
    ) -> Option<Target> {
        let sub = |x: &'m Expr| self.expr(x, scope, rule);
        match &e.kind {
            ExprKind::Lit(_) | ExprKind::Disallow(_) => None,
            ExprKind::Var(i) => self.hit(i.span).then(|| Target::Var {
                name: i.name.clone(),
                span: i.span,
                binding: scope
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == i.name)
                    .map(|(_, s)| *s),
                ty: self.ty(e),
            }),
            ExprKind::Variant { path, payload } => {
                if let Some((n, ident)) = path.iter().enumerate().find(|(_, i)| self.hit(i.span)) {
                    let Ty::Named(r) = self.ty(e) else {
                        return None;
                    };
                    return if n + 1 == path.len() {
                        Some(Target::Variant {
                            r,
                            variant: ident.name.clone(),
                            span: ident.span,
                        })
                    } else if n + 2 == path.len() {
                        Some(Target::Type {
                            r,
                            span: ident.span,
                        })
                    } else {
                        None
                    };
                }
                payload.as_deref().and_then(sub)
            }
            ExprKind::Field(base, name) => {
                if self.hit(name.span) {
                    let owner = match self.model.type_of(base) {
                        Ty::Named(r) => Owner::Record(r.clone()),
                        Ty::State(v) => Owner::State(*v),
                        _ => {
                            return Some(Target::Expr {
                                span: e.span,
                                ty: self.ty(e),
                            })
                        }
                    };
                    return Some(Target::Field {
                        owner,
                        name: name.name.clone(),
                        span: name.span,
                    });
                }
                sub(base)
            }
            ExprKind::Index(a, b) => sub(a).or_else(|| sub(b)),
            ExprKind::Builtin { name, args } => {
                if self.hit(name.span) {
                    return Some(Target::Builtin {
                        name: name.name.clone(),
                        span: name.span,
                        ty: self.ty(e),
                    });
                }
                args.iter().find_map(sub)
            }
            ExprKind::Delegate { method, args } => {
                if self.hit(method.span) {
                    let cx = rule?;
                    return Some(Target::method(
                        cx.reachable,
                        cx.service,
                        method,
                        MethodSite::Call(cx.kind),
                    ));
                }
                args.iter().find_map(sub)
            }
            ExprKind::Record { path, fields } => {
                if path.iter().any(|i| self.hit(i.span)) {
                    let Ty::Named(r) = self.ty(e) else {
                        return None;
                    };
                    let span = path.last().map_or(e.span, |l| l.span);
                    return Some(Target::Type { r, span });
                }
                fields.iter().find_map(|f| {
                    if self.hit(f.name.span) {
                        let Ty::Named(r) = self.ty(e) else {
                            return None;
                        };
                        return Some(Target::Field {
                            owner: Owner::Record(r),
                            name: f.name.name.clone(),
                            span: f.name.span,
                        });
                    }
                    sub(&f.value)
                })
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => items.iter().find_map(sub),
            ExprKind::Map(entries) => entries.iter().find_map(|(k, v)| sub(k).or_else(|| sub(v))),
            ExprKind::Unary(_, a) => sub(a),
            ExprKind::Binary(_, a, b) => sub(a).or_else(|| sub(b)),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => sub(cond).or_else(|| sub(then)).or_else(|| sub(otherwise)),
            ExprKind::Match { scrutinee, arms } => {
                if let Some(t) = sub(scrutinee) {
                    return Some(t);
                }
                let scrutinee_ty = self.ty(scrutinee);
                arms.iter().filter(|a| self.hit(a.span)).find_map(|arm| {
                    let mut bindings = Vec::new();
                    if let Some(t) = self.pattern(&arm.pattern, &scrutinee_ty, &mut bindings) {
                        return Some(t);
                    }
                    let mut inner = scope.clone();
                    inner.extend(bindings);
                    self.expr(&arm.body, &inner, rule)
                })
            }
            ExprKind::Let { name, value, body } => {
                if self.hit(name.span) {
                    return Some(Target::binding(name, self.ty(value)));
                }
                if let Some(t) = sub(value) {
                    return Some(t);
                }
                let mut inner = scope.clone();
                inner.push((name.name.as_str(), name.span));
                self.expr(body, &inner, rule)
            }
            ExprKind::Closure { params, body } => {
                if let Some(p) = params.iter().find(|p| self.hit(p.span)) {
                    return Some(Target::binding(p, self.closure_param_ty(e, params, p)));
                }
                let mut inner = scope.clone();
                inner.extend(params.iter().map(|p| (p.name.as_str(), p.span)));
                self.expr(body, &inner, rule)
            }
            ExprKind::Quant {
                var, domain, body, ..
            } => {
                if self.hit(var.span) {
                    let ty = match self.model.type_of(domain) {
                        Ty::List(t) | Ty::Set(t) => (**t).clone(),
                        _ => Ty::Unknown,
                    };
                    return Some(Target::binding(var, ty));
                }
                if let Some(t) = sub(domain) {
                    return Some(t);
                }
                let mut inner = scope.clone();
                inner.push((var.name.as_str(), var.span));
                self.expr(body, &inner, rule)
            }
        }
    }

    /// A closure parameter's type is not recorded, but its uses are: the type of the first use
    /// in the body.
    fn closure_param_ty(&self, closure: &Expr, _params: &[Ident], p: &Ident) -> Ty {
        let ExprKind::Closure { body, .. } = &closure.kind else {
            return Ty::Unknown;
        };
        let mut found = None;
        visit(body, &mut |e| {
            if found.is_none() {
                if let ExprKind::Var(i) = &e.kind {
                    if i.name == p.name {
                        found = Some(self.ty(e));
                    }
                }
            }
        });
        found.unwrap_or(Ty::Unknown)
    }

    /// The target in a pattern matched against `ty`; collects the names it binds.
    fn pattern(&self, p: &'m Pattern, ty: &Ty, bindings: &mut Scope<'m>) -> Option<Target> {
        match &p.kind {
            PatternKind::Some(inner) => {
                let t = match ty {
                    Ty::Option(t) => (**t).clone(),
                    _ => Ty::Unknown,
                };
                self.pattern(inner, &t, bindings)
            }
            PatternKind::Variant { path, payload } => {
                let enum_ref = match ty {
                    Ty::Named(r)
                        if self
                            .env(r.version)
                            .is_some_and(|e| e.enums.contains_key(&r.name)) =>
                    {
                        Some(r.clone())
                    }
                    _ => None,
                };
                let variant = path.last().and_then(|last| {
                    let r = enum_ref.as_ref()?;
                    let def = self
                        .env(r.version)?
                        .enums
                        .get(&r.name)?
                        .variant(&last.name)?;
                    Some((r.clone(), def))
                });
                if let (None, [single], None) = (&variant, path.as_slice(), payload) {
                    // A lone name that is no variant binds the value.
                    bindings.push((single.name.as_str(), single.span));
                    return self
                        .hit(single.span)
                        .then(|| Target::binding(single, ty.clone()));
                }
                if let Some((n, ident)) = path.iter().enumerate().find(|(_, i)| self.hit(i.span)) {
                    let (r, _) = variant?;
                    return if n + 1 == path.len() {
                        Some(Target::Variant {
                            r,
                            variant: ident.name.clone(),
                            span: ident.span,
                        })
                    } else {
                        Some(Target::Type {
                            r,
                            span: ident.span,
                        })
                    };
                }
                let payload_ty = variant
                    .and_then(|(_, v)| v.payload.clone())
                    .unwrap_or(Ty::Unknown);
                payload
                    .as_deref()
                    .and_then(|inner| self.pattern(inner, &payload_ty, bindings))
            }
            PatternKind::Wildcard
            | PatternKind::None
            | PatternKind::Lit(_)
            | PatternKind::NegInt(_) => None,
        }
    }
}

/// Calls `f` on `e` and every expression inside it, outer first.
pub fn visit<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    for child in e.children() {
        visit(child, f);
    }
}
