//! Well-formed states: a version's `state { ... } where { clause* }` says which values of its
//! state the version can produce. `verify` generates only well-formed states: it generates a
//! state, repairs it clause by clause (an entry of a map a `forall` clause ranges over that
//! breaks the clause is generated again, its scalars drawn half the time from the state's
//! own keys and values and the clauses' literals, and half of those again from the keys of
//! other maps that map to the entry's key, or with an entry added to another map of the
//! key's type, an index, from one of its scalars to it; dropped when no try satisfies it), and
//! keeps it when every clause holds, else tries a fresh state. How many states it could make
//! is counted per version, for the warning U0108 when almost none could be.

use crate::eval::{Env, EvalError, Evaluator, NoHost, Value};
use crate::model::{SpecModel, Ty, STATE_VAR};
use crate::verify::gen::Generator;
use crate::verify::literals::Literals;
use crate::verify::resolve;
use crate::verify::rng::Rng;
use lang::ast::{Expr, ExprKind, Quantifier, WellFormed};
use std::collections::{BTreeMap, BTreeSet};

/// Fresh states tried for one well-formed state.
const ATTEMPTS: u32 = 8;
/// Values tried for one map entry that breaks a clause before the entry is dropped.
const ENTRY_TRIES: u32 = 48;
/// Passes over the clauses while repairing one state.
const ROUNDS: u32 = 4;
/// Most scalars of a state its repairs draw from.
const MAX_POOL: usize = 128;

/// The `where` clauses of version `number`'s state, if it declares any.
pub(crate) fn clauses(model: &SpecModel, number: u64) -> Option<&WellFormed> {
    model
        .env(number)
        .and_then(|v| v.state.as_ref())
        .and_then(|s| s.wellformed.as_ref())
        .filter(|w| !w.clauses.is_empty())
}

/// `None` when `state` is well-formed in version `number` (or the version declares no
/// clauses), else the index of the first clause that does not hold (an evaluation error
/// counts as not holding).
pub(crate) fn broken_clause(
    eval: &Evaluator<'_>,
    model: &SpecModel,
    number: u64,
    state: &Value,
) -> Option<usize> {
    let w = clauses(model, number)?;
    match eval.eval_wellformed(w, state) {
        Ok(found) => found,
        Err(e) => Some(clause_of_error(w, &e)),
    }
}

/// The clause an evaluation error points into (the first one when none contains it).
fn clause_of_error(w: &WellFormed, e: &EvalError) -> usize {
    let at = e.span();
    w.clauses
        .iter()
        .position(|c| c.span.start <= at.start && at.end <= c.span.end)
        .unwrap_or(0)
}

/// How many states of one version were generated and how many could be made well-formed,
/// with how often each clause stayed broken.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub tried: u64,
    pub made: u64,
    pub broken: BTreeMap<usize, u64>,
}

/// What a repair draws scalars from.
struct Pool {
    strings: Vec<String>,
    ints: Vec<i128>,
}

impl Pool {
    fn of(state: &Value, literals: &[String]) -> Pool {
        let mut strings: BTreeSet<String> = literals.iter().cloned().collect();
        let mut ints = BTreeSet::new();
        let mut stack = vec![state];
        while let Some(v) = stack.pop() {
            if strings.len() + ints.len() >= MAX_POOL {
                break;
            }
            match v {
                Value::Str(s) => {
                    strings.insert(s.clone());
                }
                Value::Int(n) => {
                    ints.insert(*n);
                }
                _ => stack.extend(v.parts()),
            }
        }
        Pool {
            strings: strings.into_iter().collect(),
            ints: ints.into_iter().collect(),
        }
    }
}

/// Makes well-formed states of one version.
pub(crate) struct Maker<'a, 'm> {
    pub eval: &'a Evaluator<'m>,
    pub gen: &'a Generator<'m>,
    pub model: &'m SpecModel,
    /// The string literals of the states' `where` clauses.
    pub literals: &'a [String],
}

