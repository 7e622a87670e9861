//! Test helpers: an independent parser of /proc/<pid>/maps (shares no code
//! with the library), the live target program (tests/target/target.c),
//! and the checks of a library VMA against a parsed entry.
#![allow(dead_code)]

use std::ffi::{c_int, c_long};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use procmapq::sys;

/// The kernel pads the maps header to this column on 64-bit (25 + 6 * 8 - 1).
const NAME_PAD_COLUMN: usize = 72;
/// The kernel's PATH_MAX: the ioctl cannot return names this long.
pub const KERNEL_PATH_MAX: usize = 4096;
/// The gate VMA ([vsyscall]) lives above the highest user address.
const GATE_AREA_START: u64 = 0xffff_ffff_ff60_0000;

/// One line of /proc/<pid>/maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsEntry {
    pub start: u64,
    pub end: u64,
    pub perms: u32,
    pub offset: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub inode: u64,
    /// The name with "\012" turned into '\n' (the only escape the kernel uses).
    pub name: Vec<u8>,
    /// The name exactly as the text has it.
    pub raw_name: Vec<u8>,
    /// The raw name held "\012": a real newline or those four bytes.
    pub ambiguous: bool,
}

impl MapsEntry {
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// The ioctl never returns the gate VMA.
    pub fn ioctl_visible(&self) -> bool {
        self.start < GATE_AREA_START
    }

    /// Whether the kernel's file-backed filter keeps it: any absolute path
    /// (memfd, SysV shm, "/dev/zero (deleted)" too) or "[anon_shmem:...]".
    pub fn file_backed(&self) -> bool {
        self.name.first() == Some(&b'/') || (self.name.len() > 12 && self.name.starts_with(b"[anon_shmem:"))
    }

    /// PROCMAPQ_KIND_* as the header defines it, from the name alone.
    pub fn expected_kind(&self) -> u32 {
        let n = self.name.as_slice();
        match n {
            b"" => sys::PROCMAPQ_KIND_ANONYMOUS,
            b"[heap]" => sys::PROCMAPQ_KIND_HEAP,
            b"[stack]" => sys::PROCMAPQ_KIND_STACK,
            b"[vdso]" => sys::PROCMAPQ_KIND_VDSO,
            b"[vvar]" | b"[vvar_vclock]" => sys::PROCMAPQ_KIND_VVAR,
            b"[vsyscall]" => sys::PROCMAPQ_KIND_VSYSCALL,
            _ if n.starts_with(b"[") && n.ends_with(b"]") => {
                if n.starts_with(b"[anon:") || n.starts_with(b"[anon_shmem:") {
                    sys::PROCMAPQ_KIND_NAMED_ANON
                } else {
                    sys::PROCMAPQ_KIND_SPECIAL
                }
            }
            _ if n.ends_with(b" (deleted)") => sys::PROCMAPQ_KIND_DELETED_FILE,
            _ => sys::PROCMAPQ_KIND_FILE,
        }
    }

