package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// Limits of the API keys file.
const (
	maxAPIKeys     = 10000
	minPlainKeyLen = 16
	hashPrefix     = "sha256:"
)

// apiKeySet is a parsed API keys file: the SHA-256 of every key. It is not
// modified after parseAPIKeys returns it and may be read from any goroutine.
type apiKeySet struct {
	sums [][sha256.Size]byte
}

// parseAPIKeys parses an API keys file (see Options.APIKeysFile). Its
// errors wrap ErrKeyFile and read "auth: bad key file: name:line: what";
// they never quote a key.
func parseAPIKeys(name string, data []byte) (*apiKeySet, error) {
	set := &apiKeySet{}
	first := make(map[[sha256.Size]byte]int) // sum -> line it was first seen on
	for n, line := range bytes.Split(data, []byte("\n")) {
		lineNo := n + 1
		text := strings.TrimSpace(string(line))
		if text == "" || text[0] == '#' {
			continue
		}
		sum, err := parseAPIKeyLine(text)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrKeyFile, name, lineNo, err)
		}
		if prev, dup := first[sum]; dup {
			return nil, fmt.Errorf("%w: %s:%d: same key as line %d", ErrKeyFile, name, lineNo, prev)
		}
		if len(set.sums) == maxAPIKeys {
			return nil, fmt.Errorf("%w: %s:%d: more than %d keys", ErrKeyFile, name, lineNo, maxAPIKeys)
		}
		first[sum] = lineNo
		set.sums = append(set.sums, sum)
	}
	return set, nil
}

// parseAPIKeyLine returns the SHA-256 of the key on one trimmed, non-blank,
// non-comment line.
func parseAPIKeyLine(text string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(text) >= len(hashPrefix) && strings.EqualFold(text[:len(hashPrefix)], hashPrefix) {
		digits := text[len(hashPrefix):]
		if len(digits) != 2*sha256.Size {
			return sum, fmt.Errorf("want %q and %d hex digits, got %d characters after it", hashPrefix, 2*sha256.Size, len(digits))
		}
		if _, err := hex.Decode(sum[:], []byte(digits)); err != nil {
			return sum, fmt.Errorf("want %q and %d hex digits: %w", hashPrefix, 2*sha256.Size, err)
		}
		return sum, nil
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c <= ' ' || c > '~' {
			return sum, fmt.Errorf("key has a space, control or non-ASCII character at byte %d", i+1)
		}
	}
	if len(text) < minPlainKeyLen {
		return sum, fmt.Errorf("key is %d bytes, want at least %d (or %q and its hex digest)", len(text), minPlainKeyLen, hashPrefix)
	}
	return sha256.Sum256([]byte(text)), nil
}

// match reports whether token is one of the keys. It compares the token's
// SHA-256 with every key's in constant time, and looks at every key
// whether or not an earlier one matched.
func (s *apiKeySet) match(token string) bool {
	sum := sha256.Sum256([]byte(token))
	found := 0
	for i := range s.sums {
		found |= subtle.ConstantTimeCompare(sum[:], s.sums[i][:])
	}
	return found == 1
}
