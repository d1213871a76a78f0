package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleTensors() []Tensor {
	return []Tensor{
		FromFloat32("layers.0.w", []int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}),
		FromFloat64("b", []int{2}, []float64{math.Pi, -1e300}),
		FromInt32("step", []int{}, []int32{-7}),
		FromInt64("empty", []int{0, 4}, nil),
		FromInt64("ids", []int{3}, []int64{1 << 40, -1, 0}),
	}
}

func encode(t *testing.T, ts []Tensor, md map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Write(&b, ts, md))
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	ts := sampleTensors()
	md := map[string]string{"format": "pt", "bfc": "v0 \"quoted\" <tag>"}
	b := encode(t, ts, md)

	hlen := binary.LittleEndian.Uint64(b)
	require.Zero(t, hlen%8, "header padded to 8 bytes")
	hdr := string(b[8 : 8+hlen])
	require.True(t, strings.HasPrefix(hdr, `{"__metadata__":{"bfc":"v0 \"quoted\" <tag>","format":"pt"},"b":{`), hdr)
	require.Equal(t, strings.TrimRight(hdr, " ")+strings.Repeat(" ", len(hdr)-len(strings.TrimRight(hdr, " "))), hdr)

	f, err := Read(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, md, f.Metadata)
	require.Len(t, f.Tensors, len(ts))
	for i := 1; i < len(f.Tensors); i++ {
		require.Less(t, f.Tensors[i-1].Name, f.Tensors[i].Name)
	}
	for _, want := range ts {
		got, ok := f.Get(want.Name)
		require.True(t, ok, want.Name)
		require.Equal(t, want.DType, got.DType)
		require.Equal(t, want.Shape, got.Shape)
		require.Equal(t, len(want.Data), len(got.Data))
		if len(want.Data) > 0 {
			require.Equal(t, want.Data, got.Data)
		}
	}
	_, ok := f.Get("nope")
	require.False(t, ok)

	w, _ := f.Get("layers.0.w")
	x, err := w.Float32()
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}, x)
	bt, _ := f.Get("b")
	y, err := bt.Float64()
	require.NoError(t, err)
	require.Equal(t, []float64{math.Pi, -1e300}, y)
	st, _ := f.Get("step")
	z, err := st.Int32()
	require.NoError(t, err)
	require.Equal(t, []int32{-7}, z)
	id, _ := f.Get("ids")
	u, err := id.Int64()
	require.NoError(t, err)
	require.Equal(t, []int64{1 << 40, -1, 0}, u)
	_, err = id.Float32()
	require.ErrorContains(t, err, `"ids" has dtype I64, not F32`)

	// Deterministic: input order does not matter.
	rev := make([]Tensor, len(ts))
	for i := range ts {
		rev[i] = ts[len(ts)-1-i]
	}
	require.Equal(t, b, encode(t, rev, md))
}

func TestWriteErrors(t *testing.T) {
	var b bytes.Buffer
	a := FromFloat32("a", []int{1}, []float32{1})
	require.ErrorContains(t, Write(&b, []Tensor{a, a}, nil), `duplicate tensor name "a"`)
	require.ErrorContains(t, Write(&b, []Tensor{{Name: "x", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}}, nil), "needs 8 bytes, has 4")
	require.ErrorContains(t, Write(&b, []Tensor{{Name: "x", DType: "BF16", Shape: []int{1}, Data: make([]byte, 2)}}, nil), `unknown dtype "BF16"`)
	require.ErrorContains(t, Write(&b, []Tensor{FromInt32("", nil, []int32{1})}, nil), "invalid tensor name")
}

// pythonFile builds, byte by byte, a file as Python's safetensors writes
// it: "__metadata__" first, tensors ordered by alignment then name (so the
// 8-byte I64 comes before the F32 tensor), header padded with spaces.
func pythonFile() []byte {
	hdr := `{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]}}`
	for (len(hdr))%8 != 0 {
		hdr += " "
	}
	var f []byte
	f = binary.LittleEndian.AppendUint64(f, uint64(len(hdr)))
	f = append(f, hdr...)
	f = append(f, 7, 0, 0, 0, 0, 0, 0, 0) // int64 7
	f = append(f, 0, 0, 0xc0, 0x3f)       // float32 1.5
	f = append(f, 0, 0, 0, 0xc0)          // float32 -2
	return f
}

