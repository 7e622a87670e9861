//! The safe layer on live processes this test spawns (tests/target), checked
//! against the independent maps parser in tests/common.

mod common;

use std::collections::HashSet;
use std::fs::File;
use std::io;

use common::{Source, Target, check_vma, find, read_maps, read_maps_text, test_addresses};
use procmapq::{Backend, Handle, NormalizeOptions, QueryOptions, sys};

/// (perms, file_backed) filters every backend is checked with.
const FILTERS: &[(u32, bool)] = &[
    (0, false),
    (sys::PROCMAPQ_PERM_X, false),
    (sys::PROCMAPQ_PERM_R | sys::PROCMAPQ_PERM_X, false),
    (sys::PROCMAPQ_PERM_SHARED, false),
    (0, true),
    (sys::PROCMAPQ_PERM_R, true),
];

fn passes(e: &common::MapsEntry, perms: u32, file_backed: bool) -> bool {
    e.perms & perms == perms && (!file_backed || e.file_backed())
}

/// Where a call's VMAs come from. Auto is told apart per VMA (page size):
/// it may answer from the ioctl yet know the [vsyscall] gate VMA from an
/// earlier text read.
fn source_of(table: &procmapq::VmaTable, backend: Backend) -> Source {
    match (backend, table.strategy()) {
        (Backend::Auto, sys::PROCMAPQ_STRATEGY_TEXT) => Source::Text,
        _ => Source::of(backend),
    }
}

/// Checks an enumeration against the parser's entries that pass the filter.
fn check_enumeration(what: &str, table: &procmapq::VmaTable, maps: &[common::MapsEntry], backend: Backend, perms: u32, file_backed: bool) {
    let source = source_of(table, backend);
    let mut got = table.iter().zip(table.raw()).peekable();
    for e in maps.iter().filter(|e| passes(e, perms, file_backed)) {
        // The ioctl never shows [vsyscall]; a mixed auto call may or may not.
        let next_is_it = got.peek().is_some_and(|(v, _)| v.start == e.start);
        if !e.ioctl_visible() && (source == Source::Ioctl || (source == Source::Either && !next_is_it)) {
            continue;
        }
        let (v, raw) = got.next().unwrap_or_else(|| panic!("{what}: missing {:#x}-{:#x} {:?}", e.start, e.end, e.name_str()));
        if let Err(why) = check_vma(&v, raw, e, source) {
            panic!("{what}: {why}");
        }
    }
    if let Some((v, _)) = got.next() {
        panic!("{what}: extra VMA {:#x}-{:#x}", v.start, v.end);
    }
}

/// Checks a query's lookups and table against the parser.
fn check_query(what: &str, addrs: &[u64], res: &procmapq::QueryResult, maps: &[common::MapsEntry], backend: Backend, perms: u32, file_backed: bool) {
    assert_eq!(res.len(), addrs.len(), "{what}: one lookup per address");
    let source = source_of(res.table(), backend);
    let mut used = HashSet::new();
    for (i, (&addr, l)) in addrs.iter().zip(res.lookups()).enumerate() {
        let raw = res.raw_lookups()[i];
        assert_eq!(raw.reserved, 0, "{what}: {addr:#x}: reserved");
        let e = find(maps, addr);
        let mut want = match e {
            None => sys::PROCMAPQ_REASON_UNMAPPED,
            Some(e) if source == Source::Ioctl && !e.ioctl_visible() => sys::PROCMAPQ_REASON_UNMAPPED,
            Some(e) if !passes(e, perms, file_backed) => sys::PROCMAPQ_REASON_FILTERED,
            Some(_) => sys::PROCMAPQ_REASON_FOUND,
        };
        if e.is_some_and(|e| !e.ioctl_visible()) && source == Source::Either && l.reason == sys::PROCMAPQ_REASON_UNMAPPED {
            want = sys::PROCMAPQ_REASON_UNMAPPED; // the gate VMA, answered by an ioctl
        }
        assert_eq!(l.reason, want, "{what}: {addr:#x}: reason");
        let Some(e) = e.filter(|_| want == sys::PROCMAPQ_REASON_FOUND) else {
            assert!(l.vma.is_none() && raw.vma == -1 && l.file_offset == 0, "{what}: {addr:#x}: not found but {raw:?}");
            continue;
        };
        let v = l.vma.unwrap_or_else(|| panic!("{what}: {addr:#x}: found without a VMA ({raw:?})"));
        used.insert(raw.vma);
        if let Err(why) = check_vma(&v, &res.table().raw()[raw.vma as usize], e, source) {
            panic!("{what}: {addr:#x}: {why}");
        }
        assert_eq!(l.file_offset, addr - e.start + e.offset, "{what}: {addr:#x}: file offset");
    }
    let table = res.table();
    assert_eq!(used.len(), table.len(), "{what}: the table holds VMAs no lookup uses");
    assert!(table.iter().zip(table.iter().skip(1)).all(|(a, b)| a.end <= b.start), "{what}: table not ascending");
}