    pub fn deleted(&self) -> bool {
        self.name.ends_with(b" (deleted)")
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

fn parse_hex(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 16 || !field.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(field).ok()?, 16).ok()
}

fn parse_perms(p: &[u8]) -> Option<u32> {
    if p.len() != 4 {
        return None;
    }
    let mut perms = 0;
    for (i, (c, bit)) in [(b'r', sys::PROCMAPQ_PERM_R), (b'w', sys::PROCMAPQ_PERM_W), (b'x', sys::PROCMAPQ_PERM_X)]
        .into_iter()
        .enumerate()
    {
        match p[i] {
            x if x == c => perms |= bit,
            b'-' => {}
            _ => return None,
        }
    }
    match p[3] {
        b's' => perms |= sys::PROCMAPQ_PERM_SHARED,
        b'p' => {}
        _ => return None,
    }
    Some(perms)
}

/// Takes bytes up to `delim` from `line[*pos..]` and moves past it.
fn take_until<'a>(line: &'a [u8], pos: &mut usize, delim: u8) -> Option<&'a [u8]> {
    let rest = &line[*pos..];
    let len = rest.iter().position(|&c| c == delim)?;
    *pos += len + 1;
    Some(&rest[..len])
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Option<MapsEntry> {
    let mut pos = 0;
    let start = parse_hex(take_until(line, &mut pos, b'-')?)?;
    let end = parse_hex(take_until(line, &mut pos, b' ')?)?;
    let perms = parse_perms(take_until(line, &mut pos, b' ')?)?;
    let offset = parse_hex(take_until(line, &mut pos, b' ')?)?;
    let major = parse_hex(take_until(line, &mut pos, b':')?)?;
    let minor = parse_hex(take_until(line, &mut pos, b' ')?)?;
    let digits = line[pos..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || start >= end {
        return None;
    }
    let inode: u64 = std::str::from_utf8(&line[pos..pos + digits]).ok()?.parse().ok()?;
    pos += digits;
    let mut entry = MapsEntry {
        start,
        end,
        perms,
        offset,
        dev_major: u32::try_from(major).ok()?,
        dev_minor: u32::try_from(minor).ok()?,
        inode,
        name: Vec::new(),
        raw_name: Vec::new(),
        ambiguous: false,
    };
    // Unnamed: the header's trailing space (or nothing) ends the line.
    if pos == line.len() || (pos + 1 == line.len() && line[pos] == b' ') {
        return Some(entry);
    }
    // Named: spaces up to the pad column, one more, then the name verbatim.
    let name_start = (pos + 1).max(NAME_PAD_COLUMN) + 1;
    if name_start >= line.len() || !line[pos..name_start].iter().all(|&c| c == b' ') {
        return None;
    }
    entry.raw_name = line[name_start..].to_vec();
    let raw = &entry.raw_name;
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"\\012") {
            entry.name.push(b'\n');
            entry.ambiguous = true;
            i += 4;
        } else {
            entry.name.push(raw[i]);
            i += 1;
        }
    }
    Some(entry)
}

/// Parses a whole maps text; panics naming the first bad line.
pub fn parse_maps(text: &[u8]) -> Vec<MapsEntry> {
    text.split(|&c| c == b'\n')
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| {
            parse_line(line)
                .unwrap_or_else(|| panic!("maps line {}: cannot parse {:?}", i + 1, String::from_utf8_lossy(line)))
        })
        .collect()
}

pub fn read_maps_text(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/maps")).expect("read /proc/PID/maps")
}

pub fn read_maps(pid: i32) -> Vec<MapsEntry> {
    parse_maps(&read_maps_text(pid))
}

/// The entry covering addr.
pub fn find(maps: &[MapsEntry], addr: u64) -> Option<&MapsEntry> {
    let i = maps.partition_point(|e| e.end <= addr);
    maps.get(i).filter(|e| e.contains(addr))
}

unsafe extern "C" {
    // glibc; _SC_PAGESIZE is 30 on Linux.
    fn sysconf(name: c_int) -> c_long;
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { sysconf(30) }) as u64
}

/// The target program: a copy of $PROCMAPQ_TARGET (make passes
/// build/target), else compiled here once from tests/target/target.c with
/// $CC (default gcc). Left in the scratch directory, one per test process.
pub fn target_program() -> PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            // Integration tests have a scratch directory; examples do not.
            let scratch = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
            let out = scratch.join(format!("procmapq-target-{}", std::process::id()));
            if let Some(given) = std::env::var_os("PROCMAPQ_TARGET").filter(|p| !p.is_empty()) {
                // A private copy: a concurrent rebuild of build/target would
                // turn the running targets' mappings into "(deleted)" ones.
                std::fs::copy(&given, &out).unwrap_or_else(|e| panic!("copy {given:?}: {e}"));
                return out;
            }
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/target/target.c");
            let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".into());
            let status = Command::new(&cc)
                .args(["-O2", "-std=gnu11", "-o"])
                .arg(&out)
                .arg(&source)
                .status()
                .unwrap_or_else(|e| panic!("run {cc}: {e}"));
            assert!(status.success(), "{cc} {}: {status}", source.display());
            out
        })
        .clone()
}

