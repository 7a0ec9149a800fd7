package persistency

// This file holds the key encoding, in pure Go: KeyBuilder, EncodeKey,
// the Append* functions, RawKey and PrefixStop.

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// MaxPartLen is the longest string or byte-string key part: its length
// must fit in the 2-byte length prefix.
const MaxPartLen = math.MaxUint16

// RawKey is an already encoded key. As a key part it is embedded verbatim.
type RawKey []byte

// KeyBuilder builds an encoded key part by part, byte-identical to the Rust
// core and to upstream keys.nim (see API.md "Keys"):
//
//	string / byte string   2-byte big-endian length, then the bytes
//	signed integer         as int64, XOR 0x8000000000000000, 8 bytes big-endian
//	unsigned 16-64 bits    8 bytes big-endian
//	uint8 / byte, bool     1 byte (bool: 0 or 1)
//	raw key                its bytes verbatim
//
// The first part that cannot be encoded (a string longer than MaxPartLen)
// is not appended; the builder keeps that error and ignores later parts, and
// Key returns it. The zero value is an empty key, ready to use.
type KeyBuilder struct {
	buf []byte
	err error
}

// NewKey returns an empty key builder.
func NewKey() *KeyBuilder {
	return &KeyBuilder{}
}

// Str appends a length-prefixed string part.
func (k *KeyBuilder) Str(s string) *KeyBuilder {
	if k.err == nil {
		k.buf, k.err = appendLenPrefixed(k.buf, s)
	}
	return k
}

// ByteStr appends a length-prefixed byte-string part.
func (k *KeyBuilder) ByteStr(b []byte) *KeyBuilder {
	if k.err == nil {
		k.buf, k.err = appendLenPrefixed(k.buf, b)
	}
	return k
}

// Int appends a signed integer part (every signed width encodes as int64).
func (k *KeyBuilder) Int(v int64) *KeyBuilder {
	if k.err == nil {
		k.buf = AppendInt(k.buf, v)
	}
	return k
}

// Uint appends an unsigned integer part of 16 to 64 bits (8 bytes). Use
// Byte for a uint8 part.
func (k *KeyBuilder) Uint(v uint64) *KeyBuilder {
	if k.err == nil {
		k.buf = AppendUint(k.buf, v)
	}
	return k
}

// Byte appends a one-byte part (Nim uint8 / byte / char).
func (k *KeyBuilder) Byte(v byte) *KeyBuilder {
	if k.err == nil {
		k.buf = append(k.buf, v)
	}
	return k
}

// Bool appends a bool part as one byte, 0 or 1.
func (k *KeyBuilder) Bool(v bool) *KeyBuilder {
	if k.err == nil {
		k.buf = append(k.buf, boolByte(v))
	}
	return k
}

// Raw appends an already encoded key verbatim.
func (k *KeyBuilder) Raw(b []byte) *KeyBuilder {
	if k.err == nil {
		k.buf = append(k.buf, b...)
	}
	return k
}

// Part appends any value EncodeKey accepts.
func (k *KeyBuilder) Part(v interface{}) *KeyBuilder {
	if k.err == nil {
		k.buf, k.err = appendValue(k.buf, reflect.ValueOf(v))
	}
	return k
}

// Key returns a copy of the encoded key, or the first encoding error.
func (k *KeyBuilder) Key() ([]byte, error) {
	if k.err != nil {
		return nil, k.err
	}
	return append([]byte{}, k.buf...), nil
}

// Err returns the first encoding error, or nil.
func (k *KeyBuilder) Err() error {
	return k.err
}

// Len returns the number of encoded bytes so far.
func (k *KeyBuilder) Len() int {
	return len(k.buf)
}

// Reset empties the builder and clears its error, keeping its memory.
func (k *KeyBuilder) Reset() {
	k.buf = k.buf[:0]
	k.err = nil
}

// AppendInt appends the encoding of a signed integer part to dst.
func AppendInt(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^0x8000000000000000)
}

// AppendUint appends the encoding of an unsigned (16 to 64 bit) integer
// part to dst.
func AppendUint(dst []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, v)
}

