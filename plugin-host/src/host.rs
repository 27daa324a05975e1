//! The node as plugins see it: delegate `call`s of simulation rules are answered by a
//! [`NodeHost`] (the node program itself, or the next step of a [`Chain`](super::Chain)).

use super::error::CallError;

/// Answers `method(args)` on the node's own object. `args` is a JSON array in declaration
/// order; the result is the JSON bytes of the method's value.
///
/// A panic in `call` does not cross into the plugin: it becomes [`CallError::Internal`].
pub trait NodeHost {
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError>;

    /// [`NodeHost::call`], told by a [`Chain`](super::Chain) whether this is the request's
    /// last delegate call: `last` when every rule running makes at most one call (the
    /// manifests' `past_one_call` / `future_one_call`), so once this call is made the request
    /// makes no other. A host that pipelines may then send the next request's calls before
    /// this one's answer. By default, `call`.
    fn call_last(&mut self, method: &str, args: &[u8], last: bool) -> Result<Vec<u8>, CallError> {
        let _ = last;
        self.call(method, args)
    }
}

/// Any closure `|method, args| -> Result<Vec<u8>, CallError>` is a host.
impl<F> NodeHost for F
where
    F: FnMut(&str, &[u8]) -> Result<Vec<u8>, CallError>,
{
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        self(method, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_are_hosts() {
        let mut seen = Vec::new();
        let mut host = |method: &str, args: &[u8]| {
            seen.push(method.to_string());
            Ok(args.to_vec())
        };
        let host: &mut dyn NodeHost = &mut host;
        assert_eq!(host.call("get", b"[1]"), Ok(b"[1]".to_vec()));
        assert_eq!(seen, ["get"]);
    }
}
