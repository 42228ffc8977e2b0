//! The layers, held by a test: Rust lets any module of a crate import any other, so this
//! reads `src/` and fails, naming the file, line and import, wherever the architecture is
//! broken. It is the law: fix the import, never add an exception.
//!
//! - The core (pure, no IO) never imports an edge, the UI or the wiring.
//! - The UI (`ui`, `app`) draws a read-only view and turns keys into actions: it never
//!   imports a source, the engine, the demo or the command line.
//! - No cycle between top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Pure modules: state, decoding, rules, and the leaves they share.
const CORE: &[&str] = &[
    "decode",
    "mapping",
    "conventions",
    "fleet",
    "alerts",
    "commands",
    "expr",
    "config",
    "vocab",
    "text",
    "sanitize",
    "view",
    "broker",
    "core",
];
/// What the core may never import.
const NOT_FOR_CORE: &[&str] = &[
    "source", "ui", "demo", "output", "engine", "app", "cli", "tui", "bench", "logging",
];
const UI: &[&str] = &["ui", "app"];
const NOT_FOR_UI: &[&str] = &["source", "engine", "demo", "cli", "tui", "bench", "output"];

/// One `crate::<module>` reference: where it is and what it names.
#[derive(Debug, Clone)]
struct Import {
    file: PathBuf,
    line: usize,
    from: String,
    to: String,
    text: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/`: `src/fleet/history.rs` is `["fleet", "history"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The line with comments and string literals blanked, so prose never counts as an import.
fn code_only(line: &str, in_block_comment: &mut bool) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let rest = &line[i..];
        if *in_block_comment {
            if rest.starts_with("*/") {
                *in_block_comment = false;
                i += 2;
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
            continue;
        }
        if in_string {
            if rest.starts_with('\\') {
                i += 2.min(rest.len());
                continue;
            }
            if rest.starts_with('"') {
                in_string = false;
            }
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        if rest.starts_with("//") {
            break;
        }
        if rest.starts_with("/*") {
            *in_block_comment = true;
            i += 2;
            continue;
        }
        if rest.starts_with('"') {
            in_string = true;
            out.push(' ');
            i += 1;
            continue;
        }
        // A char literal such as '"' must not open a string.
        if rest.starts_with("'\"'") {
            i += 3;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Top-level modules a line names, through `crate::x` or through enough `super::` to climb
/// out of the file's own top-level module.
fn targets(code: &str, module: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            let name = ident_at(after);
            if !name.is_empty() {
                found.push(name.to_string());
            }
        }
        rest = after;
    }
    // `super::super::x` from depth d leaves the top-level module when it climbs d times.
    let mut rest = code;
    while let Some(at) = rest.find("super::") {
        let before = rest[..at].chars().next_back();
        let mut after = &rest[at..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            rest = &rest[at + "super::".len()..];
            continue;
        }
        let mut climbs = 0;
        while let Some(next) = after.strip_prefix("super::") {
            climbs += 1;
            after = next;
        }
        if climbs >= module.len() && !module.is_empty() {
            let name = ident_at(after);
            if !name.is_empty() {
                found.push(name.to_string());
            }
        }
        rest = after;
    }
    found
}

fn imports() -> (Vec<Import>, BTreeSet<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    let mut all = Vec::new();
    for file in files {
        let module = module_path(&src, &file);
        let Some(top) = module.first().cloned() else {
            continue; // lib.rs and main.rs wire the modules together
        };
        modules.insert(top.clone());
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let mut in_block = false;
        for (n, line) in text.lines().enumerate() {
            let code = code_only(line, &mut in_block);
            for to in targets(&code, &module) {
                if to != top {
                    all.push(Import {
                        file: file.strip_prefix(&src).unwrap_or(&file).to_path_buf(),
                        line: n + 1,
                        from: top.clone(),
                        to,
                        text: line.trim().to_string(),
                    });
                }
            }
        }
    }
    (all, modules)
}

fn report(broken: &[&Import]) -> String {
    broken
        .iter()
        .map(|i| {
            format!(
                "  src/{}:{}: `{}` imports `{}`: {}",
                i.file.display(),
                i.line,
                i.from,
                i.to,
                i.text
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_core_imports_no_edge() {
    let (all, _) = imports();
    let broken: Vec<&Import> = all
        .iter()
        .filter(|i| CORE.contains(&i.from.as_str()) && NOT_FOR_CORE.contains(&i.to.as_str()))
        .collect();
    assert!(
        broken.is_empty(),
        "the core (pure, no IO) must not import edges, the UI or the wiring; move the shared \
         piece into a core leaf (vocab, text) or pass it in:\n{}",
        report(&broken)
    );
}

#[test]
fn the_ui_reads_a_view_and_imports_no_edge() {
    let (all, _) = imports();
    let broken: Vec<&Import> = all
        .iter()
        .filter(|i| UI.contains(&i.from.as_str()) && NOT_FOR_UI.contains(&i.to.as_str()))
        .collect();
    assert!(
        broken.is_empty(),
        "ui and app draw the core's read-only view and return effects; they must not reach \
         sources, the engine, the demo or the command line:\n{}",
        report(&broken)
    );
}

/// Every cycle, as the chain of imports that closes it.
fn cycles(all: &[Import], modules: &BTreeSet<String>) -> Vec<Vec<Import>> {
    let mut edges: BTreeMap<&str, BTreeMap<&str, &Import>> = BTreeMap::new();
    for i in all {
        if modules.contains(&i.to) {
            edges
                .entry(i.from.as_str())
                .or_default()
                .entry(i.to.as_str())
                .or_insert(i);
        }
    }
    let mut found: Vec<Vec<Import>> = Vec::new();
    let mut seen_sets: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    // Shortest path back to each start module (BFS): one witness cycle per module set.
    for start in modules {
        let mut prev: BTreeMap<&str, &Import> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        let mut closing: Option<&Import> = None;
        while let Some(m) = queue.pop_front() {
            for (to, imp) in edges.get(m).into_iter().flatten() {
                if *to == start.as_str() {
                    closing = Some(imp);
                    break;
                }
                if !prev.contains_key(to) {
                    prev.insert(to, imp);
                    queue.push_back(to);
                }
            }
            if closing.is_some() {
                break;
            }
        }
        if let Some(last) = closing {
            let mut chain = vec![last.clone()];
            let mut at = last.from.as_str();
            while at != start.as_str() {
                let imp = prev[at];
                chain.push(imp.clone());
                at = imp.from.as_str();
            }
            chain.reverse();
            let set: BTreeSet<String> = chain.iter().map(|i| i.from.clone()).collect();
            if seen_sets.insert(set) {
                found.push(chain);
            }
        }
    }
    found
}

#[test]
fn top_level_modules_form_no_cycle() {
    let (all, modules) = imports();
    let found = cycles(&all, &modules);
    let text: Vec<String> = found
        .iter()
        .map(|chain| {
            let names: Vec<&str> = chain
                .iter()
                .map(|i| i.from.as_str())
                .chain(chain.first().map(|i| i.from.as_str()))
                .collect();
            let refs: Vec<&Import> = chain.iter().collect();
            format!("{}\n{}", names.join(" -> "), report(&refs))
        })
        .collect();
    assert!(
        found.is_empty(),
        "top-level modules import each other in a cycle; break it by moving the shared piece \
         down a layer:\n{}",
        text.join("\n")
    );
}

#[test]
fn the_reader_sees_imports_and_ignores_prose() {
    let mut block = false;
    let module = vec!["fleet".to_string(), "history".to_string()];
    let line = code_only(
        r#"use crate::source::Outlet; // crate::ui is fine in a comment"#,
        &mut block,
    );
    assert_eq!(targets(&line, &module), ["source"]);
    let line = code_only(
        r#"let s = "crate::engine"; x(super::super::ui::draw)"#,
        &mut block,
    );
    assert_eq!(targets(&line, &module), ["ui"]);
    let line = code_only("/* crate::cli", &mut block);
    assert!(targets(&line, &module).is_empty());
    let line = code_only("crate::demo */ super::Ring", &mut block);
    assert!(targets(&line, &module).is_empty(), "super:: within fleet");
    let modules: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let imp = |from: &str, to: &str| Import {
        file: PathBuf::from(format!("{from}.rs")),
        line: 1,
        from: from.into(),
        to: to.into(),
        text: String::new(),
    };
    let found = cycles(&[imp("a", "b"), imp("b", "c"), imp("c", "a")], &modules);
    assert_eq!(found.len(), 1, "one cycle, reported once");
    assert!(cycles(&[imp("a", "b"), imp("b", "c")], &modules).is_empty());
}
