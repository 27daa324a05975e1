//! The `f64` of the language: a total order (as the evaluator orders floats) and the wire form.

use super::*;

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