func TestReadPythonConventions(t *testing.T) {
	b := pythonFile()
	f, err := Read(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	require.Equal(t, "a", f.Tensors[0].Name)
	require.Equal(t, []int{2, 1}, f.Tensors[0].Shape)
	x, err := f.Tensors[0].Float32()
	require.NoError(t, err)
	require.Equal(t, []float32{1.5, -2}, x)
	y, err := f.Tensors[1].Int64()
	require.NoError(t, err)
	require.Equal(t, []int64{7}, y)
}

// rawFile builds a file from a header string and n data bytes.
func rawFile(hdr string, n int) []byte {
	f := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	f = append(f, hdr...)
	return append(f, make([]byte, n)...)
}

func TestReadErrors(t *testing.T) {
	ent := func(name, dtype, shape string, b, e int) string {
		return fmt.Sprintf(`"%s":{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, dtype, shape, b, e)
	}
	lenOnly := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "truncated: 0 bytes"},
		{"short", []byte{1, 2, 3}, "truncated: 3 bytes"},
		{"header past end", append(lenOnly(100), "{}"...), "header length 100 runs past the end of a 10-byte file"},
		{"absurd header", lenOnly(1 << 60), "exceeds the"},
		{"not json", rawFile(`{"a":`, 0), "header is not JSON"},
		{"garbage", rawFile(`hello`, 0), "header is not JSON"},
		{"array", rawFile(`[1,2]`, 0), "not a JSON object"},
		{"trailing", rawFile(`{}x`, 0), "trailing data"},
		{"unknown dtype", rawFile("{"+ent("w", "F16", "[2]", 0, 4)+"}", 4), `tensor "w": unknown dtype "F16"`},
		{"shape mismatch", rawFile("{"+ent("w", "F32", "[3]", 0, 8)+"}", 8), `tensor "w": shape [3] of F32 does not match its 8 bytes`},
		{"negative dim", rawFile("{"+ent("w", "F32", "[-1]", 0, 4)+"}", 4), `invalid dimension -1`},
		{"huge dims", rawFile("{"+ent("w", "F32", "[4294967296,4294967296]", 0, 4)+"}", 4), `does not match`},
		{"out of range", rawFile("{"+ent("w", "F32", "[2]", 0, 8)+"}", 4), `data_offsets [0,8] outside the 4-byte data section`},
		{"reversed", rawFile("{"+ent("w", "F32", "[0]", 4, 0)+"}", 4), `outside`},
		{"overlap", rawFile("{"+ent("a", "F32", "[2]", 0, 8)+","+ent("b", "F32", "[1]", 4, 8)+"}", 8), `overlap`},
		{"gap", rawFile("{"+ent("a", "F32", "[1]", 0, 4)+","+ent("b", "F32", "[1]", 8, 12)+"}", 12), `gap`},
		{"not covering", rawFile("{"+ent("a", "F32", "[1]", 0, 4)+"}", 8), `tensors cover 4 bytes but the data section has 8`},
		{"duplicate", rawFile("{"+ent("a", "F32", "[1]", 0, 4)+","+ent("a", "F32", "[1]", 4, 8)+"}", 8), `names "a" twice`},
		{"bad metadata", rawFile(`{"__metadata__":{"k":1}}`, 0), `must map strings to strings`},
		{"bad offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4), `data_offsets must be [begin, end]`},
		{"no shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `missing shape`},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), `bad header entry`},
		{"entry not object", rawFile(`{"a":3}`, 0), `bad header entry`},
		{"float dim", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), `bad header entry`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.file), int64(len(c.file)))
			require.ErrorContains(t, err, c.want)
		})
	}
	// A size larger than the reader: reading the data fails cleanly.
	b := encode(t, sampleTensors(), nil)
	_, err := Read(bytes.NewReader(b[:len(b)-3]), int64(len(b)))
	require.ErrorContains(t, err, "reading data")
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	require.NoError(t, Save(path, sampleTensors(), map[string]string{"step": "1"}))
	require.NoError(t, Save(path, sampleTensors()[:2], map[string]string{"step": "2"})) // overwrite
	f, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, "2", f.Metadata["step"])
	require.Len(t, f.Tensors, 2)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left behind")

	// A failed write leaves the old file intact.
	bad := []Tensor{{Name: "x", DType: "F32", Shape: []int{2}}}
	require.Error(t, Save(path, bad, nil))
	f, err = Load(path)
	require.NoError(t, err)
	require.Len(t, f.Tensors, 2)
	entries, _ = os.ReadDir(dir)
	require.Len(t, entries, 1)

	require.NoError(t, os.WriteFile(path, []byte("junk"), 0o644))
	_, err = Load(path)
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "truncated")
	_, err = Load(filepath.Join(dir, "missing"))
	require.Error(t, err)
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	_ = Write(&b, sampleTensors(), map[string]string{"a": "b"})
	f.Add(b.Bytes())
	f.Add(pythonFile())
	f.Add(rawFile(`{}`, 0))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		// Whatever reads must write back and read again identically.
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-writing a file that read fine: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("re-reading: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors became %d", len(file.Tensors), len(again.Tensors))
		}
		for i := range again.Tensors {
			a, b := again.Tensors[i], file.Tensors[i]
			if a.Name != b.Name || a.DType != b.DType || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tensor %d changed: %+v vs %+v", i, a, b)
			}
		}
	})
}

// TestSaveRemovesStaleTemporaries checks that a save removes what crashed
// saves of the same file left, and nothing else.
func TestSaveRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	stale := []string{".ckpt.safetensors.tmp123", ".ckpt.safetensors.tmp9"}
	keep := []string{".ckpt.safetensors.tmpx1", ".other.safetensors.tmp5", "ckpt.safetensors.bak", ".ckpt.safetensors.tmp"}
	for _, n := range append(slices.Clone(stale), keep...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644))
	}
	require.NoError(t, Save(path, sampleTensors(), nil))
	var got []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := append(slices.Clone(keep), "ckpt.safetensors")
	slices.Sort(want)
	require.Equal(t, want, got)
}
