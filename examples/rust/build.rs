//! Build script: where libprocmapq.so is, and the struct layouts to check.
//!
//! - PROCMAPQ_LIB_DIR: directory holding libprocmapq.so (default: build/ at
//!   the top of the repository). Added to the link search path and, as an
//!   rpath, to every binary (tests, examples), so they run without
//!   LD_LIBRARY_PATH.
//! - PROCMAPQ_ABI_LAYOUT: a file with the output of tests/abi/layout.c
//!   (`make abi-layout` writes build/abi-layout.txt). Without it the
//!   program is compiled here with $CC (default cc) and run.
//!
//! From that output it writes $OUT_DIR/layout_asserts.rs: one compile-time
//! assert per struct size and per field offset, included by src/sys.rs.
//! It also turns the README's Rust example into a doctest.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo_root = manifest_dir.join("../..");
    link_library(&repo_root);
    let layout = layout_text(&repo_root);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("layout_asserts.rs"), layout_asserts(&layout)).expect("write layout_asserts.rs");
    fs::write(out_dir.join("readme_doctest.md"), readme_doctest(&repo_root)).expect("write readme_doctest.md");
}

/// The README's ```rust example as a doctest (run by `cargo test`), with
/// the `pid` and `addrs` it assumes: this process and one of its code
/// addresses.
fn readme_doctest(repo_root: &Path) -> String {
    let readme_path = repo_root.join("README.md");
    println!("cargo:rerun-if-changed={}", readme_path.display());
    let readme = fs::read_to_string(&readme_path).unwrap_or_default();
    let Some((_, rest)) = readme.split_once("```rust\n") else {
        // A doctest that fails: the README must keep its Rust example.
        return "```\npanic!(\"README.md has no ```rust example\");\n```\n".to_string();
    };
    let example = rest.split_once("```").map_or(rest, |(code, _)| code);
    format!(
        "```\n# fn main() -> std::io::Result<()> {{\n# let pid: i32 = 0;\n\
         # let addrs: Vec<u64> = vec![procmapq::version as *const () as u64, 0x10];\n\
         {example}# Ok(())\n# }}\n```\n"
    )
}

fn link_library(repo_root: &Path) {
    println!("cargo:rerun-if-env-changed=PROCMAPQ_LIB_DIR");
    let lib_dir = match env::var_os("PROCMAPQ_LIB_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root.join("build"),
    };
    let lib_dir = lib_dir.canonicalize().unwrap_or_else(|err| {
        panic!(
            "libprocmapq: library directory {}: {err}; run `make lib` at the top of the repository \
             or set PROCMAPQ_LIB_DIR to the directory holding libprocmapq.so",
            lib_dir.display()
        )
    });
    if !lib_dir.join("libprocmapq.so").exists() {
        panic!(
            "libprocmapq: no libprocmapq.so in {}; run `make lib` or set PROCMAPQ_LIB_DIR",
            lib_dir.display()
        );
    }
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    // Relink when the library is rebuilt (its exported symbols may change).
    println!("cargo:rerun-if-changed={}", lib_dir.join("libprocmapq.so").display());
}

/// The output of tests/abi/layout.c: read from PROCMAPQ_ABI_LAYOUT, or
/// compiled and run here.
fn layout_text(repo_root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=PROCMAPQ_ABI_LAYOUT");
    println!("cargo:rerun-if-env-changed=CC");
    let header = repo_root.join("include/procmapq.h");
    let source = repo_root.join("tests/abi/layout.c");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-changed={}", source.display());
    if let Some(path) = env::var_os("PROCMAPQ_ABI_LAYOUT").filter(|p| !p.is_empty()) {
        println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
        return fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("PROCMAPQ_ABI_LAYOUT={}: {err}", PathBuf::from(&path).display()));
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let program = out_dir.join("abi-layout");
    let cc = env::var("CC").ok().filter(|cc| !cc.is_empty()).unwrap_or_else(|| "cc".to_string());
    let status = Command::new(&cc)
        .arg("-std=c99")
        .arg("-I")
        .arg(repo_root.join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .status()
        .unwrap_or_else(|err| panic!("run {cc} to build tests/abi/layout.c: {err} (set CC or PROCMAPQ_ABI_LAYOUT)"));
    assert!(status.success(), "{cc} failed to build tests/abi/layout.c: {status}");
    let output = Command::new(&program).output().expect("run the layout program");
    assert!(output.status.success(), "the layout program failed: {}", output.status);
    String::from_utf8(output.stdout).expect("layout output is ASCII")
}

/// Compile-time asserts: "struct NAME SIZE" and "field NAME.FIELD
/// OFFSET" lines become size_of / offset_of checks on the sys mirrors.
fn layout_asserts(layout: &str) -> String {
    // One const item per assert, so that every mismatch is reported.
    let mut code = String::from("// Generated by build.rs from tests/abi/layout.c; do not edit.\n");
    let mut structs = 0;
    for (number, line) in layout.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["struct", name, size] => {
                structs += 1;
                writeln!(
                    code,
                    "const _: () = assert!(::core::mem::size_of::<{name}>() == {size}, \
                     \"size of struct {name} differs from tests/abi/layout.c\");"
                )
                .unwrap();
            }
            ["field", path, offset] => {
                let (name, field) = path.split_once('.').expect("field NAME.FIELD");
                writeln!(
                    code,
                    "const _: () = assert!(::core::mem::offset_of!({name}, {field}) == {offset}, \
                     \"offset of {name}.{field} differs from tests/abi/layout.c\");"
                )
                .unwrap();
            }
            [] => {}
            _ => panic!("layout output line {}: unexpected {line:?}", number + 1),
        }
    }
    assert!(structs > 0, "the layout output lists no struct");
    code
}
