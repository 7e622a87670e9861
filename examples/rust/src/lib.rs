//! Rust bindings for libprocmapq: which mapping covers an address of a Linux
//! process, at which file offset, in which ELF file with which build ID.
//!
//! Two layers: [`sys`] mirrors `include/procmapq.h` one to one (structs,
//! constants, functions); this module wraps it safely: a [`Handle`] that
//! closes on drop, results as owned tables with slices and iterators, and
//! `std::io::Error` for failures.
//!
//! ```no_run
//! let h = procmapq::Handle::open(std::process::id() as i32)?;
//! let addr = procmapq::version as *const () as u64;
//! let res = h.query(&[addr], &procmapq::QueryOptions::default())?;
//! let vma = res.lookup(0).unwrap().vma.unwrap();
//! println!("{:#x} is in {}", addr, String::from_utf8_lossy(vma.name));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Error handling
//!
//! Every library call that returns `-errno` becomes an [`std::io::Error`]
//! whose kind follows the errno (`ESRCH` → `NotFound`, `EACCES` →
//! `PermissionDenied`, `EINVAL` → `InvalidInput`, ...) and whose payload is
//! a [`LibraryError`] holding the errno and the library's own message
//! (`procmapq_last_error()`, e.g. "procmapq: open pid 42 /proc/42/maps:
//! permission denied"). [`errno`] recovers the number.
//!
//! # Thread safety
//!
//! [`Handle`] is `Send` and `Sync`: the library allows any thread to call
//! on a handle and serializes calls on one handle internally; only close
//! must not race with other calls, and close happens in `Drop`, which needs
//! ownership. [`Normalized`] and [`CompareReport`] are immutable library
//! allocations, freed by thread-safe functions: `Send` and `Sync` too.
//!
//! # Hosting a Go runtime
//!
//! The library contains a Go runtime (see the header). Spawning processes
//! with `std::process::Command` is fine (it execs); do not `fork()` without
//! exec and call the library in the child. Rust's own "stack overflow"
//! message is lost once the runtime is loaded.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[allow(missing_docs)]
pub mod sys;

/// The README's Rust example, run as a doctest so it stays correct.
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("OUT_DIR"), "/readme_doctest.md"))]
pub struct ReadmeExample;

use std::borrow::Cow;
use std::ffi::{CStr, CString, c_int};
use std::fmt;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};

// Linux errno values the safe layer checks for or produces itself.
const ESRCH: i32 = 3;
const EINVAL: i32 = 22;
const ERANGE: i32 = 34;

/// How often a query or enumeration retries with larger arrays after
/// `-ERANGE` (the maps may grow between the calls).
const MAX_GROW_ATTEMPTS: usize = 8;

/// The payload of every [`io::Error`] this crate returns: the errno and the
/// library's message for the failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryError {
    /// The positive errno value (the library returned its negation).
    pub errno: i32,
    /// `procmapq_last_error()` right after the call, or
    /// `procmapq_strerror()` if the library left none.
    pub message: String,
}

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (errno {})", self.message, self.errno)
    }
}

impl std::error::Error for LibraryError {}

impl LibraryError {
    fn into_io(self) -> io::Error {
        io::Error::new(io::Error::from_raw_os_error(self.errno).kind(), self)
    }
}

/// The errno of an error from this crate (or of any OS error).
pub fn errno(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| err.get_ref()?.downcast_ref::<LibraryError>().map(|e| e.errno))
}

/// Turns a negative return value into an error carrying the library's
/// message. Must run right after the call: the message is per thread and
/// replaced by the next library call.
fn error_from_return(ret: c_int) -> io::Error {
    let errno = ret.checked_neg().unwrap_or(EINVAL);
    // SAFETY: procmapq_last_error never returns NULL; the string stays valid
    // on this thread until its next procmapq_* call, and is copied here.
    let message = unsafe { CStr::from_ptr(sys::procmapq_last_error()) }.to_string_lossy().into_owned();
    let message = if message.is_empty() { strerror(ret).to_string() } else { message };
    LibraryError { errno, message }.into_io()
}

