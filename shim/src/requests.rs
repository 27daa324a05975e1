//! The requests of one translated connection, from their frame to their answer, pipelined on
//! the connection's one link to the node.
//!
//! A request's rules run against a [`Replay`] host: a run stops at the first delegate call
//! not answered yet, the call is queued on the link, and the request waits, holding no thread,
//! until its answer comes back; then the rules run again from the start with the answers so
//! far (rules are deterministic and cheap next to a node round trip). Calls reach the node in
//! the caller's order: the next request begins only once every request before it has made its
//! last call (its chain's rules make at most one call each, which the plugins' manifests say),
//! so the calls of a pipelining caller's requests go to the node together and their answers
//! come back together, one wake-up for many. Answers go out in the order of the frames.

use crate::codec::FrameError;
use crate::context::Shared;
use crate::jsonrpc::{
    batch_response, code, decode, error_response, result_response, Incoming, Request, RpcError,
};
use crate::node::{answer_of, Answer, NodeLink, Replay, Wanted};
use crate::route::Route;
use crate::signatures::bind;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use upstart_plugin_host::CallError;

/// Requests of a connection whose calls are at the node, at most.
pub const MAX_IN_FLIGHT: usize = 64;

/// A frame begun: its requests' answers, made one by one, go out together in frame order.
#[derive(Debug)]
struct Frame {
    /// Answers by request (`None`: not made yet, or a notification).
    parts: Vec<Option<Vec<u8>>>,
    /// Requests not answered yet.
    open: usize,
    batch: bool,
    /// The whole answer of a frame that did not decode.
    whole: Option<Vec<u8>>,
}

/// A request not begun: its frame's number, its place in the frame, and what decoded.
type Todo = (u64, usize, Result<Request, (Value, RpcError)>);

/// What a request asks of the node.
#[derive(Debug)]
enum Work {
    /// The node's own version: the call goes as it is.
    Direct { params: Value },
    /// Through the chain's rules.
    Rule {
        service: String,
        method: String,
        args: Vec<u8>,
    },
}

/// A request begun and not answered.
#[derive(Debug)]
struct Begun {
    frame: u64,
    part: usize,
    id: Option<Value>,
    /// As the caller named it.
    method: String,
    work: Work,
    /// The route when it began: every run of its rules sees the same.
    route: Arc<Route>,
    /// The node's answers to its calls so far.
    answers: Vec<Answer>,
    /// Its call at the node: the id on the link, the node's method, and whether it is its last.
    sent: u64,
    name: String,
    last: bool,
}

/// What [`Requests::begin_next`] did.
#[derive(Debug, PartialEq)]
pub(crate) enum Begin {
    /// A request began (or was answered at once).
    Began,
    /// No request waits to begin (or the route moved: the calls in flight go first).
    Nothing,
    /// The next request needs a link to the node at this address: connect, then hand the
    /// link (or why there is none) to [`Requests::connected`].
    Connect(SocketAddr),
}

/// What a run of a request's rules gives.
enum Outcome {
    Done(Result<Vec<u8>, RpcError>),
    Call(Wanted),
}

/// The requests of one connection between their frame and their answer.
#[derive(Debug)]
pub(crate) struct Requests {
    frames: VecDeque<Frame>,
    /// The number of the first frame in `frames`.
    first: u64,
    todo: VecDeque<Todo>,
    /// Begun requests whose call is at the node, in the order of their calls.
    flight: VecDeque<Begun>,
    /// The request begun that waits for a link to the node (see [`Begin::Connect`]).
    connecting: Option<Begun>,
    caller: u64,
    shared: Arc<Shared>,
}

impl Requests {
    pub fn new(caller: u64, shared: Arc<Shared>) -> Requests {
        Requests {
            frames: VecDeque::new(),
            first: 0,
            todo: VecDeque::new(),
            flight: VecDeque::new(),
            connecting: None,
            caller,
            shared,
        }
    }

    /// Frames begun and not all answered yet.
    pub fn busy(&self) -> bool {
        !self.frames.is_empty()
    }

    /// Requests whose calls are at the node.
    pub fn in_flight(&self) -> bool {
        !self.flight.is_empty()
    }

    /// Requests decoded and not begun.
    pub fn has_todo(&self) -> bool {
        !self.todo.is_empty()
    }