#[test]
fn enumerate_and_query_agree_with_the_parser() {
    let target = Target::spawn(&["-f", "-m", "2", "-n", "40"]);
    let h = Handle::open(target.pid).expect("open the target");
    assert_eq!(h.pid().unwrap(), target.pid);
    let maps = read_maps(target.pid);
    let addrs = test_addresses(&maps, 42);
    for backend in common::backends() {
        for &(perms, file_backed) in FILTERS {
            let opts = QueryOptions { backend, perms, file_backed, ..Default::default() };
            let what = format!("{backend:?} perms={} file_backed={file_backed}", procmapq::perms_string(perms));
            let table = h.enumerate(&opts).unwrap_or_else(|e| panic!("{what}: enumerate: {e}"));
            check_enumeration(&format!("enumerate {what}"), &table, &maps, backend, perms, file_backed);
            let res = h.query(&addrs, &opts).unwrap_or_else(|e| panic!("{what}: query: {e}"));
            check_query(&format!("query {what}"), &addrs, &res, &maps, backend, perms, file_backed);
        }
    }
}

#[test]
fn sorted_batches_and_buffer_reuse() {
    let target = Target::spawn(&["-m", "3", "-n", "10"]);
    let h = Handle::open(target.pid).unwrap();
    let maps = read_maps(target.pid);
    let mut addrs = test_addresses(&maps, 7);
    addrs.sort_unstable();
    let mut res = procmapq::QueryResult::default();
    for backend in common::backends() {
        let opts = QueryOptions { backend, sorted: true, ..Default::default() };
        h.query_into(&addrs, &opts, &mut res).unwrap();
        check_query(&format!("sorted {backend:?}"), &addrs, &res, &maps, backend, 0, false);
        // A smaller batch into the same (larger) arrays.
        h.query_into(&addrs[..5], &opts, &mut res).unwrap();
        check_query(&format!("reused {backend:?}"), &addrs[..5], &res, &maps, backend, 0, false);
    }
    let empty = h.query(&[], &QueryOptions::default()).unwrap();
    assert!(empty.is_empty() && empty.table().is_empty());
}

#[test]
fn large_maps_grow_the_arrays() {
    // 5,000 VMAs: more than the first guess of the safe layer (256 VMAs,
    // 64 KiB of names), so -ERANGE and the retry with the sizes needed run.
    let target = Target::spawn(&["-n", "5000", "-m", "4"]);
    let h = Handle::open(target.pid).unwrap();
    let maps = read_maps(target.pid);
    assert!(maps.len() > 5000);
    for backend in common::backends() {
        let table = h.enumerate(&QueryOptions { backend, ..Default::default() }).unwrap();
        check_enumeration(&format!("5000 VMAs {backend:?}"), &table, &maps, backend, 0, false);
        let addrs: Vec<u64> = maps.iter().map(|e| e.start).collect();
        let res = h.query(&addrs, &QueryOptions { backend, ..Default::default() }).unwrap();
        check_query(&format!("5000 VMAs query {backend:?}"), &addrs, &res, &maps, backend, 0, false);
    }
}

