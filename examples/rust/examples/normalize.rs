//! Normalizes a batch of real code addresses of a process with libprocmapq
//! and prints each answer next to the one of a plain maps parser.
//!
//!     cargo run --example normalize -- [PID]     (default: this process)
//!
//! The addresses are the first, middle and last byte of every executable
//! file mapping. Exit status 1 if the two views disagree.

#[path = "../tests/common/mod.rs"]
mod common;

use procmapq::{Handle, NormalizeOptions, sys};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    let pid: i32 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().unwrap_or_else(|_| {
            eprintln!("usage: normalize [PID]");
            std::process::exit(2)
        }),
        None => std::process::id() as i32,
    };
    let handle = Handle::open(pid).unwrap_or_else(|err| {
        eprintln!("normalize: {err}");
        std::process::exit(1)
    });
    let maps = common::read_maps(pid);
    let addrs: Vec<u64> = maps
        .iter()
        .filter(|e| e.perms & sys::PROCMAPQ_PERM_X != 0 && e.file_backed())
        .flat_map(|e| [e.start, e.start + (e.end - e.start) / 2, e.end - 1])
        .collect();
    let opts = NormalizeOptions { build_ids: true, virt_addrs: true, ..Default::default() };
    let result = handle.normalize(&addrs, &opts).unwrap_or_else(|err| {
        eprintln!("normalize: {err}");
        std::process::exit(1)
    });

    println!("pid {pid}: {} code addresses, {} files", addrs.len(), result.metas().len());
    println!("{:<18}  {:<12} {:<12} {:<40}  parser", "address", "file offset", "ELF vaddr", "library");
    let mut disagreements = 0;
    for (&addr, (out, meta)) in addrs.iter().zip(result.iter()) {
        let meta = meta.expect("every output has a meta");
        let path = String::from_utf8_lossy(meta.path);
        let vaddr = if out.flags & sys::PROCMAPQ_NORM_OUT_HAS_VIRT_ADDR != 0 { format!("{:#x}", out.virt_addr) } else { "-".into() };
        let parsed = common::find(&maps, addr).map(|e| (e.name_str(), addr - e.start + e.offset));
        let agrees = parsed.as_ref().is_some_and(|(name, off)| *name == path && *off == out.file_offset);
        disagreements += usize::from(!agrees);
        let (parser_name, parser_off) = parsed.unwrap_or_default();
        println!(
            "{addr:#018x}  {:<12} {vaddr:<12} {:<40}  {} +{parser_off:#x} {}",
            format!("{:#x}", out.file_offset),
            path,
            parser_name,
            if agrees { "ok" } else { "DIFFERS" }
        );
    }
    println!("build IDs:");
    for meta in result.metas().filter(|m| !m.build_id.is_empty()) {
        let source = if meta.build_id_source == sys::PROCMAPQ_BUILD_ID_KERNEL { "kernel" } else { "file" };
        println!("  {} {} ({source})", hex(meta.build_id), String::from_utf8_lossy(meta.path));
    }
    if disagreements > 0 {
        eprintln!("{disagreements} addresses disagree with the parser");
        std::process::exit(1);
    }
}
