package quote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
