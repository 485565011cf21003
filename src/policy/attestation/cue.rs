//! A subset of CUE for attestation policies. No Rust implementation of CUE exists, so Signet
//! implements the part policy-controller's CUE policies use, with CUE's semantics, and refuses
//! everything else at load naming the construct (never a silent partial reading).
//!
//! policy-controller compiles the policy, compiles the Statement JSON, unifies the two and
//! validates the result. The subset:
//!
//! - a file of fields `label: value`, separated by newlines or commas, with `//` comments, an
//!   optional `package` clause, and `import "time"`;
//! - labels: identifiers or quoted strings; the shorthand `a: b: c: value`; a label repeated is
//!   unified (its constraints all apply);
//! - values: struct literals `{ … }` (open, as CUE's are: fields the policy does not name are
//!   free), concrete strings, numbers, `true`, `false`, `null`; the types `string`, `number`,
//!   `int`, `bool`; the unary constraints `<`, `<=`, `>`, `>=`, `!=`, `=~`, `!~` over a
//!   concrete value; `&` between them; references to fields with a concrete value in an
//!   enclosing struct (`before`); and `time.Parse(time.RFC3339, "…")`, which is the UTC time
//!   in RFC 3339 form (a string, as CUE's is, so bounds compare it as a string).
//!
//! Unification semantics kept from CUE: a field the Statement lacks is not an error (it is
//! added, as CUE adds it), unless the policy's own constraints on it conflict; kinds must agree
//! (`1` does not unify with `"1"`, an int with a float); bounds on strings compare bytes.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value as Json;

use super::Evaluation;

/// Deepest struct nesting accepted.
const MAX_DEPTH: usize = 32;

/// A compiled CUE policy: the top-level struct.
#[derive(Debug)]
pub(super) struct CuePolicy {
    root: Node,
}

/// The constraints on one field (or the root), merged across repetitions.
#[derive(Debug, Default)]
struct Node {
    /// Conjuncts that are not structs.
    constraints: Vec<Constraint>,
    /// Present when any conjunct is a struct: its fields.
    fields: Option<BTreeMap<String, Node>>,
}

#[derive(Debug, Clone)]
enum Constraint {
    Literal(Literal),
    Kind(Kind),
    Compare(Op, Literal),
    Matches {
        negated: bool,
        pattern: String,
        regex: Regex,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Number,
    Int,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Ne,
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Ne => "!=",
        }
    }
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Int => "int",
            Self::Bool => "bool",
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Literal(l) => write!(f, "{l}"),
            Self::Kind(k) => f.write_str(k.as_str()),
            Self::Compare(op, l) => write!(f, "{}{l}", op.as_str()),
            Self::Matches {
                negated, pattern, ..
            } => {
                write!(f, "{}{pattern:?}", if *negated { "!~" } else { "=~" })
            }
        }
    }
}

impl CuePolicy {
    /// Parse and check `text`; the error names the construct outside the subset.
    pub(super) fn compile(text: &str) -> Result<CuePolicy, String> {
        let tokens = lex(text)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            time_imported: false,
        };
        let file = parser.file()?;
        let root = resolve_struct(&file, &mut Vec::new(), 0)?;
        check_node(&root, "")?;
        Ok(CuePolicy { root })
    }

    /// Unify the policy with `statement` and validate the result.
    pub(super) fn evaluate(&self, statement: &Json) -> Evaluation {
        match unify(&self.root, Some(statement), "") {
            Ok(()) => Evaluation::Pass,
            Err(e) => Evaluation::Fail(e),
        }
    }
}

// ---- lexer ----

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number(String),
    Punct(&'static str),
    Newline,
}

const PUNCTS: &[&str] = &[
    "<=", ">=", "!=", "=~", "!~", "==", "...", "<", ">", ":", ",", "{", "}", "(", ")", "[", "]",
    "&", "|", ".", "!", "?", "=", "-", "+", "*", "/", "#", "@",
];

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            tokens.push(Token::Newline);
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            if text[i..].starts_with("\"\"\"") {
                return Err("multi-line strings (\"\"\") are outside Signet's CUE subset".into());
            }
            let (s, end) = string(text, i)?;
            tokens.push(Token::Str(s));
            i = end;
        } else if c == b'\'' || c == b'`' {
            return Err(format!(
                "{:?}-quoted literals are outside Signet's CUE subset",
                c as char
            ));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_')
            {
                i += 1;
            }
            tokens.push(Token::Number(text[start..i].to_string()));
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            tokens.push(Token::Ident(text[start..i].to_string()));
        } else if let Some(p) = PUNCTS.iter().find(|p| text[i..].starts_with(**p)) {
            tokens.push(Token::Punct(p));
            i += p.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character {ch:?} in the CUE policy"));
        }
    }
    Ok(tokens)
}

