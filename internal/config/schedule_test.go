package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/config"
)

func TestParseSchedule(t *testing.T) {
	from := time.Date(2024, time.March, 5, 12, 0, 1, 0, time.UTC)
	tests := []struct {
		name string
		spec string
		want time.Time // first firing after from
	}{
		{"every_second", "@every 1s", from.Add(time.Second)},
		{"every_minute_and_a_half", "@every 1m30s", from.Add(90 * time.Second)},
		{"seconds_field", "*/5 * * * * *", time.Date(2024, time.March, 5, 12, 0, 5, 0, time.UTC)},
		{"five_fields_start_at_second_zero", "30 * * * *", time.Date(2024, time.March, 5, 12, 30, 0, 0, time.UTC)},
		{"hourly", "@hourly", time.Date(2024, time.March, 5, 13, 0, 0, 0, time.UTC)},
		{"time_zone_prefix", "TZ=UTC 0 0 * * *", time.Date(2024, time.March, 6, 0, 0, 0, 0, time.UTC)},
		{"cron_tz_prefix_every", "CRON_TZ=UTC @every 2s", from.Add(2 * time.Second)},
		{"leap_day", "0 0 29 2 *", time.Date(2028, time.February, 29, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.ParseSchedule(tc.spec)
			if err != nil {
				t.Fatalf("ParseSchedule(%q) error = %v, want nil", tc.spec, err)
			}
			if got := s.Next(from).UTC(); !got.Equal(tc.want) {
				t.Errorf("ParseSchedule(%q).Next(%v) = %v, want %v", tc.spec, from, got, tc.want)
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string
	}{
		{"empty", ""},
		{"too_few_fields", "* * *"},
		{"too_many_fields", "* * * * * * *"},
		{"second_out_of_range", "61 * * * * *"},
		{"zero_step", "*/0 * * * *"},
		{"unknown_descriptor", "@weekdays"},
		{"every_without_duration", "@every"},
		{"every_bad_duration", "@every soon"},
		{"every_zero", "@every 0s"},
		{"every_negative", "@every -1s"},
		{"every_sub_second", "@every 500ms"},
		{"every_fraction_of_second", "@every 1500ms"},
		{"time_zone_without_spec", "TZ=UTC"},
		{"cron_tz_without_spec", "CRON_TZ=Europe/Paris"},
		{"unknown_time_zone", "TZ=Nowhere/Nope * * * * *"},
		{"never_fires", "0 0 30 2 *"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.ParseSchedule(tc.spec)
			if !errors.Is(err, config.ErrInvalidSchedule) || s != nil {
				t.Errorf("ParseSchedule(%q) = %v, %v; want nil, ErrInvalidSchedule", tc.spec, s, err)
			}
		})
	}
}

func FuzzSchedule(f *testing.F) {
	for _, s := range []string{
		"@every 1s", "*/5 * * * * *", "0 * * * *", "@hourly", "TZ=UTC 0 0 * * *",
		"CRON_TZ=Europe/Paris @every 2s", "TZ=UTC", "0 0 30 2 *", "1-5/2 0 0 * * MON-FRI", "@every 1500ms",
	} {
		f.Add(s)
	}
	from := time.Date(2024, time.March, 5, 12, 0, 1, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := config.ParseSchedule(spec)
		if err != nil {
			if s != nil || !errors.Is(err, config.ErrInvalidSchedule) {
				t.Fatalf("ParseSchedule(%q) = %v, %v; want nil, ErrInvalidSchedule", spec, s, err)
			}
			return
		}
		if next := s.Next(from); !next.After(from) {
			t.Fatalf("ParseSchedule(%q).Next(%v) = %v, want a later time", spec, from, next)
		}
	})
}
