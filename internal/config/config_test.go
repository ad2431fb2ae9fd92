package config_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/quote"
)

const repoConfig = "../../config.yaml"

// errorCases are inputs Parse must reject, with where and why. Lines are
// 1-based and point at the offending key (unknown or duplicate keys) or value.
var errorCases = []struct {
	name  string
	input string
	line  int
	key   string
	want  error
}{
	// Document level.
	{"syntax_error", "listen: \":8080\"\nsource:\n  kind: [\n", 3, "", config.ErrSyntax},
	{"syntax_error_unterminated_quote", "listen: \":1\"\nhistory: 'unterminated\n", 2, "", config.ErrSyntax},
	{"syntax_error_unterminated_quote_first_line", "listen: \"127.0.0.1:0\nsymbols: [AAPL]\n", 1, "", config.ErrSyntax},
	{"syntax_error_unterminated_quote_after_apostrophe", "# it's a comment\nsource: {user_agent: don't}\nlisten: \"127.0.0.1:0\nsymbols: [AAPL]\n", 3, "", config.ErrSyntax},
	{"syntax_error_unknown_anchor", "history: 3\nsymbols:\n  - AAPL\n  - *nope\n", 4, "", config.ErrSyntax},
	{"syntax_error_tab", "\tlisten: \":1\"\n", 1, "", config.ErrSyntax},
	{"empty_file", "", 1, "", config.ErrEmpty},
	{"comments_only", "# nothing here\n\n", 1, "", config.ErrEmpty},
	{"null_document", "---\n", 1, "", config.ErrEmpty},
	{"multiple_documents", "listen: \":1\"\n---\nlisten: \":2\"\n", 2, "", config.ErrMultipleDocuments},
	{"top_level_list", "- listen\n- source\n", 1, "", config.ErrType},
	{"top_level_scalar", "listen\n", 1, "", config.ErrType},

	// Keys.
	{"unknown_top_key", "listen: \":8080\"\nsourc:\n  kind: sim\n", 2, "sourc", config.ErrUnknownKey},
	{"unknown_source_key", "source:\n  kind: sim\n  kind_x: 1\n", 3, "source.kind_x", config.ErrUnknownKey},
	{"unknown_websocket_key", "websocket:\n\n  max_client: 5\n", 3, "websocket.max_client", config.ErrUnknownKey},
	{"merge_key", "source:\n  <<: {kind: sim}\n", 2, "source.<<", config.ErrUnknownKey},
	{"duplicate_key", "history: 1\nlisten: \":1\"\nhistory: 2\n", 3, "history", config.ErrDuplicateKey},
	{"duplicate_nested_key", "source:\n  kind: sim\n  kind: stooq\n", 3, "source.kind", config.ErrDuplicateKey},
	{"list_key", "? [a]\n: 1\n", 1, "", config.ErrType},

	// Types.
	{"string_for_int", "history: lots\n", 1, "history", config.ErrType},
	{"quoted_int", "history: \"300\"\n", 1, "history", config.ErrType},
	{"float_for_int", "source:\n  max_in_flight: 1.5\n", 2, "source.max_in_flight", config.ErrType},
	{"huge_int", "history: 99999999999999999999\n", 1, "history", config.ErrType},
	{"mapping_for_list", "symbols:\n  AAPL: 1\n", 2, "symbols", config.ErrType},
	{"scalar_for_list", "symbols: AAPL\n", 1, "symbols", config.ErrType},
	{"list_for_mapping", "source: [sim]\n", 1, "source", config.ErrType},
	{"scalar_for_mapping", "websocket: big\n", 1, "websocket", config.ErrType},
	{"list_for_string", "listen: [\":8080\"]\n", 1, "listen", config.ErrType},
	{"yes_for_bool", "websocket:\n  dynamic_symbols: yes\n", 2, "websocket.dynamic_symbols", config.ErrType},
	{"mapping_for_duration", "source:\n  timeout: {s: 5}\n", 2, "source.timeout", config.ErrType},
	{"null_symbol", "symbols: [AAPL, ~]\n", 1, "symbols[1]", config.ErrType},
	{"list_in_symbols", "symbols:\n  - AAPL\n  - [MSFT]\n", 3, "symbols[1]", config.ErrType},
	{"alias_to_mapping_in_symbols", "source: &s\n  kind: sim\nsymbols: [*s]\n", 3, "symbols[0]", config.ErrType},
	{"cyclic_alias", "symbols: &s [*s]\n", 1, "symbols[0]", config.ErrType},
	{"mapping_for_origins", "websocket:\n  allowed_origins: {a: b}\n", 2, "websocket.allowed_origins", config.ErrType},

	// Durations.
	{"bad_duration", "source:\n  timeout: 5x\n", 2, "source.timeout", config.ErrInvalidValue},
	{"duration_without_unit", "websocket:\n  write_timeout: 5\n", 2, "websocket.write_timeout", config.ErrInvalidValue},
	{"zero_duration", "websocket:\n  ping_interval: 0s\n", 2, "websocket.ping_interval", config.ErrInvalidValue},
	{"negative_duration", "source:\n  timeout: -1s\n", 2, "source.timeout", config.ErrInvalidValue},

	// Schedule.
	{"cron_too_few_fields", "schedule: \"* * *\"\n", 1, "schedule", config.ErrInvalidSchedule},
	{"cron_bad_field", "history: 5\nschedule: \"61 * * * * *\"\n", 2, "schedule", config.ErrInvalidSchedule},
	{"cron_unknown_descriptor", "schedule: \"@weekdays\"\n", 1, "schedule", config.ErrInvalidSchedule},
	{"cron_time_zone_only", "schedule: TZ=UTC\n", 1, "schedule", config.ErrInvalidSchedule},
	{"cron_every_sub_second", "schedule: \"@every 500ms\"\n", 1, "schedule", config.ErrInvalidSchedule},
	{"cron_never_fires", "schedule: \"0 0 30 2 *\"\n", 1, "schedule", config.ErrInvalidSchedule},
	{"cron_empty", "schedule: \"\"\n", 1, "schedule", config.ErrInvalidSchedule},

	// Symbols.
	{"invalid_symbol", "listen: \":8080\"\nsymbols: [AAPL, MSFT, A B]\n", 2, "symbols[2]", config.ErrInvalidSymbol},
	{"symbol_too_long", "symbols:\n  - AAPL\n  - ABCDEFGHIJKLM\n", 3, "symbols[1]", config.ErrInvalidSymbol},
	{"empty_symbol", "symbols: [\"\"]\n", 1, "symbols[0]", config.ErrInvalidSymbol},
	{"duplicate_symbol_case", "symbols:\n  - AAPL\n  - msft\n  - aapl\n", 4, "symbols[2]", config.ErrDuplicateSymbol},
	{"duplicate_symbol_flow", "symbols: [MSFT, MSFT]\n", 1, "symbols[1]", config.ErrDuplicateSymbol},
	{"empty_symbols", "history: 5\nsymbols: []\n", 2, "symbols", config.ErrNoSymbols},

	// Ranges and formats.
	{"unknown_kind", "source:\n  kind: yahoo\n", 2, "source.kind", config.ErrInvalidValue},
	{"kind_wrong_case", "source:\n  kind: Sim\n", 2, "source.kind", config.ErrInvalidValue},
	{"url_relative", "source:\n  url: /quotes\n", 2, "source.url", config.ErrInvalidValue},
	{"url_ftp", "source:\n  url: ftp://example.com/\n", 2, "source.url", config.ErrInvalidValue},
	{"url_no_host", "source:\n  url: \"http:quotes\"\n", 2, "source.url", config.ErrInvalidValue},
	{"url_unparseable", "source:\n  url: \"http://[::1\"\n", 2, "source.url", config.ErrInvalidValue},
	{"url_user_info", "source:\n  url: \"https://u:pw@q.example\"\n", 2, "source.url", config.ErrInvalidValue},
	{"url_query", "history: 3\nsource:\n  url: \"https://q.example/?token=x\"\n", 3, "source.url", config.ErrInvalidValue},
	{"url_fragment", "source:\n  url: \"https://q.example/#x\"\n", 2, "source.url", config.ErrInvalidValue},
	{"max_in_flight_zero", "source:\n  max_in_flight: 0\n", 2, "source.max_in_flight", config.ErrInvalidValue},
	{"history_zero", "history: 0\n", 1, "history", config.ErrInvalidValue},
	{"history_negative", "history: -3\n", 1, "history", config.ErrInvalidValue},
	{"max_clients_zero", "websocket:\n  max_clients: 0\n", 2, "websocket.max_clients", config.ErrInvalidValue},
	{"max_symbols_per_client_zero", "websocket:\n  max_symbols_per_client: 0\n", 2, "websocket.max_symbols_per_client", config.ErrInvalidValue},
	{"max_dynamic_symbols_negative", "websocket:\n  max_dynamic_symbols: -1\n", 2, "websocket.max_dynamic_symbols", config.ErrInvalidValue},
	{"empty_origin", "websocket:\n  allowed_origins:\n    - https://a.example\n    - \"\"\n", 4, "websocket.allowed_origins[1]", config.ErrInvalidValue},
	{"listen_no_port", "listen: localhost\n", 1, "listen", config.ErrInvalidValue},
	{"listen_int", "listen: 8080\n", 1, "listen", config.ErrInvalidValue},
	{"listen_named_port", "listen: \":http\"\n", 1, "listen", config.ErrInvalidValue},
	{"listen_port_out_of_range", "listen: \":65536\"\n", 1, "listen", config.ErrInvalidValue},
	{"listen_empty_port", "listen: \"127.0.0.1:\"\n", 1, "listen", config.ErrInvalidValue},

	// Ranges: values that would crash or cripple the process.
	{"max_in_flight_huge", "source:\n  max_in_flight: 10000000000\n", 2, "source.max_in_flight", config.ErrInvalidValue},
	{"max_in_flight_above_cap", "source:\n  max_in_flight: 4097\n", 2, "source.max_in_flight", config.ErrInvalidValue},
	{"history_huge", "history: 100001\n", 1, "history", config.ErrInvalidValue},
	{"max_clients_huge", "websocket:\n  max_clients: 1000001\n", 2, "websocket.max_clients", config.ErrInvalidValue},
	{"max_symbols_per_client_huge", "websocket:\n  max_symbols_per_client: 100001\n", 2, "websocket.max_symbols_per_client", config.ErrInvalidValue},
	{"max_dynamic_symbols_huge", "websocket:\n  max_dynamic_symbols: 100001\n", 2, "websocket.max_dynamic_symbols", config.ErrInvalidValue},
	{"ping_interval_1ns", "websocket:\n  ping_interval: 1ns\n", 2, "websocket.ping_interval", config.ErrInvalidValue},
	{"ping_interval_below_1s", "websocket:\n  ping_interval: 999ms\n", 2, "websocket.ping_interval", config.ErrInvalidValue},
	{"ping_interval_huge", "websocket:\n  ping_interval: 2h\n", 2, "websocket.ping_interval", config.ErrInvalidValue},
	{"batch_delay_negative", "websocket:\n  batch_delay: -1ms\n", 2, "websocket.batch_delay", config.ErrInvalidValue},
	{"batch_delay_huge", "websocket:\n  batch_delay: 2s\n", 2, "websocket.batch_delay", config.ErrInvalidValue},
	{"write_timeout_1ns", "websocket:\n  write_timeout: 1ns\n", 2, "websocket.write_timeout", config.ErrInvalidValue},
	{"source_timeout_1us", "source:\n  timeout: 1us\n", 2, "source.timeout", config.ErrInvalidValue},
	{"source_timeout_huge", "source:\n  timeout: 1000h\n", 2, "source.timeout", config.ErrInvalidValue},
	{"max_connections_negative", "http:\n  max_connections: -1\n", 2, "http.max_connections", config.ErrInvalidValue},
	{"idle_timeout_1ms", "http:\n  idle_timeout: 1ms\n", 2, "http.idle_timeout", config.ErrInvalidValue},
	{"read_header_timeout_zero", "http:\n  read_header_timeout: 0s\n", 2, "http.read_header_timeout", config.ErrInvalidValue},
	{"unknown_http_key", "http:\n  max_header_bytes: 1\n", 2, "http.max_header_bytes", config.ErrUnknownKey},
	{"log_format_unknown", "log:\n  format: xml\n", 2, "log.format", config.ErrInvalidValue},
	{"log_level_unknown", "log:\n  level: verbose\n", 2, "log.level", config.ErrInvalidValue},
	{"log_level_upper", "log:\n  level: INFO\n", 2, "log.level", config.ErrInvalidValue},
	{"log_access_string", "log:\n  access: on\n", 2, "log.access", config.ErrType},

	// Syntax errors on the line they are on.
	// An unclosed bracket is reported where it opens, or on the next line
	// when it opens on line 1 (yaml.v3 keeps no context mark there).
	{"syntax_unclosed_flow_list", "listen: x:1\nsymbols: [AAPL\nhistory: 3\n", 2, "", config.ErrSyntax},
	{"syntax_unclosed_flow_list_line_1", "symbols: [AAPL\nhistory: 3\n", 2, "", config.ErrSyntax},
	{"syntax_unclosed_flow_list_last", "history: 1\nlisten: \":1\"\nsymbols: [AAPL, MSFT\n", 3, "", config.ErrSyntax},
	{"syntax_unclosed_flow_map", "history: 1\nsource: {kind: sim\nschedule: x\n", 2, "", config.ErrSyntax},
	{"syntax_bad_indent_list", "symbols:\n  - AAPL\n - MSFT\n", 3, "", config.ErrSyntax},
	{"syntax_mapping_in_scalar", "history: 1\nlisten: 2\n  source: 3\n", 3, "", config.ErrSyntax},
	{"syntax_bad_token", "history: 1\nlisten: @x\n", 2, "", config.ErrSyntax},
	{"invalid_utf8_line_3", "history: 1\nlisten: \":1\"\nschedule: \"\xff\"\n", 3, "", config.ErrSyntax},
	{"invalid_utf8_truncated", "history: 1\n# caf\xc3", 2, "", config.ErrSyntax},
	{"binary_file", "\x7fELF\x02\x01\x01\x00\x00\x00", 1, "", config.ErrSyntax},
	{"binary_nul_line_2", "history: 1\n\x00\x00\x00\n", 2, "", config.ErrSyntax},
	{"control_character", "history: 1\nlisten: \"\x1b[31m\"\n", 2, "", config.ErrSyntax},
	{"utf16_file", "\xff\xfeh\x00i\x00:\x00 \x001\x00\n\x00", 1, "", config.ErrSyntax},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("test.yaml", []byte(tc.input))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil; want error %v", tc.input, cfg, tc.want)
			}
			if cfg != nil {
				t.Errorf("Parse(%q) config = %+v, want nil with error", tc.input, cfg)
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse(%q) error = %v (%T), want *config.Error", tc.input, err, err)
			}
			if cerr.File != "test.yaml" || cerr.Line != tc.line || cerr.Key != tc.key {
				t.Errorf("Parse(%q) error at file %q line %d key %q, want file %q line %d key %q (error: %v)",
					tc.input, cerr.File, cerr.Line, cerr.Key, "test.yaml", tc.line, tc.key, err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse(%q) error = %v, want errors.Is %v", tc.input, err, tc.want)
			}
		})
	}
}