fn check(ret: c_int) -> io::Result<usize> {
    if ret < 0 { Err(error_from_return(ret)) } else { Ok(ret as usize) }
}

/// An error the safe layer detects itself, before calling the library.
fn invalid_input(message: String) -> io::Error {
    LibraryError { errno: EINVAL, message }.into_io()
}

/// `procmapq_version()`: `PROCMAPQ_VERSION_NUMBER` of the loaded library.
pub fn version() -> u32 {
    // SAFETY: no arguments; never fails.
    unsafe { sys::procmapq_version() }
}

/// Whether the kernel has PROCMAP_QUERY (Linux 6.11+); probed once by the
/// library and cached. Without it every query uses the text backend.
pub fn supports_procmap_query() -> io::Result<bool> {
    // SAFETY: no arguments.
    let ret = unsafe { sys::procmapq_supports_procmap_query() };
    check(ret).map(|v| v == 1)
}

/// `procmapq_strerror()`: a short static description of a code (either sign).
pub fn strerror(code: i32) -> &'static str {
    // SAFETY: returns a static NUL-terminated string, never NULL.
    let s = unsafe { CStr::from_ptr(sys::procmapq_strerror(code)) };
    s.to_str().unwrap_or("unknown error")
}

/// The four-letter form of PROCMAPQ_PERM_* bits, as in /proc/<pid>/maps
/// ("r-xp").
pub fn perms_string(perms: u32) -> String {
    let bit = |mask, c| if perms & mask != 0 { c } else { '-' };
    [
        bit(sys::PROCMAPQ_PERM_R, 'r'),
        bit(sys::PROCMAPQ_PERM_W, 'w'),
        bit(sys::PROCMAPQ_PERM_X, 'x'),
        if perms & sys::PROCMAPQ_PERM_SHARED != 0 { 's' } else { 'p' },
    ]
    .iter()
    .collect()
}

/// Where answers come from (`PROCMAPQ_BACKEND_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The cheapest per call; the text on kernels before 6.11.
    #[default]
    Auto,
    /// PROCMAP_QUERY only; `ENOTTY` before Linux 6.11.
    Ioctl,
    /// Read and parse the whole maps text.
    Text,
}

impl Backend {
    fn raw(self) -> u32 {
        match self {
            Backend::Auto => sys::PROCMAPQ_BACKEND_AUTO,
            Backend::Ioctl => sys::PROCMAPQ_BACKEND_IOCTL,
            Backend::Text => sys::PROCMAPQ_BACKEND_TEXT,
        }
    }
}

/// Options of [`Handle::query`] and [`Handle::enumerate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Which backend answers.
    pub backend: Backend,
    /// PROCMAPQ_PERM_* bits a VMA must all have (0 = any).
    pub perms: u32,
    /// Only VMAs that map a file.
    pub file_backed: bool,
    /// Fill build IDs from the kernel (ioctl backend only).
    pub build_ids: bool,
    /// The addresses are ascending (skips a sort).
    pub sorted: bool,
}

impl QueryOptions {
    fn raw(&self) -> sys::procmapq_query_opts {
        let mut flags = 0;
        if self.sorted {
            flags |= sys::PROCMAPQ_QUERY_SORTED;
        }
        if self.build_ids {
            flags |= sys::PROCMAPQ_QUERY_BUILD_IDS;
        }
        if self.file_backed {
            flags |= sys::PROCMAPQ_QUERY_FILE_BACKED;
        }
        sys::procmapq_query_opts {
            size: size_of::<sys::procmapq_query_opts>() as u64,
            backend: self.backend.raw(),
            flags,
            perms: self.perms,
            reserved: 0,
        }
    }
}

