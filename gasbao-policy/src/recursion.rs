//! Refuses recursive rules and functions before anything evaluates them.
//!
//! Rego forbids recursion and OPA rejects it when compiling; regorus 0.14.1
//! does not. Its interpreter recurses until the stack overflows on a
//! recursive function (`f(n) := f(n - 1)`), and its compiled VM does so on
//! any recursive rule, aborting the whole process. So loading builds the
//! graph of which rule refers to which and refuses any cycle.
//!
//! The graph is read from regorus's syntax tree (its `unstable` module,
//! hence the exact version pin in Cargo.toml). It is conservative: a local
//! variable named like a rule of its package counts as a reference to the
//! rule, so a policy that shadows a rule name inside that rule's own cycle
//! is refused although OPA would accept it. Rename the variable.

use std::collections::{BTreeMap, BTreeSet};

use regorus::unstable::{Expr, Literal, Module, Query, Ref, Rule, RuleHead};

use crate::error::LoadError;
use crate::location::SourceLocation;

/// A rule: its `data.` path and where it is first defined.
struct RuleNode {
    location: SourceLocation,
    refers_to: BTreeSet<String>,
}

/// Fails with [`LoadError::Recursion`] naming the rules of the first cycle.
pub(crate) fn check_recursion(
    modules: &[regorus::unstable::Ref<Module>],
    packages: &[String],
) -> Result<(), LoadError> {
    let mut rules: BTreeMap<String, RuleNode> = BTreeMap::new();
    // Names first, so that references can be resolved against them.
    for (module, package) in modules.iter().zip(packages) {
        for rule in &module.policy {
            if let Some((name, span)) = rule_name(rule) {
                let location = SourceLocation {
                    file: span.source.file().clone(),
                    line: span.line,
                    column: span.col,
                };
                rules.entry(format!("{package}.{name}")).or_insert(RuleNode {
                    location,
                    refers_to: BTreeSet::new(),
                });
            }
        }
    }
    let known: BTreeSet<String> = rules.keys().cloned().collect();
    for (module, package) in modules.iter().zip(packages) {
        let imports = imports(module);
        for rule in &module.policy {
            let Some((name, _)) = rule_name(rule) else { continue };
            let mut refs = References {
                package,
                imports: &imports,
                known: &known,
                found: BTreeSet::new(),
            };
            refs.rule(rule);
            let found = refs.found;
            if let Some(node) = rules.get_mut(&format!("{package}.{name}")) {
                node.refers_to.extend(found);
            }
        }
    }
    find_cycle(&rules)
}

/// The rule's name within its package (the first component of its head) and
/// where the head starts.
fn rule_name(rule: &Rule) -> Option<(String, &regorus::unstable::Span)> {
    let refr = match rule {
        Rule::Spec {
            head: RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } | RuleHead::Func { refr, .. },
            ..
        } => refr,
        Rule::Default { refr, .. } => refr,
    };
    let mut expr: &Expr = refr;
    loop {
        match expr {
            Expr::Var { value, span, .. } => return value.as_string().ok().map(|s| (s.to_string(), span)),
            Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => expr = refr,
            _ => return None,
        }
    }
}

/// `import data.a.b as c`: alias `c` (or `b`) to the path `data.a.b`.
fn imports(module: &Module) -> BTreeMap<String, String> {
    let mut aliases = BTreeMap::new();
    for import in &module.imports {
        let Some(path) = static_path(&import.refr) else {
            continue;
        };
        if !path.starts_with("data.") {
            continue;
        }
        let alias = match &import.r#as {
            Some(span) => span.text().to_owned(),
            None => path.rsplit('.').next().unwrap_or_default().to_owned(),
        };
        aliases.insert(alias, path);
    }
    aliases
}

/// `a.b.c` written with dots only, as a string.
fn static_path(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var { value, .. } => value.as_string().ok().map(|s| s.to_string()),
        Expr::RefDot { refr, field, .. } => {
            let base = static_path(refr)?;
            let field = field.1.as_string().ok()?;
            Some(format!("{base}.{field}"))
        }
        Expr::RefBrack { refr, index, .. } => match &**index {
            Expr::String { value, .. } => Some(format!("{}.{}", static_path(refr)?, value.as_string().ok()?)),
            _ => static_path(refr),
        },
        _ => None,
    }
}

/// Collects the rules an expression refers to.
struct References<'a> {
    package: &'a str,
    imports: &'a BTreeMap<String, String>,
    known: &'a BTreeSet<String>,
    found: BTreeSet<String>,
}

