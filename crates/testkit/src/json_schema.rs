//! A small JSON Schema validator for the subset that utoipa emits (OpenAPI 3.1 / JSON Schema
//! 2020-12): `$ref` into `#/components/schemas`, `type` (one or a list), `enum`, `properties`,
//! `required`, `additionalProperties`, `items`, `allOf`/`oneOf`/`anyOf`, numeric and length
//! bounds, and `pattern` for anchored patterns built from character classes and counted
//! repeats.
//!
//! It refuses to guess: a keyword or pattern syntax it does not know is a panic, not a pass,
//! so a schema can never be waved through because the checker did not understand it.
//! `format` is an annotation here, as in JSON Schema 2020-12 by default.

use serde_json::Value;
use std::collections::BTreeMap;

const REF_PREFIX: &str = "#/components/schemas/";

/// Named schemas, as an OpenAPI document's `components.schemas` holds them.
#[derive(Debug, Default)]
pub struct Registry {
    schemas: BTreeMap<String, Value>,
}

impl Registry {
    /// The schemas of an OpenAPI document's `components.schemas`.
    pub fn from_document(document: &Value) -> Self {
        let mut registry = Self::default();
        if let Some(schemas) = document["components"]["schemas"].as_object() {
            for (name, schema) in schemas {
                registry.insert(name.clone(), schema.clone());
            }
        }
        registry
    }

    /// Registers `schema` under `name`; registering a different schema under a taken name is a
    /// bug of the caller.
    pub fn insert(&mut self, name: String, schema: Value) {
        if let Some(existing) = self.schemas.get(&name) {
            assert_eq!(existing, &schema, "two different schemas are named {name}");
        }
        self.schemas.insert(name, schema);
    }

    /// The names registered.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// Every `$ref` target, in the registered schemas and in `extra`, that is not registered.
    pub fn dangling_refs(&self, extra: &[&Value]) -> Vec<String> {
        let mut refs = Vec::new();
        for schema in self.schemas.values().chain(extra.iter().copied()) {
            collect_refs(schema, &mut refs);
        }
        refs.retain(|r| self.resolve(r).is_none());
        refs.sort();
        refs.dedup();
        refs
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        self.schemas.get(reference.strip_prefix(REF_PREFIX)?)
    }

