package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteOneFilePerResultWithoutNewline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	if err := Write(dir, map[string]string{"slot": "3", "namespace": "shop-dev-3\n"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"slot": "3", "namespace": "shop-dev-3\n"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}

func TestWriteEmptyDirIsNoop(t *testing.T) {
	if err := Write("", map[string]string{"x": "1"}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteNamesFailingResult(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "blocked"), 0o755); err != nil { // a folder where a file should go
		t.Fatal(err)
	}
	err := Write(dir, map[string]string{"blocked": "v", "ok": "v"})
	if err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("want an error naming the result, got %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ok")); string(b) != "v" {
		t.Error("the other results must still be written")
	}
}
