//! Run-time support for generated rule code: the error type, the `f64` of the language, the
//! built-in functions (`keys`, `map_values`, `to_map`, ...), checked integer arithmetic, and
//! the JSON plumbing of arguments, results and delegate calls.
//!
//! Every function has the meaning the reference evaluator (`compiler::eval`) gives the built-in
//! of the same name. Closures passed to built-ins return `Result`, so `?` and `disallow`
//! inside them abort the whole rule. Integers are checked in their static type: an overflow,
//! a division by zero, or a negative number made `u64` is [`RuleError::BadInput`].

use crate::guest::Host;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Why a rule, transform or invariant did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// `disallow "reason"`
    Disallowed(String),
    /// Input that does not decode, or a run-time failure (missing key, overflow).
    BadInput(String),
    /// A bug or a broken contract between plugin and host.
    Internal(String),
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Disallowed(r) => write!(f, "disallowed: {r}"),
            RuleError::BadInput(m) => write!(f, "bad input: {m}"),
            RuleError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for RuleError {}

/// The result of every generated function.
pub type RuleResult<T> = Result<T, RuleError>;

fn bad(message: impl Into<String>) -> RuleError {
    RuleError::BadInput(message.into())
}

/// `disallow "reason"`.
pub fn disallow(reason: &str) -> RuleError {
    RuleError::Disallowed(reason.to_string())
}

// ------------------------------------------------------------------ f64

/// The language's `f64`: ordered and compared by the IEEE total order (`-0.0 < 0.0`, NaN
/// equals itself and sorts above infinity), as the evaluator compares floats, so it can be a
/// set element or map key. Encoded as a plain JSON number.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for F64 {}

impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for F64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

macro_rules! float_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl std::ops::$trait for F64 {
            type Output = F64;
            fn $method(self, rhs: F64) -> F64 {
                F64(self.0 $op rhs.0)
            }
        }
    };
}
float_op!(Add, add, +);
float_op!(Sub, sub, -);
float_op!(Mul, mul, *);
float_op!(Div, div, /);
float_op!(Rem, rem, %);

impl std::ops::Neg for F64 {
    type Output = F64;
    fn neg(self) -> F64 {
        F64(-self.0)
    }
}

/// A float as the language prints it: always with a fractional part or an exponent (`1.0`).
pub fn float_text(x: f64) -> String {
    format!("{x:?}")
}

// ------------------------------------------------------------------ showing values

/// Values written as the language writes them (`"a"`, `some(1)`, `Item { value: "v" }`), for
/// error messages that name a value, as the evaluator's messages do.
pub trait Show {
    fn show(&self, out: &mut String);

    /// The text of [`Show::show`].
    fn shown(&self) -> String {
        let mut out = String::new();
        self.show(&mut out);
        out
    }
}

impl<T: Show + ?Sized> Show for &T {
    fn show(&self, out: &mut String) {
        (**self).show(out);
    }
}

impl<T: Show + ?Sized> Show for Box<T> {
    fn show(&self, out: &mut String) {
        (**self).show(out);
    }
}

impl Show for () {
    fn show(&self, out: &mut String) {
        out.push_str("()");
    }
}

