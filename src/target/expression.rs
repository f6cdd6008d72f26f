//! Expressions in `x`: their tree ([`Node`]) and the parser that builds it from text, a `pest`
//! grammar (`target.pest`) with its Pratt parser for precedence. `^` binds tightest and groups
//! to the right, then unary minus, then `* /`, then `+ -`, so `-x^2` is `-(x^2)` and `2^3^2`
//! is `2^9`. How a tree is evaluated is `evaluation.rs`'s.

use pest::Parser;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

#[derive(pest_derive::Parser)]
#[grammar = "target.pest"]
struct Grammar;

/// The functions an expression may call.
const FUNCTIONS: [(&str, Function); 8] = [
    ("sin", Function::Sin),
    ("cos", Function::Cos),
    ("tan", Function::Tan),
    ("exp", Function::Exp),
    ("log", Function::Log),
    ("sqrt", Function::Sqrt),
    ("abs", Function::Abs),
    ("tanh", Function::Tanh),
];

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    X,
    Number(f64),
    Neg(Box<Node>),
    Binary(Operator, Box<Node>, Box<Node>),
    Call(Function, Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Function {
    Sin,
    Cos,
    Tan,
    Exp,
    Log,
    Sqrt,
    Abs,
    Tanh,
}

/// Parses `text` into a [`Node`]; the error says what was expected, and where, in one line.
pub(super) fn parse(text: &str) -> Result<Node, String> {
    let mut pairs = Grammar::parse(Rule::expression, text).map_err(|e| syntax_error(text, &e))?;
    let expression = pairs.next().expect("the grammar yields one expression");
    build(expression.into_inner().filter(|p| p.as_rule() != Rule::EOI))
}

/// Operator precedence, loosest first.
fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg) | Op::prefix(Rule::plus))
        .op(Op::infix(Rule::pow, Assoc::Right))
}

/// Builds the tree of a sequence of terms and infix operators.
fn build<'i>(pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Result<Node, String> {
    pratt()
        .map_primary(primary)
        .map_prefix(|op, operand| {
            let operand = operand?;
            Ok(if op.as_rule() == Rule::neg { Node::Neg(Box::new(operand)) } else { operand })
        })
        .map_infix(|left, op, right| {
            let operator = match op.as_rule() {
                Rule::add => Operator::Add,
                Rule::sub => Operator::Sub,
                Rule::mul => Operator::Mul,
                Rule::div => Operator::Div,
                _ => Operator::Pow,
            };
            Ok(Node::Binary(operator, Box::new(left?), Box::new(right?)))
        })
        .parse(pairs)
}

fn primary(pair: Pair<Rule>) -> Result<Node, String> {
    let at = pair.as_span().start() + 1;
    // What lies between a group's or a call's parentheses (a call's name comes first).
    let inside = |pair: Pair<Rule>| {
        let skip = usize::from(pair.as_rule() == Rule::call);
        build(pair.into_inner().skip(skip).filter(|p| !matches!(p.as_rule(), Rule::open | Rule::close)))
    };
    match pair.as_rule() {
        Rule::number => {
            pair.as_str().parse().map(Node::Number).map_err(|_| format!("bad number at character {at}"))
        }
        Rule::group => inside(pair),
        Rule::call => {
            let name =
                pair.clone().into_inner().next().expect("a call starts with a name").as_str().to_string();
            match FUNCTIONS.iter().find(|(n, _)| *n == name) {
                Some(&(_, function)) => Ok(Node::Call(function, Box::new(inside(pair)?))),
                None => Err(format!(
                    "`{name}` at character {at} is not a function; the functions are {}",
                    function_list()
                )),
            }
        }
        _ => match pair.as_str() {
            "x" => Ok(Node::X),
            "pi" => Ok(Node::Number(std::f64::consts::PI)),
            "e" => Ok(Node::Number(std::f64::consts::E)),
            name if FUNCTIONS.iter().any(|(n, _)| *n == name) => {
                Err(format!("`{name}` at character {at} is a function: write {name}(…)"))
            }
            name => {
                let curves = crate::target::BUILT_INS.map(|(n, _, _)| n);
                let planes = crate::target::plane::NAMES;
                let lower = name.to_ascii_lowercase();
                let meant = curves.iter().chain(&planes).chain(&["pi", "e", "x"]).find(|n| **n == lower);
                Err(format!(
                    "unknown name `{name}` at character {at}{}; an expression uses x, numbers, pi, e and the functions \
                     {}; a built-in curve ({}) or a distribution in the plane ({}) is named alone",
                    meant.map(|n| format!(" (names are lowercase: `{n}`)")).unwrap_or_default(),
                    function_list(),
                    curves.join(", "),
                    planes.join(", ")
                ))
            }
        },
    }
}

pub(super) fn function_list() -> String {
    FUNCTIONS.map(|(n, _)| n).join(" ")
}

/// A pest error as one line: what was expected at which character, and what was found.
fn syntax_error(text: &str, error: &pest::error::Error<Rule>) -> String {
    let position = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    };
    let mut expected: Vec<&str> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            let what = match rule {
                // After a name, `(` would make it a call: true, but never the helpful hint.
                Rule::open => continue,
                Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::pow => "an operator",
                Rule::close => "`)`",
                Rule::EOI => "the end",
                _ => "a number, x, a function or `(`",
            };
            if !expected.contains(&what) {
                expected.push(what);
            }
        }
    }
    if expected.is_empty() {
        expected.push("something else");
    }
    let character = text[..position.min(text.len())].chars().count() + 1;
    let found = match text[position.min(text.len())..].chars().next() {
        Some(c) => format!("found `{c}`"),
        None => "found the end".to_string(),
    };
    format!(
        "expected {} at character {character} ({found}; read so far: `{}`)",
        expected.join(" or "),
        &text[..position.min(text.len())]
    )
}