/// A double-quoted string starting at `start`: its value and the index after it.
fn string(text: &str, start: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + offset + 1)),
            '\n' => break,
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('u') => {
                    let hex: String = (0..4)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    out.push(code.ok_or_else(|| format!("bad escape \\u{hex} in a CUE string"))?);
                }
                Some('(') => {
                    return Err(
                        "string interpolation \\( … ) is outside Signet's CUE subset".into(),
                    );
                }
                other => {
                    return Err(format!(
                        "unsupported escape \\{} in a CUE string",
                        other.unwrap_or(' ')
                    ));
                }
            },
            c => out.push(c),
        }
    }
    Err("unterminated string in the CUE policy".into())
}

// ---- parser ----

/// A field as written, before references are resolved.
#[derive(Debug)]
struct Field {
    label: String,
    value: Expr,
}

#[derive(Debug)]
enum Expr {
    Struct(Vec<Field>),
    Literal(Literal),
    Kind(Kind),
    Reference(String),
    Compare(Op, Box<Expr>),
    Matches(bool, Box<Expr>),
    And(Vec<Expr>),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    time_imported: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(Token::Newline | Token::Punct(","))) {
            self.at += 1;
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Punct(p)) if p == punct => Ok(()),
            other => Err(format!(
                "expected {punct:?}, found {}",
                describe(other.as_ref())
            )),
        }
    }

    fn file(&mut self) -> Result<Vec<Field>, String> {
        self.skip_separators();
        if self.peek() == Some(&Token::Ident("package".into())) {
            self.at += 1;
            match self.next() {
                Some(Token::Ident(_)) => {}
                other => {
                    return Err(format!(
                        "expected a package name, found {}",
                        describe(other.as_ref())
                    ));
                }
            }
        }
        loop {
            self.skip_separators();
            if self.peek() != Some(&Token::Ident("import".into())) {
                break;
            }
            self.at += 1;
            match self.next() {
                Some(Token::Str(path)) if path == "time" => self.time_imported = true,
                Some(Token::Str(path)) => {
                    return Err(format!(
                        "import {path:?}: only the package \"time\" (time.Parse) is inside Signet's CUE subset"
                    ));
                }
                other => {
                    return Err(format!(
                        "import: expected a quoted package, found {}",
                        describe(other.as_ref())
                    ));
                }
            }
        }
        let fields = self.fields(0)?;
        match self.peek() {
            None => Ok(fields),
            other => Err(format!("unexpected {} at the top level", describe(other))),
        }
    }

    /// Fields until `}` or the end.
    fn fields(&mut self, depth: usize) -> Result<Vec<Field>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("structs nested deeper than {MAX_DEPTH}"));
        }
        let mut fields = Vec::new();
        loop {
            self.skip_separators();
            match self.peek() {
                None | Some(Token::Punct("}")) => return Ok(fields),
                _ => fields.push(self.field(depth)?),
            }
        }
    }

    fn field(&mut self, depth: usize) -> Result<Field, String> {
        let label = self.label()?;
        match self.next() {
            Some(Token::Punct(":")) => {}
            Some(Token::Punct(p @ ("?" | "!"))) => {
                let kind = if p == "?" { "optional" } else { "required" };
                return Err(format!(
                    "{kind} field markers ({label}{p}:) are outside Signet's CUE subset"
                ));
            }
            Some(Token::Punct("=")) => {
                return Err(format!(
                    "aliases and let clauses ({label} =) are outside Signet's CUE subset"
                ));
            }
            other => {
                return Err(format!(
                    "after the label {label:?}: expected \":\", found {}",
                    describe(other.as_ref())
                ));
            }
        }
        // The shorthand `a: b: c`: another label followed by `:`.
        let shorthand = matches!(
            (self.tokens.get(self.at), self.tokens.get(self.at + 1)),
            (
                Some(Token::Ident(_) | Token::Str(_)),
                Some(Token::Punct(":"))
            )
        );
        let value = if shorthand {
            if depth + 1 > MAX_DEPTH {
                return Err(format!("structs nested deeper than {MAX_DEPTH}"));
            }
            Expr::Struct(vec![self.field(depth + 1)?])
        } else {
            self.expr(depth)?
        };
        Ok(Field { label, value })
    }

    fn label(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(s),
            Some(Token::Ident(s)) if s.starts_with('_') && s != "_" || s.starts_with('$') => Err(
                format!("hidden fields ({s}) are outside Signet's CUE subset"),
            ),
            Some(Token::Ident(s)) if is_keyword(&s) => {
                Err(format!("{s:?} is outside Signet's CUE subset"))
            }
            Some(Token::Ident(s)) => Ok(s),
            Some(Token::Punct("#")) => {
                Err("definitions (#Name) are outside Signet's CUE subset".into())
            }
            Some(Token::Punct("[")) => {
                Err("pattern constraints ([string]: …) are outside Signet's CUE subset".into())
            }
            Some(Token::Punct("(")) => {
                Err("dynamic fields ((expr): …) are outside Signet's CUE subset".into())
            }
            Some(Token::Punct("...")) => {
                Err("\"...\" is outside Signet's CUE subset (CUE structs are open already)".into())
            }
            other => Err(format!(
                "expected a field label, found {}",
                describe(other.as_ref())
            )),
        }
    }

    /// `unary ('&' unary)*`.
    fn expr(&mut self, depth: usize) -> Result<Expr, String> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek() == Some(&Token::Punct("&")) {
            self.at += 1;
            parts.push(self.unary(depth)?);
        }
        if self.peek() == Some(&Token::Punct("|")) {
            return Err("disjunctions (a | b) are outside Signet's CUE subset".into());
        }
        if let Some(Token::Punct(p @ ("+" | "-" | "*" | "/" | "=="))) = self.peek() {
            return Err(format!("the operator {p:?} is outside Signet's CUE subset"));
        }
        Ok(match parts.len() {
            1 => parts.remove(0),
            _ => Expr::And(parts),
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Punct("{")) => {
                let fields = self.fields(depth + 1)?;
                self.expect("}")?;
                Ok(Expr::Struct(fields))
            }
            Some(Token::Punct(p @ ("<" | "<=" | ">" | ">=" | "!="))) => {
                let op = match p {
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    _ => Op::Ne,
                };
                Ok(Expr::Compare(op, Box::new(self.operand()?)))
            }
            Some(Token::Punct(p @ ("=~" | "!~"))) => {
                Ok(Expr::Matches(p == "!~", Box::new(self.operand()?)))
            }
            Some(Token::Punct("[")) => Err("lists are outside Signet's CUE subset".into()),
            Some(Token::Punct("-")) => match self.next() {
                Some(Token::Number(n)) => number(&format!("-{n}")).map(Expr::Literal),
                other => Err(format!(
                    "expected a number after \"-\", found {}",
                    describe(other.as_ref())
                )),
            },
            other => {
                self.at -= 1;
                let _ = other;
                self.operand()
            }
        }
    }

    /// A literal, a type, a reference or `time.Parse(time.RFC3339, "…")`.
    fn operand(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Expr::Literal(Literal::Str(s))),
            Some(Token::Number(n)) => number(&n).map(Expr::Literal),
            Some(Token::Punct("-")) => match self.next() {
                Some(Token::Number(n)) => number(&format!("-{n}")).map(Expr::Literal),
                other => Err(format!(
                    "expected a number after \"-\", found {}",
                    describe(other.as_ref())
                )),
            },
            Some(Token::Ident(id)) => match id.as_str() {
                "true" => Ok(Expr::Literal(Literal::Bool(true))),
                "false" => Ok(Expr::Literal(Literal::Bool(false))),
                "null" => Ok(Expr::Literal(Literal::Null)),
                "string" => Ok(Expr::Kind(Kind::String)),
                "number" => Ok(Expr::Kind(Kind::Number)),
                "int" => Ok(Expr::Kind(Kind::Int)),
                "bool" => Ok(Expr::Kind(Kind::Bool)),
                "time" if self.peek() == Some(&Token::Punct(".")) => self.time_parse(),
                _ if self.peek() == Some(&Token::Punct(".")) => Err(format!(
                    "selectors and package calls ({id}.…) are outside Signet's CUE subset, except time.Parse(time.RFC3339, \"…\")"
                )),
                _ if self.peek() == Some(&Token::Punct("(")) => {
                    Err(format!("calls ({id}(…)) are outside Signet's CUE subset"))
                }
                _ if is_keyword(&id) || id == "_" => {
                    Err(format!("{id:?} is outside Signet's CUE subset"))
                }
                _ => Ok(Expr::Reference(id)),
            },
            Some(Token::Punct("#")) => {
                Err("definitions (#Name) are outside Signet's CUE subset".into())
            }
            Some(Token::Punct("*")) => {
                Err("default markers (*value) are outside Signet's CUE subset".into())
            }
            other => Err(format!(
                "expected a value, found {}",
                describe(other.as_ref())
            )),
        }
    }

    fn time_parse(&mut self) -> Result<Expr, String> {
        let wanted = [
            Token::Punct("."),
            Token::Ident("Parse".into()),
            Token::Punct("("),
            Token::Ident("time".into()),
            Token::Punct("."),
            Token::Ident("RFC3339".into()),
            Token::Punct(","),
        ];
        for want in wanted {
            if self.next().as_ref() != Some(&want) {
                return Err("of package time, only time.Parse(time.RFC3339, \"…\") is inside Signet's CUE subset".into());
            }
        }
        let Some(Token::Str(value)) = self.next() else {
            return Err("time.Parse(time.RFC3339, …) needs a quoted time".into());
        };
        self.expect(")")?;
        if !self.time_imported {
            return Err("time.Parse is used without import \"time\"".into());
        }
        rfc3339(&value).map(|t| Expr::Literal(Literal::Str(t)))
    }
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "for"
            | "in"
            | "let"
            | "import"
            | "package"
            | "len"
            | "close"
            | "and"
            | "or"
            | "div"
            | "mod"
            | "quo"
            | "rem"
    )
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end of the policy".into(),
        Some(Token::Ident(s)) => format!("{s:?}"),
        Some(Token::Str(s)) => format!("the string {s:?}"),
        Some(Token::Number(n)) => format!("the number {n}"),
        Some(Token::Punct(p)) => format!("{p:?}"),
        Some(Token::Newline) => "a line break".into(),
    }
}

