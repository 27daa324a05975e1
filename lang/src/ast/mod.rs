//! The typed syntax tree of an upgrade spec, with byte spans. Built from pest pairs by
//! `parse::build`; everything after parsing works on these types only.

pub mod print;

use crate::span::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// The words the grammar refuses as plain names. A name may still be one of them when written
/// with the escape `r#` (`fn r#exists(...)`): the name is the bare word, and so is its wire name.
pub const KEYWORDS: &[&str] = &[
    "let", "if", "else", "match", "call", "disallow", "forall", "exists", "true", "false", "none",
    "fn", "in",
];

/// How a name is written in a spec: with `r#` before a keyword, as itself otherwise.
pub fn written_name(name: &str) -> std::borrow::Cow<'_, str> {
    if KEYWORDS.contains(&name) {
        std::borrow::Cow::Owned(format!("r#{name}"))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

impl Ident {
    /// The name as a spec writes it (see [`written_name`]).
    pub fn written(&self) -> std::borrow::Cow<'_, str> {
        written_name(&self.name)
    }
}

/// A version number or other unsigned literal in a header position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number {
    pub value: u64,
    pub span: Span,
}

/// One `*.ups` file: `upgrade NAME FROM -> TO` followed by items in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: Ident,
    pub from: Number,
    pub to: Number,
    pub header_span: Span,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Protocol(Protocol),
    Version(VersionBlock),
    Invariant(Invariant),
    Transform(Transform),
    Rules(RuleBlock),
    Schedule(Schedule),
    Function(Function),
}

impl Item {
    /// The item's own expressions, outermost only, in the order written: invariant clauses,
    /// transform field values, rule bodies, method models' expressions, a function's body.
    pub fn root_exprs(&self) -> Vec<&Expr> {
        match self {
            Item::Invariant(i) => i.clauses.iter().collect(),
            Item::Transform(t) => t.fields.iter().map(|f| &f.value).collect(),
            Item::Rules(r) => r.rules.iter().map(|r| &r.body).collect(),
            Item::Version(v) => v
                .decls
                .iter()
                .filter_map(|d| match d {
                    Decl::Service(s) => Some(s),
                    _ => None,
                })
                .flat_map(|s| &s.methods)
                .filter_map(|m| m.model.as_ref())
                .flat_map(MethodModel::exprs)
                .chain(v.decls.iter().flat_map(|d| match d {
                    Decl::State(s) => s.wellformed.iter().flat_map(|w| &w.clauses).collect(),
                    _ => Vec::new(),
                }))
                .collect(),
            Item::Function(f) => vec![&f.body],
            Item::Protocol(_) | Item::Schedule(_) => Vec::new(),
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Item::Protocol(p) => p.span,
            Item::Version(v) => v.span,
            Item::Invariant(i) => i.span,
            Item::Transform(t) => t.span,
            Item::Rules(r) => r.span,
            Item::Schedule(s) => s.span,
            Item::Function(f) => f.span,
        }
    }

    /// The keyword that starts the item, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            Item::Protocol(_) => "protocol",
            Item::Version(_) => "version",
            Item::Invariant(_) => "invariant",
            Item::Transform(_) => "transform",
            Item::Rules(r) => r.kind.keyword(),
            Item::Schedule(_) => "schedule",
            Item::Function(_) => "fn",
        }
    }
}