    /// Whether the next request may begin: every request before it made its last call, and
    /// the link still goes where the route does (a request in flight keeps it).
    pub fn may_begin(&self, link: &Option<NodeLink>) -> bool {
        let Some(newest) = self.flight.back() else {
            return true;
        };
        newest.last
            && self.flight.len() < MAX_IN_FLIGHT
            && link.as_ref().map(|l| l.addr) == Some(self.shared.route.get().node_addr)
    }

    /// Takes a frame in: its requests wait to begin, in order.
    pub fn open(&mut self, frame: &[u8]) {
        let number = self.first + self.frames.len() as u64;
        match decode(frame) {
            Err(answer) => {
                self.shared
                    .stats
                    .frame_errors
                    .fetch_add(1, Ordering::Relaxed);
                self.frames.push_back(Frame {
                    parts: Vec::new(),
                    open: 0,
                    batch: false,
                    whole: Some(answer),
                });
            }
            Ok(Incoming::Single(r)) => {
                self.frames.push_back(Frame {
                    parts: vec![None],
                    open: 1,
                    batch: false,
                    whole: None,
                });
                self.todo.push_back((number, 0, r));
            }
            Ok(Incoming::Batch(items)) => {
                self.frames.push_back(Frame {
                    parts: vec![None; items.len()],
                    open: items.len(),
                    batch: true,
                    whole: None,
                });
                for (i, r) in items.into_iter().enumerate() {
                    self.todo.push_back((number, i, r));
                }
            }
        }
    }

    /// Begins the next request decoded.
    pub fn begin_next(&mut self, link: &mut Option<NodeLink>) -> Begin {
        let Some((frame, part, request)) = self.todo.pop_front() else {
            return Begin::Nothing;
        };
        let request = match request {
            Ok(request) => request,
            Err((id, e)) => {
                self.settle(frame, part, Some(error_response(&id, &e)));
                return Begin::Began;
            }
        };
        let route = self.shared.route.get();
        if !self.flight.is_empty() && link.as_ref().map(|l| l.addr) != Some(route.node_addr) {
            // The route moved since `may_begin`: wait for the calls in flight first.
            self.todo.push_front((frame, part, Ok(request)));
            return Begin::Nothing;
        }
        self.shared
            .stats
            .calls_translated
            .fetch_add(1, Ordering::Relaxed);
        let id = request.id.clone();
        let method = request.method.clone();
        let work = match prepare(request, self.caller, &route) {
            Ok(work) => work,
            Err(e) => {
                self.finish(frame, part, id.as_ref(), &method, Err(e));
                return Begin::Began;
            }
        };
        if link.as_ref().is_some_and(|l| l.addr != route.node_addr) {
            // The route moved to another node (an upgrade), and nothing is in flight on the
            // old one: reconnect.
            *link = None;
        }
        let connect = match (&*link, route.node_addr) {
            (Some(_), _) => None,
            (None, Some(addr)) => Some(addr),
            (None, None) => {
                let e = unavailable("the node has not started".into());
                self.finish(frame, part, id.as_ref(), &method, Err(e));
                return Begin::Began;
            }
        };
        let begun = Begun {
            frame,
            part,
            id,
            method,
            work,
            route,
            answers: Vec::new(),
            sent: 0,
            name: String::new(),
            last: false,
        };
        if let Some(addr) = connect {
            self.connecting = Some(begun);
            return Begin::Connect(addr);
        }
        self.step(begun, link);
        Begin::Began
    }

    /// Goes on with the request that waited for a link to the node (see [`Begin::Connect`]):
    /// `made` is the new link, or why the node could not be reached.
    pub fn connected(&mut self, link: &mut Option<NodeLink>, made: Result<NodeLink, String>) {
        let Some(begun) = self.connecting.take() else {
            return;
        };
        match made {
            Ok(made) => {
                *link = Some(made);
                self.step(begun, link);
            }
            Err(why) => self.finish_begun(begun, Err(unavailable(why))),
        }
    }

    /// Sending the calls queued on the link failed: the requests in flight fail.
    pub fn send_failed(&mut self, link: &mut Option<NodeLink>, e: &std::io::Error) {
        *link = None;
        self.fail_flight(&format!("cannot send to the node: {e}"));
    }