/// Options of [`Handle::normalize`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Which backend finds the VMAs.
    pub backend: Backend,
    /// PROCMAPQ_PERM_* bits a VMA must all have (others: reason FILTERED).
    pub perms: u32,
    /// Only file-backed VMAs (others: reason FILTERED).
    pub file_backed: bool,
    /// Build IDs: the kernel's, else read from the mapped file.
    pub build_ids: bool,
    /// Also compute ELF virtual addresses.
    pub virt_addrs: bool,
    /// The addresses are ascending (skips a sort).
    pub sorted: bool,
    /// Do not try /proc/<pid>/map_files to open files.
    pub no_map_files: bool,
    /// Read files again instead of using the process-wide build-ID cache.
    pub no_build_id_cache: bool,
}

impl NormalizeOptions {
    fn raw(&self) -> sys::procmapq_normalize_opts {
        let bits = [
            (self.sorted, sys::PROCMAPQ_NORM_SORTED),
            (self.build_ids, sys::PROCMAPQ_NORM_BUILD_IDS),
            (self.file_backed, sys::PROCMAPQ_NORM_FILE_BACKED),
            (self.virt_addrs, sys::PROCMAPQ_NORM_VIRT_ADDRS),
            (self.no_map_files, sys::PROCMAPQ_NORM_NO_MAP_FILES),
            (self.no_build_id_cache, sys::PROCMAPQ_NORM_NO_BUILD_ID_CACHE),
        ];
        sys::procmapq_normalize_opts {
            size: size_of::<sys::procmapq_normalize_opts>() as u64,
            backend: self.backend.raw(),
            flags: bits.iter().filter(|(on, _)| *on).fold(0, |acc, (_, bit)| acc | bit),
            perms: self.perms,
            reserved: 0,
        }
    }
}

/// Options of [`Handle::compare`]; zero means the library's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompareOptions {
    /// Reads before giving up on a changing target (0 = 5).
    pub attempts: u32,
    /// Pause between attempts in milliseconds (0 = 100).
    pub retry_delay_ms: u32,
}

/// An open target address space (`struct procmapq *`); closed on drop.
#[derive(Debug)]
pub struct Handle {
    raw: NonNull<sys::procmapq>,
}

// SAFETY: the library keeps no thread-affine state in a handle; any thread
// may use it or close it (header, "Thread safety").
unsafe impl Send for Handle {}
// SAFETY: calls on one handle through &Handle are serialized inside the
// library; the one call that must not overlap others, procmapq_close, runs
// only in Drop, which has exclusive ownership.
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: raw came from a successful procmapq_open*; Drop runs once
        // and no other call can be running (we own the handle).
        unsafe { sys::procmapq_close(self.raw.as_ptr()) };
    }
}

fn open_opts(proc_root: Option<&CStr>, pid: i32) -> sys::procmapq_open_opts {
    sys::procmapq_open_opts {
        size: size_of::<sys::procmapq_open_opts>() as u64,
        proc_root: proc_root.map_or(ptr::null(), CStr::as_ptr),
        pid,
        flags: 0,
    }
}

impl Handle {
    /// Runs one procmapq_open* call that writes the handle into `out`.
    fn from_open(open: impl FnOnce(*mut *mut sys::procmapq) -> c_int) -> io::Result<Handle> {
        let mut out = ptr::null_mut();
        check(open(&mut out))?;
        NonNull::new(out)
            .map(|raw| Handle { raw })
            .ok_or_else(|| invalid_input("procmapq: open succeeded without a handle".into()))
    }

    /// Opens process `pid` by /proc/<pid>/maps (0 = the calling process).
    /// The maps file stays open, bound to that process (not to the pid).
    pub fn open(pid: i32) -> io::Result<Handle> {
        // SAFETY: NULL opts means defaults; out is a valid pointer.
        Self::from_open(|out| unsafe { sys::procmapq_open(pid, ptr::null(), out) })
    }

    /// Like [`Handle::open`] with procfs mounted at `proc_root`.
    pub fn open_in(pid: i32, proc_root: &Path) -> io::Result<Handle> {
        let root = CString::new(proc_root.as_os_str().as_bytes())
            .map_err(|_| invalid_input(format!("procmapq: proc root {proc_root:?} contains a NUL byte")))?;
        let opts = open_opts(Some(&root), 0);
        // SAFETY: opts and root outlive the call (the library keeps no
        // pointer); out is valid.
        Self::from_open(|out| unsafe { sys::procmapq_open(pid, &opts, out) })
    }

