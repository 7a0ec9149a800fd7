package persistency

// This file holds the tests of the key encoding, against every case of
// tests/data/keys.json.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

type vectorPart struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
	Hex   string          `json:"hex"`
}

type vectorCase struct {
	Parts         []vectorPart `json:"parts"`
	KeyHex        string       `json:"key_hex"`
	PrefixStopHex string       `json:"prefix_stop_hex"`
}

func loadVectors(t *testing.T) []vectorCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "data", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases in keys.json")
	}
	return file.Cases
}

// typedPart decodes one vector part into the Go value EncodeKey should
// encode the way the vector says.
func typedPart(t *testing.T, p vectorPart) interface{} {
	t.Helper()
	var s string
	num := func(bits int, signed bool) (int64, uint64) {
		if err := json.Unmarshal(p.Value, &s); err != nil {
			t.Fatalf("%s value %s: %v", p.Type, p.Value, err)
		}
		if signed {
			v, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				t.Fatal(err)
			}
			return v, 0
		}
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			t.Fatal(err)
		}
		return 0, v
	}
	unhex := func() []byte {
		b, err := hex.DecodeString(p.Hex)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch p.Type {
	case "str":
		if err := json.Unmarshal(p.Value, &s); err != nil {
			t.Fatal(err)
		}
		return s
	case "bytes":
		return unhex()
	case "raw":
		return RawKey(unhex())
	case "i64":
		v, _ := num(64, true)
		return v
	case "i32":
		v, _ := num(32, true)
		return int32(v)
	case "u64":
		_, v := num(64, false)
		return v
	case "u16":
		_, v := num(16, false)
		return uint16(v)
	case "u8":
		_, v := num(8, false)
		return uint8(v)
	case "bool":
		var b bool
		if err := json.Unmarshal(p.Value, &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("unknown part type %q", p.Type)
	return nil
}

// buildPart appends a typed vector part through the explicit builder.
func buildPart(k *KeyBuilder, v interface{}) {
	switch v := v.(type) {
	case string:
		k.Str(v)
	case RawKey:
		k.Raw(v)
	case []byte:
		k.ByteStr(v)
	case int64:
		k.Int(v)
	case int32:
		k.Int(int64(v))
	case uint64:
		k.Uint(v)
	case uint16:
		k.Uint(uint64(v))
	case uint8:
		k.Byte(v)
	case bool:
		k.Bool(v)
	}
}

func TestKeyVectors(t *testing.T) {
	for i, c := range loadVectors(t) {
		want, err := hex.DecodeString(c.KeyHex)
		if err != nil {
			t.Fatal(err)
		}
		wantStop, err := hex.DecodeString(c.PrefixStopHex)
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]interface{}, len(c.Parts))
		b := NewKey()
		for j, p := range c.Parts {
			parts[j] = typedPart(t, p)
			buildPart(b, parts[j])
		}
		viaBuilder, err := b.Key()
		if err != nil {
			t.Fatalf("case %d: builder: %v", i, err)
		}
		viaReflect, err := EncodeKey(parts...)
		if err != nil {
			t.Fatalf("case %d: EncodeKey: %v", i, err)
		}
		viaPart := NewKey()
		for _, p := range parts {
			viaPart.Part(p)
		}
		viaParts, err := viaPart.Key()
		if err != nil {
			t.Fatalf("case %d: Part: %v", i, err)
		}
		for name, got := range map[string][]byte{"builder": viaBuilder, "EncodeKey": viaReflect, "Part": viaParts} {
			if !bytes.Equal(got, want) {
				t.Errorf("case %d (%s): key %x, want %x", i, name, got, want)
			}
		}
		stop := PrefixStop(want)
		if !bytes.Equal(stop, wantStop) || (len(wantStop) == 0) != (stop == nil) {
			t.Errorf("case %d: prefix stop %x, want %x", i, stop, wantStop)
		}
	}
}

type topicKey struct {
	Topic     string
	Timestamp int64
	Hash      [4]byte
	Shard     uint16
	Kind      kind
	Flag      bool
	Version   uint8
	Tail      RawKey
}

type kind int8

type unexportedFields struct {
	a string
	b int32
	c *KeyBuilder
}

