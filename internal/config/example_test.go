package config_test

import (
	"errors"
	"fmt"

	"github.com/tickerd/tickerd/internal/config"
)

func ExampleParse() {
	cfg, err := config.Parse("config.yaml", []byte(`
source:
  kind: stooq
  timeout: 2s
symbols: [aapl, brk.b]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Source.Kind, cfg.Source.Timeout, cfg.Symbols)
	fmt.Println(cfg.Listen, cfg.Schedule, cfg.History) // omitted: defaults

	_, err = config.Parse("config.yaml", []byte("symbols: [AAPL, MSFT, aapl]\n"))
	var cerr *config.Error
	if errors.As(err, &cerr) {
		fmt.Println(cerr.Line, cerr.Key, errors.Is(err, config.ErrDuplicateSymbol))
		fmt.Println(err)
	}
	// Output:
	// stooq 2s [AAPL BRK.B]
	// :8080 @every 1s 300
	// 1 symbols[2] true
	// config.yaml:1: symbols[2]: duplicate symbol "AAPL", already listed as symbols[0]
}
