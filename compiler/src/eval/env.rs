//! Scopes of the evaluator: a persistent linked list of `name -> value` bindings, so extending
//! a scope (a `let`, a closure call, a match arm) is O(1) and closures capture by sharing.

use std::fmt;
use std::sync::Arc;

use super::value::Value;

/// An immutable scope; [`Env::bind`] returns an extended copy and leaves `self` unchanged.
#[derive(Clone, Default)]
pub struct Env {
    head: Option<Arc<Frame>>,
}

struct Frame {
    name: String,
    value: Value,
    next: Env,
}

impl Env {
    /// The empty scope.
    pub fn new() -> Env {
        Env::default()
    }

    /// This scope with `name` bound to `value` (shadowing any outer binding).
    #[must_use]
    pub fn bind(&self, name: impl Into<String>, value: Value) -> Env {
        Env {
            head: Some(Arc::new(Frame {
                name: name.into(),
                value,
                next: self.clone(),
            })),
        }
    }

    /// This scope with every pair bound in order.
    #[must_use]
    pub fn bind_all(&self, bindings: impl IntoIterator<Item = (String, Value)>) -> Env {
        bindings
            .into_iter()
            .fold(self.clone(), |env, (name, value)| env.bind(name, value))
    }

    /// The innermost binding of `name`.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        let mut cur = self.head.as_deref();
        while let Some(frame) = cur {
            if frame.name == name {
                return Some(&frame.value);
            }
            cur = frame.next.head.as_deref();
        }
        None
    }

    /// Bound names, innermost first (shadowed names appear more than once).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut cur = self.head.as_deref();
        std::iter::from_fn(move || {
            let frame = cur?;
            cur = frame.next.head.as_deref();
            Some(frame.name.as_str())
        })
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Drop for Env {
    /// Unlinks frames one by one, so dropping a long chain does not recurse.
    fn drop(&mut self) {
        let mut head = self.head.take();
        while let Some(frame) = head {
            match Arc::try_unwrap(frame) {
                Ok(mut frame) => head = frame.next.head.take(),
                Err(_) => break,
            }
        }
    }
}
