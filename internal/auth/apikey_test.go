package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseAPIKeys(t *testing.T) {
	sum := func(key string) string { s := sha256.Sum256([]byte(key)); return hex.EncodeToString(s[:]) }
	tests := []struct {
		name    string
		file    string
		match   []string // keys that must match
		reject  []string // tokens that must not
		wantErr string   // substring of the error, which names file and line
	}{
		{name: "plain_and_hashed", file: "# keys\n\nclient-one-0123456789\nsha256:" + sum("client-two-0123456789") + "\n",
			match: []string{"client-one-0123456789", "client-two-0123456789"}, reject: []string{"client-one-012345678", "sha256:" + sum("client-two-0123456789"), ""}},
		{name: "crlf_and_spaces", file: "  client-one-0123456789  \r\n\t# indented comment\r\n", match: []string{"client-one-0123456789"}, reject: []string{"  client-one-0123456789  "}},
		{name: "upper_case_hash", file: "SHA256:" + strings.ToUpper(sum("client-two-0123456789")), match: []string{"client-two-0123456789"}},
		{name: "only_comments", file: "# all keys revoked\n", reject: []string{"client-one-0123456789"}},
		{name: "empty", file: "", reject: []string{"client-one-0123456789"}},
		{name: "no_final_newline", file: "x-0123456789abcdef\nclient-one-0123456789", match: []string{"x-0123456789abcdef", "client-one-0123456789"}},
		{name: "first_line_bad", file: "a\n\nclient-one-0123456789", wantErr: "keys.txt:1: key is 1 bytes, want at least 16"},
		{name: "short_key", file: "\n# c\nshort\n", wantErr: "keys.txt:3: key is 5 bytes"},
		{name: "space_inside", file: "client one 0123456789\n", wantErr: "keys.txt:1: key has a space"},
		{name: "non_ascii", file: "client-one-0123456789é\n", wantErr: "keys.txt:1: key has a space, control or non-ASCII character at byte 22"},
		{name: "hash_too_short", file: "sha256:abcd\n", wantErr: "keys.txt:1: want \"sha256:\" and 64 hex digits, got 4"},
		{name: "hash_not_hex", file: "sha256:" + strings.Repeat("g", 64) + "\n", wantErr: "keys.txt:1: want \"sha256:\" and 64 hex digits: encoding/hex"},
		{name: "duplicate", file: "client-one-0123456789\nsha256:" + sum("client-one-0123456789") + "\n", wantErr: "keys.txt:2: same key as line 1"},
		{name: "too_many", file: manyKeys(maxAPIKeys + 1), wantErr: fmt.Sprintf("keys.txt:%d: more than %d keys", maxAPIKeys+1, maxAPIKeys)},
		{name: "as_many_as_allowed", file: manyKeys(maxAPIKeys), match: []string{"client-key-00000000", "client-key-00009999"}, reject: []string{"client-key-00010000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := parseAPIKeys("keys.txt", []byte(tt.file))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAPIKeys = %v, want ErrKeyFile with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAPIKeys = %v, want nil", err)
			}
			for _, k := range tt.match {
				if !set.match(k) {
					t.Errorf("match(%q) = false, want true", k)
				}
			}
			for _, k := range tt.reject {
				if set.match(k) {
					t.Errorf("match(%q) = true, want false", k)
				}
			}
		})
	}
}

// TestParseAPIKeysErrorHidesKey checks that no error quotes a key: the
// file holds secrets.
func TestParseAPIKeysErrorHidesKey(t *testing.T) {
	for _, line := range []string{"tiny-secret", "secret with spaces 0123456789", "secret\x01control0123456789"} {
		_, err := parseAPIKeys("keys.txt", []byte(line+"\n"))
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("parseAPIKeys(%q) = %v, want an error that does not quote the key", line, err)
		}
	}
}

// manyKeys returns a file of n distinct plain keys.
func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "client-key-%08d\n", i)
	}
	return b.String()
}

// FuzzParseAPIKeys checks that any file either parses into keys that
// match exactly the keys it lists, or fails with ErrKeyFile naming the
// file, and never panics.
func FuzzParseAPIKeys(f *testing.F) {
	s := sha256.Sum256([]byte("client-two-0123456789"))
	for _, seed := range []string{
		"", "\n", "# c\n", "client-one-0123456789\n", "sha256:" + hex.EncodeToString(s[:]) + "\n",
		"SHA256:" + strings.ToUpper(hex.EncodeToString(s[:])), "  a-key-of-16-byte \r\n#x\n\nsha256:00",
		"client-one-0123456789\nclient-one-0123456789\n", "sha256:", "\xff\xfe\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseAPIKeys("fuzz.keys", data)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), "fuzz.keys:") {
				t.Fatalf("parseAPIKeys = %v, want ErrKeyFile naming fuzz.keys and a line", err)
			}
			return
		}
		var hashed strings.Builder
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			n++
			if !strings.HasPrefix(strings.ToLower(line), hashPrefix) && !set.match(line) {
				t.Fatalf("match(%q) = false for a key listed in the file", line)
			}
		}
		if len(set.sums) != n {
			t.Fatalf("parseAPIKeys kept %d keys of %d lines", len(set.sums), n)
		}
		// The same keys written as hashes parse to the same set.
		for _, sum := range set.sums {
			hashed.WriteString(hashPrefix + hex.EncodeToString(sum[:]) + "\n")
		}
		again, err := parseAPIKeys("fuzz.keys", []byte(hashed.String()))
		if err != nil {
			t.Fatalf("parseAPIKeys(hashed form) = %v", err)
		}
		for i := range set.sums {
			if again.sums[i] != set.sums[i] {
				t.Fatalf("hashed form key %d = %x, want %x", i, again.sums[i], set.sums[i])
			}
		}
	})
}
