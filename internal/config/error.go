package config

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error from [Parse] and [Load] about the file's
// content is an [*Error] whose Err wraps one of these; test with [errors.Is].
var (
	// ErrSyntax reports YAML that does not parse.
	ErrSyntax = errors.New("config: yaml syntax")
	// ErrEmpty reports a file with no document, or an empty one.
	ErrEmpty = errors.New("config: empty file")
	// ErrMultipleDocuments reports a file with more than one YAML document.
	ErrMultipleDocuments = errors.New("config: multiple documents")
	// ErrType reports a value of the wrong kind: a string where an integer
	// is wanted, a mapping where a list is wanted, a top level that is not a
	// mapping.
	ErrType = errors.New("config: wrong type")
	// ErrUnknownKey reports a key that tickerd does not know, at any level.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrDuplicateKey reports a key given twice in one mapping.
	ErrDuplicateKey = errors.New("config: duplicate key")
	// ErrInvalidValue reports a value of the right type that is out of range
	// or malformed: a bad duration, URL, listen address or source kind.
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrInvalidSchedule reports a cron spec that [ParseSchedule] rejects.
	ErrInvalidSchedule = errors.New("config: invalid schedule")
	// ErrInvalidSymbol reports a symbol that [NormalizeSymbol] rejects.
	ErrInvalidSymbol = errors.New("config: invalid symbol")
	// ErrDuplicateSymbol reports a symbol listed twice (compared after
	// upper-casing).
	ErrDuplicateSymbol = errors.New("config: duplicate symbol")
	// ErrNoSymbols reports an empty symbol list.
	ErrNoSymbols = errors.New("config: no symbols")
)

// Error is a problem in a configuration file, located by file, line and key.
//
// Its message reads "file:line: key: message", for example
//
//	config.yaml:7: symbols[2]: invalid symbol "A B"
//
// Key is a dotted path ("source.timeout", "symbols[2]",
// "websocket.write_timeout"), empty for problems with the whole document.
// Err wraps one of the package's sentinel errors, and the underlying cause
// (a time or cron parse error) when there is one. An Error is not modified
// after it is returned and may be read from any goroutine.
type Error struct {
	File string // the file name given to Parse or Load
	Line int    // 1-based line of the offending key or value; 0 if unknown
	Key  string // dotted path of the offending key; empty for the whole document
	Err  error  // what is wrong; wraps a sentinel such as ErrInvalidSymbol
}

// Error returns "file:line: key: message", leaving out empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		} else {
			b.WriteString("line ")
		}
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid configuration")
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// detail is an error that adds a message to a sentinel without repeating the
// sentinel's "config: " prefix, and optionally carries the cause.
type detail struct {
	sentinel error  // one of the Err* values
	msg      string // complete message, without the package prefix; "" to say only cause's
	cause    error  // underlying error, appended to msg; may be nil
}

func (d *detail) Error() string {
	switch {
	case d.cause == nil:
		return d.msg
	case d.msg == "":
		return d.cause.Error()
	}
	return d.msg + ": " + d.cause.Error()
}

func (d *detail) Unwrap() []error {
	if d.cause == nil {
		return []error{d.sentinel}
	}
	return []error{d.sentinel, d.cause}
}
