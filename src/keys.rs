//! The order-preserving key encoding, byte-identical to upstream `keys.nim`.
//!
//! | part | bytes |
//! |---|---|
//! | string / byte string | 2-byte big-endian length, then the bytes (at most 65535) |
//! | signed integer (any width) | the value as i64, XOR `0x8000000000000000`, 8 bytes big-endian |
//! | unsigned integer 16–64 bits | 8 bytes big-endian |
//! | `u8`, bool | 1 byte (bool: 0 or 1) |
//! | embedded key | its bytes verbatim |
//!
//! Encoded keys compare byte-wise in the order of their parts; strings sort
//! by length first, then bytes (an upstream property, kept).
//!
//! ```
//! use persistency::{Key, prefix_stop};
//!
//! let mut key = Key::new();
//! key.push_str("/waku/2/rs/1/0")?.push_i64(1_700_000_000)?;
//! let topic_prefix = Key::new().push_str("/waku/2/rs/1/0")?.to_vec();
//! assert!(key.as_bytes().starts_with(&topic_prefix));
//! assert!(prefix_stop(&topic_prefix).unwrap().as_slice() > key.as_bytes());
//! # Ok::<(), persistency::Error>(())
//! ```

use crate::error::{Error, Result};

/// The longest string or byte-string part: its length must fit in 2 bytes.
pub const MAX_PART_LEN: usize = u16::MAX as usize;

/// A value that can be one part of a key.
pub trait KeyPart {
    /// Appends this part's encoding to `out`, or fails (leaving `out`
    /// unchanged) when the part cannot be encoded.
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()>;
}

fn push_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len()).map_err(|_| {
        Error::invalid(format!(
            "key part of {} bytes is longer than {MAX_PART_LEN}",
            bytes.len()
        ))
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Encodes a signed integer part: sign bit flipped, 8 bytes big-endian.
pub fn encode_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ 0x8000_0000_0000_0000).to_be_bytes()
}

/// Encodes an unsigned integer part (16 to 64 bits): 8 bytes big-endian.
pub fn encode_u64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

impl KeyPart for str {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        push_len_prefixed(out, self.as_bytes())
    }
}

impl KeyPart for String {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_str().encode_into(out)
    }
}

/// A byte string: length-prefixed like a string.
impl KeyPart for [u8] {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        push_len_prefixed(out, self)
    }
}

impl KeyPart for Vec<u8> {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_slice().encode_into(out)
    }
}

impl<const N: usize> KeyPart for [u8; N] {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        self.as_slice().encode_into(out)
    }
}

macro_rules! signed_part {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
                out.extend_from_slice(&encode_i64(i64::from(*self)));
                Ok(())
            }
        }
    )*};
}
signed_part!(i8, i16, i32, i64);

macro_rules! unsigned_part {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
                out.extend_from_slice(&encode_u64(u64::from(*self)));
                Ok(())
            }
        }
    )*};
}
unsigned_part!(u16, u32, u64);

impl KeyPart for u8 {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(*self);
        Ok(())
    }
}

impl KeyPart for bool {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(u8::from(*self));
        Ok(())
    }
}

/// An embedded key: its bytes verbatim.
impl KeyPart for Key {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.bytes);
        Ok(())
    }
}

impl<T: KeyPart + ?Sized> KeyPart for &T {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        (**self).encode_into(out)
    }
}

macro_rules! tuple_part {
    ($($name:ident),+) => {
        /// A tuple: its fields in order.
        impl<$($name: KeyPart),+> KeyPart for ($($name,)+) {
            // The fields are bound to variables named after the type
            // parameters (`A`, `B`, ...), which a macro cannot lowercase.
            #[allow(non_snake_case)]
            fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
                let ($($name,)+) = self;
                let start = out.len();
                $(
                    if let Err(e) = $name.encode_into(out) {
                        out.truncate(start);
                        return Err(e);
                    }
                )+
                Ok(())
            }
        }
    };
}
tuple_part!(A);
tuple_part!(A, B);
tuple_part!(A, B, C);
tuple_part!(A, B, C, D);
tuple_part!(A, B, C, D, E);
tuple_part!(A, B, C, D, E, F);
tuple_part!(A, B, C, D, E, F, G);
tuple_part!(A, B, C, D, E, F, G, H);

