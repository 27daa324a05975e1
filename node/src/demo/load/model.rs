//! What a key holds as its worker wrote it, whether an answer to a `get` matches it for a
//! caller of each version, and how the values a key may hold read for people.

use serde_json::Value;

/// What a key holds, as its worker wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    pub with_ttl: bool,
}

/// The values a key may hold, for people: `` `v3` ``, `` `v3` (with a ttl) ``, `no value`,
/// joined by "or".
pub(super) fn described(values: &[Option<Entry>]) -> String {
    let each: Vec<String> = values
        .iter()
        .map(|want| match want {
            Some(e) if e.with_ttl => format!("`{}` (with a ttl)", e.value),
            Some(e) => format!("`{}`", e.value),
            None => "no value".into(),
        })
        .collect();
    each.join(" or ")
}

/// Whether `r` is what a `version` caller's `get` returns for `want`.
pub fn item_matches(version: u64, r: &Value, want: Option<&Entry>) -> bool {
    let Some(want) = want else { return r.is_null() };
    if version == 1 {
        return r.as_str() == Some(want.value.as_str());
    }
    let value_ok = r.get("value").and_then(Value::as_str) == Some(want.value.as_str());
    let expiry_ok = match r.get("expires_at") {
        Some(Value::Null) => true,
        Some(t) => t.is_u64() && want.with_ttl,
        None => false,
    };
    value_ok && expiry_ok
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn items_match_per_version() {
        let e = Entry {
            value: "x".into(),
            with_ttl: false,
        };
        assert!(item_matches(1, &json!("x"), Some(&e)));
        assert!(item_matches(
            2,
            &json!({"value": "x", "expires_at": null}),
            Some(&e)
        ));
        assert!(!item_matches(
            2,
            &json!({"value": "x", "expires_at": 5}),
            Some(&e)
        ));
        assert!(item_matches(1, &Value::Null, None));
        assert!(!item_matches(1, &json!("y"), Some(&e)));
    }
}
