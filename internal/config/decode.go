package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into a Config, turning every problem into an
// *Error that names the file, the line and the dotted key.
type decoder struct {
	file  string // file name for errors
	lines int    // lines in the data, at least 1; set by document
	data  []byte // the data, for the lines of errors yaml.v3 gives none; set by document

	keys       map[string]*yaml.Node // dotted path -> its key node, for checks across keys
	symbols    []symbolEntry         // the symbols list as written, checked by checkSymbols
	symbolsDst *[]string             // where checkSymbols stores them; nil when the file has no list
}

// field is one key of a mapping and how to decode its (non-null) value.
type field struct {
	name   string
	decode decodeFunc
}

// decodeFunc decodes n, found at the dotted path key. n may be an alias.
type decodeFunc func(d *decoder, n *yaml.Node, key string) error

func configFields(c *Config) []field {
	return []field{
		{"listen", str(&c.Listen, checkListen)},
		{"source", section(sourceFields(&c.Source))},
		{"schedule", str(&c.Schedule, checkSchedule)},
		{"symbols", symbols(&c.Symbols)},
		{"history", integer(&c.History, 1, MaxHistory)},
		{"websocket", section(websocketFields(&c.Websocket))},
		{"http", section(httpFields(&c.HTTP))},
		{"log", section(logFields(&c.Log))},
		{"cluster", clusterSection(&c.Cluster)},
		{"auth", authSection(&c.Auth)},
		{"admin_listen", str(&c.AdminListen, checkAdminListen)},
		{"tls", tlsSection(&c.TLS)},
	}
}

func sourceFields(s *Source) []field {
	return []field{
		{"kind", str(&s.Kind, checkKind)},
		{"url", str(&s.URL, checkURL)},
		{"timeout", duration(&s.Timeout, 100*time.Millisecond, 5*time.Minute)},
		{"max_in_flight", integer(&s.MaxInFlight, 1, MaxInFlight)},
		{"user_agent", str(&s.UserAgent, nil)},
		{"api_key", str(&s.APIKey, nil)},
		{"api_secret", str(&s.APISecret, nil)},
		{"api_key_file", secretFile(&s.APIKeyFile, &s.APIKey)},
		{"api_secret_file", secretFile(&s.APISecretFile, &s.APISecret)},
		{"headers", headers(&s.Headers)},
		{"max_rps", number(&s.MaxRPS, 0, MaxRPS)},
		{"stale_after", integer(&s.StaleAfter, 1, 100)},
		{"json", jsonSection(&s.JSON)},
	}
}

// secretFile decodes the name of a file holding a secret and reads the
// secret into secret: the file must exist, be at most 4 KiB and hold a
// non-empty line. The error never shows the file's content.
func secretFile(name, secret *string) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "string")
		if err != nil {
			return err
		}
		if s.Value == "" {
			*name = ""
			return nil
		}
		b, err := os.ReadFile(s.Value)
		switch {
		case err != nil:
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: "cannot read " + quote(s.Value), cause: err})
		case len(b) > 4096:
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: quote(s.Value) + " is larger than 4 KiB"})
		}
		v := strings.TrimSpace(string(b))
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: quote(s.Value) + " must hold the secret on one line"})
		}
		*name, *secret = s.Value, v
		return nil
	}
}

