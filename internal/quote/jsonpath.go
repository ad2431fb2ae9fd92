package quote

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
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

// walkJSON reads the one JSON document r holds, byte by byte in a single
// pass (the document is never held whole: memory is the open containers'
// member names and the values found), and returns the values found at
// paths, in order. It accepts exactly what encoding/json accepts, but a
// document nested deeper than maxJSONDepth, and a path matched twice
// (duplicate member names), are errors too.
func walkJSON(r io.Reader, paths []jsonPath) ([]jsonValue, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	w := &walker{r: br, paths: paths, vals: make([]jsonValue, len(paths))}
	c, err := w.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if err := w.value(c, true); err != nil {
		return nil, err
	}
	switch c, err := w.next(); {
	case errors.Is(err, io.EOF):
		return w.vals, nil
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("data after document: %q", c)
	}
}

// walker is the state of one walkJSON.
type walker struct {
	r     *bufio.Reader
	paths []jsonPath
	vals  []jsonValue // indexed as paths
	stack []walkFrame // the open containers, outermost first
	text  []byte      // scratch for the string or number being read
}

// walkFrame is one open object or array.
type walkFrame struct {
	array bool
	index int    // the current element's index, in an array
	key   []byte // the current member's name, in an object (reused)
}

// errSyntax is the error for a byte that cannot stand where it is.
func errSyntax(c byte, where string) error {
	return fmt.Errorf("invalid character %q %s", c, where)
}

// next returns the next byte that is not white space.
func (w *walker) next() (byte, error) {
	for {
		c, err := w.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}

// nextIn is next inside a value, where the document cannot end.
func (w *walker) nextIn() (byte, error) {
	c, err := w.next()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return c, err
}

// byteIn reads the next byte inside a value.
func (w *walker) byteIn() (byte, error) {
	c, err := w.r.ReadByte()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return c, err
}

// value reads the value that begins with c. track says whether some path
// can still address this value or one inside it; when none can, the value
// is only checked, and its member names are not even decoded.
func (w *walker) value(c byte, track bool) error {
	found := -1 // the index of a path addressing this value
	if track {
		track = false
		for i, p := range w.paths {
			if !matchPrefix(p, w.stack) {
				continue
			}
			if len(p) > len(w.stack) {
				track = true
				continue
			}
			if w.vals[i].kind != 0 {
				return errors.New("duplicate member name")
			}
			found = i
		}
	}
	set := func(kind byte, text string) {
		if found < 0 {
			return
		}
		for i, p := range w.paths { // every path equal to the found one
			if len(p) == len(w.stack) && matchPrefix(p, w.stack) {
				w.vals[i] = jsonValue{kind: kind, text: text}
			}
		}
	}
	switch {
	case c == '{' || c == '[':
		if len(w.stack) == maxJSONDepth {
			return fmt.Errorf("nested deeper than %d", maxJSONDepth)
		}
		set(c, "")
		if c == '{' {
			return w.object(track)
		}
		return w.array(track)
	case c == '"':
		if err := w.str(found >= 0); err != nil {
			return err
		}
		set('s', string(w.text))
	case c == '-' || ('0' <= c && c <= '9'):
		if err := w.number(c); err != nil {
			return err
		}
		set('d', string(w.text))
	case c == 't':
		return w.literal("rue", func() { set('b', "true") })
	case c == 'f':
		return w.literal("alse", func() { set('b', "false") })
	case c == 'n':
		return w.literal("ull", func() { set('n', "") })
	default:
		return errSyntax(c, "looking for beginning of value")
	}
	return nil
}

// object reads an object's members after its '{'.
func (w *walker) object(track bool) error {
	w.stack = append(w.stack, walkFrame{key: w.frameKey()})
	c, err := w.nextIn()
	if err != nil || c == '}' {
		w.pop()
		return err
	}
	for {
		if c != '"' {
			return errSyntax(c, "looking for beginning of object key string")
		}
		if err := w.str(track); err != nil {
			return err
		}
		top := &w.stack[len(w.stack)-1]
		top.key = append(top.key[:0], w.text...)
		if c, err = w.nextIn(); err != nil {
			return err
		}
		if c != ':' {
			return errSyntax(c, "after object key")
		}
		if c, err = w.nextIn(); err != nil {
			return err
		}
		if err := w.value(c, track); err != nil {
			return err
		}
		if c, err = w.nextIn(); err != nil {
			return err
		}
		switch c {
		case ',':
			if c, err = w.nextIn(); err != nil {
				return err
			}
		case '}':
			w.pop()
			return nil
		default:
			return errSyntax(c, "after object key:value pair")
		}
	}
}

// array reads an array's elements after its '['.
func (w *walker) array(track bool) error {
	w.stack = append(w.stack, walkFrame{array: true, key: w.frameKey()})
	c, err := w.nextIn()
	if err != nil || c == ']' {
		w.pop()
		return err
	}
	for {
		if err := w.value(c, track); err != nil {
			return err
		}
		if c, err = w.nextIn(); err != nil {
			return err
		}
		switch c {
		case ',':
			w.stack[len(w.stack)-1].index++
			if c, err = w.nextIn(); err != nil {
				return err
			}
		case ']':
			w.pop()
			return nil
		default:
			return errSyntax(c, "after array element")
		}
	}
}

// frameKey returns the key buffer a frame pushed at the current depth
// reuses: the one the last frame at that depth had.
func (w *walker) frameKey() []byte {
	if n := len(w.stack); n < cap(w.stack) {
		return w.stack[:n+1][n].key[:0]
	}
	return nil
}

// pop closes the innermost container.
func (w *walker) pop() { w.stack = w.stack[:len(w.stack)-1] }

// literal reads the rest of true, false or null and calls found.
func (w *walker) literal(rest string, found func()) error {
	for i := 0; i < len(rest); i++ {
		c, err := w.byteIn()
		if err != nil {
			return err
		}
		if c != rest[i] {
			return errSyntax(c, "in literal")
		}
	}
	found()
	return nil
}

// number reads a number that begins with c into w.text, checking the JSON
// grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (w *walker) number(c byte) error {
	w.text = append(w.text[:0], c)
	const (
		afterSign = iota // after '-': want a digit
		afterZero        // a leading 0: no more integer digits
		inInt
		afterDot // want a digit
		inFrac
		afterE // want a sign or a digit
		afterESign
		inExp
	)
	state := inInt
	switch c {
	case '-':
		state = afterSign
	case '0':
		state = afterZero
	}
	for {
		c, err := w.r.ReadByte()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		digit := err == nil && '0' <= c && c <= '9'
		next := -1
		switch {
		case err != nil:
		case state == afterSign && digit && c == '0':
			next = afterZero
		case (state == afterSign || state == inInt) && digit:
			next = inInt
		case (state == afterZero || state == inInt) && c == '.':
			next = afterDot
		case (state == afterDot || state == inFrac) && digit:
			next = inFrac
		case (state == afterZero || state == inInt || state == inFrac) && (c == 'e' || c == 'E'):
			next = afterE
		case state == afterE && (c == '+' || c == '-'):
			next = afterESign
		case (state == afterE || state == afterESign || state == inExp) && digit:
			next = inExp
		}
		if next >= 0 {
			w.text, state = append(w.text, c), next
			continue
		}
		if state == afterSign || state == afterDot || state == afterE || state == afterESign {
			if err != nil {
				return io.ErrUnexpectedEOF
			}
			return errSyntax(c, "in numeric literal")
		}
		if err == nil {
			w.r.UnreadByte() // the byte after the number belongs to the caller
		}
		return nil
	}
}

