//! The server loop: the only part of the language server that does IO. It reads JSON-RPC
//! messages (lsp-server's stdio transport, Content-Length framing), keeps the open documents,
//! and answers with the pure functions of the other modules.
//!
//! Latency: a `didChange` edits the text in place (incremental sync) and marks the document
//! dirty; when no other message is waiting, dirty documents are analyzed (re-parsing only the
//! items that changed) and their diagnostics published with the document's version. A burst
//! of changes is analyzed once. A request on a dirty document analyzes it first.

use super::actions;
use super::analysis::Analysis;
use super::completion::completion;
use super::definition::definition;
use super::diagnostics::to_lsp;
use super::hover::hover;
use super::position::LineIndex;
use lang::incremental::IncrementalParser;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, Formatting, GotoDefinition, HoverRequest, Request as _,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionOrCommand, CodeActionProviderCapability,
    CompletionOptions, CompletionResponse, GotoDefinitionResponse, Location, OneOf,
    PositionEncodingKind, PublishDiagnosticsParams, Range, ServerCapabilities,
    TextDocumentContentChangeEvent, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit,
    Uri, WorkspaceEdit,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;

/// `upstartc lsp`: serves on stdin/stdout until the client says `exit`.
pub fn run_stdio() -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let result = serve(&connection);
    drop(connection);
    let joined = io_threads.join();
    match (result, joined) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("upstartc lsp: {e}");
            ExitCode::from(1)
        }
        (_, Err(e)) => {
            eprintln!("upstartc lsp: {e}");
            ExitCode::from(1)
        }
    }
}

/// What the server offers.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_string(), ":".to_string()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Runs the protocol on `connection`: the handshake, then messages until `exit`. The error is
/// the transport's ([`lsp_server::ProtocolError`], its Display the message as before).
pub fn serve(connection: &Connection) -> Result<(), lsp_server::ProtocolError> {
    let (id, _params) = connection.initialize_start()?;
    let result = json!({
        "capabilities": capabilities(),
        "serverInfo": { "name": "upstartc", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, result)?;
    let mut server = Server {
        docs: HashMap::new(),
        conn: connection,
    };
    loop {
        let msg = if server.any_dirty() {
            match connection.receiver.try_recv() {
                Ok(m) => m,
                Err(e) if e.is_empty() => {
                    server.publish_dirty();
                    continue;
                }
                Err(_) => return Ok(()),
            }
        } else {
            match connection.receiver.recv() {
                Ok(m) => m,
                Err(_) => return Ok(()),
            }
        };
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                server.request(req);
            }
            Message::Notification(n) if n.method == lsp_types::notification::Exit::METHOD => {
                return Ok(())
            }
            Message::Notification(n) => server.notification(n),
            Message::Response(_) => {}
        }
    }
}

struct Doc {
    uri: Uri,
    version: i32,
    text: String,
    parser: IncrementalParser,
    /// The analysis of `text`, unless the document changed since (dirty).
    analysis: Option<Arc<Analysis>>,
    /// The last analysis whose text parsed: completion reads receivers' types from it.
    last_good: Option<Arc<Analysis>>,
}

struct Server<'c> {
    docs: HashMap<String, Doc>,
    conn: &'c Connection,
}

