//! Prints the AST or the parse diagnostics of a spec: a debugging aid for grammar work.
#![allow(clippy::unwrap_used, reason = "an example program")]
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = lang::parse(lang::FileId(0), &text);
    for d in &parsed.diagnostics {
        let f = lang::SourceFile::new(&path, text.clone());
        let (l, c) = f.line_col(d.primary.span.start);
        println!(
            "{}:{l}:{c}: {} {}: {} ({})",
            path,
            d.severity.as_str(),
            d.code,
            d.message,
            d.primary.message
        );
    }
    if std::env::var("DUMP").is_ok() {
        println!("{:#?}", parsed.spec);
    } else {
        println!("spec parsed: {}", parsed.spec.map_or(0, |s| s.items.len()));
    }
}
