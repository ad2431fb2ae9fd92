package quote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A jsonPath addresses one value in a JSON document, step by step from the
// root. Its text form (see JSONOptions) is parsed by parsePath.
type jsonPath []pathStep

// pathStep is a member name (index < 0) or an array index.
type pathStep struct {
	key   string
	index int
}

// Bounds on the path syntax, so a configuration cannot make the walker's
// work grow without limit.
const (
	maxPathText  = 256     // bytes of one path's text
	maxPathSteps = 32      // steps in one path
	maxPathIndex = 1 << 20 // the largest array index a path may name
	maxJSONDepth = 64      // nesting of a document walkJSON accepts
)

// parsePath parses the whole of s as a path.
func parsePath(s string) (jsonPath, error) {
	p, rest, err := parsePathPrefix(s)
	if err == nil && rest != "" {
		err = fmt.Errorf("unexpected %q at offset %d", rest[0], len(s)-len(rest))
	}
	return p, err
}

// parsePathPrefix parses a path at the start of s, up to the end of s or
// to an '=' outside a quoted key, which it returns with what follows as
// rest. The syntax: member names joined by '.', array indexes as [n], and
// member names holding any character as ["JSON string"]:
//
//	data.primaryData.lastSalePrice
//	results[0].price
//	["Global Quote"]["05. price"]
//	[0].c
func parsePathPrefix(s string) (jsonPath, string, error) {
	if s == "" {
		return nil, "", errors.New("empty path")
	}
	if len(s) > maxPathText {
		return nil, "", fmt.Errorf("path longer than %d bytes", maxPathText)
	}
	if !utf8.ValidString(s) {
		return nil, "", errors.New("path is not valid UTF-8")
	}
	var p jsonPath
	i := 0
	for i < len(s) && s[i] != '=' {
		if len(p) == maxPathSteps {
			return nil, "", fmt.Errorf("path of more than %d steps", maxPathSteps)
		}
		switch {
		case s[i] == '[':
			step, n, err := parseBracket(s[i:])
			if err != nil {
				return nil, "", fmt.Errorf("%v at offset %d", err, i)
			}
			p, i = append(p, step), i+n
		case s[i] == '.' && len(p) > 0:
			i++
			fallthrough
		case len(p) == 0:
			j := i
			for j < len(s) && strings.IndexByte(".[]=", s[j]) < 0 {
				j++
			}
			if j == i {
				return nil, "", fmt.Errorf("empty member name at offset %d", i)
			}
			p, i = append(p, pathStep{key: s[i:j], index: -1}), j
		default:
			return nil, "", fmt.Errorf("want '.' or '[' at offset %d", i)
		}
	}
	return p, s[i:], nil
}

// parseBracket parses [n] or ["name"] at the start of s and returns the
// step and its length.
func parseBracket(s string) (pathStep, int, error) {
	if len(s) > 1 && s[1] == '"' {
		j := 2
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return pathStep{}, 0, errors.New("unterminated quoted name")
		}
		var key string
		if err := json.Unmarshal([]byte(s[1:j+1]), &key); err != nil {
			return pathStep{}, 0, errors.New("bad quoted name")
		}
		if j+1 >= len(s) || s[j+1] != ']' {
			return pathStep{}, 0, errors.New("want ']' after quoted name")
		}
		return pathStep{key: key, index: -1}, j + 2, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return pathStep{}, 0, errors.New("unterminated '['")
	}
	digits := s[1:end]
	n, err := strconv.Atoi(digits)
	if !isDigits(digits) || err != nil || n > maxPathIndex {
		return pathStep{}, 0, fmt.Errorf("index %q is not a number from 0 to %d", digits, maxPathIndex)
	}
	return pathStep{index: n}, end + 1, nil
}

// jsonValue is what walkJSON found at a path.
type jsonValue struct {
	kind byte   // 0 absent, 'n' null, 's' string, 'd' number, 'b' boolean, '{' object, '[' array
	text string // a string's content, a number's text, "true" or "false"
}

// present reports whether the value is there and not null.
func (v jsonValue) present() bool { return v.kind != 0 && v.kind != 'n' }

// walkFrame is one open object or array in walkJSON.
type walkFrame struct {
	array   bool
	index   int    // the current element's index, in an array
	key     string // the current member's name, in an object
	wantKey bool   // in an object: the next token is a name or '}'
}

// walkJSON reads the one JSON document r holds, token by token (the
// document is never held whole), and returns the values found at paths,
// in order. A document nested deeper than maxJSONDepth, a path matched
// twice (duplicate member names) or anything after the document is an
// error.
func walkJSON(r io.Reader, paths []jsonPath) ([]jsonValue, error) {
	vals := make([]jsonValue, len(paths))
	longest := 0
	for _, p := range paths {
		longest = max(longest, len(p))
	}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var stack []walkFrame
	done := false
	endValue := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		if top := &stack[len(stack)-1]; top.array {
			top.index++
		} else {
			top.wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !done {
				return nil, io.ErrUnexpectedEOF
			}
			return vals, nil
		}
		if err != nil {
			return nil, err
		}
		if done {
			return nil, errors.New("data after document")
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
				stack = stack[:n-1]
				endValue()
				continue
			}
			if top.wantKey {
				top.key, _ = tok.(string) // the decoder allows only strings here
				top.wantKey = false
				continue
			}
		}
		v := tokenValue(tok)
		if len(stack) <= longest {
			for i, p := range paths {
				if matchPath(p, stack) {
					if vals[i].kind != 0 {
						return nil, errors.New("duplicate member name")
					}
					vals[i] = v
				}
			}
		}
		if v.kind == '{' || v.kind == '[' {
			if len(stack) == maxJSONDepth {
				return nil, fmt.Errorf("nested deeper than %d", maxJSONDepth)
			}
			stack = append(stack, walkFrame{array: v.kind == '[', wantKey: v.kind == '{'})
			continue
		}
		endValue()
	}
}

// tokenValue describes the value a token begins.
func tokenValue(tok json.Token) jsonValue {
	switch t := tok.(type) {
	case json.Delim:
		return jsonValue{kind: byte(t)}
	case string:
		return jsonValue{kind: 's', text: t}
	case json.Number:
		return jsonValue{kind: 'd', text: t.String()}
	case bool:
		return jsonValue{kind: 'b', text: strconv.FormatBool(t)}
	}
	return jsonValue{kind: 'n'}
}

// matchPath reports whether p addresses the value beginning inside the
// open containers stack.
func matchPath(p jsonPath, stack []walkFrame) bool {
	if len(p) != len(stack) {
		return false
	}
	for i, st := range p {
		f := &stack[i]
		if f.array != (st.index >= 0) || (f.array && f.index != st.index) || (!f.array && f.key != st.key) {
			return false
		}
	}
	return true
}
