//! Generating values of a type, and shrinking a failing value to a small one.
//!
//! Generated values are small on purpose: collections have at most `size` elements (and
//! elements of nested collections half as many), strings at most three characters from a
//! two-letter alphabet (so map keys collide now and then), integers mostly small or on the
//! boundaries of their type, and strings and integers often the spec's own literals.
//! A field or parameter whose name the spec compares with literals (`o.currency == "USD"`)
//! is one of those literals once in four draws; an argument's strings and integers are now and
//! then ones the state holds ([`Scalars`]: an amount equal to an order's total).
//! Every generated value conforms to its type ([`super::conform::conforms`]).

use super::literals::Literals;
use super::resolve::{self, Named};
use super::rng::Rng;
use crate::eval::Value;
use crate::model::{FieldDef, SpecModel, Ty, VariantDef};
use std::collections::{BTreeMap, BTreeSet};

/// The largest size a case is generated with.
pub const MAX_SIZE: u32 = 6;
/// Generation deeper than this gives the type's smallest value (recursive types stop here).
const MAX_DEPTH: usize = 24;
/// Letters of generated strings.
const ALPHABET: &[char] = &['a', 'b'];
/// Longest generated string (literals of the spec aside).
const MAX_STRING: u32 = 3;
/// Floats generated besides random ones: the usual suspects.
const FLOATS: &[f64] = &[0.0, 1.0, -1.0, 0.5, -2.25, 100.125, 1e12, -1e-9];
/// A string or integer named as a field or parameter the spec compares with literals is one
/// of them once in this many draws: often, but not so often that fields compared with the
/// same literal (`street == ""`, `city == ""`) are nearly always equal.
const COMPARED_ONE_IN: u64 = 4;
/// Most shrink candidates offered for one value.
const MAX_CANDIDATES: usize = 256;
/// Most elements of one collection tried one by one when shrinking.
const MAX_POSITIONS: usize = 16;

/// Strings and integers a state holds, which a generated argument's parts are drawn from now
/// and then (a `Money` argument whose amount is an order's total but whose currency is not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scalars {
    pub strings: Vec<String>,
    pub ints: Vec<i128>,
}

impl Scalars {
    /// The strings and integers among `values` (not inside them), without duplicates.
    pub fn of<'v>(values: impl IntoIterator<Item = &'v Value>) -> Scalars {
        let mut strings = BTreeSet::new();
        let mut ints = BTreeSet::new();
        for v in values {
            match v {
                Value::Str(s) => {
                    strings.insert(s.clone());
                }
                Value::Int(n) => {
                    ints.insert(*n);
                }
                _ => {}
            }
        }
        Scalars {
            strings: strings.into_iter().collect(),
            ints: ints.into_iter().collect(),
        }
    }
}

/// One of `compared` once in [`COMPARED_ONE_IN`] draws, else one of `held` once in four:
/// the draws of a named value (the literals its name is compared with) and of an argument
/// (the scalars the state holds) before any other.
fn compared_or_held<T: Clone>(rng: &mut Rng, compared: &[T], held: &[T]) -> Option<T> {
    if !compared.is_empty() && rng.chance(1, COMPARED_ONE_IN) {
        if let Some(x) = rng.pick(compared) {
            return Some(x.clone());
        }
    }
    if !held.is_empty() && rng.chance(1, 4) {
        rng.pick(held).cloned()
    } else {
        None
    }
}

/// No held scalars.
const NO_SCALARS: &Scalars = &Scalars {
    strings: Vec::new(),
    ints: Vec::new(),
};

/// What one draw may use besides its type: the name of the field or parameter it fills and
/// the scalars the state holds.
#[derive(Clone, Copy)]
struct Draw<'a> {
    name: Option<&'a str>,
    held: &'a Scalars,
}

impl<'a> Draw<'a> {
    fn named(self, name: &'a str) -> Draw<'a> {
        Draw {
            name: Some(name),
            held: self.held,
        }
    }

    fn unnamed(self) -> Draw<'a> {
        Draw {
            name: None,
            held: self.held,
        }
    }
}