    /// Checks `value` against `schema`; on failure, every reason with the JSON path.
    pub fn validate(&self, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{path}: no value is allowed")),
            Value::Object(map) => map,
            other => panic!("{path}: a schema must be an object or a boolean, got {other}"),
        };
        for (keyword, arg) in schema {
            match keyword.as_str() {
                "$ref" => {
                    let reference = arg.as_str().expect("$ref is a string");
                    let target = self
                        .resolve(reference)
                        .unwrap_or_else(|| panic!("{path}: unresolved $ref {reference}"));
                    self.check(target, value, path, errors);
                }
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().map(|t| t.as_str().expect("type")).collect(),
                        other => panic!("{path}: bad type {other}"),
                    };
                    if !types.iter().any(|t| has_type(value, t)) {
                        errors
                            .push(format!("{path}: expected {}, got {value}", types.join(" or ")));
                    }
                }
                "enum" => {
                    if !arg.as_array().expect("enum is an array").contains(value) {
                        errors.push(format!("{path}: {value} is not one of {arg}"));
                    }
                }
                "const" => {
                    if arg != value {
                        errors.push(format!("{path}: expected {arg}, got {value}"));
                    }
                }
                "properties" => {
                    if let Value::Object(object) = value {
                        for (name, sub) in arg.as_object().expect("properties is an object") {
                            if let Some(field) = object.get(name) {
                                self.check(sub, field, &format!("{path}.{name}"), errors);
                            }
                        }
                    }
                }
                "required" => {
                    if let Value::Object(object) = value {
                        for name in arg.as_array().expect("required is an array") {
                            let name = name.as_str().expect("required names are strings");
                            if !object.contains_key(name) {
                                errors.push(format!("{path}: missing required property {name}"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Value::Object(object) = value {
                        let known = schema.get("properties").and_then(Value::as_object);
                        for (name, field) in object {
                            if !known.is_some_and(|k| k.contains_key(name)) {
                                self.check(arg, field, &format!("{path}.{name}"), errors);
                            }
                        }
                    }
                }
                "items" => {
                    if let Value::Array(items) = value {
                        for (i, item) in items.iter().enumerate() {
                            self.check(arg, item, &format!("{path}[{i}]"), errors);
                        }
                    }
                }
                "allOf" => {
                    for sub in arg.as_array().expect("allOf is an array") {
                        self.check(sub, value, path, errors);
                    }
                }
                "oneOf" | "anyOf" => {
                    let results: Vec<Vec<String>> = arg
                        .as_array()
                        .expect("oneOf/anyOf is an array")
                        .iter()
                        .map(|sub| {
                            let mut sub_errors = Vec::new();
                            self.check(sub, value, path, &mut sub_errors);
                            sub_errors
                        })
                        .collect();
                    let matched = results.iter().filter(|e| e.is_empty()).count();
                    if matched == 0 {
                        // The closest alternative explains best what is wrong (for a tagged
                        // enum, the variant whose tag matched).
                        let closest = results.iter().min_by_key(|e| e.len()).cloned();
                        errors.push(format!("{path}: matches none of the {keyword} alternatives"));
                        errors.extend(closest.unwrap_or_default());
                    } else if keyword == "oneOf" && matched > 1 {
                        errors.push(format!("{path}: matches {matched} oneOf alternatives"));
                    }
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if let Some(number) = value.as_f64() {
                        let bound = arg.as_f64().expect("numeric bound");
                        let ok = match keyword.as_str() {
                            "minimum" => number >= bound,
                            "maximum" => number <= bound,
                            "exclusiveMinimum" => number > bound,
                            _ => number < bound,
                        };
                        if !ok {
                            errors.push(format!("{path}: {number} violates {keyword} {bound}"));
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let Value::String(text) = value {
                        // JSON Schema counts characters (code points), not bytes.
                        let length = text.chars().count();
                        let bound = arg.as_u64().expect("length bound");
                        let bound = usize::try_from(bound).expect("bound fits usize");
                        let ok =
                            if keyword == "minLength" { length >= bound } else { length <= bound };
                        if !ok {
                            errors.push(format!(
                                "{path}: length {length} violates {keyword} {bound}"
                            ));
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let Value::Array(items) = value {
                        let bound = arg.as_u64().expect("item bound");
                        let bound = usize::try_from(bound).expect("bound fits usize");
                        let ok = if keyword == "minItems" {
                            items.len() >= bound
                        } else {
                            items.len() <= bound
                        };
                        if !ok {
                            errors.push(format!("{path}: {} items violate {keyword}", items.len()));
                        }
                    }
                }
                "uniqueItems" => {
                    if let (Value::Array(items), Some(true)) = (value, arg.as_bool()) {
                        for (i, item) in items.iter().enumerate() {
                            if items[..i].contains(item) {
                                errors.push(format!("{path}[{i}]: repeats an earlier item"));
                            }
                        }
                    }
                }
                "pattern" => {
                    if let Value::String(text) = value {
                        let pattern = arg.as_str().expect("pattern is a string");
                        if !Pattern::parse(pattern).matches(text) {
                            errors.push(format!("{path}: {text:?} does not match {pattern}"));
                        }
                    }
                }
                // Annotations: they describe, they do not constrain.
                "description" | "title" | "examples" | "example" | "readOnly" | "writeOnly"
                | "deprecated" | "default" | "format" | "discriminator" => {}
                other => panic!("{path}: the validator does not know the keyword {other:?}"),
            }
        }
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown JSON Schema type {other:?}"),
    }
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    // Examples are data, not schemas.
                    ("examples" | "example" | "default", _) => {}
                    _ => collect_refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// An anchored pattern of single-character atoms (literals and classes), each repeated a
/// counted number of times: `^[0-9]{8}/[0-9]{10}$`, `^[^\x00-\x1F]*$`. Groups, alternation and
/// `.` are refused, since nothing here uses them.
#[derive(Debug)]
pub struct Pattern {
    pieces: Vec<(Atom, usize, usize)>,
}

#[derive(Debug)]
enum Atom {
    Char(char),
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(expected) => c == *expected,
            Atom::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

impl Pattern {
    /// Parses `pattern`, panicking on anything outside the subset.
    pub fn parse(pattern: &str) -> Pattern {
        let inner = pattern
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .unwrap_or_else(|| panic!("pattern {pattern:?} must be anchored with ^ and $"));
        let mut chars = inner.chars().peekable();
        let mut pieces = Vec::new();
        while let Some(c) = chars.next() {
            let atom = match c {
                '[' => {
                    let negated = chars.next_if_eq(&'^').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        let lo = match chars.next() {
                            Some(']') => break,
                            Some('\\') => escaped(&mut chars, pattern),
                            Some(c) => c,
                            None => panic!("pattern {pattern:?}: unclosed class"),
                        };
                        let hi = if chars.peek() == Some(&'-') {
                            chars.next();
                            match chars.next() {
                                Some(']') => {
                                    // A trailing `-` is literal.
                                    ranges.push((lo, lo));
                                    ranges.push(('-', '-'));
                                    break;
                                }
                                Some('\\') => escaped(&mut chars, pattern),
                                Some(c) => c,
                                None => panic!("pattern {pattern:?}: unclosed class"),
                            }
                        } else {
                            lo
                        };
                        assert!(lo <= hi, "pattern {pattern:?}: empty range {lo}-{hi}");
                        ranges.push((lo, hi));
                    }
                    Atom::Class { negated, ranges }
                }
                '\\' => Atom::Char(escaped(&mut chars, pattern)),
                '.' | '(' | ')' | '|' | '{' | '}' | '*' | '+' | '?' | '^' | '$' => {
                    panic!("pattern {pattern:?}: {c:?} is outside the supported subset")
                }
                c => Atom::Char(c),
            };
            let (min, max) = match chars.peek() {
                Some('*') => (0, usize::MAX),
                Some('+') => (1, usize::MAX),
                Some('?') => (0, 1),
                Some('{') => {
                    chars.next();
                    let body: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let number = |s: &str| -> usize {
                        s.parse().unwrap_or_else(|_| panic!("pattern {pattern:?}: bad {{{body}}}"))
                    };
                    let bounds = match body.split_once(',') {
                        None => (number(&body), number(&body)),
                        Some((lo, "")) => (number(lo), usize::MAX),
                        Some((lo, hi)) => (number(lo), number(hi)),
                    };
                    pieces.push((atom, bounds.0, bounds.1));
                    continue;
                }
                _ => (1, 1),
            };
            if (min, max) != (1, 1) {
                chars.next();
            }
            pieces.push((atom, min, max));
        }
        Pattern { pieces }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        self.match_from(0, &chars)
    }

    fn match_from(&self, piece: usize, rest: &[char]) -> bool {
        let Some((atom, min, max)) = self.pieces.get(piece) else {
            return rest.is_empty();
        };
        let available = rest.iter().take_while(|c| atom.matches(**c)).count().min(*max);
        (*min..=available).rev().any(|n| self.match_from(piece + 1, &rest[n..]))
    }
}

fn escaped(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, pattern: &str) -> char {
    match chars.next() {
        Some('x') => {
            let hex: String = chars.by_ref().take(2).collect();
            let code = u32::from_str_radix(&hex, 16)
                .unwrap_or_else(|_| panic!("pattern {pattern:?}: bad \\x{hex}"));
            char::from_u32(code).expect("a \\xHH escape is a character")
        }
        Some('u') => {
            let hex: String = chars.by_ref().take(4).collect();
            let code = u32::from_str_radix(&hex, 16)
                .unwrap_or_else(|_| panic!("pattern {pattern:?}: bad \\u{hex}"));
            char::from_u32(code).unwrap_or_else(|| panic!("pattern {pattern:?}: \\u{hex}"))
        }
        Some(c) if "\\/.-[]{}()*+?^$|".contains(c) => c,
        other => panic!("pattern {pattern:?}: escape \\{other:?} is outside the supported subset"),
    }
}

#[cfg(test)]
#[test]
fn patterns_match_what_they_should() {
    let bill_id = Pattern::parse("^[0-9]{8}/[0-9]{10}$");
    assert!(bill_id.matches("44010126/0000000042"));
    assert!(!bill_id.matches("4401012/0000000042"));
    assert!(!bill_id.matches("44010126/00000000420"));
    let ident = Pattern::parse("^[A-Za-z0-9._-]{1,32}$");
    assert!(ident.matches("city-central_hospital.1"));
    assert!(!ident.matches(""));
    assert!(!ident.matches("has space"));
    assert!(!ident.matches(&"x".repeat(33)));
    let text = Pattern::parse("^[^\\x00-\\x1F\\x7F-\\x9F]*$");
    assert!(text.matches("PAY-2026-001 医保"));
    assert!(text.matches(""));
    assert!(!text.matches("line\nbreak"));
    assert!(!text.matches("bell\u{85}"));
    let text = Pattern::parse("^[^\\x00-\\x1F\\u202A-\\u202E\\uFEFF]*$");
    assert!(text.matches("SSB-1 报销"));
    assert!(!text.matches("a\u{202E}b"));
    assert!(!text.matches("\u{FEFF}"));
}