macro_rules! show_display {
    ($($t:ty),*) => {
        $(impl Show for $t {
            fn show(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        })*
    };
}
show_display!(bool, i64, u64, u8);

impl Show for F64 {
    fn show(&self, out: &mut String) {
        out.push_str(&float_text(self.0));
    }
}

impl Show for str {
    fn show(&self, out: &mut String) {
        out.push('"');
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

impl Show for String {
    fn show(&self, out: &mut String) {
        self.as_str().show(out);
    }
}

impl<T: Show> Show for Option<T> {
    fn show(&self, out: &mut String) {
        match self {
            None => out.push_str("none"),
            Some(v) => {
                out.push_str("some(");
                v.show(out);
                out.push(')');
            }
        }
    }
}

fn show_seq<'a, T: Show + 'a>(
    out: &mut String,
    open: &str,
    items: impl Iterator<Item = &'a T>,
    close: &str,
) {
    out.push_str(open);
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        item.show(out);
    }
    out.push_str(close);
}

impl<T: Show> Show for Vec<T> {
    fn show(&self, out: &mut String) {
        show_seq(out, "[", self.iter(), "]");
    }
}

impl<T: Show> Show for BTreeSet<T> {
    fn show(&self, out: &mut String) {
        show_seq(out, "{", self.iter(), "}");
    }
}

impl<K: Show, V: Show> Show for BTreeMap<K, V> {
    fn show(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            k.show(out);
            out.push_str(": ");
            v.show(out);
        }
        out.push('}');
    }
}

macro_rules! show_tuple {
    ($first:ident $(, $name:ident)*) => {
        impl<$first: Show $(, $name: Show)*> Show for ($first, $($name,)*) {
            #[allow(non_snake_case)]
            fn show(&self, out: &mut String) {
                let ($first, $($name,)*) = self;
                out.push('(');
                $first.show(out);
                $(out.push_str(", "); $name.show(out);)*
                if <[&str]>::is_empty(&[$(stringify!($name)),*]) {
                    out.push(',');
                }
                out.push(')');
            }
        }
    };
}
show_tuple!(A);
show_tuple!(A, B);
show_tuple!(A, B, C);
show_tuple!(A, B, C, D);
show_tuple!(A, B, C, D, E);
show_tuple!(A, B, C, D, E, F);
show_tuple!(A, B, C, D, E, F, G);
show_tuple!(A, B, C, D, E, F, G, H);
show_tuple!(A, B, C, D, E, F, G, H, I);
show_tuple!(A, B, C, D, E, F, G, H, I, J);
show_tuple!(A, B, C, D, E, F, G, H, I, J, K);
show_tuple!(A, B, C, D, E, F, G, H, I, J, K, L);

/// Writes a record as `Name { a: 1, b: "x" }`, fields in the order given (generated code
/// passes them sorted by name, as the evaluator shows them).
pub fn show_record(out: &mut String, name: &str, fields: &[(&str, &dyn Show)]) {
    out.push_str(name);
    if fields.is_empty() {
        out.push_str(" {}");
        return;
    }
    out.push_str(" { ");
    for (i, (field, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(field);
        out.push_str(": ");
        value.show(out);
    }
    out.push_str(" }");
}

/// Writes an enum value as `Enum::Variant` or `Enum::Variant(payload)`.
pub fn show_variant(out: &mut String, enum_name: &str, variant: &str, payload: Option<&dyn Show>) {
    out.push_str(enum_name);
    out.push_str("::");
    out.push_str(variant);
    if let Some(p) = payload {
        out.push('(');
        p.show(out);
        out.push(')');
    }
}

/// The error of a `match` none of whose arms matches (the checker makes this unreachable).
pub fn no_match(value: &dyn Show) -> RuleError {
    bad(format!("no arm of the `match` matches `{}`", value.shown()))
}

// ------------------------------------------------------------------ integers

fn overflow() -> RuleError {
    bad("integer overflow")
}

fn by_zero(op: &str) -> RuleError {
    bad(format!("{op} by zero"))
}

macro_rules! int_ops {
    ($t:ty, $add:ident, $sub:ident, $mul:ident, $div:ident, $rem:ident) => {
        /// `a + b`, checked.
        pub fn $add(a: $t, b: $t) -> RuleResult<$t> {
            a.checked_add(b).ok_or_else(overflow)
        }
        /// `a - b`, checked.
        pub fn $sub(a: $t, b: $t) -> RuleResult<$t> {
            a.checked_sub(b).ok_or_else(overflow)
        }
        /// `a * b`, checked.
        pub fn $mul(a: $t, b: $t) -> RuleResult<$t> {
            a.checked_mul(b).ok_or_else(overflow)
        }
        /// `a / b`, rounding toward zero; checked.
        pub fn $div(a: $t, b: $t) -> RuleResult<$t> {
            if b == 0 {
                return Err(by_zero("division"));
            }
            a.checked_div(b).ok_or_else(overflow)
        }
        /// `a % b`, with the sign of `a`; checked.
        pub fn $rem(a: $t, b: $t) -> RuleResult<$t> {
            if b == 0 {
                return Err(by_zero("remainder"));
            }
            // `i64::MIN % -1` is 0 mathematically; only the machine operation overflows.
            Ok(a.checked_rem(b).unwrap_or(0))
        }
    };
}
int_ops!(i64, add_i64, sub_i64, mul_i64, div_i64, rem_i64);
int_ops!(u64, add_u64, sub_u64, mul_u64, div_u64, rem_u64);

/// `-a`, checked.
pub fn neg_i64(a: i64) -> RuleResult<i64> {
    a.checked_neg().ok_or_else(overflow)
}

fn out_of_range(name: &str, shown: String) -> RuleError {
    bad(format!("`{name}` argument {shown} is out of range"))
}

/// `i64(x)` of a `u64`.
pub fn u64_to_i64(x: u64) -> RuleResult<i64> {
    i64::try_from(x).map_err(|_| out_of_range("i64", x.to_string()))
}

/// `u64(x)` of an `i64`.
pub fn i64_to_u64(x: i64) -> RuleResult<u64> {
    u64::try_from(x).map_err(|_| out_of_range("u64", x.to_string()))
}

const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;

/// A float truncated toward zero, if it is within 2^64 in magnitude (so the cast is exact).
fn truncated(x: f64) -> Option<i128> {
    let t = x.trunc();
    (t.is_finite() && t > -TWO_TO_64 && t < TWO_TO_64).then_some(t as i128)
}

/// `i64(x)` of an `f64`: truncated toward zero.
pub fn f64_to_i64(x: F64) -> RuleResult<i64> {
    truncated(x.0)
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| out_of_range("i64", float_text(x.0)))
}

/// `u64(x)` of an `f64`: truncated toward zero.
pub fn f64_to_u64(x: F64) -> RuleResult<u64> {
    truncated(x.0)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| out_of_range("u64", float_text(x.0)))
}

