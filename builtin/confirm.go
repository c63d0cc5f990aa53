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
// Nova's they absorb on top of the evacuation's own duration. The lists show
// every server changed in that window, so it is kept short: a difference
// larger than the window leaves a server unseen, and a server no list has
// shown is read on its own once a verify_interval has passed, so it costs
// calls, never a recovery.
const changesSlack = 250 * time.Millisecond

// stateFreshness is how old the newest list may be for a server's state
// before its evacuation to come from the lists rather than a read of its own:
// no older than the first pause of a poll.
const stateFreshness = firstPollInterval

// roundGrid is the spacing of the confirmer's rounds. An evacuation waiting
// for its next check looks at every round others made meanwhile, so while
// many are in flight, each is seen done within a round of it, whatever its
// own schedule.
const roundGrid = 20 * time.Millisecond

// confirmer batches the reads of the evacuations of one host, instead of
// reads of one server each:
//   - before its evacuation, a server's state is what the host's list at the
//     task's start showed of it, kept up to date by the rounds after it, as
//     long as they have shown every change since that list without a gap and
//     the newest started within stateFreshness (else it is read on its own);
//   - to confirm an evacuation, one list per round of the servers changed since
//     the earliest evacuation in flight is shared by every evacuation waiting
//     then.
//
// Rounds fall on a grid of roundGrid so that evacuations started at different
// instants meet in the same rounds.
type confirmer struct {
	nova     compute.Cloud
	clk      clock.Clock
	epoch    time.Time
	grid     time.Duration
	interval time.Duration // verify_interval

	mu       sync.Mutex
	inflight map[string]time.Time // watched servers, by id: when their evacuation was asked for
	seen     map[string]sighting  // newest state a list showed of a watched or known server
	round    *round               // the latest list
	// covered is the start of the newest list of an unbroken chain from the
	// host's list: every change since that list up to it has been shown.
	// Zero when there is no host's list or the chain broke.
	covered time.Time
}

// sighting is a server's state as the list started at at showed it: an
// element of that list, which a map keeps inline where a whole
// compute.Server would be an allocation of its own.
type sighting struct {
	srv *compute.Server
	at  time.Time
}

// round is one list call, made by the reader that started the round; the
// others wait for it through the clock, each on a signal of its own.
type round struct {
	start   time.Time
	done    bool            // the list has returned (guarded by the confirmer's mu)
	waiters []*clock.Signal // fired when it has
	err     error           // set before done
}

func newConfirmer(nova compute.Cloud, clk clock.Clock, interval time.Duration) *confirmer {
	return &confirmer{
		nova: nova, clk: clk, epoch: clk.Now(), grid: min(roundGrid, interval), interval: interval,
		inflight: map[string]time.Time{}, seen: map[string]sighting{},
	}
}

// know starts the chain of lists from the host's list, asked for at at.
func (c *confirmer) know(list []compute.Server, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		c.seen = make(map[string]sighting, len(list))
	}
	for i := range list {
		c.seen[serverKey(list[i].ID)] = sighting{srv: &list[i], at: at}
	}
	c.covered = at
}

// current returns server id's state before its evacuation: from the lists
// when their chain is unbroken and its newest list started within
// stateFreshness of now, else from a read of its own.
func (c *confirmer) current(ctx context.Context, id string) (compute.Server, error) {
	c.mu.Lock()
	s, ok := c.seen[serverKey(id)]
	fresh := !c.covered.IsZero() && c.clk.Now().Sub(c.covered) <= stateFreshness
	c.mu.Unlock()
	if !ok || !fresh {
		return getServer(ctx, c.nova, id)
	}
	if strings.EqualFold(s.srv.Status, "DELETED") {
		return compute.Server{}, fmt.Errorf("get server %s: %w", id, compute.ErrNotFound)
	}
	return *s.srv, nil
}

// watch makes the lists look out for server id, whose evacuation is about to
// be asked for, and returns its key (serverKey) for forget.
func (c *confirmer) watch(id string) string {
	key := serverKey(id)
	c.mu.Lock()
	if _, ok := c.inflight[key]; !ok {
		c.inflight[key] = c.clk.Now()
	}
	c.mu.Unlock()
	return key
}

