package testbed

import (
	"os"
	"testing"
	"testing/fstest"
)

// WriteFiles writes files (slash-separated paths relative to dir → their
// contents) into dir, making it and any directory on the way, and returns
// dir; t fails if a file cannot be written or is there already.
func WriteFiles(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	if err := os.CopyFS(dir, fsys); err != nil {
		t.Fatalf("write test files: %v", err)
	}
	return dir
}