/// A live target process; told to exit (and reaped) on drop.
pub struct Target {
    child: Child,
    stdin: Option<ChildStdin>,
    pub pid: i32,
    /// "map LABEL START END" lines: (label, start, end).
    pub maps: Vec<(String, u64, u64)>,
}

impl Target {
    /// Starts the target with these options (e.g. ["-f", "-m", "2"]) and
    /// waits for "ready PID".
    pub fn spawn(args: &[&str]) -> Target {
        let program = target_program();
        // Command execs the child right after fork (or uses posix_spawn), so
        // the Go runtime loaded in this process is not run in the child.
        let mut child = Command::new(&program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut maps = Vec::new();
        let pid = loop {
            let line = lines.next().expect("target ended before 'ready'").expect("read target");
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["map", label, start, end] => maps.push((
                    label.to_string(),
                    u64::from_str_radix(start, 16).expect("hex start"),
                    u64::from_str_radix(end, 16).expect("hex end"),
                )),
                ["ready", pid] => break pid.parse().expect("pid"),
                _ => {}
            }
        };
        Target { child, stdin, pid, maps }
    }

    /// The range of a labelled mapping, if the target made it.
    pub fn range(&self, label: &str) -> Option<(u64, u64)> {
        self.maps.iter().find(|(l, _, _)| l == label).map(|&(_, s, e)| (s, e))
    }

    /// Ends the process and reaps it.
    pub fn exit(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"exit\n");
        }
        let _ = self.child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.exit();
    }
}

/// Where a VMA came from, for the documented differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ioctl,
    Text,
    /// Auto: told apart per VMA by page_size != 0.
    Either,
}

impl Source {
    pub fn of(backend: procmapq::Backend) -> Source {
        match backend {
            procmapq::Backend::Ioctl => Source::Ioctl,
            procmapq::Backend::Text => Source::Text,
            procmapq::Backend::Auto => Source::Either,
        }
    }
}

/// Escapes '\n' as "\012", the way the kernel prints names.
fn escape_newlines(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &c in name {
        if c == b'\n' { out.extend_from_slice(b"\\012") } else { out.push(c) }
    }
    out
}

/// Checks a library VMA against the parser's entry, allowing only the
/// documented differences: the page size only from the ioctl, names of
/// PATH_MAX or more only from the text, "\012" ambiguous only in the text.
pub fn check_vma(v: &procmapq::Vma<'_>, raw: &sys::procmapq_vma, e: &MapsEntry, source: Source) -> Result<(), String> {
    let at = format!("{:#x}-{:#x} {:?}", e.start, e.end, e.name_str());
    if (v.start, v.end, v.perms, v.offset, v.inode, v.dev_major, v.dev_minor)
        != (e.start, e.end, e.perms, e.offset, e.inode, e.dev_major, e.dev_minor)
    {
        return Err(format!(
            "{at}: library {:#x}-{:#x} {} {:x} {:x}:{:x} {}, parser {} {:x} {:x}:{:x} {}",
            v.start,
            v.end,
            procmapq::perms_string(v.perms),
            v.offset,
            v.dev_major,
            v.dev_minor,
            v.inode,
            procmapq::perms_string(e.perms),
            e.offset,
            e.dev_major,
            e.dev_minor,
            e.inode
        ));
    }
    let from_ioctl = match source {
        Source::Ioctl => true,
        Source::Text => false,
        Source::Either => v.page_size != 0,
    };
    if from_ioctl {
        let huge = e.name.starts_with(b"/anon_hugepage");
        let ok = if huge { v.page_size > page_size() } else { v.page_size == page_size() };
        if !ok {
            return Err(format!("{at}: page size {} from the ioctl", v.page_size));
        }
        if !e.ioctl_visible() {
            return Err(format!("{at}: the ioctl returned the gate VMA"));
        }
    } else if v.page_size != 0 {
        return Err(format!("{at}: page size {} from the text", v.page_size));
    }
    let mut want_flags = if e.deleted() { sys::PROCMAPQ_VMA_DELETED } else { 0 };
    if from_ioctl && e.name.len() >= KERNEL_PATH_MAX {
        want_flags = sys::PROCMAPQ_VMA_NAME_UNAVAILABLE;
        if !v.name.is_empty() {
            return Err(format!("{at}: a name of {} bytes from the ioctl", v.name.len()));
        }
    } else if from_ioctl && e.ambiguous {
        if escape_newlines(v.name) != e.raw_name {
            return Err(format!("{at}: ioctl name {:?} does not escape to the text's", String::from_utf8_lossy(v.name)));
        }
    } else {
        if !from_ioctl && e.ambiguous {
            want_flags |= sys::PROCMAPQ_VMA_NAME_AMBIGUOUS;
        }
        if v.name != e.name.as_slice() {
            return Err(format!("{at}: library name {:?}", String::from_utf8_lossy(v.name)));
        }
    }
    if v.flags != want_flags {
        return Err(format!("{at}: flags {:#x}, want {want_flags:#x}", v.flags));
    }
    if v.kind != e.expected_kind() && v.flags & sys::PROCMAPQ_VMA_NAME_UNAVAILABLE == 0 {
        return Err(format!("{at}: kind {}, want {}", v.kind, e.expected_kind()));
    }
    if raw.reserved != [0; 4] {
        return Err(format!("{at}: reserved {:?}", raw.reserved));
    }
    Ok(())
}