#[test]
fn text_and_fd_handles_agree_with_the_parser() {
    let target = Target::spawn(&["-f", "-m", "1"]);
    let text = read_maps_text(target.pid);
    let maps = common::parse_maps(&text);

    let from_text = Handle::open_text(&text).expect("open_text");
    assert_eq!(from_text.pid().unwrap(), 0, "a text handle has no pid");
    let table = from_text.enumerate(&QueryOptions::default()).unwrap();
    assert_eq!(table.strategy(), sys::PROCMAPQ_STRATEGY_TEXT);
    check_enumeration("text handle", &table, &maps, Backend::Text, 0, false);

    let file = File::open(format!("/proc/{}/maps", target.pid)).unwrap();
    let from_fd = Handle::open_fd(&file, target.pid).expect("open_fd");
    drop(file); // the library keeps its own duplicate
    assert_eq!(from_fd.pid().unwrap(), target.pid);
    for backend in common::backends() {
        let table = from_fd.enumerate(&QueryOptions { backend, ..Default::default() }).unwrap();
        check_enumeration(&format!("fd handle {backend:?}"), &table, &maps, backend, 0, false);
    }
}

/// The GNU build ID of an ELF64 file, read from its PT_NOTE segments.
fn file_build_id(path: &std::path::Path) -> Option<Vec<u8>> {
    let elf = std::fs::read(path).ok()?;
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    if elf.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph) != 4 {
            continue; // not PT_NOTE
        }
        let (mut pos, end) = (u64_at(ph + 8), u64_at(ph + 8) + u64_at(ph + 32));
        while pos + 12 <= end {
            let (namesz, descsz, kind) = (u32_at(pos), u32_at(pos + 4), u32_at(pos + 8));
            let desc = pos + 12 + namesz.div_ceil(4) * 4;
            if kind == 3 && namesz == 4 && &elf[pos + 12..pos + 16] == b"GNU\0" {
                return Some(elf[desc..desc + descsz].to_vec());
            }
            pos = desc + descsz.div_ceil(4) * 4;
        }
    }
    None
}