/// The accessors of the spec's items of one kind (`Spec::versions()`...): each gives the
/// items of its variant of [`Item`], in the order written.
macro_rules! items_of_kind {
    ($($(#[$doc:meta])* $name:ident: $variant:ident => $ty:ty;)*) => {
        impl Spec {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> impl Iterator<Item = &$ty> {
                    self.items.iter().filter_map(|i| match i {
                        Item::$variant(x) => Some(x),
                        _ => None,
                    })
                }
            )*
        }
    };
}

items_of_kind! {
    versions: Version => VersionBlock;
    protocols: Protocol => Protocol;
    invariants: Invariant => Invariant;
    /// Every transform, forward and reverse, in the order written.
    all_transforms: Transform => Transform;
    rule_blocks: Rules => RuleBlock;
    schedules: Schedule => Schedule;
    /// The top-level helper functions, in the order written.
    functions: Function => Function;
}

impl Spec {
    /// The forward transforms (`transform (old) -> new`); the checker allows one.
    pub fn transforms(&self) -> impl Iterator<Item = &Transform> {
        self.all_transforms().filter(|t| !t.reverse)
    }

    /// The reverse transforms (`transform (new) -> old`); the checker allows one.
    pub fn reverse_transforms(&self) -> impl Iterator<Item = &Transform> {
        self.all_transforms().filter(|t| t.reverse)
    }

    pub fn version(&self, number: u64) -> Option<&VersionBlock> {
        self.versions().find(|v| v.number.value == number)
    }
}

/// `protocol jsonrpc { framing: lines }`
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol {
    pub name: Ident,
    pub options: Vec<(Ident, Ident)>,
    pub span: Span,
}

/// `version N { ... }`: the interface and persistent state of one version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionBlock {
    pub number: Number,
    pub decls: Vec<Decl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decl {
    Record(RecordDecl),
    Enum(EnumDecl),
    Service(ServiceDecl),
    State(StateDecl),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordDecl {
    pub name: Ident,
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Variant>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: Ident,
    pub payload: Option<TypeExpr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDecl {
    pub name: Ident,
    pub methods: Vec<MethodDecl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MethodDecl {
    /// `changed fn ...`: the method's meaning changed though its signature may not have (the
    /// span of the word `changed`).
    pub changed: Option<Span>,
    pub name: Ident,
    pub params: Vec<Field>,
    /// `None` when no `-> T` is written: the method returns `unit`.
    pub ret: Option<TypeExpr>,
    /// `renamed from old`: the method is the old version's `old` under a new name.
    pub renamed_from: Option<Ident>,
    /// The method's model, its meaning over the version's state, when one is given.
    pub model: Option<MethodModel>,
    pub span: Span,
}

/// A method's model: what the method does to its version's `state` and what it answers,
/// written after the signature as `= expr` (reads the state, answers `expr`) or as a block
/// `{ stmt* expr? }` of `let`s and assignments `state.field = expr`, run in order, each
/// seeing the state the previous ones left, with an optional result (`unit` without one).
#[derive(Debug, Clone, PartialEq)]
pub struct MethodModel {
    pub stmts: Vec<ModelStmt>,
    /// The answer; `None` in a block that ends without an expression (the method answers
    /// `unit`).
    pub result: Option<Expr>,
    /// Written as a block `{ ... }` (else as `= expr`).
    pub block: bool,
    pub span: Span,
}

impl MethodModel {
    /// Every top-level expression of the model, in the order written.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.stmts
            .iter()
            .map(ModelStmt::value)
            .chain(self.result.as_ref())
    }
}

/// One statement of a block model.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStmt {
    /// `let name = value;`
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `state.field = value`
    Assign {
        field: Ident,
        value: Expr,
        span: Span,
    },
}

impl ModelStmt {
    pub fn value(&self) -> &Expr {
        match self {
            ModelStmt::Let { value, .. } | ModelStmt::Assign { value, .. } => value,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            ModelStmt::Let { span, .. } | ModelStmt::Assign { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateDecl {
    /// How the program stores the state (`state sqlite { ... }`); `None`: not said (a JSON
    /// document).
    pub storage: Option<StateStorage>,
    pub fields: Vec<Field>,
    /// `where { clause* }` after the fields: what a well-formed state of the version is,
    /// boolean clauses over `state` that all hold on every state the version produces.
    /// `upstartc verify` generates only well-formed states and checks that the transform,
    /// every model and every rule keep them so. `None`: every value of the type is one.
    pub wellformed: Option<WellFormed>,
    pub span: Span,
}

/// `where { clause* }` after a version's state: its well-formedness clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct WellFormed {
    pub clauses: Vec<Expr>,
    pub span: Span,
}

/// How a program stores its state: one JSON document, a directory of JSON documents (one
/// record per file), or a SQLite database (tables of records). The state's value is the same
/// in all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateStorage {
    Json,
    Dir,
    Sqlite,
}

impl StateStorage {
    pub fn name(self) -> &'static str {
        match self {
            StateStorage::Json => "json",
            StateStorage::Dir => "dir",
            StateStorage::Sqlite => "sqlite",
        }
    }

    pub fn from_name(name: &str) -> Option<StateStorage> {
        match name {
            "json" => Some(StateStorage::Json),
            "dir" => Some(StateStorage::Dir),
            "sqlite" => Some(StateStorage::Sqlite),
            _ => None,
        }
    }
}

/// `name: type`, in records, state, and method parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// `changed name: type` (records and state only): the field's meaning changed though its
    /// type may not have (the span of the word `changed`).
    pub changed: Option<Span>,
    pub name: Ident,
    pub ty: TypeExpr,
    /// `name: type renamed from old` (records and state only): the old version's field `old`
    /// under a new name.
    pub renamed_from: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    /// `string`, `option<T>`, `map<K, V>`, `Entry`, `v1::Entry`.
    Named {
        path: Vec<Ident>,
        args: Vec<TypeExpr>,
    },
    /// `(A, B)`; `()` is `unit`.
    Tuple(Vec<TypeExpr>),
}

/// `fn name(params) -> T = body`: a helper function at the top level, callable from rules,
/// transforms, invariants and other helpers like a built-in (`name(a)` or `a.name()`).
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: Ident,
    pub params: Vec<Field>,
    pub ret: TypeExpr,
    pub body: Expr,
    pub span: Span,
}

/// `invariant (old, new) { clause* }`: every clause must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Invariant {
    pub old: Ident,
    pub new: Ident,
    pub clauses: Vec<Expr>,
    pub span: Span,
}

