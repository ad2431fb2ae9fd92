package quote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// decodeOne decodes the one JSON document r holds into v and checks that
// nothing but white space follows it. It streams: r is read as the decoder
// needs it, never whole.
func decodeOne(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	switch tok, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	default:
		return fmt.Errorf("data after document: %s", jsonKind(tok))
	}
}

// numText is a JSON value that APIs write either as a number or as a
// string holding one ("0.10002000"): its text, "" for null. Any other JSON
// type fails the decoding.
type numText string

// UnmarshalJSON implements json.Unmarshaler.
func (n *numText) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*n = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = numText(s)
	case len(b) > 0 && (b[0] == '-' || ('0' <= b[0] && b[0] <= '9')):
		*n = numText(b)
	default:
		return fmt.Errorf("want a number or a string, got %s", jsonKind(json.RawMessage(b)))
	}
	return nil
}

// jsonKind names the JSON type of v, a json.Token or a raw value, for an
// error message: never the value itself, which a hostile or echoing
// upstream could fill with a credential.
func jsonKind(v any) string {
	switch v := v.(type) {
	case json.Delim:
		if v == '[' || v == ']' {
			return "an array"
		}
		return "an object"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case nil:
		return "null"
	case json.RawMessage:
		if len(v) > 0 {
			switch v[0] {
			case '[':
				return "an array"
			case '{':
				return "an object"
			case 't', 'f':
				return "a boolean"
			}
		}
	}
	return "a value"
}

// decodeErrorBody decodes the JSON error document of a non-2xx resp into
// v; false when the body is a page, not JSON, or unreadable.
func decodeErrorBody(resp *http.Response, v any) bool {
	if resp.Body == nil || isPageType(mediaType(resp)) {
		return false
	}
	return decodeOne(newBodyLimiter(resp.Body, nil), v) == nil
}