impl Maker<'_, '_> {
    /// A well-formed state of version `number`, or `None` when none could be made in a few
    /// attempts; `tally` counts both.
    pub(crate) fn state(
        &self,
        number: u64,
        rng: &mut Rng,
        size: u32,
        tally: &mut Tally,
    ) -> Option<Value> {
        let ty = Ty::State(number);
        let Some(w) = clauses(self.model, number) else {
            return Some(self.gen.generate(&ty, rng, size));
        };
        for _ in 0..ATTEMPTS {
            tally.tried += 1;
            let mut state = self.gen.generate(&ty, rng, size);
            let pool = Pool::of(&state, self.literals);
            self.graft(&ty, &mut state, &pool, rng, 0);
            self.repair(number, w, &mut state, rng, size);
            match broken_clause(self.eval, self.model, number, &state) {
                None => {
                    tally.made += 1;
                    return Some(state);
                }
                Some(i) => *tally.broken.entry(i).or_default() += 1,
            }
        }
        None
    }

    /// Repairs the entries of `state` that break a `forall` clause over one of its maps, sets
    /// or lists.
    fn repair(&self, number: u64, w: &WellFormed, state: &mut Value, rng: &mut Rng, size: u32) {
        for _ in 0..ROUNDS {
            let mut changed = false;
            for clause in &w.clauses {
                changed |= self.repair_clause(number, clause, state, rng, size);
            }
            if !changed {
                return;
            }
        }
    }

    fn repair_clause(
        &self,
        number: u64,
        clause: &Expr,
        state: &mut Value,
        rng: &mut Rng,
        size: u32,
    ) -> bool {
        let ExprKind::Quant {
            kind: Quantifier::Forall,
            var,
            domain,
            body,
        } = &clause.kind
        else {
            return false;
        };
        let Some((field, over)) = domain_field(domain) else {
            return false;
        };
        let holds = |state: &Value, x: &Value| {
            let env = Env::new()
                .bind(STATE_VAR, state.clone())
                .bind(var.name.clone(), x.clone());
            matches!(
                self.eval.eval_expr(body, &env, &mut NoHost),
                Ok(Value::Bool(true))
            )
        };
        let Ok(elements) = self.eval.eval_expr(
            domain,
            &Env::new().bind(STATE_VAR, state.clone()),
            &mut NoHost,
        ) else {
            return false;
        };
        let elements: Vec<Value> = match elements {
            Value::List(xs) => xs,
            Value::Set(xs) => xs.into_iter().collect(),
            _ => return false,
        };
        let value_ty = resolve::state_fields(self.model, number)
            .iter()
            .find(|f| f.name.name == field)
            .map(|f| f.ty.clone());
        let mut changed = false;
        for x in elements {
            if holds(state, &x) {
                continue;
            }
            changed = true;
            let fixed = match (over, &value_ty) {
                (Over::Keys, Some(Ty::Map(_, vt))) => {
                    self.retry_entry(state, field, &x, vt, rng, size, &holds)
                }
                _ => false,
            };
            if !fixed {
                remove_element(state, field, over, &x);
            }
        }
        changed
    }

    /// Generates the value of `state.field[key]` again until `holds`; whether one did.
    #[allow(clippy::too_many_arguments, reason = "one repair's context, used once")]
    fn retry_entry(
        &self,
        state: &mut Value,
        field: &str,
        key: &Value,
        ty: &Ty,
        rng: &mut Rng,
        size: u32,
        holds: &dyn Fn(&Value, &Value) -> bool,
    ) -> bool {
        let pool = Pool::of(state, self.literals);
        let pointing = pointing_at(state, field, key);
        for _ in 0..ENTRY_TRIES {
            let mut v = self.gen.generate(ty, rng, size / 2);
            self.graft(ty, &mut v, &pool, rng, 0);
            self.graft(ty, &mut v, &pointing, rng, 0);
            let mut tried = state.clone();
            if let Some(Value::Map(m)) = field_mut(&mut tried, field) {
                m.insert(key.clone(), v);
            }
            if holds(&tried, key) {
                *state = tried;
                return true;
            }
            if let Some(indexed) = self.index_entry(&tried, field, key, holds) {
                *state = indexed;
                return true;
            }
        }
        false
    }

