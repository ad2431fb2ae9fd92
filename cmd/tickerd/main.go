// Command tickerd is a live-quote fan-out service. This is a placeholder
// until the service core lands: it only says what the service will do.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "tickerd: the service is not built yet; see README.md for status")
	os.Exit(1)
}