func TestEncodeStructs(t *testing.T) {
	k := topicKey{"t", -2, [4]byte{1, 2, 3, 4}, 9, kind(3), true, 7, RawKey{0xAA}}
	got, err := EncodeKey(k)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewKey().Str("t").Int(-2).ByteStr([]byte{1, 2, 3, 4}).Uint(9).Int(3).Bool(true).Byte(7).Raw([]byte{0xAA}).Key()
	if !bytes.Equal(got, want) {
		t.Fatalf("struct key %x, want %x", got, want)
	}
	ptr, err := EncodeKey(&k)
	if err != nil || !bytes.Equal(ptr, want) {
		t.Fatalf("pointer to struct: %x %v", ptr, err)
	}

	inner := NewKey().Str("in")
	u, err := EncodeKey(unexportedFields{"x", -1, inner})
	if err != nil {
		t.Fatal(err)
	}
	wantU, _ := NewKey().Str("x").Int(-1).Str("in").Key()
	if !bytes.Equal(u, wantU) {
		t.Fatalf("unexported fields %x, want %x", u, wantU)
	}
}

func TestSignedWidthsAgree(t *testing.T) {
	for _, v := range []int64{-128, -1, 0, 1, 127} {
		want, _ := EncodeKey(v)
		for _, p := range []interface{}{int(v), int8(v), int16(v), int32(v)} {
			got, err := EncodeKey(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%T(%d): %x %v, want %x", p, v, got, err, want)
			}
		}
	}
	for _, v := range []uint64{0, 1, 255, 65535} {
		want, _ := EncodeKey(v)
		for _, p := range []interface{}{uint(v), uint16(v), uint32(v), uintptr(v)} {
			got, err := EncodeKey(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%T(%d): %x %v, want %x", p, v, got, err, want)
			}
		}
	}
	if got, _ := EncodeKey(byte(7)); !bytes.Equal(got, []byte{7}) {
		t.Fatalf("byte part %x", got)
	}
}

func TestKeyOrder(t *testing.T) {
	ints := []int64{-1 << 63, -1000, -1, 0, 1, 1000, 1<<63 - 1}
	var prev []byte
	for i, v := range ints {
		k := AppendInt(nil, v)
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("%d does not sort after %d", v, ints[i-1])
		}
		prev = k
	}
	b, _ := EncodeKey("b")
	aa, _ := EncodeKey("aa")
	if bytes.Compare(b, aa) >= 0 {
		t.Fatal("strings must sort by length first")
	}
}

func TestKeyErrors(t *testing.T) {
	long := make([]byte, MaxPartLen+1)
	k := NewKey().Str("a")
	k.ByteStr(long).Int(1)
	if _, err := k.Key(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("over-long part: %v", err)
	}
	if k.Len() != 3 {
		t.Fatalf("over-long part changed the key: %d bytes", k.Len())
	}
	k.Reset()
	if got, err := k.Int(0).Key(); err != nil || len(got) != 8 {
		t.Fatalf("after Reset: %x %v", got, err)
	}
	if _, err := AppendStr(nil, string(long)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("AppendStr: %v", err)
	}
	if ok, err := AppendByteStr(nil, long[:MaxPartLen]); err != nil || len(ok) != MaxPartLen+2 {
		t.Fatalf("max part: %v", err)
	}
	for _, bad := range []interface{}{nil, 1.5, []int{1}, map[string]int{}, (*int)(nil), (*KeyBuilder)(nil), struct{ F float32 }{1}, NewKey().ByteStr(long)} {
		if _, err := EncodeKey("ok", bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("EncodeKey(%T) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if _, err := EncodeKey(struct {
		A string
		B []byte
	}{"a", long}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("struct with over-long field: %v", err)
	}
	if empty, err := EncodeKey(); err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("empty key: %v %v", empty, err)
	}
}

func TestPrefixStopEdges(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{0xFF, 0xFF}, nil},
		{[]byte{1, 0xFF}, []byte{2}},
		{[]byte{1, 2}, []byte{1, 3}},
	}
	for _, c := range cases {
		in := append([]byte(nil), c.in...)
		got := PrefixStop(in)
		if !bytes.Equal(got, c.want) || (c.want == nil) != (got == nil) {
			t.Errorf("PrefixStop(%x) = %x, want %x", c.in, got, c.want)
		}
		if !bytes.Equal(in, c.in) {
			t.Errorf("PrefixStop modified its input")
		}
	}
}
