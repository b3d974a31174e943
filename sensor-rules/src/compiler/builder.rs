//! Turns an expanded condition tree into a program.

use super::check::CheckBuilder;
use super::matchers::{NumOp, NumTest, StrTest};
use super::problems::Problems;
use super::program::Node;
use crate::condition::Expr;
use crate::diagnostic::Diagnostic;

/// Roughly how much a node costs to evaluate.
fn cost(node: &Node) -> u32 {
    match node {
        Node::Const(_) | Node::EventType(_) => 0,
        Node::NumField(_) => 1,
        Node::Exists(_) => 2,
        // A canonical form, a few compares or a hash lookup, and a scan of the networks.
        Node::IpField(_) => 3,
        Node::StrField(check) => match check.test {
            StrTest::Eq(_) | StrTest::Ne(_) | StrTest::StartsWith(_) | StrTest::EndsWith(_) => 3,
            StrTest::In(_) => 4,
            StrTest::Regex(_) => 20,
            _ => 8,
        },
        Node::Check(_) => 12,
        Node::Not(child) => cost(child),
        Node::All(children) | Node::Any(children) => 2 + children.iter().map(cost).sum::<u32>(),
    }
}

/// Whether a node is usually true on real events: inequalities and negated matches are;
/// equalities, set membership and pattern matches usually are not.
fn usually_true(node: &Node) -> bool {
    match node {
        Node::Const(value) => *value,
        // A rule only sees events of its own types, so its type check passes.
        Node::EventType(_) | Node::Exists(_) => true,
        Node::StrField(check) => matches!(check.test, StrTest::Ne(_)),
        Node::NumField(check) => matches!(check.test, NumTest::Compare(NumOp::Ne, _)),
        // `fd.ip != "0.0.0.0"`, `fd.net != "127.0.0.0/8"`: most connections pass.
        Node::IpField(check) => check.test.is_negated(),
        Node::Check(_) => false,
        Node::Not(child) => !usually_true(child),
        Node::All(children) => children.iter().all(usually_true),
        Node::Any(children) => children.iter().any(usually_true),
    }
}

/// Evaluation order inside `and`/`or`: conditions have no side effects, so the order is
/// free. An `and` first runs cheap checks likely to be false, an `or` cheap checks likely
/// to be true, so most events are decided after a check or two.
fn order_key(node: &Node, conjunction: bool) -> u32 {
    let decisive = usually_true(node) != conjunction;
    cost(node) + if decisive { 0 } else { 16 }
}

impl CheckBuilder<'_> {
    /// The program node for `expr`. A subtree that folds to a constant is never
    /// evaluated: the constants its checks recorded are taken back.
    pub fn build(&self, expr: &Expr, problems: &mut Problems) -> Node {
        let mark = self.constants.mark();
        let node = self.build_node(expr, problems);
        if matches!(node, Node::Const(_)) {
            self.constants.truncate(mark);
        }
        node
    }

    fn build_node(&self, expr: &Expr, problems: &mut Problems) -> Node {
        match expr {
            Expr::And(children, _) => self.build_group(children, true, problems),
            Expr::Or(children, _) => self.build_group(children, false, problems),
            Expr::Not(child, _) => match self.build(child, problems) {
                Node::Const(value) => Node::Const(!value),
                Node::Not(inner) => *inner,
                node => Node::Not(Box::new(node)),
            },
            Expr::Identifier(name, span) => {
                problems.errors.push(Diagnostic::error(
                    self.operands.sources.position(*span),
                    format!("unexpected identifier '{name}': not a macro"),
                ));
                Node::Const(false)
            }
            Expr::Exists(operand, _) => self.build_exists(operand, problems),
            Expr::Compare {
                left,
                operator,
                modifier,
                right,
                span,
            } => self.build_compare(left, *operator, *modifier, right, *span, problems),
        }
    }

    fn build_group(&self, children: &[Expr], conjunction: bool, problems: &mut Problems) -> Node {
        // Build every child before folding so that every problem in the group is reported.
        let built: Vec<Node> = children
            .iter()
            .map(|child| self.build(child, problems))
            .collect();
        let mut nodes = Vec::with_capacity(built.len());
        for node in built {
            match node {
                // Nested groups of the same kind (macro bodies) are flattened.
                Node::All(inner) if conjunction => nodes.extend(inner.into_vec()),
                Node::Any(inner) if !conjunction => nodes.extend(inner.into_vec()),
                Node::Const(value) if value == conjunction => {}
                Node::Const(value) => return Node::Const(value),
                node => nodes.push(node),
            }
        }
        nodes.sort_by_key(|node| order_key(node, conjunction));
        match nodes.len() {
            0 => Node::Const(conjunction),
            1 => nodes.pop().unwrap_or(Node::Const(conjunction)),
            _ if conjunction => Node::All(nodes.into_boxed_slice()),
            _ => Node::Any(nodes.into_boxed_slice()),
        }
    }
}
