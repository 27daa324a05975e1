//! Integer arithmetic checked in the static type: overflow, division by zero and a negative number made `u64` are bad input.

use super::*;

pub(super) fn overflow() -> RuleError {
    bad("integer overflow")
}

pub(super) fn by_zero(op: &str) -> RuleError {
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

pub(super) fn out_of_range(name: &str, shown: String) -> RuleError {
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

pub(super) const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;

/// A float truncated toward zero, if it is within 2^64 in magnitude (so the cast is exact).
pub(super) fn truncated(x: f64) -> Option<i128> {
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