    /// Opens a handle on an open /proc/<pid>/maps file descriptor (it is
    /// duplicated; the caller keeps its own). `pid` names the target if
    /// known (0 = unknown).
    pub fn open_fd(fd: impl AsFd, pid: i32) -> io::Result<Handle> {
        let fd = fd.as_fd();
        let opts = open_opts(None, pid);
        // SAFETY: fd is open for the duration of the borrow; opts outlives
        // the call; out is valid.
        Self::from_open(|out| unsafe { sys::procmapq_open_fd(fd.as_raw_fd(), &opts, out) })
    }

    /// Opens a handle on captured maps text (copied and parsed once).
    pub fn open_text(text: &[u8]) -> io::Result<Handle> {
        // SAFETY: text is valid for text.len() bytes (it need not be
        // NUL-terminated); the library copies it.
        Self::from_open(|out| unsafe { sys::procmapq_open_text(ptr_or_null(text).cast(), text.len(), ptr::null(), out) })
    }

    /// The raw handle, for calls through [`sys`]. It stays owned by `self`.
    pub fn as_ptr(&self) -> *mut sys::procmapq {
        self.raw.as_ptr()
    }

    /// The target's pid; 0 when unknown (fd handles without a pid, text
    /// handles).
    pub fn pid(&self) -> io::Result<i32> {
        // SAFETY: self.raw is a live handle.
        let ret = unsafe { sys::procmapq_pid(self.raw.as_ptr()) };
        check(ret).map(|pid| pid as i32)
    }

    /// Reopens a pid handle's maps file after its process exec'd.
    pub fn reopen(&self) -> io::Result<()> {
        // SAFETY: self.raw is a live handle; calls on it are serialized by
        // the library.
        check(unsafe { sys::procmapq_reopen(self.raw.as_ptr()) }).map(drop)
    }

    /// Resolves a batch of addresses (any order, duplicates allowed) in one
    /// call. `result.lookup(i)` answers `addrs[i]`.
    pub fn query(&self, addrs: &[u64], opts: &QueryOptions) -> io::Result<QueryResult> {
        let mut result = QueryResult::default();
        self.query_into(addrs, opts, &mut result)?;
        Ok(result)
    }

    /// Like [`Handle::query`], reusing `out`'s arrays (no allocation once
    /// they are large enough). On `ESRCH` (the target went away during the
    /// batch) `out` still holds the answers resolved before, the others
    /// with reason PROCMAPQ_REASON_PROCESS_GONE.
    pub fn query_into(&self, addrs: &[u64], opts: &QueryOptions, out: &mut QueryResult) -> io::Result<()> {
        check_batch_len(addrs.len())?;
        let opts = opts.raw();
        out.lookups.clear();
        out.lookups.resize(addrs.len(), sys::procmapq_lookup::default());
        // At most one VMA per address; the names are a first guess.
        out.table.reserve(addrs.len().min(4096), addrs.len().min(4096) * 128);
        let lookups = mut_ptr_or_null(&mut out.lookups);
        out.table.fill(|buf| {
            // SAFETY: addrs has addrs.len() entries, lookups as many; buf
            // points into the table's arrays with their true capacities;
            // opts outlives the call. The library keeps no pointer.
            unsafe { sys::procmapq_query(self.raw.as_ptr(), ptr_or_null(addrs), addrs.len(), &opts, lookups, buf) }
        })
    }

    /// Lists every VMA that passes the filters, in ascending order.
    pub fn enumerate(&self, opts: &QueryOptions) -> io::Result<VmaTable> {
        let mut table = VmaTable::default();
        self.enumerate_into(opts, &mut table)?;
        Ok(table)
    }

    /// Like [`Handle::enumerate`], reusing `out`'s arrays.
    pub fn enumerate_into(&self, opts: &QueryOptions, out: &mut VmaTable) -> io::Result<()> {
        let opts = opts.raw();
        out.reserve(256, 64 * 1024);
        out.fill(|buf| {
            // SAFETY: buf points into the table's arrays with their true
            // capacities; opts outlives the call.
            unsafe { sys::procmapq_enumerate(self.raw.as_ptr(), &opts, buf) }
        })
    }

