//! The registry of diagnostic codes. A code, once published, is never reused for another
//! meaning: retire it instead. Every code has a bad spec under `specs/ui/` and an `explain` text.

use super::Severity;
use serde::{Serialize, Serializer};

/// A stable diagnostic code, shown as `U0001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub u16);

impl Code {
    pub fn info(self) -> Option<&'static CodeInfo> {
        ALL.iter().find(|c| c.code == self)
    }

    pub fn severity(self) -> Severity {
        self.info().map_or(Severity::Error, |i| i.severity)
    }

    /// Parses `U0007` (case-insensitive, leading zeros optional).
    pub fn parse(text: &str) -> Option<Code> {
        let digits = text.strip_prefix('U').or_else(|| text.strip_prefix('u'))?;
        digits.parse::<u16>().ok().map(Code)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "U{:04}", self.0)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What the registry knows of a code.
#[derive(Debug)]
pub struct CodeInfo {
    pub code: Code,
    /// A snake_case name, also the file name stem of its UI test.
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

impl CodeInfo {
    /// Whether a rule's `#[allow(...)]` may name this code: the checker's warnings (those of
    /// `verify`, from U0100 on, are found after `check` and are not reached by it), and
    /// two of `verify`'s, which say a rule is deliberately lossy: `verify_simulation_answer`
    /// (its answers are not compared with the model's; its states still are) and
    /// `verify_simulation_sequence` (it loses what a later call would show: it is checked
    /// alone, and left out of the sequences).
    pub fn allowable(&self) -> bool {
        (self.severity == Severity::Warning && self.code.0 < 100)
            || self.code == VERIFY_SIMULATION_ANSWER
            || self.code == VERIFY_SIMULATION_SEQUENCE
    }
}

macro_rules! codes {
    ($($konst:ident = $num:literal, $sev:ident, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: Code = Code($num);)*
        /// Every code, in order.
        pub static ALL: &[CodeInfo] = &[
            $(CodeInfo { code: Code($num), name: $name, severity: Severity::$sev, summary: $summary },)*
        ];
    };
}

codes! {
    // parsing (lang)
    SYNTAX = 1, Error, "syntax", "the text does not follow the grammar";
    BAD_ESCAPE = 2, Error, "bad_escape", "a string literal has an unknown escape";
    INT_OVERFLOW = 3, Error, "int_overflow", "an integer literal does not fit in 64 bits";
    BAD_DURATION_UNIT = 4, Error, "bad_duration_unit", "a duration has an unknown unit";
    VERSIONS_NOT_ASCENDING = 5, Error, "versions_not_ascending", "an upgrade goes to a version that is not newer";
    VERSIONS_NOT_ADJACENT = 6, Error, "versions_not_adjacent", "an upgrade skips versions";
    NESTING_TOO_DEEP = 7, Error, "nesting_too_deep", "brackets or operators nest deeper than the compiler follows";
    RESERVED_NAME = 8, Error, "reserved_name", "a name begins with `__up_`, which generated code reserves";
    // structure
    MISSING_VERSION = 10, Error, "missing_version", "a version named in the header has no block";
    STRAY_VERSION = 11, Error, "stray_version", "a version block is not one of the header's versions";
    DUPLICATE_ITEM = 12, Error, "duplicate_item", "a section is given twice";
    DUPLICATE_TYPE = 13, Error, "duplicate_type", "a record or enum is defined twice in one version";
    DUPLICATE_FIELD = 14, Error, "duplicate_field", "a field, parameter or variant is named twice";
    DUPLICATE_METHOD = 15, Error, "duplicate_method", "a service or method is defined twice";
    DUPLICATE_RULE = 16, Error, "duplicate_rule", "two rules simulate the same method";
    UNKNOWN_TYPE = 17, Error, "unknown_type", "a type name is not defined";
    TYPE_ARITY = 18, Error, "type_arity", "a type has the wrong number of type arguments";
    BAD_MAP_KEY = 19, Error, "bad_map_key", "a map or set has a key type that cannot be a key";
    INFINITE_RECORD = 20, Error, "infinite_record", "a record contains itself with no option, list or map between";
    UNKNOWN_PROTOCOL = 21, Error, "unknown_protocol", "a protocol or protocol option is not known";
    MISSING_STATE = 22, Error, "missing_state", "only one version declares persistent state";
    MISSING_TRANSFORM = 23, Error, "missing_transform", "the state changed but no transform converts it";
    MISSING_INVARIANT = 24, Warning, "missing_invariant", "a transform has no invariant to be checked against";
    // services and rules
    UNKNOWN_SERVICE = 30, Error, "unknown_service", "a rule block names a service the interface does not have";
    UNKNOWN_METHOD = 31, Error, "unknown_method", "a rule names a method the simulated service does not have";
    RULE_ARITY = 32, Error, "rule_arity", "a rule binds a different number of parameters than its method has";
    MISSING_PAST_RULE = 33, Error, "missing_past_rule", "an old method is not answered on upgraded nodes";
    MISSING_FUTURE_RULE = 34, Error, "missing_future_rule", "a new method is not answered on old nodes";
    UNKNOWN_DELEGATE = 35, Error, "unknown_delegate", "`call` names a method the reachable interface does not have";
    DELEGATE_ARITY = 36, Error, "delegate_arity", "`call` passes the wrong number of arguments";
    CALL_OUTSIDE_RULE = 37, Error, "call_outside_rule", "`call` is used outside a past or future rule";
    DISALLOW_OUTSIDE_RULE = 38, Error, "disallow_outside_rule", "`disallow` is used outside a past or future rule";
    UNNEEDED_RULE = 40, Warning, "unneeded_rule", "a rule simulates a method that did not change";
    DISALLOWED_METHOD = 41, Warning, "disallowed_method", "a method is always refused to callers of the other version";
    UNUSED_RULE_PARAMETER = 42, Warning, "unused_rule_parameter", "a past or future rule never reads one of its parameters";
    UNKNOWN_ALLOW = 43, Error, "unknown_allow", "a rule's `#[allow(...)]` names something that is not a warning";
    // helper functions
    RECURSIVE_FUNCTION = 44, Error, "recursive_function", "a helper function calls itself, directly or through others";
    FUNCTION_NAME_TAKEN = 45, Error, "function_name_taken", "a helper function takes a built-in's name or another helper's";
    // renames
    BAD_RENAME = 46, Error, "bad_rename", "a `renamed from` names nothing of the old version, or something already taken";
    // expressions and types
    TYPE_MISMATCH = 50, Error, "type_mismatch", "an expression has the wrong type";
    UNKNOWN_VARIABLE = 51, Error, "unknown_variable", "a name is not bound";
    UNKNOWN_FIELD = 52, Error, "unknown_field", "a record has no field of that name";
    NO_FIELDS = 53, Error, "no_fields", "a field is read from a value that has no fields";
    MISSING_FIELD = 54, Error, "missing_field", "a record literal or transform leaves a field out";
    UNKNOWN_FUNCTION = 55, Error, "unknown_function", "a function is not a built-in";
    FUNCTION_ARITY = 56, Error, "function_arity", "a built-in gets the wrong number of arguments";
    IMPLICIT_CONVERSION = 57, Error, "implicit_conversion", "a changed record is used where the other version's is expected";
    AMBIGUOUS_NAME = 58, Error, "ambiguous_name", "a type name means different things in the two versions";
    NOT_A_CLOSURE = 59, Error, "not_a_closure", "a built-in needs a closure of another shape";
    NON_EXHAUSTIVE_MATCH = 60, Error, "non_exhaustive_match", "a match does not cover every case";
    UNKNOWN_VARIANT = 61, Error, "unknown_variant", "an enum has no variant of that name";
    NOT_INDEXABLE = 62, Error, "not_indexable", "a value is indexed that is not a map or list";
    BAD_OPERANDS = 63, Error, "bad_operands", "an operator is applied to values it does not take";
    UNREACHABLE_ARM = 64, Warning, "unreachable_arm", "a match arm can never be chosen";
    INVARIANT_NOT_BOOL = 65, Error, "invariant_not_bool", "an invariant clause is not a boolean";
    LITERAL_OUT_OF_RANGE = 66, Error, "literal_out_of_range", "a number literal does not fit its type";
    UNKNOWN_STATE_FIELD = 67, Error, "unknown_state_field", "a transform assigns a field the new state does not have";
    UNUSED_STATE_FIELD = 68, Warning, "unused_state_field", "the transform never reads a field of the old state";
    LOSSY_CONVERSION = 69, Warning, "lossy_conversion", "a field of a record is dropped by the new version";
    UNUSED_VARIABLE = 70, Warning, "unused_variable", "a `let` or quantifier binding is never used";
    PAYLOAD_MISMATCH = 71, Error, "payload_mismatch", "an enum variant is used with the wrong payload";
    REVERSE_UNREAD_FIELD = 72, Warning, "reverse_unread_field", "the reverse transform never reads a field of the new state, so a rollback drops its writes";
    WILDCARD_SWALLOWS_VARIANTS = 73, Warning, "wildcard_swallows_variants", "a catch-all match arm takes enum variants that only one version has";
    MODEL_UNKNOWN_STATE_FIELD = 75, Error, "model_unknown_state_field", "a method model assigns a field its version's state does not have";
    MODEL_WITHOUT_RESULT = 76, Error, "model_without_result", "a method model ends without the answer its method returns";
    NULL_LITERAL = 74, Error, "null_literal", "`null` is written, which the language does not have";
    // schedule
    UNKNOWN_SCHEDULE_KEY = 80, Error, "unknown_schedule_key", "a schedule setting is not known";
    BAD_SCHEDULE_VALUE = 81, Error, "bad_schedule_value", "a schedule setting has a value of the wrong kind";
    NONPOSITIVE_SCHEDULE = 82, Error, "nonpositive_schedule", "a schedule size or duration is zero";
    UNKNOWN_ORDER = 83, Error, "unknown_order", "a schedule order is not known";
    BAD_WINDOW = 84, Error, "bad_window", "a schedule time window is malformed";
    NO_STRATEGY = 85, Error, "no_strategy", "a schedule has no rollout strategy, or more than one";
    UNKNOWN_CANARY_ACTION = 86, Error, "unknown_canary_action", "a canary is followed by an unknown action";
    MISSING_SCHEDULE = 87, Warning, "missing_schedule", "the spec has no schedule, so defaults apply";
    TIMEOUT_SHORTER_THAN_HEALTH = 88, Warning, "timeout_shorter_than_health", "a schedule's `timeout` is shorter than its `healthy_for`";
    WINDOW_SHORTER_THAN_UPGRADE = 89, Warning, "window_shorter_than_upgrade", "a schedule's time window is shorter than one node's `healthy_for`";
    // chains of specs
    CHAIN_GAP = 90, Error, "chain_gap", "a chain of specs skips a version";
    CHAIN_MISMATCH = 91, Error, "chain_mismatch", "two specs of a chain disagree on a version they share";
    CHAIN_NAME = 92, Error, "chain_name", "specs of one chain upgrade different systems";
    CHAIN_DUPLICATE = 93, Error, "chain_duplicate", "two specs of a chain bridge the same versions";
    // verification (`upstartc verify`)
    VERIFY_INVARIANT_BROKEN = 100, Error, "verify_invariant_broken", "the transform does not establish the invariant on some old state";
    VERIFY_RULE_FAILED = 101, Error, "verify_rule_failed", "a past or future rule fails at run time or returns a value of the wrong type";
    VERIFY_ROUND_TRIP = 102, Warning, "verify_round_trip", "a result taken old -> new -> old through the rules comes back changed";
    VERIFY_SIMULATION_ANSWER = 104, Error, "verify_simulation_answer", "a rule answers otherwise than the model of the method it stands in for";
    VERIFY_SIMULATION_STATE = 105, Error, "verify_simulation_state", "after a call through a rule the old and new states are no longer related by the invariant";
    VERIFY_SIMULATION_SEQUENCE = 106, Error, "verify_simulation_sequence", "a sequence of calls through the rules leads to answers or states the models do not";
    VERIFY_MODEL_FAILED = 107, Error, "verify_model_failed", "a method model fails at run time";
    VERIFY_RARELY_WELLFORMED = 108, Warning, "verify_rarely_wellformed", "almost no generated state of a version is well-formed by its `where` clauses, so few cases are checked";
    VERIFY_WELLFORMED_LOST = 109, Error, "verify_wellformed_lost", "the transform, a method model or a rule leaves a state that is not well-formed by its version's `where` clauses";
    DIFFERS_UNKNOWN_FIELD = 110, Error, "differs_unknown_field", "a rule's `#[differs(...)]` names a field no record of the method's answer has";
    STATE_STORAGE_CHANGED = 140, Error, "state_storage_changed", "the versions store their state in different kinds (json, dir, sqlite)";
    VERIFY_REVERSE_BROKEN = 103, Error, "verify_reverse_broken", "the reverse transform fails, or does not relate its old state to the new one by the invariant";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for info in ALL {
            assert!(codes.insert(info.code), "code {} reused", info.code);
            assert!(names.insert(info.name), "name {} reused", info.name);
        }
        assert!(ALL.len() >= 30);
    }

    #[test]
    fn codes_print_and_parse() {
        assert_eq!(SYNTAX.to_string(), "U0001");
        assert_eq!(Code::parse("U0057"), Some(IMPLICIT_CONVERSION));
        assert_eq!(Code::parse("u57"), Some(IMPLICIT_CONVERSION));
        assert_eq!(Code::parse("X1"), None);
    }
}
