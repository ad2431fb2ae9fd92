package collector

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// Run pulses the collector at once and then on schedule until ctx ends;
// symbols added while it runs are pulsed at once too. When ctx ends it
// cancels the collections in progress, waits for them, and returns
// context.Cause(ctx). SetSchedule changes the schedule of a running Run.
// After Run returns the Collector collects no more.
func (c *Collector) Run(ctx context.Context, schedule cron.Schedule) error {
	if ctx.Err() != nil {
		c.mu.Lock()
		c.stopped = true
		c.mu.Unlock()
		return context.Cause(ctx)
	}
	pulses, stopPulses := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPulses()
	// ErrNotRunning comes only after Run.
	pulse := func() { _, _, _ = c.pulse(pulses, false) }
	pulse()
	for {
		cr := cron.New(cron.WithLocation(time.UTC))
		cr.Schedule(schedule, cron.FuncJob(pulse))
		cr.Start()
		var next cron.Schedule
		var err error
		for {
			var fresh bool
			next, fresh, err = c.waitEvent(ctx)
			if err != nil || !fresh {
				break
			}
			_, _, _ = c.pulse(pulses, true) // the new symbols only
		}
		<-cr.Stop().Done() // the scheduler and any pulse job have returned
		if err != nil {
			break // ctx ended
		}
		schedule = next
	}
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	stopPulses() // cancels every collection
	c.wg.Wait()
	return context.Cause(ctx)
}

// waitEvent waits for a new schedule, or for symbols that need a pulse now
// (fresh), until ctx ends.
func (c *Collector) waitEvent(ctx context.Context) (sched cron.Schedule, fresh bool, err error) {
	var tick struct{}
	// Both are States: never closed, and a send never waits for us.
	i, err := vanilla.Select(ctx, c.schedR.Case(&sched), c.freshR.Case(&tick))
	if err != nil {
		return nil, false, err
	}
	return sched, i == 1, nil
}

// SetSchedule makes a running Run use schedule from now on (the next pulse
// follows the new schedule). It never blocks.
func (c *Collector) SetSchedule(schedule cron.Schedule) {
	c.schedS.Send(context.Background(), schedule) // a State: overwrites, never blocks
}
