package engine

import (
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// Task states, as taskflow names them in recovery_workflow_details.
const (
	StateRunning       = "RUNNING"
	StateSuccess       = "SUCCESS"
	StateFailure       = "FAILURE"
	StateReverted      = "REVERTED"
	StateRevertFailure = "REVERT_FAILURE"
)

// TaskRecord is what a run remembers of one task.
type TaskRecord struct {
	Name       string          `json:"name"`
	Atom       string          `json:"atom"`
	Phase      string          `json:"phase"`
	State      string          `json:"state"`
	Progress   float64         `json:"progress"`
	Details    []ProgressEntry `json:"progress_details"`
	Started    time.Time       `json:"started,omitzero"`
	Ended      time.Time       `json:"ended,omitzero"`
	Error      string          `json:"error,omitempty"`
	NoProgress bool            `json:"no_progress,omitempty"`
	// EarlyEnd is "skip" or "ignore" when the task succeeded by ending the
	// flow early, with the message it ended it with: a resumed run ends there
	// again instead of running the tasks it ruled out.
	EarlyEnd        string `json:"early_end,omitempty"`
	EarlyEndMessage string `json:"early_end_message,omitempty"`
}

// EventType says what happened in a run.
type EventType int

// Run events.
const (
	TaskStarted EventType = iota
	TaskProgress
	TaskSucceeded
	TaskFailed
	TaskReverted
	FlowFinished
	// NextAttempt: a retried main (Request.Retry) gives up the item of a
	// failed attempt and tries the next one; Store (with the item bound) is
	// the store that attempt starts from, so that a resume goes on with that
	// item rather than the one that failed. Task is empty.
	NextAttempt
	// FallbackStarted: a fresh run of a recovery method's fallback flow
	// (Request.Fallback) begins; Store is its initial store, so that a
	// resume goes on with the fallback instead of the flow that failed.
	// Task is empty.
	FallbackStarted
)

func (t EventType) String() string {
	return [...]string{"task started", "task progress", "task succeeded", "task failed", "task reverted", "flow finished", "next attempt", "fallback started"}[t]
}

// Event is one thing that happened in a run. Record is a snapshot of the
// task's record after the event; Store is a snapshot of the flow store after a
// task succeeded (and at the end of the flow).
type Event struct {
	Type             EventType
	NotificationUUID string
	Flow             conf.FlowKind
	Task             string
	TaskKind         string // Spec.Kind of Task: "go" or "lua" (empty without a task)
	Phase            conf.Phase
	Attempt          int    // 1-based try of a retried main (Request.Retry), else 0
	AttemptItem      string // the item that attempt binds (the reserved host)
	Record           TaskRecord
	Entry            *ProgressEntry
	Store            Store
	Err              error
	Duration         time.Duration
	Status           string // with FlowFinished
}

// Listener receives run events: logging, persistence and metrics plug in
// here. OnEvent is called synchronously from the run; keep it quick.
type Listener interface {
	OnEvent(Event)
}

// ListenerFunc adapts a function to Listener.
type ListenerFunc func(Event)

// OnEvent calls f.
func (f ListenerFunc) OnEvent(e Event) { f(e) }

// Listeners fans events out to several listeners in order.
type Listeners []Listener

// OnEvent passes e to every listener.
func (ls Listeners) OnEvent(e Event) {
	for _, l := range ls {
		if l != nil {
			l.OnEvent(e)
		}
	}
}