/// Encodes a value (a part or a tuple of parts) into a new key.
///
/// ```
/// let key = persistency::encode_key(&("topic", 7i64, true))?;
/// assert_eq!(key.len(), 2 + 5 + 8 + 1);
/// # Ok::<(), persistency::Error>(())
/// ```
pub fn encode_key<T: KeyPart + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    value.encode_into(&mut out)?;
    Ok(out)
}

/// A key under construction: parts are appended in order. A part that
/// cannot be encoded leaves the key unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    bytes: Vec<u8>,
}

impl Key {
    /// An empty key.
    pub fn new() -> Key {
        Key::default()
    }

    /// Appends any part.
    pub fn push<T: KeyPart + ?Sized>(&mut self, part: &T) -> Result<&mut Key> {
        part.encode_into(&mut self.bytes)?;
        Ok(self)
    }

    /// Appends a length-prefixed string.
    pub fn push_str(&mut self, s: &str) -> Result<&mut Key> {
        self.push(s)
    }

    /// Appends a length-prefixed byte string.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<&mut Key> {
        self.push(bytes)
    }

    /// Appends a signed integer (any width encodes as i64).
    pub fn push_i64(&mut self, v: i64) -> Result<&mut Key> {
        self.push(&v)
    }

    /// Appends an unsigned integer (16 to 64 bits encode as u64).
    pub fn push_u64(&mut self, v: u64) -> Result<&mut Key> {
        self.push(&v)
    }

    /// Appends one byte.
    pub fn push_u8(&mut self, v: u8) -> Result<&mut Key> {
        self.push(&v)
    }

    /// Appends a bool as one byte, 0 or 1.
    pub fn push_bool(&mut self, v: bool) -> Result<&mut Key> {
        self.push(&v)
    }

    /// Appends an already encoded key verbatim.
    pub fn push_raw(&mut self, bytes: &[u8]) -> Result<&mut Key> {
        self.bytes.extend_from_slice(bytes);
        Ok(self)
    }

    /// Removes every part.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A copy of the encoded bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The encoded bytes, consuming the key.
    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }

    /// The encoded length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the key has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Key> for Vec<u8> {
    fn from(key: Key) -> Vec<u8> {
        key.bytes
    }
}

/// The exclusive upper bound of the range of keys that start with `prefix`
/// (upstream `prefixRange`): trailing `0xFF` bytes are dropped and the last
/// remaining byte incremented. `None` means the range is open-ended (an empty
/// or all-`0xFF` prefix).
pub fn prefix_stop(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut stop = prefix[..=last].to_vec();
    stop[last] += 1;
    Some(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_sort_by_length_then_bytes() -> Result<()> {
        let b = encode_key("b")?;
        let aa = encode_key("aa")?;
        assert!(b < aa);
        Ok(())
    }

    #[test]
    fn signed_order_is_numeric() -> Result<()> {
        let values = [i64::MIN, -1_000, -1, 0, 1, 1_000, i64::MAX];
        let keys: Vec<_> = values.iter().map(encode_key).collect::<Result<_>>()?;
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(encode_key(&-1i32)?, encode_key(&-1i64)?);
        Ok(())
    }

    #[test]
    fn unsigned_widths_share_eight_bytes() -> Result<()> {
        assert_eq!(encode_key(&7u16)?, encode_key(&7u64)?);
        assert_eq!(encode_key(&7u8)?, vec![7]);
        Ok(())
    }

    #[test]
    fn over_long_part_leaves_key_unchanged() {
        let mut key = Key::new();
        key.push_str("a").unwrap();
        let long = vec![0u8; MAX_PART_LEN + 1];
        let err = key.push_bytes(&long).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(key.as_bytes(), &[0, 1, b'a']);
        let err = encode_key(&("x", long.as_slice())).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn prefix_stop_edges() {
        assert_eq!(prefix_stop(&[]), None);
        assert_eq!(prefix_stop(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_stop(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_stop(&[1, 2]), Some(vec![1, 3]));
    }
}