    /// Turns addresses into (file offset, ELF file and build ID) pairs;
    /// `result.outputs()[i]` answers `addrs[i]`. An `ESRCH` error means the
    /// target went away during the call (the partial result is dropped).
    pub fn normalize(&self, addrs: &[u64], opts: &NormalizeOptions) -> io::Result<Normalized> {
        check_batch_len(addrs.len())?;
        let opts = opts.raw();
        let mut out = ptr::null_mut();
        // SAFETY: addrs has addrs.len() entries; opts outlives the call; out
        // is valid and receives one allocation we own.
        let ret = unsafe { sys::procmapq_normalize(self.raw.as_ptr(), ptr_or_null(addrs), addrs.len(), &opts, &mut out) };
        // Read the message before anything else calls the library (the free
        // below would clear it).
        let result = check(ret);
        let owned = NonNull::new(out).map(|raw| Normalized { raw });
        match (result, owned) {
            (Ok(_), Some(normalized)) => Ok(normalized),
            (Ok(_), None) => Err(invalid_input("procmapq: normalize succeeded without a result".into())),
            (Err(err), _) => Err(err),
        }
    }

    /// Enumerates the target through both the ioctl and the text and
    /// classifies each difference (needs Linux 6.11+: `ENOTTY` otherwise).
    pub fn compare(&self, opts: &CompareOptions) -> io::Result<CompareReport> {
        let raw_opts = sys::procmapq_compare_opts {
            size: size_of::<sys::procmapq_compare_opts>() as u64,
            attempts: opts.attempts,
            retry_delay_ms: opts.retry_delay_ms,
        };
        let mut out = ptr::null_mut();
        // SAFETY: raw_opts outlives the call; out is valid and receives one
        // allocation we own.
        let ret = unsafe { sys::procmapq_compare(self.raw.as_ptr(), &raw_opts, &mut out) };
        check(ret)?;
        NonNull::new(out)
            .map(|raw| CompareReport { raw })
            .ok_or_else(|| invalid_input("procmapq: compare succeeded without a report".into()))
    }
}

/// A slice's pointer, or NULL when it is empty: an empty Rust slice has a
/// dangling non-NULL pointer, which the library rejects (-EFAULT).
fn ptr_or_null<T>(s: &[T]) -> *const T {
    if s.is_empty() { ptr::null() } else { s.as_ptr() }
}

fn mut_ptr_or_null<T>(s: &mut [T]) -> *mut T {
    if s.is_empty() { ptr::null_mut() } else { s.as_mut_ptr() }
}

fn check_batch_len(n: usize) -> io::Result<()> {
    if n > i32::MAX as usize {
        return Err(invalid_input(format!("procmapq: batch of {n} addresses (at most {})", i32::MAX)));
    }
    Ok(())
}

/// One VMA of a [`VmaTable`], borrowing its name and build ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// File offset of `start` (0 if anonymous).
    pub offset: u64,
    /// Inode of the mapped file.
    pub inode: u64,
    /// Kernel page size (huge page size for hugetlb); 0 = unknown (text).
    pub page_size: u64,
    /// Device major number.
    pub dev_major: u32,
    /// Device minor number.
    pub dev_minor: u32,
    /// PROCMAPQ_PERM_* bits.
    pub perms: u32,
    /// PROCMAPQ_KIND_*.
    pub kind: u32,
    /// PROCMAPQ_VMA_* bits.
    pub flags: u32,
    /// The exact name bytes (may hold newlines); empty if none.
    pub name: &'a [u8],
    /// The raw GNU build ID; empty if none.
    pub build_id: &'a [u8],
}

impl Vma<'_> {
    /// The address range.
    pub fn range(&self) -> Range<u64> {
        self.start..self.end
    }
}

