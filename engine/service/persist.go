package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/db"
)

// Listener returns the engine.Listener that persists every task event: the
// task's record (state, progress entries) on every change, and with it the
// flow store after each success, in one transaction. It is synchronous, so a
// task's success is on disk before the next task starts.
func (s *Service) Listener() engine.Listener {
	return engine.ListenerFunc(s.persist)
}

func (s *Service) persist(e engine.Event) {
	if (e.Type == engine.NextAttempt || e.Type == engine.FallbackStarted) && e.Store != nil {
		s.persistStore(e)
		return
	}
	if e.Type == engine.FlowFinished {
		s.records.forget(e.NotificationUUID, string(e.Flow))
		return
	}
	if e.Task == "" {
		return
	}
	// Built only when there is something to say: events come one per
	// progress entry.
	log := func() *logrus.Entry {
		return s.log.WithField("notification_uuid", e.NotificationUUID).WithField("task", e.Task)
	}
	// A task's start and progress are written behind: the run does not
	// wait for them. A resume needs neither: it runs again every task
	// whose success is not on disk. The record is encoded when it is
	// written: most are replaced by a newer one before then. Every task's
	// end is a write waited for, made after its held progress, so no
	// encode of a flow's records comes after its FlowFinished forgets them.
	if e.Type == engine.TaskStarted || e.Type == engine.TaskProgress {
		s.store.SaveProgress(e.NotificationUUID, s.owner, string(e.Flow), e.Task,
			func() ([]byte, error) { return s.records.encode(e) },
			func(err error) { s.logPersistError(log(), e, err) })
		return
	}
	rec, err := s.records.encode(e)
	if err != nil {
		log().Errorf("encode task record: %v", err)
		return
	}
	// A write gets a third of the lease (the renewal period): a database
	// that hangs must not hold the run inside the listener, past the
	// shutdown grace period or the lease itself. A write that runs out is
	// logged and the run goes on; the task's record or the checkpoint is
	// then older on disk, and a resume repeats the tasks after it.
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout())
	defer cancel()
	if e.Type == engine.TaskSucceeded && e.Store != nil {
		store, err := json.Marshal(e.Store)
		if err != nil {
			log().Errorf("encode flow store: %v", err)
			return
		}
		if err := s.store.SaveTaskAndStore(ctx, e.NotificationUUID, s.owner, string(e.Flow), e.Task, rec, store); err != nil {
			s.logPersistError(log(), e, err)
		}
		return
	}
	if err := s.store.SaveTask(ctx, e.NotificationUUID, s.owner, string(e.Flow), e.Task, rec); err != nil {
		s.logPersistError(log(), e, err)
	}
}

// persistStore saves the flow store alone: the reserved-host flow moved on
// to its next reserved host, or a fallback flow started.
func (s *Service) persistStore(e engine.Event) {
	log := s.log.WithField("notification_uuid", e.NotificationUUID).WithField("flow", string(e.Flow))
	store, err := json.Marshal(e.Store)
	if err != nil {
		log.Errorf("encode flow store: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout())
	defer cancel()
	if err := s.store.SaveStore(ctx, e.NotificationUUID, s.owner, string(e.Flow), store); err != nil {
		s.logPersistError(log, e, err)
	}
}

// writeTimeout is the time limit of one persistence write.
func (s *Service) writeTimeout() time.Duration {
	lease := Options{}.withDefaults().Lease
	if e := s.engine.Load(); e != nil && e.Options.Lease > 0 {
		lease = e.Options.Lease
	}
	return lease / 3
}

func (s *Service) logPersistError(log *logrus.Entry, e engine.Event, err error) {
	if errors.Is(err, db.ErrNotOwner) {
		log.Warnf("%s not persisted: this engine no longer holds the notification", e.Type)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		log.Errorf("persist %s: no answer from the database within %s", e.Type, s.writeTimeout())
		return
	}
	log.Errorf("persist %s: %v", e.Type, err)
}