/// `transform (old) -> new { field: expr, ... }`, the forward transform, or
/// `transform (new) -> old { field: expr, ... }`, the reverse one (a rollback's).
///
/// The direction is told by the header's words: a transform that takes `new` and gives `old`
/// is the reverse; any other names (`transform (o) -> n`) are a forward transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// The parameter: the name the state read is bound to (`old` forward, `new` in reverse).
    pub old: Ident,
    /// The result's name (`new` forward, `old` in reverse).
    pub new: Ident,
    pub fields: Vec<FieldInit>,
    /// `transform (new) -> old`: reads a state of the new version and gives one of the old.
    pub reverse: bool,
    pub span: Span,
}

impl Transform {
    /// The header's words of a reverse transform: `transform (new) -> old`.
    pub const REVERSE_HEADER: (&'static str, &'static str) = ("new", "old");

    /// Whether a header `transform (param) -> result` declares the reverse transform.
    pub fn is_reverse_header(param: &str, result: &str) -> bool {
        (param, result) == Self::REVERSE_HEADER
    }

    /// `transform` or `reverse transform`, for messages.
    pub fn what(&self) -> &'static str {
        if self.reverse {
            "the reverse transform"
        } else {
            "the transform"
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    /// Runs on upgraded nodes and answers callers of the old version.
    Past,
    /// Runs on old nodes and answers callers of the new version.
    Future,
}

impl RuleKind {
    pub fn keyword(self) -> &'static str {
        match self {
            RuleKind::Past => "past",
            RuleKind::Future => "future",
        }
    }
}

/// `past Service { rule* }` or `future Service { rule* }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleBlock {
    pub kind: RuleKind,
    pub service: Ident,
    pub rules: Vec<Rule>,
    pub span: Span,
}

/// `method(params) = body`
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Warning names given in `#[allow(...)]` before the rule.
    pub allow: Vec<Ident>,
    /// Record field names given in `#[differs(...)]` before the rule: its answer may differ
    /// from the caller's model's in these fields only (`verify` compares the rest).
    pub differs: Vec<Ident>,
    pub method: Ident,
    pub params: Vec<Ident>,
    pub body: Expr,
    pub span: Span,
}

impl Rule {
    /// Whether the rule only passes its call on to the other version's `target` (its method's
    /// name there), `m(a, b) = call m(a, b)`, rather than converting values.
    pub fn forwards(&self, target: &str) -> bool {
        match &self.body.kind {
            ExprKind::Delegate { method, args } => {
                method.name == target
                    && args.len() == self.params.len()
                    && args
                        .iter()
                        .zip(&self.params)
                        .all(|(a, p)| matches!(&a.kind, ExprKind::Var(v) if v.name == p.name))
            }
            _ => false,
        }
    }
}