/// Generates values of the types of one spec.
#[derive(Debug)]
pub struct Generator<'m> {
    model: &'m SpecModel,
    literals: Literals,
}

impl<'m> Generator<'m> {
    /// A generator that also draws from the literals of the spec's expressions.
    pub fn new(model: &'m SpecModel) -> Generator<'m> {
        Generator {
            model,
            literals: Literals::of(&model.spec),
        }
    }

    /// A generator that ignores the spec's literals.
    pub fn without_literals(model: &'m SpecModel) -> Generator<'m> {
        Generator {
            model,
            literals: Literals::default(),
        }
    }

    pub fn model(&self) -> &'m SpecModel {
        self.model
    }

    /// A random value of `ty`; `size` (0 to [`MAX_SIZE`]) bounds how big it gets.
    pub fn generate(&self, ty: &Ty, rng: &mut Rng, size: u32) -> Value {
        let draw = Draw {
            name: None,
            held: NO_SCALARS,
        };
        self.gen(ty, rng, size, 0, draw)
    }

    /// [`Generator::generate`] for a field or parameter called `name` (once in four draws one of
    /// the literals the spec compares `name` with, when it is a string or an integer) whose
    /// strings and integers are now and then ones of `held`. `name` `None`: a value of no name.
    pub fn generate_named(
        &self,
        name: Option<&str>,
        ty: &Ty,
        rng: &mut Rng,
        size: u32,
        held: &Scalars,
    ) -> Value {
        let draw = Draw { name, held };
        self.gen(ty, rng, size, 0, draw)
    }

    fn gen(&self, ty: &Ty, rng: &mut Rng, size: u32, depth: usize, draw: Draw<'_>) -> Value {
        if depth > MAX_DEPTH {
            return minimal(ty, self.model);
        }
        let d = depth + 1;
        let inner = draw.unnamed();
        match ty {
            Ty::Bool => Value::Bool(rng.chance(1, 2)),
            Ty::U64 => Value::Int(self.int(rng, 0, i128::from(u64::MAX), draw)),
            Ty::I64 => Value::Int(self.int(rng, i128::from(i64::MIN), i128::from(i64::MAX), draw)),
            Ty::F64 => Value::Float(float(rng)),
            Ty::Str => Value::Str(self.string(rng, size, draw)),
            Ty::Bytes => {
                let n = rng.below(u64::from(size.min(MAX_STRING)) + 1);
                Value::Bytes(
                    (0..n)
                        .map(|_| rng.pick(&[0_u8, 1, 255]).copied().unwrap_or(0))
                        .collect(),
                )
            }
            Ty::Unit | Ty::Unknown => Value::Unit,
            Ty::Option(t) => {
                if size == 0 || rng.chance(1, 3) {
                    Value::none()
                } else {
                    Value::some(self.gen(t, rng, size - 1, d, draw))
                }
            }
            Ty::List(t) => Value::List(self.elements(t, rng, size, d, inner)),
            Ty::Set(t) => Value::Set(self.elements(t, rng, size, d, inner).into_iter().collect()),
            Ty::Map(kt, vt) => {
                let n = rng.below(u64::from(size) + 1);
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let k = self.gen(kt, rng, size / 2, d, inner);
                    let v = self.gen(vt, rng, size / 2, d, inner);
                    map.insert(k, v);
                }
                Value::Map(map)
            }
            Ty::Tuple(tys) => Value::Tuple(
                tys.iter()
                    .map(|t| self.gen(t, rng, size, d, inner))
                    .collect(),
            ),
            Ty::State(n) => Value::Record {
                name: "state".into(),
                fields: self.fields(resolve::state_fields(self.model, *n), rng, size, d, inner),
            },
            Ty::Named(r) => match resolve::named(self.model, r) {
                Some(Named::Record(def)) => Value::Record {
                    name: r.name.clone(),
                    fields: self.fields(&def.fields, rng, size, d, inner),
                },
                Some(Named::Enum(def)) => {
                    let plain: Vec<_> = def
                        .variants
                        .iter()
                        .filter(|v| v.payload.is_none())
                        .collect();
                    let chosen = if size == 0 && !plain.is_empty() {
                        plain.get(rng.index(plain.len())).copied()
                    } else {
                        def.variants.get(rng.index(def.variants.len()))
                    };
                    match chosen {
                        Some(v) => variant_value(&r.name, v, |t| {
                            self.gen(t, rng, size.saturating_sub(1), d, inner)
                        }),
                        None => Value::Unit,
                    }
                }
                None => Value::Unit,
            },
        }
    }