/// `f64(x)` of an `i64`: the nearest float.
pub fn i64_to_f64(x: i64) -> F64 {
    F64(x as f64)
}

/// `f64(x)` of a `u64`: the nearest float.
pub fn u64_to_f64(x: u64) -> F64 {
    F64(x as f64)
}

/// `sum(xs)` of `i64`s, left to right, checked; `0` when empty.
pub fn sum_i64(xs: &[i64]) -> RuleResult<i64> {
    xs.iter().try_fold(0i64, |t, x| add_i64(t, *x))
}

/// `sum(xs)` of `u64`s, left to right, checked; `0` when empty.
pub fn sum_u64(xs: &[u64]) -> RuleResult<u64> {
    xs.iter().try_fold(0u64, |t, x| add_u64(t, *x))
}

/// `sum(xs)` of floats, left to right from `0.0`.
pub fn sum_f64(xs: &[F64]) -> F64 {
    xs.iter().fold(F64(0.0), |t, x| t + *x)
}

/// Numbers `sum` adds: `i64` and `u64` checked, `f64` from `0.0`.
pub trait Summable: Sized + Copy {
    fn sum_of(xs: &[Self]) -> RuleResult<Self>;
}

impl Summable for i64 {
    fn sum_of(xs: &[i64]) -> RuleResult<i64> {
        sum_i64(xs)
    }
}

impl Summable for u64 {
    fn sum_of(xs: &[u64]) -> RuleResult<u64> {
        sum_u64(xs)
    }
}

impl Summable for F64 {
    fn sum_of(xs: &[F64]) -> RuleResult<F64> {
        Ok(sum_f64(xs))
    }
}

/// `sum(xs)` of a list whose element type the context decides (`sum([])`).
pub fn sum<T: Summable>(xs: &[T]) -> RuleResult<T> {
    T::sum_of(xs)
}

/// `min(a, b)`: `a` unless `b` is smaller.
pub fn min<T: Ord>(a: T, b: T) -> T {
    if a <= b {
        a
    } else {
        b
    }
}

/// `max(a, b)`: `a` unless `b` is larger.
pub fn max<T: Ord>(a: T, b: T) -> T {
    if a >= b {
        a
    } else {
        b
    }
}

/// `to_string(x)`.
pub trait ToText {
    fn to_text(&self) -> String;
}

