//! The shape of the code (STYLE.md rule 7c): imports between the modules of `src/` run one way.
//! Every file is a module; an edge `a -> b` is a `crate::`/`super::` path in `a` naming `b` (or
//! something inside it). Edges between a module and its own ancestors or descendants (a parent
//! re-exporting its children, a child using its parent's types) are the module tree itself and
//! are left out; any other cycle fails the test with the modules on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`oauth::grants::refresh_token`) -> source text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut p = prefix.to_vec();
                if !matches!(name.as_str(), "mod" | "lib" | "main") {
                    p.push(name);
                }
                out.insert(p.join("::"), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut out,
    );
    out.remove(""); // lib.rs / main.rs: the module list and the entry point
    out.retain(|m, _| !m.starts_with("bin"));
    out
}

/// The `crate::` paths a file names, with `super::` resolved against `module`. `use` trees
/// (`crate::a::{b, c::d}`) are expanded one level, which is enough to name each module.
fn paths(module: &str, text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let code = match code.find("#[cfg(test)]") {
        Some(i) => &code[..i],
        None => &code[..],
    };
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let starts = (rest.starts_with("crate::") || rest.starts_with("super::"))
            && (i == 0 || !ident(bytes[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && ident(bytes[j]) {
            j += 1;
        }
        let mut path = code[i..j].trim_end_matches(':').to_string();
        if path.starts_with("super::") {
            let mut base: Vec<&str> = module.split("::").collect();
            while let Some(rest) = path.strip_prefix("super::") {
                base.pop();
                path = rest.to_string();
            }
            let prefix: String = base.iter().map(|b| format!("{b}::")).collect();
            path = format!("crate::{prefix}{path}");
        }
        if j < bytes.len() && bytes[j] == b'{' {
            let end = code[j..].find('}').map_or(bytes.len(), |e| j + e);
            for item in code[j + 1..end].split(',') {
                let item = item.trim().trim_start_matches('{');
                if !item.is_empty() && item != "self" {
                    out.push(format!("{path}::{item}"));
                }
            }
        }
        out.push(path);
        i = j;
    }
    out.into_iter()
        .filter_map(|p| p.strip_prefix("crate::").map(str::to_string))
        .collect()
}

/// The longest module that `path` names.
fn resolve<'a>(path: &str, modules: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find_map(|p| modules.get_key_value(&p).map(|(k, _)| k.as_str()))
}

fn related(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| x.starts_with(&format!("{y}::"));
    a == b || under(a, b) || under(b, a)
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &modules {
        let edges = g.entry(m.clone()).or_default();
        for p in paths(m, text) {
            if let Some(target) = resolve(&p, &modules) {
                if !related(m, target) {
                    edges.insert(target.to_string());
                }
            }
        }
    }
    g
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_import_graph_of_src_has_no_cycle() {
    let g = graph();
    assert!(
        g.contains_key("oauth::grants::refresh_token"),
        "{:?}",
        g.keys()
    );
    if std::env::var_os("PRINT_IMPORT_GRAPH").is_some() {
        for (a, bs) in &g {
            println!("{a} -> {bs:?}");
        }
    }
    let found = cycles(&g);
    let detail: Vec<String> = found
        .iter()
        .map(|scc| {
            let edges: Vec<String> = scc
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| scc.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            edges.join(", ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles: {detail:#?}");
}

#[test]
fn the_cycle_check_finds_a_cycle_when_there_is_one() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), ["a".to_string()].into());
    g.insert("d".into(), ["a".to_string()].into());
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    let m: BTreeMap<String, String> = [
        ("x::y".to_string(), String::new()),
        ("x".to_string(), String::new()),
    ]
    .into();
    assert_eq!(
        paths("x::y", "use super::z::{A, b::C};\nfn f() { crate::w::f() }"),
        vec!["x::z::A", "x::z::b::C", "x::z", "w::f"]
    );
    assert_eq!(resolve("x::y::Thing", &m), Some("x::y"));
}

#[test]
fn imports_run_from_routes_to_the_protocol_to_keys_and_store_to_leaves() {
    // (modules under, must not import), after STYLE.md's layers and issue 7's order
    // routes -> token -> {client_auth, grants} -> claims -> leaves.
    let rules: [(&str, &[&str]); 7] = [
        ("oauth", &["routes", "startup", "cli"]),
        ("signin", &["routes", "startup", "cli"]),
        ("keys", &["routes", "oauth", "signin", "state"]),
        ("store", &["routes", "oauth", "signin", "keys", "state"]),
        (
            "oauth::claims",
            &[
                "oauth::token",
                "oauth::grants",
                "oauth::client_auth",
                "oauth::authorize",
            ],
        ),
        ("oauth::grants", &["oauth::token", "oauth::authorize"]),
        ("oauth::client_auth", &["oauth::token", "oauth::grants"]),
    ];
    let under = |m: &str, p: &str| m == p || m.starts_with(&format!("{p}::"));
    let mut wrong = Vec::new();
    for (from, targets) in graph() {
        for (layer, forbidden) in &rules {
            if !under(&from, layer) {
                continue;
            }
            for t in &targets {
                if forbidden.iter().any(|f| under(t, f)) {
                    wrong.push(format!("{from} -> {t}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
}
