package script

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// watchdogInterval is how often the heap is sampled while Lua tasks run.
const watchdogInterval = 10 * time.Millisecond

// heapMetric is the bytes of live and not yet swept heap objects; reading
// it does not stop the world (unlike runtime.ReadMemStats).
const heapMetric = "/memory/classes/heap/objects:bytes"

// watchdog stops the running Lua tasks when the process heap passes the
// [lua] memory_limit_mib budget. gopher-lua has no memory limit of its own,
// and the heap is process-wide, so every Lua task running at that moment is
// stopped with ErrMemoryBudget. It samples only while tasks run.
type watchdog struct {
	limit    uint64
	interval time.Duration
	read     func() uint64

	mu      sync.Mutex
	next    uint64
	tasks   map[uint64]context.CancelCauseFunc
	running bool
}

func newWatchdog(limit uint64, interval time.Duration) *watchdog {
	return &watchdog{limit: limit, interval: interval, read: readHeap, tasks: map[uint64]context.CancelCauseFunc{}}
}

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// add watches a task until remove(id) is called.
func (w *watchdog) add(cancel context.CancelCauseFunc) (id uint64) {
	w.mu.Lock()
	w.next++
	id = w.next
	w.tasks[id] = cancel
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
	return id
}

// remove stops watching the task add returned id for.
func (w *watchdog) remove(id uint64) {
	w.mu.Lock()
	delete(w.tasks, id)
	w.mu.Unlock()
}

// loop samples the heap until no task has run for a while.
func (w *watchdog) loop() {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	idle := 0
	for range t.C {
		w.mu.Lock()
		if len(w.tasks) == 0 {
			idle++
			if idle > 100 {
				w.running = false
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
			continue
		}
		idle = 0
		w.mu.Unlock()
		if w.read() <= w.limit {
			continue
		}
		// Garbage counts until it is swept: collect before judging.
		runtime.GC()
		if w.read() <= w.limit {
			continue
		}
		w.mu.Lock()
		for id, cancel := range w.tasks {
			cancel(ErrMemoryBudget)
			delete(w.tasks, id)
		}
		w.mu.Unlock()
	}
}