// TestErrorString checks the one place where the message format itself is
// the behaviour: "file:line: key: message", leaving out what is unknown.
func TestErrorString(t *testing.T) {
	_, err := config.Parse("config.yaml", []byte("listen: \":8080\"\n\nsymbols: [AAPL, MSFT, A B]\n"))
	if got, want := err.Error(), `config.yaml:3: symbols[2]: invalid symbol "A B"`; got != want {
		t.Errorf("Parse error = %q, want %q", got, want)
	}
	cause := errors.New("boom")
	tests := []struct {
		name string
		err  *config.Error
		want string
	}{
		{"all_parts", &config.Error{File: "f.yaml", Line: 2, Key: "source.url", Err: cause}, "f.yaml:2: source.url: boom"},
		{"no_key", &config.Error{File: "f.yaml", Line: 1, Err: cause}, "f.yaml:1: boom"},
		{"no_line", &config.Error{File: "f.yaml", Key: "history", Err: cause}, "f.yaml: history: boom"},
		{"no_file", &config.Error{Line: 4, Key: "history", Err: cause}, "line 4: history: boom"},
		{"no_err", &config.Error{File: "f.yaml", Line: 4}, "f.yaml:4: invalid configuration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("(%#v).Error() = %q, want %q", tc.err, got, tc.want)
			}
			if tc.err.Err != nil && !errors.Is(tc.err, tc.err.Err) {
				t.Errorf("errors.Is(%v, %v) = false, want true", tc.err, tc.err.Err)
			}
		})
	}
}

