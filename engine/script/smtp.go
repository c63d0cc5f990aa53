package script

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/conf"
)

const defaultSMTPTimeout = 30 * time.Second

// smtpMailer sends mail as the [smtp] section says: host, port, optional
// STARTTLS and PLAIN authentication (which net/smtp only allows over TLS
// or to localhost).
type smtpMailer struct {
	cfg conf.SMTP
	now func() time.Time
	tls *tls.Config // nil: verify the server against the system's roots
}

func (m *smtpMailer) settings() (host string, port int, timeout time.Duration) {
	host, port, timeout = m.cfg.Host, m.cfg.Port, m.cfg.Timeout
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		port = 25
	}
	if timeout <= 0 {
		timeout = defaultSMTPTimeout
	}
	return host, port, timeout
}

// Send delivers one message. The whole conversation is bounded by ctx and
// the [smtp] timeout.
func (m *smtpMailer) Send(ctx context.Context, msg Mail) error {
	host, port, timeout := m.settings()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer c.Close()
	if m.cfg.StartTLS {
		tc := m.tls
		if tc == nil {
			tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("smtp %s: starttls: %w", addr, err)
		}
	}
	if m.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, host)); err != nil {
			return fmt.Errorf("smtp %s: auth: %w", addr, err)
		}
	}
	if err := c.Mail(msg.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM %s: %w", addr, msg.From, err)
	}
	for _, rcpt := range append(append([]string{}, msg.To...), msg.Cc...) {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", addr, rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	now := time.Now
	if m.now != nil {
		now = m.now
	}
	if _, err := w.Write(message(msg, now())); err != nil {
		return fmt.Errorf("smtp %s: writing the message: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: message refused: %w", addr, err)
	}
	return c.Quit()
}

// message renders a plain-text UTF-8 mail, quoted-printable encoded.
func message(m Mail, now time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", m.From)
	h("To", strings.Join(m.To, ", "))
	if len(m.Cc) > 0 {
		h("Cc", strings.Join(m.Cc, ", "))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("X-Mailer", "kaifuku")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// smtpSend is smtp.send{to, cc, subject, body}: true or nil, err. Bad
// arguments (no recipient, a malformed address) raise an error.
func (rs *runState) smtpSend(L *lua.LState) int {
	c := rs.running(L, "smtp.send", true)
	opts := L.CheckTable(1)
	opts.ForEach(func(k, _ lua.LValue) {
		switch lua.LVAsString(k) {
		case "to", "cc", "subject", "body":
		default:
			L.RaiseError("smtp.send: unknown field %q (fields: to, cc, subject, body)", lua.LVAsString(k))
		}
	})
	addrs := func(field string) []string {
		var out []string
		add := func(v lua.LValue) {
			s, ok := v.(lua.LString)
			if !ok {
				L.RaiseError("smtp.send: %s must be an address or a list of addresses", field)
			}
			for _, part := range strings.Split(string(s), ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				a, err := mail.ParseAddress(part)
				if err != nil {
					L.RaiseError("smtp.send: %s address %q: %v", field, part, err)
				}
				out = append(out, a.Address)
			}
		}
		switch v := opts.RawGetString(field).(type) {
		case *lua.LNilType:
		case *lua.LTable:
			for i := 1; i <= v.Len(); i++ {
				add(v.RawGetInt(i))
			}
		default:
			add(v)
		}
		return out
	}
	m := Mail{From: rs.set.cfg.SMTP.From, To: addrs("to"), Cc: addrs("cc")}
	if m.From == "" {
		m.From = "kaifuku@localhost"
	}
	if len(m.To)+len(m.Cc) == 0 {
		L.RaiseError("smtp.send: no recipient: give to (and optionally cc)")
	}
	m.Subject = lua.LVAsString(opts.RawGetString("subject"))
	if strings.ContainsAny(m.Subject, "\r\n") {
		L.RaiseError("smtp.send: the subject must be one line")
	}
	m.Body = lua.LVAsString(opts.RawGetString("body"))
	if len(m.Body) > maxStringBytes {
		L.RaiseError("smtp.send: the body is larger than %d MiB", maxStringBytes>>20)
	}
	if err := rs.set.mailer.Send(c.ctx, m); err != nil {
		return pushErr(L, "smtp.send: "+err.Error())
	}
	L.Push(lua.LTrue)
	return 1
}