impl ToText for i64 {
    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl ToText for u64 {
    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl ToText for bool {
    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl ToText for F64 {
    fn to_text(&self) -> String {
        float_text(self.0)
    }
}

impl ToText for String {
    fn to_text(&self) -> String {
        self.clone()
    }
}

/// `to_string(x)`.
pub fn to_string<T: ToText + ?Sized>(x: &T) -> String {
    x.to_text()
}

/// `a + b` on strings.
pub fn concat_str(mut a: String, b: String) -> String {
    a.push_str(&b);
    a
}

// ------------------------------------------------------------------ indexing

/// `m[k]`: the value, or "key `k` not found".
pub fn at_map<'m, K: Ord + Show, V>(m: &'m BTreeMap<K, V>, k: &K) -> RuleResult<&'m V> {
    m.get(k)
        .ok_or_else(|| bad(format!("key `{}` not found", k.shown())))
}

/// `xs[i]`: the element, or "index i is out of range".
pub fn at_list<T>(xs: &[T], i: u64) -> RuleResult<&T> {
    usize::try_from(i)
        .ok()
        .and_then(|i| xs.get(i))
        .ok_or_else(|| {
            bad(format!(
                "index {i} is out of range for a list of length {}",
                xs.len()
            ))
        })
}

// ------------------------------------------------------------------ collections

/// `keys(m)`.
pub fn keys<K: Ord + Clone, V>(m: &BTreeMap<K, V>) -> BTreeSet<K> {
    m.keys().cloned().collect()
}

/// `values(m)`, in key order.
pub fn values<K, V: Clone>(m: &BTreeMap<K, V>) -> Vec<V> {
    m.values().cloned().collect()
}

/// `entries(m)`: `(key, value)` pairs in key order.
pub fn entries<K: Clone, V: Clone>(m: &BTreeMap<K, V>) -> Vec<(K, V)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `len(x)`: elements of a list, set or map, bytes of `bytes`, characters of a string.
pub trait Len {
    fn len_of(&self) -> u64;
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl<T> Len for Vec<T> {
    fn len_of(&self) -> u64 {
        count(self.len())
    }
}

impl<T> Len for BTreeSet<T> {
    fn len_of(&self) -> u64 {
        count(self.len())
    }
}

impl<K, V> Len for BTreeMap<K, V> {
    fn len_of(&self) -> u64 {
        count(self.len())
    }
}

impl Len for String {
    /// Unicode scalar values, not bytes.
    fn len_of(&self) -> u64 {
        count(self.chars().count())
    }
}

/// `len(x)`.
pub fn len<T: Len + ?Sized>(x: &T) -> u64 {
    x.len_of()
}

/// `contains(xs, x)` on a list.
pub fn list_contains<T: PartialEq>(xs: &[T], x: &T) -> bool {
    xs.contains(x)
}

/// `contains(s, x)` on a set.
pub fn set_contains<T: Ord>(s: &BTreeSet<T>, x: &T) -> bool {
    s.contains(x)
}

/// `contains_key(m, k)`.
pub fn contains_key<K: Ord, V>(m: &BTreeMap<K, V>, k: &K) -> bool {
    m.contains_key(k)
}

/// `get(m, k)`.
pub fn get<K: Ord, V: Clone>(m: &BTreeMap<K, V>, k: &K) -> Option<V> {
    m.get(k).cloned()
}

/// `insert(m, k, v)`: the map with `k` set to `v`.
pub fn insert<K: Ord, V>(mut m: BTreeMap<K, V>, k: K, v: V) -> BTreeMap<K, V> {
    m.insert(k, v);
    m
}

/// `remove(m, k)`: the map without `k`.
pub fn remove<K: Ord, V>(mut m: BTreeMap<K, V>, k: &K) -> BTreeMap<K, V> {
    m.remove(k);
    m
}

/// `map(o, f)` on an option.
pub fn map_option<T, U>(
    o: Option<T>,
    mut f: impl FnMut(T) -> RuleResult<U>,
) -> RuleResult<Option<U>> {
    match o {
        None => Ok(None),
        Some(v) => f(v).map(Some),
    }
}

/// `map(xs, f)` on a list, in order.
pub fn map_list<T, U>(xs: Vec<T>, f: impl FnMut(T) -> RuleResult<U>) -> RuleResult<Vec<U>> {
    xs.into_iter().map(f).collect()
}

/// `map(s, f)` on a set, in order; equal results collapse.
pub fn map_set<T, U: Ord>(
    s: BTreeSet<T>,
    f: impl FnMut(T) -> RuleResult<U>,
) -> RuleResult<BTreeSet<U>> {
    s.into_iter().map(f).collect()
}

/// `map_values(m, f)`, in key order.
pub fn map_values<K: Ord, V, W>(
    m: BTreeMap<K, V>,
    mut f: impl FnMut(V) -> RuleResult<W>,
) -> RuleResult<BTreeMap<K, W>> {
    // Collected, the map is built in one pass from its (already sorted) entries instead of a
    // search per insert.
    m.into_iter().map(|(k, v)| Ok((k, f(v)?))).collect()
}

/// `filter(xs, f)` on a list.
pub fn filter_list<T: Clone>(
    xs: Vec<T>,
    mut f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<Vec<T>> {
    let mut kept = Vec::new();
    for x in xs {
        if f(x.clone())? {
            kept.push(x);
        }
    }
    Ok(kept)
}

/// `filter(s, f)` on a set.
pub fn filter_set<T: Ord + Clone>(
    s: BTreeSet<T>,
    mut f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<BTreeSet<T>> {
    let mut kept = BTreeSet::new();
    for x in s {
        if f(x.clone())? {
            kept.insert(x);
        }
    }
    Ok(kept)
}

/// `to_map(xs, f)`: `f` gives each element's `(key, value)`; later entries win.
///
/// Collected rather than inserted one by one: `BTreeMap`'s `FromIterator` sorts the entries
/// (stably, in linear time when they come sorted, as lists of keyed records often do), keeps
/// the last of equal keys, and builds the tree bottom-up. Keys equal under our `Ord` are
/// identical values (floats compare by `total_cmp`), so which equal key is kept cannot show.
pub fn to_map<T, K: Ord, V>(
    xs: Vec<T>,
    mut f: impl FnMut(T) -> RuleResult<(K, V)>,
) -> RuleResult<BTreeMap<K, V>> {
    // A few entries fit one leaf: inserting them is cheaper than sorting.
    if xs.len() <= SMALL_MAP {
        let mut out = BTreeMap::new();
        for x in xs {
            let (k, v) = f(x)?;
            out.insert(k, v);
        }
        return Ok(out);
    }
    xs.into_iter().map(f).collect()
}

/// Up to this many entries, [`to_map`] inserts one by one (a B-tree leaf holds 11).
const SMALL_MAP: usize = 8;

/// `to_set(xs)`.
pub fn to_set<T: Ord>(xs: Vec<T>) -> BTreeSet<T> {
    xs.into_iter().collect()
}

/// `to_list(s)`, in order.
pub fn to_list<T>(s: BTreeSet<T>) -> Vec<T> {
    s.into_iter().collect()
}

/// `unwrap_or(o, default)`; the default was evaluated either way (arguments are strict).
pub fn unwrap_or<T>(o: Option<T>, default: T) -> T {
    o.unwrap_or(default)
}

/// `and_then(o, f)`.
pub fn and_then<T, U>(
    o: Option<T>,
    mut f: impl FnMut(T) -> RuleResult<Option<U>>,
) -> RuleResult<Option<U>> {
    match o {
        None => Ok(None),
        Some(v) => f(v),
    }
}

/// `any(xs, f)` on a list or set: stops at the first `true`.
pub fn any<'a, T: Clone + 'a>(
    xs: impl IntoIterator<Item = &'a T>,
    mut f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<bool> {
    for x in xs {
        if f(x.clone())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `all(xs, f)` on a list or set: stops at the first `false`.
pub fn all<'a, T: Clone + 'a>(
    xs: impl IntoIterator<Item = &'a T>,
    mut f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<bool> {
    for x in xs {
        if !f(x.clone())? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `concat(a, b)` and `a + b` on lists.
pub fn concat<T>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
    a.extend(b);
    a
}

// ------------------------------------------------------------------ the wire encoding

/// A value as JSON, for the arguments of a delegate call.
pub fn json<T: Serialize + ?Sized>(value: &T) -> RuleResult<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| RuleError::Internal(format!("cannot encode a value: {e}")))
}

/// A value in the wire encoding.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> RuleResult<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| RuleError::Internal(format!("cannot encode a value: {e}")))
}

/// Decodes `bytes`; `what` names the input in the error (`the old state`).
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> RuleResult<T> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("{what} does not decode: {e}")))
}

/// A value of one version as the same-shaped type of another (an unchanged state).
pub fn recode<T: Serialize, U: DeserializeOwned>(value: &T) -> RuleResult<U> {
    let v = json(value)?;
    serde_json::from_value(v)
        .map_err(|e| RuleError::Internal(format!("cannot convert a value: {e}")))
}

/// Text given to an entry point (a service or method name).
pub fn utf8<'a>(bytes: &'a [u8], what: &str) -> RuleResult<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| bad(format!("{what} is not UTF-8")))
}

