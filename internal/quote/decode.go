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
		return fmt.Errorf("data after document: %v", tok)
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
		return fmt.Errorf("want a number or a string, got %.20s", b)
	}
	return nil
}

// decodeErrorBody decodes the JSON error document of a non-2xx resp into
// v; false when the body is a page, not JSON, or unreadable.
func decodeErrorBody(resp *http.Response, v any) bool {
	if resp.Body == nil || isPageType(mediaType(resp)) {
		return false
	}
	return decodeOne(newBodyLimiter(resp.Body), v) == nil
}
