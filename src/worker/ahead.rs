//! Paginated scans read ahead by the worker.
//!
//! A host that pages through a range with callback scans asks for the next
//! page (start just after the last key, or stop at it going down, the same
//! category, direction and limit) only once the callback for the page
//! before has run and its own thread has woken up, tens to hundreds of µs
//! on a virtual machine. Once a scan continues the one before it, the
//! worker reads the page after it in that time, whenever nothing else
//! waits in the queue, and answers the next request for that page with it.
//!
//! The read goes on when the request that arrives meanwhile is the one for
//! that page (the usual case: the host asks while the page is read), and
//! gives up for any other, which then waits a few rows, not a page.
//!
//! Read-your-writes: the page read ahead is dropped as soon as the worker
//! takes any request that is not a read, so a page handed out from here
//! reflects every write the worker took before the request for it, as a
//! page read then would. It is also dropped when any other read arrives
//! and when the worker has waited [`KEEP_AHEAD`] for a request, so an idle
//! job holds no page; and no page is read ahead after one larger than
//! [`MAX_AHEAD_BYTES`].

use std::time::Duration;

use crate::backend::Range;
use crate::protocol::{Read, Request};
use crate::rows::Rows;

/// Bytes of a page past which the page after it is not read ahead (the
/// worker would hold about as much until the host asks).
pub(super) const MAX_AHEAD_BYTES: usize = 4 * 1024 * 1024;

/// How long the worker keeps a page read ahead while no request arrives.
pub(super) const KEEP_AHEAD: Duration = Duration::from_millis(50);

/// A scan's page: its range, direction and limit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Page {
    range: Range,
    reverse: bool,
    limit: u32,
}

impl Page {
    fn of(read: &Read) -> Option<Page> {
        match read {
            Read::Scan {
                range,
                reverse,
                limit,
            } if *limit > 0 => Some(Page {
                range: range.clone(),
                reverse: *reverse,
                limit: *limit,
            }),
            _ => None,
        }
    }

    /// Whether `read` is the scan for this page.
    fn is(&self, read: &Read) -> bool {
        matches!(read, Read::Scan { range, reverse, limit }
            if *range == self.range && *reverse == self.reverse && *limit == self.limit)
    }

    /// The page after `rows`, read from this page's range.
    fn after(&self, rows: &Rows) -> Option<Page> {
        let mut next = self.clone();
        next.range.advance(rows, self.reverse).then_some(next)
    }
}

/// The worker's read-ahead state.
#[derive(Debug, Default)]
pub(super) struct Ahead {
    /// The page after the last scan served: a scan for it continues a
    /// pagination.
    follows: Option<Page>,
    /// That page, when it is to be read ahead (the scan served continued
    /// one before it).
    wanted: Option<Page>,
    /// The page read ahead, and its rows.
    read: Option<(Page, Rows)>,
}

impl Ahead {
    /// Takes the rows read ahead for `read`, if `read` asks for that page.
    /// Any other read drops them.
    pub(super) fn take(&mut self, read: &Read) -> Option<Rows> {
        let (page, rows) = self.read.take()?;
        page.is(read).then_some(rows)
    }

    /// Notes that `read` was served with `rows`: when it continued the
    /// scan served before it, the page after it is wanted ahead.
    pub(super) fn served(&mut self, read: &Read, rows: &Rows) {
        let continued = self.follows.as_ref().is_some_and(|p| p.is(read));
        self.follows = Page::of(read).and_then(|p| p.after(rows));
        self.wanted = match &self.follows {
            Some(_) if continued && rows.bytes() <= MAX_AHEAD_BYTES => self.follows.clone(),
            _ => None,
        };
    }

    /// Notes a request that is not a scan (a write, a task, another read):
    /// nothing read ahead or wanted stays.
    pub(super) fn other(&mut self) {
        *self = Ahead::default();
    }

    /// The read for the page wanted ahead, if any (taken: it is read once).
    pub(super) fn wanted(&mut self) -> Option<Read> {
        self.wanted.take().map(|page| Read::Scan {
            range: page.range,
            reverse: page.reverse,
            limit: page.limit,
        })
    }