func TestLoadRepoConfig(t *testing.T) {
	cfg, err := config.Load(repoConfig)
	if err != nil {
		t.Fatalf("Load(%q) error = %v", repoConfig, err)
	}
	want := &config.Config{
		Listen: ":8080",
		Source: config.Source{
			Kind:        "sim",
			URL:         "",
			Timeout:     5 * time.Second,
			MaxInFlight: 64,
			UserAgent:   "",
			StaleAfter:  2,
		},
		Schedule: "@every 1s",
		Symbols:  []string{"AAPL", "AMZN", "OUTR", "MSFT", "NVDA", "GOOG", "META", "TSLA"},
		History:  300,
		Websocket: config.Websocket{
			MaxClients:          10000,
			MaxSymbolsPerClient: 500,
			DynamicSymbols:      false,
			MaxDynamicSymbols:   200,
			AllowedOrigins:      []string{},
			WriteTimeout:        5 * time.Second,
			PingInterval:        25 * time.Second,
			BatchDelay:          2 * time.Millisecond,
		},
		HTTP:    config.HTTP{MaxConnections: 0, IdleTimeout: time.Minute, ReadHeaderTimeout: 10 * time.Second},
		Log:     config.Log{Format: config.LogText, Level: slog.LevelInfo, Access: false},
		Cluster: config.Cluster{Bucket: "tickerd", Replicas: 1, LeaseTTL: 3 * time.Second, ResumeWait: 2 * time.Second},
		Auth:    config.Auth{JWT: config.AuthJWT{Leeway: 5 * time.Second}, PublicPaths: []string{"/healthz", "/readyz"}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load(%q) = %+v, want %+v", repoConfig, cfg, want)
	}
	// Default documents itself as the repository file's values.
	if def := config.Default(); !reflect.DeepEqual(def, want) {
		t.Errorf("Default() = %+v, want the values of %s %+v", def, repoConfig, want)
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := config.Load(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%q) error = %v, want fs.ErrNotExist", missing, err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("history: 5\nsymbols: [aapl, AAPL]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(bad)
	var cerr *config.Error
	if !errors.As(err, &cerr) || cerr.File != bad || cerr.Line != 2 || cerr.Key != "symbols[1]" || !errors.Is(err, config.ErrDuplicateSymbol) {
		t.Errorf("Load(%q) error = %v, want *config.Error at %s:2 key symbols[1] wrapping ErrDuplicateSymbol", bad, err, bad)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  func(c *config.Config) // applied to Default() to give the expected Config
	}{
		{"only_history", "history: 10\n", func(c *config.Config) { c.History = 10 }},
		{"null_values_keep_defaults", "listen:\nsource:\nwebsocket:\n  allowed_origins:\nsymbols: ~\n", func(*config.Config) {}},
		{"empty_sections_keep_defaults", "source: {}\nwebsocket: {}\n", func(*config.Config) {}},
		{"partial_source", "source:\n  kind: stooq\n  url: https://stooq.com/q/l/\n", func(c *config.Config) {
			c.Source.Kind = "stooq"
			c.Source.URL = "https://stooq.com/q/l/"
		}},
		{"partial_websocket", "websocket:\n  dynamic_symbols: true\n  max_dynamic_symbols: 0\n", func(c *config.Config) {
			c.Websocket.DynamicSymbols = true
			c.Websocket.MaxDynamicSymbols = 0
		}},
		{"symbols_normalized", "symbols: [aapl, brk.b, ^gspc, bf-B, 00700]\n", func(c *config.Config) {
			c.Symbols = []string{"AAPL", "BRK.B", "^GSPC", "BF-B", "00700"}
		}},
		{"symbols_non_string_scalars", "symbols: [1234, true, 1e3]\n", func(c *config.Config) {
			c.Symbols = []string{"1234", "TRUE", "1E3"}
		}},
		{"symbols_block_list", "symbols:\n  - msft\n  - nvda\n", func(c *config.Config) {
			c.Symbols = []string{"MSFT", "NVDA"}
		}},
		{"aliases", "source:\n  timeout: &t 3s\nwebsocket:\n  write_timeout: *t\n", func(c *config.Config) {
			c.Source.Timeout = 3 * time.Second
			c.Websocket.WriteTimeout = 3 * time.Second
		}},
		{"hex_int", "history: 0x10\n", func(c *config.Config) { c.History = 16 }},
		{"cron_with_seconds", "schedule: \"*/5 * * * * *\"\n", func(c *config.Config) { c.Schedule = "*/5 * * * * *" }},
		{"cron_five_fields", "schedule: \"0 * * * *\"\n", func(c *config.Config) { c.Schedule = "0 * * * *" }},
		{"listen_ipv6_loopback", "listen: \"[::1]:0\"\n", func(c *config.Config) { c.Listen = "[::1]:0" }},
		{"explicit_document_start", "---\nhistory: 7\n...\n", func(c *config.Config) { c.History = 7 }},
		{"every_key", `listen: "127.0.0.1:9000"
source:
  kind: nasdaq
  url: "http://127.0.0.1:8081/api"
  timeout: 1500ms
  max_in_flight: 1
  user_agent: "tickerd/1.0"
schedule: "@every 2s"
symbols: [aapl]
history: 1
websocket:
  max_clients: 1
  max_symbols_per_client: 1
  dynamic_symbols: true
  max_dynamic_symbols: 3
  allowed_origins: ["https://a.example", "b.example"]
  write_timeout: 1s
  ping_interval: 2m
  batch_delay: 5ms
http:
  max_connections: 100
  idle_timeout: 5s
  read_header_timeout: 2s
log:
  format: json
  level: debug
  access: true
cluster:
  nats_url: nats://127.0.0.1:4222
  bucket: b
  replicas: 3
  instance_id: i
  lease_ttl: 5s
  resume_wait: 1s
`, func(c *config.Config) {
			*c = config.Config{
				Listen:   "127.0.0.1:9000",
				Source:   config.Source{Kind: "nasdaq", URL: "http://127.0.0.1:8081/api", Timeout: 1500 * time.Millisecond, MaxInFlight: 1, UserAgent: "tickerd/1.0", StaleAfter: 2},
				Schedule: "@every 2s",
				Symbols:  []string{"AAPL"},
				History:  1,
				Websocket: config.Websocket{
					MaxClients:          1,
					MaxSymbolsPerClient: 1,
					DynamicSymbols:      true,
					MaxDynamicSymbols:   3,
					AllowedOrigins:      []string{"https://a.example", "b.example"},
					WriteTimeout:        time.Second,
					PingInterval:        2 * time.Minute,
					BatchDelay:          5 * time.Millisecond,
				},
				HTTP: config.HTTP{MaxConnections: 100, IdleTimeout: 5 * time.Second, ReadHeaderTimeout: 2 * time.Second},
				Log:  config.Log{Format: config.LogJSON, Level: slog.LevelDebug, Access: true},
				Cluster: config.Cluster{NATSURL: "nats://127.0.0.1:4222", Bucket: "b", Replicas: 3, InstanceID: "i",
					LeaseTTL: 5 * time.Second, ResumeWait: time.Second},
				Auth: config.Default().Auth,
			}
		}},
		{"range_bounds", "source:\n  timeout: 100ms\n  max_in_flight: 4096\nhistory: 100000\nwebsocket:\n  ping_interval: 1s\n  write_timeout: 5m\n  batch_delay: 0s\nhttp:\n  max_connections: 0\n  idle_timeout: 1h\n", func(c *config.Config) {
			c.Source.Timeout, c.Source.MaxInFlight, c.History = 100*time.Millisecond, 4096, 100000
			c.Websocket.PingInterval, c.Websocket.WriteTimeout, c.Websocket.BatchDelay = time.Second, 5*time.Minute, 0
			c.HTTP.IdleTimeout = time.Hour
		}},
		{"log_levels", "log:\n  level: warn\n", func(c *config.Config) { c.Log.Level = slog.LevelWarn }},
		{"utf8_bom", "\ufeffhistory: 9\n", func(c *config.Config) { c.History = 9 }},
		{"utf8_text", "# Kurs \u00fcbersicht \u2014 \u682a\u4fa1\nhistory: 9\n", func(c *config.Config) { c.History = 9 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := config.Default()
			tc.want(want)
			got, err := config.Parse("test.yaml", []byte(tc.input))
			if err != nil {
				t.Fatalf("Parse(%q) error = %v, want nil", tc.input, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.input, got, want)
			}
		})
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := config.Default()
	a.Symbols[0] = "CHANGED"
	a.Websocket.AllowedOrigins = append(a.Websocket.AllowedOrigins, "x")
	if b := config.Default(); b.Symbols[0] != "AAPL" || len(b.Websocket.AllowedOrigins) != 0 {
		t.Errorf("Default() after changing an earlier result = %+v, want unchanged defaults", b)
	}
}

func FuzzParse(f *testing.F) {
	repo, err := os.ReadFile(repoConfig)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(repo)
	for _, tc := range errorCases {
		f.Add([]byte(tc.input))
	}
	f.Add([]byte("symbols: [aapl, brk.b]\nsource: {kind: stooq, url: 'https://x.example'}\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\n"))
	f.Add([]byte("source: {kind: binance}\nsymbols: [btcusdt, {symbol: ethusdt}]\n"))
	f.Add([]byte("source: {kind: nasdaq}\nsymbols: [AAPL, {symbol: spy, assetclass: etf}]\n"))
	f.Add([]byte("source:\n  kind: json\n  json: {url: 'https://q.example/{symbol}', price: 'a[\"b c\"].d', error_if: ['x=1', '!y']}\nsymbols: [eur/usd]\n"))
	f.Add([]byte("http: {max_connections: 10, idle_timeout: 2s}\nlog: {format: json, level: debug, access: true}\n"))
	f.Add([]byte("cluster: {nats_url: \"nats://127.0.0.1:4222,tls://h:1\", bucket: b, lease_ttl: 2s, tls: {cert_file: x}}\n"))
	f.Add([]byte("auth: {jwt: {issuer: x, leeway: 1s}, public_paths: [/healthz, \"/s/*\", a], ws_first_message: true}\nadmin_listen: \"127.0.0.1:0\"\n"))
	f.Add([]byte("tls: {cert_file: config.yaml, key_file: config.yaml}\nauth:\n  api_keys_file: config.yaml\n"))
	f.Add([]byte("\xef\xbb\xbfhistory: 3\n# \xe2\x80\x94\n"))
	f.Add([]byte("history: 1\n\xed\xa0\x80\n")) // a UTF-16 surrogate in UTF-8: invalid
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse(%q) error = %v (%T), want *config.Error", data, err, err)
			}
			if cerr.File != "fuzz.yaml" || cerr.Line < 1 {
				t.Fatalf("Parse(%q) error at file %q line %d, want file %q and line >= 1", data, cerr.File, cerr.Line, "fuzz.yaml")
			}
			if !isSentinel(err) {
				t.Fatalf("Parse(%q) error = %v, wraps no config sentinel", data, err)
			}
			if cfg != nil {
				t.Fatalf("Parse(%q) = %+v with error %v, want nil config", data, cfg, err)
			}
			return
		}
		checkInvariants(t, data, cfg)
	})
}

