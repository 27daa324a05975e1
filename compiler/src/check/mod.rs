//! The checker: from parsed specs to a [`SpecModel`] per spec plus diagnostics.
//!
//! Phases, each in its own module: `declare` resolves each version's declarations; `types`
//! compares types across versions; `expr` and `builtins` type expressions; `rules` proves
//! every method is answered; `state` checks the transform and invariant; `models` the
//! method models; `schedule` the rollout settings; `chain` the joints between specs given
//! together.

pub(crate) mod builtins;
mod chain;
mod declare;
mod differs;
mod expr;
mod functions;
pub(crate) mod models;
pub(crate) mod rules;
mod schedule;
mod state;
#[cfg(test)]
mod storage_tests;
pub mod suggest;
#[cfg(test)]
mod tests;
pub(crate) mod types;

use crate::model::{Framing, SpecModel, Ty};
use lang::ast::Spec;
use lang::diagnostic::{codes, Code, Diagnostic};
use lang::span::{FileId, SourceMap, Span};
use std::collections::HashMap;

/// The result of checking files together.
#[derive(Debug, Default)]
pub struct CheckOutput {
    pub models: Vec<SpecModel>,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckOutput {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks one file's text (the tests' shorthand for [`check_sources`]).
#[cfg(test)]
pub(crate) fn check_text(text: impl Into<String>) -> CheckOutput {
    let mut sources = SourceMap::new();
    sources.add("t.ups", text.into());
    check_sources(&sources)
}

/// Parses and checks every file of `sources` as one chain of specs.
pub fn check_sources(sources: &SourceMap) -> CheckOutput {
    let mut out = CheckOutput::default();
    for (file, source) in sources.iter() {
        let parsed = lang::parse(file, &source.text);
        // A file with syntax errors is not checked further: a broken item would show up again
        // as a missing version or rule, and those echoes only hide the real error.
        let syntax_ok = !parsed.diagnostics.iter().any(Diagnostic::is_error);
        out.diagnostics.extend(parsed.diagnostics);
        if let Some(spec) = parsed.spec.filter(|_| syntax_ok) {
            let (model, diagnostics) = check_spec(file, spec);
            out.diagnostics.extend(diagnostics);
            out.models.push(model);
        }
    }
    if out.models.len() > 1 {
        out.diagnostics.extend(chain::check_chain(&out.models));
    }
    out.diagnostics.sort_by(|a, b| {
        (a.primary.file, a.primary.span.start, a.code).cmp(&(
            b.primary.file,
            b.primary.span.start,
            b.code,
        ))
    });
    out
}

/// Checks one parsed spec.
pub fn check_spec(file: FileId, spec: Spec) -> (SpecModel, Vec<Diagnostic>) {
    let mut cx = Cx {
        file,
        diagnostics: Vec::new(),
        expr_types: HashMap::new(),
        conversions: HashMap::new(),
        named_conversions: Default::default(),
    };
    let (old, new) = declare::versions(&mut cx, &spec);
    let framing = declare::protocol(&mut cx, &spec);
    let mut model = SpecModel {
        file,
        spec,
        old,
        new,
        framing,
        unchanged_types: Default::default(),
        unchanged_methods: Default::default(),
        functions: Default::default(),
        expr_types: HashMap::new(),
        conversions: HashMap::new(),
        named_conversions: Default::default(),
        pass_conversions: Default::default(),
    };
    model.unchanged_types = types::unchanged_types(&model);
    model.unchanged_methods = rules::unchanged_methods(&model);
    model.pass_conversions = rules::pass_conversions(&mut cx, &model);
    // Without both versions, every rule and state field would look unanswered: say only what
    // is missing.
    let versions_complete = !cx
        .diagnostics
        .iter()
        .any(|d| d.code == codes::MISSING_VERSION);
    if versions_complete {
        rules::check_renames(&mut cx, &model);
        model.functions = functions::signatures(&mut cx, &model);
        functions::check_bodies(&mut cx, &model);
        types::lossy_records(&mut cx, &model);
        rules::check_rules(&mut cx, &model);
        state::check_state(&mut cx, &model);
        models::check_models(&mut cx, &model);
    }
    schedule::check_schedules(&mut cx, &model.spec);
    model.expr_types = cx.expr_types;
    model.conversions = cx.conversions;
    model.named_conversions = cx.named_conversions;
    (model, cx.diagnostics)
}

/// Diagnostics sink for one file.
pub(crate) struct Cx {
    pub file: FileId,
    pub diagnostics: Vec<Diagnostic>,
    /// The type of every expression checked, by id.
    pub expr_types: HashMap<lang::ast::ExprId, Ty>,
    /// Values used as the other version's whose types differ only by renames.
    pub conversions: HashMap<lang::ast::ExprId, crate::model::Conversion>,
    pub named_conversions: crate::model::NamedConversions,
}

/// The names given so far to items of one kind in one place (the fields of a record, the
/// parameters of a method, the variants of an enum); a name given again is a duplicate.
#[derive(Default)]
pub(crate) struct Seen<'a>(HashMap<&'a str, Span>);

impl<'a> Seen<'a> {
    /// Whether `name` is new here; a name given before is reported as a duplicate `what`
    /// (with `code`, pointing at the first) and is not new.
    pub fn fresh(
        &mut self,
        cx: &mut Cx,
        code: Code,
        what: &str,
        name: &'a lang::ast::Ident,
    ) -> bool {
        if let Some(first) = self.0.get(name.name.as_str()) {
            cx.duplicate(code, what, name, *first);
            return false;
        }
        self.0.insert(&name.name, name.span);
        true
    }
}

impl Cx {
    /// Pushes a diagnostic built from `code`, `span` and `message`, after `build` decorates it.
    pub fn report(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        build: impl FnOnce(Diagnostic) -> Diagnostic,
    ) {
        let d = build(Diagnostic::new(code, self.file, span, message));
        self.diagnostics.push(d);
    }

    pub fn duplicate(&mut self, code: Code, what: &str, name: &lang::ast::Ident, first: Span) {
        self.report(
            code,
            name.span,
            format!("{what} `{}` is defined twice", name.name),
            |d| {
                d.label("defined again here")
                    .also(first, "first defined here")
            },
        );
    }

    /// Reports `what` (an item a spec gives once: "the schedule", "version 2") given again at
    /// `again` after `first`, with `help` when there is one.
    pub fn given_twice(&mut self, what: &str, again: Span, first: Span, help: Option<&str>) {
        self.report(
            codes::DUPLICATE_ITEM,
            again,
            format!("{what} is given twice"),
            |d| {
                d.label("given again here")
                    .also(first, "first given here")
                    .maybe_help(help.map(str::to_string))
            },
        );
    }

    /// Reports each of `spans` after the first as `what` given twice (see [`Cx::given_twice`]).
    pub fn given_once(
        &mut self,
        what: &str,
        spans: impl IntoIterator<Item = Span>,
        help: Option<&str>,
    ) {
        let mut spans = spans.into_iter();
        let Some(first) = spans.next() else {
            return;
        };
        for again in spans {
            self.given_twice(what, again, first, help);
        }
    }
}

/// Default framing when a spec names no protocol.
pub const DEFAULT_FRAMING: Framing = Framing::Lines;
