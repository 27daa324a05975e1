//! The node program's own command line, as a template (`upstart node --exec`, and a bundle's
//! `exec` for its version): words split like a shell's (spaces; `'...'` and `"..."` quote;
//! `\` escapes outside single quotes), no shell run, and placeholders the agent fills in:
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{port}` | the port the program must listen on (chosen by the agent, on 127.0.0.1) |
//! | `{host}` | `127.0.0.1` |
//! | `{addr}` | `127.0.0.1:PORT` |
//! | `{state}` | the state file |
//! | `{data}` | a directory the program may keep files in (`DATA/program`, kept across versions) |
//! | `{program}` | the version's program file (`--binary`, or the one its bundle carried) |
//! | `{release}` | the directory of the version's release (its bundle's files), else the program's |
//! | `{peers}` | the peers' routes, comma-separated, in one word |
//! | `{peers:WORDS}` | WORDS once per peer route, `%` the route: `{peers:--peer %}` |
//! | `{{`, `}}` | `{`, `}` |
//!
//! `{peers:WORDS}` must be a word of its own; it makes no word when there are no peers.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    words: Vec<Word>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Parts(Vec<Part>),
    /// `{peers:WORDS}`: the words (`%` the peer) once per peer.
    EachPeer(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Port,
    Host,
    Addr,
    State,
    Data,
    Program,
    Release,
    Peers,
}

/// What the placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub port: u16,
    pub state: &'a Path,
    pub data: &'a Path,
    /// `None`: this version has no program file (`{program}` is refused).
    pub program: Option<&'a Path>,
    /// `None`: the program's directory.
    pub release: Option<&'a Path>,
    pub peers: &'a [SocketAddr],
}

/// Why a template does not parse, or does not expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

fn err(text: &str, why: impl fmt::Display) -> TemplateError {
    TemplateError(format!("the command template `{text}` {why}"))
}

impl Template {
    /// Parses `text`; refuses an empty command, unclosed quotes or braces and unknown
    /// placeholders.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut words = Vec::new();
        let mut parts: Vec<Part> = Vec::new();
        let mut literal = String::new();
        // Whether the current word has begun (`''` is an empty word).
        let mut begun = false;
        let mut chars = text.chars().peekable();
        let flush = |literal: &mut String, parts: &mut Vec<Part>| {
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(literal)));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => {
                    if begun {
                        flush(&mut literal, &mut parts);
                        words.push(Word::Parts(std::mem::take(&mut parts)));
                        begun = false;
                    }
                }
                '\'' => {
                    begun = true;
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => literal.push(c),
                            None => return Err(err(text, "has an unclosed `'`")),
                        }
                    }
                }
                '"' => {
                    begun = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => literal.push(c),
                                None => return Err(err(text, "ends with `\\`")),
                            },
                            Some('{') if chars.peek() == Some(&'{') => {
                                chars.next();
                                literal.push('{');
                            }
                            Some('{') => {
                                flush(&mut literal, &mut parts);
                                let inner = placeholder(text, &mut chars)?;
                                parts.push(simple(text, &inner)?);
                            }
                            Some('}') if chars.peek() == Some(&'}') => {
                                chars.next();
                                literal.push('}');
                            }
                            Some(c) => literal.push(c),
                            None => return Err(err(text, "has an unclosed `\"`")),
                        }
                    }
                }
                '\\' => {
                    begun = true;
                    match chars.next() {
                        Some(c) => literal.push(c),
                        None => return Err(err(text, "ends with `\\`")),
                    }
                }
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    begun = true;
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    begun = true;
                    literal.push('}');
                }
                '}' => return Err(err(text, "has a `}` that closes nothing (write `}}`)")),
                '{' => {
                    let whole_word = !begun;
                    begun = true;
                    flush(&mut literal, &mut parts);
                    let inner = placeholder(text, &mut chars)?;
                    if let Some(each) = inner.strip_prefix("peers:") {
                        let ends_word = chars.peek().is_none_or(|c| c.is_whitespace());
                        if !whole_word || !ends_word {
                            return Err(err(
                                text,
                                format!("uses `{{{inner}}}` inside a word: it must be a word of its own"),
                            ));
                        }
                        let each: Vec<String> =
                            each.split_whitespace().map(str::to_string).collect();
                        if each.is_empty() {
                            return Err(err(text, format!("has `{{{inner}}}` with no words")));
                        }
                        words.push(Word::EachPeer(each));
                        begun = false;
                    } else {
                        parts.push(simple(text, &inner)?);
                    }
                }
                c => {
                    begun = true;
                    literal.push(c);
                }
            }
        }
        if begun {
            flush(&mut literal, &mut parts);
            words.push(Word::Parts(parts));
        }
        match words.first() {
            Some(Word::Parts(p)) if !p.is_empty() => Ok(Template { words }),
            _ => Err(err(text, "names no program")),
        }
    }

    /// Whether it uses `{program}`.
    pub fn uses_program(&self) -> bool {
        self.words.iter().any(|w| match w {
            Word::Parts(parts) => parts.contains(&Part::Program),
            Word::EachPeer(_) => false,
        })
    }

    /// Whether it tells the program its port (`{port}` or `{addr}`): without it the program
    /// cannot know where to listen.
    pub fn uses_port(&self) -> bool {
        self.words.iter().any(|w| match w {
            Word::Parts(parts) => parts.iter().any(|p| matches!(p, Part::Port | Part::Addr)),
            Word::EachPeer(_) => false,
        })
    }

    /// The command line: program then arguments.
    pub fn expand(&self, v: &Values<'_>) -> Result<Vec<String>, TemplateError> {
        let mut out = Vec::new();
        for word in &self.words {
            match word {
                Word::Parts(parts) => {
                    let mut s = String::new();
                    for part in parts {
                        match part {
                            Part::Text(t) => s.push_str(t),
                            Part::Port => s.push_str(&v.port.to_string()),
                            Part::Host => s.push_str("127.0.0.1"),
                            Part::Addr => s.push_str(&format!("127.0.0.1:{}", v.port)),
                            Part::State => s.push_str(&v.state.display().to_string()),
                            Part::Data => s.push_str(&v.data.display().to_string()),
                            Part::Program => match v.program {
                                Some(p) => s.push_str(&p.display().to_string()),
                                None => {
                                    return Err(TemplateError(
                                        "the command template uses `{program}` but this version has no program file\n  help: give `--binary`".into(),
                                    ))
                                }
                            },
                            Part::Release => {
                                let dir = v
                                    .release
                                    .or_else(|| v.program.and_then(Path::parent))
                                    .unwrap_or(v.data);
                                s.push_str(&dir.display().to_string());
                            }
                            Part::Peers => {
                                let list: Vec<String> =
                                    v.peers.iter().map(ToString::to_string).collect();
                                s.push_str(&list.join(","));
                            }
                        }
                    }
                    out.push(s);
                }
                Word::EachPeer(each) => {
                    for peer in v.peers {
                        for w in each {
                            out.push(w.replace('%', &peer.to_string()));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Reads a placeholder's name after its `{`, up to the `}`.
fn placeholder(
    text: &str,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<String, TemplateError> {
    let mut inner = String::new();
    loop {
        match chars.next() {
            Some('}') => return Ok(inner),
            Some('{') => return Err(err(text, "has a `{` inside a placeholder")),
            Some(c) => inner.push(c),
            None => return Err(err(text, "has an unclosed `{`")),
        }
    }
}

fn simple(text: &str, name: &str) -> Result<Part, TemplateError> {
    Ok(match name {
        "port" => Part::Port,
        "host" => Part::Host,
        "addr" => Part::Addr,
        "state" => Part::State,
        "data" => Part::Data,
        "program" => Part::Program,
        "release" => Part::Release,
        "peers" => Part::Peers,
        other if other.starts_with("peers:") => {
            return Err(err(
                text,
                format!("uses `{{{other}}}` inside quotes: it must be a word of its own"),
            ))
        }
        other => {
            return Err(err(
                text,
                format!(
                    "has an unknown placeholder `{{{other}}}`\n  help: the placeholders are \
                     {{port}}, {{host}}, {{addr}}, {{state}}, {{data}}, {{program}}, {{release}}, \
                     {{peers}} and {{peers:WORDS}}; `{{{{` is a `{{`"
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str, peers: &[SocketAddr]) -> Vec<String> {
        Template::parse(text)
            .unwrap()
            .expand(&Values {
                port: 7001,
                state: Path::new("/n1/state.json"),
                data: Path::new("/n1/agent/program"),
                program: Some(Path::new("/n1/bin/abc/app.py")),
                release: None,
                peers,
            })
            .unwrap()
    }

    #[test]
    fn placeholders_quotes_and_peers_expand() {
        let peers: Vec<SocketAddr> = vec![
            "127.0.0.1:9001".parse().unwrap(),
            "127.0.0.1:9002".parse().unwrap(),
        ];
        assert_eq!(
            expand(
                "python3 {program} --port {port} --state={state} {peers:--peer %} 'a b' \"x {host}\" {{lit}}",
                &peers
            ),
            [
                "python3",
                "/n1/bin/abc/app.py",
                "--port",
                "7001",
                "--state=/n1/state.json",
                "--peer",
                "127.0.0.1:9001",
                "--peer",
                "127.0.0.1:9002",
                "a b",
                "x 127.0.0.1",
                "{lit}",
            ]
        );
        assert_eq!(
            expand(
                "app --listen {addr} --peers {peers} --dir {release}/x {data}",
                &peers
            ),
            [
                "app",
                "--listen",
                "127.0.0.1:7001",
                "--peers",
                "127.0.0.1:9001,127.0.0.1:9002",
                "--dir",
                "/n1/bin/abc/x",
                "/n1/agent/program",
            ]
        );
        assert_eq!(expand("app {peers:--peer=%} ''", &[]), ["app", ""]);
        let t = Template::parse("app --port {port}").unwrap();
        assert!(t.uses_port() && !t.uses_program());
    }

    #[test]
    fn bad_templates_are_refused() {
        for (text, want) in [
            ("", "names no program"),
            ("  ", "names no program"),
            ("{peers:--peer %}", "names no program"),
            ("app 'open", "unclosed `'`"),
            ("app \"open", "unclosed `\"`"),
            ("app {port", "unclosed `{`"),
            ("app port}", "closes nothing"),
            ("app {prot}", "unknown placeholder `{prot}`"),
            ("app x{peers:-p %}", "must be a word of its own"),
            ("app {peers:-p %}x", "must be a word of its own"),
            ("app \"{peers:-p %}\"", "must be a word of its own"),
            ("app {peers:}", "with no words"),
            ("app \\", "ends with"),
        ] {
            let e = Template::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let t = Template::parse("python3 {program}").unwrap();
        let e = t
            .expand(&Values {
                port: 1,
                state: Path::new("s"),
                data: Path::new("d"),
                program: None,
                release: None,
                peers: &[],
            })
            .unwrap_err();
        assert!(e.to_string().contains("`--binary`"), "{e}");
    }
}