/// A batch of addresses for a map: 0, just below the first VMA, u64::MAX,
/// each VMA's first, middle and last byte, the first byte of each gap, then
/// duplicates, shuffled (xorshift32, so a failure is reproducible).
pub fn test_addresses(maps: &[MapsEntry], seed: u32) -> Vec<u64> {
    let mut addrs = vec![0, u64::MAX];
    if let Some(first) = maps.first().filter(|e| e.start > 0) {
        addrs.push(first.start - 1);
    }
    for (i, e) in maps.iter().enumerate() {
        addrs.extend([e.start, e.end - 1, e.start + (e.end - e.start) / 2]);
        if maps.get(i + 1).is_none_or(|next| e.end < next.start) {
            addrs.push(e.end);
        }
    }
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as usize
    };
    for _ in 0..addrs.len() / 8 + 1 {
        let pick = addrs[next() % addrs.len()];
        addrs.push(pick);
    }
    for i in (1..addrs.len()).rev() {
        addrs.swap(i, next() % (i + 1));
    }
    addrs
}

/// Whether the kernel has PROCMAP_QUERY (skip ioctl-only checks if not).
/// Under PROCMAPQ_REQUIRE_IOCTL=1 (set by .ci/run where its probe found the
/// ioctl; the seccomp mask and PROCMAPQ_FORCE_PROBE=0 lift it) a missing
/// ioctl panics, so no test skips or narrows itself silently
/// (tests/c/check.h has the same rule).
pub fn have_ioctl() -> bool {
    let ok = procmapq::supports_procmap_query().expect("probe");
    let required = std::env::var("PROCMAPQ_REQUIRE_IOCTL").is_ok_and(|v| v == "1")
        && !std::env::var("PROCMAPQ_FORCE_PROBE").is_ok_and(|v| v == "0");
    assert!(ok || !required, "PROCMAP_QUERY unavailable, but PROCMAPQ_REQUIRE_IOCTL=1: cannot skip");
    ok
}

/// Backends to test: auto and text always, ioctl when the kernel has it.
pub fn backends() -> Vec<procmapq::Backend> {
    let mut all = vec![procmapq::Backend::Auto, procmapq::Backend::Text];
    if have_ioctl() {
        all.push(procmapq::Backend::Ioctl);
    } else {
        eprintln!("skipping the ioctl backend: the kernel lacks PROCMAP_QUERY (Linux 6.11+)");
    }
    all
}