// headers decodes a mapping of header names to values: at most 32, names
// that are HTTP tokens, values without control characters.
func headers(dst *map[string]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		m := resolve(n)
		if m == nil || m.Kind != yaml.MappingNode {
			return d.errAt(n, key, typeErr("mapping", m))
		}
		if len(m.Content)/2 > 32 {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: "at most 32 headers"})
		}
		out := make(map[string]string, len(m.Content)/2)
		for i := 0; i+1 < len(m.Content); i += 2 {
			kn, vn := m.Content[i], m.Content[i+1]
			name := kn.Value
			hk := key + "." + name
			if !validHeaderName(name) {
				return d.errAt(kn, hk, &detail{sentinel: ErrInvalidValue, msg: "invalid header name " + quote(name)})
			}
			v, err := d.scalar(vn, hk, "string")
			if err != nil {
				return err
			}
			if strings.ContainsFunc(v.Value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				return d.errAt(vn, hk, &detail{sentinel: ErrInvalidValue, msg: "header value has control characters"})
			}
			if _, dup := out[name]; dup {
				return d.errAt(kn, hk, &detail{sentinel: ErrDuplicateKey, msg: "header given twice"})
			}
			out[name] = v.Value
		}
		if len(out) == 0 {
			out = nil // as in Default
		}
		*dst = out
		return nil
	}
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// number decodes an integer or float scalar that must be in [least, most].
func number(dst *float64, least, most float64) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "number")
		if err != nil {
			return err
		}
		var v float64
		if (s.ShortTag() != "!!int" && s.ShortTag() != "!!float") || decodeScalar(s, &v) != nil {
			return d.errAt(n, key, typeErr("number", s))
		}
		if !(v >= least && v <= most) {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("must be from %v to %v, got %v", least, most, v)})
		}
		*dst = v
		return nil
	}
}

func websocketFields(w *Websocket) []field {
	return []field{
		{"max_clients", integer(&w.MaxClients, 1, MaxClients)},
		{"max_symbols_per_client", integer(&w.MaxSymbolsPerClient, 1, MaxSymbols)},
		{"dynamic_symbols", boolean(&w.DynamicSymbols)},
		{"max_dynamic_symbols", integer(&w.MaxDynamicSymbols, 0, MaxSymbols)},
		{"allowed_origins", origins(&w.AllowedOrigins)},
		{"write_timeout", duration(&w.WriteTimeout, 100*time.Millisecond, 5*time.Minute)},
		{"ping_interval", duration(&w.PingInterval, time.Second, time.Hour)},
		{"batch_delay", duration(&w.BatchDelay, 0, time.Second)},
		{"max_clients_per_ip", integer(&w.MaxClientsPerIP, 0, MaxClients)},
		{"trusted_proxies", trustedProxies(&w.TrustedProxies)},
	}
}

func httpFields(h *HTTP) []field {
	return []field{
		{"max_connections", integer(&h.MaxConnections, 0, MaxConnections)},
		{"idle_timeout", duration(&h.IdleTimeout, time.Second, time.Hour)},
		{"read_header_timeout", duration(&h.ReadHeaderTimeout, 100*time.Millisecond, 5*time.Minute)},
	}
}

func logFields(l *Log) []field {
	return []field{
		{"format", str(&l.Format, checkLogFormat)},
		{"level", logLevel(&l.Level)},
		{"access", boolean(&l.Access)},
	}
}

// errAt returns an *Error at n's line.
func (d *decoder) errAt(n *yaml.Node, key string, err error) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: d.file, Line: line, Key: key, Err: err}
}

