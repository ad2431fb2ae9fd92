package auth

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// maxFileSize bounds every key file, so a wrong path (a log, a device)
// cannot make tickerd read without end.
const maxFileSize = 1 << 20

// readKeyFile reads at most maxFileSize bytes of name. Its errors wrap
// ErrKeyFile and name the file.
func readKeyFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, name, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrKeyFile, name, maxFileSize)
	}
	return data, nil
}

// watchedFile is a key file that Reload reads again and, when its content
// changed, parses and installs. Its fields are owned by
// Authenticator.Reload, under Authenticator.reloadMu.
type watchedFile struct {
	name string
	// install parses data and, when it is good, swaps it in; it returns a
	// short description for the log ("3 keys").
	install func(data []byte) (string, error)
	// seen is what the last read found, so that a change is acted upon
	// (and a problem reported) once, not at every poll.
	seen fileState
}

// fileState is what reading a file found: the SHA-256 of its content, or
// the text of the error reading it.
type fileState struct {
	sum     [sha256.Size]byte
	readErr string
}

// poll reads the file and, if what it found differs from what it found
// last time, installs it. It returns changed=false when nothing changed,
// and otherwise the description from install or the problem; a problem
// leaves the installed keys as they were.
func (w *watchedFile) poll() (changed bool, desc string, err error) {
	data, err := readKeyFile(w.name)
	var now fileState
	if err != nil {
		now.readErr = err.Error()
	} else {
		now.sum = sha256.Sum256(data)
	}
	if now == w.seen {
		return false, "", nil
	}
	w.seen = now
	if err != nil {
		return true, "", err
	}
	desc, err = w.install(data)
	return true, desc, err
}
