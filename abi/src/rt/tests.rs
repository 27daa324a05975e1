//! Tests of the run-time support.

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
    let mut out = String::new();
    show_record(&mut out, "Empty", &[]);
    assert_eq!(out, "Empty {}");
    assert_eq!(vec![1u64, 2].shown(), "[1, 2]");
    assert_eq!(
        std::collections::BTreeSet::from([2u64, 1]).shown(),
        "{1, 2}"
    );
    let map = std::collections::BTreeMap::from([("b".to_string(), 2u64), ("a".to_string(), 1)]);
    assert_eq!(map.shown(), "{\"a\": 1, \"b\": 2}");
    assert_eq!(std::collections::BTreeMap::<u64, u64>::new().shown(), "{}");
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
