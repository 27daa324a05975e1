//! The language server driven as an editor drives it: the real `upstartc lsp` binary, spoken to
//! over its stdin/stdout with Content-Length framed JSON-RPC. Every wait is bounded (a reader
//! thread feeds a channel read with a timeout), so a broken server fails a test, never hangs it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]

mod lsp_wire;

use serde_json::{json, Value};
use std::process::{Child, ChildStdin};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const URI: &str = "file:///tmp/upstart-lsp-test/kv.ups";

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<(Instant, Value)>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    notifications: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let (child, stdin, rx) = lsp_wire::spawn_server();
        let stdin = Some(stdin);
        let mut client = Client {
            child,
            stdin,
            rx,
            next_id: 1,
            notifications: Vec::new(),
        };
        let init = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": {
                "textDocument": { "publishDiagnostics": { "relatedInformation": true, "versionSupport": true } }
            }}),
        );
        let caps = &init["capabilities"];
        assert_eq!(caps["positionEncoding"], "utf-16");
        assert_eq!(caps["textDocumentSync"], 2, "incremental sync");
        for cap in [
            "hoverProvider",
            "definitionProvider",
            "completionProvider",
            "codeActionProvider",
            "documentFormattingProvider",
        ] {
            assert!(!caps[cap].is_null(), "no {cap}: {caps}");
        }
        assert_eq!(init["serverInfo"]["name"], "upstartc");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: Value) {
        lsp_wire::write_message(self.stdin.as_mut().unwrap(), &msg);
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        self.rx
            .recv_timeout(left)
            .map(|(_, msg)| msg)
            .unwrap_or_else(|e| panic!("no message from the server in time: {e}"))
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The whole response to a request.
    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline);
            if msg["id"] == json!(id) && msg.get("method").is_none() {
                return msg;
            }
            if msg.get("method").is_some() && msg.get("id").is_none() {
                self.notifications.push(msg);
            }
        }
    }

    /// The result of a request (failing the test on an error response).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    /// The first `method` notification for which `pred` holds (earlier ones are dropped).
    fn wait_for(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self
            .notifications
            .iter()
            .position(|n| n["method"] == method && pred(&n["params"]))
        {
            let n = self.notifications.remove(i);
            self.notifications.drain(..i);
            return n["params"].clone();
        }
        self.notifications.clear();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline);
            if msg["method"] == method && pred(&msg["params"]) {
                return msg["params"].clone();
            }
        }
    }

    /// The diagnostics published for document version `version`.
    fn diagnostics(&mut self, version: i64) -> Vec<Value> {
        let params = self.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == URI && p["version"] == json!(version)
        });
        params["diagnostics"].as_array().unwrap().clone()
    }

    fn open(&mut self, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": URI, "languageId": "ups", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, version: i64, changes: Value) {
        self.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": version }, "contentChanges": changes }));
    }

    /// `shutdown`, `exit`, and the process ends with status 0.
    fn shutdown(mut self) {
        let r = self.request_raw("shutdown", Value::Null);
        assert!(r.get("error").is_none(), "{r}");
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn kv() -> String {
    upstart_test_support::spec("kv/kv-1-2.ups")
}

/// The LSP position (UTF-16 column) of the `nth` `needle` in `text`, plus `delta` bytes.
fn pos(text: &str, needle: &str, nth: usize, delta: usize) -> Value {
    let mut from = 0;
    for _ in 0..nth {
        from += text[from..].find(needle).unwrap() + 1;
    }
    let offset = from
        + text[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?}"))
        + delta;
    let line_start = text[..offset].rfind('\n').map_or(0, |p| p + 1);
    let line = text[..offset].matches('\n').count();
    json!({ "line": line, "character": text[line_start..offset].encode_utf16().count() })
}

/// The hover at `delta` bytes into the first `needle` of `text`: the answer and its text.
fn hover(c: &mut Client, text: &str, needle: &str, delta: usize) -> (Value, String) {
    let h = c.request(
        "textDocument/hover",
        json!({ "textDocument": doc(), "position": pos(text, needle, 0, delta) }),
    );
    let value = h["contents"]["value"].as_str().unwrap().to_string();
    (h, value)
}

fn doc() -> Value {
    json!({ "uri": URI })
}

/// The codes of the errors (the example has a warning of its own: `delete` is disallowed).
fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d["severity"] == 1)
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The text of the line a location points at.
fn line_at(text: &str, location: &Value) -> String {
    let line = location["range"]["start"]["line"].as_u64().unwrap() as usize;
    text.lines().nth(line).unwrap().trim().to_string()
}