/// The arguments of `method` (`Service.method`): a JSON array of exactly `params.len()` values.
pub fn args(bytes: &[u8], method: &str, params: &[&str]) -> RuleResult<Vec<serde_json::Value>> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("the arguments of `{method}` are not JSON: {e}")))?;
    let serde_json::Value::Array(items) = value else {
        return Err(bad(format!(
            "the arguments of `{method}` must be a JSON array, got {}",
            json_kind(&value)
        )));
    };
    if items.len() != params.len() {
        let n = params.len();
        let names = params
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let listed = if n == 0 {
            String::new()
        } else {
            format!(" ({names})")
        };
        return Err(bad(format!(
            "`{method}` takes {n} argument{}{listed}, got {}",
            if n == 1 { "" } else { "s" },
            items.len()
        )));
    }
    Ok(items)
}

/// Decodes the argument `param` of `method`, taken from the iterator over [`args`].
pub fn arg<T: DeserializeOwned>(
    value: Option<serde_json::Value>,
    method: &str,
    param: &str,
) -> RuleResult<T> {
    let value = value.ok_or_else(|| bad(format!("`{method}` is missing argument `{param}`")))?;
    serde_json::from_value(value).map_err(|e| {
        bad(format!(
            "argument `{param}` of `{method}` does not decode: {e}"
        ))
    })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The arguments of a call without parameters: the JSON array `[]`.
#[derive(Debug, Clone, Copy)]
pub struct NoArgs;

impl Serialize for NoArgs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        s.serialize_seq(Some(0))?.end()
    }
}

