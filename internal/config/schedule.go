package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleParser accepts five fields, or six with a leading seconds field,
// and descriptors such as "@every 1s" and "@hourly".
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// scheduleProbe is the fixed time from which ParseSchedule checks that a
// schedule fires at all, so that validation does not depend on the clock.
var scheduleProbe = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// ParseSchedule parses a github.com/robfig/cron/v3 spec the way tickerd's
// scheduler does: an optional leading seconds field ("*/5 * * * * *" or
// "* * * * *") and descriptors ("@every 1s", "@hourly"), with an optional
// "TZ=Zone " or "CRON_TZ=Zone " prefix. It also rejects specs that cron
// would accept but not honour as written: "@every" with a duration that is
// not a whole number of seconds (at least 1s), and specs that never fire
// ("0 0 30 2 *"). Errors wrap [ErrInvalidSchedule]. It never panics and is
// safe to call from any goroutine.
//
//	sched, err := config.ParseSchedule(cfg.Schedule)
//	if err != nil { ... }
//	c := cron.New(cron.WithSeconds())
//	c.Schedule(sched, job)
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := parseSchedule(spec)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return s, nil
}

// parseSchedule is ParseSchedule with an error message that lacks the
// package prefix, for use inside an *Error.
func parseSchedule(spec string) (s cron.Schedule, err error) {
	invalid := func(cause error, format string, args ...any) error {
		return &detail{sentinel: ErrInvalidSchedule, msg: fmt.Sprintf(format, args...), cause: cause}
	}
	// robfig/cron v3.0.1 slices out of range on "TZ=Zone" with no space
	// after it; reject that here with a clear message, and recover from any
	// other panic in the parser so that bad input stays an error.
	body := spec
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.IndexByte(spec, ' ')
		if i < 0 {
			return nil, invalid(nil, "invalid schedule %s: time zone without a schedule", quote(spec))
		}
		body = strings.TrimSpace(spec[i:])
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, invalid(fmt.Errorf("cron parser panicked: %v", r), "invalid schedule %s", quote(spec))
		}
	}()
	s, err = scheduleParser.Parse(spec)
	if err != nil {
		return nil, invalid(err, "invalid schedule %s", quote(spec))
	}
	if every, ok := strings.CutPrefix(body, "@every "); ok {
		// cron has already parsed it; it silently raises durations below 1s
		// to 1s and truncates fractions of a second.
		d, _ := time.ParseDuration(every)
		if d < time.Second || d%time.Second != 0 {
			return nil, invalid(nil, "invalid schedule %s: @every needs a whole number of seconds, at least 1s", quote(spec))
		}
	}
	if s.Next(scheduleProbe).IsZero() {
		return nil, invalid(nil, "invalid schedule %s: never fires", quote(spec))
	}
	return s, nil
}