/// The VMA table of a query or enumeration: VMAs in ascending order and
/// their names, in arrays this crate owns and reuses.
#[derive(Debug, Default, Clone)]
pub struct VmaTable {
    vmas: Vec<sys::procmapq_vma>,
    names: Vec<u8>,
    len: usize,
    strategy: u32,
    syscalls: u32,
}

impl VmaTable {
    /// Grows the arrays to at least these capacities.
    fn reserve(&mut self, vmas: usize, name_bytes: usize) {
        if self.vmas.len() < vmas {
            self.vmas.resize(vmas, sys::procmapq_vma::default());
        }
        if self.names.len() < name_bytes {
            self.names.resize(name_bytes, 0);
        }
    }

    /// Calls `call` with a procmapq_vma_buf over the arrays, growing them
    /// and calling again while it reports -ERANGE.
    fn fill(&mut self, mut call: impl FnMut(*mut sys::procmapq_vma_buf) -> c_int) -> io::Result<()> {
        for attempt in 0.. {
            let mut buf = sys::procmapq_vma_buf {
                size: size_of::<sys::procmapq_vma_buf>() as u64,
                vmas: mut_ptr_or_null(&mut self.vmas),
                vmas_cap: self.vmas.len() as u64,
                names: mut_ptr_or_null(&mut self.names).cast(),
                names_cap: self.names.len() as u64,
                vmas_count: 0,
                names_len: 0,
                strategy: 0,
                syscalls: 0,
            };
            let ret = call(&mut buf);
            if ret == -ERANGE && attempt < MAX_GROW_ATTEMPTS {
                // The sizes needed, plus room for a map that keeps growing.
                let need_vmas = buf.vmas_count as usize;
                let need_names = buf.names_len as usize;
                self.reserve(need_vmas + need_vmas / 4 + 16, need_names + need_names / 4 + 4096);
                continue;
            }
            let result = check(ret);
            // On success, and on ESRCH (answers so far are valid), keep the
            // table; never trust counts beyond the arrays.
            let valid = ret >= 0 || ret == -ESRCH;
            self.len = if valid { (buf.vmas_count as usize).min(self.vmas.len()) } else { 0 };
            self.strategy = buf.strategy;
            self.syscalls = buf.syscalls;
            return result.map(drop);
        }
        unreachable!("the loop returns")
    }

    /// Number of VMAs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw entries (names are offsets into [`VmaTable::names`]).
    pub fn raw(&self) -> &[sys::procmapq_vma] {
        &self.vmas[..self.len]
    }

    /// The names buffer the raw entries point into.
    pub fn names(&self) -> &[u8] {
        &self.names
    }

    /// VMA `i`, or None past the end.
    pub fn get(&self, i: usize) -> Option<Vma<'_>> {
        let v = self.raw().get(i)?;
        let name_start = usize::try_from(v.name_off).unwrap_or(usize::MAX);
        let name = name_start
            .checked_add(v.name_len as usize)
            .and_then(|end| self.names.get(name_start..end))
            .unwrap_or_default();
        let build_id = v.build_id.get(..v.build_id_len as usize).unwrap_or_default();
        Some(Vma {
            start: v.start,
            end: v.end,
            offset: v.offset,
            inode: v.inode,
            page_size: v.page_size,
            dev_major: v.dev_major,
            dev_minor: v.dev_minor,
            perms: v.perms,
            kind: v.kind,
            flags: v.flags,
            name,
            build_id,
        })
    }

    /// The VMAs in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Vma<'_>> + '_ {
        (0..self.len).map(|i| self.get(i).expect("index below len"))
    }

    /// PROCMAPQ_STRATEGY_*: how the call was answered.
    pub fn strategy(&self) -> u32 {
        self.strategy
    }

    /// ioctl and read calls the library made.
    pub fn syscalls(&self) -> u32 {
        self.syscalls
    }
}

/// The answer for one address of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// PROCMAPQ_REASON_*: why there is, or is no, VMA.
    pub reason: u32,
    /// `addr - vma.start + vma.offset` when found, else 0.
    pub file_offset: u64,
    /// The covering VMA when reason is PROCMAPQ_REASON_FOUND.
    pub vma: Option<Vma<'a>>,
}