    /// `state` (whose `field[key]` was just generated) with one entry added to another map
    /// that maps the type of `field`'s keys (an index: email -> user id), from a scalar of
    /// the new entry to `key`, when that makes the clause hold.
    fn index_entry(
        &self,
        state: &Value,
        field: &str,
        key: &Value,
        holds: &dyn Fn(&Value, &Value) -> bool,
    ) -> Option<Value> {
        let fields = resolve::state_fields(self.model, self.number_of(state)?);
        let key_ty = fields.iter().find_map(|f| match &f.ty {
            Ty::Map(k, _) if f.name.name == field => Some(k.as_ref()),
            _ => None,
        })?;
        let entry = match state {
            Value::Record { fields, .. } => match fields.get(field) {
                Some(Value::Map(m)) => m.get(key)?.clone(),
                _ => return None,
            },
            _ => return None,
        };
        let mut scalars = Vec::new();
        let mut stack = vec![&entry];
        while let Some(v) = stack.pop() {
            match v {
                Value::Str(_) | Value::Int(_) => scalars.push(v.clone()),
                Value::Record { fields, .. } => stack.extend(fields.values()),
                Value::Option(Some(x)) => stack.push(x),
                _ => {}
            }
        }
        for index in fields.iter().filter(|f| f.name.name != field) {
            let Ty::Map(ik, iv) = &index.ty else {
                continue;
            };
            if iv.as_ref() != key_ty {
                continue;
            }
            for s in scalars.iter().filter(|s| scalar_fits(s, ik)) {
                let mut tried = state.clone();
                if let Some(Value::Map(m)) = field_mut(&mut tried, &index.name.name) {
                    m.insert(s.clone(), key.clone());
                }
                if holds(&tried, key) {
                    return Some(tried);
                }
            }
        }
        None
    }

    /// The version whose state `state` is (by its fields).
    fn number_of(&self, state: &Value) -> Option<u64> {
        let Value::Record { fields, .. } = state else {
            return None;
        };
        [self.model.old.number, self.model.new.number]
            .into_iter()
            .find(|n| {
                let declared = resolve::state_fields(self.model, *n);
                declared.len() == fields.len()
                    && declared.iter().all(|f| fields.contains_key(&f.name.name))
            })
    }

    /// Replaces scalars of `v` (a value of `ty`) by the pool's, half the time each.
    fn graft(&self, ty: &Ty, v: &mut Value, pool: &Pool, rng: &mut Rng, depth: usize) {
        if depth > 32 {
            return;
        }
        let d = depth + 1;
        match (ty, v) {
            (Ty::Str, Value::Str(s)) if rng.chance(1, 2) => {
                if let Some(p) = rng.pick(&pool.strings) {
                    s.clone_from(p);
                }
            }
            (Ty::U64 | Ty::I64, Value::Int(n)) => {
                let (lo, hi) = if *ty == Ty::U64 {
                    (0, i128::from(u64::MAX))
                } else {
                    (i128::from(i64::MIN), i128::from(i64::MAX))
                };
                let fitting: Vec<i128> = pool
                    .ints
                    .iter()
                    .copied()
                    .filter(|i| (lo..=hi).contains(i))
                    .collect();
                if rng.chance(1, 2) {
                    if let Some(p) = rng.pick(&fitting) {
                        *n = *p;
                    }
                }
            }
            (Ty::Option(t), Value::Option(Some(x))) => self.graft(t, x, pool, rng, d),
            (Ty::List(t), Value::List(xs)) => {
                for x in xs {
                    self.graft(t, x, pool, rng, d);
                }
            }
            (Ty::Set(t), Value::Set(xs)) => {
                let mut items: Vec<Value> = std::mem::take(xs).into_iter().collect();
                for x in &mut items {
                    self.graft(t, x, pool, rng, d);
                }
                *xs = items.into_iter().collect();
            }
            (Ty::Map(kt, vt), Value::Map(m)) => {
                let mut items: Vec<(Value, Value)> = std::mem::take(m).into_iter().collect();
                for (k, x) in &mut items {
                    self.graft(kt, k, pool, rng, d);
                    self.graft(vt, x, pool, rng, d);
                }
                *m = items.into_iter().collect();
            }
            (Ty::Tuple(ts), Value::Tuple(xs)) => {
                for (t, x) in ts.iter().zip(xs) {
                    self.graft(t, x, pool, rng, d);
                }
            }
            (_, Value::Record { fields, .. }) => {
                for f in resolve::record_fields(self.model, ty) {
                    if let Some(x) = fields.get_mut(&f.name.name) {
                        self.graft(&f.ty, x, pool, rng, d);
                    }
                }
            }
            (
                _,
                Value::Variant {
                    variant,
                    payload: Some(p),
                    ..
                },
            ) => {
                if let Some(t) = resolve::payload_ty(self.model, ty, variant) {
                    self.graft(t, p, pool, rng, d);
                }
            }
            _ => {}
        }
    }
}