// str reads a string after its opening quote. With decode it leaves the
// string's value in w.text, escapes resolved and invalid UTF-8 and lone
// surrogates replaced by U+FFFD as encoding/json does; without, it only
// checks the string.
func (w *walker) str(decode bool) error {
	w.text = w.text[:0]
	high := false // whether w.text holds a byte >= 0x80 to check
	for {
		c, err := w.byteIn()
		if err != nil {
			return err
		}
		switch {
		case c == '"':
			if decode && high {
				w.text = fixUTF8(w.text)
			}
			return nil
		case c < 0x20:
			return errSyntax(c, "in string literal")
		case c == '\\':
			r, err := w.escape()
			if err != nil {
				return err
			}
			if decode {
				w.text = utf8.AppendRune(w.text, r)
			}
		default:
			if decode {
				w.text = append(w.text, c)
				high = high || c >= utf8.RuneSelf
			}
		}
	}
}

// escape reads an escape after its backslash and returns the rune it
// stands for, joining a UTF-16 surrogate pair.
func (w *walker) escape() (rune, error) {
	c, err := w.byteIn()
	if err != nil {
		return 0, err
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		return 0, errSyntax(c, "in string escape code")
	}
	r, err := w.hex4()
	if err != nil || !utf16.IsSurrogate(r) {
		return r, err
	}
	// A surrogate joins a following \uXXXX into a pair, or stands alone
	// as U+FFFD, leaving what follows to be read on its own: exactly
	// encoding/json's reading.
	if b, _ := w.r.Peek(6); len(b) == 6 && b[0] == '\\' && b[1] == 'u' {
		if r2, ok := parseHex4(b[2:]); ok {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				w.r.Discard(6)
				return dec, nil
			}
		}
	}
	return utf8.RuneError, nil
}

// hex4 reads the four hex digits of a \u escape.
func (w *walker) hex4() (rune, error) {
	var r rune
	for range 4 {
		c, err := w.byteIn()
		if err != nil {
			return 0, err
		}
		v, ok := hexDigit(c)
		if !ok {
			return 0, errSyntax(c, "in \\u hexadecimal character escape")
		}
		r = r<<4 | v
	}
	return r, nil
}

// parseHex4 reads the four hex digits b starts with.
func parseHex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		v, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

// hexDigit returns the value of a hex digit.
func hexDigit(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// fixUTF8 replaces each byte of b that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does.
func fixUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// matchPrefix reports whether the first len(stack) steps of p address the
// open containers stack (and so p addresses the value beginning inside
// them, or one within it).
func matchPrefix(p jsonPath, stack []walkFrame) bool {
	if len(p) < len(stack) {
		return false
	}
	for i := range stack {
		f, st := &stack[i], p[i]
		if f.array != (st.index >= 0) || (f.array && f.index != st.index) || (!f.array && string(f.key) != st.key) {
			return false
		}
	}
	return true
}