/// The result of [`Handle::query`]: one [`Lookup`] per input address and
/// the deduplicated table of the VMAs they found.
#[derive(Debug, Default, Clone)]
pub struct QueryResult {
    lookups: Vec<sys::procmapq_lookup>,
    table: VmaTable,
}

impl QueryResult {
    /// Number of lookups (= addresses).
    pub fn len(&self) -> usize {
        self.lookups.len()
    }

    /// Whether the batch was empty.
    pub fn is_empty(&self) -> bool {
        self.lookups.is_empty()
    }

    /// The answer for address `i`.
    pub fn lookup(&self, i: usize) -> Option<Lookup<'_>> {
        let l = self.lookups.get(i)?;
        let vma = usize::try_from(l.vma).ok().and_then(|v| self.table.get(v));
        Some(Lookup { reason: l.reason, file_offset: l.file_offset, vma })
    }

    /// The answers in input order.
    pub fn lookups(&self) -> impl ExactSizeIterator<Item = Lookup<'_>> + '_ {
        (0..self.lookups.len()).map(|i| self.lookup(i).expect("index below len"))
    }

    /// The raw lookups (vma indexes into [`QueryResult::table`]).
    pub fn raw_lookups(&self) -> &[sys::procmapq_lookup] {
        &self.lookups
    }

    /// The VMAs some lookup found, ascending.
    pub fn table(&self) -> &VmaTable {
        &self.table
    }
}

/// Builds a slice from a library pointer and length; NULL or 0 is empty.
///
/// # Safety
/// If `ptr` is not NULL it must point to `len` valid `T`s that live as long
/// as `'a`.
unsafe fn slice_or_empty<'a, T>(ptr: *const T, len: u64) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(ptr, len as usize) }
}

/// What a group of normalized addresses belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormMeta<'a> {
    /// PROCMAPQ_META_*.
    pub kind: u32,
    /// PROCMAPQ_NORM_REASON_* (unknown metas only).
    pub reason: u32,
    /// PROCMAPQ_BUILD_ID_*: where the build ID came from.
    pub build_id_source: u32,
    /// PROCMAPQ_META_F_* bits.
    pub flags: u32,
    /// The mapping's name as the kernel reports it; empty for unknown.
    pub path: &'a [u8],
    /// The raw GNU build ID; empty if none.
    pub build_id: &'a [u8],
    /// Device major number of the file.
    pub dev_major: u32,
    /// Device minor number of the file.
    pub dev_minor: u32,
    /// Inode of the file.
    pub inode: u64,
}

/// Declares an owner of one immutable library allocation (a normalization
/// result or a comparison report), freed by `$free` on drop.
macro_rules! library_allocation {
    ($(#[$doc:meta])* $name:ident, $raw:ty, $free:path) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            raw: NonNull<$raw>,
        }

        // SAFETY: an immutable allocation owned by this value; the library
        // frees it from any thread.
        unsafe impl Send for $name {}
        // SAFETY: only read through &self; nothing mutates it until Drop.
        unsafe impl Sync for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                // SAFETY: raw came from the library call that allocated it
                // and is freed once, here.
                unsafe { $free(self.raw.as_ptr()) };
            }
        }
    };
}

library_allocation!(
    /// The result of [`Handle::normalize`]: one library allocation, freed
    /// on drop.
    Normalized,
    sys::procmapq_normalized,
    sys::procmapq_normalized_free
);

library_allocation!(
    /// The result of [`Handle::compare`]: one library allocation, freed on
    /// drop.
    CompareReport,
    sys::procmapq_compare_report,
    sys::procmapq_compare_report_free
);

impl Normalized {
    fn header(&self) -> &sys::procmapq_normalized {
        // SAFETY: raw points to a live result until Drop.
        unsafe { self.raw.as_ref() }
    }

    /// One output per input address, in input order.
    pub fn outputs(&self) -> &[sys::procmapq_norm_output] {
        let h = self.header();
        // SAFETY: outputs holds output_count entries inside the allocation,
        // which lives as long as self.
        unsafe { slice_or_empty(h.outputs, h.output_count) }
    }