func isSentinel(err error) bool {
	for _, s := range []error{
		config.ErrSyntax, config.ErrEmpty, config.ErrMultipleDocuments, config.ErrType,
		config.ErrUnknownKey, config.ErrDuplicateKey, config.ErrInvalidValue,
		config.ErrInvalidSchedule, config.ErrInvalidSymbol, config.ErrDuplicateSymbol, config.ErrNoSymbols,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkInvariants fails t unless cfg satisfies everything Parse promises.
func checkInvariants(t *testing.T, data []byte, cfg *config.Config) {
	t.Helper()
	if len(cfg.Symbols) == 0 {
		t.Fatalf("Parse(%q) symbols empty", data)
	}
	seen := make(map[string]bool)
	for _, s := range cfg.Symbols {
		if n, err := cfg.Source.NormalizeSymbol(s); err != nil || n != s {
			t.Fatalf("Parse(%q) symbol %q: Source.NormalizeSymbol = %q, %v; want it unchanged", data, s, n, err)
		}
		if seen[s] {
			t.Fatalf("Parse(%q) symbol %q listed twice", data, s)
		}
		seen[s] = true
	}
	type durRange struct{ v, lo, hi time.Duration }
	for name, d := range map[string]durRange{
		"source.timeout":           {cfg.Source.Timeout, 100 * time.Millisecond, 5 * time.Minute},
		"websocket.write_timeout":  {cfg.Websocket.WriteTimeout, 100 * time.Millisecond, 5 * time.Minute},
		"websocket.ping_interval":  {cfg.Websocket.PingInterval, time.Second, time.Hour},
		"websocket.batch_delay":    {cfg.Websocket.BatchDelay, 0, time.Second},
		"http.idle_timeout":        {cfg.HTTP.IdleTimeout, time.Second, time.Hour},
		"http.read_header_timeout": {cfg.HTTP.ReadHeaderTimeout, 100 * time.Millisecond, 5 * time.Minute},
	} {
		if d.v < d.lo || d.v > d.hi {
			t.Fatalf("Parse(%q) %s = %v, want from %v to %v", data, name, d.v, d.lo, d.hi)
		}
	}
	type intRange struct{ v, lo, hi int }
	for name, r := range map[string]intRange{
		"source.max_in_flight":             {cfg.Source.MaxInFlight, 1, config.MaxInFlight},
		"history":                          {cfg.History, 1, config.MaxHistory},
		"websocket.max_clients":            {cfg.Websocket.MaxClients, 1, config.MaxClients},
		"websocket.max_symbols_per_client": {cfg.Websocket.MaxSymbolsPerClient, 1, config.MaxSymbols},
		"websocket.max_dynamic_symbols":    {cfg.Websocket.MaxDynamicSymbols, 0, config.MaxSymbols},
		"http.max_connections":             {cfg.HTTP.MaxConnections, 0, config.MaxConnections},
	} {
		if r.v < r.lo || r.v > r.hi {
			t.Fatalf("Parse(%q) %s = %d, want from %d to %d", data, name, r.v, r.lo, r.hi)
		}
	}
	if cfg.Log.Format != config.LogText && cfg.Log.Format != config.LogJSON {
		t.Fatalf("Parse(%q) log.format = %q, want text or json", data, cfg.Log.Format)
	}
	switch cfg.Source.Kind {
	case config.KindSim, config.KindNasdaq, config.KindStooq, config.KindCoinbase, config.KindBinance,
		config.KindFinnhub, config.KindAlpaca, config.KindJSON:
	default:
		t.Fatalf("Parse(%q) source.kind = %q, want a known kind", data, cfg.Source.Kind)
	}
	if _, err := quote.New(cfg.Source.QuoteKind(), cfg.Source.QuoteOptions()); err != nil {
		t.Fatalf("Parse(%q): quote.New(the source) = %v, want a source for every loaded config", data, err)
	}
	if cfg.Source.URL != "" {
		u, err := url.Parse(cfg.Source.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("Parse(%q) source.url = %q, want an absolute http or https URL", data, cfg.Source.URL)
		}
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		t.Fatalf("Parse(%q) listen = %q: %v", data, cfg.Listen, err)
	}
	if _, err := config.ParseSchedule(cfg.Schedule); err != nil {
		t.Fatalf("Parse(%q) schedule = %q: ParseSchedule error = %v", data, cfg.Schedule, err)
	}
	for _, o := range cfg.Websocket.AllowedOrigins {
		if o == "" {
			t.Fatalf("Parse(%q) websocket.allowed_origins holds an empty origin", data)
		}
	}
}

// TestParseSourceKeys: the source's credentials, headers and polling
// manners; a key file's content is read and never shown in an error.
func TestParseSourceKeys(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("  s3cr3t-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	twoLines := filepath.Join(dir, "two")
	if err := os.WriteFile(twoLines, []byte("s3cr3t\nmore\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := "source:\n  kind: finnhub\n  api_key_file: " + keyFile + "\n  headers: {X-Client: tickerd, Authorization: \"Bearer {apikey}\"}\n  max_rps: 2.5\n  stale_after: 3\nsymbols: [AAPL]\n"
	cfg, err := config.Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", ok, err)
	}
	s := cfg.Source
	if s.Kind != config.KindFinnhub || s.APIKey != "s3cr3t-token" || s.APIKeyFile != keyFile || s.MaxRPS != 2.5 || s.StaleAfter != 3 ||
		s.Headers["X-Client"] != "tickerd" || s.Headers["Authorization"] != "Bearer {apikey}" {
		t.Errorf("Parse(%q).Source = %+v, want finnhub, the file's key, 2.5 rps, stale after 3, two headers", ok, s)
	}
	tests := []struct {
		name string
		data string
		line int
		key  string
	}{
		{"missing_key_file", "source:\n  api_key_file: " + filepath.Join(dir, "nope") + "\n", 2, "source.api_key_file"},
		{"key_file_two_lines", "source:\n  api_secret_file: " + twoLines + "\n", 2, "source.api_secret_file"},
		{"bad_header_name", "source:\n  headers:\n    \"X Bad\": v\n", 3, "source.headers.X Bad"},
		{"header_control_char", "source:\n  headers:\n    X-A: \"a\\nb\"\n", 3, "source.headers.X-A"},
		{"max_rps_negative", "source:\n  max_rps: -1\n", 2, "source.max_rps"},
		{"max_rps_not_a_number", "source:\n  max_rps: fast\n", 2, "source.max_rps"},
		{"stale_after_zero", "source:\n  stale_after: 0\n", 2, "source.stale_after"},
		{"unknown_kind", "source:\n  kind: nyse\n", 2, "source.kind"},
		{"url_bad_scheme_with_secret", "source:\n  url: ftp://user:s3cr3t@host/\n", 2, "source.url"},
		{"url_no_host_with_secret", "source:\n  url: \"htps://s3cr3t@api.example\"\n", 2, "source.url"},
		{"url_user_info", "source:\n  url: https://user:s3cr3t@\n", 2, "source.url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tc.data))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Key != tc.key {
				t.Fatalf("Parse(%q) = %v, want an error at line %d, key %s", tc.data, err, tc.line, tc.key)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Parse(%q) = %v, shows the secret", tc.data, err)
			}
		})
	}
}