// document parses data and returns its top-level mapping.
func (d *decoder) document(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// yaml.v3 turns its own failures into errors; anything else it
		// panics with is a bug in it, reported here as a syntax error.
		if r := recover(); r != nil {
			root, err = nil, d.syntaxErr(fmt.Errorf("yaml: internal error: %v", r))
		}
	}()
	if err := d.checkText(data); err != nil {
		return nil, err
	}
	d.data = data
	d.lines = max(1, bytes.Count(data, []byte("\n"))+1)
	if bytes.HasSuffix(data, []byte("\n")) {
		d.lines--
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: d.file, Line: 1, Err: &detail{sentinel: ErrEmpty, msg: "empty file"}}
		}
		return nil, d.syntaxErr(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &Error{File: d.file, Line: max(extra.Line, 1), Err: &detail{sentinel: ErrMultipleDocuments, msg: "more than one YAML document"}}
	case !errors.Is(err, io.EOF):
		return nil, d.syntaxErr(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(resolve(doc.Content[0])) {
		return nil, &Error{File: d.file, Line: 1, Err: &detail{sentinel: ErrEmpty, msg: "empty document"}}
	}
	root = doc.Content[0]
	if r := resolve(root); r == nil || r.Kind != yaml.MappingNode {
		return nil, &Error{File: d.file, Line: max(root.Line, 1), Err: typeErr("mapping at the top level", r)}
	}
	return root, nil
}

// checkText rejects data that is not UTF-8 text before yaml.v3 sees it:
// yaml.v3 reports a bad byte without its line, and may take a binary file
// for an empty one. A leading UTF-8 byte order mark is allowed.
func (d *decoder) checkText(data []byte) *Error {
	text := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	line := 1
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &Error{File: d.file, Line: line, Err: &detail{sentinel: ErrSyntax, msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x): want a UTF-8 text file", text[i])}}
		case r == 0:
			return &Error{File: d.file, Line: line, Err: &detail{sentinel: ErrSyntax, msg: "binary data (a NUL byte): want a YAML text file"}}
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0x7f:
			return &Error{File: d.file, Line: line, Err: &detail{sentinel: ErrSyntax, msg: fmt.Sprintf("control character %U: want a YAML text file", r)}}
		case r == '\n':
			line++
		}
		i += size
	}
	return nil
}

// parserProblems are the messages of yaml.v3's parser errors (as opposed
// to its scanner's). yaml.v3 v3.0.1 reports their line 0-based (one line
// early) while it reports scanner errors 1-based; syntaxErr corrects them.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxErr wraps a yaml.v3 error, keeping its problem. yaml.v3 exposes the
// line only in the message ("yaml: line 3: ..."), so it is read from there
// (and corrected for parser errors, see parserProblems); errors without
// one are at the start of the input.
func (d *decoder) syntaxErr(err error) *Error {
	line, msg := 0, err.Error()
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil && n > 0 {
				line, msg = n, "yaml: "+strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if parserProblems[strings.TrimPrefix(msg, "yaml: ")] {
		line++ // also right when yaml.v3 gave no line: it means 0
	}
	switch {
	case strings.HasPrefix(msg, "yaml: unknown anchor '"):
		// yaml.v3 gives no line: the first alias of the anchor is the
		// mistake.
		name, _, _ := strings.Cut(strings.TrimPrefix(msg, "yaml: unknown anchor '"), "'")
		if l := lineOf(d.data, "*"+name); l > 0 {
			line = l
		}
	case msg == "yaml: found unexpected end of stream":
		// A quoted scalar left open runs to the end of the input, and
		// yaml.v3 names the end when the quote opened on the first line:
		// the quote is the mistake.
		if l := openQuoteLine(d.data); l > 0 {
			line = l
		}
	}
	// A problem found at the end of the input (an unclosed bracket) is on
	// the last line, not the empty one after the final newline.
	return &Error{File: d.file, Line: min(max(line, 1), d.lines), Err: &detail{sentinel: ErrSyntax, msg: msg}}
}

// lineOf returns the 1-based line of the first occurrence of s in data, 0
// if there is none.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// openQuoteLine returns the 1-based line of a quoted scalar that data
// leaves open, 0 if none is. A quote opens a scalar only where a value
// starts (at the start of a line, or after ':', '-', '[', '{', ',' or
// '?' and spaces), so an apostrophe inside a plain scalar is not one;
// backslash escapes in double quotes and ” in single quotes are skipped,
// and comments outside quotes are ignored.
func openQuoteLine(data []byte) int {
	line, openLine := 1, 0
	var quote byte     // the open quote, 0 outside quotes
	valueStart := true // a quote here would open a scalar
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			line++
		}
		switch {
		case quote == '"' && c == '\\':
			if i+1 < len(data) && data[i+1] == '\n' {
				line++
			}
			i++ // the escaped byte
		case quote == '\'' && c == '\'' && i+1 < len(data) && data[i+1] == '\'':
			i++ // '' is a quote inside single quotes
		case quote != 0 && c == quote:
			quote, valueStart = 0, false
		case quote != 0:
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			for i+1 < len(data) && data[i+1] != '\n' {
				i++ // the comment, up to its newline
			}
			valueStart = true
		case (c == '"' || c == '\'') && valueStart:
			quote, openLine = c, line
		case c == '\n' || c == ':' || c == '-' || c == '[' || c == '{' || c == ',' || c == '?':
			valueStart = true
		case c == ' ' || c == '\t':
		default:
			valueStart = false
		}
	}
	if quote != 0 {
		return openLine
	}
	return 0
}

