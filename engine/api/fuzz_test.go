package api

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeBody: any body is refused or decoded, never a panic; what is
// accepted is valid UTF-8 JSON, and its re-encoding decodes to the same.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"notification": {"type": "VM", "hostname": "compute-1", "generated_time": "2026-11-25T21:44:11", "payload": {"event": "LIFECYCLE"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := decodeBody(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			t.Fatalf("accepted %q", data)
		}
		_ = pyReprNode(n)
		again, err := decodeBody(n.JSON())
		if err != nil {
			t.Fatalf("re-encoding %s refused: %v", n.JSON(), err)
		}
		if string(again.JSON()) != string(n.JSON()) {
			t.Fatalf("round trip %s -> %s", n.JSON(), again.JSON())
		}
	})
}