/// The arguments of `method` decoded at once as a tuple (one pass over the JSON array), or
/// `None` when they do not decode: then [`args`] and [`arg`] say precisely why.
pub fn fast_args<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// `call method(args)`: the delegate call to the node's own object, through the host. `args`
/// serializes as a JSON array (a tuple of references, [`NoArgs`], or a slice of values); the
/// answer must decode as the method's result type.
pub fn call<A: Serialize + ?Sized, R: DeserializeOwned>(
    host: &Host,
    method: &str,
    args: &A,
) -> RuleResult<R> {
    host.call_with(method, &encode(args)?, |answer| {
        serde_json::from_slice(answer).map_err(|e| {
            bad(format!(
                "the node's answer to `call {method}` does not decode: {e}"
            ))
        })
    })
}

/// [`call`] of a method whose result is `unit`: whatever the node answers means "done".
pub fn call_unit<A: Serialize + ?Sized>(host: &Host, method: &str, args: &A) -> RuleResult<()> {
    host.call_with(method, &encode(args)?, |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_checked_in_their_type() {
        assert_eq!(add_i64(i64::MAX, 1), Err(bad("integer overflow")));
        assert_eq!(sub_u64(0, 1), Err(bad("integer overflow")));
        assert_eq!(div_i64(1, 0), Err(bad("division by zero")));
        assert_eq!(rem_u64(1, 0), Err(bad("remainder by zero")));
        assert_eq!(div_i64(-7, 2), Ok(-3));
        assert_eq!(rem_i64(-7, 2), Ok(-1));
        assert_eq!(rem_i64(i64::MIN, -1), Ok(0));
        assert_eq!(div_i64(i64::MIN, -1), Err(bad("integer overflow")));
        assert_eq!(neg_i64(i64::MIN), Err(bad("integer overflow")));
        assert_eq!(
            i64_to_u64(-1),
            Err(bad("`u64` argument -1 is out of range"))
        );
        assert_eq!(u64_to_i64(u64::MAX).map_err(|_| ()), Err(()));
        assert_eq!(f64_to_i64(F64(-2.9)), Ok(-2));
        assert_eq!(f64_to_u64(F64(-0.5)), Ok(0));
        assert!(f64_to_u64(F64(f64::NAN)).is_err());
        assert_eq!(sum_u64(&[1, 2, 3]), Ok(6));
        assert_eq!(sum_i64(&[]), Ok(0));
    }

    #[test]
    fn floats_use_the_total_order() {
        assert!(F64(-0.0) < F64(0.0));
        assert_eq!(F64(f64::NAN), F64(f64::NAN));
        assert!(F64(f64::INFINITY) < F64(f64::NAN));
        assert_eq!(to_string(&F64(1.0)), "1.0");
        assert_eq!(min(F64(-0.0), F64(0.0)), F64(-0.0));
        assert_eq!(serde_json::to_string(&F64(1.5)).unwrap(), "1.5");
    }

    #[test]
    fn collections_follow_the_evaluator() {
        let m: BTreeMap<String, u64> = [("b".to_string(), 2), ("a".to_string(), 1)].into();
        assert_eq!(keys(&m).into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(values(&m), vec![1, 2]);
        assert_eq!(
            at_map(&m, &"c".to_string()),
            Err(bad("key `\"c\"` not found"))
        );
        assert_eq!(
            at_list(&[1u64], 3),
            Err(bad("index 3 is out of range for a list of length 1"))
        );
        let doubled = map_values(m.clone(), |v| Ok(v * 2)).unwrap();
        assert_eq!(doubled.get("b"), Some(&4));
        let pairs = to_map(vec![(1u64, "x"), (1, "y")], Ok).unwrap();
        assert_eq!(pairs.get(&1), Some(&"y"));
        // Past the small-map path too: unsorted, with duplicates, the later entry wins.
        let many: Vec<(u64, u64)> = (0..100).map(|i| ((i * 37) % 50, i)).collect();
        let built = to_map(many.clone(), Ok).unwrap();
        let mut inserted = BTreeMap::new();
        for (k, v) in many {
            inserted.insert(k, v);
        }
        assert_eq!(built, inserted);
        assert_eq!(len(&"héllo".to_string()), 5);
        let stop: RuleResult<bool> = any(&vec![1u64, 2, 3], |x| {
            if x == 2 {
                Err(disallow("two"))
            } else {
                Ok(false)
            }
        });
        assert_eq!(stop, Err(RuleError::Disallowed("two".into())));
        assert_eq!(all(&BTreeSet::from([1u64, 2]), |x| Ok(x > 0)), Ok(true));
        assert_eq!(
            filter_list(vec![1u64, 2, 3], |x| Ok(x != 2)),
            Ok(vec![1, 3])
        );
    }

    #[test]
    fn values_show_as_the_language_writes_them() {
        assert_eq!(Some("a\"b".to_string()).shown(), "some(\"a\\\"b\")");
        assert_eq!((1u64,).shown(), "(1,)");
        assert_eq!((1u64, true).shown(), "(1, true)");
        let mut out = String::new();
        show_record(&mut out, "Item", &[("a", &1u64), ("b", &"x".to_string())]);
        assert_eq!(out, "Item { a: 1, b: \"x\" }");
    }

    #[test]
    fn arguments_encode_as_arrays() {
        assert_eq!(encode(&NoArgs).unwrap(), b"[]");
        assert_eq!(encode(&(&"k".to_string(),)).unwrap(), b"[\"k\"]");
        assert_eq!(encode(&(&1u64, &None::<u64>)).unwrap(), b"[1,null]");
        let t: Option<(String, Option<u64>)> = fast_args(b"[\"k\", null]");
        assert_eq!(t, Some(("k".to_string(), None)));
        assert_eq!(fast_args::<(String,)>(b"[\"k\", 1]"), None);
        let m: BTreeMap<u64, bool> = [(1, true)].into();
        assert_eq!(encode(&(&m,)).unwrap(), b"[{\"1\":true}]");
    }

    #[test]
    fn arguments_are_checked_by_count_and_type() {
        let e = args(b"[1]", "Kv.put", &["key", "value"]).unwrap_err();
        assert_eq!(e, bad("`Kv.put` takes 2 arguments (`key`, `value`), got 1"));
        assert!(args(b"{}", "Kv.get", &["key"]).is_err());
        let mut it = args(b"[\"k\", 5]", "Kv.put", &["key", "n"])
            .unwrap()
            .into_iter();
        let key: String = arg(it.next(), "Kv.put", "key").unwrap();
        assert_eq!(key, "k");
        let n: RuleResult<String> = arg(it.next(), "Kv.put", "n");
        assert!(matches!(n, Err(RuleError::BadInput(m)) if m.contains("argument `n` of `Kv.put`")));
    }
}
