package quote

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// buildDoc returns a JSON document in which p addresses leaf.
func buildDoc(p jsonPath, leaf string) string {
	doc := leaf
	for i := len(p) - 1; i >= 0; i-- {
		if st := p[i]; st.index >= 0 {
			doc = "[" + strings.Repeat("null,", st.index) + doc + "]"
		} else {
			k, _ := json.Marshal(st.key)
			doc = `{"other":1,` + string(k) + ":" + doc + "}"
		}
	}
	return doc
}

func key(k string) pathStep { return pathStep{key: k, index: -1} }
func idx(i int) pathStep    { return pathStep{index: i} }

func TestParsePath(t *testing.T) {
	tests := []struct {
		in      string
		want    jsonPath
		wantErr bool
	}{
		{"price", jsonPath{key("price")}, false},
		{"data.primaryData.lastSalePrice", jsonPath{key("data"), key("primaryData"), key("lastSalePrice")}, false},
		{"results[0].price", jsonPath{key("results"), idx(0), key("price")}, false},
		{"[0].c", jsonPath{idx(0), key("c")}, false},
		{"a[1][2]", jsonPath{key("a"), idx(1), idx(2)}, false},
		{`["Global Quote"]["05. price"]`, jsonPath{key("Global Quote"), key("05. price")}, false},
		{`a["b.c"].d`, jsonPath{key("a"), key("b.c"), key("d")}, false},
		{`["q\"uote\\"]`, jsonPath{key(`q"uote\`)}, false},
		{`["\u00e9"]`, jsonPath{key("é")}, false},
		{"spaced key.x", jsonPath{key("spaced key"), key("x")}, false},
		{"", nil, true},
		{".a", nil, true},
		{"a.", nil, true},
		{"a..b", nil, true},
		{"a[", nil, true},
		{"a[]", nil, true},
		{"a[-1]", nil, true},
		{"a[+1]", nil, true},
		{"a[x]", nil, true},
		{"a[1048577]", nil, true},
		{"a[0]b", nil, true},
		{"a]", nil, true},
		{`["unterminated]`, nil, true},
		{`["a"`, nil, true},
		{`["a"]x`, nil, true},
		{"a=b", nil, true},
		{"a\xffb", nil, true},
		{strings.Repeat("a", maxPathText+1), nil, true},
		{strings.Repeat("a.", maxPathSteps) + "a", nil, true},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("parsePath(%q) = %v, %v, want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestWalkJSON(t *testing.T) {
	doc := `{"a": {"b": [10, {"c": "x"}, null], "n": -1.5e3, "t": true, "s": "$1,2"},
		"Global Quote": {"05. price": "1.0"}, "empty": {}, "arr": [[1, 2], [3, [4]]]}`
	paths := []string{"a.b[0]", "a.b[1].c", "a.b[2]", "a.n", "a.t", "a.s", `["Global Quote"]["05. price"]`,
		"empty", "arr[1][1][0]", "a.b", "missing", "a.b[3]", "a.b.c", "a[0]", "arr[0][1]"}
	want := []jsonValue{{'d', "10"}, {'s', "x"}, {'n', ""}, {'d', "-1.5e3"}, {'b', "true"}, {'s', "$1,2"}, {'s', "1.0"},
		{'{', ""}, {'d', "4"}, {'[', ""}, {}, {}, {}, {}, {'d', "2"}}
	var ps []jsonPath
	for _, s := range paths {
		p, err := parsePath(s)
		if err != nil {
			t.Fatalf("parsePath(%q) error = %v", s, err)
		}
		ps = append(ps, p)
	}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(doc),
		"one_byte": iotest.OneByteReader(strings.NewReader(doc)),
	} {
		got, err := walkJSON(r, ps)
		if err != nil {
			t.Fatalf("%s: walkJSON error = %v", name, err)
		}
		for i := range ps {
			if got[i] != want[i] {
				t.Errorf("%s: walkJSON value at %s = %+v, want %+v", name, paths[i], got[i], want[i])
			}
		}
	}
}

func TestWalkJSONErrors(t *testing.T) {
	p, _ := parsePath("a")
	tests := []struct {
		name, doc string
	}{
		{"empty", ""},
		{"blank", "  \n"},
		{"truncated", `{"a": 1`},
		{"trailing_document", `{"a": 1} {"a": 2}`},
		{"trailing_garbage", `{"a": 1} x`},
		{"duplicate_wanted_member", `{"a": 1, "a": 2}`},
		{"syntax", `{"a" 1}`},
		{"too_deep", strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if vals, err := walkJSON(strings.NewReader(tt.doc), []jsonPath{p}); err == nil {
				t.Errorf("walkJSON(%.40q) = %+v, nil, want an error", tt.doc, vals)
			}
		})
	}
	// Duplicates elsewhere and nesting up to the bound are fine.
	ok := `{"b": 1, "b": 2, "a": ` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`
	if vals, err := walkJSON(strings.NewReader(ok), []jsonPath{p}); err != nil || vals[0].kind != '[' {
		t.Errorf("walkJSON(nested to the bound) = %+v, %v, want the array", vals, err)
	}
	broken := errors.New("reset")
	if _, err := walkJSON(io.MultiReader(strings.NewReader(`{"a":`), iotest.ErrReader(broken)), []jsonPath{p}); !errors.Is(err, broken) {
		t.Errorf("walkJSON(broken body) error = %v, want %v", err, broken)
	}
}

// walkPaths are the paths FuzzWalkJSON looks for.
var walkPaths = []string{"a", "a.b", "a[0]", "[0]", "[1].x", `[""]`, `["\u00e9"]`, "a.b.c", "x[2][0]"}

// FuzzWalkJSON checks walkJSON against encoding/json: it accepts exactly
// the documents json.Valid accepts (up to its own depth bound and
// duplicate rule), and finds the values a decoding into any finds.
func FuzzWalkJSON(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1}}`, `[1,{"x":"y"}]`, `{"a":[true,null]}`, `"\ud83d\ude00"`, `"\ud800\u0041"`,
		`{"":1,"é":2}`, `-0.5e+3`, `{"a":"\xff"}`, `[01]`, `{"x":[0,1,[[9]]]}`, `{"a":1,"a":2}`, " \t\n[] "} {
		f.Add([]byte(s))
	}
	var paths []jsonPath
	for _, s := range walkPaths {
		p, err := parsePath(s)
		if err != nil {
			f.Fatalf("parsePath(%q) error = %v", s, err)
		}
		paths = append(paths, p)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		vals, err := walkJSON(bytes.NewReader(doc), paths)
		valid := json.Valid(doc)
		if err != nil {
			msg := err.Error()
			if valid && !strings.Contains(msg, "nested deeper") && !strings.Contains(msg, "duplicate member") {
				t.Fatalf("walkJSON(%q) error = %v, but json.Valid accepts it", doc, err)
			}
			return
		}
		if !valid {
			t.Fatalf("walkJSON(%q) = %+v, nil, but json.Valid refuses it", doc, vals)
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var root any
		if err := dec.Decode(&root); err != nil {
			t.Fatalf("json.Decode(%q) error = %v", doc, err)
		}
		for i, p := range paths {
			if want := lookup(root, p); vals[i] != want {
				t.Fatalf("walkJSON(%q) at %s = %+v, want %+v", doc, walkPaths[i], vals[i], want)
			}
		}
	})
}

// lookup finds p in a document decoded into any, as a jsonValue.
func lookup(v any, p jsonPath) jsonValue {
	for _, st := range p {
		switch c := v.(type) {
		case map[string]any:
			x, ok := c[st.key]
			if st.index >= 0 || !ok {
				return jsonValue{}
			}
			v = x
		case []any:
			if st.index < 0 || st.index >= len(c) {
				return jsonValue{}
			}
			v = c[st.index]
		default:
			return jsonValue{}
		}
	}
	switch x := v.(type) {
	case nil:
		return jsonValue{kind: 'n'}
	case bool:
		return jsonValue{kind: 'b', text: strconv.FormatBool(x)}
	case json.Number:
		return jsonValue{kind: 'd', text: x.String()}
	case string:
		return jsonValue{kind: 's', text: x}
	case map[string]any:
		return jsonValue{kind: '{'}
	}
	return jsonValue{kind: '['}
}