#[test]
fn normalize_agrees_with_the_parser() {
    let target = Target::spawn(&["-f", "-m", "2"]);
    let h = Handle::open(target.pid).unwrap();
    let maps = read_maps(target.pid);
    let exe = std::fs::canonicalize(common::target_program()).unwrap();
    let exe_build_id = file_build_id(&exe);
    let mut addrs: Vec<u64> = maps.iter().filter(|e| e.ioctl_visible()).map(|e| e.start + (e.end - e.start) / 2).collect();
    addrs.push(0x10); // unmapped
    for backend in common::backends() {
        for file_backed in [false, true] {
            let what = format!("{backend:?} file_backed={file_backed}");
            let opts = NormalizeOptions { backend, file_backed, build_ids: true, ..Default::default() };
            let res = h.normalize(&addrs, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(res.outputs().len(), addrs.len(), "{what}");
            let mut saw_exe = false;
            for (&addr, (out, meta)) in addrs.iter().zip(res.iter()) {
                let m = meta.unwrap_or_else(|| panic!("{what}: {addr:#x}: meta {} out of range", out.meta));
                let Some(e) = find(&maps, addr) else {
                    assert_eq!((m.kind, m.reason, out.file_offset), (sys::PROCMAPQ_META_UNKNOWN, sys::PROCMAPQ_NORM_REASON_UNMAPPED, addr), "{what}: {addr:#x}");
                    continue;
                };
                let is_vdso = e.name == b"[vdso]";
                let want_kind = if e.file_backed() {
                    sys::PROCMAPQ_META_ELF
                } else if is_vdso && !file_backed {
                    sys::PROCMAPQ_META_VDSO
                } else {
                    sys::PROCMAPQ_META_UNKNOWN
                };
                assert_eq!(m.kind, want_kind, "{what}: {addr:#x} {:?}: kind", e.name_str());
                if want_kind == sys::PROCMAPQ_META_UNKNOWN {
                    let want_reason = if file_backed && !e.file_backed() {
                        sys::PROCMAPQ_NORM_REASON_FILTERED
                    } else if e.name.is_empty() {
                        sys::PROCMAPQ_NORM_REASON_ANONYMOUS
                    } else {
                        sys::PROCMAPQ_NORM_REASON_UNSUPPORTED
                    };
                    assert_eq!((m.reason, out.file_offset), (want_reason, addr), "{what}: {addr:#x} {:?}", e.name_str());
                    continue;
                }
                assert_eq!(out.file_offset, addr - e.start + e.offset, "{what}: {addr:#x} {:?}: file offset", e.name_str());
                // Exact names, except the documented ioctl cases.
                assert!(m.path == e.name.as_slice() || e.ambiguous || e.name.len() >= common::KERNEL_PATH_MAX,
                    "{what}: {addr:#x}: path {:?}, parser {:?}", String::from_utf8_lossy(m.path), e.name_str());
                assert_eq!(m.flags & sys::PROCMAPQ_META_F_DELETED != 0, e.deleted(), "{what}: {addr:#x}: deleted flag");
                if want_kind == sys::PROCMAPQ_META_ELF {
                    assert_eq!((m.dev_major, m.dev_minor, m.inode), (e.dev_major, e.dev_minor, e.inode), "{what}: {addr:#x}: file identity");
                }
                if m.path == exe.as_os_str().as_encoded_bytes() {
                    saw_exe = true;
                    assert_eq!(Some(m.build_id.to_vec()), exe_build_id, "{what}: build ID of {}", exe.display());
                    assert_ne!(m.build_id_source, sys::PROCMAPQ_BUILD_ID_NONE);
                }
            }
            assert!(saw_exe, "{what}: the target binary {} is not among the metas", exe.display());
        }
    }
}

#[test]
fn normalize_own_code() {
    let h = Handle::open(0).unwrap();
    let local = 0u64;
    let addrs = [
        normalize_own_code as *const () as u64,
        sys::procmapq_version as *const () as u64, // in libprocmapq.so
        std::ptr::addr_of!(local) as u64,  // the stack: not a file
    ];
    let res = h.normalize(&addrs, &NormalizeOptions { build_ids: true, virt_addrs: true, ..Default::default() }).unwrap();
    let maps = read_maps(std::process::id() as i32);
    for (i, (&addr, (out, meta))) in addrs.iter().zip(res.iter()).enumerate() {
        let m = meta.unwrap();
        let e = find(&maps, addr).expect("own address mapped");
        if i == 2 {
            assert_eq!(m.kind, sys::PROCMAPQ_META_UNKNOWN);
            continue;
        }
        assert_eq!(m.kind, sys::PROCMAPQ_META_ELF, "{addr:#x}");
        assert_eq!(m.path, e.name.as_slice());
        assert_eq!(out.file_offset, addr - e.start + e.offset);
        let file_id = file_build_id(std::path::Path::new(&e.name_str()));
        if let Some(id) = file_id {
            assert_eq!(m.build_id, id.as_slice(), "{}: build ID", e.name_str());
        }
    }
    let library = res.meta(res.outputs()[1].meta as usize).unwrap();
    assert!(String::from_utf8_lossy(library.path).contains("/libprocmapq.so"), "{:?}", String::from_utf8_lossy(library.path));
}

#[test]
fn compare_reports_only_expected_differences() {
    if !common::have_ioctl() {
        eprintln!("skipped: procmapq_compare needs PROCMAP_QUERY (Linux 6.11+)");
        return;
    }
    let target = Target::spawn(&["-f"]);
    let h = Handle::open(target.pid).unwrap();
    let report = h.compare(&procmapq::CompareOptions::default()).unwrap();
    let maps = read_maps(target.pid);
    assert!(report.settled());
    assert_eq!(report.mismatch_count(), 0, "{:?}", report.diffs().collect::<Vec<_>>());
    assert_eq!(report.raw().text_vmas as usize, maps.len());
    assert_eq!(report.raw().ioctl_vmas as usize, maps.iter().filter(|e| e.ioctl_visible()).count());
    // The differences predicted from the parser and the target's labels,
    // and no others: the gate VMA (text only), the name >= PATH_MAX (text
    // only), and the file really named "back\012slash" (the text's "\012"
    // reads as a newline). A real newline is escaped alike by both.
    let mut want: Vec<(u32, u64)> = maps
        .iter()
        .filter_map(|e| match () {
            _ if !e.ioctl_visible() => Some((sys::PROCMAPQ_DIFF_GATE_VMA, e.start)),
            _ if e.name.len() >= common::KERNEL_PATH_MAX => Some((sys::PROCMAPQ_DIFF_NAME_TOO_LONG, e.start)),
            _ => None,
        })
        .collect();
    let (backslash_start, _) = target.range("backslash012").expect("the target maps back\\012slash");
    want.push((sys::PROCMAPQ_DIFF_NAME_ESCAPING, backslash_start));
    want.sort();
    let mut got: Vec<(u32, u64)> = report
        .diffs()
        .map(|d| {
            assert!(d.expected(), "unexpected difference {d:?}");
            (d.kind, d.text.clone().or(d.ioctl.clone()).map_or(0, |r| r.start))
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn one_handle_shared_by_threads() {
    let target = Target::spawn(&["-m", "2", "-n", "100"]);
    let h = Handle::open(target.pid).unwrap();
    let maps = read_maps(target.pid);
    std::thread::scope(|s| {
        for seed in 1..=4u32 {
            let (h, maps) = (&h, &maps);
            s.spawn(move || {
                let addrs = test_addresses(maps, seed);
                for _ in 0..20 {
                    let res = h.query(&addrs, &QueryOptions::default()).unwrap();
                    check_query(&format!("thread {seed}"), &addrs, &res, maps, Backend::Auto, 0, false);
                }
            });
        }
    });
    // A handle may also move to another thread and be dropped there.
    std::thread::spawn(move || drop(h)).join().unwrap();
}

fn assert_errno(err: &io::Error, errno: i32, what: &str) {
    assert_eq!(procmapq::errno(err), Some(errno), "{what}: {err}");
    let lib = err.get_ref().and_then(|e| e.downcast_ref::<procmapq::LibraryError>()).expect("a LibraryError payload");
    assert!(!lib.message.is_empty(), "{what}: no message");
    assert_eq!(err.kind(), io::Error::from_raw_os_error(errno).kind(), "{what}");
}

const EBADF: i32 = 9;
const ESRCH: i32 = 3;
const EINVAL: i32 = 22;
const E2BIG: i32 = 7;

#[test]
fn bad_input_gives_errors() {
    let err = Handle::open(-1).unwrap_err();
    assert_errno(&err, EINVAL, "pid -1");
    // A pid above pid_max (2^22) never exists.
    let err = Handle::open(0x7fff_fff0).unwrap_err();
    assert_errno(&err, ESRCH, "no such pid");
    assert!(err.to_string().contains("2147483632"), "message names the pid: {err}");

    let err = Handle::open_text(b"not a maps line\n").unwrap_err();
    assert_errno(&err, EINVAL, "malformed text");
    let err = Handle::open_text(b"2000-1000 r--p 00000000 00:00 0 \n").unwrap_err();
    assert_errno(&err, EINVAL, "start after end");
    let empty = Handle::open_text(b"").expect("an empty map is valid");
    assert!(empty.enumerate(&QueryOptions::default()).unwrap().is_empty());

    let dev_null = File::open("/dev/null").unwrap();
    assert_errno(&Handle::open_fd(&dev_null, 0).unwrap_err(), EINVAL, "fd not on procfs");
    let err = Handle::open_in(0, std::path::Path::new("/nonexistent-proc")).unwrap_err();
    assert!(procmapq::errno(&err).is_some(), "{err}");
    let err = Handle::open_in(0, std::path::Path::new("/pr\0c")).unwrap_err();
    assert_errno(&err, EINVAL, "NUL in proc root");

    let text = Handle::open_text(b"1000-2000 r--p 00000000 00:00 0 \n").unwrap();
    assert_errno(&text.compare(&Default::default()).unwrap_err(), EINVAL, "compare on a text handle");
    assert_errno(&text.reopen().unwrap_err(), EINVAL, "reopen a text handle");

    // A target that is gone: every call says so, with the pid.
    let mut target = Target::spawn(&[]);
    let h = Handle::open(target.pid).unwrap();
    target.exit();
    let err = h.query(&[0x1000], &QueryOptions::default()).unwrap_err();
    assert_errno(&err, ESRCH, "query a gone target");
    assert_errno(&h.enumerate(&QueryOptions::default()).unwrap_err(), ESRCH, "enumerate a gone target");
    assert_errno(&h.normalize(&[0x1000], &NormalizeOptions::default()).unwrap_err(), ESRCH, "normalize a gone target");
}

#[test]
fn bad_input_through_sys_gives_errno() {
    let h = Handle::open(0).unwrap();
    let addr = [bad_input_through_sys_gives_errno as *const () as u64];
    let mut lookups = [sys::procmapq_lookup::default(); 1];
    let mut vmas = [sys::procmapq_vma::default(); 4];
    let mut names = [0u8; 8192];
    let mut buf = sys::procmapq_vma_buf {
        size: size_of::<sys::procmapq_vma_buf>() as u64,
        vmas: vmas.as_mut_ptr(),
        vmas_cap: vmas.len() as u64,
        names: names.as_mut_ptr().cast(),
        names_cap: names.len() as u64,
        vmas_count: 0,
        names_len: 0,
        strategy: 0,
        syscalls: 0,
    };
    let query = |opts: *const sys::procmapq_query_opts, buf: &mut sys::procmapq_vma_buf, lookups: &mut [sys::procmapq_lookup]| {
        // SAFETY: every pointer is valid for the sizes given.
        unsafe { sys::procmapq_query(h.as_ptr(), addr.as_ptr(), 1, opts, lookups.as_mut_ptr(), buf) }
    };
    let opts = |flags, size| sys::procmapq_query_opts { size, backend: 0, flags, perms: 0, reserved: 0 };
    let full = size_of::<sys::procmapq_query_opts>() as u64;
    assert_eq!(query(&opts(0, full), &mut buf, &mut lookups), 1);
    assert_eq!(lookups[0].reason, sys::PROCMAPQ_REASON_FOUND);
    assert_eq!(query(&opts(0x80, full), &mut buf, &mut lookups), -EINVAL, "unknown flag");
    assert_eq!(query(&opts(0, 4), &mut buf, &mut lookups), -EINVAL, "size < 8");
    let bad_backend = sys::procmapq_query_opts { backend: 9, ..opts(0, full) };
    assert_eq!(query(&bad_backend, &mut buf, &mut lookups), -EINVAL, "unknown backend");
    // A newer caller's larger struct: a zero tail is fine, a non-zero one E2BIG.
    #[repr(C)]
    struct Larger {
        opts: sys::procmapq_query_opts,
        future: u64,
    }
    let mut larger = Larger { opts: opts(0, size_of::<Larger>() as u64), future: 0 };
    assert_eq!(query(&larger.opts, &mut buf, &mut lookups), 1, "zero tail");
    larger.future = 1;
    assert_eq!(query(&larger.opts, &mut buf, &mut lookups), -E2BIG, "non-zero tail");
    // A too-small VMA array: -ERANGE and the size needed.
    let mut small = sys::procmapq_vma_buf { vmas_cap: 0, ..buf };
    assert_eq!(query(&opts(0, full), &mut small, &mut lookups), -34);
    assert_eq!(small.vmas_count, 1, "-ERANGE reports the VMAs needed");
    // SAFETY: NULL handle and NULL arguments: the library must refuse them.
    unsafe {
        assert_eq!(sys::procmapq_query(std::ptr::null_mut(), addr.as_ptr(), 1, std::ptr::null(), lookups.as_mut_ptr(), &mut buf), -EINVAL);
        assert_eq!(sys::procmapq_enumerate(h.as_ptr(), std::ptr::null(), std::ptr::null_mut()), -EINVAL);
        assert_eq!(sys::procmapq_open(0, std::ptr::null(), std::ptr::null_mut()), -EINVAL);
        assert_eq!(sys::procmapq_close(std::ptr::null_mut()), 0, "close(NULL) is a no-op");
        assert_eq!(sys::procmapq_pid(std::ptr::null()), -EINVAL);
        sys::procmapq_normalized_free(std::ptr::null_mut());
        sys::procmapq_compare_report_free(std::ptr::null_mut());
    }
    let _ = EBADF;
}

#[test]
fn library_metadata() {
    assert_eq!(procmapq::version(), sys::PROCMAPQ_VERSION_NUMBER, "header and library versions differ");
    assert_eq!(procmapq::strerror(-ESRCH), procmapq::strerror(ESRCH));
    assert!(!procmapq::strerror(-EINVAL).is_empty());
    assert_eq!(procmapq::perms_string(sys::PROCMAPQ_PERM_R | sys::PROCMAPQ_PERM_X), "r-xp");
    // The kernel has had PROCMAP_QUERY since 6.11; the library must see it.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let forced_off = std::env::var("PROCMAPQ_FORCE_PROBE").is_ok_and(|v| v == "0");
    if (major, minor) >= (6, 11) && !forced_off && std::env::var_os("PROCMAPQ_TEST_IGNORE_VERSION").is_none() {
        assert!(common::have_ioctl(), "kernel {} but no PROCMAP_QUERY", release.trim());
    }
}