    fn elements(
        &self,
        t: &Ty,
        rng: &mut Rng,
        size: u32,
        depth: usize,
        draw: Draw<'_>,
    ) -> Vec<Value> {
        let n = rng.below(u64::from(size) + 1);
        (0..n)
            .map(|_| self.gen(t, rng, size / 2, depth, draw))
            .collect()
    }

    /// Each field generated under its own name.
    fn fields(
        &self,
        defs: &[FieldDef],
        rng: &mut Rng,
        size: u32,
        depth: usize,
        draw: Draw<'_>,
    ) -> BTreeMap<String, Value> {
        defs.iter()
            .map(|f| {
                let draw = draw.named(&f.name.name);
                (f.name.name.clone(), self.gen(&f.ty, rng, size, depth, draw))
            })
            .collect()
    }

    /// An integer in `lo..=hi`: once in four draws one the spec compares the draw's name with
    /// (when there is one), now and then one the state holds; else small, a literal of the
    /// spec, a boundary, or anything.
    fn int(&self, rng: &mut Rng, lo: i128, hi: i128, draw: Draw<'_>) -> i128 {
        let fits = |ns: &[i128]| -> Vec<i128> {
            ns.iter()
                .copied()
                .filter(|n| (lo..=hi).contains(n))
                .collect()
        };
        let compared = draw
            .name
            .and_then(|n| self.literals.compared(n))
            .map_or_else(Vec::new, |c| fits(&c.ints));
        if let Some(n) = compared_or_held(rng, &compared, &fits(&draw.held.ints)) {
            return n;
        }
        let small = |rng: &mut Rng| {
            let n = i128::from(rng.below(4));
            if lo < 0 && rng.chance(1, 3) {
                -n
            } else {
                n
            }
        };
        match rng.below(10) {
            0..=3 => small(rng),
            4 | 5 => {
                let fitting: Vec<i128> = self
                    .literals
                    .ints
                    .iter()
                    .copied()
                    .filter(|n| (lo..=hi).contains(n))
                    .collect();
                rng.pick(&fitting).copied().unwrap_or_else(|| small(rng))
            }
            6 | 7 => {
                let mut edges = vec![lo, lo + 1, hi - 1, hi];
                if lo < 0 {
                    edges.push(-1);
                }
                rng.pick(&edges).copied().unwrap_or(0)
            }
            _ => {
                let bits = rng.next_u64();
                if lo < 0 {
                    i128::from(i64::from_ne_bytes(bits.to_ne_bytes()))
                } else {
                    i128::from(bits)
                }
            }
        }
    }

    /// Once in four draws a string the spec compares the draw's name with (when there is one), now
    /// and then one the state holds; else a short string over the alphabet, or now and then a
    /// literal of the spec.
    fn string(&self, rng: &mut Rng, size: u32, draw: Draw<'_>) -> String {
        let compared = draw
            .name
            .and_then(|n| self.literals.compared(n))
            .map_or(&[][..], |c| c.strings.as_slice());
        if let Some(s) = compared_or_held(rng, compared, &draw.held.strings) {
            return s;
        }
        if !self.literals.strings.is_empty() && rng.chance(1, 2) {
            if let Some(s) = rng.pick(&self.literals.strings) {
                return s.clone();
            }
        }
        let n = rng.below(u64::from(size.min(MAX_STRING)) + 1);
        (0..n)
            .map(|_| rng.pick(ALPHABET).copied().unwrap_or('a'))
            .collect()
    }
}