/// The keys of the state's other maps that map to `key` (an index entry naming the entry
/// being repaired: the email a user must have to be indexed to it), and `key` itself.
fn pointing_at(state: &Value, field: &str, key: &Value) -> Pool {
    let mut found = vec![key.clone()];
    if let Value::Record { fields, .. } = state {
        for (name, v) in fields {
            if let (false, Value::Map(m)) = (name == field, v) {
                found.extend(m.iter().filter(|(_, x)| *x == key).map(|(k, _)| k.clone()));
            }
        }
    }
    let mut pool = Pool {
        strings: Vec::new(),
        ints: Vec::new(),
    };
    for v in found {
        match v {
            Value::Str(s) => pool.strings.push(s),
            Value::Int(n) => pool.ints.push(n),
            _ => {}
        }
    }
    pool
}

/// Whether the scalar `v` is a value of `ty` (a string or an integer in range).
fn scalar_fits(v: &Value, ty: &Ty) -> bool {
    match (v, ty) {
        (Value::Str(_), Ty::Str) => true,
        (Value::Int(n), Ty::U64) => (0..=i128::from(u64::MAX)).contains(n),
        (Value::Int(n), Ty::I64) => (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(n),
        _ => false,
    }
}

/// What a clause's domain ranges over in a state field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    Keys,
    Values,
    Elements,
}

/// `keys(state.f)`, `values(state.f)` or `state.f`: the field and how.
fn domain_field(domain: &Expr) -> Option<(&str, Over)> {
    fn state_field(e: &Expr) -> Option<&str> {
        match &e.kind {
            ExprKind::Field(inner, f) => match &inner.kind {
                ExprKind::Var(v) if v.name == STATE_VAR => Some(f.name.as_str()),
                _ => None,
            },
            _ => None,
        }
    }
    match &domain.kind {
        ExprKind::Builtin { name, args } if args.len() == 1 => {
            let over = match name.name.as_str() {
                "keys" => Over::Keys,
                "values" => Over::Values,
                _ => return None,
            };
            Some((state_field(args.first()?)?, over))
        }
        _ => Some((state_field(domain)?, Over::Elements)),
    }
}

fn field_mut<'v>(state: &'v mut Value, field: &str) -> Option<&'v mut Value> {
    match state {
        Value::Record { fields, .. } => fields.get_mut(field),
        _ => None,
    }
}

/// Drops the element `x` of `state.field` (by key, by value or as an element).
fn remove_element(state: &mut Value, field: &str, over: Over, x: &Value) {
    match (field_mut(state, field), over) {
        (Some(Value::Map(m)), Over::Keys) => {
            m.remove(x);
        }
        (Some(Value::Map(m)), Over::Values) => m.retain(|_, v| v != x),
        (Some(Value::Set(s)), Over::Elements | Over::Keys) => {
            s.remove(x);
        }
        (Some(Value::List(l)), Over::Elements) => l.retain(|v| v != x),
        _ => {}
    }
}

/// The string literals of every version's `where` clauses, which repairs draw from (a status
/// clause meets `"paid"`).
pub(crate) fn clause_literals(model: &SpecModel) -> Vec<String> {
    let mut out = BTreeSet::new();
    for number in [model.old.number, model.new.number] {
        if let Some(w) = clauses(model, number) {
            out.extend(Literals::of_exprs(&w.clauses).strings);
        }
    }
    out.into_iter().collect()
}
