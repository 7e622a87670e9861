//! The sys layer against include/procmapq.h itself: every `#define
//! PROCMAPQ_*` constant has a Rust mirror of the same value and vice versa,
//! and every PROCMAPQ_API function is declared. (Struct layouts are checked
//! at compile time against tests/abi/layout.c: see build.rs.)

use std::collections::BTreeMap;

use procmapq::sys;

fn header() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/procmapq.h");
    std::fs::read_to_string(path).expect("read include/procmapq.h")
}

/// Numeric `#define PROCMAPQ_NAME VALUE` lines (decimal or hex, u suffix).
fn header_constants(text: &str) -> BTreeMap<String, u64> {
    let mut constants = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some("#define"), Some(name), Some(value)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        if !name.starts_with("PROCMAPQ_") || name.contains('(') {
            continue;
        }
        let digits = value.trim_end_matches(['u', 'U']);
        let parsed = match digits.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => digits.parse(),
        };
        if let Ok(v) = parsed {
            constants.insert(name.to_string(), v);
        }
    }
    constants
}

#[test]
fn every_header_constant_is_mirrored() {
    let text = header();
    let mut c_side = header_constants(&text);
    // The one computed macro: the header's formula.
    let v = |n: &str| c_side[n];
    let number = v("PROCMAPQ_VERSION_MAJOR") * 10000 + v("PROCMAPQ_VERSION_MINOR") * 100 + v("PROCMAPQ_VERSION_PATCH");
    c_side.insert("PROCMAPQ_VERSION_NUMBER".into(), number);
    assert!(c_side.len() > 60, "parsed only {} constants from the header", c_side.len());
    let rust_side: BTreeMap<String, u64> = sys::CONSTANTS.iter().map(|&(n, v)| (n.to_string(), v)).collect();
    assert_eq!(rust_side, c_side, "sys constants (left) and include/procmapq.h (right) differ");
}

#[test]
fn every_header_function_is_declared() {
    let sys_source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/sys.rs")).unwrap();
    let declared: Vec<&str> = sys_source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub fn "))
        .filter_map(|l| l.split('(').next())
        .collect();
    let text = header();
    let functions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("PROCMAPQ_API "))
        .filter_map(|l| l.split('(').next()?.rsplit([' ', '*']).next())
        .collect();
    assert!(functions.len() >= 16, "found {} prototypes", functions.len());
    for f in &functions {
        assert!(declared.contains(f), "{f} is in the header but not declared in src/sys.rs");
    }
    for f in &declared {
        assert!(functions.contains(f), "src/sys.rs declares {f}, the header does not");
    }
}