/// `schedule { entry* }`
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub entries: Vec<SchedEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchedEntry {
    pub key: Ident,
    pub value: SchedValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchedValue {
    pub kind: SchedValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SchedValueKind {
    Int(u64),
    /// A duration in milliseconds.
    Duration(u64),
    Ident(String),
    Str(String),
    /// `key { entry* }`
    Block(Vec<SchedEntry>),
    /// `1 then pause`
    Then(Box<SchedValue>, Ident),
    /// `"02:00" .. "04:00"`
    Range(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldInit {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// The expression's id, unique within its spec (given by [`crate::spans::number_exprs`]
    /// once the spec is whole): what later stages key facts about the expression by.
    pub id: ExprId,
}

/// The id of an expression within its spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

/// The expressions directly inside an expression of kind `$kind`, in the order of the AST's
/// fields, by shared or (with `mut`) mutable reference: one list for [`Expr::children`] and
/// [`Expr::children_mut`], so the two cannot disagree.
macro_rules! children {
    ($kind:expr, $iter:ident $(, $m:tt)?) => {
        match $kind {
            ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Disallow(_) => Vec::new(),
            ExprKind::Variant { payload, .. } => payload.$iter().map(|p| &$($m)? **p).collect(),
            ExprKind::Field(inner, _) | ExprKind::Unary(_, inner) => vec![inner],
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => vec![a, b],
            ExprKind::Builtin { args, .. }
            | ExprKind::Delegate { args, .. }
            | ExprKind::Tuple(args)
            | ExprKind::List(args) => args.$iter().collect(),
            ExprKind::Map(entries) => entries.$iter().flat_map(|(k, v)| [k, v]).collect(),
            ExprKind::Record { fields, .. } => fields.$iter().map(|f| &$($m)? f.value).collect(),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => vec![cond, then, otherwise],
            ExprKind::Match { scrutinee, arms } => std::iter::once(&$($m)? **scrutinee)
                .chain(arms.$iter().map(|a| &$($m)? a.body))
                .collect(),
            ExprKind::Let { value, body, .. } => vec![value, body],
            ExprKind::Closure { body, .. } => vec![body],
            ExprKind::Quant { domain, body, .. } => vec![domain, body],
        }
    };
}

impl Expr {
    /// The expressions directly inside this one, in the order of the AST's fields (a match's
    /// scrutinee, then its arms' bodies; patterns are not expressions).
    pub fn children(&self) -> Vec<&Expr> {
        children!(&self.kind, iter)
    }

    /// [`Expr::children`], mutable.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        children!(&mut self.kind, iter_mut, mut)
    }
}

impl ExprId {
    /// The id of an expression not yet numbered (built outside a spec): no fact is keyed by it.
    pub const NONE: ExprId = ExprId(u32::MAX);
}

impl Default for ExprId {
    fn default() -> Self {
        ExprId::NONE
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Int(u64),
    Float(f64),
    Str(String),
    Bool(bool),
    None,
    Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    /// How tightly the operator binds, as the grammar has it: `||` loosest (1), then `&&`,
    /// comparisons of equality, of order, `+ -`, and `* / %` tightest (6). Operators of one
    /// level chain left-deep.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Forall,
    Exists,
}

impl Quantifier {
    pub fn keyword(self) -> &'static str {
        match self {
            Quantifier::Forall => "forall",
            Quantifier::Exists => "exists",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Lit),
    /// A plain name: a variable or a parameter.
    Var(Ident),
    /// `Enum::Variant` or `Enum::Variant(payload)`, optionally qualified `v1::Enum::Variant`.
    Variant {
        path: Vec<Ident>,
        payload: Option<Box<Expr>>,
    },
    /// `e.field` or `e.0` on tuples.
    Field(Box<Expr>, Ident),
    /// `e[k]` on maps and lists.
    Index(Box<Expr>, Box<Expr>),
    /// A built-in function: `keys(m)`, or `m.keys()` written as a method.
    Builtin {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `call method(args)`: the delegate call to the node's own object.
    Delegate {
        method: Ident,
        args: Vec<Expr>,
    },
    /// `disallow "reason"`
    Disallow(String),
    /// `Item { value: v }`, optionally qualified `v2::Item { ... }`.
    Record {
        path: Vec<Ident>,
        fields: Vec<FieldInit>,
    },
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    /// `{k: v, ...}`; `{}` is the empty map. Its type comes from the entries or, for `{}`,
    /// from the type expected where it is written.
    Map(Vec<(Expr, Expr)>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<Arm>,
    },
    Let {
        name: Ident,
        value: Box<Expr>,
        body: Box<Expr>,
    },
    Closure {
        params: Vec<Ident>,
        body: Box<Expr>,
    },
    Quant {
        kind: Quantifier,
        var: Ident,
        domain: Box<Expr>,
        body: Box<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    pub pattern: Pattern,
    pub body: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub kind: PatternKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatternKind {
    Wildcard,
    None,
    Some(Box<Pattern>),
    Lit(Lit),
    /// `-5`: a negative integer literal (literals themselves are unsigned).
    NegInt(u64),
    /// `Circle(p)`, `Shape::Circle(p)`, or a lone name: a payload-less variant if the
    /// scrutinee's enum has one of that name, else a binding.
    Variant {
        path: Vec<Ident>,
        payload: Option<Box<Pattern>>,
    },
}
