package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// timeline places the tasks of a notification on one time axis: a task
// spans its first to its last progress entry (to now while it runs).
type timeline struct {
	Start, End string // the axis' ends, UTC
	Span       string // its length, readable
	Ticks      []tick
	Bars       []bar
}

type tick struct {
	Left  string // CSS percentage
	Label string
}

type bar struct {
	ID       string
	Name     string
	State    string
	Class    string // the colour class of the state
	Left     string // CSS percentage from the axis start
	Width    string // CSS percentage of the axis
	Duration string
	Progress float64
	Messages []progressDetail
}

// progress timestamps are Python's str() of a naive UTC datetime.
var stampLayouts = []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999"}

func parseStamp(s string) (time.Time, bool) {
	for _, l := range stampLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func stateClass(state string) string {
	switch state {
	case engine.StateSuccess:
		return "ok"
	case engine.StateFailure, engine.StateRevertFailure:
		return "bad"
	case engine.StateRunning:
		return "run"
	case engine.StateReverted:
		return "rev"
	}
	return "other"
}

func buildTimeline(tasks []taskDetail, live bool, now time.Time) timeline {
	type span struct{ from, to time.Time }
	spans := make([]span, len(tasks))
	var t0, t1 time.Time
	for i, t := range tasks {
		for _, p := range t.ProgressDetails {
			ts, ok := parseStamp(p.Timestamp)
			if !ok {
				continue
			}
			if spans[i].from.IsZero() || ts.Before(spans[i].from) {
				spans[i].from = ts
			}
			if ts.After(spans[i].to) {
				spans[i].to = ts
			}
		}
		if live && t.State == engine.StateRunning && now.After(spans[i].to) && !spans[i].from.IsZero() {
			spans[i].to = now
		}
		if spans[i].from.IsZero() {
			continue
		}
		if t0.IsZero() || spans[i].from.Before(t0) {
			t0 = spans[i].from
		}
		if spans[i].to.After(t1) {
			t1 = spans[i].to
		}
	}
	tl := timeline{}
	if t0.IsZero() {
		return tl
	}
	total := t1.Sub(t0)
	if total <= 0 {
		total = time.Millisecond
	}
	tl.Start, tl.End, tl.Span = t0.Format("2006-01-02 15:04:05.000"), t1.Format("15:04:05.000"), readable(t1.Sub(t0))
	for i := 0; i <= 4; i++ {
		at := time.Duration(int64(total) * int64(i) / 4)
		tl.Ticks = append(tl.Ticks, tick{Left: percent(float64(i) / 4), Label: "+" + tickLabel(at, total)})
	}
	for i, t := range tasks {
		b := bar{ID: fmt.Sprintf("task-%d", i), Name: t.Name, State: t.State, Class: stateClass(t.State), Progress: t.Progress,
			Messages: t.ProgressDetails}
		from, to := spans[i].from, spans[i].to
		if from.IsZero() {
			from, to = t0, t0
		}
		left := float64(from.Sub(t0)) / float64(total)
		width := float64(to.Sub(from)) / float64(total)
		// A task too short to see still gets a visible bar.
		const minWidth = 0.01
		if width < minWidth {
			width = minWidth
		}
		if left+width > 1 {
			left = 1 - width
		}
		b.Left, b.Width, b.Duration = percent(left), percent(width), readable(to.Sub(from))
		tl.Bars = append(tl.Bars, b)
	}
	return tl
}

func percent(f float64) string { return fmtFloat(f*100) + "%" }

func fmtFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}

// readable rounds a duration for a label: milliseconds below a second,
// tenths of a second below a minute.
func readable(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// tickLabel writes an axis offset with the precision the axis' length
// calls for: tenths of a second up to a minute, seconds above.
func tickLabel(at, total time.Duration) string {
	switch {
	case at == 0:
		return "0s"
	case total < 2*time.Second:
		return strconv.FormatFloat(at.Seconds(), 'f', 2, 64) + "s"
	case total < time.Minute:
		return strconv.FormatFloat(at.Seconds(), 'f', 1, 64) + "s"
	}
	return at.Round(time.Second).String()
}
