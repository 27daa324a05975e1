//! Code generation: a checked [`SpecModel`] to the source of a plugin crate (a cdylib).
//!
//! The crate's `src/lib.rs` holds a module per version with its records, enums and state in
//! the wire encoding (`v1`, `v2`), the delegate functions `call` goes through (`calls`), the
//! rules (`past`, `future`), the dispatch table (`dispatch`), the transform and invariant
//! (`state`), the helper functions (`functions`), the conversions of values under renamed
//! fields (`conv`), the embedded manifest, and the C-ABI entry
//! points and vtable. Tokens are built
//! with `quote`, parsed back with `syn` (a failure is a compiler bug, reported with the text)
//! and formatted with `prettyplease`. Pure: no IO here; `crate::build` writes and builds.

pub(crate) mod builtins;
mod calls;
mod convert;
mod expr;
mod functions;
mod layout;
mod manifest;
mod moves;
mod names;
mod pattern;
mod plugin;
mod rules;
mod state;
mod types;

#[cfg(test)]
mod tests;

use crate::model::SpecModel;
use proc_macro2::TokenStream;
use quote::quote;
use std::path::Path;
use upstart_abi::manifest::Manifest;

pub use manifest::spec_hash;

/// The generated plugin crate, ready to be written to a directory.
#[derive(Debug, Clone)]
pub struct GeneratedCrate {
    /// Cargo package name: `upstart-plugin-kv-1-2`.
    pub package: String,
    /// Library name (the cdylib's file stem without `lib`): `upstart_plugin_kv_1_2`.
    pub lib_name: String,
    pub cargo_toml: String,
    pub lib_rs: String,
    /// The manifest embedded in `lib_rs`.
    pub manifest: Manifest,
}

/// Why no crate was generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodegenError {
    /// The spec uses something code generation does not support yet.
    #[error("{0}")]
    Unsupported(String),
    /// A bug: something the checker rules out reached code generation.
    #[error("internal compiler error: {0}")]
    Internal(String),
    /// A bug: the generated tokens are not valid Rust. `text` holds them for inspection.
    #[error("internal compiler error: the generated code does not parse: {error}")]
    Malformed { error: String, text: String },
}

impl CodegenError {
    pub(crate) fn unsupported(message: impl Into<String>) -> CodegenError {
        CodegenError::Unsupported(message.into())
    }

    /// Whether this is a compiler bug rather than a limit of the spec language's compiler.
    pub fn is_internal(&self) -> bool {
        !matches!(self, CodegenError::Unsupported(_))
    }
}

/// Generates the plugin crate of a checked spec (one without errors). `spec_text` is the
/// file's text (its sha-256 is the manifest's `spec_hash`); `abi_path` the `upstart-abi`
/// crate the plugin depends on.
pub fn generate(
    model: &SpecModel,
    spec_text: &str,
    abi_path: &Path,
) -> Result<GeneratedCrate, CodegenError> {
    let types = types::Types::new(model);
    let manifest = manifest::manifest(&types, spec_text);
    let tokens = crate_tokens(&types, &manifest)?;
    let lib_rs = format_tokens(tokens)?;
    let (name, from, to) = (&model.spec.name.name, model.old.number, model.new.number);
    let package = names::package_name(name, from, to);
    let cargo_toml = plugin::cargo_toml(&package, name, from, to, abi_path);
    Ok(GeneratedCrate {
        lib_name: package.replace('-', "_"),
        package,
        cargo_toml,
        lib_rs,
        manifest,
    })
}

/// The tokens of the plugin's `src/lib.rs`.
pub fn lib_tokens(model: &SpecModel, spec_text: &str) -> Result<TokenStream, CodegenError> {
    let types = types::Types::new(model);
    let manifest = manifest::manifest(&types, spec_text);
    crate_tokens(&types, &manifest)
}

/// Stack of the thread that parses and prints the generated code: syn and prettyplease
/// recurse once per operator of a chain (`a && b && ...`, up to a thousand terms, see
/// `lang`'s depth limits), more than a 2 MiB test thread holds in a debug build. Only the
/// pages touched are committed.
const FORMAT_STACK: usize = 64 << 20;

/// Parses tokens back as a Rust file and formats them (on a thread of its own, with a stack
/// of [`FORMAT_STACK`] bytes, whatever the caller's stack).
pub fn format_tokens(tokens: TokenStream) -> Result<String, CodegenError> {
    // Tokens cannot cross threads; their text can.
    let text = tokens.to_string();
    let worker = std::thread::Builder::new()
        .name("upstartc-format".into())
        .stack_size(FORMAT_STACK)
        .spawn(move || match syn::parse_file(&text) {
            Ok(file) => Ok(prettyplease::unparse(&file)),
            Err(e) => Err(CodegenError::Malformed {
                error: e.to_string(),
                text,
            }),
        })
        .map_err(|e| CodegenError::Internal(format!("cannot start the formatting thread: {e}")))?;
    worker
        .join()
        .map_err(|_| CodegenError::Internal("formatting the generated code panicked".into()))?
}

fn crate_tokens(
    types: &types::Types<'_>,
    manifest: &Manifest,
) -> Result<TokenStream, CodegenError> {
    types.check_supported()?;
    let model = types.model;
    let json = serde_json::to_string(manifest)
        .map_err(|e| CodegenError::Internal(format!("cannot encode the manifest: {e}")))?;
    let header = plugin::header(
        &model.spec.name.name,
        model.old.number,
        model.new.number,
        &manifest.spec_hash,
    );
    let old = types.module(&model.old)?;
    let new = types.module(&model.new)?;
    let calls = rules::delegates(types)?;
    let rule_modules = rules::rule_modules(types)?;
    let dispatch = rules::dispatch(types)?;
    let state = state::state_module(types)?;
    let functions = functions::functions_module(types)?;
    let conversions = convert::conversions_module(types)?;
    let entries = plugin::entries(&json, manifest.reverse_transform);
    Ok(quote! {
        #header
        #old
        #new
        #calls
        #rule_modules
        #dispatch
        #state
        #functions
        #conversions
        #entries
    })
}