// mapping decodes the mapping n, found at path prefix, key by key.
// Null values are skipped, leaving the defaults in place.
func (d *decoder) mapping(n *yaml.Node, prefix string, fields []field) error {
	m := resolve(n)
	if m == nil || m.Kind != yaml.MappingNode {
		return d.errAt(n, prefix, typeErr("mapping", m))
	}
	seen := make(map[string]int, len(fields)) // key -> line of first occurrence
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], m.Content[i+1]
		k := resolve(kn)
		if k == nil || k.Kind != yaml.ScalarNode {
			return d.errAt(kn, prefix, typeErr("string key", k))
		}
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		if k.ShortTag() == "!!merge" {
			return d.errAt(kn, path, &detail{sentinel: ErrUnknownKey, msg: "merge keys (<<) are not supported"})
		}
		f := lookup(fields, k.Value)
		if f == nil {
			return d.errAt(kn, path, &detail{sentinel: ErrUnknownKey, msg: "unknown key " + quote(k.Value)})
		}
		if line, dup := seen[k.Value]; dup {
			return d.errAt(kn, path, &detail{sentinel: ErrDuplicateKey, msg: fmt.Sprintf("key %s already set on line %d", quote(k.Value), line)})
		}
		seen[k.Value] = kn.Line
		if d.keys == nil {
			d.keys = make(map[string]*yaml.Node)
		}
		d.keys[path] = kn
		if isNull(resolve(vn)) {
			continue
		}
		if err := f.decode(d, vn, path); err != nil {
			return err
		}
	}
	return nil
}

func lookup(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	return nil
}

// scalar returns n resolved, or an ErrType error if it is not a non-null
// scalar.
func (d *decoder) scalar(n *yaml.Node, key, want string) (*yaml.Node, error) {
	s := resolve(n)
	if s == nil || s.Kind != yaml.ScalarNode || isNull(s) {
		return nil, d.errAt(n, key, typeErr(want, s))
	}
	return s, nil
}

// section decodes a nested mapping.
func section(fields []field) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		return d.mapping(n, key, fields)
	}
}

// str decodes any non-null scalar as its text, then checks it.
func str(dst *string, check func(string) error) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "string")
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(s.Value); err != nil {
				return d.errAt(n, key, err)
			}
		}
		*dst = s.Value
		return nil
	}
}

// integer decodes an integer scalar that must be in [least, most]. It
// decodes into an int64 first, so that a value too large for int on a
// 32-bit platform is a range error there as on 64-bit ones.
func integer(dst *int, least, most int) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "integer")
		if err != nil {
			return err
		}
		var v int64
		if s.ShortTag() != "!!int" || decodeScalar(s, &v) != nil {
			return d.errAt(n, key, typeErr("integer", s))
		}
		if v < int64(least) || v > int64(most) {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("must be from %d to %d, got %d", least, most, v)})
		}
		*dst = int(v)
		return nil
	}
}

// boolean decodes true or false.
func boolean(dst *bool) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "boolean")
		if err != nil {
			return err
		}
		var v bool
		if s.ShortTag() != "!!bool" || decodeScalar(s, &v) != nil {
			return d.errAt(n, key, typeErr("boolean", s))
		}
		*dst = v
		return nil
	}
}