impl References<'_> {
    fn rule(&mut self, rule: &Rule) {
        match rule {
            Rule::Spec { head, bodies, .. } => {
                match head {
                    RuleHead::Compr { refr, assign, .. } => {
                        self.head_indices(refr);
                        if let Some(assign) = assign {
                            self.expr(&assign.value);
                        }
                    }
                    RuleHead::Set { refr, key, .. } => {
                        self.head_indices(refr);
                        if let Some(key) = key {
                            self.expr(key);
                        }
                    }
                    RuleHead::Func { refr, args, assign, .. } => {
                        self.head_indices(refr);
                        args.iter().for_each(|a| self.expr(a));
                        if let Some(assign) = assign {
                            self.expr(&assign.value);
                        }
                    }
                }
                for body in bodies {
                    if let Some(assign) = &body.assign {
                        self.expr(&assign.value);
                    }
                    self.query(&body.query);
                }
            }
            Rule::Default { value, args, .. } => {
                args.iter().for_each(|a| self.expr(a));
                self.expr(value);
            }
        }
    }

    /// `a[x].b := …`: the bracket expressions of a rule head may refer to rules.
    fn head_indices(&mut self, refr: &Expr) {
        match refr {
            Expr::RefBrack { refr, index, .. } => {
                self.expr(index);
                self.head_indices(refr);
            }
            Expr::RefDot { refr, .. } => self.head_indices(refr),
            _ => {}
        }
    }

    fn query(&mut self, query: &Query) {
        for stmt in &query.stmts {
            for with in &stmt.with_mods {
                self.expr(&with.r#as);
            }
            match &stmt.literal {
                Literal::SomeVars { .. } => {}
                Literal::SomeIn {
                    key, value, collection, ..
                } => self.membership(key.as_ref(), value, collection),
                Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => self.expr(expr),
                Literal::Every { domain, query, .. } => {
                    self.expr(domain);
                    self.query(query);
                }
            }
        }
    }

    /// `key, value in collection`, in `some ... in` and as an expression.
    fn membership(&mut self, key: Option<&Ref<Expr>>, value: &Expr, collection: &Expr) {
        if let Some(key) = key {
            self.expr(key);
        }
        self.expr(value);
        self.expr(collection);
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => {}
            Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => self.reference(expr),
            Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().for_each(|i| self.expr(i)),
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.expr(term);
                self.query(query);
            }
            Expr::ObjectCompr { key, value, query, .. } => {
                self.expr(key);
                self.expr(value);
                self.query(query);
            }
            Expr::Call { fcn, params, .. } => {
                self.reference(fcn);
                params.iter().for_each(|p| self.expr(p));
            }
            Expr::UnaryExpr { expr, .. } => self.expr(expr),
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::Membership {
                key, value, collection, ..
            } => self.membership(key.as_ref(), value, collection),
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    /// A reference `x`, `x.y[z]`, `data.p.r`, `alias.r`: the rule it names,
    /// if any, plus whatever its brackets refer to.
    fn reference(&mut self, expr: &Expr) {
        // Bracket indices are expressions of their own.
        let mut walk = expr;
        loop {
            match walk {
                Expr::RefBrack { refr, index, .. } => {
                    self.expr(index);
                    walk = refr;
                }
                Expr::RefDot { refr, .. } => walk = refr,
                _ => break,
            }
        }
        let Some(path) = static_path(expr) else {
            if !matches!(walk, Expr::Var { .. }) {
                self.expr(walk);
            }
            return;
        };
        let first = path.split('.').next().unwrap_or_default();
        let absolute = if first == "data" {
            path.clone()
        } else if let Some(import) = self.imports.get(first) {
            format!("{import}{}", &path[first.len()..])
        } else {
            format!("{}.{path}", self.package)
        };
        // The longest prefix that names a rule (`data.p.r.field` refers to `data.p.r`).
        let mut prefix = absolute.as_str();
        loop {
            if self.known.contains(prefix) {
                self.found.insert(prefix.to_owned());
                return;
            }
            match prefix.rsplit_once('.') {
                Some((shorter, _)) => prefix = shorter,
                None => return,
            }
        }
    }
}

/// Depth-first search; the first back edge found is the cycle reported.
fn find_cycle(rules: &BTreeMap<String, RuleNode>) -> Result<(), LoadError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = rules.keys().map(|k| (k.as_str(), Mark::New)).collect();
    for start in rules.keys() {
        if marks[start.as_str()] != Mark::New {
            continue;
        }
        // Iterative, so that a long chain of rules cannot overflow our stack.
        let mut path: Vec<(&str, Vec<&str>)> =
            vec![(start, rules[start].refers_to.iter().map(String::as_str).collect())];
        marks.insert(start, Mark::OnPath);
        while let Some((node, pending)) = path.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match marks.get(next).copied() {
                    Some(Mark::New) => {
                        marks.insert(next, Mark::OnPath);
                        path.push((next, rules[next].refers_to.iter().map(String::as_str).collect()));
                    }
                    Some(Mark::OnPath) => {
                        let from = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let cycle: Vec<String> = path[from..]
                            .iter()
                            .map(|(n, _)| (*n).to_owned())
                            .chain([next.to_owned()])
                            .collect();
                        return Err(LoadError::Recursion {
                            location: rules[next].location.clone(),
                            rules: cycle,
                        });
                    }
                    _ => {}
                },
                None => {
                    marks.insert(node, Mark::Done);
                    path.pop();
                }
            }
        }
    }
    Ok(())
}