fn number(text: &str) -> Result<Literal, String> {
    if text.contains('_')
        || text.starts_with("0x")
        || text.starts_with("0o")
        || text.starts_with("0b")
    {
        return Err(format!(
            "the number {text} is outside Signet's CUE subset (write it in decimal)"
        ));
    }
    if let Ok(i) = text.parse::<i128>() {
        return Ok(Literal::Int(i));
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && !text.ends_with(|c: char| c.is_ascii_alphabetic()) => {
            Ok(Literal::Float(x))
        }
        _ => Err(format!(
            "{text:?} is not a number Signet's CUE subset reads (multipliers such as Ki are outside it)"
        )),
    }
}

/// CUE's `time.Parse(time.RFC3339, value)`: the instant in UTC, formatted as RFC 3339 with
/// the fraction trimmed (Go's RFC3339Nano).
fn rfc3339(value: &str) -> Result<String, String> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|e| format!("time.Parse(time.RFC3339, {value:?}): {e}"))?
        .to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        parsed.year(),
        u8::from(parsed.month()),
        parsed.day(),
        parsed.hour(),
        parsed.minute(),
        parsed.second()
    );
    let nanos = parsed.nanosecond();
    let fraction = match nanos {
        0 => String::new(),
        n => format!(".{}", format!("{n:09}").trim_end_matches('0')),
    };
    Ok(format!("{base}{fraction}Z"))
}