impl Server<'_> {
    fn send(&self, m: Message) {
        // Fails only when the client is gone; the loop ends on its own then.
        let _ = self.conn.sender.send(m);
    }

    fn any_dirty(&self) -> bool {
        self.docs.values().any(|d| d.analysis.is_none())
    }

    fn analyze(doc: &mut Doc) -> Arc<Analysis> {
        if let Some(a) = &doc.analysis {
            return a.clone();
        }
        let a = Arc::new(Analysis::new(doc.text.clone(), &mut doc.parser));
        if a.syntax_ok {
            doc.last_good = Some(a.clone());
        }
        doc.analysis = Some(a.clone());
        a
    }

    fn publish(conn: &Connection, doc: &Doc, a: &Analysis) {
        let params = PublishDiagnosticsParams {
            uri: doc.uri.clone(),
            diagnostics: to_lsp(a, &doc.uri),
            version: Some(doc.version),
        };
        let _ = conn.sender.send(Message::Notification(Notification::new(
            PublishDiagnostics::METHOD.to_string(),
            params,
        )));
    }

    fn publish_dirty(&mut self) {
        let keys: Vec<String> = self
            .docs
            .iter()
            .filter(|(_, d)| d.analysis.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(doc) = self.docs.get_mut(&k) {
                let a = Self::analyze(doc);
                Self::publish(self.conn, doc, &a);
            }
        }
    }

    /// The analysis of a document, made fresh (and published) if it changed.
    fn fresh(&mut self, uri: &Uri) -> Option<(Arc<Analysis>, Option<Arc<Analysis>>)> {
        let doc = self.docs.get_mut(uri.as_str())?;
        let was_dirty = doc.analysis.is_none();
        let a = Self::analyze(doc);
        let previous = doc.last_good.clone();
        if was_dirty {
            Self::publish(self.conn, doc, &a);
        }
        Some((a, previous))
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params)
                else {
                    return;
                };
                let doc = Doc {
                    uri: p.text_document.uri.clone(),
                    version: p.text_document.version,
                    text: p.text_document.text,
                    parser: IncrementalParser::new(),
                    analysis: None,
                    last_good: None,
                };
                self.docs
                    .insert(p.text_document.uri.as_str().to_string(), doc);
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params)
                else {
                    return;
                };
                let Some(doc) = self.docs.get_mut(p.text_document.uri.as_str()) else {
                    return;
                };
                for change in p.content_changes {
                    apply_change(&mut doc.text, change);
                }
                doc.version = p.text_document.version;
                doc.analysis = None;
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params)
                else {
                    return;
                };
                if self.docs.remove(p.text_document.uri.as_str()).is_some() {
                    let params = PublishDiagnosticsParams {
                        uri: p.text_document.uri,
                        diagnostics: Vec::new(),
                        version: None,
                    };
                    self.send(Message::Notification(Notification::new(
                        PublishDiagnostics::METHOD.to_string(),
                        params,
                    )));
                }
            }
            _ => {}
        }
    }

    fn request(&mut self, req: Request) {
        let id = req.id.clone();
        let method = req.method.clone();
        // A bug in one request must not end the session: answer with an error instead.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(req)));
        let response = match outcome {
            Ok(Ok(value)) => Response {
                id,
                response_result: Ok(value),
            },
            Ok(Err((code, message))) => Response::new_err(id, code, message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                format!("upstartc lsp: internal error in `{method}`"),
            ),
        };
        self.send(Message::Response(response));
    }

    fn dispatch(&mut self, req: Request) -> Result<Value, (i32, String)> {
        let bad = |e: serde_json::Error| (ErrorCode::InvalidParams as i32, e.to_string());
        let to_json = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| (ErrorCode::InternalError as i32, e.to_string()))
        };
        match req.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp_types::HoverParams = serde_json::from_value(req.params).map_err(bad)?;
                let tdp = p.text_document_position_params;
                let Some((a, _)) = self.fresh(&tdp.text_document.uri) else {
                    return Ok(Value::Null);
                };
                let offset = a.index.offset(&a.text, tdp.position);
                to_json(serde_json::to_value(hover(&a, offset)))
            }
            GotoDefinition::METHOD => {
                let p: lsp_types::GotoDefinitionParams =
                    serde_json::from_value(req.params).map_err(bad)?;
                let tdp = p.text_document_position_params;
                let uri = tdp.text_document.uri;
                let Some((a, _)) = self.fresh(&uri) else {
                    return Ok(Value::Null);
                };
                let offset = a.index.offset(&a.text, tdp.position);
                let locations: Vec<Location> = definition(&a, offset)
                    .into_iter()
                    .map(|s| Location {
                        uri: uri.clone(),
                        range: a.index.range(&a.text, s),
                    })
                    .collect();
                let response = match locations.len() {
                    0 => return Ok(Value::Null),
                    1 => GotoDefinitionResponse::Scalar(
                        locations
                            .into_iter()
                            .next()
                            .ok_or((ErrorCode::InternalError as i32, String::new()))?,
                    ),
                    _ => GotoDefinitionResponse::Array(locations),
                };
                to_json(serde_json::to_value(response))
            }
            Completion::METHOD => {
                let p: lsp_types::CompletionParams =
                    serde_json::from_value(req.params).map_err(bad)?;
                let tdp = p.text_document_position;
                let Some((a, previous)) = self.fresh(&tdp.text_document.uri) else {
                    return Ok(Value::Null);
                };
                let offset = a.index.offset(&a.text, tdp.position);
                let items = completion(&a, previous.as_deref(), offset);
                to_json(serde_json::to_value(CompletionResponse::Array(items)))
            }
            CodeActionRequest::METHOD => {
                let p: lsp_types::CodeActionParams =
                    serde_json::from_value(req.params).map_err(bad)?;
                let uri = p.text_document.uri;
                let Some((a, _)) = self.fresh(&uri) else {
                    return Ok(Value::Null);
                };
                let range = a.index.span(&a.text, p.range);
                let published = to_lsp(&a, &uri);
                let actions: Vec<CodeActionOrCommand> = actions::fixes(&a, range)
                    .into_iter()
                    .map(|fix| {
                        let edits: Vec<TextEdit> = fix
                            .edits
                            .iter()
                            .map(|(span, text)| TextEdit {
                                range: a.index.range(&a.text, *span),
                                new_text: text.clone(),
                            })
                            .collect();
                        let diagnostic = a
                            .diagnostics
                            .iter()
                            .position(|d| *d == fix.fixes)
                            .and_then(|i| published.get(i).cloned());
                        CodeActionOrCommand::CodeAction(lsp_types::CodeAction {
                            title: fix.title,
                            kind: Some(CodeActionKind::QUICKFIX),
                            diagnostics: diagnostic.map(|d| vec![d]),
                            edit: Some(WorkspaceEdit {
                                changes: Some(HashMap::from([(uri.clone(), edits)])),
                                ..WorkspaceEdit::default()
                            }),
                            is_preferred: Some(fix.preferred),
                            ..lsp_types::CodeAction::default()
                        })
                    })
                    .collect();
                to_json(serde_json::to_value(actions))
            }
            Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams =
                    serde_json::from_value(req.params).map_err(bad)?;
                let Some(doc) = self.docs.get(p.text_document.uri.as_str()) else {
                    return Ok(Value::Null);
                };
                match upstart_fmt::format(&doc.text) {
                    Ok(formatted) if formatted == doc.text => Ok(json!([])),
                    Ok(formatted) => {
                        let index = LineIndex::new(&doc.text);
                        let range = Range {
                            start: lsp_types::Position::new(0, 0),
                            end: index.position(&doc.text, doc.text.len()),
                        };
                        to_json(serde_json::to_value(vec![TextEdit {
                            range,
                            new_text: formatted,
                        }]))
                    }
                    Err(e) => Err((
                        ErrorCode::RequestFailed as i32,
                        format!("cannot format: {e}"),
                    )),
                }
            }
            other => Err((
                ErrorCode::MethodNotFound as i32,
                format!("unknown request `{other}`"),
            )),
        }
    }
}

/// Applies one change of a `didChange` (a range replaced, or the whole text).
pub fn apply_change(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        Some(range) => {
            let index = LineIndex::new(text);
            let span = index.span(text, range);
            if text.is_char_boundary(span.start) && text.is_char_boundary(span.end) {
                text.replace_range(span.start..span.end, &change.text);
            }
        }
        None => *text = change.text,
    }
}
