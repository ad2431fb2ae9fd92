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

// Symbols are checked in the syntax of the source kind, and a json source's
// paths at their own lines.
func ExampleParse_sourceSyntax() {
	_, err := config.Parse("config.yaml", []byte(`
source:
  kind: binance
symbols: [BTCUSDT, BTC-USD]
`))
	fmt.Println(err)

	_, err = config.Parse("config.yaml", []byte(`
source:
  kind: json
  json:
    url: https://api.kucoin.com/api/v1/market/stats?symbol={symbol}
    price: data.last
    change: data..changePrice
symbols: [BTC-USDT]
`))
	fmt.Println(err)
	// Output:
	// config.yaml:4: symbols[1]: quote: invalid symbol "BTC-USD" for binance: character '-' not allowed: want a Binance pair, base and quote joined without separator, such as BTCUSDT
	// config.yaml:7: source.json.change: quote: invalid source options: JSON path "data..changePrice": empty member name at offset 5
}