// forget ends the watch of the server of key.
func (c *confirmer) forget(key string) {
	c.mu.Lock()
	delete(c.inflight, key)
	delete(c.seen, key)
	c.mu.Unlock()
}

// align returns the first round of the grid at or after t.
func (c *confirmer) align(t time.Time) time.Time {
	n := (t.Sub(c.epoch) + c.grid - 1) / c.grid
	return c.epoch.Add(max(n, 0) * c.grid)
}

// next returns the first round of the grid after t.
func (c *confirmer) next(t time.Time) time.Time {
	return c.align(t.Add(1))
}

// serverKey is the key of server id in the confirmer's maps.
func serverKey(id string) string { return strings.ToLower(id) }

// peek returns the newest sighting of the watched server of key (serverKey)
// the lists made so far showed, without a call; ok is false when none has
// shown it since it was watched.
func (c *confirmer) peek(key string) (seen sighting, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sightingLocked(key)
}

// sightingLocked returns the sighting of watched server key made since it
// was watched. Callers hold c.mu.
func (c *confirmer) sightingLocked(key string) (sighting, bool) {
	seen, ok := c.seen[key]
	if since, watched := c.inflight[key]; !ok || !watched || seen.at.Before(since) {
		return sighting{}, false
	}
	return seen, true
}

// read returns the newest sighting of the watched server of key (serverKey),
// from a list started at or after at or a later one; ok is false when no
// list has shown it since it was watched (it has not changed since). The
// first caller of a round makes the list; the others wait for it through the
// clock.
func (c *confirmer) read(ctx context.Context, key string, at time.Time) (seen sighting, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.round
	switch {
	case r == nil || r.start.Before(at):
		r = &round{start: c.clk.Now()}
		c.round = r
		since := r.start
		for _, t := range c.inflight {
			since = minTime(since, t)
		}
		if !c.covered.IsZero() {
			if r.start.Sub(c.covered) > 2*c.interval {
				// No list for long (nothing was in flight): the chain
				// ends rather than make this list reach back that far.
				c.covered = time.Time{}
			} else {
				since = minTime(since, c.covered)
			}
		}
		since = since.Add(-changesSlack)
		c.mu.Unlock()
		list, err := c.list(ctx, since)
		c.mu.Lock()
		c.record(r, list, err)
	case !r.done:
		w := clock.NewSignal(c.clk)
		r.waiters = append(r.waiters, w)
		c.mu.Unlock()
		// The list is waited for to its end, as its maker's context
		// allows; the reader's pool of clock.Each is told.
		clock.Waiting(ctx)
		_ = w.Wait(context.Background())
		c.mu.Lock()
	}
	if r.err != nil {
		return sighting{}, false, r.err
	}
	seen, ok = c.sightingLocked(key)
	return seen, ok, nil
}

// list makes a round's call, unless the reader's context or clock deadline
// has ended.
func (c *confirmer) list(ctx context.Context, since time.Time) ([]compute.Server, error) {
	if err := interrupted(ctx, c.clk); err != nil {
		return nil, err
	}
	list, err := c.nova.ListServersChangedSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("list servers changed since %s: %w", since.UTC().Format(time.RFC3339Nano), err)
	}
	return list, nil
}

// record ends round r with what its list showed of the watched and known
// servers, and wakes the readers waiting for it. Callers hold c.mu.
func (c *confirmer) record(r *round, list []compute.Server, err error) {
	r.err, r.done = err, true
	for _, w := range r.waiters {
		w.Fire()
	}
	r.waiters = nil
	if err != nil {
		return
	}
	if !c.covered.IsZero() && r.start.After(c.covered) {
		c.covered = r.start
	}
	for i := range list {
		key := serverKey(list[i].ID)
		_, watched := c.inflight[key]
		if _, known := c.seen[key]; !watched && !known {
			continue
		}
		// Rounds may overlap: an older one finishing last must not hide
		// what a newer one showed.
		if old, ok := c.seen[key]; !ok || !old.at.After(r.start) {
			c.seen[key] = sighting{srv: &list[i], at: r.start}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