    /// Goes on with the request of the oldest call in flight, given the node's next frame on
    /// the link; when there is no answer, every call in flight fails and the link is dropped.
    pub fn resume(
        &mut self,
        link: &mut Option<NodeLink>,
        frame: Result<Option<Vec<u8>>, FrameError>,
    ) {
        let Some(mut begun) = self.flight.pop_front() else {
            return;
        };
        let received = match link {
            Some(_) => answer_of(frame, begun.sent, &begun.name),
            None => Err("the connection to the node is broken".into()),
        };
        match received {
            Ok(answer) => {
                let name = std::mem::take(&mut begun.name);
                begun.answers.push((name, answer));
                self.step(begun, link);
            }
            Err(why) => {
                *link = None;
                self.flight.push_front(begun);
                self.fail_flight(&why);
            }
        }
    }

    /// The answers of the frames answered in full, in order (none for a frame of
    /// notifications), up to the first frame still waiting.
    pub fn take_answers(&mut self, mut out: impl FnMut(Vec<u8>)) {
        while self.frames.front().is_some_and(|f| f.open == 0) {
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            self.first += 1;
            let answer = match frame.whole {
                Some(whole) => Some(whole),
                None if frame.batch => {
                    let parts: Vec<Vec<u8>> = frame.parts.into_iter().flatten().collect();
                    batch_response(&parts)
                }
                None => frame.parts.into_iter().flatten().next(),
            };
            if let Some(answer) = answer {
                out(answer);
            }
        }
    }

    /// Runs the request's rules with the answers so far: answers it, or sends its next call.
    fn step(&mut self, mut begun: Begun, link: &mut Option<NodeLink>) {
        let outcome = run(&begun, self.caller, &self.shared);
        let wanted = match outcome {
            Outcome::Done(result) => {
                self.finish_begun(begun, result);
                return;
            }
            Outcome::Call(wanted) => wanted,
        };
        if begun.last {
            // Its manifest said its last call was made, and the next request may have sent
            // its calls since: going on would reorder the caller's calls.
            let error = RpcError::new(
                code::INTERNAL_ERROR,
                format!(
                    "internal error translating `{}`: a rule declared to make one delegate call \
                     made another (`{}`)",
                    begun.method, wanted.name
                ),
            );
            tracing::error!(caller = self.caller, method = %begun.method, "{}", error.message);
            self.finish_begun(begun, Err(error));
            return;
        }
        // A request that goes on calling was the newest to call, on the link of its route
        // (connected before its first run, and kept while its calls are answered).
        let l = match link.as_mut() {
            Some(l) if l.addr == begun.route.node_addr => l,
            _ => {
                let e = unavailable("the connection to the node is broken".into());
                self.finish_begun(begun, Err(e));
                return;
            }
        };
        begun.sent = l.queue(&wanted.name, &wanted.params);
        begun.name = wanted.name;
        begun.last = wanted.last;
        self.flight.push_back(begun);
    }

    /// Every request in flight fails: the node could not be reached.
    fn fail_flight(&mut self, why: &str) {
        while let Some(begun) = self.flight.pop_front() {
            self.finish_begun(begun, Err(unavailable(why.to_string())));
        }
    }

    /// A begun request's answer (see [`Self::finish`]).
    fn finish_begun(&mut self, begun: Begun, outcome: Result<Vec<u8>, RpcError>) {
        let Begun {
            frame,
            part,
            id,
            method,
            ..
        } = begun;
        self.finish(frame, part, id.as_ref(), &method, outcome);
    }

    /// A request's answer (none for a notification).
    fn finish(
        &mut self,
        frame: u64,
        part: usize,
        id: Option<&Value>,
        method: &str,
        outcome: Result<Vec<u8>, RpcError>,
    ) {
        if let Err(e) = &outcome {
            let node = self.shared.route.get().node_version;
            tracing::debug!(caller = self.caller, node, method, code = e.code, message = %e.message, "call answered with an error");
        }
        let answer = id.map(|id| match outcome {
            Ok(result) => result_response(id, &result),
            Err(error) => error_response(id, &error),
        });
        self.settle(frame, part, answer);
    }