    fn raw_metas(&self) -> &[sys::procmapq_norm_meta] {
        let h = self.header();
        // SAFETY: metas holds meta_count entries inside the allocation.
        unsafe { slice_or_empty(h.metas, h.meta_count) }
    }

    /// Meta `i` (outputs index metas), or None past the end.
    pub fn meta(&self, i: usize) -> Option<NormMeta<'_>> {
        let m = self.raw_metas().get(i)?;
        Some(NormMeta {
            kind: m.kind,
            reason: m.reason,
            build_id_source: m.build_id_source,
            flags: m.flags,
            // SAFETY: path holds path_len bytes, build_id build_id_len bytes,
            // both inside the allocation that lives as long as self.
            path: unsafe { slice_or_empty(m.path.cast::<u8>(), m.path_len) },
            // SAFETY: as above.
            build_id: unsafe { slice_or_empty(m.build_id, m.build_id_len) },
            dev_major: m.dev_major,
            dev_minor: m.dev_minor,
            inode: m.inode,
        })
    }

    /// The deduplicated metas.
    pub fn metas(&self) -> impl ExactSizeIterator<Item = NormMeta<'_>> + '_ {
        (0..self.raw_metas().len()).map(|i| self.meta(i).expect("index below len"))
    }

    /// Each output with its meta, in input order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&sys::procmapq_norm_output, Option<NormMeta<'_>>)> + '_ {
        self.outputs().iter().map(|o| (o, self.meta(o.meta as usize)))
    }

    /// PROCMAPQ_STRATEGY_*: how the VMAs were found.
    pub fn strategy(&self) -> u32 {
        self.header().strategy
    }
}

/// One classified difference between the ioctl and the text views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference<'a> {
    /// PROCMAPQ_DIFF_*.
    pub kind: u32,
    /// PROCMAPQ_DIFF_F_* bits.
    pub flags: u32,
    /// The VMA as the text shows it, if it does.
    pub text: Option<Range<u64>>,
    /// The VMA as the ioctl shows it, if it does.
    pub ioctl: Option<Range<u64>>,
    /// The library's explanation ("" if none).
    pub detail: Cow<'a, str>,
}

impl Difference<'_> {
    /// Whether this is a documented, expected difference.
    pub fn expected(&self) -> bool {
        self.flags & sys::PROCMAPQ_DIFF_F_EXPECTED != 0
    }
}

impl CompareReport {
    /// The raw report (counts; diffs through [`CompareReport::diffs`]).
    pub fn raw(&self) -> &sys::procmapq_compare_report {
        // SAFETY: raw points to a live report until Drop.
        unsafe { self.raw.as_ref() }
    }

    /// Whether the maps held still (else the report is of the last read).
    pub fn settled(&self) -> bool {
        self.raw().settled != 0
    }

    /// Real mismatches (0 = the views agree).
    pub fn mismatch_count(&self) -> u32 {
        self.raw().mismatch_count
    }

    /// The differences: expected ones first, then mismatches.
    pub fn diffs(&self) -> impl ExactSizeIterator<Item = Difference<'_>> + '_ {
        let r = self.raw();
        // SAFETY: diffs holds diff_count entries inside the report.
        let diffs = unsafe { slice_or_empty(r.diffs, r.diff_count as u64) };
        diffs.iter().map(|d| Difference {
            kind: d.kind,
            flags: d.flags,
            text: (d.flags & sys::PROCMAPQ_DIFF_F_HAS_TEXT != 0).then_some(d.text_start..d.text_end),
            ioctl: (d.flags & sys::PROCMAPQ_DIFF_F_HAS_IOCTL != 0).then_some(d.ioctl_start..d.ioctl_end),
            detail: if d.detail.is_null() {
                Cow::Borrowed("")
            } else {
                // SAFETY: detail is a NUL-terminated string inside the report.
                unsafe { CStr::from_ptr(d.detail) }.to_string_lossy()
            },
        })
    }
}
