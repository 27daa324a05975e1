//! Indexing: `xs[i]` and `m[k]`, failing as bad input when out of range or missing.

use super::*;

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