// AppendStr appends the encoding of a string part to dst; it fails, leaving
// dst unchanged, when s is longer than MaxPartLen bytes.
func AppendStr(dst []byte, s string) ([]byte, error) {
	return appendLenPrefixed(dst, s)
}

// AppendByteStr appends the encoding of a byte-string part to dst; it
// fails, leaving dst unchanged, when b is longer than MaxPartLen bytes.
func AppendByteStr(dst []byte, b []byte) ([]byte, error) {
	return appendLenPrefixed(dst, b)
}

func appendLenPrefixed[T string | []byte](dst []byte, s T) ([]byte, error) {
	if len(s) > MaxPartLen {
		return dst, newError(StatusInvalidArgument,
			fmt.Sprintf("key part of %d bytes is longer than %d", len(s), MaxPartLen))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...), nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// EncodeKey encodes its arguments, in order, into one key. Accepted parts:
// string; []byte and [N]byte (byte strings); int, int8..int64 and named
// integer types such as enums (signed); uint, uint16..uint64, uintptr
// (8 bytes); uint8/byte (1 byte); bool; RawKey and *KeyBuilder (verbatim);
// structs of those (every field in declaration order, exported or not); and
// non-nil pointers to any of these. Anything else is an error wrapping
// ErrInvalidArgument.
//
//	key, err := persistency.EncodeKey("/waku/2/rs/1/0", int64(1700000000), msgHash[:])
func EncodeKey(parts ...interface{}) ([]byte, error) {
	out := []byte{}
	for _, p := range parts {
		var err error
		if out, err = appendValue(out, reflect.ValueOf(p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var (
	rawKeyType     = reflect.TypeOf(RawKey(nil))
	keyBuilderType = reflect.TypeOf((*KeyBuilder)(nil))
)

// appendValue appends v's encoding to dst; on error dst is returned with its
// original length.
func appendValue(dst []byte, v reflect.Value) ([]byte, error) {
	if !v.IsValid() {
		return dst, newError(StatusInvalidArgument, "nil key part")
	}
	switch v.Type() {
	case rawKeyType:
		return append(dst, v.Bytes()...), nil
	case keyBuilderType:
		if v.IsNil() {
			return dst, newError(StatusInvalidArgument, "nil *KeyBuilder key part")
		}
		// Through the pointer, so that unexported struct fields work too.
		kb := (*KeyBuilder)(unsafe.Pointer(v.Pointer()))
		if kb.err != nil {
			return dst, kb.err
		}
		return append(dst, kb.buf...), nil
	}
	switch v.Kind() {
	case reflect.String:
		return appendLenPrefixed(dst, v.String())
	case reflect.Bool:
		return append(dst, boolByte(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return AppendInt(dst, v.Int()), nil
	case reflect.Uint8:
		return append(dst, byte(v.Uint())), nil
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return AppendUint(dst, v.Uint()), nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return appendLenPrefixed(dst, v.Bytes())
		}
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			return appendLenPrefixed(dst, b)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return dst, newError(StatusInvalidArgument, "nil pointer key part of type "+v.Type().String())
		}
		return appendValue(dst, v.Elem())
	case reflect.Interface:
		return appendValue(dst, v.Elem())
	case reflect.Struct:
		start := len(dst)
		for i := 0; i < v.NumField(); i++ {
			var err error
			if dst, err = appendValue(dst, v.Field(i)); err != nil {
				return dst[:start], err
			}
		}
		return dst, nil
	}
	return dst, newError(StatusInvalidArgument, "unsupported key part type "+v.Type().String())
}

// PrefixStop returns the exclusive upper bound of the range of keys that
// start with prefix (upstream prefixRange): trailing 0xFF bytes are dropped
// and the last remaining byte incremented. It returns nil when the range is
// open-ended (an empty or all-0xFF prefix); nil as a scan stop means "no
// upper bound".
func PrefixStop(prefix []byte) []byte {
	last := len(prefix) - 1
	for last >= 0 && prefix[last] == 0xFF {
		last--
	}
	if last < 0 {
		return nil
	}
	stop := append([]byte{}, prefix[:last+1]...)
	stop[last]++
	return stop
}