    fn settle(&mut self, frame: u64, part: usize, answer: Option<Vec<u8>>) {
        let index = usize::try_from(frame.wrapping_sub(self.first)).unwrap_or(usize::MAX);
        let Some(f) = self.frames.get_mut(index) else {
            return;
        };
        if let Some(slot) = f.parts.get_mut(part) {
            *slot = answer;
        }
        f.open = f.open.saturating_sub(1);
    }
}

/// What a request asks of the node, or why it cannot be answered.
fn prepare(request: Request, caller: u64, route: &Route) -> Result<Work, RpcError> {
    if !route.serves(caller) {
        return Err(RpcError::new(
            code::VERSION_NOT_BRIDGED,
            format!(
                "version {caller} is not bridged to this node (version {}): its plugin chain \
                 knows versions {}",
                route.node_version,
                route.served_list()
            ),
        ));
    }
    if route.chain.is_none() || caller == route.node_version {
        // The node's own version (the route changed since the connection began): as is.
        let params = match request.params {
            crate::jsonrpc::Params::None => Value::Array(Vec::new()),
            crate::jsonrpc::Params::ByPosition(a) => Value::Array(a),
            crate::jsonrpc::Params::ByName(o) => Value::Object(o),
        };
        return Ok(Work::Direct { params });
    }
    let resolved = route.signatures.resolve(caller, &request.method)?;
    let args = bind(resolved.method, request.params)?;
    let args = serde_json::to_vec(&args).map_err(|e| {
        RpcError::new(
            code::INTERNAL_ERROR,
            format!("cannot encode arguments: {e}"),
        )
    })?;
    Ok(Work::Rule {
        service: resolved.service.to_string(),
        method: resolved.method.name.clone(),
        args,
    })
}

/// Runs a request with the node's answers so far: its answer, or the call it needs next.
fn run(begun: &Begun, caller: u64, shared: &Shared) -> Outcome {
    let route = &begun.route;
    let (service, method, args) = match &begun.work {
        Work::Direct { params } => {
            return match begun.answers.first() {
                None => Outcome::Call(Wanted {
                    name: begun.method.clone(),
                    params: params.clone(),
                    last: true,
                }),
                Some((_, Ok(result))) => {
                    Outcome::Done(Ok(serde_json::to_vec(result).unwrap_or_default()))
                }
                Some((_, Err(error))) => Outcome::Done(Err(error.clone())),
            }
        }
        Work::Rule {
            service,
            method,
            args,
        } => (service, method, args),
    };
    let Some(chain) = route.chain.as_deref() else {
        return Outcome::Done(Err(RpcError::new(
            code::INTERNAL_ERROR,
            format!(
                "internal error translating `{}`: no plugin chain",
                begun.method
            ),
        )));
    };
    let mut host = Replay {
        route,
        service,
        qualify: route.signatures.services(route.node_version) > 1,
        style: shared.config.node_params,
        answers: &begun.answers,
        made: 0,
        wanted: None,
        node_error: None,
    };
    let out = chain.call(caller, route.node_version, service, method, args, &mut host);
    let error = match out {
        Ok(result) => return Outcome::Done(Ok(result)),
        Err(error) => error,
    };
    if let Some(wanted) = host.wanted {
        return Outcome::Call(wanted);
    }
    // The node's own failure is the caller's answer, whatever the rule made of it.
    if let Some(node_error) = host.node_error {
        return Outcome::Done(Err(node_error));
    }
    let stats = &shared.stats;
    Outcome::Done(Err(match error {
        CallError::Disallowed(reason) => {
            stats.disallowed.fetch_add(1, Ordering::Relaxed);
            RpcError::disallowed(&reason, caller, route.node_version)
        }
        CallError::BadInput(m) => RpcError::new(
            code::INVALID_PARAMS,
            format!("invalid params of `{}`: {m}", begun.method),
        ),
        CallError::Internal(m) => {
            tracing::error!(caller, node = route.node_version, method = %begun.method, "translation failed: {m}");
            RpcError::new(
                code::INTERNAL_ERROR,
                format!("internal error translating `{}`: {m}", begun.method),
            )
        }
    }))
}

fn unavailable(why: String) -> RpcError {
    RpcError::new(code::NODE_UNAVAILABLE, format!("node unavailable: {why}"))
}
