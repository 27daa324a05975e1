//! Random values of a type, for the cases of the obligations.
//!
//! Generated values are small on purpose: collections have at most `size` elements (and
//! elements of nested collections half as many), strings at most three characters from a
//! two-letter alphabet (so map keys collide now and then), integers mostly small or on the
//! boundaries of their type, and strings and integers often the spec's own literals.
//! A field or parameter whose name the spec compares with literals (`o.currency == "USD"`)
//! is one of those literals once in four draws; an argument's strings and integers are now and
//! then ones the state holds ([`Scalars`]: an amount equal to an order's total).
//! Every generated value conforms to its type ([`crate::verify::conform::conforms`]).

use super::{minimal, variant_value, MAX_DEPTH};
use crate::eval::Value;
use crate::model::{FieldDef, SpecModel, Ty};
use crate::verify::literals::Literals;
use crate::verify::resolve::{self, Named};
use crate::verify::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// The largest size a case is generated with.
pub const MAX_SIZE: u32 = 6;
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

    /// The spec whose types this generator makes values of.
    pub fn model(&self) -> &'m SpecModel {
        self.model
    }

    /// A random value of `ty`; `size` (0 to [`MAX_SIZE`]) bounds how big it gets.
    pub fn generate(&self, ty: &Ty, rng: &mut Rng, size: u32) -> Value {
        self.generate_named(None, ty, rng, size, NO_SCALARS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::gen::tests::model;

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
