/// (code number, text); generated list of `include_str!`s, one per file in `compiler/explain/`.
static EXPLANATIONS: &[(u16, &str)] = &[];