fn float(rng: &mut Rng) -> f64 {
    if rng.chance(1, 2) {
        return rng.pick(FLOATS).copied().unwrap_or(0.0);
    }
    // Multiples of 1/4 in -1000..1000: exact in binary, readable when printed.
    let quarters = i32::try_from(rng.below(8001)).unwrap_or(0) - 4000;
    f64::from(quarters) / 4.0
}

/// A random value of `ty` with a generator that ignores the spec's literals (see
/// [`Generator::new`] for one that uses them).
pub fn generate(ty: &Ty, model: &SpecModel, rng: &mut Rng, size: u32) -> Value {
    Generator::without_literals(model).generate(ty, rng, size)
}

/// The smallest value of `ty`: `false`, `0`, `""`, empty collections, `none`, records of
/// smallest fields, the first variant without payload (else the first with the smallest one).
pub fn minimal(ty: &Ty, model: &SpecModel) -> Value {
    minimal_in(ty, model, 0)
}

fn minimal_in(ty: &Ty, model: &SpecModel, depth: usize) -> Value {
    let d = depth + 1;
    match ty {
        Ty::Bool => Value::Bool(false),
        Ty::U64 | Ty::I64 => Value::Int(0),
        Ty::F64 => Value::Float(0.0),
        Ty::Str => Value::Str(String::new()),
        Ty::Bytes => Value::Bytes(Vec::new()),
        Ty::Unit | Ty::Unknown => Value::Unit,
        Ty::Option(_) => Value::none(),
        Ty::List(_) => Value::List(Vec::new()),
        Ty::Set(_) => Value::Set(BTreeSet::new()),
        Ty::Map(..) => Value::Map(BTreeMap::new()),
        _ if depth > MAX_DEPTH => Value::Unit,
        Ty::Tuple(tys) => Value::Tuple(tys.iter().map(|t| minimal_in(t, model, d)).collect()),
        Ty::State(n) => Value::Record {
            name: "state".into(),
            fields: minimal_fields(resolve::state_fields(model, *n), model, d),
        },
        Ty::Named(r) => match resolve::named(model, r) {
            Some(Named::Record(def)) => Value::Record {
                name: r.name.clone(),
                fields: minimal_fields(&def.fields, model, d),
            },
            Some(Named::Enum(def)) => {
                let first = def
                    .variants
                    .iter()
                    .find(|v| v.payload.is_none())
                    .or_else(|| def.variants.first());
                match first {
                    Some(v) => variant_value(&r.name, v, |t| minimal_in(t, model, d)),
                    None => Value::Unit,
                }
            }
            None => Value::Unit,
        },
    }
}

fn minimal_fields(defs: &[FieldDef], model: &SpecModel, depth: usize) -> BTreeMap<String, Value> {
    defs.iter()
        .map(|f| (f.name.name.clone(), minimal_in(&f.ty, model, depth)))
        .collect()
}

/// Simpler values of `ty` than `value`, simplest first: fewer map, list and set entries,
/// integers nearer 0, shorter strings, `none` for options, earlier variants; then each part
/// shrunk in place. Every candidate conforms to `ty` if `value` does.
pub fn shrink(value: &Value, ty: &Ty, model: &SpecModel) -> Vec<Value> {
    let mut out = shrink_in(value, ty, model, 0);
    out.truncate(MAX_CANDIDATES);
    out
}