    /// Whether `request` asks for the page `read` (a scan) reads.
    pub(super) fn asks_for(request: &Request, read: &Read) -> bool {
        match (request, Page::of(read)) {
            (Request::Read { read: asked, .. }, Some(page)) => page.is(asked),
            _ => false,
        }
    }

    /// Keeps the rows read ahead for `read`.
    pub(super) fn keep(&mut self, read: &Read, rows: Rows) {
        self.read = Page::of(read).map(|page| (page, rows));
    }

    /// Whether a page read ahead is held.
    pub(super) fn holds(&self) -> bool {
        self.read.is_some()
    }

    /// Drops the page read ahead (the pagination may continue: the next
    /// page is read when asked for).
    pub(super) fn drop_page(&mut self) {
        self.read = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(start: &[u8], reverse: bool, stop: Option<&[u8]>) -> Read {
        Read::Scan {
            range: Range {
                category: b"c".to_vec(),
                start: start.to_vec(),
                stop: stop.map(<[u8]>::to_vec),
            },
            reverse,
            limit: 2,
        }
    }

    fn rows(keys: &[&[u8]], has_more: bool) -> Rows {
        let mut rows = Rows::new();
        for k in keys {
            rows.push(k, b"v");
        }
        rows.set_has_more(has_more);
        rows
    }

    /// The first page wants nothing ahead; its continuation wants the page
    /// after it, which answers only the request for that very page.
    #[test]
    fn a_continued_scan_wants_the_next_page() {
        let mut a = Ahead::default();
        a.served(&scan(b"", false, None), &rows(&[b"a", b"b"], true));
        assert!(a.wanted().is_none());
        let second = scan(b"b\0", false, None);
        assert!(a.take(&second).is_none());
        a.served(&second, &rows(&[b"c", b"d"], true));
        let third = a.wanted().expect("the third page is wanted");
        assert!(matches!(&third, Read::Scan { range, .. } if range.start == b"d\0"));
        a.keep(&third, rows(&[b"e"], false));
        assert!(a.holds());
        // Another read drops it.
        assert!(a.take(&scan(b"x", false, None)).is_none());
        assert!(!a.holds());
        a.keep(&third, rows(&[b"e"], false));
        assert_eq!(a.take(&third).map(|r| r.len()), Some(1));
        // The last page wants nothing after it.
        a.served(&third, &rows(&[b"e"], false));
        assert!(a.wanted().is_none());
    }

    /// Going down, the next page stops at the last key; a write between
    /// two pages leaves nothing wanted.
    #[test]
    fn descending_pages_and_writes() {
        let mut a = Ahead::default();
        a.served(&scan(b"", true, None), &rows(&[b"z", b"y"], true));
        let second = scan(b"", true, Some(b"y"));
        a.served(&second, &rows(&[b"x", b"w"], true));
        let third = a.wanted().expect("wanted");
        assert!(
            matches!(&third, Read::Scan { range, .. } if range.stop.as_deref() == Some(&b"w"[..]))
        );
        a.keep(&third, rows(&[b"v"], false));
        a.other();
        assert!(!a.holds());
        assert!(a.take(&third).is_none());
        // After the write the next page is a first page again.
        a.served(&third, &rows(&[b"v", b"u"], true));
        assert!(a.wanted().is_none());
    }

    /// Only a request for the very page being read lets the read go on.
    #[test]
    fn only_the_request_for_the_page_asks_for_it() {
        let request = |read: Read| Request::Read {
            read,
            done: crate::protocol::Completion::new(|_| {}),
        };
        let page = scan(b"d\0", false, None);
        let cases = [
            (scan(b"d\0", false, None), true),
            (scan(b"d\0", true, None), false),
            (scan(b"d", false, None), false),
            (scan(b"d\0", false, Some(b"z")), false),
        ];
        for (read, asks) in cases {
            let r = request(read);
            assert_eq!(Ahead::asks_for(&r, &page), asks);
            if let Request::Read { done, .. } = r {
                done.defuse();
            }
        }
    }
}
