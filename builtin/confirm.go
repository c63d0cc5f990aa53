package builtin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// changesSlack is how far before the earliest evacuation in flight the
// confirmer's lists reach back: the difference between this host's clock and
// Nova's it tolerates. A server no list has shown is read on its own once a
// verify_interval has passed, so a larger difference costs calls, never a
// recovery.
const changesSlack = 2 * time.Second

// confirmer batches the confirmation reads of the evacuations of one host:
// one list of the servers changed since the earliest evacuation in flight per
// round, shared by every evacuation waiting then, instead of one read per
// server. Rounds fall on a grid of firstPollInterval so that evacuations
// started at different instants meet in the same rounds.
type confirmer struct {
	nova  compute.Cloud
	clk   clock.Clock
	epoch time.Time
	grid  time.Duration

	mu       sync.Mutex
	inflight map[string]time.Time // watched servers, by id: when their evacuation was asked for
	seen     map[string]sighting  // newest state a list showed of a watched server
	round    *round               // the latest list
}

// sighting is a server's state as the list started at at showed it.
type sighting struct {
	srv compute.Server
	at  time.Time
}

// round is one list call; its group's Wait waits for it through the clock.
type round struct {
	start time.Time
	g     *clock.Group
	err   error // set before the group's goroutine returns
}

func newConfirmer(nova compute.Cloud, clk clock.Clock, interval time.Duration) *confirmer {
	return &confirmer{
		nova: nova, clk: clk, epoch: clk.Now(), grid: min(firstPollInterval, interval),
		inflight: map[string]time.Time{}, seen: map[string]sighting{},
	}
}

// watch makes the lists look out for server id, whose evacuation is about to
// be asked for; the returned function forgets it.
func (c *confirmer) watch(id string) func() {
	key := strings.ToLower(id)
	c.mu.Lock()
	if _, ok := c.inflight[key]; !ok {
		c.inflight[key] = c.clk.Now()
	}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.inflight, key)
		delete(c.seen, key)
		c.mu.Unlock()
	}
}

// align returns the first round of the grid at or after t.
func (c *confirmer) align(t time.Time) time.Time {
	n := (t.Sub(c.epoch) + c.grid - 1) / c.grid
	return c.epoch.Add(max(n, 0) * c.grid)
}

// read returns the newest state of watched server id that a list started at
// or after at showed; ok is false when no list has shown it since it was
// watched (it has not changed since). The first caller of a round makes the
// list; the others wait for it through the clock.
func (c *confirmer) read(ctx context.Context, id string, at time.Time) (srv compute.Server, ok bool, err error) {
	key := strings.ToLower(id)
	c.mu.Lock()
	r := c.round
	if r == nil || r.start.Before(at) {
		r = &round{start: c.clk.Now(), g: clock.NewGroup(c.clk, 1)}
		c.round = r
		since := r.start
		for _, t := range c.inflight {
			since = minTime(since, t)
		}
		since = since.Add(-changesSlack)
		if gerr := r.g.Go(ctx, func() { c.list(ctx, r, since) }); gerr != nil {
			r.err = gerr
		}
	}
	c.mu.Unlock()
	r.g.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.err != nil {
		return compute.Server{}, false, r.err
	}
	seen, ok := c.seen[key]
	return seen.srv, ok, nil
}

// list makes round r's call and records what it shows of the watched
// servers.
func (c *confirmer) list(ctx context.Context, r *round, since time.Time) {
	list, err := c.nova.ListServersChangedSince(ctx, since)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		r.err = fmt.Errorf("list servers changed since %s: %w", since.UTC().Format(time.RFC3339Nano), err)
		return
	}
	for _, s := range list {
		key := strings.ToLower(s.ID)
		if _, ok := c.inflight[key]; !ok {
			continue
		}
		// Rounds may overlap: an older one finishing last must not hide
		// what a newer one showed.
		if old, ok := c.seen[key]; !ok || !old.at.After(r.start) {
			c.seen[key] = sighting{srv: s, at: r.start}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