// ---- references and merging ----

/// Merge repeated labels and resolve references against the enclosing structs (innermost
/// first), each of which must name a field with exactly one concrete value.
fn resolve_struct<'f>(
    fields: &'f [Field],
    scopes: &mut Vec<&'f [Field]>,
    depth: usize,
) -> Result<Node, String> {
    scopes.push(fields);
    let mut node = Node {
        constraints: Vec::new(),
        fields: Some(BTreeMap::new()),
    };
    for field in fields {
        let mut child = Node::default();
        add_expr(&mut child, &field.value, scopes, depth)?;
        let map = node.fields.get_or_insert_with(BTreeMap::new);
        let slot = map.entry(field.label.clone()).or_default();
        merge(slot, child);
    }
    scopes.pop();
    Ok(node)
}

fn add_expr<'f>(
    node: &mut Node,
    expr: &'f Expr,
    scopes: &mut Vec<&'f [Field]>,
    depth: usize,
) -> Result<(), String> {
    match expr {
        Expr::Struct(fields) => {
            let child = resolve_struct(fields, scopes, depth + 1)?;
            merge(node, child);
        }
        Expr::And(parts) => {
            for part in parts {
                add_expr(node, part, scopes, depth)?;
            }
        }
        Expr::Literal(l) => node.constraints.push(Constraint::Literal(l.clone())),
        Expr::Kind(k) => node.constraints.push(Constraint::Kind(*k)),
        Expr::Reference(name) => node
            .constraints
            .push(Constraint::Literal(lookup(name, scopes)?)),
        Expr::Compare(op, operand) => {
            let value = concrete(operand, scopes)?;
            node.constraints.push(Constraint::Compare(*op, value));
        }
        Expr::Matches(negated, operand) => {
            let Literal::Str(pattern) = concrete(operand, scopes)? else {
                return Err("=~ and !~ need a string pattern".into());
            };
            let regex = regex::RegexBuilder::new(&pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("the pattern {pattern:?} does not compile: {e}"))?;
            node.constraints.push(Constraint::Matches {
                negated: *negated,
                pattern,
                regex,
            });
        }
    }
    Ok(())
}