#[test]
fn diagnostics_are_published_on_open_and_on_every_change() {
    let mut c = Client::start();
    // Without its past `put` rule, version 1's `put` goes unanswered on upgraded nodes.
    let rule = "  put(key, value) = call put(key, value, none)\n";
    let text = kv().replace(rule, "");
    c.open(&text);
    let diags = c.diagnostics(1);
    assert_eq!(codes(&diags), ["U0033"], "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "upstartc");
    assert_eq!(
        d["range"]["start"],
        pos(&text, "fn put(key: string, value: string)", 0, 3)
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("help: add a rule: `past Kv { put(key, value) = ... }`"),
        "{d}"
    );
    assert_eq!(
        d["data"]["help"],
        "add a rule: `past Kv { put(key, value) = ... }`"
    );
    let related = d["relatedInformation"].as_array().unwrap();
    assert_eq!(related[0]["message"], "version 2's `put` differs");
    assert_eq!(related[0]["location"]["uri"], URI);
    assert_eq!(
        related[0]["location"]["range"]["start"],
        pos(&text, "fn put(key: string, value: string, ttl_ms", 0, 0)
    );

    // Type the rule back in, in two incremental edits: the diagnostic goes away.
    let at = pos(&text, "  replicate(entries) = call", 0, 0);
    c.change(
        2,
        json!([{ "range": { "start": at, "end": at }, "text": "  put(key, value) = " }]),
    );
    let diags = c.diagnostics(2);
    assert_eq!(
        codes(&diags),
        ["U0001"],
        "a rule without a body does not parse: {diags:?}"
    );
    let after = json!({ "line": at["line"], "character": 20 });
    c.change(3, json!([{ "range": { "start": after, "end": after }, "text": "call put(key, value, none)\n" }]));
    let diags = c.diagnostics(3);
    assert_eq!(codes(&diags), Vec::<String>::new(), "{diags:?}");
    assert_eq!(diags.len(), 1, "the example's own warning: {diags:?}");

    // A full-text change is taken too.
    c.change(4, json!([{ "text": kv().replace("fn delete(key: string) -> bool", "fn delete(key: strin) -> bool") }]));
    let diags = c.diagnostics(4);
    assert_eq!(codes(&diags), ["U0017"], "{diags:?}");
    c.shutdown();
}

#[test]
fn hover_definition_and_completion() {
    let mut c = Client::start();
    // A non-ASCII string before names on the same line: columns are UTF-16 units.
    let text = kv().replace(
        "forall k in keys(old.entries): old.entries[k] == new.items[k].value",
        "forall k in keys(old.entries): \"𝄞é\" != k || old.entries[k] == new.items[k].value",
    );
    c.open(&text);
    assert!(codes(&c.diagnostics(1)).is_empty());

    // Hover on a type name: its record, in its version.
    let (_, value) = hover(&mut c, &text, "map<string, Item>", 13);
    assert!(
        value.contains("record Item {\n  value: string,\n  expires_at: option<u64>,\n}"),
        "{value}"
    );
    // Hover on a method in a rule: both versions' signatures.
    let (_, value) = hover(&mut c, &text, "put(key, value, ttl_ms) =", 1);
    assert!(
        value.contains("fn put(key: string, value: string) -> unit"),
        "{value}"
    );
    assert!(
        value.contains("fn put(key: string, value: string, ttl_ms: option<u64>) -> unit"),
        "{value}"
    );
    // Hover after the emoji: a field of version 2's `Item`.
    let (h, value) = hover(&mut c, &text, "new.items[k].value", 14);
    assert!(
        value.contains("value: string") && value.contains("`Item` (version 2)"),
        "{value}"
    );
    assert_eq!(h["range"]["start"], pos(&text, "new.items[k].value", 0, 13));

    // Definition of a record (from a record literal) and of a method from a rule.
    let d = c.request(
        "textDocument/definition",
        json!({ "textDocument": doc(), "position": pos(&text, "Item { value: v", 0, 0) }),
    );
    assert_eq!(d["uri"], URI);
    assert_eq!(line_at(&text, &d), "record Item {");
    assert_eq!(d["range"]["start"], pos(&text, "record Item", 0, 7));
    let d = c.request(
        "textDocument/definition",
        json!({ "textDocument": doc(), "position": pos(&text, "delete(key) = disallow", 0, 2) }),
    );
    assert_eq!(line_at(&text, &d), "fn delete(key: string) -> bool {");
    let d = c.request("textDocument/definition", json!({ "textDocument": doc(), "position": pos(&text, "call put(key, value, none)", 0, 5) }));
    assert_eq!(
        line_at(&text, &d),
        "fn put(key: string, value: string, ttl_ms: option<u64>) -> unit {"
    );

    let labels = |r: &Value| -> Vec<String> {
        let items = if r.is_array() {
            r.as_array().unwrap()
        } else {
            r["items"].as_array().unwrap()
        };
        items
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    // Completion of types in a field position (version 2: `Item`, not version 1's `Entry`).
    let at = pos(&text, "items: map<string, Item>,\n", 0, 25);
    c.change(
        2,
        json!([{ "range": { "start": at, "end": at }, "text": " extra: It" }]),
    );
    let after = json!({ "line": at["line"], "character": at["character"].as_u64().unwrap() + 10 });
    let r = c.request(
        "textDocument/completion",
        json!({ "textDocument": doc(), "position": after }),
    );
    let l = labels(&r);
    assert!(
        l.contains(&"Item".to_string())
            && l.contains(&"string".to_string())
            && !l.contains(&"Entry".to_string()),
        "{l:?}"
    );
    c.change(
        3,
        json!([{ "range": { "start": at, "end": after }, "text": "" }]),
    );
    assert!(codes(&c.diagnostics(3)).is_empty());

    // Completion of methods at the start of a rule in a `future` block.
    let at = pos(
        &text,
        "  #[allow(verify_simulation_sequence)] replicate(items) = call",
        0,
        0,
    );
    c.change(
        4,
        json!([{ "range": { "start": at, "end": at }, "text": "  de\n" }]),
    );
    let after = json!({ "line": at["line"], "character": 4 });
    let r = c.request(
        "textDocument/completion",
        json!({ "textDocument": doc(), "position": after }),
    );
    let items = if r.is_array() {
        r.as_array().unwrap().clone()
    } else {
        r["items"].as_array().unwrap().clone()
    };
    let delete = items
        .iter()
        .find(|i| i["label"] == "delete")
        .expect("delete offered");
    assert_eq!(delete["insertText"], "delete(key) = ");
    assert!(labels(&r).contains(&"replicate".to_string()));
    // Built-ins in an expression.
    c.change(5, json!([{ "range": { "start": at, "end": json!({ "line": at["line"], "character": 4 }) }, "text": "  delete(key) = con" }]));
    let r = c.request("textDocument/completion", json!({ "textDocument": doc(), "position": json!({ "line": at["line"], "character": 19 }) }));
    let l = labels(&r);
    for b in ["contains", "contains_key", "concat", "map", "keys"] {
        assert!(l.contains(&b.to_string()), "{b} missing: {l:?}");
    }
    assert!(
        l.contains(&"key".to_string()),
        "the rule's parameter: {l:?}"
    );
    c.shutdown();
}

/// Applies LSP text edits (all for one document) to `text`.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let character = p["character"].as_u64().unwrap() as usize;
        let line_start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        let line_text = &text[line_start..];
        for (i, ch) in line_text.char_indices() {
            if units >= character || ch == '\n' {
                return line_start + i;
            }
            units += ch.len_utf16();
        }
        text.len()
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (a, b, t) in spans {
        out.replace_range(a..b, &t);
    }
    out
}

#[test]
fn quick_fix_formatting_and_shutdown() {
    let mut c = Client::start();
    // `delete` has no future rule: old nodes would not answer it.
    let text = kv().replace("  delete(key) = disallow \"delete needs version 2\"\n", "");
    c.open(&text);
    let diags = c.diagnostics(1);
    assert_eq!(codes(&diags), ["U0034"], "{diags:?}");
    let missing = diags[0].clone();
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": doc(), "range": missing["range"], "context": { "diagnostics": [missing] } }),
    );
    let actions = actions.as_array().unwrap();
    assert!(!actions.is_empty());
    let disallow = actions
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Disallow"))
        .expect("a disallow fix");
    assert_eq!(disallow["kind"], "quickfix");
    assert_eq!(disallow["isPreferred"], true);
    assert_eq!(disallow["diagnostics"][0]["code"], "U0034");
    let edits = disallow["edit"]["changes"][URI].as_array().unwrap();
    let fixed = apply(&text, edits);
    assert!(
        fixed.contains("  delete(key) = disallow \"delete needs version 2\"\n}"),
        "{fixed}"
    );
    c.change(2, json!([{ "text": fixed }]));
    let diags = c.diagnostics(2);
    assert!(!codes(&diags).contains(&"U0034".to_string()), "{diags:?}");

    // Formatting: one edit, the formatted text.
    let messy = fixed.replace(
        "protocol jsonrpc { framing: lines }",
        "protocol jsonrpc{framing:lines}",
    );
    c.change(3, json!([{ "text": messy.clone() }]));
    let _ = c.diagnostics(3);
    let edits = c.request(
        "textDocument/formatting",
        json!({ "textDocument": doc(), "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let formatted = apply(&messy, edits.as_array().unwrap());
    assert_eq!(formatted, upstart_fmt::format(&messy).unwrap());
    assert!(formatted.contains("protocol jsonrpc { framing: lines }"));
    // A text with syntax errors is not formatted: an error, not an edit.
    c.change(
        4,
        json!([{ "text": "upgrade kv 1 -> 2\nversion 1 { record }\n" }]),
    );
    let r = c.request_raw(
        "textDocument/formatting",
        json!({ "textDocument": doc(), "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("syntax error"),
        "{r}"
    );
    c.shutdown();
}

#[test]
fn unknown_requests_get_an_error_and_the_server_goes_on() {
    let mut c = Client::start();
    let r = c.request_raw(
        "textDocument/prepareCallHierarchy",
        json!({ "textDocument": doc(), "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(r["error"]["code"], -32601);
    // A request about a document never opened: no answer, no crash.
    let h = c.request(
        "textDocument/hover",
        json!({ "textDocument": doc(), "position": { "line": 0, "character": 0 } }),
    );
    assert!(h.is_null());
    c.open("upgrade kv 1 -> 2\n");
    let diags = c.diagnostics(1);
    assert!(codes(&diags).contains(&"U0010".to_string()), "{diags:?}");
    c.shutdown();
}
