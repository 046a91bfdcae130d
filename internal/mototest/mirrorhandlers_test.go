package mototest

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMirrorHandlersServeMirrorActions: the handler table serves exactly
// the actions MirrorActions documents.
func TestMirrorHandlersServeMirrorActions(t *testing.T) {
	var served []string
	for a := range mirrorHandlers {
		served = append(served, a)
	}
	want := append([]string{}, MirrorActions...)
	sort.Strings(served)
	sort.Strings(want)
	if d := cmp.Diff(want, served); d != "" {
		t.Errorf("mirrorHandlers differ from MirrorActions (-want +served):\n%s", d)
	}
}
