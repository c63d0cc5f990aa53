package nova

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

const maxBackoff = 8 * time.Second

// retry runs call up to c.attempts times. Idempotent calls are retried on
// every retryable failure (connection errors, timeouts, 5xx); the others only
// when the connection could not be opened, so the request never reached Nova.
func (c *Cloud) retry(ctx context.Context, what string, idempotent bool, call func(context.Context) error) error {
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if attempt >= c.attempts || ctx.Err() != nil || !retryable(err, idempotent) {
			return err
		}
		c.log.WithFields(map[string]any{"call": what, "attempt": attempt, "error": c.scrub(err).Error()}).
			Warn("nova call failed, retrying")
		if serr := c.clk.Sleep(ctx, wait); serr != nil {
			return err
		}
		wait *= 2
		if wait > maxBackoff {
			wait = maxBackoff
		}
	}
}

func retryable(err error, idempotent bool) bool {
	if !idempotent {
		return notSent(err)
	}
	if code, ok := statusOf(err); ok {
		return code >= 500 || code == http.StatusTooManyRequests
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) { // will not get better by asking again
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || notSent(err) || errors.Is(err, context.DeadlineExceeded)
}

// notSent reports whether err says the connection could not be opened.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func statusOf(err error) (int, bool) {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return ue.Actual, true
	}
	var up *gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &up) && up != nil {
		return up.Actual, true
	}
	var ur gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &ur) {
		return statusOf(ur.ErrOriginal)
	}
	var urp *gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &urp) && urp != nil {
		return statusOf(urp.ErrOriginal)
	}
	return 0, false
}

func bodyOf(err error) []byte {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return ue.Body
	}
	var up *gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &up) && up != nil {
		return up.Body
	}
	var ur gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &ur) {
		return bodyOf(ur.ErrOriginal)
	}
	var urp *gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &urp) && urp != nil {
		return bodyOf(urp.ErrOriginal)
	}
	return nil
}

// novaMessage extracts the message of Nova's error body
// {"itemNotFound": {"code": 404, "message": "..."}}.
func novaMessage(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		for _, v := range m {
			var e struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(v, &e) == nil && e.Message != "" {
				return e.Message
			}
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// translate turns a gophercloud error into one wrapping a compute error kind,
// keeping Nova's message and never the secrets.
func (c *Cloud) translate(what string, err error) error {
	if err == nil {
		return nil
	}
	if code, ok := statusOf(err); ok {
		kind := compute.ErrUnavailable
		switch code {
		case http.StatusBadRequest:
			kind = compute.ErrInvalid
		case http.StatusUnauthorized, http.StatusForbidden:
			kind = compute.ErrForbidden
		case http.StatusNotFound:
			kind = compute.ErrNotFound
		case http.StatusConflict:
			kind = compute.ErrConflict
		}
		msg := c.scrubString(novaMessage(bodyOf(err)))
		if msg == "" {
			msg = http.StatusText(code)
		}
		return fmt.Errorf("nova %s: %d %s: %w", what, code, msg, kind)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("nova %s: %w", what, err)
	}
	return fmt.Errorf("nova %s: %v: %w", what, c.scrub(err), compute.ErrUnavailable)
}

// scrub returns err with every secret replaced; the kinds it wraps are lost,
// so it is only used for messages.
func (c *Cloud) scrub(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(c.scrubString(err.Error()))
}

func (c *Cloud) scrubString(s string) string {
	for _, sec := range c.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// do runs one call with retries and translates its error.
func (c *Cloud) do(ctx context.Context, what string, idempotent bool, call func(context.Context) error) error {
	return c.translate(what, c.retry(ctx, what, idempotent, call))
}
