//! The collection built-ins (`keys`, `map_values`, `to_map`, `filter`, ...), with the evaluator's meaning.

use super::*;

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

pub(super) fn count(n: usize) -> u64 {
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
    f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<Vec<T>> {
    keep(xs, f)
}

/// `filter(s, f)` on a set.
pub fn filter_set<T: Ord + Clone>(
    s: BTreeSet<T>,
    f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<BTreeSet<T>> {
    keep(s, f)
}

/// The items of `xs`, in order, for which `f` holds; the first error of `f` stops it.
fn keep<T: Clone, C: FromIterator<T>>(
    xs: impl IntoIterator<Item = T>,
    mut f: impl FnMut(T) -> RuleResult<bool>,
) -> RuleResult<C> {
    xs.into_iter()
        .filter_map(|x| match f(x.clone()) {
            Ok(true) => Some(Ok(x)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
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
pub(super) const SMALL_MAP: usize = 8;

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
