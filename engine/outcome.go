package engine

import (
	"errors"
	"fmt"
)

// Notification statuses, as Masakari names them.
const (
	StatusNew      = "new"
	StatusRunning  = "running"
	StatusError    = "error"
	StatusFailed   = "failed"
	StatusIgnored  = "ignored"
	StatusFinished = "finished"
	// StatusHeld (kaifuku) is a host notification the storm guard did not
	// start; it waits for an operator to release it (then it is new again).
	StatusHeld = "held"
)

// SkipError ends a flow early without reverting: Masakari's
// Skip{Host,Instance,Process}RecoveryException. The notification is finished.
type SkipError struct{ Msg string }

func (e *SkipError) Error() string { return e.Msg }

// IgnoreError ends a flow early: Masakari's IgnoreInstanceRecoveryException.
// The notification is ignored.
type IgnoreError struct{ Msg string }

func (e *IgnoreError) Error() string { return e.Msg }

// RecoveryError is a recovery that did not succeed: Masakari's
// *RecoveryFailureException. The notification is in error.
type RecoveryError struct{ Msg string }

func (e *RecoveryError) Error() string { return e.Msg }

// Skip returns a SkipError.
func Skip(format string, a ...any) error { return &SkipError{Msg: fmt.Sprintf(format, a...)} }

// Ignore returns an IgnoreError.
func Ignore(format string, a ...any) error { return &IgnoreError{Msg: fmt.Sprintf(format, a...)} }

// Fail returns a RecoveryError.
func Fail(format string, a ...any) error { return &RecoveryError{Msg: fmt.Sprintf(format, a...)} }

// ErrLockHeld is returned by ReservedHostClaimer.ClaimReservedHost when the
// host is taken: Masakari's LockAlreadyAcquired.
var ErrLockHeld = errors.New("lock is already acquired")

// StatusOf maps the error a flow ended with to the notification status, as
// Masakari's table 3.5 does: nil and skips finish, ignores are ignored,
// anything else is an error.
func StatusOf(err error) string {
	var skip *SkipError
	var ignore *IgnoreError
	switch {
	case err == nil, errors.As(err, &skip):
		return StatusFinished
	case errors.As(err, &ignore):
		return StatusIgnored
	default:
		return StatusError
	}
}

// IsSkip reports whether err is a SkipError.
func IsSkip(err error) bool {
	var skip *SkipError
	return errors.As(err, &skip)
}

// IsEarlyEnd reports whether err ends a flow without a failure (skip or
// ignore): nothing is reverted.
func IsEarlyEnd(err error) bool {
	var ignore *IgnoreError
	return IsSkip(err) || errors.As(err, &ignore)
}