// duration decodes a time.ParseDuration string that must be in
// [least, most].
func duration(dst *time.Duration, least, most time.Duration) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "duration")
		if err != nil {
			return err
		}
		v, err := time.ParseDuration(s.Value)
		if err != nil {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: "invalid duration", cause: err})
		}
		if v < least || v > most {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("duration must be from %v to %v, got %s", least, most, quote(s.Value))})
		}
		*dst = v
		return nil
	}
}

// origins decodes a list of non-empty strings.
func origins(dst *[]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		seq := resolve(n)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return d.errAt(n, key, typeErr("list", seq))
		}
		out := make([]string, 0, len(seq.Content))
		for i, e := range seq.Content {
			ek := key + "[" + strconv.Itoa(i) + "]"
			s, err := d.scalar(e, ek, "string")
			if err != nil {
				return err
			}
			if s.Value == "" {
				return d.errAt(e, ek, &detail{sentinel: ErrInvalidValue, msg: "empty origin"})
			}
			out = append(out, s.Value)
		}
		*dst = out
		return nil
	}
}

// logLevel decodes one of slog's four level names, in lower case.
func logLevel(dst *slog.Level) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		s, err := d.scalar(n, key, "string")
		if err != nil {
			return err
		}
		lv, ok := logLevels[s.Value]
		if !ok {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("unknown log level %s, want debug, info, warn or error", quote(s.Value))})
		}
		*dst = lv
		return nil
	}
}

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func checkLogFormat(s string) error {
	if s == LogText || s == LogJSON {
		return nil
	}
	return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("unknown log format %s, want %s or %s", quote(s), LogText, LogJSON)}
}

func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return &detail{sentinel: ErrInvalidValue, msg: "want host:port", cause: err}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return &detail{sentinel: ErrInvalidValue, msg: "want a port number from 0 to 65535, got " + quote(port)}
	}
	return nil
}

func checkKind(s string) error {
	switch s {
	case KindSim, KindNasdaq, KindStooq, KindCoinbase, KindBinance, KindFinnhub, KindAlpaca, KindJSON:
		return nil
	}
	return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("unknown source kind %s, want one of %s, %s, %s, %s, %s, %s, %s, %s",
		quote(s), KindSim, KindNasdaq, KindStooq, KindCoinbase, KindBinance, KindFinnhub, KindAlpaca, KindJSON)}
}

func checkURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // without the URL, which may hold a password
	}
	if err != nil {
		return &detail{sentinel: ErrInvalidValue, msg: "invalid URL", cause: err}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		// Without the value, which may hold a credential: the URL is the
		// scheme, host and path prefix every request goes to; keys go in
		// api_key_file or headers, which are never shown.
		return &detail{sentinel: ErrInvalidValue, msg: "want a base URL without user info, query or fragment (put keys in api_key_file or headers)"}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The scheme only: the rest may hold a credential.
		return &detail{sentinel: ErrInvalidValue, msg: "want an absolute http or https URL, got scheme " + quote(u.Scheme)}
	}
	return nil
}

func checkSchedule(s string) error {
	_, err := parseSchedule(s)
	return err
}

// resolve follows aliases to the node they name. yaml.v3 never anchors an
// alias, so one step suffices; the bound guards against a malformed tree.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 4; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decodeScalar decodes the scalar s into out with yaml.v3's rules for
// integers and booleans, turning any panic into an error.
func decodeScalar(s *yaml.Node, out any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return s.Decode(out)
}

// typeErr reports that got is not the wanted kind of value.
func typeErr(want string, got *yaml.Node) error {
	return &detail{sentinel: ErrType, msg: "want " + want + ", got " + describe(got)}
}

// describe names n's kind for an error message, with its value if a scalar.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
	default:
		return "unexpected node"
	}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return "null"
	case "!!str":
		return "string " + quote(n.Value)
	case "!!int":
		return "integer " + quote(n.Value)
	case "!!float":
		return "number " + quote(n.Value)
	case "!!bool":
		return "boolean " + quote(n.Value)
	default:
		return tag + " " + quote(n.Value)
	}
}