fn concrete(expr: &Expr, scopes: &[&[Field]]) -> Result<Literal, String> {
    match expr {
        Expr::Literal(l) => Ok(l.clone()),
        Expr::Reference(name) => lookup(name, scopes),
        _ => Err("a bound needs a concrete value (a literal or a reference to one)".into()),
    }
}

/// The concrete value of the field `name` in the innermost enclosing struct that declares it.
fn lookup(name: &str, scopes: &[&[Field]]) -> Result<Literal, String> {
    for scope in scopes.iter().rev() {
        let declared: Vec<&Field> = scope.iter().filter(|f| f.label == name).collect();
        if declared.is_empty() {
            continue;
        }
        return match declared.as_slice() {
            [
                Field {
                    value: Expr::Literal(l),
                    ..
                },
            ] => Ok(l.clone()),
            _ => Err(format!(
                "the reference {name} must name a field with one concrete value (a literal or time.Parse) in Signet's CUE subset"
            )),
        };
    }
    Err(format!("reference {name:?} not found"))
}

fn merge(into: &mut Node, from: Node) {
    into.constraints.extend(from.constraints);
    if let Some(fields) = from.fields {
        let target = into.fields.get_or_insert_with(BTreeMap::new);
        for (label, child) in fields {
            merge(target.entry(label).or_default(), child);
        }
    }
}

/// The policy alone must be consistent: CUE reports conflicts between its own values even
/// where the data adds nothing.
fn check_node(node: &Node, path: &str) -> Result<(), String> {
    unify(node, None, path).map_err(|e| format!("the policy contradicts itself: {e}"))
}

// ---- unification with the Statement ----

fn unify(node: &Node, data: Option<&Json>, path: &str) -> Result<(), String> {
    let at = |p: &str| {
        if p.is_empty() {
            String::new()
        } else {
            format!("{p}: ")
        }
    };
    if let Some(fields) = &node.fields {
        if !node.constraints.is_empty() {
            let c = &node.constraints[0];
            return Err(format!(
                "{}conflicting values {c} and {{…}} (a struct)",
                at(path)
            ));
        }
        let object = match data {
            None => None,
            Some(Json::Object(map)) => Some(map),
            Some(other) => {
                return Err(format!(
                    "{}conflicting values {{…}} and {} (mismatched types struct and {})",
                    at(path),
                    short(other),
                    kind_name(other)
                ));
            }
        };
        for (label, child) in fields {
            let child_path = if path.is_empty() {
                label.clone()
            } else {
                format!("{path}.{label}")
            };
            unify(child, object.and_then(|m| m.get(label)), &child_path)?;
        }
        return Ok(());
    }
    // Without data, a concrete value of the policy stands for it.
    let concrete = node.constraints.iter().find_map(|c| match c {
        Constraint::Literal(l) => Some(l.to_json()),
        _ => None,
    });
    let Some(value) = data.cloned().or(concrete) else {
        return Ok(());
    };
    for c in &node.constraints {
        check(c, &value).map_err(|e| format!("{}{e}", at(path)))?;
    }
    Ok(())
}

