//! Rows returned by scans and multi-gets, stored in one buffer.

/// One row: a key and its payload, borrowed from [`Rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The payload.
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    key_end: usize,
    payload_end: usize,
}

/// A page of rows in one contiguous buffer (two allocations for any number
/// of rows), with whether more rows remain in the scanned range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    buf: Vec<u8>,
    spans: Vec<Span>,
    has_more: bool,
}

impl Rows {
    pub(crate) fn new() -> Rows {
        Rows::default()
    }

    pub(crate) fn push(&mut self, key: &[u8], payload: &[u8]) {
        self.buf.extend_from_slice(key);
        let key_end = self.buf.len();
        self.buf.extend_from_slice(payload);
        self.spans.push(Span {
            key_end,
            payload_end: self.buf.len(),
        });
    }

    pub(crate) fn set_has_more(&mut self, has_more: bool) {
        self.has_more = has_more;
    }

    /// Bytes of keys and payloads held.
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Whether rows remain in the range beyond those returned (scans with a
    /// limit; always false otherwise).
    pub fn has_more(&self) -> bool {
        self.has_more
    }

    /// The row at `index`.
    pub fn get(&self, index: usize) -> Option<Row<'_>> {
        let span = self.spans.get(index)?;
        let start = match index {
            0 => 0,
            _ => self.spans[index - 1].payload_end,
        };
        Some(Row {
            key: &self.buf[start..span.key_end],
            payload: &self.buf[span.key_end..span.payload_end],
        })
    }

    /// The last row, from which a paginated scan resumes.
    pub fn last(&self) -> Option<Row<'_>> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Row<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("index in range"))
    }

    /// The rows as owned `(key, payload)` pairs.
    pub fn to_pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.iter()
            .map(|r| (r.key.to_vec(), r.payload.to_vec()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_boundaries() {
        let mut rows = Rows::new();
        rows.push(b"a", b"");
        rows.push(b"", b"xyz");
        rows.push(b"bc", b"d");
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows.get(0),
            Some(Row {
                key: b"a",
                payload: b""
            })
        );
        assert_eq!(
            rows.get(1),
            Some(Row {
                key: b"",
                payload: b"xyz"
            })
        );
        assert_eq!(
            rows.last(),
            Some(Row {
                key: b"bc",
                payload: b"d"
            })
        );
        assert_eq!(rows.get(3), None);
        assert_eq!(rows.iter().count(), 3);
    }
}