fn shrink_in(value: &Value, ty: &Ty, model: &SpecModel, depth: usize) -> Vec<Value> {
    if depth > MAX_DEPTH {
        return Vec::new();
    }
    let d = depth + 1;
    let mut out = match (ty, value) {
        (Ty::Bool, Value::Bool(true)) => vec![Value::Bool(false)],
        (Ty::U64 | Ty::I64, Value::Int(n)) => shrink_int(*n).into_iter().map(Value::Int).collect(),
        (Ty::F64, Value::Float(x)) => {
            let mut out = Vec::new();
            if *x != 0.0 {
                out.push(Value::Float(0.0));
            }
            if x.is_finite() && x.trunc() != *x && x.trunc() != 0.0 {
                out.push(Value::Float(x.trunc()));
            }
            out
        }
        (Ty::Str, Value::Str(s)) => shrink_string(s).into_iter().map(Value::Str).collect(),
        (Ty::Bytes, Value::Bytes(b)) => {
            shrink_seq(b, |x| if *x == 0 { Vec::new() } else { vec![0] })
                .into_iter()
                .map(Value::Bytes)
                .collect()
        }
        (Ty::Option(t), Value::Option(Some(v))) => {
            let mut out = vec![Value::none()];
            out.extend(shrink_in(v, t, model, d).into_iter().map(Value::some));
            out
        }
        (Ty::List(t), Value::List(items)) => shrink_seq(items, |x| shrink_in(x, t, model, d))
            .into_iter()
            .map(Value::List)
            .collect(),
        (Ty::Set(t), Value::Set(items)) => {
            let list: Vec<Value> = items.iter().cloned().collect();
            let mut out: Vec<Value> = shrink_seq(&list, |x| shrink_in(x, t, model, d))
                .into_iter()
                .map(|l| Value::Set(l.into_iter().collect()))
                .collect();
            out.retain(|v| v != value);
            out
        }
        (Ty::Map(kt, vt), Value::Map(map)) => shrink_map(map, kt, vt, model, d),
        (Ty::Tuple(tys), Value::Tuple(items)) => {
            let mut out = Vec::new();
            for (i, (t, item)) in tys.iter().zip(items).enumerate() {
                for c in shrink_in(item, t, model, d) {
                    let mut next = items.clone();
                    if let Some(slot) = next.get_mut(i) {
                        *slot = c;
                    }
                    out.push(Value::Tuple(next));
                }
            }
            out
        }
        (_, Value::Record { name, fields }) => {
            shrink_fields(name, fields, resolve::record_fields(model, ty), model, d)
        }
        (
            Ty::Named(r),
            Value::Variant {
                enum_name,
                variant,
                payload,
            },
        ) => match resolve::named(model, r) {
            Some(Named::Enum(def)) => {
                let mut out = Vec::new();
                for v in def.variants.iter().take_while(|v| v.name.name != *variant) {
                    out.push(variant_value(enum_name, v, |t| minimal_in(t, model, d)));
                }
                let pty = def.variant(variant).and_then(|v| v.payload.as_ref());
                if let (Some(p), Some(t)) = (payload, pty) {
                    for c in shrink_in(p, t, model, d) {
                        out.push(Value::Variant {
                            enum_name: enum_name.clone(),
                            variant: variant.clone(),
                            payload: Some(Box::new(c)),
                        });
                    }
                }
                out
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    out.truncate(MAX_CANDIDATES);
    out
}

/// 0, half way, one step nearer 0.
fn shrink_int(n: i128) -> Vec<i128> {
    let mut out = Vec::new();
    for c in [0, n / 2, n - n.signum()] {
        if c != n && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Empty, the first half, one character removed, one character made `a`.
fn shrink_string(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: String| {
        if c != s && !out.contains(&c) {
            out.push(c);
        }
    };
    if chars.is_empty() {
        return Vec::new();
    }
    push(String::new());
    push(chars.iter().take(chars.len() / 2).collect());
    for i in 0..chars.len().min(MAX_POSITIONS) {
        push(
            chars
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| *c)
                .collect(),
        );
    }
    for i in 0..chars.len().min(MAX_POSITIONS) {
        if chars.get(i).is_some_and(|c| *c != 'a') {
            push(
                chars
                    .iter()
                    .enumerate()
                    .map(|(j, c)| if j == i { 'a' } else { *c })
                    .collect(),
            );
        }
    }
    out
}

/// Empty, the first half, one element removed, one element shrunk.
fn shrink_seq<T: Clone>(items: &[T], shrink_item: impl Fn(&T) -> Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    if items.is_empty() {
        return out;
    }
    out.push(Vec::new());
    if items.len() > 2 {
        out.push(items.iter().take(items.len() / 2).cloned().collect());
    }
    if items.len() > 1 {
        for i in 0..items.len().min(MAX_POSITIONS) {
            let mut next = items.to_vec();
            next.remove(i);
            out.push(next);
        }
    }
    for (i, item) in items.iter().enumerate().take(MAX_POSITIONS) {
        for c in shrink_item(item) {
            let mut next = items.to_vec();
            if let Some(slot) = next.get_mut(i) {
                *slot = c;
            }
            out.push(next);
            if out.len() >= MAX_CANDIDATES {
                return out;
            }
        }
    }
    out
}

/// Empty, one entry removed, one value shrunk, one key shrunk (unless it collides).
fn shrink_map(
    map: &BTreeMap<Value, Value>,
    kt: &Ty,
    vt: &Ty,
    model: &SpecModel,
    depth: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    if map.is_empty() {
        return out;
    }
    out.push(Value::Map(BTreeMap::new()));
    if map.len() > 1 {
        for k in map.keys().take(MAX_POSITIONS) {
            let mut next = map.clone();
            next.remove(k);
            out.push(Value::Map(next));
        }
    }
    for (k, v) in map.iter().take(MAX_POSITIONS) {
        for c in shrink_in(v, vt, model, depth) {
            let mut next = map.clone();
            next.insert(k.clone(), c);
            out.push(Value::Map(next));
        }
    }
    for (k, v) in map.iter().take(MAX_POSITIONS) {
        for c in shrink_in(k, kt, model, depth) {
            if map.contains_key(&c) {
                continue;
            }
            let mut next = map.clone();
            next.remove(k);
            next.insert(c, v.clone());
            out.push(Value::Map(next));
        }
    }
    out
}

fn shrink_fields(
    name: &str,
    fields: &BTreeMap<String, Value>,
    defs: &[FieldDef],
    model: &SpecModel,
    depth: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    for def in defs {
        let Some(v) = fields.get(&def.name.name) else {
            continue;
        };
        for c in shrink_in(v, &def.ty, model, depth) {
            let mut next = fields.clone();
            next.insert(def.name.name.clone(), c);
            out.push(Value::Record {
                name: name.to_string(),
                fields: next,
            });
            if out.len() >= MAX_CANDIDATES {
                return out;
            }
        }
    }
    out
}

/// A failing case after shrinking.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Vec<(Ty, Value)>,
    /// Candidates accepted (each one a smaller failing case).
    pub steps: u32,
    /// Times the property was run.
    pub runs: u32,
}

/// Greedy shrinking: tries the [`shrink`] candidates of each part of `case` in turn and keeps
/// the first one for which `still_fails` gives a failing case (which it may rewrite, e.g. to
/// record the answers a host actually gave), starting over after each success; stops when no
/// candidate fails or after `max_runs` runs of the property.
pub fn shrink_case<F>(
    case: Vec<(Ty, Value)>,
    model: &SpecModel,
    max_runs: u32,
    mut still_fails: F,
) -> Shrunk
where
    F: FnMut(&[(Ty, Value)]) -> Option<Vec<(Ty, Value)>>,
{
    let mut shrunk = Shrunk {
        case,
        steps: 0,
        runs: 0,
    };
    'outer: loop {
        for i in 0..shrunk.case.len() {
            let Some((ty, value)) = shrunk.case.get(i) else {
                break;
            };
            for candidate in shrink(value, ty, model) {
                if shrunk.runs >= max_runs {
                    break 'outer;
                }
                shrunk.runs += 1;
                let mut trial = shrunk.case.clone();
                if let Some(slot) = trial.get_mut(i) {
                    slot.1 = candidate;
                }
                if let Some(next) = still_fails(&trial) {
                    shrunk.case = next;
                    shrunk.steps += 1;
                    continue 'outer;
                }
            }
        }
        break;
    }
    shrunk
}

/// [`shrink_case`] for a single value: the smallest value found for which `fails` holds.
pub fn shrink_value(
    value: Value,
    ty: &Ty,
    model: &SpecModel,
    max_runs: u32,
    mut fails: impl FnMut(&Value) -> bool,
) -> Value {
    let case = vec![(ty.clone(), value)];
    let shrunk = shrink_case(case, model, max_runs, |c| {
        let v = &c.first()?.1;
        fails(v).then(|| c.to_vec())
    });
    shrunk
        .case
        .into_iter()
        .next()
        .map_or(Value::Unit, |(_, v)| v)
}

/// Variant `v` of enum `enum_name`, its payload (when it carries one) made by `payload`.
fn variant_value(enum_name: &str, v: &VariantDef, payload: impl FnOnce(&Ty) -> Value) -> Value {
    Value::Variant {
        enum_name: enum_name.to_string(),
        variant: v.name.name.clone(),
        payload: v.payload.as_ref().map(|t| Box::new(payload(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_sources;
    use lang::span::SourceMap;

    fn model() -> SpecModel {
        let mut sources = SourceMap::new();
        sources.add(
            "t.ups",
            "upgrade t 1 -> 2\n\
             version 1 { enum Shape { Dot, Circle(u64), Box(list<i64>) } state { m: map<string, i64> } }\n\
             version 2 { state { m: map<string, i64> } }\n\
             invariant (old, new) { old.m == new.m }\n\
             transform (old) -> new { m: old.m }\n",
        );
        let out = check_sources(&sources);
        assert!(!out.has_errors(), "{:#?}", out.diagnostics);
        out.models
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn ints_shrink_toward_zero() {
        assert_eq!(shrink_int(10), vec![0, 5, 9]);
        assert_eq!(shrink_int(-3), vec![0, -1, -2]);
        assert_eq!(shrink_int(1), vec![0]);
        assert!(shrink_int(0).is_empty());
    }

    #[test]
    fn strings_shrink_shorter_and_toward_a() {
        assert_eq!(shrink_string("ba"), vec!["", "b", "a", "aa"]);
        assert!(shrink_string("").is_empty());
    }

    #[test]
    fn greedy_shrinking_finds_the_smallest_failure() {
        let m = model();
        let ty = Ty::List(Box::new(Ty::I64));
        let big = Value::List((0..10).map(|i| Value::Int(i * 7 - 20)).collect());
        // Fails while some element is at least 10: the smallest such list is [10].
        let fails =
            |v: &Value| matches!(v, Value::List(xs) if xs.iter().any(|x| *x >= Value::Int(10)));
        assert_eq!(
            shrink_value(big, &ty, &m, 10_000, fails),
            Value::List(vec![Value::Int(10)])
        );
    }

    #[test]
    fn variants_shrink_to_earlier_ones() {
        let m = model();
        let ty = Ty::named(1, "Shape");
        let v = Value::variant("Shape", "Box", Some(Value::List(vec![Value::Int(3)])));
        let candidates = shrink(&v, &ty, &m);
        assert_eq!(
            candidates.first(),
            Some(&Value::variant("Shape", "Dot", None))
        );
        assert_eq!(
            candidates.get(1),
            Some(&Value::variant("Shape", "Circle", Some(Value::Int(0))))
        );
        assert_eq!(minimal(&ty, &m), Value::variant("Shape", "Dot", None));
    }

    #[test]
    fn size_zero_gives_small_values() {
        let m = model();
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            let v = generate(&Ty::State(1), &m, &mut rng, 0);
            assert_eq!(v.to_string(), "state { m: {} }");
            let o = generate(&Ty::Option(Box::new(Ty::Str)), &m, &mut rng, 0);
            assert_eq!(o, Value::none());
        }
    }
}