impl Literal {
    fn to_json(&self) -> Json {
        match self {
            Self::Str(s) => Json::String(s.clone()),
            Self::Int(i) => i64::try_from(*i).map_or(Json::Null, Json::from),
            Self::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
            Self::Bool(b) => Json::Bool(*b),
            Self::Null => Json::Null,
        }
    }
}

fn kind_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_i64() || n.is_u64() => "int",
        Json::Number(_) => "float",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "struct",
    }
}

fn short(value: &Json) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn check(c: &Constraint, value: &Json) -> Result<(), String> {
    let ok = match c {
        Constraint::Literal(l) => equal(l, value),
        Constraint::Kind(k) => match (k, value) {
            (Kind::String, Json::String(_))
            | (Kind::Bool, Json::Bool(_))
            | (Kind::Number, Json::Number(_)) => true,
            (Kind::Int, Json::Number(n)) => n.is_i64() || n.is_u64(),
            _ => false,
        },
        Constraint::Compare(Op::Ne, l) => !equal(l, value),
        Constraint::Compare(op, l) => match compare(l, value) {
            Some(ordering) => match op {
                Op::Lt => ordering.is_lt(),
                Op::Le => ordering.is_le(),
                Op::Gt => ordering.is_gt(),
                Op::Ge => ordering.is_ge(),
                Op::Ne => !ordering.is_eq(),
            },
            None => {
                return Err(format!(
                    "invalid value {} (mismatched types {} and {})",
                    short(value),
                    kind_name(value),
                    literal_kind(l)
                ));
            }
        },
        Constraint::Matches { negated, regex, .. } => match value {
            Json::String(s) => regex.is_match(s) != *negated,
            _ => {
                return Err(format!(
                    "invalid value {} (mismatched types {} and string)",
                    short(value),
                    kind_name(value)
                ));
            }
        },
    };
    match (ok, c) {
        (true, _) => Ok(()),
        (false, Constraint::Literal(l)) => {
            Err(format!("conflicting values {l} and {}", short(value)))
        }
        (false, Constraint::Kind(k)) => Err(format!(
            "conflicting values {} and {} (mismatched types)",
            short(value),
            k.as_str()
        )),
        (false, c) => Err(format!("invalid value {} (out of bound {c})", short(value))),
    }
}

fn literal_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Str(_) => "string",
        Literal::Int(_) => "int",
        Literal::Float(_) => "float",
        Literal::Bool(_) => "bool",
        Literal::Null => "null",
    }
}

fn equal(l: &Literal, value: &Json) -> bool {
    match (l, value) {
        (Literal::Str(a), Json::String(b)) => a == b,
        (Literal::Bool(a), Json::Bool(b)) => a == b,
        (Literal::Null, Json::Null) => true,
        (Literal::Int(a), Json::Number(n)) => {
            n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) == Some(*a)
        }
        (Literal::Float(a), Json::Number(n)) => {
            !(n.is_i64() || n.is_u64()) && n.as_f64() == Some(*a)
        }
        _ => false,
    }
}

/// `value` compared with `l` (value on the left), for values of comparable kinds.
fn compare(l: &Literal, value: &Json) -> Option<std::cmp::Ordering> {
    match (l, value) {
        (Literal::Str(a), Json::String(b)) => Some(b.as_str().cmp(a.as_str())),
        (Literal::Int(a), Json::Number(n)) => {
            match n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) {
                Some(b) => Some(b.cmp(a)),
                None => n.as_f64()?.partial_cmp(&(*a as f64)),
            }
        }
        (Literal::Float(a), Json::Number(n)) => n.as_f64()?.partial_cmp(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
