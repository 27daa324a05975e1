//! Showing values as text (`to_string` and messages), as the evaluator shows them.

use super::*;

/// Values written as the language writes them (`"a"`, `some(1)`, `Item { value: "v" }`), for
/// error messages that name a value, as the evaluator's messages do.
pub trait Show {
    fn show(&self, out: &mut String);

    /// The text of [`Show::show`].
    fn shown(&self) -> String {
        let mut out = String::new();
        self.show(&mut out);
        out
    }
}

impl<T: Show + ?Sized> Show for &T {
    fn show(&self, out: &mut String) {
        (**self).show(out);
    }
}

impl<T: Show + ?Sized> Show for Box<T> {
    fn show(&self, out: &mut String) {
        (**self).show(out);
    }
}

impl Show for () {
    fn show(&self, out: &mut String) {
        out.push_str("()");
    }
}

macro_rules! show_display {
    ($($t:ty),*) => {
        $(impl Show for $t {
            fn show(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        })*
    };
}
show_display!(bool, i64, u64, u8);

impl Show for F64 {
    fn show(&self, out: &mut String) {
        out.push_str(&float_text(self.0));
    }
}

impl Show for str {
    fn show(&self, out: &mut String) {
        out.push('"');
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

impl Show for String {
    fn show(&self, out: &mut String) {
        self.as_str().show(out);
    }
}

impl<T: Show> Show for Option<T> {
    fn show(&self, out: &mut String) {
        match self {
            None => out.push_str("none"),
            Some(v) => {
                out.push_str("some(");
                v.show(out);
                out.push(')');
            }
        }
    }
}

/// Writes `open`, each item (as `each` writes it) with `, ` between them, then `close`.
fn show_seq<I>(
    out: &mut String,
    open: &str,
    items: impl IntoIterator<Item = I>,
    close: &str,
    mut each: impl FnMut(&mut String, I),
) {
    out.push_str(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(out, item);
    }
    out.push_str(close);
}

impl<T: Show> Show for Vec<T> {
    fn show(&self, out: &mut String) {
        show_seq(out, "[", self, "]", |out, x| x.show(out));
    }
}

impl<T: Show> Show for BTreeSet<T> {
    fn show(&self, out: &mut String) {
        show_seq(out, "{", self, "}", |out, x| x.show(out));
    }
}

impl<K: Show, V: Show> Show for BTreeMap<K, V> {
    fn show(&self, out: &mut String) {
        show_seq(out, "{", self, "}", |out, (k, v)| {
            k.show(out);
            out.push_str(": ");
            v.show(out);
        });
    }
}

macro_rules! show_tuple {
    ($first:ident $(, $name:ident)*) => {
        impl<$first: Show $(, $name: Show)*> Show for ($first, $($name,)*) {
            #[allow(non_snake_case, reason = "the tuple's type parameters name its fields")]
            fn show(&self, out: &mut String) {
                let ($first, $($name,)*) = self;
                out.push('(');
                $first.show(out);
                $(out.push_str(", "); $name.show(out);)*
                if <[&str]>::is_empty(&[$(stringify!($name)),*]) {
                    out.push(',');
                }
                out.push(')');
            }
        }
    };
}
show_tuple!(A);
show_tuple!(A, B);
show_tuple!(A, B, C);
show_tuple!(A, B, C, D);
show_tuple!(A, B, C, D, E);
show_tuple!(A, B, C, D, E, F);
show_tuple!(A, B, C, D, E, F, G);
show_tuple!(A, B, C, D, E, F, G, H);
show_tuple!(A, B, C, D, E, F, G, H, I);
show_tuple!(A, B, C, D, E, F, G, H, I, J);
show_tuple!(A, B, C, D, E, F, G, H, I, J, K);
show_tuple!(A, B, C, D, E, F, G, H, I, J, K, L);

/// Writes a record as `Name { a: 1, b: "x" }`, fields in the order given (generated code
/// passes them sorted by name, as the evaluator shows them).
pub fn show_record(out: &mut String, name: &str, fields: &[(&str, &dyn Show)]) {
    out.push_str(name);
    if fields.is_empty() {
        out.push_str(" {}");
        return;
    }
    show_seq(out, " { ", fields, " }", |out, (field, value)| {
        out.push_str(field);
        out.push_str(": ");
        value.show(out);
    });
}

/// Writes an enum value as `Enum::Variant` or `Enum::Variant(payload)`.
pub fn show_variant(out: &mut String, enum_name: &str, variant: &str, payload: Option<&dyn Show>) {
    out.push_str(enum_name);
    out.push_str("::");
    out.push_str(variant);
    if let Some(p) = payload {
        out.push('(');
        p.show(out);
        out.push(')');
    }
}

/// The error of a `match` none of whose arms matches (the checker makes this unreachable).
pub fn no_match(value: &dyn Show) -> RuleError {
    bad(format!("no arm of the `match` matches `{}`", value.shown()))
}
